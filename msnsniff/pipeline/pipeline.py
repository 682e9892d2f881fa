"""The sans-IO pipeline: Segments in, events out (capture -> reassembly -> framing ->
decoder).  No I/O here: capture/files.py and capture/live.py produce the segments;
engine/ (analyze.py, stages.py) and `live` drive it and hand the events to the model.

Which connections are followed (issue "Which connections are MSNP"): TCP port 1863 and
``--port``s; every endpoint the traffic itself announces (XFR NS/SB, RNG, the address of
an accepted file-transfer invitation, a P2P direct connection's address); and any flow
whose first bytes open an MSN connection (protocol/tables.py ``CLIENT_OPENINGS``: `VER n
MSNP…`, `USR n passport cookie`, `ANS n …`, `VER MSNFTP`, a direct connection's
preamble) or an HTTP gateway exchange (a POST to the gateway, or its response).  Client and
server come from the SYN when it was captured, else from the content (who sends
`VER`/`USR`/`ANS` first, or which side sends a flow's first line), else from a known
server endpoint; they are settled when the connection opens, before any of its events.
"""

from __future__ import annotations

import re
from collections import OrderedDict

from .. import events as E
from ..capture.follow import Follow
from ..capture.packet import ACK, SYN, Segment
from ..config import DEFAULT_LIMITS, Limits
from ..decoder import ConnectionDecoder
from ..decoder.direct import DirectDecoder
from ..decoder.sb import invitation_endpoints
from ..protocol.numbers import net_port
from ..protocol.p2pdc import DC_START
from ..protocol.tables import CLIENT_SENT, CLIENT_START, SERVER_SENT
from ..stream.directframing import DirectFramer
from ..stream.framing import Framer
from ..stream.reassembly import Closed, Data, End, Gap, Reassembler, flow_key, fmt_ep
from .gateway import Carried, CarrierDecoder, Ended, Gateway, HttpSide, Opened

MSNP_PORT = 1863

# an HTTP gateway request (reference §9): the gateway path, also in the absolute form a
# proxy sees, or the gateway's media type in the first request's headers
_GATEWAY_START = re.compile(rb"^POST (?:https?://[^/ ]+)?/gateway/gateway\.dll[? ]")
_GATEWAY_TYPE = re.compile(rb"\r\ncontent-type: *application/x-msn-messenger", re.IGNORECASE)


def is_gateway(data: bytes) -> bool:
    return bool(data[:4] == b"POST" and (_GATEWAY_START.match(data)
                                         or _GATEWAY_TYPE.search(data, 0, 4096)))


# a gateway's response (a capture that holds only the server's side: its requests were
# never captured, and it must still be seen and said to be so)
_GATEWAY_RESPONSE = re.compile(rb"\r\n(?:x-msn-messenger: *sessionid=|content-type: *"
                               rb"application/x-msn-messenger)", re.IGNORECASE)


def is_gateway_response(data: bytes) -> bool:
    return data[:7] == b"HTTP/1." and _GATEWAY_RESPONSE.search(data, 0, 4096) is not None


# the first line's verb, as bytes (the guess runs on the raw first segment)
_SERVER_VERBS = frozenset(v.encode() for v in SERVER_SENT)
_CLIENT_VERBS = frozenset(v.encode() for v in CLIENT_SENT)


def direct_endpoints(ev) -> list[str]:
    """``ip:port`` a P2P direct-connection answer (transrespbody, ``Listening: true``)
    names; a cheap byte test first, since most parts are data."""
    data = ev.part.data if ev.part is not None else b""
    if not data or ev.part.session_id != 0 or b"Listening: true" not in data:
        return []
    return [f"{ip.decode()}:{port.decode()}"
            for ips, port in zip(_DC_ADDRS.findall(data), _DC_PORT.findall(data))
            for ip in ips.split()]


def _side(data: bytes) -> int | None:
    """0 if the first line looks client-sent, 1 if server-sent, None if it cannot tell."""
    verb = data[:3]
    if verb == b"MSG":
        parts = data.split(b"\n", 1)[0].split(b" ")
        if len(parts) >= 4:
            return 0 if parts[2] in (b"U", b"N", b"A", b"D") else 1
        return None
    if verb == b"USR":
        parts = data.split(b"\n", 1)[0].split(b" ")
        return 1 if len(parts) > 2 and parts[2] == b"OK" else 0
    if verb in _CLIENT_VERBS:
        return 0
    if verb in _SERVER_VERBS:
        return 1
    return None


# events that may announce an endpoint to follow (see _items)
_ANNOUNCING = frozenset({E.Redirect, E.SwitchboardGranted, E.Ring, E.Message, E.P2PPart})
# a P2P direct-connection answer (MSNSLP transrespbody) names where its peer listens
_DC_PORT = re.compile(rb"IPv4(?:Internal|External)-Port: *(\d{1,5})")
_DC_ADDRS = re.compile(rb"IPv4(?:Internal|External)-Addrs: *([0-9. ]+)")


class _ConnState:
    """The pipeline's own state of an open connection (TCP, or an HTTP gateway session):
    its framers and decoder."""

    __slots__ = ("framers", "decoder", "first_data")

    def __init__(self, cid, limits, first_data=True):
        self.framers: tuple[Framer, Framer] | tuple[DirectFramer, DirectFramer] | \
            tuple[HttpSide, HttpSide] = (Framer(limits), Framer(limits))
        self.decoder: ConnectionDecoder | DirectDecoder | CarrierDecoder = \
            ConnectionDecoder(cid)
        # a TCP connection's first bytes may say it is P2P direct or an HTTP carrier; a
        # gateway session's are MSNP
        self.first_data = first_data


class Pipeline:
    def __init__(self, ports=(), limits: Limits = DEFAULT_LIMITS, trace: bool = False,
                 follow_announced: bool = True, reasm: Reassembler | None = None,
                 first_id: int = 1):
        self.limits = limits
        self.ports = {MSNP_PORT, *ports}
        self.trace = trace
        self.follow_announced = follow_announced
        self.reasm = reasm if reasm is not None else Reassembler(limits, first_id)
        # connection id -> _ConnState, from ConnectionOpened to ConnectionClosed (so it
        # holds no more than the reassembler's and the gateway's open connections)
        self.states: dict[int, _ConnState] = {}
        self.announced: OrderedDict = OrderedDict()   # (ip or None, port) -> kind
        self.candidates: OrderedDict = OrderedDict()  # flow key -> client endpoint (SYN seen)
        # flows closed by FIN/RST: their last ACKs and late retransmissions must not
        # open a new "connection"; only a new SYN does
        self.closed: OrderedDict = OrderedDict()
        self.late_segments = 0
        self.last_ts = None            # the last packet of an MSN connection (bare ACKs too)
        self.closed_commands = 0    # commands framed on connections closed since
        # what can matter, for the readers' filters (libpcap BPF, kernel BPF, Python)
        self.follow = Follow(ports)
        self.segments = 0
        self.gateway = Gateway(limits, self.reasm.new_id)

    # ------------------------------------------------------------ selection
    def _is_server_ep(self, ip, port) -> bool:
        return (port in self.ports or (ip, port) in self.announced
                or (None, port) in self.announced)

    def announce(self, address: str, kind: str) -> str | None:
        """Follow connections to ``host:port`` announced in the traffic.  Returns why
        an endpoint cannot be followed (a port that is not 1..65535 ASCII digits), for
        an anomaly: such a port never reaches the filters."""
        if not self.follow_announced:
            return None
        host, _, port_s = address.rpartition(":")
        port = net_port(port_s)
        if port is None:
            shown = port_s if len(port_s) <= 20 else f"{port_s[:20]}… ({len(port_s)} characters)"
            return f"{kind} endpoint with port {shown!r} cannot be followed"
        host = host.strip("[]")
        ip = host if re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+", host) and host != "0.0.0.0" else None
        self.announced[(ip, port)] = kind
        self.announced.move_to_end((ip, port))
        if len(self.announced) > self.limits.max_announced:
            self.announced.popitem(last=False)
        self.follow.add(ip, port)
        return None

    def _open(self, seg: Segment, out: list):
        flags = seg.flags
        key = flow_key(seg)
        by_port_dst = self._is_server_ep(seg.dst, seg.dport)
        by_port_src = self._is_server_ep(seg.src, seg.sport)
        selected = by_port_dst or by_port_src
        by_content = gateway = from_server = False
        if not selected and seg.payload:
            if CLIENT_START.match(seg.payload):
                selected = by_content = True
            elif is_gateway(seg.payload):
                selected = by_content = gateway = True
            elif is_gateway_response(seg.payload):
                selected = by_content = gateway = True
                from_server = True
        if not selected:
            if flags & SYN and not flags & ACK:
                self.candidates[key] = (seg.src, seg.sport)
                if len(self.candidates) > self.limits.max_candidate_flows:
                    self.candidates.popitem(last=False)
            return None
        if flags & SYN:
            client_is_src = not (flags & ACK)
        elif key in self.candidates:
            client_is_src = self.candidates.pop(key) == (seg.src, seg.sport)
        elif by_content:
            client_is_src = not from_server
        else:
            # no SYN seen: the first line tells who sent it, else the server's port does
            # (a flow opens only on a SYN or on bytes, so these are its first bytes)
            side = _side(seg.payload)
            client_is_src = side == 0 if side is not None else by_port_dst or not by_port_src
        evicted: list = []          # a connection closed to make room (connection cap)
        conn = self.reasm.open(seg, client_is_src, evicted)
        self._stream_events(evicted, out)
        self.states[conn.id] = _ConnState(conn.id, self.limits)
        if gateway:
            # this connection only: the rest of port 80 is none of our business
            self.follow.add_connection(conn.client, conn.server)
        elif by_content:
            self.follow.add(*conn.server)
        out.append(E.ConnectionOpened(seg.ts, conn.id, -1, fmt_ep(conn.client), fmt_ep(conn.server),
                                    seg.ts))
        return conn

    # ------------------------------------------------------------ input
    def feed(self, seg: Segment) -> list:
        self.segments += 1
        out: list = []
        raw: list = []
        reasm = self.reasm
        conn = reasm.lookup(seg)
        if conn is not None:
            self.last_ts = seg.ts
            st = self.states[conn.id]
            if not st.first_data:
                d = reasm.take_in_order(conn, seg)
                if d is not None:
                    # in order on a known connection (most packets): straight to its framer
                    self._items(conn.id, st, d, st.framers[d].feed(seg.payload, seg.ts), out)
                    reasm.tick(raw)
                    if raw:
                        self._stream_events(raw, out)
                    return out
            if seg.flags & SYN and not seg.flags & ACK and reasm.reused(conn, seg, raw):
                self._stream_events(raw, out)
                raw = []
                conn = None
        if conn is None:
            key = flow_key(seg)
            if key in self.closed:
                if not seg.flags & SYN:
                    self.late_segments += 1
                    self.last_ts = seg.ts       # the last ACK of a closed connection
                    return out
                del self.closed[key]
            elif not seg.payload and not seg.flags & SYN:
                return out          # a bare ACK/FIN of a flow we never saw carries nothing
            conn = self._open(seg, out)
            if conn is None:
                return out
            self.last_ts = seg.ts
        self.reasm.feed(conn, seg, raw)
        self._stream_events(raw, out)
        return out

    def finish(self) -> list:
        out: list = []
        raw: list = []
        self.reasm.flush(raw)
        self._stream_events(raw, out)
        self._steps(self.gateway.finish(), out)
        return out

    def run(self, segments):
        """Generator: every event for an iterable of segments, then the final flush."""
        for evs in self.run_lists(segments):
            yield from evs

    def run_core(self, items, core):
        """Generator: the same lists as ``run_lists``, from the items of the compiled
        core reading a capture (core/; corepath.py)."""
        from . import corepath
        return corepath.run(self, items, core)

    def run_lists(self, segments):
        """Generator: the same events as ``run``, as the non-empty list of each segment
        (a consumer that batches them saves a generator step per event)."""
        feed = self.feed
        for seg in segments:
            evs = feed(seg)
            if evs:
                yield evs
        evs = self.finish()
        if evs:
            yield evs

    # ------------------------------------------------------------ stream events
    def _stream_events(self, raw: list, out: list):
        states = self.states
        for ev in raw:
            t = type(ev)
            conn = ev.conn
            st = states[conn.id]
            if t is Data:
                if st.first_data:
                    st.first_data = False
                    if ev.data[:8] == DC_START:
                        # a P2P direct connection: length-prefixed binary frames
                        st.framers = (DirectFramer(), DirectFramer())
                        st.decoder = DirectDecoder(conn.id)
                        out.append(E.RoleKnown(ev.ts, conn.id, -1, "p2p-direct"))
                    if ev.dir == 0 and is_gateway(ev.data) or ev.dir == 1 and \
                            is_gateway_response(ev.data):
                        # HTTP gateway: h11 and the gateway sessions replace the framers
                        st.framers, st.decoder = self.gateway.carrier(conn)
                self._items(conn.id, st, ev.dir, st.framers[ev.dir].feed(ev.data, ev.ts), out)
            elif t is Gap:
                out.append(E.Anomaly(ev.ts, conn.id, ev.dir, "gap",
                                     f"{ev.length} bytes never captured ({ev.reason})",
                                     ev.offset, ev.length))
                self._items(conn.id, st, ev.dir, st.framers[ev.dir].gap(ev.length, ev.ts), out)
            elif t is End:
                self._items(conn.id, st, ev.dir, st.framers[ev.dir].close(ev.ts), out)
            elif t is Closed:
                # (after both End events: what the second framer still held, a payload cut
                # by the capture's end, came before ConnectionClosed)
                self._closed(ev, st, out)

    def _end_state(self, cid, st, ts, reason, c2s, s2c, gaps, dups, out):
        """A connection or gateway session is over: its decoder's last events, then
        ConnectionClosed with its totals."""
        self.closed_commands += st.framers[0].lines + st.framers[1].lines
        out.extend(st.decoder.close(ts))
        out.append(E.ConnectionClosed(ts, cid, -1, st.decoder.kind, reason, c2s, s2c, gaps,
                                      dups))

    def _closed(self, ev, st, out):
        conn = ev.conn
        del self.states[conn.id]
        if ev.reason in ("fin", "rst"):
            # (a connection closed by the cap or by idleness is not over: its later
            # segments start a new connection, as the anomaly below says)
            self.closed[conn.key] = None
            if len(self.closed) > self.limits.max_connections:
                self.closed.popitem(last=False)
        c2s, s2c = ev.delivered
        self._end_state(conn.id, st, ev.ts, ev.reason, c2s, s2c, sum(ev.gap_bytes),
                        sum(ev.dup_bytes), out)
        if ev.reason.startswith("evicted"):
            out.append(E.Anomaly(ev.ts, conn.id, -1, "connection cap",
                                 f"closed early: more than {self.limits.max_connections} "
                                 "connections open at once; its buffered bytes were flushed "
                                 "and later segments start a new connection"))
        early = sum(ev.early_bytes)
        if early:
            out.append(E.Anomaly(ev.ts, conn.id, -1, "unplaceable bytes",
                                 f"{early} bytes arrived before the first byte seen of a "
                                 "mid-session stream"))

    # ------------------------------------------------------------ HTTP gateway sessions
    def _steps(self, steps, out):
        """What the gateway returned: its events, and its sessions' opening, bytes and end,
        which are framed and decoded here as a TCP connection's are."""
        states = self.states
        for s in steps:
            t = type(s)
            if t is Carried:
                lg = s.session
                st = states[lg.id]
                self._items(lg.id, st, s.dir, st.framers[s.dir].feed(s.data, s.ts), out,
                            lg.via)
            elif t is Opened:
                lg = s.session
                states[lg.id] = _ConnState(lg.id, self.limits, first_data=False)
                out.append(E.ConnectionOpened(s.ts, lg.id, -1, lg.client, lg.server, s.ts))
            elif t is Ended:
                lg = s.session
                st = states.pop(lg.id)
                for d in (0, 1):
                    self._items(lg.id, st, d, st.framers[d].close(s.ts), out, lg.via)
                self._end_state(lg.id, st, s.ts, s.reason, lg.bytes[0], lg.bytes[1], 0, 0, out)
            else:
                out.append(s)

    @property
    def next_id(self) -> int:
        """The id the next connection would get (a following capture starts there)."""
        return self.reasm.next_id

    @property
    def open_connections(self) -> int:
        """TCP connections and gateway sessions open now (live's stats line)."""
        return len(self.states)

    @property
    def commands(self) -> int:
        """Framed MSNP commands so far (benchmarks check the count): the framers count
        them, so the per-command path does not."""
        return self.closed_commands + sum(
            f.lines for st in self.states.values() for f in st.framers)

    def _items(self, cid, st, d, items, out, via=None):
        dec = st.decoder
        if type(dec) is CarrierDecoder:
            # HTTP messages (never traced: the trace shows the sessions' commands)
            for item in items:
                self._steps(dec.handle(item, d), out)
            return
        handle = dec.handle
        trace = self.trace
        for item in items:
            if trace:
                out.append(E.Framed(item.ts, cid, d, item, via))
            evs = handle(item, d)
            out += evs
            for ev in evs:
                if type(ev) in _ANNOUNCING:
                    self._announced_by(ev, out)

    def _announced_by(self, ev, out):
        t = type(ev)
        if t is E.Redirect:
            why = [self.announce(ev.target, "notification")]
        elif t is E.Message:
            why = [self.announce(a, "file-transfer") for a in invitation_endpoints(ev)]
        elif t is E.P2PPart:
            why = [self.announce(a, "p2p-direct") for a in direct_endpoints(ev)]
        else:
            why = [self.announce(ev.address, "switchboard")]
        for w in why:
            if w:
                out.append(E.Anomaly(ev.ts, ev.conn, ev.dir, "bad number", w))
