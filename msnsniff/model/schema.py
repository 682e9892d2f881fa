"""The analysis document's schema: every table and column, its type, meaning and an
example.  The single source for CSV headers, SQLite columns, the JSON Schema shipped in
the package (schema.json) and docs/schema.md (tests check all of them agree).

Types: text, integer, boolean, list (of text), intlist (of integers), objectlist (of
objects of text), object.  Every
column may be null unless marked required.  Times are ISO 8601 UTC text.
"""

from __future__ import annotations

from typing import Any

# (column, type, required, meaning, example)
C = tuple

SESSION_COLS = [
    C(("id", "integer", True, "connection id, unique within the analysis", "2")),
    C(("capture", "text", True, "capture file the connection came from", "captures/msnp8_session.pcap")),
    C(("kind", "text", True, "dispatch, notification, switchboard, file-transfer, http (a TCP connection carrying gateway sessions) or unknown", "notification")),
    C(("client", "text", True, "client ip:port", "127.0.0.10:52677")),
    C(("server", "text", True, "server ip:port", "127.0.0.2:1863")),
    C(("start", "text", True, "first packet", "2026-11-25T02:59:09.160768Z")),
    C(("end", "text", False, "last packet", "2026-11-25T02:59:09.706067Z")),
    C(("close_reason", "text", False, "fin, rst, idle, capture end, evicted …; gateway: Session=close", "fin")),
    C(("transport", "text", True, "tcp, or http-gateway (MSNP carried by HTTP polling, reference §9)", "tcp")),
    C(("gateway_session_id", "text", False, "http-gateway: the last SessionID the gateway announced", "1000.2")),
    C(("gateway_session_ids", "list", False, "http-gateway: every SessionID it was given, in order", "1000.1; 1000.2")),
    C(("http_connections", "intlist", False, "http-gateway: the TCP connections (ids, kind http) that carried it", "3; 9")),
    C(("gateway_polls", "integer", False, "http-gateway: Action=poll requests with no body (counted, not listed)", "12")),
    C(("gw_ip", "text", False, "http-gateway: the GW-IP the gateway named", "127.0.0.4")),
    C(("protocol", "text", False, "protocol version (server VER; see protocol_source)", "MSNP8")),
    C(("protocol_source", "text", False, "VER (negotiated), offer (client VER only), notification session (a switchboard: what the NS session whose cookie it used negotiated) or inferred (a lower bound from the commands' shapes: no VER captured)", "VER")),
    C(("versions_offered", "list", False, "versions in the client VER", "MSNP8; CVR0")),
    C(("passport", "text", False, "the local account", "alice@hotmail.com")),
    C(("friendly_name", "text", False, "the account's friendly name (URL-decoded UTF-8; last known)", "Alice in Wonderland")),
    C(("friendly_name_at_login", "text", False, "the name at login (USR OK for MSNP2-9, PRP MFN in the SYN reply for MSNP10-12)", "Alice Liddell")),
    C(("personal_message", "text", False, "the account's own personal message (UUX, MSNP11+; last known)", "En réunion")),
    C(("machine_guid", "text", False, "MSNP16+ endpoint (USR SSO S, USR/ANS passport;{guid}) or UUX MachineGuid", "{F52973B6-C926-4BAD-9BA8-7C1E840E4AB0}")),
    C(("client_name", "text", False, "CVR client name", "MSNMSGR")),
    C(("client_version", "text", False, "CVR client version", "5.0.0544")),
    C(("locale", "text", False, "CVR locale id", "0x0409")),
    C(("os", "text", False, "CVR os type, version, architecture", "winnt 5.1 i386")),
    C(("auth_method", "text", False, "TWN (Passport), MD5 (MSNP2-7) or SSO (MSNP15+)", "TWN")),
    C(("login", "text", False, "ok, failed, or null (not seen)", "ok")),
    C(("login_error", "text", False, "error code and name of a failed login", "911 Authentication failed")),
    C(("login_time", "text", False, "capture time of USR … OK", "2026-11-25T02:59:09.182549Z")),
    C(("verified", "text", False, "USR OK verified flag", "1")),
    C(("extra_flag", "text", False, "USR OK fourth field (MSNP8)", "0")),
    C(("server_versions", "object", False, "CVR reply: recommended, minimum, download_url, info_url", '{"recommended": "5.0.0544", …}')),
    C(("policy", "text", False, "USR TWN S policy string from the server (or MD5 salt)", "lc=1033,id=507,tw=40")),
    C(("ticket", "text", False, "USR TWN/SSO S ticket from the client (a credential: see --redact)", "t=5QZG…&p=5KaS…")),
    C(("auth_nonce", "text", False, "SSO: the nonce of USR SSO S MBI_KEY_OLD (MSNP15+)", "Nc6hQ3…")),
    C(("auth_response", "text", False, "SSO: the client's signed nonce (a credential: see --redact)", "HAAAAAEAAAADZgAA…")),
    C(("redirected_to", "text", False, "dispatch: the NS address of XFR … NS", "127.0.0.2:1863")),
    C(("redirected_to_session", "integer", False, "dispatch: the NS connection that followed", "2")),
    C(("redirected_from_session", "integer", False, "NS: the dispatch connection that sent it here", "1")),
    C(("profile", "object", False, "initial profile: client_ip_reported, client_port_reported, client_port (corrected), client_port_byteswapped, observed_client, port_byteswapped, nat, login_time, headers", '{"client_port": 52677, …}')),
    C(("list_version", "integer", False, "contact list version at the end of the capture", "47")),
    C(("syn", "object", False, "SYN: client_version (requested), version, contacts_declared, groups_declared; MSNP10-12: timestamps instead of a version", '{"version": 42, …}')),
    C(("contacts_source", "text", False, "SYN (the list in the capture) or ADL (MSNP13+: the client's list; the address book itself travels over SOAP/HTTPS, not in the capture)", "SYN")),
    C(("settings", "object", False, "GTC and BLP values", '{"GTC": "A", "BLP": "AL"}')),
    C(("phones", "object", False, "own phone numbers (PRP)", '{"PHH": "555 1234"}')),
    C(("logout", "object", False, "OUT: by (client/server), reason, meaning, time", '{"by": "client", …}')),
    C(("participants", "list", False, "switchboard: everyone seen in the conversation", "alice@hotmail.com; bob@hotmail.com")),
    C(("endpoints", "object", False, "switchboard, MSNP16+: account -> MPOP endpoints (machine guids) that joined", '{"bob@example.com": ["{…}"]}')),
    C(("sb_role", "text", False, "switchboard: caller (USR) or invitee (ANS)", "caller")),
    C(("sb_cookie", "text", False, "switchboard: authentication cookie (see --redact)", "17262740.1062764410.32308")),
    C(("sb_session_id", "text", False, "switchboard session id (CAL RINGING / RNG / ANS)", "11752013")),
    C(("linked_session", "integer", False, "switchboard: the NS connection whose XFR/RNG cookie it used; p2p-direct: the switchboard whose negotiation (transrespbody) announced it", "2")),
    C(("owner_from", "text", False, "how the account was found when not in the connection itself", "client address")),
    C(("bytes_c2s", "integer", True, "client to server bytes delivered", "1062")),
    C(("bytes_s2c", "integer", True, "server to client bytes delivered", "1956")),
    C(("gap_bytes", "integer", True, "bytes never captured (both directions)", "0")),
]

_SO = [C(("session", "integer", True, "connection id (sessions.id)", "2")),
       C(("capture", "text", True, "capture file", "captures/msnp8_session.pcap")),
       C(("owner", "text", False, "the local account of that session", "alice@hotmail.com"))]
_T = C(("time", "text", False, "capture time", "2026-11-25T02:59:09.285778Z"))

TABLES: dict[str, list] = {
    "sessions": SESSION_COLS,
    "contacts": _SO + [
        C(("passport", "text", True, "contact", "bob@hotmail.com")),
        C(("friendly_name", "text", False, "contact's friendly name (bytes that are not UTF-8 as \\xNN escapes)", "Bob")),
        C(("friendly_name_raw", "text", False, "the name's bytes as sent (hex), only when they are not UTF-8", "52617719db")),
        C(("list_bits", "integer", True, "FL=1 AL=2 BL=4 RL=8 PL=16", "11")),
        C(("lists", "list", True, "list names", "FL; AL; RL")),
        C(("groups", "list", True, "group ids (decimal for MSNP2-9, GUIDs for MSNP10+)", "1; 2")),
        C(("group_names", "list", True, "group names, same order", "Friends; Família")),
        C(("phones", "object", False, "contact phones (BPR)", '{"PHM": "555 9876"}')),
        C(("contact_id", "text", False, "MSNP10+ contact GUID (LST/ADC C=)", "e6a8a6c9-0b1b-4c5c-9d2e-6f0a1b2c3d4e")),
        C(("network", "integer", False, "network id (MSNP12+ LST, MSNP13+ ADL t=): 1 Passport, 32 Yahoo, …", "1")),
    ],
    "groups": _SO + [
        C(("group_id", "text", True, "group id (decimal for MSNP2-9, a GUID for MSNP10+)", "1")),
        C(("name", "text", False, "group name", "Friends")),
    ],
    "presence": [_T] + _SO + [
        C(("command", "text", True, "CHG (own), ILN, NLN, FLN", "ILN")),
        C(("passport", "text", False, "whose status", "bob@hotmail.com")),
        C(("status", "text", True, "status code", "NLN")),
        C(("status_name", "text", False, "status in words", "Online")),
        C(("friendly_name", "text", False, "friendly name sent with it", "Bob")),
        C(("friendly_name_raw", "text", False, "the name's bytes as sent (hex), only when they are not UTF-8", "19db")),
        C(("client_id", "integer", False, "client-ID number", "268435492")),
        C(("msnc_version", "integer", False, "MSNC version (top nibble)", "1")),
        C(("capabilities", "list", False, "capability names", "ink (GIF); multi-packet messaging")),
        C(("network", "integer", False, "network id (MSNP14+)", "1")),
        C(("network_name", "text", False, "network id in words", "Passport")),
        C(("capabilities_ex", "integer", False, "MSNP16+ extended capabilities (caps:capsex)", "48")),
        C(("msnobj", "object", False, "the MSNObject sent with it (display picture): creator, size, type, type_name, location, friendly, sha1d …", '{"type": "3", "sha1d": "…"}')),
        C(("via", "text", False, "MSNP18 circle routing (;via=…)", "via=9:00000000-0000-0000-0009-000000000001@live.com")),
        C(("confirmed_status", "text", False, "CHG: the status the server's echo confirmed", "NLN")),
        C(("confirmed_client_id", "integer", False, "CHG: the client id the server's echo confirmed (servers add capability bits)", "4128")),
        C(("confirmed_capabilities_ex", "integer", False, "CHG (MSNP16+): the extended capabilities the server confirmed", "48")),
        C(("capabilities_added", "list", False, "CHG: capabilities the server's echo has that the client did not ask for", "MSN Space")),
    ],
    "personal_messages": [_T] + _SO + [
        C(("command", "text", True, "UUX (own, sent by the client) or UBX (a contact's)", "UBX")),
        C(("passport", "text", False, "whose (the account itself for UUX)", "alice@example.com")),
        C(("network", "integer", False, "network id (MSNP14+)", "1")),
        C(("personal_message", "text", False, "PSM text", "En réunion ☕ ça")),
        C(("current_media", "text", False, "CurrentMedia as the client renders it (its format string decides the order)", "Music: Song - Artist")),
        C(("current_media_raw", "text", False, "CurrentMedia as sent", "\\0Music\\01\\0{0} - {1}\\0Song\\0Artist\\0")),
        C(("machine_guid", "text", False, "MachineGuid", "{F52973B6-…}")),
        C(("endpoints", "objectlist", False, "MSNP16+ EndpointData/PrivateEndpointData, one object per endpoint: id, capabilities, name, client_type, state, idle (those the data holds); table and CSV cells join them as k=v", '[{"id": "{…}", "capabilities": "2789003324:48", "name": "HOME-PC"}]')),
        C(("msnobj", "object", False, "MSNP18 MSNObjects in the data: ddp (dynamic display picture), scene, signaturesound", '{"ddp": {"type_name": "dynamic picture", …}}')),
    ],
    "list_changes": [_T] + _SO + [
        C(("op", "text", True, "ADD, REM, REA, ADG, RMG, REG; MSNP10+ ADC, PRP (own rename), SBP (contact rename); MSNP13+ ADL, RML", "ADD")),
        C(("list", "text", False, "FL, AL, BL, RL, PL (ADL/RML: several, comma-separated)", "FL")),
        C(("passport", "text", False, "contact", "frank@hotmail.com")),
        C(("friendly_name", "text", False, "name (or group name)", "Work")),
        C(("group_id", "text", False, "group id (decimal for MSNP2-9, a GUID for MSNP10+)", "3")),
        C(("version", "integer", False, "new list version (MSNP2-9)", "43")),
        C(("by_server", "boolean", False, "TrID 0: done by someone else (e.g. added you)", "false")),
        C(("contact_id", "text", False, "MSNP10+ contact GUID", "e6a8a6c9-…")),
        C(("network", "integer", False, "network id (MSNP13+ ADL/RML)", "1")),
        C(("refused", "text", False, "the server's error when it refused the change (the lists are unchanged)", "241 Unknown error")),
    ],
    "notifications": [_T] + _SO + [
        C(("direction", "text", False, "c2s or s2c", "s2c")),
        C(("command", "text", True, "verb", "RNG")),
        C(("what", "text", False, "meaning", "switchboard invitation")),
        C(("summary", "text", False, "one-line description", "alice@hotmail.com (Alice) invites …")),
        C(("fields", "object", False, "decoded fields (Hotmail headers, RNG/XFR values)", '{"Inbox-Unread": "3"}')),
    ],
    "messages": [_T] + _SO + [
        C(("direction", "text", True, "out (client to switchboard) or in", "out")),
        C(("sender", "text", False, "sender passport; null when it cannot be known", "alice@hotmail.com")),
        C(("sender_name", "text", False, "sender's friendly name (incoming)", "Bob")),
        C(("recipients", "list", False, "the other participants at that moment", "bob@hotmail.com")),
        C(("recipients_source", "text", False, "roster, or invited (CAL) when the roster was not captured", "roster")),
        C(("content_type", "text", False, "media type", "text/plain")),
        C(("kind", "text", True, "text, typing, invitation, transfer (a P2P call's events), nudge, wink, voice clip, action, emoticon, other", "text")),
        C(("text", "text", False, "message text (or a summary for invitations/other)", "Hi Bob, are you there?")),
        C(("text_raw", "text", False, "text messages: the body's bytes (hex), only when the charset could not decode them all", "48c0")),
        C(("font", "text", False, "X-MMS-IM-Format FN (URL-decoded)", "MS Sans Serif")),
        C(("effects", "list", False, "bold, italic, underline, strikethrough", "bold")),
        C(("color", "text", False, "RGB hex (the wire's BGR converted)", "#0000ff")),
        C(("charset", "text", False, "X-MMS-IM-Format CS as a name", "ANSI")),
        C(("pitch_family", "text", False, "X-MMS-IM-Format PF as family/pitch", "swiss/variable")),
        C(("rtl", "boolean", False, "RL=1 right to left", "false")),
        C(("ack", "text", False, "ack mode of outgoing MSG: U, N, A, D", "N")),
        C(("headers", "object", False, "MIME headers (other types)", '{"Content-Type": "text/x-clientcaps"}')),
        C(("body_length", "integer", False, "payload body bytes (other types)", "42")),
        C(("missing_bytes", "integer", False, "payload bytes lost in a capture gap", "0")),
        C(("p4_context", "text", False, "P4-Context: the name the sender chose to show for this message (MSNP12+)", "Alice")),
        C(("msnobj", "object", False, "MSNObjects the message names: custom emoticons by shortcut, or a wink's / voice clip's object", '{"(cafe)": {"sha1d": "…"}}')),
        C(("network", "integer", False, "MSNP14+ UUM/UBM (a message through the notification server): the other party's network, 32 Yahoo", "32")),
        C(("copy_of_session", "integer", False, "the connection whose row of this same message is counted (a switchboard relays each message to every participant's connection; this row is a copy)", "5")),
        C(("offline", "boolean", False, "UUM: left as an offline message (MSNP18, Windows Live contact, Dest-Agent: client)", "false")),
    ],
    "participants": [_T] + _SO + [
        C(("command", "text", True, "IRO, JOI or BYE", "JOI")),
        C(("passport", "text", True, "who", "carol@hotmail.com")),
        C(("friendly_name", "text", False, "their friendly name", "Carol ♥")),
        C(("event", "text", True, "was there, joined, another endpoint joined (MSNP16+), left, left (idle timeout)", "joined")),
        C(("endpoint", "text", False, "MSNP16+ MPOP endpoint (machine guid)", "{F52973B6-…}")),
        C(("client_id", "integer", False, "MSNP12+ capabilities sent with IRO/JOI", "2789003324")),
    ],
    "invitations": [_T] + _SO + [
        C(("cookie", "text", True, "Invitation-Cookie", "90135")),
        C(("application", "text", False, "Application-Name (or the GUID's name)", "File Transfer")),
        C(("guid", "text", False, "Application-GUID", "{5D3E02AB-6190-11d3-BBBB-00C04F795683}")),
        C(("inviter", "text", False, "who sent INVITE", "alice@hotmail.com")),
        C(("invitee", "text", False, "who accepted", "bob@hotmail.com")),
        C(("file_name", "text", False, "Application-File (as sent: may be hostile)", "notes.txt")),
        C(("file_size", "integer", False, "Application-FileSize", "3000")),
        C(("connectivity", "text", False, "Connectivity", "N")),
        C(("status", "text", False, "invited, accepted, cancelled", "accepted")),
        C(("ip_address", "text", False, "IP-Address to connect to", "127.0.0.10")),
        C(("ip_address_internal", "text", False, "IP-Address-Internal", "192.168.0.2")),
        C(("port", "integer", False, "Port", "6891")),
        C(("port_x", "integer", False, "PortX", "11178")),
        C(("auth_cookie", "text", False, "AuthCookie for MSNFTP USR (see --redact)", "1735283")),
        C(("sender_connect", "text", False, "Sender-Connect", "TRUE")),
        C(("cancel_code", "text", False, "Cancel-Code", "REJECT")),
        C(("commands", "list", True, "Invitation-Command sequence", "INVITE; ACCEPT; ACCEPT")),
    ],
    "transfers": [
        C(("session", "integer", True, "the MSNFTP connection, or the switchboard connection where a P2P call began", "8")),
        C(("capture", "text", True, "capture file", "captures/msnp8_session.pcap")),
        C(("invitation_cookie", "text", False, "the invitation it belongs to", "90135")),
        C(("invitation_session", "integer", False, "switchboard connection of that invitation", "5")),
        C(("sender", "text", False, "who sent the file", "alice@hotmail.com")),
        C(("receiver", "text", False, "who received it (MSNFTP USR)", "bob@hotmail.com")),
        C(("name", "text", False, "file name as announced (sanitised only on extraction)", "notes.txt")),
        C(("size", "integer", False, "FIL size (or the invitation's)", "3000")),
        C(("announced_size", "integer", False, "Application-FileSize", "3000")),
        C(("received", "integer", True, "file bytes seen", "3000")),
        C(("missing_bytes", "integer", True, "size - received", "0")),
        C(("status", "text", True, "complete, incomplete, cancelled; P2P also declined, complete, unacknowledged (all bytes, no ACK/BYE seen), no answer, not fetched (a custom emoticon announced in a message, never requested)", "complete")),
        C(("end", "text", False, "BYE, CCL, abort (block 01 00 00) or null", "BYE")),
        C(("bye_code", "integer", False, "receiver's BYE code", "16777989")),
        C(("bye_meaning", "text", False, "BYE code in words", "received successfully")),
        C(("size_matches_invitation", "boolean", False, "FIL size equals Application-FileSize", "true")),
        C(("sha256", "text", False, "sha256 of the bytes received", "f5418741…")),
        C(("started", "text", False, "TFR time", "2026-11-25T02:59:09.63Z")),
        C(("finished", "text", False, "last data/end time", "2026-11-25T02:59:09.64Z")),
        C(("extracted_to", "text", False, "path written by files --extract", "/tmp/x/notes.txt")),
        C(("method", "text", False, "msnftp (MSNP2-8 invitations) or p2p (MSNSLP over the switchboard, MSNP9+)", "p2p")),
        C(("kind", "text", False, "file (MSNFTP or P2P), display-picture, emoticon, wink, voice-clip, background, scene (P2P: by the MSNObject Type), or what the EUF-GUID names", "file")),
        C(("p2p_session_id", "integer", False, "P2P SessionID of the call", "82413")),
        C(("missing_ranges", "list", False, "P2P byte ranges never seen (first-last)", "12024-19999")),
        C(("cancelled_by", "text", False, "who sent the BYE that ended an unfinished P2P transfer", "alice@example.com")),
        C(("acknowledged", "boolean", False, "P2P: the receiver acknowledged the whole data (ACK) or closed it (BYE)", "true")),
        C(("sha1d_ok", "boolean", False, "display picture/emoticon: the MSNObject's SHA1D matches the bytes", "true")),
        C(("direct_connection", "text", False, "P2P: a direct connection was offered / listening / refused (its bytes are then not in the switchboard)", "offered")),
        C(("conflicts", "integer", False, "P2P parts whose bytes differed from bytes already seen (the first kept)", "0")),
        C(("p2p_version", "integer", False, "P2P: 1 (MSNP9-15 48-byte header) or 2 (MSNP16+ TLV header)", "2")),
        C(("transport", "text", False, "P2P: switchboard, or direct (its data crossed a negotiated direct connection)", "switchboard")),
        C(("sender_endpoint", "text", False, "P2P (MSNP16+ MPOP): the sending endpoint's machine guid", "{5F3C9A21-7B4E-4D2A-9C1E-AB12CD34EF01}")),
        C(("receiver_endpoint", "text", False, "P2P (MSNP16+ MPOP): the endpoint that took part (the one that answered)", "{C0FFEE00-BEEF-4ACE-8BAD-F00DCAFE0B0B}")),
        C(("closed_by", "text", False, "P2P: who sent the BYE or the 603 that ended the call", "bob@example.com")),
        C(("sha1d", "text", False, "P2P objects: the MSNObject's SHA1D (base64 SHA-1 of the object)", "Fj5HLymSpFHZv7DZTCXoKuyeHjo=")),
        C(("direct_nonce_ok", "boolean", False, "P2P direct connection: the handshake's nonce matched the negotiated Nonce (v1) or Hashed-Nonce (v2)", "true")),
    ],
    "challenges": [_T] + _SO[:2] + [
        C(("challenge", "text", False, "CHL string", "15570131571988941333")),
        C(("product_id", "text", False, "QRY product id", "msmsgs@msnmsgr.com")),
        C(("response", "text", False, "QRY answer (see --redact-qry)", "8f2f5a91b72102cd28355e9fc9000d6e")),
        C(("valid", "boolean", False, "the answer matches (md5 for MSNP8-10 ids, the MSNP11 algorithm for later ids); null for an unknown product id", "true")),
        C(("accepted", "boolean", False, "server answered QRY (true) or 540 (false)", "true")),
        C(("trid", "integer", False, "QRY TrID", "10")),
    ],
    "errors": [_T] + _SO + [
        C(("code", "integer", True, "error code", "217")),
        C(("name", "text", True, "error name", "User not online")),
        C(("trid", "integer", False, "TrID", "6")),
        C(("request", "text", False, "verb of the request it answers", "CAL")),
    ],
    "anomalies": [_T,
        C(("session", "integer", False, "connection id (null: capture-level)", "2")),
        C(("capture", "text", False, "capture file", "captures/mid_session.pcap")),
        C(("direction", "text", False, "c2s or s2c", "s2c")),
        C(("kind", "text", True, "gap, undecodable, count mismatch, truncated payload, capture, …", "gap")),
        C(("detail", "text", True, "what happened", "120 bytes never captured (snaplen)")),
        C(("offset", "integer", False, "stream offset", "2048")),
        C(("length", "integer", False, "bytes concerned", "120")),
    ],
}

TABLE_NAMES = tuple(TABLES)


def columns(table: str) -> list[str]:
    return [c[0] for c in TABLES[table]]


def normalise(doc: dict) -> dict:
    """Every row gets exactly the schema's columns, in order (internal ``_`` keys kept
    at the end for the CLI's own use)."""
    for t, cols in TABLES.items():
        names = [c[0] for c in cols]
        rows = doc.get(t, [])
        doc[t] = [{**{n: r.get(n) for n in names},
                   **{k: v for k, v in r.items() if k.startswith("_")}} for r in rows]
    return doc


_JSON_TYPES = {"text": "string", "integer": "integer", "boolean": "boolean",
               "list": "array", "intlist": "array", "objectlist": "array",
               "object": "object"}


def json_schema() -> dict:
    props: dict[str, dict] = {}
    for t, cols in TABLES.items():
        row: dict[str, Any] = {"type": "object", "additionalProperties": False,
               "required": [c[0] for c in cols],
               "properties": {}}
        for name, typ, required, meaning, _ in cols:
            jt = _JSON_TYPES[typ]
            row["properties"][name] = {"type": jt if required else [jt, "null"],
                                       "description": meaning}
            if typ in ("list", "intlist"):
                row["properties"][name]["items"] = {"type": "string" if typ == "list"
                                                    else "integer"}
            elif typ == "objectlist":
                row["properties"][name]["items"] = {
                    "type": "object", "additionalProperties": {"type": "string"}}
        props[t] = {"type": "array", "items": row}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "msnsniff analysis document", "type": "object",
            "required": list(TABLES), "properties": {**props, "summary": {"type": "object"}},
            "additionalProperties": False}


def markdown() -> str:
    out = ["# The analysis document", "",
           "Generated from `msnsniff/model/schema.py` by `python -m msnsniff.model.schema > docs/schema.md`;",
           "a test checks that this file, the code and `msnsniff/model/schema.json` agree.", "",
           "`read --format json` and `export --format json` write one object with one list per",
           "table below, plus `summary`. `jsonl` writes one row per line with a `table` key.",
           "CSV writes one file per table (header row always present, UTF-8); lists are joined",
           "with `; ` (a `;` or `\\` inside an item is escaped with `\\`), booleans are",
           "`true`/`false`, empty cells are null, objects are written as JSON text, and",
           "an objectlist is a list of objects, each item its `key=value` pairs joined with",
           "`; `; cells",
           "starting with `=`, `+`, `-`,",
           "`@`, tab or CR get a leading `'` so spreadsheets show them as text (`--raw-csv`",
           "turns that off). SQLite has one table per table below (lists and objects as JSON",
           "text, booleans as 0/1) with indexes on session, passport/owner and time.", "",
           "Types: text, integer, boolean, list (of text), intlist (of integers),",
           "objectlist (of objects of text), object.",
           "Required columns are never null.", ""]
    for t, cols in TABLES.items():
        out += [f"## {t}", "", "| column | type | required | meaning | example |",
                "|---|---|---|---|---|"]
        for name, typ, req, meaning, ex in cols:
            out.append(f"| `{name}` | {typ} | {'yes' if req else 'no'} | {meaning} | {ex} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    import sys
    if sys.argv[1:] == ["json"]:
        import json
        print(json.dumps(json_schema(), indent=1, ensure_ascii=False))
    else:
        print(markdown())
