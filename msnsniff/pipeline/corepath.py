"""The pipeline driven by the compiled core (core/_core.c): its items are Segments for
the Python path, packets of adopted connections it framed itself, and connections it
gives back.  No I/O here (the core reads the file; this only takes its items).

A connection is adopted once the Python path has settled everything the core does not
do — which side is the client, what its first bytes say it is (MSNP, not P2P direct, an
HTTP carrier or MSNFTP) — and while nothing is out of order: both directions have
nothing buffered out of order and no FIN.  Its reassembly and framing state then moves
into the core, and comes back (``restore``) before anything the core does not do: an
unusual packet, or the connection's close by the cap, idleness or the capture's end.
The bookkeeping the Python path does per packet (the connection's last time and its
place in the idle order, the idle eviction tick, the last MSN time) is done here for
every adopted packet, so the state is the same whichever path a packet took.
"""

from __future__ import annotations

from ..stream.framing import LINE, PAYLOAD, Framer
from ..stream.reassembly import flow_key

_FRAMING = (LINE, PAYLOAD)
BATCH = 64


def run(pipe, items, core):
    """Generator: every event of the core's items (the same lists ``run_lists`` gives),
    then the final flush."""
    reasm = pipe.reasm
    fast: dict = {}                 # connection id -> (Connection, _ConnState)
    reasm.reclaim = lambda conn: restore(pipe, core, fast, conn.id,
                                         core.release(*conn.client, *conn.server))
    follow = pipe.follow
    widen = _Widening(follow, core)
    conns = reasm.conns
    move = conns.move_to_end
    states = pipe.states
    feed = pipe.feed
    items_ = pipe._items
    # events go out in lists of about BATCH (fewer generator steps than one per packet),
    # in the order they were made
    out: list = []
    # the time of the last adopted packet, written to the reassembler and the pipeline
    # before anything reads it (the Python path, the idle tick, the end): not per packet
    last = None
    adopted_packets = 0
    try:
        for item in items:
            if type(item) is tuple:
                if len(item) == 4:
                    cid, d, ts, cmds = item
                    conn, st = fast[cid]
                    conn.last = last = ts
                    move(conn.key)
                    adopted_packets += 1
                    if cmds is not None:
                        items_(cid, st, d, cmds, out)
                    reasm._tick += 1
                    if reasm._tick >= 4096:
                        reasm.now = ts
                        raw: list = []
                        reasm.tick(raw)
                        pipe._stream_events(raw, out)
                    if follow.version != widen.version:
                        widen()
                    if len(out) >= BATCH:
                        yield out
                        out = []
                    continue
                cid, state, item = item
                restore(pipe, core, fast, cid, state)
            if last is not None:
                reasm.now = pipe.last_ts = last
                last = None
            evs = feed(item)
            conn = conns.get(flow_key(item))
            if conn is not None and not conn.fast:
                st = states.get(conn.id)
                if st is not None and adoptable(conn, st):
                    adopt(core, fast, conn, st)
            if follow.version != widen.version:
                widen()
            if evs:
                out += evs
                if len(out) >= BATCH:
                    yield out
                    out = []
        if out:
            yield out
    finally:
        pipe.segments += adopted_packets
        if last is not None:
            reasm.now = pipe.last_ts = last
        core.sync()
    evs = pipe.finish()
    reasm.reclaim = None
    if evs:
        yield evs


class _Widening:
    """Hands the core what the pipeline follows, as it widens: only what is new each
    time (Follow only ever adds ports and connections), so a capture that announces
    thousands of endpoints costs linear time."""

    def __init__(self, follow, core):
        self.follow, self.core = follow, core
        core.follow(follow.port_set, follow.conn_pairs)
        self.ports, self.conns = len(follow.extra), len(follow.conns)
        self.version = follow.version

    def __call__(self):
        f = self.follow
        pairs = [(cp, sp) for _ci, cp, _si, sp in f.conns[self.conns:]]
        self.core.follow(f.extra[self.ports:], pairs + [(b, a) for a, b in pairs])
        self.ports, self.conns, self.version = len(f.extra), len(f.conns), f.version


def adoptable(conn, st) -> bool:
    """The core can take this connection over exactly (see the module's comment)."""
    if st.first_data or conn.closed:
        return False
    for f in st.framers:
        if type(f) is not Framer or f.ftp or f.state not in _FRAMING or \
                f.state == PAYLOAD and f.buf:
            return False
    for h in conn.halves:
        if h.pending or h.fin_off is not None or h.ended:
            return False
    return True


def _state(h, f) -> tuple:
    return (h.next_seq, h.offset, h.delivered, h.segments, f.base, bytes(f.buf), f.state,
            f.cmd, f.need, f.parts, f.lines, f.decoded, f.fed)


def adopt(core, fast, conn, st):
    (cip, cport), (sip, sport) = conn.client, conn.server
    core.adopt(conn.id, cip, cport, sip, sport, _state(conn.halves[0], st.framers[0]),
               _state(conn.halves[1], st.framers[1]))
    conn.fast = True
    fast[conn.id] = (conn, st)


def restore(pipe, core, fast, cid, state):
    """The core's state of a connection back into its Python objects."""
    conn, st = fast.pop(cid)
    conn.fast = False
    for d in (0, 1):
        (next_seq, offset, delivered, segments, base, buf, fstate, cmd, need, parts, lines,
         decoded, fed) = state[d]
        h, f = conn.halves[d], st.framers[d]
        h.next_seq, h.offset, h.delivered, h.segments = next_seq, offset, delivered, segments
        f.base, f.buf, f.scanned, f.state = base, bytearray(buf), len(buf), fstate
        f.cmd, f.need, f.parts = cmd, need, parts
        f.lines, f.decoded, f.fed = lines, decoded, fed
