#!/usr/bin/env python3
"""Make the sample captures: real MSNP8 conversations over real loopback sockets,
captured by a real sniffer (tcpdump / dumpcap), plus edge cases derived from those
captures with Scapy.  Run as root (the sniffer needs it):

    python3 captures/make_captures.py [OUTDIR [NAME...]]   (NAME: a file below, or "derived")

The script plays both ends of every connection from one thread: a scripted MSNP8
dispatch, notification and switchboard server (127.0.0.1-3) and three clients
(alice 127.0.0.10, bob .11, carol .12).  Each step writes on one socket and reads the
exact bytes on the other, so the kernel segments the stream as it would for real
programs; where a step passes ``split`` the writer sends the bytes in several writes
with TCP_NODELAY and a pause, so a command or MSG payload spans segments.  Values that
depend on the run (source ports -> the profile's byte-swapped ClientPort, challenge
answers) are computed from the live sockets.  captures/README.md lists what a decoder
must find in each file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DS, NS, SB = ("127.0.0.1", 1863), ("127.0.0.2", 1863), ("127.0.0.3", 1864)
ALICE_IP, BOB_IP, CAROL_IP = "127.0.0.10", "127.0.0.11", "127.0.0.12"
STEP = 0.003

PROFILE_KEYS = ["LoginTime", "EmailEnabled", "MemberIdHigh", "MemberIdLow", "lang_preference",
                "preferredEmail", "country", "PostalCode", "Gender", "Kid", "Age", "BDayPre",
                "Birthday", "Wallet", "Flags", "sid", "kv", "MSPAuth", "ClientIP", "ClientPort"]


def byteswap16(v: int) -> int:
    return ((v & 0xFF) << 8) | ((v >> 8) & 0xFF)


class Sock:
    def __init__(self, s: socket.socket, name: str):
        self.s = s
        self.name = name
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(5)

    @property
    def port(self) -> int:
        return self.s.getsockname()[1]

    def write(self, data: bytes, split=None):
        if not split:
            self.s.sendall(data)
            return
        pos = 0
        for cut in list(split) + [len(data)]:
            if cut > pos:
                self.s.sendall(data[pos:cut])
                pos = cut
                time.sleep(0.02)

    def read_exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise RuntimeError(f"{self.name}: connection closed early")
            buf += chunk
        return buf

    def close(self):
        try:
            self.s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.s.close()


def listen(addr, family=socket.AF_INET) -> socket.socket:
    ls = socket.socket(family, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(addr)
    ls.listen(8)
    return ls


def connect(ls: socket.socket, src_ip: str, name: str, family=socket.AF_INET):
    c = socket.socket(family, socket.SOCK_STREAM)
    c.bind((src_ip, 0))
    c.connect(ls.getsockname()[:2])
    s, _ = ls.accept()
    return Sock(c, name + "-client"), Sock(s, name + "-server")


def talk(src: Sock, dst: Sock, line: str, payload: bytes | None = None, split=None,
         raw: bytes | None = None):
    """src writes one command (line + CRLF + payload); dst reads exactly those bytes."""
    data = raw if raw is not None else line.encode() + b"\r\n" + (payload or b"")
    src.write(data, split)
    got = dst.read_exact(len(data))
    assert got == data, (got, data)
    time.sleep(STEP)


def msg(src, dst, head: str, payload: bytes, split=None):
    talk(src, dst, "", raw=f"{head} {len(payload)}\r\n".encode() + payload, split=split)


def mime(ctype: str, headers: list[tuple[str, str]] = (), body: str = "",
         trailing=True) -> bytes:
    lines = ["MIME-Version: 1.0", f"Content-Type: {ctype}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body.encode("utf-8")


def invite(fields: list[tuple[str, str]]) -> bytes:
    body = "".join(f"{k}: {v}\r\n" for k, v in fields) + "\r\n"
    return mime("text/x-msmsgsinvite; charset=UTF-8", body=body)


def qry_answer(chl: str, key: str) -> bytes:
    return hashlib.md5((chl + key).encode()).hexdigest().encode()


def typing(who: str) -> bytes:
    return mime("text/x-msmsgscontrol", [("TypingUser", who)], "\r\n")


def text(s: str, fmt: str) -> bytes:
    return mime("text/plain; charset=UTF-8", [("X-MMS-IM-Format", fmt)], s)


CVR_ARGS = "0x0409 winnt 5.1 i386 MSNMSGR 5.0.0544 MSMSGS"


def ns_login(c, s, trid, passport, friendly, client_ip, dispatch=False, ds_redirect=None):
    """VER/CVR/USR TWN I [.. XFR] / TWN S / OK + profile.  Returns next trid."""
    talk(c, s, f"VER {trid} MSNP8 CVR0")
    talk(s, c, f"VER {trid} MSNP8 CVR0")
    talk(c, s, f"CVR {trid + 1} {CVR_ARGS} {passport}")
    talk(s, c, f"CVR {trid + 1} 5.0.0544 5.0.0544 1.0.0863 "
               "http://download.microsoft.com/download/msnmessenger/install/5.0/"
               "w98nt42kmexp/en-us/setupdl.exe http://messenger.msn.com")
    talk(c, s, f"USR {trid + 2} TWN I {passport}")
    if dispatch:
        talk(s, c, f"XFR {trid + 2} NS {ds_redirect} 0 {DS[0]}:{DS[1]}")
        return trid + 3
    talk(s, c, f"USR {trid + 2} TWN S lc=1033,id=507,tw=40,fs=1,ru=http%3A%2F%2Fmessenger"
               "%2Emsn%2Ecom,ct=1062764229,kpp=1,kv=5,ver=2.1.0173.1,"
               "tpf=43f8a4c8ed940c04e3740be46c4d1619")
    ticket = ("t=5QZGIz7mc8aa2Bbl0aPpmB3YnnJ1DEOTdvSJ2Nu0qTPz9lHCuN8O6bRz2VpLZBhN0dmlKvhJ5A$$"
              "&p=5KaSYb0Ax!ZW8T6Ljm7Fp1ZQ9aqfJ*Hk3Z6y$$")
    talk(c, s, f"USR {trid + 3} TWN S {ticket}")
    talk(s, c, f"USR {trid + 3} OK {passport} {friendly} 1 0")
    return trid + 4


def profile(c, s, passport, split=None, port_override=None):
    port = port_override if port_override is not None else byteswap16(c.port)
    values = {"LoginTime": "1062764229", "EmailEnabled": "1", "MemberIdHigh": "84736",
              "MemberIdLow": "-1434251981", "lang_preference": "1033",
              "preferredEmail": passport, "country": "US", "PostalCode": "", "Gender": "",
              "Kid": "0", "Age": "", "BDayPre": "", "Birthday": "", "Wallet": "",
              "Flags": "1027", "sid": "507", "kv": "5",
              "MSPAuth": "5QZGIz7mc8aa2Bbl0aPpmB3YnnJ1DEOTdvSJ2Nu0qTPz9lHCuN8O6bRz2VpLZBhN0dmlKvhJ5A$$",
              "ClientIP": c.s.getsockname()[0], "ClientPort": str(port)}
    payload = mime("text/x-msmsgsprofile; charset=UTF-8",
                   [(k, values[k]) for k in PROFILE_KEYS])
    msg(s, c, "MSG Hotmail Hotmail", payload, split=split)


def open_switchboard(a, an, sb_l, trid, cookie, friendly, callee, session, name):
    """Alice asks her NS for a switchboard (XFR SB), signs in to it and calls ``callee``:
    returns her switchboard sockets (client, server)."""
    talk(a, an, f"XFR {trid} SB")
    talk(an, a, f"XFR {trid} SB {SB[0]}:{SB[1]} CKI {cookie}")
    sa, ss = connect(sb_l, ALICE_IP, name)
    talk(sa, ss, f"USR 1 alice@hotmail.com {cookie}")
    talk(ss, sa, f"USR 1 OK alice@hotmail.com {friendly}")
    talk(sa, ss, f"CAL 2 {callee}")
    talk(ss, sa, f"CAL 2 RINGING {session}")
    return sa, ss


# ---------------------------------------------------------------- scenarios
def scenario_session():
    """The main capture: DS -> NS login, contact list, presence, challenge, a
    three-party switchboard chat on port 1864, and two MSNFTP transfers."""
    ds_l, ns_l, sb_l = listen(DS), listen(NS), listen(SB)
    ftp_l = listen((ALICE_IP, 6891))

    # --- alice: dispatch, then notification server
    c, s = connect(ds_l, ALICE_IP, "alice-ds")
    ns_login(c, s, 1, "alice@hotmail.com", "", ALICE_IP, dispatch=True,
             ds_redirect=f"{NS[0]}:{NS[1]}")
    c.close(); s.close()
    a, an = connect(ns_l, ALICE_IP, "alice-ns")
    ns_login(a, an, 4, "alice@hotmail.com", "Alice%20Liddell%20%E2%9C%BF", ALICE_IP)
    profile(a, an, "alice@hotmail.com", split=[200])       # profile MSG spans segments
    msg(an, a, "MSG Hotmail Hotmail", mime(
        "text/x-msmsgsinitialemailnotification; charset=UTF-8", body=(
            "Inbox-Unread: 3\r\nFolders-Unread: 0\r\nInbox-URL: /cgi-bin/HoTMaiL\r\n"
            "Folders-URL: /cgi-bin/folders\r\nPost-URL: http://www.hotmail.com\r\n\r\n")))
    talk(a, an, "SYN 8 0")
    syn = ["SYN 8 42 4 3", "GTC A", "BLP AL", "PRP PHH 555%201234", "PRP MOB Y",
           "LSG 0 Other%20Contacts 0", "LSG 1 Friends 0", "LSG 2 Fam%C3%ADlia 0",
           "LST bob@hotmail.com Bob 11 1", "BPR PHM 555%209876", "BPR MOB Y",
           "LST carol@hotmail.com Carol%20%E2%99%A5 11 1,2",
           "LST dave@hotmail.com Dave 10", "LST eve@hotmail.com Eve 12"]
    # the whole SYN reply in one write, cut in the middle of an LST line
    blob = "".join(line + "\r\n" for line in syn).encode()
    talk(an, a, "", raw=blob, split=[blob.index(b"carol") + 3])
    talk(a, an, "CHG 9 NLN 0")
    talk(an, a, "CHG 9 NLN 0")
    talk(an, a, "ILN 9 NLN bob@hotmail.com Bob 268435492")
    talk(an, a, "ILN 9 AWY carol@hotmail.com Carol%20%E2%99%A5 1073856572")
    chl = "15570131571988941333"
    talk(an, a, f"CHL 0 {chl}")
    talk(a, an, "", raw=b"QRY 10 msmsgs@msnmsgr.com 32\r\n" + qry_answer(chl, "Q1P7W2E4J9R8U3S5"))
    talk(an, a, "QRY 10")
    talk(a, an, "PNG")
    talk(an, a, "QNG")
    talk(a, an, "ADD 11 FL frank@hotmail.com frank@hotmail.com 0")
    talk(an, a, "ADD 11 FL 43 frank@hotmail.com frank@hotmail.com 0")
    talk(a, an, "ADG 12 Work 0")
    talk(an, a, "ADG 12 44 Work 3 0")
    talk(a, an, "REM 13 BL eve@hotmail.com")
    talk(an, a, "REM 13 BL 45 eve@hotmail.com")
    talk(a, an, "REA 14 alice@hotmail.com Alice%20in%20Wonderland")
    talk(an, a, "REA 14 46 alice@hotmail.com Alice%20in%20Wonderland")
    talk(an, a, "ADD 0 RL 47 gina@hotmail.com Gina")
    talk(a, an, "URL 15 INBOX")
    talk(an, a, "URL 15 /cgi-bin/HoTMaiL https://loginnet.passport.com/ppsecure/md5auth.srf?lc=1033 2")

    # --- bob and carol sign in straight to the NS (no dispatch), lists up to date
    b, bn = connect(ns_l, BOB_IP, "bob-ns")
    ns_login(b, bn, 1, "bob@hotmail.com", "Bob", BOB_IP)
    profile(b, bn, "bob@hotmail.com")
    talk(b, bn, "SYN 5 42")
    talk(bn, b, "SYN 5 42")
    talk(b, bn, "CHG 6 NLN 268435492")
    talk(bn, b, "CHG 6 NLN 268435492")
    k, kn = connect(ns_l, CAROL_IP, "carol-ns")
    ns_login(k, kn, 1, "carol@hotmail.com", "Carol%20%E2%99%A5", CAROL_IP)
    profile(k, kn, "carol@hotmail.com")
    talk(k, kn, "SYN 5 7")
    talk(kn, k, "SYN 5 7")
    talk(k, kn, "CHG 6 AWY 1073856572")
    talk(kn, k, "CHG 6 AWY 1073856572")
    talk(an, a, "NLN BSY bob@hotmail.com Bob 268435492")

    # --- alice asks for a switchboard and calls bob
    sa, ss_a = open_switchboard(a, an, sb_l, 16, "17262740.1062764410.32308",
                                "Alice%20in%20Wonderland", "bob@hotmail.com", 11752013,
                                "alice-sb")
    talk(bn, b, f"RNG 11752013 {SB[0]}:{SB[1]} CKI 849102291.520491113 alice@hotmail.com "
                "Alice%20in%20Wonderland")
    sb_, ss_b = connect(sb_l, BOB_IP, "bob-sb")
    talk(sb_, ss_b, "ANS 1 bob@hotmail.com 849102291.520491113 11752013")
    talk(ss_b, sb_, "IRO 1 1 1 alice@hotmail.com Alice%20in%20Wonderland")
    talk(ss_b, sb_, "ANS 1 OK")
    talk(ss_a, sa, "JOI bob@hotmail.com Bob")

    def say(src, srv, trid, ack, payload, receivers, sender, sender_name, split=None):
        msg(src, srv, f"MSG {trid} {ack}", payload, split=split)
        for rc, rs in receivers:
            msg(rs, rc, f"MSG {sender} {sender_name}", payload)

    say(sa, ss_a, 3, "U", typing("alice@hotmail.com"), [(sb_, ss_b)], "alice@hotmail.com",
        "Alice%20in%20Wonderland")
    say(sa, ss_a, 4, "N", text("Hi Bob, are you there?",
                               "FN=MS%20Sans%20Serif; EF=B; CO=ff0000; CS=0; PF=22"),
        [(sb_, ss_b)], "alice@hotmail.com", "Alice%20in%20Wonderland")
    reply = text("Yes! Café at 5?", "FN=Arial; EF=; CO=0; CS=0; PF=22")
    # bob's reply is split inside the MSG line and again inside its payload
    say(sb_, ss_b, 2, "A", reply, [(sa, ss_a)], "bob@hotmail.com", "Bob", split=[6, 60])
    talk(ss_b, sb_, "ACK 2")

    # --- carol is invited: a three-party conversation
    talk(sa, ss_a, "CAL 5 carol@hotmail.com")
    talk(ss_a, sa, "CAL 5 RINGING 11752013")
    talk(kn, k, f"RNG 11752013 {SB[0]}:{SB[1]} CKI 1115371039.15845 alice@hotmail.com "
                "Alice%20in%20Wonderland")
    sk, ss_k = connect(sb_l, CAROL_IP, "carol-sb")
    talk(sk, ss_k, "ANS 1 carol@hotmail.com 1115371039.15845 11752013")
    talk(ss_k, sk, "IRO 1 1 2 alice@hotmail.com Alice%20in%20Wonderland")
    talk(ss_k, sk, "IRO 1 2 2 bob@hotmail.com Bob")
    talk(ss_k, sk, "ANS 1 OK")
    talk(ss_a, sa, "JOI carol@hotmail.com Carol%20%E2%99%A5")
    talk(ss_b, sb_, "JOI carol@hotmail.com Carol%20%E2%99%A5")
    say(sk, ss_k, 2, "N", text("こんにちは 👋 everyone", "FN=MS%20Gothic; EF=IU; CO=C81ABB; CS=80; PF=31"),
        [(sa, ss_a), (sb_, ss_b)], "carol@hotmail.com", "Carol%20%E2%99%A5")
    talk(sa, ss_a, "CAL 6 dave@hotmail.com")
    talk(ss_a, sa, "217 6")
    talk(sk, ss_k, "OUT")
    sk.close(); ss_k.close()
    talk(ss_a, sa, "BYE carol@hotmail.com")
    talk(ss_b, sb_, "BYE carol@hotmail.com")

    # --- file transfers (MSNFTP) between alice and bob
    guid = "{5D3E02AB-6190-11d3-BBBB-00C04F795683}"
    data1 = bytes((i * 7 + 3) % 256 for i in range(3000))
    for n, (fname, data, cookie, auth, cancel_at) in enumerate([
            ("notes.txt", data1, "90135", "1735283", None),
            ("../secret plan.txt", bytes(range(256)) * 20, "90136", "1735284", 2045)]):
        inv = invite([("Application-Name", "File Transfer"), ("Application-GUID", guid),
                      ("Invitation-Command", "INVITE"), ("Invitation-Cookie", cookie),
                      ("Application-File", fname), ("Application-FileSize", str(len(data))),
                      ("Connectivity", "N")])
        say(sa, ss_a, 7 + 2 * n, "N", inv, [(sb_, ss_b)], "alice@hotmail.com",
            "Alice%20in%20Wonderland")
        acc = invite([("Invitation-Command", "ACCEPT"), ("Invitation-Cookie", cookie),
                      ("Launch-Application", "FALSE"), ("Request-Data", "IP-Address:")])
        say(sb_, ss_b, 3 + n, "N", acc, [(sa, ss_a)], "bob@hotmail.com", "Bob")
        acc2 = invite([("Invitation-Command", "ACCEPT"), ("Invitation-Cookie", cookie),
                       ("IP-Address", ALICE_IP), ("Port", "6891"), ("AuthCookie", auth),
                       ("Launch-Application", "FALSE"), ("Request-Data", "IP-Address:")])
        say(sa, ss_a, 8 + 2 * n, "N", acc2, [(sb_, ss_b)], "alice@hotmail.com",
            "Alice%20in%20Wonderland")
        r, snd = connect(ftp_l, BOB_IP, "ftp")       # bob (receiver) connects to alice
        talk(r, snd, "VER MSNFTP")
        talk(snd, r, "VER MSNFTP")
        talk(r, snd, f"USR bob@hotmail.com {auth}")
        talk(snd, r, f"FIL {len(data)}")
        talk(r, snd, "TFR")
        pos = 0
        while pos < len(data):
            if cancel_at is not None and pos >= cancel_at:
                break
            chunk = data[pos:pos + 2045]
            talk(snd, r, "", raw=bytes([0, len(chunk) & 0xFF, len(chunk) >> 8]) + chunk)
            pos += len(chunk)
        if cancel_at is None:
            talk(r, snd, "BYE 16777989")
        else:
            talk(r, snd, "CCL")
        r.close(); snd.close()

    # --- the end: presence changes, bob leaves, alice signs out
    talk(an, a, "FLN carol@hotmail.com")
    talk(sb_, ss_b, "OUT")
    sb_.close(); ss_b.close()
    talk(ss_a, sa, "BYE bob@hotmail.com")
    talk(sa, ss_a, "OUT")
    sa.close(); ss_a.close()
    talk(a, an, "OUT")
    for x in (a, an, b, bn, k, kn):
        x.close()
    for ls in (ds_l, ns_l, sb_l, ftp_l):
        ls.close()


def scenario_compat_failures():
    """Failed login (911), a wrong challenge answer (540), an MSNP7-style MD5 login
    with MSNP9-11 extras (QNG seconds, UBX) and a revival server that sends the
    plain (not byte-swapped) ClientPort."""
    ns_l = listen(NS)
    c, s = connect(ns_l, ALICE_IP, "fail1")
    talk(c, s, "VER 1 MSNP8 CVR0")
    talk(s, c, "VER 1 MSNP8 CVR0")
    talk(c, s, f"CVR 2 {CVR_ARGS} mallory@hotmail.com")
    talk(s, c, "CVR 2 5.0.0544 5.0.0544 1.0.0863 http://x http://y")
    talk(c, s, "USR 3 TWN I mallory@hotmail.com")
    talk(s, c, "USR 3 TWN S lc=1033,id=507,tw=40")
    talk(c, s, "USR 4 TWN S t=expired&p=expired")
    talk(s, c, "911 4")
    s.close(); c.close()

    c, s = connect(ns_l, BOB_IP, "fail2")
    nxt = ns_login(c, s, 1, "dave@hotmail.com", "Dave%20%5Bat%20work%5D", BOB_IP)
    profile(c, s, "dave@hotmail.com", port_override=c.port)    # revival: plain port
    chl = "22210219642164014968"
    talk(s, c, f"CHL 0 {chl}")
    talk(c, s, "", raw=f"QRY {nxt} PROD0038W!61ZTF9 32\r\n".encode() + b"0" * 32)
    talk(s, c, f"540 {nxt}")
    s.close(); c.close()

    c, s = connect(ns_l, CAROL_IP, "compat")
    talk(c, s, "VER 1 MSNP9 MSNP8 MSNP7 CVR0")
    talk(s, c, "VER 1 MSNP7")
    talk(c, s, "USR 2 MD5 I old@hotmail.com")
    talk(s, c, "USR 2 MD5 S 1013928519.693957190")
    talk(c, s, "USR 3 MD5 S " + hashlib.md5(b"1013928519.693957190secret").hexdigest())
    talk(s, c, "USR 3 OK old@hotmail.com Old%20Timer 1")
    talk(c, s, "PNG")
    talk(s, c, "QNG 45")
    ubx = b"<Data><PSM>away from keyboard</PSM><CurrentMedia></CurrentMedia></Data>"
    talk(s, c, "", raw=f"UBX bob@hotmail.com {len(ubx)}\r\n".encode() + ubx)
    talk(s, c, "NLN AWY bob@hotmail.com Bob 1342177312")
    talk(s, c, "OUT OTH")
    s.close(); c.close()
    ns_l.close()


def scenario_ipv6():
    """A short notification-server session over ::1 (captured by dumpcap as pcapng)."""
    ns_l = listen(("::1", 1863), socket.AF_INET6)
    c, s = connect(ns_l, "::1", "v6", socket.AF_INET6)
    ns_login(c, s, 1, "alice@hotmail.com", "Alice", "::1")
    profile(c, s, "alice@hotmail.com")
    talk(c, s, "SYN 5 0")
    for line in ["SYN 5 3 1 1", "GTC A", "BLP AL", "LSG 0 Other%20Contacts 0",
                 "LST bob@hotmail.com Bob 11 0"]:
        talk(s, c, line)
    talk(c, s, "CHG 6 NLN 0")
    talk(s, c, "CHG 6 NLN 0")
    talk(c, s, "OUT")
    c.close(); s.close(); ns_l.close()


def scenario_hostile():
    """Values a sniffer must survive and keep harmless: ANSI escapes, spreadsheet
    formulas, commas/quotes/newlines and invalid UTF-8 in names, messages and file names
    (alice's client and a peer misbehave on purpose; the bytes are sent for real)."""
    ns_l, sb_l = listen(NS), listen(SB)
    a, an = connect(ns_l, ALICE_IP, "h-ns")
    ns_login(a, an, 1, "alice@hotmail.com", "%1B%5B2J%1B%5B31mALICE%1B%5B0m%07", ALICE_IP)
    talk(a, an, "SYN 5 0")
    for line in ["SYN 5 9 3 1", "GTC A", "BLP AL", "LSG 0 %3DHYPERLINK(%22http%3A%2F%2Fx%22)%2C1 0",
                 "LST mallory@hotmail.com %3D2%2B5%2Bcmd%7C'%20%2FC%20calc'!A0 11 0",
                 "LST quote@hotmail.com %22Quoted%22%2C%20comma%0Anew%20line 11 0",
                 "LST bad@hotmail.com Bad%FF%FEUTF8%E2%28 11 0"]:
        talk(an, a, line)
    sa, ss = open_switchboard(a, an, sb_l, 6, "999.888.777", "ALICE", "mallory@hotmail.com",
                              4242, "h-sb")
    talk(ss, sa, "JOI mallory@hotmail.com %3D2%2B5%2Bcmd%7C'%20%2FC%20calc'!A0")
    evil = text("\x1b]0;pwned\x07\x1b[2J@SUM(1+1)*cmd|' /C calc'!A0\r\nsecond, \"line\"",
                "FN=%1B%5B5m; EF=B; CO=0; CS=0; PF=0")
    msg(ss, sa, "MSG mallory@hotmail.com %3D2%2B5", evil)
    inv = invite([("Application-Name", "File Transfer"),
                  ("Application-GUID", "{5D3E02AB-6190-11d3-BBBB-00C04F795683}"),
                  ("Invitation-Command", "INVITE"), ("Invitation-Cookie", "666"),
                  ("Application-File", "..\\..\\Windows\\evil\x1b[31m.exe"),
                  ("Application-FileSize", "10")])
    msg(ss, sa, "MSG mallory@hotmail.com %3D2%2B5", inv)
    talk(sa, ss, "OUT")
    for x in (sa, ss, a, an):
        x.close()
    ns_l.close(); sb_l.close()


# ---------------------------------------------------------------- sniffing
class Sniffer:
    def __init__(self, path, tool="tcpdump", iface="lo", extra=()):
        if tool == "tcpdump":
            # --immediate-mode: without it, packets still in the kernel ring when
            # SIGINT arrives are lost (TPACKET_V3 block timeout)
            cmd = ["tcpdump", "-i", iface, "--immediate-mode", "-U", "-w", path, *extra, "tcp"]
        else:
            cmd = ["dumpcap", "-q", "-i", iface, "-w", path, "-f", "tcp", *extra]
        self.p = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        if tool == "tcpdump":
            while True:                              # "listening on lo ..."
                line = self.p.stderr.readline()
                if b"listening" in line:
                    break
                if not line or b"data link type" not in line:
                    raise RuntimeError(f"{tool}: {line.decode(errors='replace')}")
        time.sleep(1.0)

    def stop(self):
        time.sleep(2.0)
        self.p.send_signal(signal.SIGINT)
        self.p.wait(10)


def capture(path, scenario, **kw):
    sn = Sniffer(path, **kw)
    try:
        scenario()
    finally:
        sn.stop()
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


# ---------------------------------------------------------------- derived captures
def derive(outdir):
    """Edge cases cut from the real captures with Scapy (the bytes stay real)."""
    from scapy.all import IP, TCP, Dot1Q, Ether, rdpcap, wrpcap  # noqa: PLC0415

    src = os.path.join(outdir, "msnp8_session.pcap")
    pkts = rdpcap(src)

    def conn_of(p):
        return p[TCP].sport, p[TCP].dport, p[IP].src, p[IP].dst

    # 1) out of order + retransmissions on alice's NS connection
    idx = [i for i, p in enumerate(pkts) if TCP in p and p[TCP].payload and
           p[IP].src == NS[0] and len(p[TCP].payload) > 20]
    out = list(pkts)
    # swap three pairs of consecutive server->alice data segments, retransmit two
    for i in idx[2:8:2]:
        j = idx[idx.index(i) + 1]
        out[i], out[j] = out[j], out[i]
    dup1, dup2 = pkts[idx[3]].copy(), pkts[idx[10]].copy()
    dup1.time += 0.001
    dup2.time += 0.001
    out.insert(idx[12] + 2, dup1)
    out.insert(idx[12] + 3, dup2)
    wrpcap(os.path.join(outdir, "reordered.pcap"), out)

    # 2) mid-session: the capture starts after alice's SYN reply began
    syn_at = next(i for i, p in enumerate(pkts) if TCP in p and bytes(p[TCP].payload)
                  .startswith(b"SYN 8 42"))
    wrpcap(os.path.join(outdir, "mid_session.pcap"), pkts[syn_at + 1:])

    # 3) stacked 802.1Q VLAN tags (QinQ) around every frame
    vl = []
    for p in pkts:
        q = Ether(src=p[Ether].src, dst=p[Ether].dst, type=0x88A8) / Dot1Q(vlan=100, type=0x8100) \
            / Dot1Q(vlan=42) / p[Ether].payload
        q.time = p.time
        vl.append(q)
    wrpcap(os.path.join(outdir, "vlan.pcap"), vl)

    # 4) one direction only: drop everything the switchboard sent to alice
    a_sb = [p for p in pkts if not (TCP in p and p[IP].src == SB[0] and p[IP].dst == ALICE_IP)]
    wrpcap(os.path.join(outdir, "sb_one_direction.pcap"), a_sb)

    # 5) MSNP14+ mid-session: the dialect capture from alice15's first ILN on (no VER for
    # her session: the version must be inferred from the commands' shapes)
    dia = rdpcap(os.path.join(outdir, "msnp_dialects.pcap"))
    at = next(i for i, p in enumerate(dia) if TCP in p and bytes(p[TCP].payload)
              .startswith(b"ILN 8 NLN bob@example.com 1 "))
    wrpcap(os.path.join(outdir, "msnp15_mid_session.pcap"), dia[at:])
    print("wrote derived captures")


def _dialects():
    # MSNP10-18 live in their own module (this one is long enough); it imports the
    # helpers above from this file
    from dialect_scenarios import scenario_dialects
    return scenario_dialects


def _gateway():
    from gateway_scenarios import scenario_gateway
    return scenario_gateway


def _p2p(name):
    import p2p_scenarios
    return getattr(p2p_scenarios, name)


def _p2p_module(module, name):
    import importlib
    return getattr(importlib.import_module(module), name)


GZIPPED = {"p2p_transfers.pcap", "p2p_wlm.pcap", "p2p_msnp12.pcap"}


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else HERE
    if os.geteuid() != 0:
        sys.exit("run as root: the sniffer needs to capture on lo")
    for tool in ("tcpdump", "dumpcap"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed (apt-get install tcpdump tshark)")
    os.makedirs(outdir, exist_ok=True)
    p = lambda name: os.path.join(outdir, name)   # noqa: E731
    jobs = {
        "msnp8_session.pcap": lambda f: capture(f, scenario_session),
        "compat_failures.pcap": lambda f: capture(f, scenario_compat_failures,
                                                  extra=["--time-stamp-precision=nano"]),
        "ipv6.pcapng": lambda f: capture(f, scenario_ipv6, tool="dumpcap"),
        "cooked_any.pcap": lambda f: capture(f, scenario_compat_failures, iface="any",
                                             extra=["-y", "LINUX_SLL"]),
        "cooked2_any.pcap": lambda f: capture(f, scenario_ipv6, iface="any",
                                              extra=["-y", "LINUX_SLL2"]),
        "hostile.pcap": lambda f: capture(f, scenario_hostile),
        "msnp_dialects.pcap": lambda f: capture(f, _dialects()),
        "p2p_transfers.pcap": lambda f: capture(f, _p2p("scenario_p2p_all")),
        "p2p_hostile.pcap": lambda f: capture(f, _p2p("scenario_p2p_hostile")),
        "http_gateway.pcap": lambda f: capture(f, _gateway()),
        "p2p_wlm.pcap": lambda f: capture(f, _p2p_module("p2p_wlm_scenarios", "scenario_wlm")),
        "p2p_msnp12.pcap": lambda f: capture(f, _p2p_module("p2p_dc_scenarios", "scenario_msnp12")),
        "fidelity.pcap": lambda f: capture(f, _p2p_module("fidelity_scenarios",
                                                          "scenario_fidelity")),
    }
    # the tests pin the committed files' ports and times: remake only what you name
    wanted = sys.argv[2:] or list(jobs) + ["derived", "fidelity-derived"]
    for name in wanted:
        if name == "derived":
            derive(outdir)
        elif name == "fidelity-derived":
            _p2p_module("fidelity_scenarios", "derive_fidelity")(outdir)
        else:
            jobs[name](p(name))
            if name in GZIPPED:
                # the P2P captures carry kilobytes of objects in many small packets:
                # committed gzipped (msnsniff, tshark and tcpdump read them as they are)
                subprocess.run(["gzip", "-9", "-n", "-f", p(name)], check=True)


if __name__ == "__main__":
    main()
