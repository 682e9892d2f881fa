"""The facts real captures showed msnsniff losing (captures/fidelity.pcap), played over
real loopback sockets by make_captures.py and captured by tcpdump.

Each part reproduces one finding of a real capture or of a third-party server
(subpurple/escargot, front/msn/msnp_ns.py and misc.py), on our own sockets:
- MSNP8, as Windows Messenger 4.7 met Microsoft's servers (127.0.0.60): a profile whose
  ClientIP is public while the client is private, with ClientPort 0 over plain TCP (NAT);
  a contact whose friendly name is the raw bytes ``19 DB`` (not UTF-8, not %-escaped);
  ``CHG 9 NLN 32`` answered ``CHG 9 NLN 4128`` (the server adds a capability bit); an ADD
  of an unknown account refused with 205.
- MSNP14 with a Yahoo contact (127.0.0.61): an ADL the server accepts, an ADL of an
  unknown account refused (208) and one naming a list a client cannot add to refused
  (241), an ILN whose network field precedes a %-encoded name (``Bob%20Ñandú``), BPR
  ``email PHH`` with no value outside SYN (as the server writes it after an add), UUM to
  and UBM from the Yahoo contact, an address-book NOT (``ABCHInternal``).
- MSNP18 (127.0.0.62): a personal message, then UUX of ``<EndpointData>`` and of
  ``<PrivateEndpointData>`` alone (MPOP), an offline message by UUM to a Windows Live
  contact, and CHG with extended capabilities echoed.
- A switchboard with no VER and no NS session (127.0.0.63): ``USR … OK`` names the
  account, JOI carries a client id (MSNP12+) and arrives in one segment with the
  joiner's first message (one timestamp), an outgoing typing notice alone in its
  segment, a command no dialect defines, the server's 200 to it.
- An HTTP gateway session (127.0.0.64 → 127.0.0.4:80) whose second request is refused
  with ``400 Bad Request`` and an HTML error page.
captures/README.md lists what a decoder must find.
"""

from __future__ import annotations

from dialect_scenarios import pay, sso_login, twn_login
from dialect_scenarios import profile as profile14
from make_captures import NS, SB, connect, listen, mime, msg, talk, text, typing

WM_IP, Y_IP, M_IP, S_IP, G_IP = "127.0.0.60", "127.0.0.61", "127.0.0.62", "127.0.0.63", \
    "127.0.0.64"
GW = ("127.0.0.4", 80)
PUBLIC_IP = "203.0.113.47"
RAW_NAME = b"\x19\xdb"                     # the friendly name's bytes, as sent
MG = "{A7D5C3B1-9E8F-4A6B-8C2D-0123456789AB}"
ABCH_NOT = (
    '<NOTIFICATION id="0" siteid="45705" siteurl="http://contacts.msn.com">'
    '<TO pid="0x00000001:0x00000002" name="yuki@example.com"><VIA agent="messenger" /></TO>'
    '<MSG id="0"><SUBSCR url="s.htm" /><ACTION url="a.htm" /><BODY>'
    '&lt;NotificationData xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"&gt;'
    '&lt;Service&gt;ABCHInternal&lt;/Service&gt;&lt;CID&gt;-2118238208812345678&lt;/CID&gt;'
    '&lt;LastModifiedDate&gt;2026-12-03T08:00:00Z&lt;/LastModifiedDate&gt;'
    '&lt;HasNewItem&gt;false&lt;/HasNewItem&gt;&lt;/NotificationData&gt;'
    '</BODY></MSG></NOTIFICATION>').encode()


def _msnp8(ns_l):
    c, s = connect(ns_l, WM_IP, "wm47")
    pp = "wm47@hotmail.com"
    talk(c, s, "VER 1 MSNP8 CVR0")
    talk(s, c, "VER 1 MSNP8 CVR0")
    talk(c, s, f"CVR 2 0x0409 winnt 5.1 i386 MSMSGS 4.7.3001 MSMSGS {pp}")
    talk(s, c, "CVR 2 4.7.3001 4.7.3001 4.7.2009 http://download.microsoft.com "
               "http://messenger.msn.com")
    talk(c, s, f"USR 3 TWN I {pp}")
    talk(s, c, "USR 3 TWN S lc=1033,id=507,tw=40,fs=1,ct=1062764229,kpp=1,kv=5,ver=2.1.0173.1")
    talk(c, s, "USR 4 TWN S t=8Wd2xQ$$&p=3mZp$$")
    talk(s, c, f"USR 4 OK {pp} Windows%20Messenger%20User 1 0")
    # the real servers wrote ClientPort 0 on plain TCP; the address is the NAT's
    prof = mime("text/x-msmsgsprofile; charset=UTF-8", [
        ("LoginTime", "1300000000"), ("EmailEnabled", "1"), ("MemberIdHigh", "1"),
        ("MemberIdLow", "2"), ("lang_preference", "1033"), ("Kid", "0"), ("Flags", "1027"),
        ("sid", "507"), ("kv", "5"), ("MSPAuth", "9Xq2Lm4Np6Rs8Tu0Vw2Xy4Za6Bc8De0Fg2Hi4Jk$$"),
        ("ClientIP", PUBLIC_IP), ("ClientPort", "0")])
    msg(s, c, "MSG Hotmail Hotmail", prof)
    talk(c, s, "SYN 5 0")
    talk(s, c, "", raw=b"SYN 5 12 2 1\r\nGTC A\r\nBLP AL\r\nLSG 0 Other%20Contacts 0\r\n"
                       b"LST raw@hotmail.com " + RAW_NAME + b" 11 0\r\n"
                       b"LST pal@hotmail.com Pal 11 0\r\n")
    talk(c, s, "CHG 9 NLN 32")
    talk(s, c, "CHG 9 NLN 4128")
    talk(s, c, "ILN 9 NLN pal@hotmail.com Pal 268435492")
    talk(c, s, "ADD 10 FL nobody@hotmail.com nobody 0")
    talk(s, c, "205 10")
    talk(c, s, "OUT")
    c.close(); s.close()


def _msnp14(ns_l):
    c, s = connect(ns_l, Y_IP, "yuki")
    pp = "yuki@example.com"
    twn_login(c, s, pp, 14, "8.1.0178")
    profile14(c, s, pp)
    talk(c, s, "BLP 5 AL")
    talk(s, c, "BLP 5 AL")
    pay(c, s, "ADL 6", b'<ml l="1"><d n="example.com"><c n="bob" l="3" t="1" /></d>'
                       b'<d n="yahoo.com"><c n="yahoo1" l="3" t="32" /></d></ml>')
    talk(s, c, "ADL 6 OK")
    talk(c, s, "CHG 7 NLN 2789003324 0")
    talk(s, c, "CHG 7 NLN 2789003324 0")
    talk(s, c, "ILN 7 NLN bob@example.com 1 Bob%20Ñandú 2789003324 0")
    talk(s, c, "ILN 7 AWY yahoo1@yahoo.com 32 Yahoo%20One 0 0")
    # refused edits: an unknown account, and the reverse list (only the server sets it)
    pay(c, s, "ADL 8", b'<ml><d n="example.com"><c n="nobody" l="1" t="1" /></d></ml>')
    talk(s, c, "208 8")
    pay(c, s, "ADL 9", b'<ml><d n="example.com"><c n="carol" l="8" t="1" /></d></ml>')
    talk(s, c, "241 9")
    pay(c, s, "ADL 10", b'<ml><d n="example.com"><c n="dave" l="1" t="1" /></d></ml>')
    talk(s, c, "ADL 10 OK")
    # the phones of an added contact, as the server writes them: no value when hidden
    talk(s, c, "BPR dave@example.com PHH")
    talk(s, c, "BPR dave@example.com MOB N")
    pay(c, s, "UUM 11 yahoo1@yahoo.com 32 1",
        text("Hello from MSN to Yahoo", "FN=Arial; EF=; CO=0; CS=0; PF=22"))
    pay(s, c, "UBM yahoo1@yahoo.com 32 1",
        text("Hi back from Yahoo!", "FN=Arial; EF=; CO=0; CS=0; PF=22"))
    pay(s, c, "NOT", ABCH_NOT)
    talk(c, s, "OUT")
    c.close(); s.close()


def _msnp18(ns_l):
    c, s = connect(ns_l, M_IP, "mpop")
    pp = "mpop@example.com"
    sso_login(c, s, pp, 18, MG)
    profile14(c, s, pp, mpop="1")
    pay(c, s, "UUX 5", b"<Data><PSM>Au travail</PSM><CurrentMedia></CurrentMedia>"
                       b"<MachineGuid>" + MG.encode() + b"</MachineGuid></Data>")
    talk(s, c, "UUX 5 0")
    pay(c, s, "UUX 6", b"<EndpointData><Capabilities>2789003324:48</Capabilities>"
                       b"</EndpointData>")
    talk(s, c, "UUX 6 0")
    pay(c, s, "UUX 7", b"<PrivateEndpointData><EpName>HOME-PC</EpName><Idle>false</Idle>"
                       b"<ClientType>1</ClientType><State>NLN</State></PrivateEndpointData>")
    talk(s, c, "UUX 7 0")
    pay(c, s, "UUM 8 bob@example.com 1 1",
        mime("text/plain; charset=UTF-8", [("Dest-Agent", "client")], "Tu es là ?"))
    talk(c, s, "CHG 9 NLN 2789003324:48 0")
    talk(s, c, "CHG 9 NLN 2789003324:48 0")
    talk(c, s, "OUT")
    c.close(); s.close()


def _switchboard(sb_l):
    c, s = connect(sb_l, S_IP, "sbonly")
    pp = "sbonly@example.com"
    talk(c, s, f"USR 1 {pp} 77889900.1122334455.667788")
    talk(s, c, f"USR 1 OK {pp} Sb%20Only")
    talk(c, s, "CAL 2 pal@example.com")
    talk(s, c, "CAL 2 RINGING 4455667")
    # JOI and the joiner's first message in one write: one segment, one timestamp
    hello = text("On se voit à midi ?", "FN=Segoe%20UI; EF=; CO=0; CS=0; PF=22")
    talk(s, c, "", raw=b"JOI pal@example.com Pal 1342242856\r\n"
                       + f"MSG pal@example.com Pal {len(hello)}\r\n".encode() + hello)
    msg(c, s, "MSG 3 U", typing(pp))
    msg(c, s, "MSG 4 N", text("Oui, à midi.", "FN=Segoe%20UI; EF=; CO=0; CS=0; PF=22"))
    talk(c, s, "ZAP 5 probe")            # no dialect has it: the server says so
    talk(s, c, "200 5")
    talk(s, c, "BYE pal@example.com")
    talk(c, s, "OUT")
    c.close(); s.close()


def _gateway(gw_l):
    c, s = connect(gw_l, G_IP, "gw400")
    head = ("Accept: */*\r\nUser-Agent: MSMSGS\r\nHost: gateway.messenger.hotmail.com\r\n"
            "Connection: Keep-Alive\r\nContent-Type: application/x-msn-messenger\r\n")
    body = b"VER 1 MSNP8 CVR0\r\n"
    talk(c, s, "", raw=(f"POST /gateway/gateway.dll?Action=open&Server=NS&IP={NS[0]} "
                        f"HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\n\r\n").encode()
         + body)
    talk(s, c, "", raw=(f"HTTP/1.1 200 OK\r\nX-MSN-Messenger: SessionID=6000.1; GW-IP={GW[0]}"
                        f"\r\nContent-Type: application/x-msn-messenger\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    body = b"CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 5.0.0544 MSMSGS gw@hotmail.com\r\n"
    talk(c, s, "", raw=(f"POST /gateway/gateway.dll?SessionID=6000.1 HTTP/1.1\r\n{head}"
                        f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    page = (b"<html><head><title>400 Bad Request</title></head><body>"
            b"<h1>Bad Request</h1><p>Your browser sent a request this server could not "
            b"understand.</p></body></html>\r\n")
    talk(s, c, "", raw=(f"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n"
                        f"Content-Length: {len(page)}\r\n\r\n").encode() + page)
    c.close(); s.close()


def scenario_fidelity():
    ns_l, sb_l, gw_l = listen(NS), listen(SB), listen(GW)
    try:
        _msnp8(ns_l)
        _msnp14(ns_l)
        _msnp18(ns_l)
        _switchboard(sb_l)
        _gateway(gw_l)
    finally:
        ns_l.close(); sb_l.close(); gw_l.close()


def derive_fidelity(outdir):
    """Cut from fidelity.pcap and msnp8_session.pcap with Scapy (the bytes stay real):
    the switchboard alone, its outgoing typing notice alone (one packet), and the MSNP8
    session with right checksums but 64 segments' checksums broken (send offload)."""
    import os

    from scapy.all import IP, TCP, rdpcap, wrpcap  # noqa: PLC0415

    pkts = rdpcap(os.path.join(outdir, "fidelity.pcap"))
    sb = [p for p in pkts if TCP in p and S_IP in (p[IP].src, p[IP].dst)]
    wrpcap(os.path.join(outdir, "fidelity_sb_only.pcap"), sb)
    one = [p for p in sb if b"TypingUser: sbonly" in bytes(p[TCP].payload)]
    assert len(one) == 1
    # Microsoft's switchboards listened on 1863, as the real stray packet's did
    q = one[0].copy()
    q[TCP].dport = 1863
    del q[TCP].chksum
    q = q.__class__(bytes(q))
    q.time = one[0].time
    wrpcap(os.path.join(outdir, "fidelity_typing.pcap"), [q])

    session = rdpcap(os.path.join(outdir, "msnp8_session.pcap"))
    out, broken = [], 0
    for i, p in enumerate(session):
        q = p.copy()
        del q[TCP].chksum                  # loopback leaves partial sums: recompute
        q = q.__class__(bytes(q))
        if i % 3 == 1 and broken < 64:
            q[TCP].chksum ^= 0x5A5A        # 64 of them wrong, as offload leaves them
            broken += 1
        q.time = p.time
        out.append(q)
    wrpcap(os.path.join(outdir, "bad_checksums.pcap"), out)
    print("wrote fidelity derived captures")
