"""MSN HTTP gateway sessions (reference §9): logical MSNP connections carried by HTTP.

A gateway session opens with ``Action=open&Server=NS|SB&IP=…``; its identity is the
SessionID the latest response announced in ``X-MSN-Messenger: SessionID=…; GW-IP=…``
(it may change with every response); ``Session=close`` ends it.  Its client→server
stream is its request bodies in order, its server→client stream its response bodies in
order, whatever TCP connection carried them (one per session, one keep-alive connection
shared by an NS and an SB session, a session that goes on over a new connection).  The
gateway returns, for each HTTP message, its events and the steps of its sessions
(``Opened``, ``Carried`` bytes, ``Ended``), in order; the pipeline gives those streams the
same framers and decoders as a TCP connection's, so everything after (sessions, chats,
transfers, exports, live) works unchanged.  No I/O.
"""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from urllib.parse import parse_qs, urlsplit

from .. import events as E
from ..stream.http import HttpDemux, HttpProblem, HttpRequest
from ..stream.reassembly import fmt_ep

GATEWAY_PATH = "/gateway/gateway.dll"
MAX_OUTSTANDING = 64           # requests waiting for their response on one connection


_MSNP_START = re.compile(rb"(?:[A-Z]{3}|[0-9]{3})(?: |\r\n)")


class Logical:
    """One gateway session: its connection id, endpoints and byte counts."""

    __slots__ = ("id", "client", "server", "bytes", "open", "ended", "last_ts", "via")

    def __init__(self, cid, client, server, ts):
        self.id, self.client, self.server = cid, client, server
        self.bytes = [0, 0]
        self.open = True
        self.ended: str | None = None    # why msnsniff closed it
        self.last_ts = ts
        # what carried the bytes fed last (for the trace; the steps of one message are
        # decoded before the next message can change it)
        self.via = None


class Opened:
    """A gateway session began."""

    __slots__ = ("session", "ts")

    def __init__(self, session, ts):
        self.session, self.ts = session, ts


class Carried:
    """Bytes of a session's stream: a request's body (dir 0) or a response's (dir 1)."""

    __slots__ = ("session", "dir", "data", "ts")

    def __init__(self, session, d, data, ts):
        self.session, self.dir, self.data, self.ts = session, d, data, ts


class Ended:
    """A gateway session ended (its totals are ``session.bytes``)."""

    __slots__ = ("session", "reason", "ts")

    def __init__(self, session, reason, ts):
        self.session, self.reason, self.ts = session, reason, ts


class HttpSide:
    """One direction of a carrier connection, with a framer's interface."""

    __slots__ = ("demux", "d", "lines")

    def __init__(self, demux, d):
        self.demux, self.d, self.lines = demux, d, 0

    def feed(self, data, ts=0.0):
        return self.demux.feed(self.d, data, ts)

    def gap(self, length, ts=0.0):
        return self.demux.gap(self.d, length, ts)

    def close(self, ts=0.0):
        return self.demux.close(self.d, ts)


class CarrierDecoder:
    """The decoder of a TCP connection that carries HTTP gateway traffic."""

    kind = "http"

    def __init__(self, gateway, conn):
        self.gw, self.conn = gateway, conn
        self.outstanding: deque = deque()
        self.requests = 0

    def handle(self, item, d):
        """Events and session steps, in order (see the module's docstring)."""
        if type(item) is HttpProblem:
            return [E.Anomaly(item.ts, self.conn.id, item.dir, "http", item.detail,
                              item.offset, item.length)]
        out: list = []
        if type(item) is HttpRequest:
            self.gw.request(self, item, out)
        else:
            self.gw.response(self, item, out)
        return out

    def close(self, ts):
        out = []
        for req, _ in self.outstanding:
            out.append(E.Anomaly(ts, self.conn.id, 0, "http", f"request {req.target[:200]} "
                                 "got no response before the connection closed",
                                 req.offset, 0))
        self.outstanding.clear()
        return out


def _x_msn(value: str) -> dict:
    """``SessionID=1.2; GW-IP=1.2.3.4; Session=close`` -> dict."""
    out = {}
    for item in value.split(";"):
        k, _, v = item.strip().partition("=")
        if k:
            out[k.lower()] = v.strip()
    return out


class Gateway:
    def __init__(self, limits, new_id):
        self.limits = limits
        self.new_id = new_id               # () -> a connection id (shared with reassembly)
        # (client IP, SessionID) -> Logical: SessionIDs are only unique per gateway, and
        # the gateway a session talks to changes (GW-IP), its client does not
        self.by_sid: OrderedDict = OrderedDict()
        self.open: OrderedDict = OrderedDict()       # id -> Logical (open sessions)

    # ------------------------------------------------------------ carriers
    def carrier(self, conn):
        """Framers and decoder of a TCP connection that carries gateway traffic."""
        demux = HttpDemux(self.limits.max_payload)
        return (HttpSide(demux, 0), HttpSide(demux, 1)), CarrierDecoder(self, conn)

    # ------------------------------------------------------------ requests
    def request(self, carrier, req, out):
        url = urlsplit(req.target)
        if not url.path.endswith(GATEWAY_PATH):
            out.append(E.Anomaly(req.ts, carrier.conn.id, 0, "http",
                                 f"{req.method} {req.target[:200]}: not the MSN gateway",
                                 req.offset, 0))
            return
        self._expire(req.ts, out)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        action, sid = q.get("Action", "").lower(), q.get("SessionID")
        poll = action == "poll"
        if action == "open":
            lg = self._open(carrier, req.ts, q.get("IP") or "", q.get("Server"), out)
        elif sid is not None:
            lg = self.by_sid.get((carrier.conn.client[0], sid))
            if lg is None or not lg.open:
                # a session whose opening the capture does not hold, or one closed early
                why = ("was opened before the capture began" if lg is None or lg.ended in
                       (None, "Session=close") else
                       f"went on after session {lg.id} was closed ({lg.ended})")
                lg = self._open(carrier, req.ts, "", None, out)
                self._bind(lg, carrier, sid)
                out.append(E.Anomaly(req.ts, lg.id, -1, "http", f"gateway session {sid} {why}",
                                     req.offset, 0))
        else:
            out.append(E.Anomaly(req.ts, carrier.conn.id, 0, "http", f"gateway request "
                                 f"{req.target[:200]} names no session", req.offset, 0))
            return
        if len(carrier.outstanding) < MAX_OUTSTANDING:
            carrier.outstanding.append((req, lg))
        out.append(E.GatewayExchange(req.ts, lg.id, 0, carrier.conn.id, None, None,
                                     poll and not req.body))
        carrier.requests += 1
        lg.via = f"http connection {carrier.conn.id}, request {carrier.requests}"
        self._feed(lg, 0, bytes(req.body), req.ts, out)

    def _open(self, carrier, ts, ip, server, out):
        cid = self.new_id()
        lg = Logical(cid, fmt_ep(carrier.conn.client), ip or fmt_ep(carrier.conn.server), ts)
        self.open[cid] = lg
        out.append(Opened(lg, ts))
        if len(self.open) > self.limits.max_connections:
            _, old = self.open.popitem(last=False)
            self._close(old, ts, "evicted (connection cap)", out)
            out.append(E.Anomaly(ts, old.id, -1, "connection cap", "gateway session closed "
                                 f"early: more than {self.limits.max_connections} sessions "
                                 "open at once; its later requests start a new session"))
        return lg

    def _bind(self, lg, carrier, sid):
        key = (carrier.conn.client[0], sid)
        self.by_sid[key] = lg
        self.by_sid.move_to_end(key)
        if len(self.by_sid) > self.limits.max_links:
            self.by_sid.popitem(last=False)

    # ------------------------------------------------------------ responses
    def response(self, carrier, resp, out):
        if not carrier.outstanding:
            out.append(E.Anomaly(resp.ts, carrier.conn.id, 1, "http", f"response {resp.status} "
                                 "to no request", resp.offset, 0))
            return
        req, lg = carrier.outstanding.popleft()
        if resp.status != 200:
            why = " (a second request of the session while one was outstanding?)" \
                if resp.status == 400 else ""
            body = bytes(resp.body)
            # an error page (HTML, text) is the HTTP server's, not MSNP: this anomaly
            # names it; only a body that starts like an MSNP command goes to the session
            msnp = _MSNP_START.match(body) is not None
            page = f"; its {len(body)}-byte body is not MSNP (not decoded)" \
                if body and not msnp else ""
            out.append(E.Anomaly(resp.ts, lg.id, 1, "http", f"gateway answered "
                                 f"{resp.status} {resp.reason} to {req.target[:200]}{why}"
                                 f"{page}", resp.offset, 0))
            if body and msnp:
                self._feed(lg, 1, body, resp.ts, out)
            return
        x = _x_msn(resp.headers.get("x-msn-messenger", ""))
        sid = x.get("sessionid")
        if sid:
            self._bind(lg, carrier, sid)
        out.append(E.GatewayExchange(resp.ts, lg.id, 1, carrier.conn.id, sid,
                                     x.get("gw-ip"), False))
        lg.via = f"http connection {carrier.conn.id}, response to {req.target[:120]}"
        self._feed(lg, 1, bytes(resp.body), resp.ts, out)
        if x.get("session", "").lower() == "close" and lg.open:
            self._close(lg, resp.ts, "Session=close", out)

    def _feed(self, lg, d, data, ts, out):
        if not data or not lg.open:
            return
        lg.bytes[d] += len(data)
        lg.last_ts = ts
        self.open.move_to_end(lg.id)        # least recently active first (_expire)
        out.append(Carried(lg, d, data, ts))

    def _expire(self, now, out):
        """Sessions silent for Limits.idle_timeout of capture time are closed ("idle"), as
        TCP connections are: a session whose close was never captured does not stay."""
        limit = now - self.limits.idle_timeout
        while self.open:
            lg = next(iter(self.open.values()))
            if lg.last_ts >= limit:
                return
            self._close(lg, lg.last_ts, "idle", out)

    # ------------------------------------------------------------ the end
    def _close(self, lg, ts, reason, out):
        lg.open = False
        lg.ended = reason
        self.open.pop(lg.id, None)
        out.append(Ended(lg, reason, ts))

    def finish(self) -> list:
        """End of input: every open session ends."""
        out: list = []
        for lg in list(self.open.values()):
            self._close(lg, lg.last_ts, "capture end", out)
        return out
