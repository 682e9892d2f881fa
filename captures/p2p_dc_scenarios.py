"""MSN Messenger 7.5 (MSNP12) P2P v1 on a switchboard, and a file over a DIRECT
CONNECTION: captures/p2p_msnp12.pcap.gz, played over real loopback sockets by
make_captures.py and captured by tcpdump.  The switchboard relays each MSG to the other
participant as msnp_sb.py does (``MSG email friendly len``); the v1 layout is
p2p_scenarios.py's (48-byte little-endian header, 4-byte big-endian AppID footer).

Direct connection, cross-checked against libpurple (msn/directconn.c) and MSNPSharp
(DataTransfer/P2PMessage.cs P2PDCMessage / P2PDCHandshakeMessage, papyon's port of it):
the transport INVITE (``application/x-msnmsgr-transreqbody``: Bridges, NetID, Conn-Type,
UPnPNat, ICF, Nonce) keeps the file call's Call-ID with a new branch; the answer
(``transrespbody``, 200 OK) says ``Listening: true`` with ``IPv4Internal-Addrs``/``-Port``
and the same Nonce; the inviter connects to that port.  Every frame on the connection is
a u32 LE length then the bytes: first ``foo\\0`` (4 bytes, from the connecting side), then
the nonce handshake: a 48-byte v1 header, Flags 0x100, whose AckSessionID, AckUniqueID and
AckDataSize (bytes 32..47) carry the nonce GUID in Windows byte order (Data1-3 little-endian,
Data4 as is: uuid.bytes_le), echoed back by the listener with its own Identifier; then
P2P v1 messages WITHOUT footer.  Disagreements: libpurple writes the handshake's nonce
with memcpy of its raw 16 bytes at offset 32 while MSNPSharp splits it into the three Ack
fields from Guid.ToByteArray() -- the same bytes; libpurple's SHA1 nonce hash
(msn_dc_calculate_nonce_hash) hashes sizeof(pointer) bytes, not the 16 (a bug), MSNPSharp
hashes all 16 -- irrelevant to v1, which sends the nonce in clear.  The second file's
negotiation answers ``Listening: false``: its data stays on the switchboard.
captures/README.md and tests/p2p_expected.py list what a decoder must find.
"""

from __future__ import annotations

import base64
import struct
import uuid

from make_captures import SB, Sock, connect, listen, mime, msg, talk
from p2p_scenarios import CHUNK, FT_GUID, OBJ_GUID, Link, context, file_data, png, slp, v1
from p2p_wlm_scenarios import _cab, _gif, _wav, mime_raw, msnobj

A, B = "alice@example.com", "bob@example.com"      # p2p_scenarios.Link's two ends
A_IP, B_IP = "127.0.0.50", "127.0.0.51"
DC_PORT = 51337
PICTURE = png(20, 20)
DP_OBJ, DP_SHA1D = msnobj(B, PICTURE, 3, "TFR2C2.tmp", "")
CHAT = png(12, 12)
CHAT_OBJ, CHAT_SHA1D = msnobj(A, CHAT, 2, "chat.png", "chat")
SAUT = _gif(1300, 9)
SAUT_OBJ, SAUT_SHA1D = msnobj(A, SAUT, 2, "saut.gif", "saut")
WINK = _cab(1500)
WINK_OBJ, WINK_SHA1D = msnobj(A, WINK, 8, "TFR9.tmp", "Coucou", base64.b64encode(file_data(1000, 8)).decode())
VOICE = _wav(1400)
VOICE_OBJ, VOICE_SHA1D = msnobj(A, VOICE, 11, "VC7.tmp", "")
FILE_DC = ("Photos vacances.zip", file_data(6000, 5))
FILE_SB = ("Notes de cours.txt", file_data(2500, 17))
NONCE = "{4E6F6E63-6500-4D53-4E37-355F44433031}"
NONCE2 = "{4E6F6E63-6500-4D53-4E37-355F44433032}"
CALLS = {  # name -> (Call-ID, SessionID)
    "dp": ("{C12C12C1-0001-4000-8000-000000000001}", 2020201),
    "chat": ("{C12C12C1-0002-4000-8000-000000000002}", 2020202),
    "saut": ("{C12C12C1-0003-4000-8000-000000000003}", 2020203),
    "wink": ("{C12C12C1-0004-4000-8000-000000000004}", 2020204),
    "voice": ("{C12C12C1-0005-4000-8000-000000000005}", 2020205),
    "file_dc": ("{C12C12C1-0006-4000-8000-000000000006}", 2020206),
    "file_sb": ("{C12C12C1-0007-4000-8000-000000000007}", 2020207),
}
WINK_MSG_ID = "{E1E2E3E4-0012-4000-8000-00000000A1A1}"
NETID = "-1062731775"


def _slp(start, to, frm, name, cseq, ctype, fields):
    return slp(start, to, frm, CALLS[name][0], cseq, ctype, fields)


def invite(link, frm, to, name, euf, app, ctx):
    link.send_slp(frm, to, _slp(f"INVITE MSNMSGR:{to} MSNSLP/1.0", to, frm, name, 0,
                                "application/x-msnmsgr-sessionreqbody",
                                [("EUF-GUID", euf), ("SessionID", str(CALLS[name][1])),
                                 ("AppID", str(app)), ("Context", ctx)]))


def ok(link, frm, to, name, ctype="application/x-msnmsgr-sessionreqbody", fields=None):
    link.send_slp(frm, to, _slp("MSNSLP/1.0 200 OK", to, frm, name, 1, ctype,
                                fields or [("SessionID", str(CALLS[name][1]))]))


def bye_raw(frm, to, name):
    return _slp(f"BYE MSNMSGR:{to} MSNSLP/1.0", to, frm, name, 0,
                "application/x-msnmsgr-sessionclosebody", [])


def fetch(link, owner, asker, name, obj, data, app, flags=0x20):
    invite(link, asker, owner, name, OBJ_GUID, app, base64.b64encode(obj.encode() + b"\x00").decode())
    ok(link, owner, asker, name)
    sid = CALLS[name][1]
    prep = link.next_id(owner)
    link.p2p(owner, asker, v1(sid, prep, 0, 4, b"\x00" * 4, 0, 0x55660000 + prep, app=app))
    link.ack(asker, owner, sid, prep, 0x55660000 + prep, 4, app=app)
    ident = link.send_data(owner, asker, sid, data, flags, app)
    link.ack(asker, owner, sid, ident, 0x3C4D0000 + ident, len(data), app=app)
    link.send_slp(asker, owner, bye_raw(asker, owner, name))


def dc_frame(sock_from: Sock, sock_to: Sock, body: bytes):
    talk(sock_from, sock_to, "", raw=struct.pack("<I", len(body)) + body)


def transport(link, name, nonce, listening, port):
    link.send_slp(A, B, _slp(f"INVITE MSNMSGR:{B} MSNSLP/1.0", B, A, name, 0,
                             "application/x-msnmsgr-transreqbody",
                             [("Bridges", "TCPv1"), ("NetID", NETID), ("Conn-Type", "Direct-Connect"),
                              ("UPnPNat", "false"), ("ICF", "false"), ("Nonce", nonce)]))
    fields = [("Bridge", "TCPv1"), ("Listening", "true" if listening else "false"), ("Nonce", nonce)]
    if listening:
        fields += [("IPv4Internal-Addrs", B_IP), ("IPv4Internal-Port", str(port))]
    ok(link, B, A, name, "application/x-msnmsgr-transrespbody", fields)


def direct_file(link):
    name, data = FILE_DC
    sid = CALLS["file_dc"][1]
    invite(link, A, B, "file_dc", FT_GUID, 2, context(name, len(data)))
    ok(link, B, A, "file_dc")
    dc_l = listen((B_IP, DC_PORT))
    transport(link, "file_dc", NONCE, True, DC_PORT)
    a, b = connect(dc_l, A_IP, "dc")
    dc_frame(a, b, b"foo\x00")
    nonce = uuid.UUID(NONCE).bytes_le
    hs = struct.pack("<IIQQII", 0, link.next_id(A), 0, 0, 0, 0x100) + nonce
    dc_frame(a, b, hs)
    dc_frame(b, a, struct.pack("<IIQQII", 0, link.next_id(B), 0, 0, 0, 0x100) + nonce)
    ident = link.next_id(A)
    for off in range(0, len(data), CHUNK):          # no footer on a direct connection
        dc_frame(a, b, v1(sid, ident, off, len(data), data[off:off + CHUNK], 0x1000030,
                          0x3C4D0000 + ident)[:-4])
    dc_frame(b, a, v1(sid, link.next_id(B), 0, len(data), b"", 0x2, ident, 0x3C4D0000 + ident,
                      len(data))[:-4])
    raw = bye_raw(B, A, "file_dc")
    bye_id = link.next_id(B)
    dc_frame(b, a, v1(0, bye_id, 0, len(raw), raw, 0, 0x1A2B0000 + bye_id)[:-4])
    dc_frame(a, b, v1(0, link.next_id(A), 0, len(raw), b"", 0x2, bye_id, 0x1A2B0000 + bye_id,
                      len(raw))[:-4])
    a.close(); b.close(); dc_l.close()


def scenario_msnp12():
    sb_l = listen(SB)
    sa, ssa = connect(sb_l, A_IP, "p12-a")
    talk(sa, ssa, f"USR 1 {A} 1212.5050")
    talk(ssa, sa, f"USR 1 OK {A} Alice")
    talk(sa, ssa, f"CAL 2 {B}")
    talk(ssa, sa, "CAL 2 RINGING 12125050")
    sb_, ssb = connect(sb_l, B_IP, "p12-b")
    talk(sb_, ssb, f"ANS 1 {B} 1313.5151 12125050")
    talk(ssb, sb_, f"IRO 1 1 1 {A} Alice 1342177312")
    talk(ssb, sb_, "ANS 1 OK")
    talk(ssa, sa, f"JOI {B} Bob 1342177312")
    link = Link(sa, ssa, sb_, ssb)

    def say(frm, payload, head_ack="N"):
        c, s = link.ends[frm]
        oc, os_ = link.ends[B if frm == A else A]
        link.trid += 1
        msg(c, s, f"MSG {link.trid} {head_ack}", payload)
        msg(os_, oc, f"MSG {frm} {frm.split('@')[0].title()}", payload)

    fetch(link, B, A, "dp", DP_OBJ, PICTURE, 1)
    say(A, mime("text/x-mms-emoticon", body=f":chat:\t{CHAT_OBJ}\t"))
    say(A, mime("text/x-mms-animemoticon", body=f":saut:\t{SAUT_OBJ}\t"))
    say(A, mime("text/plain; charset=UTF-8", [("X-MMS-IM-Format", "FN=Arial; EF=; CO=0; CS=0; PF=0")],
                "Mes émoticônes :chat: :saut:"))
    fetch(link, A, B, "chat", CHAT_OBJ, CHAT, 11)
    fetch(link, A, B, "saut", SAUT_OBJ, SAUT, 11)
    body = f"ID: 2\r\nData: {WINK_OBJ}\r\n\r\n".encode()
    third = -(-len(body) // 3)
    parts = [body[i * third:(i + 1) * third] for i in range(3)]
    say(A, mime("text/x-msnmsgr-datacast", [("Message-ID", WINK_MSG_ID), ("Chunks", "3")]) + parts[0])
    for i in (1, 2):
        say(A, mime_raw([("Message-ID", WINK_MSG_ID), ("Chunk", str(i))], parts[i]))
    fetch(link, A, B, "wink", WINK_OBJ, WINK, 11)
    say(A, mime("text/x-msnmsgr-datacast", body=f"ID: 3\r\nData: {VOICE_OBJ}\r\n\r\n"))
    fetch(link, A, B, "voice", VOICE_OBJ, VOICE, 11)
    direct_file(link)
    # the second file: bob is not listening, the data stays on the switchboard
    name, data = FILE_SB
    sid = CALLS["file_sb"][1]
    invite(link, A, B, "file_sb", FT_GUID, 2, context(name, len(data)))
    ok(link, B, A, "file_sb")
    transport(link, "file_sb", NONCE2, False, 0)
    ident = link.send_data(A, B, sid, data, 0x1000030, 2)
    link.ack(B, A, sid, ident, 0x3C4D0000 + ident, len(data), app=2)
    link.send_slp(B, A, bye_raw(B, A, "file_sb"))
    talk(sb_, ssb, "OUT")
    talk(ssa, sa, f"BYE {B}")
    talk(sa, ssa, "OUT")
    for x in (sa, ssa, sb_, ssb):
        x.close()
    sb_l.close()
