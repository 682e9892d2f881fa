"""TCP reassembly, sans-IO: Segments in, ordered stream events out.

Per connection and direction a ``HalfStream`` turns segments into a contiguous byte
stream addressed by *stream offset* (bytes since the first byte seen), which makes
sequence-number wraparound a non-issue: only the 32-bit difference between a segment's
sequence number and the next expected one is ever computed.

Events (plain slotted classes):
  Data(conn, dir, offset, data, ts)     bytes in stream order
  Gap(conn, dir, offset, length, ts, reason)   bytes that were sent but never seen
  End(conn, dir, reason, ts)            FIN / RST / idle / evicted / capture end
  Closed(conn, reason, ts, delivered, gap_bytes, dup_bytes, early_bytes)
                                        both directions ended (right after the second
                                        End): the connection's totals, (c2s, s2c) each
Direction ``dir`` is 0 = client to server, 1 = server to client; which side is the
client is the caller's to say when it opens the connection, and never changes.  The
reassembler's state is its own: what a caller needs of it comes in these events.

Invariants (checked by tests/test_reassembly.py): for every direction, the Data and Gap
events tile the stream from offset 0 without overlap; duplicates and overlaps are trimmed
and counted (``dup_bytes``), never delivered twice; holes are never zero-filled.

Why not Scapy's TCPSession: see ../shared/design.md (junk on reordering, zero-filled
holes, no end events, state never freed).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from ..capture.packet import FIN, RST, SYN, Segment
from ..config import DEFAULT_LIMITS, Limits

C2S, S2C = 0, 1


class Data:
    __slots__ = ("conn", "dir", "offset", "data", "ts")

    def __init__(self, conn, dir, offset, data, ts):
        self.conn, self.dir, self.offset, self.data, self.ts = conn, dir, offset, data, ts


class Gap:
    __slots__ = ("conn", "dir", "offset", "length", "ts", "reason")

    def __init__(self, conn, dir, offset, length, ts, reason):
        self.conn, self.dir, self.offset, self.length = conn, dir, offset, length
        self.ts, self.reason = ts, reason


class End:
    __slots__ = ("conn", "dir", "reason", "ts")

    def __init__(self, conn, dir, reason, ts):
        self.conn, self.dir, self.reason, self.ts = conn, dir, reason, ts


class Closed:
    __slots__ = ("conn", "reason", "ts", "delivered", "gap_bytes", "dup_bytes", "early_bytes")

    def __init__(self, conn, reason, ts, delivered, gap_bytes, dup_bytes, early_bytes):
        self.conn, self.reason, self.ts = conn, reason, ts
        self.delivered, self.gap_bytes = delivered, gap_bytes
        self.dup_bytes, self.early_bytes = dup_bytes, early_bytes


class HalfStream:
    """One direction of a connection."""

    __slots__ = ("next_seq", "offset", "pending", "pending_bytes", "fin_off", "ended",
                 "isn", "delivered", "gap_bytes", "dup_bytes", "early_bytes", "segments")

    def __init__(self):
        self.next_seq = None        # sequence number of stream offset ``offset``
        self.offset = 0             # next stream offset to deliver
        self.pending = {}           # stream offset -> (bytes, missing tail length)
        self.pending_bytes = 0
        self.fin_off = None
        self.ended = False
        self.isn = None
        self.delivered = 0
        self.gap_bytes = 0
        self.dup_bytes = 0          # retransmitted / overlapping bytes trimmed
        self.early_bytes = 0        # bytes from before the first byte seen (mid-session start)
        self.segments = 0


class Connection:
    """A TCP connection: endpoints, two half streams."""

    __slots__ = ("id", "client", "server", "start", "last", "halves", "key", "closed", "fast")

    def __init__(self, cid, client, server, ts):
        self.id = cid
        self.client = client        # (ip, port)
        self.server = server
        self.start = ts
        self.last = ts
        self.halves = (HalfStream(), HalfStream())
        self.key = None
        self.closed = False
        self.fast = False           # its state is in the compiled core for now (core/)

    @property
    def name(self) -> str:
        return f"{fmt_ep(self.client)} > {fmt_ep(self.server)}"


def fmt_ep(ep) -> str:
    ip, port = ep
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def flow_key(seg: Segment):
    a = (seg.src, seg.sport)
    b = (seg.dst, seg.dport)
    return (a, b) if a <= b else (b, a)


class Reassembler:
    """Flow table + per-direction reassembly.  ``feed`` only sees segments the caller
    decided to track (see pipeline/pipeline.py); ``open`` creates the connection."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS, first_id: int = 1):
        self.limits = limits
        self.conns: OrderedDict = OrderedDict()
        self.next_id = first_id     # (ids stay unique across the captures of one run)
        self.evicted = 0
        self._tick = 0
        self.now = 0.0
        # takes a connection's state back from the compiled core before it is closed
        # (the pipeline sets it when the core reads the capture)
        self.reclaim: Callable[[Connection], None] | None = None

    def lookup(self, seg: Segment):
        return self.conns.get(flow_key(seg))

    def new_id(self) -> int:
        """The next connection id (the HTTP gateway's sessions draw from it too, so that
        ids stay unique)."""
        cid = self.next_id
        self.next_id += 1
        return cid

    def open(self, seg: Segment, client_is_src: bool, events: list):
        """Start tracking the flow of ``seg`` (which side is the client is decided by the
        caller: from the SYN, a known server endpoint, or the content)."""
        a, b = (seg.src, seg.sport), (seg.dst, seg.dport)
        client, server = (a, b) if client_is_src else (b, a)
        conn = Connection(self.new_id(), client, server, seg.ts)
        conn.key = flow_key(seg)
        self.conns[conn.key] = conn
        if len(self.conns) > self.limits.max_connections:
            _, old = self.conns.popitem(last=False)
            self.evicted += 1
            self._close(old, "evicted (connection cap)", seg.ts, events)
        return conn

    def reused(self, conn: Connection, seg: Segment, events: list) -> bool:
        """``seg``, a SYN without ACK on the flow of ``conn``: True (and ``conn`` closed,
        "port reused") when it starts a new connection on the same port pair rather than
        repeating the SYN of this one."""
        half = conn.halves[C2S if (seg.src, seg.sport) == conn.client else S2C]
        if half.isn == seg.seq or not (half.delivered or half.fin_off is not None
                                       or half.isn is not None):
            return False
        self._close(conn, "port reused", seg.ts, events)
        return True

    # ------------------------------------------------------------ segment input
    def take_in_order(self, conn: Connection, seg: Segment):
        """The common case, without events: a segment with only ACK/PSH whose payload
        is the next bytes of an open direction with nothing buffered.  Accounts for it
        exactly as ``feed`` would and returns its direction, so the caller hands the
        payload straight on; returns None (nothing done) for anything else, which then
        goes through ``feed``.  Saves a Data event and its dispatch per packet."""
        if seg.flags & (FIN | SYN | RST) or seg.missing or not seg.payload or conn.closed:
            return None
        d = C2S if (seg.src, seg.sport) == conn.client else S2C
        half = conn.halves[d]
        if half.next_seq != seg.seq or half.pending or half.fin_off is not None or half.ended:
            return None
        ts = seg.ts
        self.now = ts
        conn.last = ts
        self.conns.move_to_end(conn.key)
        half.segments += 1
        n = len(seg.payload)
        half.offset += n
        half.delivered += n
        half.next_seq = (half.next_seq + n) & 0xFFFFFFFF
        self._tick += 1
        return d

    def tick(self, events: list) -> None:
        """After ``take_in_order``: idle eviction runs every 4096 segments, as in feed."""
        if self._tick >= 4096:
            self._tick = 0
            self.evict_idle(self.now, events)

    def feed(self, conn: Connection, seg: Segment, events: list) -> None:
        if conn.closed:             # a finished connection takes nothing more
            return
        ts = seg.ts
        self.now = ts
        conn.last = ts
        self.conns.move_to_end(conn.key)
        d = C2S if (seg.src, seg.sport) == conn.client else S2C
        half = conn.halves[d]
        half.segments += 1
        flags = seg.flags
        if flags & SYN:
            # the SYN fixes the stream's start, unless bytes were already placed (a
            # retransmitted or late SYN must not move the stream under them)
            if half.offset == 0 and not half.pending:
                half.isn = seg.seq
                half.next_seq = (seg.seq + 1) & 0xFFFFFFFF
            seq = (seg.seq + 1) & 0xFFFFFFFF
        else:
            seq = seg.seq
        payload = seg.payload
        if half.next_seq is None:
            half.next_seq = seq          # mid-session start: first byte seen is offset 0
        rel = (seq - half.next_seq) & 0xFFFFFFFF
        if rel >= 0x80000000:
            rel -= 0x100000000
        off = half.offset + rel
        if payload or seg.missing:
            if half.ended:
                half.dup_bytes += len(payload)
            elif off == half.offset and not half.pending and not seg.missing:
                # the common case, the next bytes in order with nothing buffered: what
                # _data would do, without its checks
                events.append(Data(conn, d, off, payload, ts))
                n = len(payload)
                half.offset += n
                half.delivered += n
                half.next_seq = (half.next_seq + n) & 0xFFFFFFFF
            else:
                self._data(conn, d, half, off, payload, seg.missing, ts, events)
        if flags & FIN and half.fin_off is None:
            half.fin_off = off + len(payload) + seg.missing
        if flags & RST:
            for dd in (C2S, S2C):
                self._finish(conn, dd, "rst", ts, events)
            self._maybe_close(conn, "rst", ts, events)
            return
        if half.fin_off is not None and not half.ended and half.offset >= half.fin_off:
            # (bytes buffered beyond a FIN contradict it: they are delivered, not kept)
            self._finish(conn, d, "fin", ts, events)
            self._maybe_close(conn, "fin", ts, events)
        self._tick += 1
        if self._tick >= 4096:
            self._tick = 0
            self.evict_idle(ts, events)

    def _data(self, conn, d, half, off, payload, missing, ts, events):
        if off < 0 and half.delivered == 0 and half.isn is None:
            # bytes from before the first one we saw (capture began mid-stream and
            # packets were reordered): they cannot be placed any more; counted.
            half.early_bytes += min(len(payload), -off)
        if off <= half.offset:
            trimmed = self._trim(half, off, payload, missing)
            if trimmed is None:
                return
            payload, missing = trimmed
            off = half.offset
        if off == half.offset:
            self._deliver(conn, d, half, payload, missing, ts, events)
            self._drain(conn, d, half, ts, events)
        else:
            prev = half.pending.get(off)
            if prev is not None:
                if len(prev[0]) >= len(payload):
                    half.dup_bytes += len(payload)
                    return
                half.pending_bytes -= len(prev[0])
                half.dup_bytes += len(prev[0])
            half.pending[off] = (payload, missing)
            half.pending_bytes += len(payload)
            if half.pending_bytes > self.limits.max_pending_bytes:
                # the hole is not going to fill: declare it a gap and move on
                first = min(half.pending)
                self._gap(conn, d, half, first - half.offset, ts, "buffer cap", events)
                self._drain(conn, d, half, ts, events)

    def _deliver(self, conn, d, half, payload, missing, ts, events):
        if payload:
            events.append(Data(conn, d, half.offset, payload, ts))
            n = len(payload)
            half.offset += n
            half.delivered += n
            half.next_seq = (half.next_seq + n) & 0xFFFFFFFF
        if missing > 0:
            self._gap(conn, d, half, missing, ts, "snaplen", events)

    def _gap(self, conn, d, half, n, ts, reason, events):
        if n <= 0:
            return
        events.append(Gap(conn, d, half.offset, n, ts, reason))
        half.offset += n
        half.gap_bytes += n
        half.next_seq = (half.next_seq + n) & 0xFFFFFFFF

    def _drain(self, conn, d, half, ts, events):
        pending = half.pending
        while pending:
            k = min(pending)
            if k > half.offset:
                return
            payload, missing = pending.pop(k)
            half.pending_bytes -= len(payload)
            trimmed = self._trim(half, k, payload, missing)
            if trimmed is not None:
                self._deliver(conn, d, half, *trimmed, ts, events)

    @staticmethod
    def _trim(half, off, payload, missing) -> tuple[bytes, int] | None:
        """Cut what precedes the next offset to deliver (a retransmission or overlap,
        counted in dup_bytes); None when nothing new is left."""
        if off + len(payload) + missing <= half.offset:
            half.dup_bytes += len(payload)
            return None
        cut = half.offset - off
        if cut <= 0:
            return payload, missing
        if cut >= len(payload):
            half.dup_bytes += len(payload)
            return b"", missing - (cut - len(payload))
        half.dup_bytes += cut
        return payload[cut:], missing

    # ------------------------------------------------------------ endings
    def _finish(self, conn, d, reason, ts, events):
        """Deliver what is buffered (holes become gaps) and end the direction."""
        half = conn.halves[d]
        if half.ended:
            return
        while half.pending:
            k = min(half.pending)
            self._gap(conn, d, half, k - half.offset, ts, "never captured", events)
            self._drain(conn, d, half, ts, events)
        if half.fin_off is not None and half.fin_off > half.offset:
            self._gap(conn, d, half, half.fin_off - half.offset, ts, "never captured", events)
        half.ended = True
        events.append(End(conn, d, reason, ts))

    def _maybe_close(self, conn: Connection, reason, ts, events):
        if conn.halves[0].ended and conn.halves[1].ended and not conn.closed:
            self._closed(conn, reason, ts, events)

    def _close(self, conn: Connection, reason, ts, events):
        if conn.fast and self.reclaim is not None:
            self.reclaim(conn)
        for d in (C2S, S2C):
            self._finish(conn, d, reason, ts, events)
        self._closed(conn, reason, ts, events)

    def _closed(self, conn: Connection, reason, ts, events):
        conn.closed = True
        # keep closed connections out of the table so a reused port pair starts anew
        if self.conns.get(conn.key) is conn:
            del self.conns[conn.key]
        h0, h1 = conn.halves
        events.append(Closed(conn, reason, ts, (h0.delivered, h1.delivered),
                             (h0.gap_bytes, h1.gap_bytes), (h0.dup_bytes, h1.dup_bytes),
                             (h0.early_bytes, h1.early_bytes)))

    def evict_idle(self, now, events):
        limit = now - self.limits.idle_timeout
        while self.conns:
            conn = next(iter(self.conns.values()))
            if conn.last >= limit:
                break
            self.evicted += 1
            self._close(conn, "idle", now, events)

    def flush(self, events):
        """End of input: every open connection is finished."""
        for conn in list(self.conns.values()):
            self._close(conn, "capture end", self.now, events)
