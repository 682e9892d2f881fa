"""MSNP through the HTTP gateway (captures/http_gateway.pcap: a scripted gateway.dll on
127.0.0.4:80 answering as a revival server does, real sockets, tcpdump).  Every gateway
session once with transport http-gateway, the commands the clients sent and received in
number and order, one transcript, no HTTP byte reported as undecodable MSNP."""

import json
import subprocess
import sys

from conftest import by, cap, cut_after, one

from msnsniff.stream.http import HttpDemux, HttpProblem, HttpRequest, HttpResponse

GW = "http_gateway.pcap"


def test_gateway_sessions(doc):
    d = doc(GW)
    rows = [(s["kind"], s["transport"], s["passport"], s["gateway_session_ids"],
             s["http_connections"], s["gateway_polls"], s["close_reason"])
            for s in d["sessions"] if s["transport"] == "http-gateway"]
    assert rows == [
        # alice's NS: the SessionID changed after the first response; the session went on
        # over a second TCP connection (8) after her first one (1) closed
        ("notification", "http-gateway", "alice@example.com", ["1000.1", "1000.2"], [1, 8], 4,
         "Session=close"),
        # bob's NS and SB share one keep-alive connection (3), through a proxy
        ("notification", "http-gateway", "bob@example.com", ["3000.1"], [3], 1, "Session=close"),
        ("switchboard", "http-gateway", "alice@example.com", ["2000.1"], [5], 3, "Session=close"),
        ("switchboard", "http-gateway", "bob@example.com", ["4000.1"], [3], 2, "Session=close")]
    carriers = [s["id"] for s in d["sessions"] if s["kind"] == "http"]
    assert carriers == [1, 3, 5, 8]
    assert all(s["transport"] == "tcp" for s in d["sessions"] if s["kind"] == "http")
    sb = {s["passport"]: s for s in d["sessions"] if s["kind"] == "switchboard"}
    ns = {s["passport"]: s["id"] for s in d["sessions"] if s["kind"] == "notification"}
    # NS -> SB linked by the XFR and RNG cookies, as over TCP
    assert sb["alice@example.com"]["linked_session"] == ns["alice@example.com"]
    assert sb["bob@example.com"]["linked_session"] == ns["bob@example.com"]
    alice = one(d["sessions"], id=ns["alice@example.com"])
    assert alice["friendly_name"] == "Alice à la plage"          # REA on the second connection
    assert alice["profile"]["client_port_reported"] == 0          # ClientPort 0 over HTTP
    assert [p["command"] for p in by(d["presence"], session=alice["id"])] == \
        ["CHG", "ILN", "CHG", "FLN"]


def test_every_command_in_order_and_no_undecodable_bytes():
    out = subprocess.run([sys.executable, "-m", "msnsniff", "commands", cap(GW), "--format",
                          "json", "--no-progress"], capture_output=True, text=True)
    rows = json.loads(out.stdout)
    alice_ns = [(r["direction"], r["verb"]) for r in rows if r["connection"] == 2]
    assert alice_ns == [
        ("c2s", "VER"), ("s2c", "VER"), ("c2s", "CVR"), ("s2c", "CVR"), ("c2s", "USR"),
        ("s2c", "USR"), ("c2s", "USR"), ("s2c", "USR"), ("s2c", "MSG"), ("c2s", "SYN"),
        ("s2c", "SYN"), ("s2c", "GTC"), ("s2c", "BLP"), ("s2c", "LST"), ("c2s", "CHG"),
        ("s2c", "CHG"), ("s2c", "ILN"), ("c2s", "XFR"), ("s2c", "XFR"), ("c2s", "CHG"),
        ("s2c", "CHG"), ("c2s", "REA"), ("s2c", "REA"), ("s2c", "FLN"), ("c2s", "OUT")]
    assert not [r for r in rows if r["verb"] in ("<undecodable>", "<gap>")]
    assert "undecodable: 0 bytes" in out.stderr
    assert sum(1 for r in rows if r["connection"] in (1, 3, 5, 8)) == 0   # no HTTP as MSNP


def test_one_transcript_and_the_400(doc):
    out = subprocess.run([sys.executable, "-m", "msnsniff", "chats", cap(GW), "--no-progress"],
                         capture_output=True, text=True).stdout
    assert out.count("=== Conversation") == 1
    assert "Salut Bob, via la passerelle HTTP ☕" in out and "Bien reçu !" in out
    d = doc(GW)
    assert [(a["kind"], a["detail"][:35]) for a in d["anomalies"]] == [
        ("http", "gateway answered 400 Bad Request to")]


def test_response_cut_by_the_end_of_the_capture(tmp_path):
    # the capture stops inside the chunked response that carries bob's RNG: its last
    # record is cut short (as a small snaplen would)
    import struct
    path = cut_after(tmp_path, b"RNG 7070707", name=GW)
    data = bytearray(open(path, "rb").read())
    off = 24
    while True:
        n = struct.unpack_from("<I", data, off + 8)[0]
        if off + 16 + n >= len(data):
            break
        off += 16 + n
    struct.pack_into("<I", data, off + 8, n - 30)             # captured length
    open(path, "wb").write(bytes(data[:off + 16 + n - 30]))
    from msnsniff.engine.analyze import analyse
    d = analyse([path])
    assert not by(d["notifications"], command="RNG")           # its bytes are not all there
    http = [a["detail"] for a in d["anomalies"] if a["kind"] == "http"]
    assert http == ["30 bytes never captured inside HTTP: the rest of this direction cannot "
                    "be parsed", "request http://gateway.messenger.hotmail.com/gateway/"
                    "gateway.dll?Action=poll&SessionID=3000.1 got no response before the "
                    "connection closed"]
    bob = one(d["sessions"], passport="bob@example.com", kind="notification")
    assert (bob["transport"], bob["login"], bob["close_reason"]) == ("http-gateway", "ok",
                                                                      "capture end")


def test_demux_body_cut_by_the_end():
    h = HttpDemux()
    out = h.feed(0, b"POST /gateway/gateway.dll?SessionID=1 HTTP/1.1\r\nHost: gw\r\n"
                 b"Content-Length: 3\r\n\r\nPNG", 1.0)
    out += h.feed(1, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nQNG 4", 1.1)
    out += h.close(1, 1.2)
    assert [type(x).__name__ for x in out] == ["HttpRequest", "HttpResponse", "HttpProblem"]
    assert bytes(out[1].body) == b"QNG 4" and out[1].cut
    assert "cut by the end of the stream after 5 body bytes" in out[2].detail


def test_demux_keep_alive_pipelining_chunked_100_continue():
    h = HttpDemux()
    req = (b"POST /gateway/gateway.dll?SessionID=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
           b"Expect: 100-continue\r\n\r\n")
    out = h.feed(0, req, 1.0)
    out += h.feed(1, b"HTTP/1.1 100 Continue\r\n\r\n", 1.1)
    out += h.feed(0, b"OUT\r\n" + b"POST /gateway/gateway.dll?Action=poll&SessionID=1 HTTP/1.1"
                  b"\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 1.2)          # pipelined
    out += h.feed(1, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nQNG\r\n"
                  b"2\r\n\r\n\r\n0\r\n\r\nHTTP/1.0 200 OK\r\n\r\nBYE", 1.3)
    out += h.close(1, 1.4)
    kinds = [(type(x).__name__, bytes(getattr(x, "body", b""))) for x in out]
    # the pipelined request is read once the first cycle is over, as a server would
    assert kinds == [("HttpRequest", b"OUT\r\n"), ("HttpResponse", b"QNG\r\n"),
                     ("HttpRequest", b""), ("HttpResponse", b"BYE")]
    assert out[3].version == "1.0" and h.undecodable == [0, 0]


def test_demux_reports_garbage_once():
    h = HttpDemux()
    out = h.feed(0, b"NOT HTTP AT ALL\r\n\r\n", 1.0)
    assert [type(x) for x in out] == [HttpProblem]
    assert h.feed(0, b"more", 1.1) == [] and h.undecodable[0] >= 4
    assert not isinstance(out[0], (HttpRequest, HttpResponse))


def test_commands_name_the_http_request_that_carried_them():
    out = subprocess.run([sys.executable, "-m", "msnsniff", "commands", cap(GW), "--connection",
                          "2", "--columns", "verb,direction,via", "--format", "json",
                          "--no-progress"], capture_output=True, text=True).stdout
    rows = json.loads(out)
    assert rows[:2] == [
        {"verb": "VER", "direction": "c2s", "via": "http connection 1, request 1"},
        {"verb": "VER", "direction": "s2c", "via": "http connection 1, response to "
         "/gateway/gateway.dll?Action=open&Server=NS&IP=messenger.hotmail.com"}]
    assert rows[-1] == {"verb": "OUT", "direction": "c2s", "via": "http connection 8, request 4"}


def test_the_gateway_returns_what_each_message_means():
    """The gateway decodes nothing itself: for each HTTP message it returns its events
    and its sessions' steps (opened, bytes carried, ended), in order, for the pipeline."""
    from msnsniff import events as E
    from msnsniff.config import DEFAULT_LIMITS
    from msnsniff.pipeline.gateway import Carried, Ended, Gateway, Opened

    ids = iter(range(7, 100))
    gw = Gateway(DEFAULT_LIMITS, lambda: next(ids))

    class Carrier:
        id, client, server = 3, ("10.0.0.1", 40000), ("10.0.0.5", 80)

    framers, dec = gw.carrier(Carrier)
    body = b"VER 1 MSNP8 CVR0\r\n"
    req = (b"POST /gateway/gateway.dll?Action=open&Server=NS&IP=65.54.239.140 HTTP/1.1\r\n"
           b"Host: gateway.messenger.hotmail.com\r\nContent-Length: 18\r\n\r\n" + body)
    steps = [s for item in framers[0].feed(req, 1.0) for s in dec.handle(item, 0)]
    assert [type(s) for s in steps] == [Opened, E.GatewayExchange, Carried]
    lg = steps[0].session
    assert (lg.id, lg.client, lg.server, steps[0].ts) == (7, "10.0.0.1:40000",
                                                          "65.54.239.140", 1.0)
    assert steps[1] == E.GatewayExchange(1.0, 7, 0, 3, None, None, False)
    assert (steps[2].session, steps[2].dir, steps[2].data, steps[2].ts) == (lg, 0, body, 1.0)
    resp = (b"HTTP/1.1 200 OK\r\nX-MSN-Messenger: SessionID=1.2; GW-IP=10.0.0.5; "
            b"Session=close\r\nContent-Length: 21\r\n\r\nVER 1 MSNP8 CVR0\r\nOUT")
    steps = [s for item in framers[1].feed(resp, 2.0) for s in dec.handle(item, 1)]
    assert [type(s) for s in steps] == [E.GatewayExchange, Carried, Ended]
    assert steps[0] == E.GatewayExchange(2.0, 7, 1, 3, "1.2", "10.0.0.5", False)
    assert (steps[1].session, steps[1].dir, steps[1].data) == (lg, 1, body + b"OUT")
    assert (steps[2].session, steps[2].reason, steps[2].ts) == (lg, "Session=close", 2.0)
    assert lg.bytes == [18, 21] and not gw.open
    assert gw.finish() == []


def test_a_gateway_sessions_commands_are_decoded_once(tmp_path):
    """A session's XFR naming a port that cannot be followed: one anomaly (the events
    of a gateway session are looked at once for endpoints, not again as the carrier's)."""
    from conftest import conversation, write_pcap

    from msnsniff import analyse
    req = (b"POST /gateway/gateway.dll?Action=open&Server=NS&IP=65.54.239.140 HTTP/1.1\r\n"
           b"Host: gateway.messenger.hotmail.com\r\nContent-Length: 18\r\n\r\n"
           b"VER 1 MSNP8 CVR0\r\n")
    xfr = b"XFR 2 NS 10.0.0.9:99999 0 10.0.0.5:1863\r\n"
    resp = (b"HTTP/1.1 200 OK\r\nX-MSN-Messenger: SessionID=1.2; GW-IP=10.0.0.5\r\n"
            b"Content-Length: %d\r\n\r\n" % (18 + len(xfr)) + b"VER 1 MSNP8 CVR0\r\n" + xfr)
    path = write_pcap(tmp_path / "g.pcap", conversation(server=("10.0.0.5", 80), c2s=[req],
                                                        s2c=[resp]))
    d = analyse(path)
    assert [(a["session"], a["kind"], a["detail"]) for a in d["anomalies"]
            if a["kind"] == "bad number"] == [
        (2, "bad number", "notification endpoint with port '99999' cannot be followed")]


def test_a_gateway_session_silent_for_the_idle_timeout_is_closed():
    """A gateway session whose close was never captured is closed after an hour of
    capture time without bytes ("idle"), as a TCP connection is; a request that names it
    later starts a new session and says so (it stayed open until the capture's end or
    the connection cap)."""
    from msnsniff import events as E
    from msnsniff.config import DEFAULT_LIMITS
    from msnsniff.pipeline.gateway import Ended, Gateway, Opened

    ids = iter(range(7, 100))
    gw = Gateway(DEFAULT_LIMITS, lambda: next(ids))

    class Carrier:
        id, client, server = 3, ("10.0.0.1", 40000), ("10.0.0.5", 80)

    framers, dec = gw.carrier(Carrier)

    def exchange(target, body, ts, sid):
        req = (b"POST /gateway/gateway.dll?%s HTTP/1.1\r\nHost: gateway.messenger.hotmail.com"
               b"\r\nContent-Length: %d\r\n\r\n" % (target, len(body)) + body)
        resp = (b"HTTP/1.1 200 OK\r\nX-MSN-Messenger: SessionID=%s; GW-IP=10.0.0.5\r\n"
                b"Content-Length: 0\r\n\r\n" % sid)
        return ([s for item in framers[0].feed(req, ts) for s in dec.handle(item, 0)]
                + [s for item in framers[1].feed(resp, ts) for s in dec.handle(item, 1)])

    first = exchange(b"Action=open&Server=NS&IP=65.54.239.140", b"VER 1 MSNP8 CVR0\r\n", 10.0,
                     b"1.1")
    assert isinstance(first[0], Opened) and list(gw.open) == [7]
    # an hour and a half later another client session opens: the first is closed first
    second = exchange(b"Action=open&Server=NS&IP=65.54.239.140", b"VER 2 MSNP8 CVR0\r\n",
                      5410.0, b"2.1")
    ended = [s for s in second if isinstance(s, Ended)]
    assert [(s.session.id, s.reason, s.ts) for s in ended] == [(7, "idle", 10.0)]
    assert list(gw.open) == [8]
    # the first session's SessionID again: a new session, and why
    third = exchange(b"SessionID=1.1", b"PNG\r\n", 5411.0, b"1.1")
    notes = [s.detail for s in third if isinstance(s, E.Anomaly)]
    assert notes == ["gateway session 1.1 went on after session 7 was closed (idle)"]
    assert list(gw.open) == [8, 9]
