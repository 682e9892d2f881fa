"""MSNP through the HTTP gateway (captures/http_gateway.pcap), played over real loopback
sockets by make_captures.py and captured by tcpdump.

The scripted gateway (127.0.0.4:80) answers as a revival server's gateway.dll does
(subpurple/escargot, front/msn/http/gateway.py: ``X-MSN-Messenger: SessionID=…;
GW-IP=…``, ``Content-Type: application/x-msn-messenger``, ``Action=open&Server=NS|SB&IP=``,
``Action=poll``); clients send what the official client sent (reference §9.1 headers).
Covered: one TCP connection per gateway session (alice), a SessionID that changes from
one response to the next, an NS session that continues on a new TCP connection, one
keep-alive connection shared by an NS and an SB session (bob, as WinInet does), the
absolute-URI request line a proxy sees, chunked responses, ``100 Continue``, a second
outstanding request refused with 400, an HTTP/1.0 response, ``Session=close``.
"""

from __future__ import annotations

from make_captures import connect, listen, mime, talk, text

GW = ("127.0.0.4", 80)
A, B = "alice@example.com", "bob@example.com"
A_IP, B_IP = "127.0.0.40", "127.0.0.41"
PATH = "/gateway/gateway.dll"
CLIENT_HEADERS = ("Accept: */*\r\nAccept-Language: en-us\r\nUser-Agent: MSMSGS\r\n"
                  "Host: gateway.messenger.hotmail.com\r\nProxy-Connection: Keep-Alive\r\n"
                  "Connection: Keep-Alive\r\nPragma: no-cache\r\n"
                  "Content-Type: application/x-msn-messenger\r\n")


def request(c, s, query, body=b"", proxy=False, expect=False, pipelined_extra=None):
    target = ("http://gateway.messenger.hotmail.com" if proxy else "") + f"{PATH}?{query}"
    head = (f"POST {target} HTTP/1.1\r\n{CLIENT_HEADERS}"
            + ("Expect: 100-continue\r\n" if expect else "")
            + f"Content-Length: {len(body)}\r\n\r\n").encode()
    if expect:
        talk(c, s, "", raw=head)
        talk(s, c, "", raw=b"HTTP/1.1 100 Continue\r\n\r\n")
        talk(c, s, "", raw=body)
        return
    talk(c, s, "", raw=head + body + (pipelined_extra or b""))


def response(s, c, sid, body=b"", close=False, chunked=False, status="200 OK", version="1.1"):
    xmsn = f"SessionID={sid}; GW-IP={GW[0]}" + ("; Session=close" if close else "")
    head = (f"HTTP/{version} {status}\r\nAccess-Control-Allow-Origin: *\r\n"
            "Access-Control-Allow-Methods: POST\r\nAccess-Control-Expose-Headers: X-MSN-Messenger\r\n"
            f"X-MSN-Messenger: {xmsn}\r\nContent-Type: application/x-msn-messenger\r\n")
    if chunked:
        half = len(body) // 2
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(x), x) for x in (body[:half], body[half:]) if x)
        raw = (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + chunks + b"0\r\n\r\n"
    else:
        raw = (head + f"Content-Length: {len(body)}\r\n"
               + ("Connection: close\r\n" if version == "1.0" else "") + "\r\n").encode() + body
    talk(s, c, "", raw=raw)


def lines(*cmds: str) -> bytes:
    return "".join(x + "\r\n" for x in cmds).encode()


def payload(head: str, body: bytes) -> bytes:
    return f"{head} {len(body)}\r\n".encode() + body


PROFILE = mime("text/x-msmsgsprofile; charset=UTF-8", [
    ("LoginTime", "1062764229"), ("EmailEnabled", "1"), ("MemberIdHigh", "1"),
    ("MemberIdLow", "2"), ("lang_preference", "1033"), ("Kid", "0"), ("Flags", "1027"),
    ("sid", "507"), ("kv", "5"), ("MSPAuth", "7Fg9Ht2Jk4Lm6Np8Qr0St2Uv4Wx6Yz8Ab0Cd2Ef4Gh6Ij$$"),
    ("ClientIP", "127.0.0.40"), ("ClientPort", "0")])      # ClientPort 0 over HTTP (§9.3)


def ns_login(c, s, who, friendly, sid_open, sid_after, proxy=False, chunked=False):
    """VER/CVR/USR through the gateway; returns the SessionID in force."""
    request(c, s, "Action=open&Server=NS&IP=messenger.hotmail.com",
            lines("VER 1 MSNP8 CVR0"), proxy=proxy)
    response(s, c, sid_open, lines("VER 1 MSNP8"), chunked=chunked)
    request(c, s, f"SessionID={sid_open}",
            lines(f"CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 5.0.0544 MSMSGS {who}"), proxy=proxy)
    # the gateway may hand out a new SessionID with any response (reference §9.2)
    response(s, c, sid_after, lines("CVR 2 5.0.0544 5.0.0544 1.0.0863 http://x http://y"),
             chunked=chunked)
    request(c, s, f"SessionID={sid_after}", lines(f"USR 3 TWN I {who}"), proxy=proxy)
    response(s, c, sid_after, lines("USR 3 TWN S lc=1033,id=507,tw=40"), chunked=chunked)
    request(c, s, f"SessionID={sid_after}", lines("USR 4 TWN S t=gwTicket123&p=gwProfile456"),
            proxy=proxy)
    response(s, c, sid_after, lines(f"USR 4 OK {who} {friendly} 1 0")
             + payload("MSG Hotmail Hotmail", PROFILE), chunked=chunked)
    return sid_after


def scenario_gateway():
    gw_l = listen(GW)
    # ---------------- alice: one TCP connection per gateway session
    a1, g1 = connect(gw_l, A_IP, "gw-a1")
    sid = ns_login(a1, g1, A, "Alice", "1000.1", "1000.2")
    request(a1, g1, f"SessionID={sid}", lines("SYN 5 0"))
    response(g1, a1, sid, lines("SYN 5 3 1 0", "GTC A", "BLP AL", f"LST {B} Bob 11 0"))
    request(a1, g1, f"SessionID={sid}", lines("CHG 6 NLN 0"))
    response(g1, a1, sid, lines("CHG 6 NLN 0", f"ILN 6 NLN {B} Bob 268435492"))
    for _ in range(3):                                            # idle polls
        request(a1, g1, f"Action=poll&SessionID={sid}")
        response(g1, a1, sid)
    request(a1, g1, f"SessionID={sid}", lines("XFR 7 SB"))
    response(g1, a1, sid, lines("XFR 7 SB 127.0.0.3:1864 CKI 5050.5050"))

    # ---------------- bob: one keep-alive connection for his NS and SB sessions, through a proxy
    b1, g2 = connect(gw_l, B_IP, "gw-b1")
    bsid = ns_login(b1, g2, B, "Bob", "3000.1", "3000.1", proxy=True, chunked=True)
    request(b1, g2, f"SessionID={bsid}", lines("CHG 5 NLN 268435492"), proxy=True)
    response(g2, b1, bsid, lines("CHG 5 NLN 268435492"), chunked=True)

    # alice opens her switchboard session on a new TCP connection
    a2, g3 = connect(gw_l, A_IP, "gw-a2")
    request(a2, g3, "Action=open&Server=SB&IP=127.0.0.3:1864", lines(f"USR 1 {A} 5050.5050"))
    response(g3, a2, "2000.1", lines(f"USR 1 OK {A} Alice"))
    request(a2, g3, "SessionID=2000.1", lines(f"CAL 2 {B}"))
    response(g3, a2, "2000.1", lines("CAL 2 RINGING 7070707"))
    # bob's poll brings the RNG; he answers on his shared keep-alive connection
    request(b1, g2, f"Action=poll&SessionID={bsid}", proxy=True)
    response(g2, b1, bsid, lines(f"RNG 7070707 127.0.0.3:1864 CKI 6060.6060 {A} Alice"),
             chunked=True)
    request(b1, g2, "Action=open&Server=SB&IP=127.0.0.3:1864",
            lines(f"ANS 1 {B} 6060.6060 7070707"), proxy=True, expect=True)
    response(g2, b1, "4000.1", lines(f"IRO 1 1 1 {A} Alice", "ANS 1 OK"))
    request(a2, g3, "Action=poll&SessionID=2000.1")
    response(g3, a2, "2000.1", lines(f"JOI {B} Bob"))
    hello = text("Salut Bob, via la passerelle HTTP ☕", "FN=Arial; EF=; CO=0; CS=0; PF=0")
    request(a2, g3, "SessionID=2000.1", payload("MSG 3 N", hello))
    response(g3, a2, "2000.1")
    request(b1, g2, "Action=poll&SessionID=4000.1", proxy=True)
    response(g2, b1, "4000.1", payload(f"MSG {A} Alice", hello), chunked=True)
    # two requests of bob's SB session outstanding at once: the second is refused (400)
    reply = text("Bien reçu !", "FN=Arial; EF=; CO=0; CS=0; PF=0")
    second = (f"POST http://gateway.messenger.hotmail.com{PATH}?Action=poll&SessionID=4000.1 "
              f"HTTP/1.1\r\n{CLIENT_HEADERS}Content-Length: 0\r\n\r\n").encode()
    request(b1, g2, "SessionID=4000.1", payload("MSG 2 N", reply), proxy=True,
            pipelined_extra=second)
    response(g2, b1, "4000.1", chunked=True)
    talk(g2, b1, "", raw=b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    request(a2, g3, "Action=poll&SessionID=2000.1")
    response(g3, a2, "2000.1", payload(f"MSG {B} Bob", reply))
    # bob leaves the conversation: the gateway ends his SB session
    request(b1, g2, "SessionID=4000.1", lines("OUT"), proxy=True)
    response(g2, b1, "4000.1", close=True, chunked=True)
    request(a2, g3, "Action=poll&SessionID=2000.1")
    response(g3, a2, "2000.1", lines(f"BYE {B}"))
    request(a2, g3, "SessionID=2000.1", lines("OUT"))
    response(g3, a2, "2000.1", close=True)
    a2.close(); g3.close()

    # alice's first connection ends; her NS session goes on over a new TCP connection
    a1.close(); g1.close()
    a3, g4 = connect(gw_l, A_IP, "gw-a3")
    request(a3, g4, f"SessionID={sid}", lines("CHG 8 AWY 0"))
    response(g4, a3, sid, lines("CHG 8 AWY 0"))
    request(a3, g4, f"SessionID={sid}", lines(f"REA 9 {A} Alice%20%C3%A0%20la%20plage"))
    response(g4, a3, sid, lines(f"REA 9 1 {A} Alice%20%C3%A0%20la%20plage"))
    # bob signs out: his NS session ends with an HTTP/1.0 answer on his shared connection
    request(b1, g2, f"SessionID={bsid}", lines("OUT"), proxy=True)
    response(g2, b1, bsid, close=True, version="1.0")
    b1.close(); g2.close()
    request(a3, g4, f"Action=poll&SessionID={sid}")
    response(g4, a3, sid, lines(f"FLN {B}"))
    request(a3, g4, f"SessionID={sid}", lines("OUT"))
    response(g4, a3, sid, close=True)
    a3.close(); g4.close()
    gw_l.close()
