"""TCP reassembly: order, duplicates, overlaps, wraparound, gaps, FIN/RST, reuse, caps."""

from conftest import raw_segments
from hypothesis import given, settings
from hypothesis import strategies as st

from msnsniff.capture.packet import ACK, FIN, RST, SYN, Segment
from msnsniff.config import Limits
from msnsniff.stream.reassembly import Closed, Data, End, Gap, Reassembler


def alice_ns_server_segments():
    """Alice's notification-server connection, server->client, from the real capture."""
    segs = raw_segments("msnp8_session.pcap")
    port = next(s.sport for s in segs if s.src == "127.0.0.10" and s.dst == "127.0.0.2"
                and s.flags & SYN)
    return [s for s in segs if s.src == "127.0.0.2" and s.dport == port]


BASE = alice_ns_server_segments()


def _unique_stream(segs):
    # the real capture holds two genuine retransmissions (the kernel's tail-loss probe
    # on loopback), so the stream is the payloads of the distinct sequence numbers
    seen = {}
    for s in segs:
        if s.payload:
            seen.setdefault(s.seq, s.payload)
    return b"".join(seen[k] for k in sorted(seen))


PAYLOAD = _unique_stream(BASE)
CAPTURED_DUPS = sum(len(s.payload) for s in BASE if s.payload) - len(PAYLOAD)


def run(segs, limits=None):
    r = Reassembler(limits or Limits())
    events = []
    first = segs[0]
    # the client of this flow is the destination of the server's segments
    conn = r.open(Segment(0, first.dst, first.dport, first.src, first.sport, 0, 0, SYN, b""),
                  True, events)
    for s in segs:
        r.feed(conn, s, events)
    r.flush(events)
    return conn, events


def stream_of(events, d=1):
    out, pos = [], 0
    for e in events:
        if isinstance(e, Data) and e.dir == d:
            assert e.offset == pos                  # tiles the stream, no overlap
            out.append(e.data)
            pos += len(e.data)
        elif isinstance(e, Gap) and e.dir == d:
            assert e.offset == pos
            out.append(None)
            pos += e.length
    return out


def shifted(segs, delta):
    return [Segment(s.ts, s.src, s.sport, s.dst, s.dport, (s.seq + delta) & 0xFFFFFFFF, s.ack,
                    s.flags, s.payload) for s in segs]


def test_real_stream_in_order():
    assert len(PAYLOAD) == 1956 and BASE[0].flags & SYN and CAPTURED_DUPS == 299
    conn, ev = run(BASE)
    assert b"".join(stream_of(ev)) == PAYLOAD
    assert conn.halves[1].dup_bytes == CAPTURED_DUPS
    assert [e.reason for e in ev if isinstance(e, End) and e.dir == 1] == ["fin"]


@given(st.data())
@settings(max_examples=150, deadline=None)
def test_any_order_and_duplicates_give_the_same_bytes(data):
    syn, rest = BASE[0], BASE[1:]
    perm = data.draw(st.permutations(rest))
    dups = data.draw(st.lists(st.sampled_from(rest), max_size=6))
    order = list(perm)
    for d in dups:
        order.insert(data.draw(st.integers(0, len(order))), d)
    conn, ev = run([syn] + order)
    assert b"".join(stream_of(ev)) == PAYLOAD
    assert conn.halves[1].gap_bytes == 0
    assert conn.halves[1].dup_bytes == CAPTURED_DUPS + sum(len(d.payload) for d in dups)


@given(st.integers(0, 0xFFFFFFFF))
@settings(max_examples=50, deadline=None)
def test_sequence_wraparound(isn):
    segs = shifted(BASE, (isn - BASE[0].seq))
    _, ev = run(segs)
    assert b"".join(stream_of(ev)) == PAYLOAD


def test_wraparound_right_at_the_edge_with_reordering():
    segs = shifted(BASE, (0xFFFFFFFF - 50) - BASE[0].seq)
    segs[3], segs[4] = segs[4], segs[3]
    _, ev = run(segs)
    assert b"".join(stream_of(ev)) == PAYLOAD


def test_overlapping_retransmission_is_trimmed():
    data = [s for s in BASE if s.payload]
    a = data[2]
    # a segment covering the second half of a and the first part of the next one
    merged = a.payload + data[3].payload
    over = Segment(a.ts, a.src, a.sport, a.dst, a.dport, (a.seq + 10) & 0xFFFFFFFF, a.ack, ACK,
                   merged[10:])
    segs = BASE[:BASE.index(data[3])] + [over] + BASE[BASE.index(data[3]):]
    conn, ev = run(segs)
    assert b"".join(stream_of(ev)) == PAYLOAD
    assert conn.halves[1].dup_bytes == CAPTURED_DUPS + len(merged) - 10


def test_missing_segment_is_an_explicit_gap_never_zero_filled():
    data = [s for s in BASE if s.payload]
    lost = data[4]
    segs = [s for s in BASE if s.seq != lost.seq]
    conn, ev = run(segs)
    parts = stream_of(ev)
    assert None in parts
    gap = [e for e in ev if isinstance(e, Gap)]
    assert [(g.length, g.reason) for g in gap] == [(len(lost.payload), "never captured")]
    joined = b"".join(p for p in parts if p is not None)
    assert joined == PAYLOAD.replace(lost.payload, b"", 1)
    assert b"\x00" * 8 not in joined


def test_buffer_cap_declares_the_hole_a_gap():
    data = [s for s in BASE if s.payload]
    lost = data[1]
    segs = [s for s in BASE if s.seq != lost.seq]
    conn, ev = run(segs, Limits(max_pending_bytes=100))
    gaps = [e for e in ev if isinstance(e, Gap)]
    assert gaps and gaps[0].reason == "buffer cap" and gaps[0].length == len(lost.payload)
    assert conn.halves[1].pending_bytes == 0


def test_mid_session_start_begins_at_first_byte_seen():
    data = [s for s in BASE if s.payload]
    segs = data[3:]
    expect = _unique_stream(segs)
    r = Reassembler()
    ev = []
    conn = r.open(segs[0], False, ev)
    for s in segs:
        r.feed(conn, s, ev)
    r.flush(ev)
    assert b"".join(stream_of(ev)) == expect


def _png_sent():
    """A connection whose client sent its SYN (ISN 100) and `PNG\\r\\n`."""
    r = Reassembler()
    ev = []
    c = Segment(1.0, "10.0.0.1", 4000, "10.0.0.2", 1863, 100, 0, SYN, b"")
    conn = r.open(c, True, ev)
    r.feed(conn, c, ev)
    r.feed(conn, Segment(1.1, "10.0.0.1", 4000, "10.0.0.2", 1863, 101, 0, ACK, b"PNG\r\n"), ev)
    return r, ev, conn


def test_rst_ends_both_directions():
    r, ev, conn = _png_sent()
    r.feed(conn, Segment(1.2, "10.0.0.2", 1863, "10.0.0.1", 4000, 900, 0, RST, b""), ev)
    assert sorted((e.dir, e.reason) for e in ev if isinstance(e, End)) == [(0, "rst"), (1, "rst")]
    assert conn.closed


def test_fin_with_unseen_bytes_before_it_reports_them():
    r, ev, conn = _png_sent()
    # bytes 106..115 were never captured; the FIN comes at 116
    r.feed(conn, Segment(1.2, "10.0.0.1", 4000, "10.0.0.2", 1863, 116, 0, FIN | ACK, b""), ev)
    r.flush(ev)
    gaps = [(g.offset, g.length) for g in ev if isinstance(g, Gap)]
    assert gaps == [(5, 10)]


def test_connection_cap_evicts_and_reports():
    r = Reassembler(Limits(max_connections=3))
    ev = []
    for i in range(5):
        s = Segment(float(i), "10.0.0.1", 5000 + i, "10.0.0.2", 1863, 1, 0, SYN, b"")
        conn = r.open(s, True, ev)
        r.feed(conn, s, ev)
    assert len(r.conns) == 3 and r.evicted == 2
    assert sum(1 for e in ev if isinstance(e, End) and e.reason.startswith("evicted")) == 4


def test_idle_connections_are_evicted():
    r = Reassembler(Limits(idle_timeout=10))
    ev = []
    s = Segment(0.0, "10.0.0.1", 5000, "10.0.0.2", 1863, 1, 0, SYN, b"")
    conn = r.open(s, True, ev)
    r.feed(conn, s, ev)
    r.evict_idle(100.0, ev)
    assert conn.closed and [e.reason for e in ev if isinstance(e, End)] == ["idle", "idle"]


def test_port_reuse_starts_a_new_connection():
    """Two connections on the same port pair in one capture (pipeline level)."""
    from msnsniff.events import ConnectionOpened
    from msnsniff.pipeline import Pipeline
    p = Pipeline()
    out = []
    for isn in (1000, 50000):
        out += p.feed(Segment(1.0, "10.0.0.1", 4000, "10.0.0.2", 1863, isn, 0, SYN, b""))
        out += p.feed(Segment(1.1, "10.0.0.1", 4000, "10.0.0.2", 1863, isn + 1, 0, ACK,
                              b"VER 1 MSNP8 CVR0\r\n"))
    out += p.finish()
    assert [e.conn for e in out if isinstance(e, ConnectionOpened)] == [1, 2]


def test_closed_follows_both_ends_with_each_directions_totals():
    """What the pipeline reads of a finished connection comes in the reassembler's own
    Closed event: right after the second End, each direction's delivered, gap,
    duplicate and unplaceable bytes."""
    r = Reassembler()
    ev = []
    cl, sv = ("10.0.0.1", 4000), ("10.0.0.2", 1863)
    first = Segment(1.0, *cl, *sv, 700, 0, ACK, b"PNG\r\n")         # mid-session start
    conn = r.open(first, True, ev)
    for s in (first,
              Segment(1.1, *sv, *cl, 5010, 0, ACK, b""),              # the server's start
              Segment(1.2, *sv, *cl, 5005, 0, ACK, b"early12345"),   # 5 bytes before it
              Segment(1.3, *sv, *cl, 5010, 0, ACK, b"12345"),        # a retransmission
              Segment(1.4, *sv, *cl, 5025, 0, ACK, b"IRO 1\r\n"),    # 10 bytes unseen
              Segment(1.5, *cl, *sv, 705, 0, FIN | ACK, b"OUT\r\n")):
        r.feed(conn, s, ev)
    r.flush(ev)
    ends = [(type(e).__name__, getattr(e, "dir", None), e.reason)
            for e in ev if type(e) in (End, Closed)]
    assert ends == [("End", 0, "fin"), ("End", 1, "capture end"), ("Closed", None, "capture end")]
    c = ev[-1]
    assert type(c) is Closed and c.conn is conn and c.ts == 1.5
    assert (c.delivered, c.gap_bytes, c.dup_bytes, c.early_bytes) == \
        ((10, 12), (0, 10), (0, 10), (0, 5))
    assert conn.key not in r.conns


def test_closed_totals_are_what_read_reports():
    """reordered.pcap, through the pipeline as `read` runs it: every connection's Closed
    event carries the byte counts the document's sessions show."""
    from conftest import cap

    from msnsniff import analyse
    from msnsniff.capture.files import read_segments
    from msnsniff.pipeline import Pipeline
    from msnsniff.stream.reassembly import fmt_ep

    class Tap(Pipeline):
        def __init__(self):
            super().__init__()
            self.seen = []

        def _stream_events(self, raw, out):
            self.seen += [e for e in raw if type(e) is Closed]
            super()._stream_events(raw, out)

    p = Tap()
    for _ in p.run_lists(read_segments(cap("reordered.pcap"))):
        pass
    got = {(fmt_ep(c.conn.client), fmt_ep(c.conn.server)): (c.reason, *c.delivered,
                                                            sum(c.gap_bytes))
           for c in p.seen}
    doc = analyse(cap("reordered.pcap"))
    assert got == {(s["client"], s["server"]): (s["close_reason"], s["bytes_c2s"],
                                                 s["bytes_s2c"], s["gap_bytes"])
                   for s in doc["sessions"]}
    alice = next(c for c in p.seen if fmt_ep(c.conn.client) == "127.0.0.10:52677")
    # the capture's reordering made the server's side resend 540 bytes
    assert (alice.delivered, alice.dup_bytes, alice.early_bytes) == ((513, 1956), (0, 540),
                                                                     (0, 0))


def test_a_new_syn_on_a_used_port_pair_closes_the_old_connection():
    r, ev, conn = _png_sent()
    same = Segment(1.2, "10.0.0.1", 4000, "10.0.0.2", 1863, 100, 0, SYN, b"")
    assert not r.reused(conn, same, ev) and not conn.closed        # a repeated SYN
    new = Segment(1.3, "10.0.0.1", 4000, "10.0.0.2", 1863, 7000, 0, SYN, b"")
    assert r.reused(conn, new, ev) and conn.closed
    c = ev[-1]
    assert type(c) is Closed and (c.reason, c.delivered) == ("port reused", (5, 0))


def test_who_is_the_client_is_settled_before_the_first_byte():
    """No SYN and a server port on both sides: the first line (a server's IRO, with a
    FIN) names the client before any event exists, so the connection is opened the
    right way round and both of its directions end (an event's direction is never
    changed afterwards)."""
    from msnsniff.events import ConnectionClosed, ConnectionOpened
    from msnsniff.pipeline import Pipeline
    sv, cl = ("10.0.0.2", 1863), ("10.0.0.1", 1863)
    iro, chg = b"IRO 2 1 1 c@d.com C\r\n", b"CHG 3 NLN 0\r\n"
    p = Pipeline()
    out = p.feed(Segment(1.0, *sv, *cl, 5000, 1000, FIN | ACK, iro))
    out += p.feed(Segment(1.1, *cl, *sv, 1000, 5022, ACK, chg))
    out += p.feed(Segment(1.2, *cl, *sv, 1013, 5022, FIN | ACK, b""))
    opened = [(e.client, e.server) for e in out if type(e) is ConnectionOpened]
    closed = [(e.ts, e.reason, e.bytes_c2s, e.bytes_s2c) for e in out
              if type(e) is ConnectionClosed]
    assert opened == [("10.0.0.1:1863", "10.0.0.2:1863")]
    assert closed == [(1.2, "fin", len(chg), len(iro))]
    assert p.states == {} and p.commands == 2
    assert p.finish() == []
