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
