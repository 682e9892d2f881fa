"""The HTTP gateway against hostile input (issue 31): an unanswered client and requests
pipelined ahead of their responses are held in a bounded buffer."""

from msnsniff.stream.http import HttpDemux, HttpProblem, HttpRequest

POLL = (b"POST /gateway/gateway.dll?Action=poll&SessionID=1 HTTP/1.1\r\nHost: gw\r\n"
        b"Content-Length: 5\r\n\r\nPNG\r\n")


def test_an_unanswered_client_is_read_without_responses_in_bounded_memory():
    h = HttpDemux(max_held=64 * 1024)
    out = []
    for i in range(4000):                       # ~400 KB of requests, no server byte
        out += h.feed(0, POLL, float(i))
        assert h.req._receive_buffer.__len__() <= 64 * 1024 + len(POLL)
    reqs = [x for x in out if type(x) is HttpRequest]
    problems = [x.detail for x in out if type(x) is HttpProblem]
    assert len(reqs) == 4000 and all(bytes(r.body) == b"PNG\r\n" for r in reqs)
    assert len(problems) == 1 and problems[0].endswith(
        "bytes of requests waited for responses and the server sent nothing: requests are "
        "read without responses")
    assert h.undecodable == [0, 0] and h.body[0] == 4000 * 5


def test_requests_pipelined_past_the_cap_before_any_response_are_given_up():
    h = HttpDemux(max_held=64 * 1024)
    out = h.feed(0, POLL, 0.0)
    out += h.feed(1, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nQN", 0.1)  # answering…
    for i in range(2000):
        out += h.feed(0, POLL, 1.0 + i)
    assert len(h.req._receive_buffer) == 0 and h.broken == [True, False]
    problems = [x.detail for x in out if type(x) is HttpProblem]
    assert len(problems) == 1 and "held waiting for the other direction (cap 65536)" in \
        problems[0]
    assert h.undecodable[0] >= 2000 * len(POLL) - 64 * 1024 - len(POLL)   # counted, not held


def _exchange(client, gw, who, t0):
    import sys
    sys.path.insert(0, __import__("os").path.dirname(__file__))
    from conftest import conversation

    def post(query, body):
        return (b"POST /gateway/gateway.dll?%s HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n"
                b"\r\n%s" % (query, len(body), body))

    def ok(body):
        return (b"HTTP/1.1 200 OK\r\nX-MSN-Messenger: SessionID=1000.1; GW-IP=%s\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (gw[0].encode(), len(body), body))
    c2s = [post(b"Action=open&Server=NS&IP=messenger.hotmail.com", b"VER 1 MSNP8 CVR0\r\n"),
           post(b"SessionID=1000.1", b"USR 3 TWN I %s\r\n" % who)]
    s2c = [ok(b"VER 1 MSNP8 CVR0\r\n"), ok(b"USR 3 OK %s %s 1 0\r\n" % (who, who[:3]))]
    return conversation(client=client, server=gw, c2s=c2s, s2c=s2c, t0=t0)


def test_two_gateways_handing_out_the_same_session_id_stay_two_sessions(tmp_path):
    import json
    import subprocess
    import sys

    from conftest import write_pcap
    # interleaved: Amy's second request comes after Ben's gateway handed out the same id
    packets = (_exchange(("10.0.0.1", 40000), ("10.0.0.5", 80), b"amy@hotmail.com", 1.0)
               + _exchange(("10.0.0.11", 40001), ("10.0.0.6", 80), b"ben@hotmail.com", 1.005))
    path = write_pcap(tmp_path / "gw2.pcap", sorted(packets, key=lambda p: p[0]))
    d = json.loads(subprocess.run([sys.executable, "-m", "msnsniff", "read", path, "--format",
                                   "json", "--no-progress"], capture_output=True,
                                  text=True).stdout)
    rows = [(s["passport"], s["client"], s["gateway_session_ids"], s["login"])
            for s in d["sessions"] if s["transport"] == "http-gateway"]
    assert rows == [("amy@hotmail.com", "10.0.0.1:40000", ["1000.1"], "ok"),
                    ("ben@hotmail.com", "10.0.0.11:40001", ["1000.1"], "ok")]


def test_an_evicted_gateway_session_is_an_anomaly():
    import dataclasses
    import os
    import sys

    from msnsniff import events as E
    from msnsniff.capture.files import read_segments
    from msnsniff.config import DEFAULT_LIMITS
    from msnsniff.pipeline import Pipeline
    sys.path.insert(0, os.path.dirname(__file__))
    import tempfile

    from conftest import write_pcap
    with tempfile.TemporaryDirectory() as tmp:
        packets = []
        for i, who in enumerate((b"amy@hotmail.com", b"ben@hotmail.com", b"cy@hotmail.com")):
            packets += _exchange((f"10.0.0.{i + 1}", 40000 + i), ("10.0.0.5", 80), who, 1 + i)
        path = write_pcap(os.path.join(tmp, "g.pcap"), packets)
        p = Pipeline(limits=dataclasses.replace(DEFAULT_LIMITS, max_connections=2))
        evs = [ev for seg in read_segments(path) for ev in p.feed(seg)] + p.finish()
    caps = [ev.detail for ev in evs if type(ev) is E.Anomaly and ev.kind == "connection cap"]
    assert "gateway session closed early: more than 2 sessions open at once; its later " \
           "requests start a new session" in caps
