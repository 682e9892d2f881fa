"""P2P (MSNSLP) over the switchboard: captures/p2p_transfers.pcap.gz and p2p_hostile.pcap,
played over real loopback sockets by make_captures.py and captured by tcpdump.

The switchboard relays each P2P MSG from one client to the other, as a real server
does (so every part is on the wire twice).  The binary layout is the one libpurple's
msn plugin writes (libpurple/protocols/msn/p2p.c ``msn_p2p_header_to_wire``: v1 48-byte
little-endian header, 4-byte big-endian AppID footer; v2 TLV header; slp.c for the
MSNSLP text and ``MsnFileContext`` for the file context), data cut in 1,202-byte parts
(``MSN_SBCONN_MAX_SIZE``-sized P2P payloads), receivers acknowledging with flag 0x2.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib

from make_captures import NS, SB, connect, listen, mime, msg, talk

A, B = "alice@example.com", "bob@example.com"
A_IP, B_IP = "127.0.0.30", "127.0.0.31"
FT_GUID = "{5D3E02AB-6190-11D3-BBBB-00C04F795683}"
OBJ_GUID = "{A4268EEC-FEC5-49E5-95C3-F126696BDBF6}"
CHUNK = 1202


def png(width=40, height=40) -> bytes:
    """A real PNG (deterministic pixels) for the display picture."""
    raw = b"".join(b"\x00" + bytes(((x * 7 + y * 13 + (x * y) % 17) * 5) % 256
                                    for x in range(width * 3)) for y in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))


PICTURE = png()
SHA1D = base64.b64encode(hashlib.sha1(PICTURE).digest()).decode()
MSNOBJ = (f'<msnobj Creator="{B}" Size="{len(PICTURE)}" Type="3" Location="TFR2C2.tmp" '
          f'Friendly="AAA=" SHA1D="{SHA1D}"/>')
EMOTICON = png(12, 12)
EMO_OBJ = (f'<msnobj Creator="{A}" Size="{len(EMOTICON)}" Type="2" Location="cafe.png" '
           f'Friendly="{base64.b64encode("(cafe)".encode("utf-16-le")).decode()}" '
           f'SHA1D="{base64.b64encode(hashlib.sha1(EMOTICON).digest()).decode()}"/>')


def file_data(n: int, seed: int) -> bytes:
    return bytes((i * 31 + seed + (i >> 8)) % 256 for i in range(n))


def v1(sid, ident, offset, total, data, flags=0, ack_sid=0, ack_id=0, ack_size=0, app=0):
    return (struct.pack("<IIQQIIIIQ", sid, ident, offset, total, len(data), flags, ack_sid,
                        ack_id, ack_size) + data + struct.pack(">I", app))


def context(name: str, size: int, preview: bytes = b"") -> str:
    units = name.encode("utf-16-le")[:520].ljust(520, b"\x00")
    head = struct.pack("<IIQI", 574 + (63 if preview else 0), 3 if preview else 2, size,
                       0 if preview else 1)
    return base64.b64encode(head + units + b"\x00" * 30 + b"\xff\xff\xff\xff" + preview).decode()


def slp(start, to, frm, call_id, cseq, ctype, fields: list[tuple[str, str]]) -> bytes:
    body = "".join(f"{k}: {v}\r\n" for k, v in fields) + "\r\n"
    body_b = body.encode() + b"\x00"
    head = (f"{start}\r\nTo: <msnmsgr:{to}>\r\nFrom: <msnmsgr:{frm}>\r\n"
            f"Via: MSNSLP/1.0/TLP ;branch={{33517CE4-02FC-4428-B6F4-39927229B722}}\r\n"
            f"CSeq: {cseq} \r\nCall-ID: {call_id}\r\nMax-Forwards: 0\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body_b)}\r\n\r\n")
    return head.encode() + body_b


class Link:
    """Two clients on one switchboard: what one sends, the server relays to the other."""

    def __init__(self, a, sa, b, sb, trid=10):
        self.ends = {A: (a, sa), B: (b, sb)}
        self.trid = trid
        self.ident = {A: 9000, B: 5000}

    def p2p(self, frm, to, body, dest=None, extra=()):
        self.trid += 1
        headers = [("P2P-Dest", dest or to), *extra]
        payload = mime("application/x-msnmsgrp2p", headers) + body
        c, s = self.ends[frm]
        msg(c, s, f"MSG {self.trid} D", payload)
        rc, rs = self.ends[to]
        msg(rs, rc, f"MSG {frm} {frm.split('@')[0].title()}", payload)

    def next_id(self, who):
        self.ident[who] += 1
        return self.ident[who]

    def send_slp(self, frm, to, raw, split=CHUNK):
        ident = self.next_id(frm)
        for off in range(0, len(raw), split):
            self.p2p(frm, to, v1(0, ident, off, len(raw), raw[off:off + split],
                                 ack_sid=0x1A2B0000 + ident))
        self.ack(to, frm, 0, ident, 0x1A2B0000 + ident, len(raw))
        return ident

    def ack(self, frm, to, sid, ident, ack_id, size, app=0):
        self.p2p(frm, to, v1(sid, self.next_id(frm), 0, size, b"", 0x2, ident, ack_id, size,
                             app))

    def send_data(self, frm, to, sid, data, flags, app, parts=None):
        ident = self.next_id(frm)
        offs = list(range(0, len(data), CHUNK))
        for off in offs[:parts]:
            self.p2p(frm, to, v1(sid, ident, off, len(data), data[off:off + CHUNK], flags,
                                 0x3C4D0000 + ident, app=app))
        return ident


def open_sb(ns_l, sb_l):
    """alice and bob on one switchboard (MSNP11, no dispatch)."""
    a, an = connect(ns_l, A_IP, "p2p-a")
    b, bn = connect(ns_l, B_IP, "p2p-b")
    for c, s, who in ((a, an, A), (b, bn, B)):
        talk(c, s, "VER 1 MSNP11 CVR0")
        talk(s, c, "VER 1 MSNP11")
        talk(c, s, f"USR 2 TWN I {who}")
        talk(s, c, "USR 2 TWN S ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1")
        talk(c, s, "USR 3 TWN S t=p2pTicket&p=p2pProfile")
        talk(s, c, f"USR 3 OK {who} 1 0")
        tail = "" if who == A else " " + _q(MSNOBJ)      # bob has a display picture
        talk(c, s, "CHG 4 NLN 1342177312" + tail)
        talk(s, c, "CHG 4 NLN 1342177312" + tail)
    talk(an, a, f"ILN 4 NLN {B} Bob 1342177312 {_q(MSNOBJ)}")
    talk(a, an, "XFR 5 SB")
    talk(an, a, f"XFR 5 SB {SB[0]}:{SB[1]} CKI 3030.3030")
    sa, ssa = connect(sb_l, A_IP, "p2p-sb-a")
    talk(sa, ssa, f"USR 1 {A} 3030.3030")
    talk(ssa, sa, f"USR 1 OK {A} Alice")
    talk(sa, ssa, f"CAL 2 {B}")
    talk(ssa, sa, "CAL 2 RINGING 30300001")
    talk(bn, b, f"RNG 30300001 {SB[0]}:{SB[1]} CKI 3131.3131 {A} Alice")
    sb_, ssb = connect(sb_l, B_IP, "p2p-sb-b")
    talk(sb_, ssb, f"ANS 1 {B} 3131.3131 30300001")
    talk(ssb, sb_, f"IRO 1 1 1 {A} Alice")
    talk(ssb, sb_, "ANS 1 OK")
    talk(ssa, sa, f"JOI {B} Bob")
    return [a, an, b, bn], Link(sa, ssa, sb_, ssb)


def _q(s):
    from urllib.parse import quote
    return quote(s, safe="")


def close(ns_conns, link):
    (sa, ssa), (sb_, ssb) = link.ends[A], link.ends[B]
    talk(sb_, ssb, "OUT")
    talk(ssa, sa, f"BYE {B}")
    talk(sa, ssa, "OUT")
    for x in (sa, ssa, sb_, ssb, *ns_conns):
        x.close()


def invite_file(link, call_id, sid, name, size, pad_to=None):
    fields = [("EUF-GUID", FT_GUID), ("SessionID", str(sid)), ("AppID", "2"),
              ("Context", context(name, size))]
    raw = slp(f"INVITE MSNMSGR:{B} MSNSLP/1.0", B, A, call_id, 0,
              "application/x-msnmsgr-sessionreqbody", fields)
    if pad_to and len(raw) < pad_to:
        # a preview image in the context (v3), sized so the INVITE is pad_to bytes: it
        # then arrives as 1,202 + 2 bytes, as big invitations did
        for n in range(0, 600):
            fields[3] = ("Context", context(name, size, b"\x89PNG" + b"\x00" * n))
            raw = slp(f"INVITE MSNMSGR:{B} MSNSLP/1.0", B, A, call_id, 0,
                      "application/x-msnmsgr-sessionreqbody", fields)
            if len(raw) >= pad_to:
                break
    link.send_slp(A, B, raw)
    return raw


def answer(link, frm, to, call_id, sid, code="200 OK"):
    raw = slp(f"MSNSLP/1.0 {code}", to, frm, call_id, 1, "application/x-msnmsgr-sessionreqbody",
              [("SessionID", str(sid))])
    link.send_slp(frm, to, raw)


def bye(link, frm, to, call_id):
    raw = slp(f"BYE MSNMSGR:{to} MSNSLP/1.0", to, frm, call_id, 0,
              "application/x-msnmsgr-sessionclosebody", [])
    link.send_slp(frm, to, raw)


# ---------------------------------------------------------------- the transfers capture
def scenario_p2p():
    ns_l, sb_l = listen(NS), listen(SB)
    ns_conns, link = open_sb(ns_l, sb_l)
    (sa, ssa), (sb_, ssb) = link.ends[A], link.ends[B]
    msg(sa, ssa, "MSG 3 N", mime("text/plain; charset=UTF-8", [("X-MMS-IM-Format", "FN=Arial; EF=; CO=0; CS=0; PF=0")],
                                 "Je t'envoie le relevé"))
    msg(ssb, sb_, f"MSG {A} Alice", mime("text/plain; charset=UTF-8",
                                         [("X-MMS-IM-Format", "FN=Arial; EF=; CO=0; CS=0; PF=0")],
                                         "Je t'envoie le relevé"))
    # 1) a 9,000-byte file, complete: INVITE (1,204 bytes: 1,202 + 2), 200 OK, 8 parts,
    #    the receiver's ACK, the receiver's BYE
    call1, sid1, data1 = "{8A1C4B2E-5D6F-4A1B-9C2D-3E4F5A6B7C01}", 82413, file_data(9000, 7)
    invite_file(link, call1, sid1, "Relevé été 2005.txt", len(data1), pad_to=1204)
    answer(link, B, A, call1, sid1)
    ident = link.send_data(A, B, sid1, data1, 0x1000030, 2)
    link.ack(B, A, sid1, ident, 0x3C4D0000 + ident, len(data1), app=2)
    bye(link, B, A, call1)
    # 2) declined (603)
    call2 = "{8A1C4B2E-5D6F-4A1B-9C2D-3E4F5A6B7C02}"
    invite_file(link, call2, 82414, "Budget 2006.xls", 30000)
    answer(link, B, A, call2, 82414, "603 Decline")
    # 3) cancelled by the sender after 3 parts
    call3, sid3, data3 = "{8A1C4B2E-5D6F-4A1B-9C2D-3E4F5A6B7C03}", 82415, file_data(12000, 99)
    invite_file(link, call3, sid3, "Vacances.zip", len(data3))
    answer(link, B, A, call3, sid3)
    link.send_data(A, B, sid3, data3, 0x1000030, 2, parts=3)
    bye(link, A, B, call3)
    # 4) alice asks for bob's display picture (MSNObject from his CHG/ILN)
    call4, sid4 = "{8A1C4B2E-5D6F-4A1B-9C2D-3E4F5A6B7C04}", 82416
    raw = slp(f"INVITE MSNMSGR:{B} MSNSLP/1.0", B, A, call4, 0,
              "application/x-msnmsgr-sessionreqbody",
              [("EUF-GUID", OBJ_GUID), ("SessionID", str(sid4)), ("AppID", "1"),
               ("Context", base64.b64encode(MSNOBJ.encode() + b"\x00").decode())])
    link.send_slp(A, B, raw)
    answer(link, B, A, call4, sid4)
    prep = link.next_id(B)
    link.p2p(B, A, v1(sid4, prep, 0, 4, b"\x00" * 4, 0, 0x55660000, app=1))   # data preparation
    link.ack(A, B, sid4, prep, 0x55660000, 4, app=1)
    ident = link.send_data(B, A, sid4, PICTURE, 0x20, 1)
    link.ack(A, B, sid4, ident, 0x3C4D0000 + ident, len(PICTURE), app=1)
    bye(link, A, B, call4)
    # 5) bob asks for alice's custom emoticon (AppID 11)
    call5, sid5 = "{8A1C4B2E-5D6F-4A1B-9C2D-3E4F5A6B7C05}", 82417
    msg(sa, ssa, "MSG 4 N", mime("text/x-mms-emoticon", body=f"(cafe)\t{_q(EMO_OBJ)}\t"))
    msg(ssb, sb_, f"MSG {A} Alice", mime("text/x-mms-emoticon", body=f"(cafe)\t{_q(EMO_OBJ)}\t"))
    raw = slp(f"INVITE MSNMSGR:{A} MSNSLP/1.0", A, B, call5, 0,
              "application/x-msnmsgr-sessionreqbody",
              [("EUF-GUID", OBJ_GUID), ("SessionID", str(sid5)), ("AppID", "11"),
               ("Context", base64.b64encode(EMO_OBJ.encode() + b"\x00").decode())])
    link.send_slp(B, A, raw)
    answer(link, A, B, call5, sid5)
    ident = link.send_data(A, B, sid5, EMOTICON, 0x20, 11)
    link.ack(B, A, sid5, ident, 0x3C4D0000 + ident, len(EMOTICON), app=11)
    bye(link, B, A, call5)
    close(ns_conns, link)
    ns_l.close(); sb_l.close()


# ---------------------------------------------------------------- hostile P2P
def scenario_p2p_hostile():
    """A misbehaving peer, on purpose: lengths that lie, offsets past TotalSize, a
    TotalSize of 2^63, overlapping parts with different bytes, base64 that does not
    decode, a file name with a NUL and path separators."""
    ns_l, sb_l = listen(NS), listen(SB)
    ns_conns, link = open_sb(ns_l, sb_l)
    call, sid = "{BAD0BAD0-0000-4000-8000-000000000001}", 666
    evil_name = "..\\..\\Windows\\system32\\evil.exe\x00hidden.txt"
    invite_file(link, call, sid, evil_name, 4000)
    answer(link, B, A, call, sid)
    data = file_data(4000, 3)
    link.p2p(A, B, v1(sid, 1, 0, 4000, data[:1000], 0x1000030, app=2))
    link.p2p(A, B, v1(sid, 1, 500, 4000, b"X" * 1000, 0x1000030, app=2))       # overlap, other bytes
    lie = bytearray(v1(sid, 1, 1000, 4000, data[1000:1100], 0x1000030, app=2))
    lie[24:28] = struct.pack("<I", 5000)                                       # MessageSize lies
    link.p2p(A, B, bytes(lie))
    link.p2p(A, B, v1(sid, 1, 3990, 4000, b"Y" * 100, 0x1000030, app=2))       # past TotalSize
    link.p2p(A, B, v1(sid, 1, 0, 1 << 63, b"Z" * 10, 0x1000030, app=2))        # TotalSize 2^63
    link.p2p(A, B, b"\x01\x02\x03")                                              # 3 bytes
    bad_ctx = slp(f"INVITE MSNMSGR:{B} MSNSLP/1.0", B, A, "{BAD0BAD0-0000-4000-8000-000000000002}",
                  0, "application/x-msnmsgr-sessionreqbody",
                  [("EUF-GUID", FT_GUID), ("SessionID", "667"), ("AppID", "2"),
                   ("Context", "!!!not base64!!!")])
    link.send_slp(A, B, bad_ctx)
    huge = v1(0, 77, 0, 1 << 63, b"INVITE", 0, app=0)                           # SLP of 2^63 bytes
    link.p2p(A, B, huge)
    close(ns_conns, link)
    ns_l.close(); sb_l.close()


# ---------------------------------------------------------------- P2P v2 (MSNP18)
MG_A = "{A1A1A1A1-0000-4000-8000-00000000A11C}"
MG_B = "{B0B0B0B0-0000-4000-8000-00000000B0B0}"


def v2(seq, sid, data, tf, remaining=None, app=0, package=0):
    """libpurple p2p.c msn_p2p_header_to_wire, version two: header, data header with the
    bytes-remaining TLV (type 1, u64), data, AppID footer."""
    dtlv = b"\x01\x08" + struct.pack(">Q", remaining) if remaining else b""
    dhdr = struct.pack(">BBHI", 8 + len(dtlv), tf, package, sid) + dtlv
    return (struct.pack(">BBHI", 8, 0, len(dhdr) + len(data), seq) + dhdr + data
            + struct.pack(">I", app))


class LinkV2(Link):
    def send(self, frm, to, sid, raw, tf_kind, app, chunk=1100):
        seq = self.ident[frm]
        for off in range(0, len(raw), chunk):
            part = raw[off:off + chunk]
            tf = tf_kind | (0x01 if off == 0 else 0)
            self.p2p(frm, to, v2(seq, sid, part, tf, len(raw) - off - len(part), app),
                     dest=f"{to};{MG_B if to == B else MG_A}",
                     extra=[("P2P-Src", f"{frm};{MG_A if frm == A else MG_B}")])
            seq += len(part)
        self.ident[frm] = seq


def scenario_p2p_v2():
    """MSNP18 clients (endpoints named in P2P-Dest/P2P-Src): a 3,000-byte file in P2Pv2."""
    from dialect_scenarios import sso_login
    ns_l, sb_l = listen(NS), listen(SB)
    a, an = connect(ns_l, A_IP, "v2-a")
    sso_login(a, an, A, 18, MG_A)
    talk(a, an, "XFR 5 SB")
    talk(an, a, f"XFR 5 SB {SB[0]}:{SB[1]} CKI 4040.4040 U messenger.msn.com 1")
    sa, ssa = connect(sb_l, A_IP, "v2-sb-a")
    talk(sa, ssa, f"USR 1 {A};{MG_A} 4040.4040")
    talk(ssa, sa, f"USR 1 OK {A};{MG_A} Alice")
    talk(sa, ssa, f"CAL 2 {B}")
    talk(ssa, sa, "CAL 2 RINGING 40400001")
    sb_, ssb = connect(sb_l, B_IP, "v2-sb-b")
    talk(sb_, ssb, f"ANS 1 {B};{MG_B} 4141.4141 40400001")
    talk(ssb, sb_, f"IRO 1 1 1 {A};{MG_A} Alice 2789003324:48")
    talk(ssb, sb_, "ANS 1 OK")
    talk(ssa, sa, f"JOI {B};{MG_B} Bob 2789003324:48")
    link = LinkV2(sa, ssa, sb_, ssb)
    link.ident = {A: 70000, B: 80000}
    call, sid, data = "{C2C2C2C2-0000-4000-8000-0000000000C2}", 92001, file_data(3000, 42)
    fields = [("EUF-GUID", FT_GUID), ("SessionID", str(sid)), ("AppID", "2"),
              ("Context", context("Photo Noël.jpg", len(data)))]
    link.send(A, B, 0, slp(f"INVITE MSNMSGR:{B};{MG_B} MSNSLP/1.0", f"{B};{MG_B}", f"{A};{MG_A}",
                           call, 0, "application/x-msnmsgr-sessionreqbody", fields), 0, 0)
    link.send(B, A, 0, slp("MSNSLP/1.0 200 OK", f"{A};{MG_A}", f"{B};{MG_B}", call, 1,
                           "application/x-msnmsgr-sessionreqbody", [("SessionID", str(sid))]), 0, 0)
    link.send(A, B, sid, data, 0x06, 2)
    link.send(B, A, 0, slp(f"BYE MSNMSGR:{A};{MG_A} MSNSLP/1.0", f"{A};{MG_A}", f"{B};{MG_B}",
                           call, 0, "application/x-msnmsgr-sessionclosebody", []), 0, 0)
    talk(sb_, ssb, "OUT")
    talk(ssa, sa, f"BYE {B};{MG_B}")
    talk(sa, ssa, "OUT")
    talk(a, an, "OUT")
    for x in (sa, ssa, sb_, ssb, a, an):
        x.close()
    ns_l.close(); sb_l.close()


def scenario_p2p_all():
    scenario_p2p()
    scenario_p2p_v2()
