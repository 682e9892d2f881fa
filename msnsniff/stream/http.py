"""HTTP/1.x on one TCP connection, both directions, for the MSN HTTP gateway
(reference §9): in-order bytes in, complete requests and responses out.  No I/O.

h11 parses each direction: one ``h11.Connection`` in the server role reads the client's
bytes (requests), one in the client role reads the server's bytes (responses).  h11
keeps both ends of a request/response cycle in step, so each parser is told what the
other side did (its events are replayed with ``send``; the bytes that produces are
thrown away).  That gives keep-alive and pipelined requests, Content-Length and chunked
bodies, ``100 Continue``, HTTP/1.0 responses and a body cut by the end of the capture
with h11's own rules.

Byte accounting: every byte fed is either part of an HTTP envelope (request line,
headers, chunk framing), part of a body (handed on as MSNP), undecodable after the
stream broke (a protocol error or a gap), or a gap:
``envelope + body + undecodable == fed``; gaps are counted apart.
"""

from __future__ import annotations

import h11

MAX_BODY = 256 * 1024      # Limits.max_payload: a gateway body is a handful of commands
# Bytes h11 may hold for one direction while it waits for the other: pipelined requests
# wait for their responses.  Past it a client whose server sent nothing at all (a
# one-sided capture) has its requests read without responses; otherwise the direction
# is given up (reported), so memory never follows an unanswered client.
MAX_HELD = 4 * MAX_BODY
SERVER_ONLY = ("gateway responses and no request captured (only the server's side of the "
               "connection): the responses are not decoded")


class HttpRequest:
    __slots__ = ("ts", "method", "target", "headers", "body", "offset", "length", "cut")

    def __init__(self, ts: float, method: str | None, target: str | None,
                 headers: dict[str, str], offset: int):
        self.ts, self.method, self.target, self.headers = ts, method, target, headers
        self.body = bytearray()
        self.offset = offset
        self.length = 0
        self.cut = False


class HttpResponse(HttpRequest):
    __slots__ = ("status", "reason", "version")
    # set by HttpDemux right after construction (method and target stay None)
    status: int
    reason: str
    version: str


class HttpProblem:
    """The stream cannot be read as HTTP from here on (or a body was cut)."""
    __slots__ = ("ts", "dir", "detail", "offset", "length")

    def __init__(self, ts, d, detail, offset, length):
        self.ts, self.dir, self.detail, self.offset, self.length = ts, d, detail, offset, length


def _headers(items) -> dict:
    out: dict = {}
    for k, v in items:
        out.setdefault(k.decode("latin-1").lower(), v.decode("latin-1"))
    return out


class HttpDemux:
    """Both directions of one HTTP connection."""

    def __init__(self, max_body: int = MAX_BODY, max_held: int = MAX_HELD):
        self.max_body = max_body
        self.max_held = max_held
        self.one_sided = False                     # requests read without responses
        self.req = h11.Connection(h11.SERVER)      # reads what the client sends
        self.resp = h11.Connection(h11.CLIENT)     # reads what the server sends
        # message being read, per direction
        self.cur: list[HttpRequest | None] = [None, None]
        self.fed = [0, 0]
        self.body = [0, 0]
        self.undecodable = [0, 0]
        self.gaps = [0, 0]
        self.broken = [False, False]
        self.closing = [False, False]
        self.requests = 0
        self.responses = 0

    @property
    def envelope(self) -> int:
        return sum(self.fed) - sum(self.body) - sum(self.undecodable)

    # ------------------------------------------------------------ input
    def feed(self, d: int, data: bytes, ts: float) -> list:
        start = self.fed[d]
        self.fed[d] += len(data)
        if self.broken[d]:
            self.undecodable[d] += len(data)
            return []
        out: list = []
        if d == 1 and self.one_sided:
            return self._break(d, ts, "responses after the requests were read without them "
                                      "(none had come before): not parsed", start, len(data))
        conn = self.req if d == 0 else self.resp
        conn.receive_data(data)
        self._settle(ts, out, start, d)
        held = len(conn._receive_buffer)           # (h11's buffer: trailing_data copies it)
        if held > self.max_held and not self.broken[d]:
            if d == 0 and self.fed[1] == 0 and not self.broken[1]:
                self.one_sided = True
                out.append(HttpProblem(ts, 0, f"{held} bytes of requests waited for responses "
                                       "and the server sent nothing: requests are read "
                                       "without responses", start, 0))
                self._answer_self()
                self._settle(ts, out, start, d)
            elif d == 1 and self.fed[0] == 0:
                self._break(d, ts, SERVER_ONLY, start, 0, out)
            else:
                self._break(d, ts, f"{held} bytes held waiting for the other direction "
                                   f"(cap {self.max_held}): the rest of this direction is "
                                   "not parsed", start, 0, out)
        return out

    def _answer_self(self):
        """One-sided capture: tell the request parser that a response went out, so the
        next pipelined request can be read."""
        if self.req.their_state is h11.DONE and self.req.our_state is h11.SEND_RESPONSE:
            self._mirror(self.req, h11.Response(status_code=204, headers=[]))
            self._mirror(self.req, h11.EndOfMessage())
            try:
                self.req.start_next_cycle()
            except h11.LocalProtocolError:
                pass

    def _settle(self, ts, out, start, d):
        """Read both directions until neither moves: a response can only be read after
        its request, and a pipelined request only after the previous cycle ended."""
        moved = True
        while moved:
            moved = self._pump(0, ts, out, start if d == 0 else self.fed[0])
            moved = self._pump(1, ts, out, start if d == 1 else self.fed[1]) or moved

    def gap(self, d: int, length: int, ts: float) -> list:
        self.gaps[d] += length
        if self.broken[d]:
            return []
        return self._break(d, ts, f"{length} bytes never captured inside HTTP: the rest of "
                                  "this direction cannot be parsed", self.fed[d], length)

    def close(self, d: int, ts: float) -> list:
        """The direction ended (FIN, RST or the capture's end)."""
        if self.broken[d] or d == 1 and self.one_sided:    # (a silent server: nothing)
            return []
        if d == 1 and self.fed[0] == 0 and self.fed[1]:
            # responses, and no request ever captured: h11 reads a response only after
            # its request, so none was read; said once, the bytes counted undecodable
            return self._break(1, ts, SERVER_ONLY, 0, self.fed[1])
        out: list = []
        conn = self.req if d == 0 else self.resp
        self.closing[d] = True
        if d == 0 and self.one_sided:
            self._answer_self()
        try:
            conn.receive_data(b"")
        except h11.RemoteProtocolError:
            pass
        self._settle(ts, out, self.fed[d], d)
        msg = self.cur[d]
        if msg is not None:                        # a message the stream ended inside
            msg.cut = True
            self.cur[d] = None
            out.append(msg)
            out.append(HttpProblem(ts, d, f"{'request' if d == 0 else 'response'} cut by the "
                                   f"end of the stream after {len(msg.body)} body bytes",
                                   msg.offset, 0))
        return out

    # ------------------------------------------------------------ h11 events
    def _pump(self, d, ts, out, start) -> bool:
        """Handle what h11 can give for one direction; True if anything happened."""
        conn, other = (self.req, self.resp) if d == 0 else (self.resp, self.req)
        moved = False
        while not self.broken[d]:
            if d == 1 and self.resp.our_state is h11.IDLE:
                return moved                       # its request has not been read yet
            try:
                ev = conn.next_event()
            except h11.RemoteProtocolError as e:
                if self.closing[d] and self.cur[d] is not None:
                    self.broken[d] = True          # the end came inside a message: close()
                    return False
                self._break(d, ts, f"not HTTP any more: {e}", start, 0, out)
                return True
            if ev is h11.NEED_DATA or ev is h11.PAUSED or type(ev) is h11.ConnectionClosed:
                return moved               # (ConnectionClosed comes back on every call)
            moved = True
            # (type(ev) is …, not a saved type(ev): the checker narrows ev on it)
            if type(ev) is h11.Request:
                self.cur[0] = HttpRequest(ts, ev.method.decode("latin-1"),
                                          ev.target.decode("latin-1"), _headers(ev.headers),
                                          start)
                self._mirror(other, h11.Request(method=ev.method, target=ev.target,
                                                headers=ev.headers, http_version=ev.http_version))
            elif type(ev) is h11.InformationalResponse:
                self._mirror(other, h11.InformationalResponse(
                    status_code=ev.status_code, headers=ev.headers, reason=ev.reason))
            elif type(ev) is h11.Response:
                r = HttpResponse(ts, None, None, _headers(ev.headers), start)
                r.status, r.reason = ev.status_code, ev.reason.decode("latin-1")
                r.version = ev.http_version.decode("latin-1")
                self.cur[1] = r
                self._mirror(other, h11.Response(status_code=ev.status_code,
                                                 headers=ev.headers, reason=ev.reason,
                                                 http_version=ev.http_version))
            elif type(ev) is h11.Data:
                msg = self.cur[d]
                assert msg is not None              # h11 gives Data only inside a message
                room = self.max_body - len(msg.body)
                take = ev.data[:max(0, room)]
                msg.body += take
                self.body[d] += len(take)
                self.undecodable[d] += len(ev.data) - len(take)
                msg.cut = msg.cut or len(take) < len(ev.data)
                self._mirror(other, h11.Data(data=ev.data))
            elif type(ev) is h11.EndOfMessage:
                msg, self.cur[d] = self.cur[d], None
                assert msg is not None              # and EndOfMessage only to end one
                msg.ts = ts
                if d == 0:
                    self.requests += 1
                else:
                    self.responses += 1
                out.append(msg)
                self._mirror(other, h11.EndOfMessage())
                if self.one_sided:
                    self._answer_self()
                else:
                    self._next_cycle()
        return moved

    def _mirror(self, conn, ev):
        """Tell the other direction's parser what this side did (bytes discarded)."""
        try:
            conn.send(ev)
        except h11.LocalProtocolError:
            pass

    def _next_cycle(self):
        if self.req.our_state is h11.DONE and self.req.their_state is h11.DONE:
            try:
                self.req.start_next_cycle()
                self.resp.start_next_cycle()
            except h11.LocalProtocolError:
                pass

    def _break(self, d, ts, detail, offset, length, out=None):
        self.broken[d] = True
        # what h11 still holds of this direction was never handed on: undecodable
        conn = self.req if d == 0 else self.resp
        held = len(conn.trailing_data[0]) if hasattr(conn, "trailing_data") else 0
        self.undecodable[d] += held
        # and its buffer is let go (a fresh parser holds nothing; nothing reads it again)
        if d == 0:
            self.req = h11.Connection(h11.SERVER)
        else:
            self.resp = h11.Connection(h11.CLIENT)
        p = HttpProblem(ts, d, detail, offset, length)
        if out is not None:
            out.append(p)
            return out
        return [p]
