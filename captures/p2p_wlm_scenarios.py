"""P2P as Windows Live Messenger 2009 sends it (MSNP18, P2P v2) over a switchboard that
relays as subpurple/escargot's front/msn/msnp_sb.py does: captures/p2p_wlm.pcap.gz, played
over real loopback sockets by make_captures.py and captured by tcpdump.

Server behaviour followed (msnp_sb.py, read from the snapshot): a MSG is relayed to every
other chat session of the chat, the sender's own other endpoints included (MPOP), as
``MSG <email> <friendly> <len>`` -- without the sender's ``;{guid}`` (the endpoint is only
in P2P-Src); application/x-msnmsgrp2p is accepted only with ack type D; a MSG payload over
1,664 bytes closes the connection (so every chunk here stays under it); WLM 2009's first
``CAL`` names the owner herself, answered ``CAL RINGING`` (her other endpoint then joins);
JOI/IRO of an MPOP user come as ``email;{guid}`` then bare ``email``.  Escargot itself was
not run: its requirements (sqlaltery, devtls) come from GitLab, which is out of reach here.

P2P v2 layout, cross-checked against libpurple (msn/p2p.c msn_p2p_header_from_wire/_to_wire,
msn_p2p_info_create_ack) and MSNPSharp (DataTransfer/P2PHeader.cs P2Pv2Header,
P2PMessage.cs SplitMessage): header = HeaderLength u8, OpCode u8 (1 SYN, 2 RAK),
MessageSize u16 BE (= data header + data), SequenceNumber u32 BE, header TLVs padded with
zeros to a multiple of 4; data header (only when there is data) = length u8, TF u8,
PackageNumber u16 BE, SessionID u32 BE, TLV 1 (8 bytes, BE) = bytes remaining after this
chunk, padded to 4; data; 4-byte BE AppID footer (kept over the switchboard).
Where they disagree, and what is followed here:
- an ACK without data: MSNPSharp writes MessageSize 0 and no data header; libpurple's
  _to_wire always writes an 8-byte data header (MessageSize 8).  Followed: MSNPSharp
  (WLM 2009 traces show 8-byte ACKs of 12 bytes + footer).
- the sequence number of the next chunk: MSNPSharp adds the chunk's MessageSize (data
  header included); libpurple's ACK TLV is base_id + message_len with message_len read
  from the wire (also data header included).  Followed: seq += MessageSize, and the ACK
  TLV (type 2, u32 BE) = acked seq + MessageSize.
- peer info TLV (type 1, 12 bytes): MSNPSharp writes protocol version 0x0200, impl id 0,
  version 0x0E00, reserved 0, capabilities 271 (0x10F), each LITTLE-endian (as WLM does);
  libpurple only copies it back in its ACK.  Followed: MSNPSharp.
- TF: MSNPSharp clears First on every chunk after the first of a split message;
  libpurple only reads it.  Data-preparation (4 zero bytes, TF First) before an MSN object
  as MSNPSharp's WritePreparationBytes/papyon's P2PDataMessage do.
- AppID footer: 12 for a v2 display picture, 11 for emoticons/winks/voice clips, 2 for
  files, 0 for MSNSLP (MSNPSharp P2PConst; libpurple MSN_APPID_*).
- text/x-mms-emoticon: shortcut TAB raw MSNObject XML TAB (MSNPSharp EmoticonMessage,
  libpurple msn_send_emoticons); the older p2p_transfers.pcap.gz URL-encodes the object.
captures/README.md and tests/p2p_expected.py list what a decoder must find.
"""

from __future__ import annotations

import base64
import hashlib
import struct

from make_captures import SB, connect, listen, mime, msg, talk
from p2p_scenarios import FT_GUID, OBJ_GUID, context, file_data, png, slp

A, B = "alice18@example.com", "bob18@example.com"
A1_IP, A2_IP, B_IP = "127.0.0.40", "127.0.0.41", "127.0.0.42"
MG_A1 = "{5F3C9A21-7B4E-4D2A-9C1E-AB12CD34EF01}"     # alice's HOME-PC
MG_A2 = "{5F3C9A21-7B4E-4D2A-9C1E-AB12CD34EF02}"     # alice's LAPTOP (sees, never answers)
MG_B = "{C0FFEE00-BEEF-4ACE-8BAD-F00DCAFE0B0B}"
CAPS = "2789003324:48"
PEER_INFO = struct.pack("<HHHHI", 0x0200, 0, 0x0E00, 0, 271)
SLP_CHUNK, DATA_CHUNK = 1100, 1200


def ep(who, guid, lower=False):
    return f"{who};{guid.lower() if lower else guid}"


def tlvs(items):
    raw = b"".join(bytes([t, len(v)]) + v for t, v in items)
    return raw + b"\x00" * (-len(raw) % 4)


def v2(seq, opcode=0, header_tlvs=(), sid=0, tf=0, package=0, data=b"", remaining=0, app=0):
    htlv = tlvs(header_tlvs)
    head = b""
    if data:
        dtlv = tlvs([(1, struct.pack(">Q", remaining))] if remaining else [])
        head = struct.pack(">BBHI", 8 + len(dtlv), tf, package, sid) + dtlv
    size = len(head) + len(data)
    return (struct.pack(">BBHI", 8 + len(htlv), opcode, size, seq) + htlv + head + data
            + struct.pack(">I", app)), size


def mime_raw(headers, body: bytes) -> bytes:
    return ("\r\n".join(f"{k}: {v}" for k, v in headers) + "\r\n\r\n").encode() + body


class Board:
    """One switchboard session: each endpoint's (client, server) sockets."""

    def __init__(self):
        self.ends = {}          # endpoint guid -> (email, name, client, server)
        self.trid = {}
        self.seq = {MG_A1: 0x3E1A0000, MG_B: 0x7B0B0000}
        self.synced = set()

    def say(self, frm, payload: bytes, ack="N"):
        email, name, c, s = self.ends[frm]
        self.trid[frm] = self.trid.get(frm, 2) + 1
        assert len(payload) <= 1664, len(payload)     # msnp_sb.py closes on more
        msg(c, s, f"MSG {self.trid[frm]} {ack}", payload)
        if ack in ("A", "D"):                           # msnp_sb.py acks all but U and N
            talk(s, c, f"ACK {self.trid[frm]}")
        for g, (_, _, oc, os_) in self.ends.items():
            if g != frm:                         # every other session, her other endpoint too
                msg(os_, oc, f"MSG {email} {name}", payload)

    # ---- P2P v2
    def p2p(self, frm, to, frame):
        femail, tmail = self.ends[frm][0], self.ends[to][0]
        payload = mime("application/x-msnmsgrp2p",
                       [("P2P-Dest", ep(tmail, to)), ("P2P-Src", ep(femail, frm))]) + frame
        self.say(frm, payload, "D")

    def ack(self, frm, to, acked_seq, size, syn=False):
        frame, _ = v2(self.seq[frm], 0x03 if syn else 0,
                      ([(1, PEER_INFO)] if syn else []) + [(2, struct.pack(">I", acked_seq + size))])
        self.p2p(frm, to, frame)
        # an ACK carries no data: it does not move the sender's sequence number

    def send(self, frm, to, raw, sid=0, tf=0, package=0, app=0, chunk=SLP_CHUNK, parts=None):
        """A message cut in chunks; each chunk its own sequence number; the last asks for
        an ACK (RAK), which the receiving endpoint sends."""
        offs = list(range(0, len(raw), chunk))[:parts]
        first_syn = (frm, to) not in self.synced
        for i, off in enumerate(offs):
            part = raw[off:off + chunk]
            last = off + chunk >= len(raw) or (parts and i == len(offs) - 1)
            syn = first_syn and i == 0
            op = (0x01 if syn else 0) | (0x02 if (last or syn) else 0)
            frame, size = v2(self.seq[frm], op, [(1, PEER_INFO)] if syn else [], sid,
                             tf | (0x01 if off == 0 else 0), package, part,
                             len(raw) - off - len(part), app)
            seq = self.seq[frm]
            self.p2p(frm, to, frame)
            self.seq[frm] += size
            if syn:
                self.synced.add((frm, to))
                self.synced.add((to, frm))
                self.ack(to, frm, seq, size, syn=True)
                self.ack(frm, to, self.seq[to], 0)        # the SYN's answer acknowledged
            elif last and not (parts and off + chunk < len(raw)):
                self.ack(to, frm, seq, size)


def slp2(start, to_ep, frm_ep, call, cseq, ctype, fields, branch):
    raw = slp(start, to_ep, frm_ep, call, cseq, ctype, fields)
    return raw.replace(b"{33517CE4-02FC-4428-B6F4-39927229B722}", branch.encode())


def msnobj(creator, data, otype, location, friendly, stamp=""):
    sha1d = base64.b64encode(hashlib.sha1(data).digest()).decode()
    fr = base64.b64encode((friendly + "\x00").encode("utf-16-le")).decode()
    extra = f' stamp="{stamp}"' if stamp else ""
    return (f'<msnobj Creator="{creator}" Type="{otype}" SHA1D="{sha1d}" Size="{len(data)}" '
            f'Location="{location}" Friendly="{fr}"{extra}/>'), sha1d


def _gif(n, seed):
    body = bytes((i * 17 + seed) % 256 for i in range(n - 13))
    return b"GIF89a\x10\x00\x10\x00\x80\x00\x00" + body


def _cab(n):
    return b"MSCF\x00\x00\x00\x00" + struct.pack("<I", n) + file_data(n - 12, 5)


def _wav(n):
    return (b"RIFF" + struct.pack("<I", n - 8) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
            + b"data" + struct.pack("<I", n - 44) + file_data(n - 44, 11))


# ---------------------------------------------------------------- the scenario constants
PICTURE = png(22, 22)
DP_OBJ, DP_SHA1D = msnobj(B, PICTURE, 3, "0", "")
FLEUR = png(12, 12)
FLEUR_OBJ, FLEUR_SHA1D = msnobj(A, FLEUR, 2, "fleur.png", "fleur")
SOLEIL = png(14, 14)
SOLEIL_OBJ, SOLEIL_SHA1D = msnobj(A, SOLEIL, 2, "soleil.png", "soleil")
DANSE = _gif(1400, 3)
DANSE_OBJ, DANSE_SHA1D = msnobj(A, DANSE, 2, "danse.gif", "danse")
WINK = _cab(1800)
WINK_STAMP = base64.b64encode(file_data(1200, 77)).decode()      # a wink's signature: why it is chunked
WINK_OBJ, WINK_SHA1D = msnobj(A, WINK, 8, "TFR5A.tmp", "Bisou", WINK_STAMP)
VOICE = _wav(1600)
VOICE_OBJ, VOICE_SHA1D = msnobj(A, VOICE, 11, "VC1B.tmp", "")
FILE_OK = ("Rapport annuel 2009.pdf", file_data(3000, 21))
FILE_NO = ("Vacances été.zip", 48000)
FILE_CANCEL = ("Concert Live.mp3", file_data(4800, 63))
CANCEL_PARTS = 2
LONG_TEXT = ("Compte rendu de la réunion : " + " ".join(
    f"point {i} validé ✔ par l'équipe;" for i in range(1, 60)))
CALLS = {   # name -> (Call-ID, SessionID, branch)
    "file_ok": ("{A1B2C3D4-0001-4E5F-8A9B-0C1D2E3F4A01}", 1010101, "{B0000001-0001-4000-8000-00000000B001}"),
    "file_no": ("{A1B2C3D4-0002-4E5F-8A9B-0C1D2E3F4A02}", 1010102, "{B0000001-0001-4000-8000-00000000B002}"),
    "file_cancel": ("{A1B2C3D4-0003-4E5F-8A9B-0C1D2E3F4A03}", 1010103, "{B0000001-0001-4000-8000-00000000B003}"),
    "dp": ("{A1B2C3D4-0004-4E5F-8A9B-0C1D2E3F4A04}", 1010104, "{B0000001-0001-4000-8000-00000000B004}"),
    "fleur": ("{A1B2C3D4-0005-4E5F-8A9B-0C1D2E3F4A05}", 1010105, "{B0000001-0001-4000-8000-00000000B005}"),
    "danse": ("{A1B2C3D4-0006-4E5F-8A9B-0C1D2E3F4A06}", 1010106, "{B0000001-0001-4000-8000-00000000B006}"),
    "wink": ("{A1B2C3D4-0007-4E5F-8A9B-0C1D2E3F4A07}", 1010107, "{B0000001-0001-4000-8000-00000000B007}"),
    "voice": ("{A1B2C3D4-0008-4E5F-8A9B-0C1D2E3F4A08}", 1010108, "{B0000001-0001-4000-8000-00000000B008}"),
}
CALLS["file_dc"] = ("{A1B2C3D4-0009-4E5F-8A9B-0C1D2E3F4A09}", 1010109, "{B0000001-0001-4000-8000-00000000B009}")
FILE_DC = ("Album photo.zip", file_data(3600, 91))
DC_NONCE = "{6E6F6E63-6532-4D53-4E37-32303039AB01}"
DC_PORT = 51818


def hashed_nonce(nonce: str) -> str:
    """WLM 2009's Hashed-Nonce: SHA1 of the nonce GUID's 16 bytes (Windows byte order),
    its first 16 bytes read back as a GUID (MSNPSharp HashedNonceGenerator; libpurple's
    msn_dc_calculate_nonce_hash means the same but hashes only sizeof(pointer) bytes)."""
    import uuid
    digest = hashlib.sha1(uuid.UUID(nonce).bytes_le).digest()
    return "{" + str(uuid.UUID(bytes_le=digest[:16])).upper() + "}"


WINK_MSG_ID = "{D7E8F9A0-1111-4222-8333-944455556666}"
TEXT_MSG_ID = "{D7E8F9A0-2222-4222-8333-944455557777}"
SB_COOKIE_A1, SB_SESSION = "1818.4040", "40400018"


def open_board(sb_l):
    bd = Board()
    a1, sa1 = connect(sb_l, A1_IP, "wlm-a1")
    talk(a1, sa1, f"USR 1 {ep(A, MG_A1)} {SB_COOKIE_A1}")
    talk(sa1, a1, f"USR 1 OK {ep(A, MG_A1)} Alice")
    bd.ends[MG_A1] = (A, "Alice", a1, sa1)
    talk(a1, sa1, f"CAL 2 {A}")                   # WLM 2009 first invites its owner
    talk(sa1, a1, f"CAL 2 RINGING {SB_SESSION}")
    talk(a1, sa1, f"CAL 3 {B}")
    talk(sa1, a1, f"CAL 3 RINGING {SB_SESSION}")
    b, sb_ = connect(sb_l, B_IP, "wlm-b")
    talk(b, sb_, f"ANS 1 {ep(B, MG_B.lower())} 4242.0018 {SB_SESSION}")
    talk(sb_, b, f"IRO 1 2 2 {ep(A, MG_A1)} Alice {CAPS}")
    talk(sb_, b, f"IRO 1 2 2 {A} Alice {CAPS}")
    talk(sb_, b, "ANS 1 OK")
    talk(sa1, a1, f"JOI {ep(B, MG_B)} Bob {CAPS}")
    talk(sa1, a1, f"JOI {B} Bob {CAPS}")
    bd.ends[MG_B] = (B, "Bob", b, sb_)
    a2, sa2 = connect(sb_l, A2_IP, "wlm-a2")
    talk(a2, sa2, f"ANS 1 {ep(A, MG_A2)} 4343.0018 {SB_SESSION}")
    talk(sa2, a2, f"IRO 1 1 4 {ep(A, MG_A1)} Alice {CAPS}")
    talk(sa2, a2, f"IRO 1 2 4 {A} Alice {CAPS}")
    talk(sa2, a2, f"IRO 1 3 4 {ep(B, MG_B)} Bob {CAPS}")
    talk(sa2, a2, f"IRO 1 4 4 {B} Bob {CAPS}")
    talk(sa2, a2, "ANS 1 OK")
    talk(sa1, a1, f"JOI {ep(A, MG_A2)} Alice {CAPS}")
    talk(sb_, b, f"JOI {ep(A, MG_A2)} Alice {CAPS}")
    bd.ends[MG_A2] = (A, "Alice", a2, sa2)
    return bd


def text_msg(body, headers=()):
    return mime("text/plain; charset=UTF-8",
                [("X-MMS-IM-Format", "FN=Segoe%20UI; EF=; CO=0; CS=0; PF=0"), *headers], body)


def invite(bd, frm, to, name, euf, app, ctx, ctype="application/x-msnmsgr-sessionreqbody"):
    call, sid, branch = CALLS[name]
    fe, te = bd.ends[frm][0], bd.ends[to][0]
    raw = slp2(f"INVITE MSNMSGR:{ep(te, to, True)} MSNSLP/1.0", ep(te, to, True), ep(fe, frm, True),
               call, 0, ctype, [("EUF-GUID", euf), ("SessionID", str(sid)),
                                ("SChannelState", "0"), ("Capabilities-Flags", "1"),
                                ("AppID", str(app)), ("Context", ctx)], branch)
    bd.send(frm, to, raw)


def reply(bd, frm, to, name, code="200 OK"):
    call, sid, branch = CALLS[name]
    fe, te = bd.ends[frm][0], bd.ends[to][0]
    raw = slp2(f"MSNSLP/1.0 {code}", ep(te, to, True), ep(fe, frm, True), call, 1,
               "application/x-msnmsgr-sessionreqbody", [("SessionID", str(sid))], branch)
    bd.send(frm, to, raw)


def bye(bd, frm, to, name):
    call, _, branch = CALLS[name]
    fe, te = bd.ends[frm][0], bd.ends[to][0]
    raw = slp2(f"BYE MSNMSGR:{ep(te, to, True)} MSNSLP/1.0", ep(te, to, True), ep(fe, frm, True),
               call, 0, "application/x-msnmsgr-sessionclosebody", [("Context", "dAMAgQ==")], branch)
    bd.send(frm, to, raw)


def fetch_object(bd, owner, asker, name, obj, data, app, package):
    """asker INVITEs the owner's object; 200 OK; data preparation; the object; asker's BYE."""
    invite(bd, asker, owner, name, OBJ_GUID, app,
           base64.b64encode(obj.encode() + b"\x00").decode())
    reply(bd, owner, asker, name)
    _, sid, _ = CALLS[name]
    bd.send(owner, asker, b"\x00" * 4, sid, 0, package, app)             # data preparation
    bd.send(owner, asker, data, sid, 0x04, package + 1, app, DATA_CHUNK)
    bye(bd, asker, owner, name)


def direct_file(bd):
    """A file over a v2 direct connection: transreqbody with Hashed-Nonce, bob listens,
    alice's HOME-PC connects: foo, the 16-byte nonce (u32 LE length 16 + bytes_le, as
    MSNPSharp's P2PDCHandshakeMessage writes for v2) echoed, then footer-less v2 frames."""
    import uuid

    from make_captures import connect as conn
    name, data = FILE_DC
    call, sid, branch = CALLS["file_dc"]
    invite(bd, MG_A1, MG_B, "file_dc", FT_GUID, 2, context(name, len(data)))
    reply(bd, MG_B, MG_A1, "file_dc")
    hn = hashed_nonce(DC_NONCE)
    req = slp2(f"INVITE MSNMSGR:{ep(B, MG_B, True)} MSNSLP/1.0", ep(B, MG_B, True), ep(A, MG_A1, True),
               call, 0, "application/x-msnmsgr-transreqbody",
               [("Bridges", "TRUDPv1 TCPv1 SBBridge TURNv1"), ("NetID", "-1062731736"),
                ("Conn-Type", "Direct-Connect"), ("TCP-Conn-Type", "Direct-Connect"), ("UPnPNat", "false"),
                ("ICF", "false"), ("Hashed-Nonce", hn), ("SessionID", str(sid)), ("SChannelState", "0"),
                ("Capabilities-Flags", "1")], "{B0000001-0001-4000-8000-00000000B00A}")
    bd.send(MG_A1, MG_B, req)
    resp = slp2("MSNSLP/1.0 200 OK", ep(A, MG_A1, True), ep(B, MG_B, True), call, 1,
                "application/x-msnmsgr-transrespbody",
                [("Bridge", "TCPv1"), ("Listening", "true"), ("Conn-Type", "Direct-Connect"),
                 ("TCP-Conn-Type", "Direct-Connect"), ("Hashed-Nonce", hn),
                 ("IPv4Internal-Addrs", B_IP), ("IPv4Internal-Port", str(DC_PORT)),
                 ("SessionID", str(sid)), ("SChannelState", "0"), ("Capabilities-Flags", "1"),
                 ("Nat-Trav-Msg-Type", "WLX-Nat-Trav-Msg-Direct-Connect-Resp")],
                "{B0000001-0001-4000-8000-00000000B00A}")
    bd.send(MG_B, MG_A1, resp)
    dc_l = listen((B_IP, DC_PORT))
    a, b = conn(dc_l, A1_IP, "wlm-dc")

    def frame(src, dst, body):
        talk(src, dst, "", raw=struct.pack("<I", len(body)) + body)
    frame(a, b, b"foo\x00")
    nonce = uuid.UUID(DC_NONCE).bytes_le
    frame(a, b, nonce)
    frame(b, a, nonce)
    seq = bd.seq[MG_A1]
    for off in range(0, len(data), DATA_CHUNK):
        part = data[off:off + DATA_CHUNK]
        last = off + DATA_CHUNK >= len(data)
        f, size = v2(seq, 0x02 if last else 0, (), sid, 0x06 | (0x01 if off == 0 else 0), 0x0901,
                     part, len(data) - off - len(part), 2)
        frame(a, b, f[:-4])                                # no footer on a direct connection
        if last:
            ackf, _ = v2(bd.seq[MG_B], 0, [(2, struct.pack(">I", seq + size))])
            frame(b, a, ackf[:-4])
        seq += size
    bd.seq[MG_A1] = seq
    raw = slp2(f"BYE MSNMSGR:{ep(B, MG_B, True)} MSNSLP/1.0", ep(B, MG_B, True), ep(A, MG_A1, True),
               call, 0, "application/x-msnmsgr-sessionclosebody", [("Context", "dAMAgQ==")], branch)
    f, size = v2(seq, 0x02, (), 0, 0x01, 0, raw, 0, 0)
    frame(a, b, f[:-4])
    ackf, _ = v2(bd.seq[MG_B], 0, [(2, struct.pack(">I", seq + size))])
    frame(b, a, ackf[:-4])
    bd.seq[MG_A1] = seq + size
    a.close(); b.close(); dc_l.close()


def scenario_wlm():
    sb_l = listen(SB)
    bd = open_board(sb_l)
    bd.say(MG_A1, text_msg("Salut Bob ! Je t'envoie le rapport."), "A")
    # (a) a file, complete: INVITE (with a preview) split in 2 chunks, 200 OK, data, sender's BYE
    name, data = FILE_OK
    invite(bd, MG_A1, MG_B, "file_ok", FT_GUID, 2, context(name, len(data)))
    reply(bd, MG_B, MG_A1, "file_ok")
    bd.send(MG_A1, MG_B, data, CALLS["file_ok"][1], 0x06, 0x0101, 2, DATA_CHUNK)
    bye(bd, MG_A1, MG_B, "file_ok")
    # (b) declined: 603, then alice's BYE
    invite(bd, MG_A1, MG_B, "file_no", FT_GUID, 2, context(FILE_NO[0], FILE_NO[1]))
    reply(bd, MG_B, MG_A1, "file_no", "603 Decline")
    bye(bd, MG_A1, MG_B, "file_no")
    # (c) cancelled by the receiver after CANCEL_PARTS chunks
    name, data = FILE_CANCEL
    invite(bd, MG_A1, MG_B, "file_cancel", FT_GUID, 2, context(name, len(data)))
    reply(bd, MG_B, MG_A1, "file_cancel")
    bd.send(MG_A1, MG_B, data, CALLS["file_cancel"][1], 0x06, 0x0103, 2, DATA_CHUNK, parts=CANCEL_PARTS)
    bye(bd, MG_B, MG_A1, "file_cancel")
    # (d) bob's display picture, fetched by alice's HOME-PC
    fetch_object(bd, MG_B, MG_A1, "dp", DP_OBJ, PICTURE, 12, 0x0201)
    # (e) custom emoticons: :fleur: fetched, :soleil: never fetched, :danse: animated, fetched
    bd.say(MG_A1, mime("text/x-mms-emoticon", body=f":fleur:\t{FLEUR_OBJ}\t:soleil:\t{SOLEIL_OBJ}\t"))
    bd.say(MG_A1, text_msg("Regarde :fleur: et :soleil: !"), "A")
    fetch_object(bd, MG_A1, MG_B, "fleur", FLEUR_OBJ, FLEUR, 11, 0x0301)
    bd.say(MG_A1, mime("text/x-mms-animemoticon", body=f":danse:\t{DANSE_OBJ}\t"))
    bd.say(MG_A1, text_msg("Et :danse: !"), "A")
    fetch_object(bd, MG_A1, MG_B, "danse", DANSE_OBJ, DANSE, 11, 0x0401)
    # (f) a wink: datacast ID 2 chunked over three MSGs, then fetched
    body = f"ID: 2\r\nData: {WINK_OBJ}\r\n\r\n".encode()
    third = -(-len(body) // 3)
    parts = [body[i * third:(i + 1) * third] for i in range(3)]
    bd.say(MG_A1, mime("text/x-msnmsgr-datacast", [("Message-ID", WINK_MSG_ID), ("Chunks", "3")]) + parts[0])
    for i in (1, 2):
        bd.say(MG_A1, mime_raw([("Message-ID", WINK_MSG_ID), ("Chunk", str(i))], parts[i]))
    fetch_object(bd, MG_A1, MG_B, "wink", WINK_OBJ, WINK, 11, 0x0501)
    # (g) a voice clip: datacast ID 3, then fetched
    bd.say(MG_A1, mime("text/x-msnmsgr-datacast", body=f"ID: 3\r\nData: {VOICE_OBJ}\r\n\r\n"))
    fetch_object(bd, MG_A1, MG_B, "voice", VOICE_OBJ, VOICE, 11, 0x0601)
    # (h) bob's nudge; (i) alice's long text, chunked in two
    bd.say(MG_B, mime("text/x-msnmsgr-datacast", body="ID: 1\r\n\r\n"))
    text = LONG_TEXT.encode()
    half = len(text) // 2
    while text[half] & 0xC0 == 0x80:       # cut between characters, as a client cuts
        half += 1
    bd.say(MG_A1, text_msg("", [("Message-ID", TEXT_MSG_ID), ("Chunks", "2")]) + text[:half], "A")
    bd.say(MG_A1, mime_raw([("Message-ID", TEXT_MSG_ID), ("Chunk", "1")], text[half:]), "A")
    bd.say(MG_B, text_msg("Bien reçu, merci Alice 🙂"))
    direct_file(bd)                                      # (3) a v2 direct connection
    email_b, _, b, sb_ = bd.ends[MG_B]
    talk(b, sb_, "OUT")
    for g in (MG_A1, MG_A2):
        talk(bd.ends[g][3], bd.ends[g][2], f"BYE {ep(B, MG_B)}")
        talk(bd.ends[g][3], bd.ends[g][2], f"BYE {B}")
    for g in (MG_A2, MG_A1):
        talk(bd.ends[g][2], bd.ends[g][3], "OUT")
    for _, _, c, s in bd.ends.values():
        c.close(); s.close()
    sb_l.close()
