"""The fuzzing harness shared by the atheris target (fuzz_msnp.py) and the hypothesis
tests: arbitrary bytes, cut into chunks and sent both ways on a TCP connection to port
1863, through reassembly, framing, the decoders and the model, to the finished
document.  Nothing may raise; every byte must be accounted for.  It runs in strict mode
(config.STRICT): a bug in a decoder or the model raises here instead of becoming a
"decoder error" row, so the fuzzers and property tests can find it."""

from __future__ import annotations

import json

from msnsniff import config
from msnsniff.capture.packet import ACK, PSH, SYN, Segment
from msnsniff.events import ConnectionClosed
from msnsniff.model import Analysis
from msnsniff.pipeline import Pipeline

CLIENT, SERVER = ("10.0.0.1", 40000), ("10.0.0.2", 1863)


def run_chunks(chunks: list[tuple[int, bytes]], gaps: set[int] = frozenset()) -> dict:
    """chunks: (direction 0 = client, 1 = server; bytes).  A chunk whose index is in
    ``gaps`` is lost (a capture gap).  Returns the document; checks byte accounting."""
    strict, config.STRICT = config.STRICT, True
    try:
        return _run(chunks, gaps)
    finally:
        config.STRICT = strict


class _Tapped(Pipeline):
    """The pipeline, keeping the reassembler's Closed events: each direction's totals
    (ConnectionClosed sums the two directions' gaps)."""

    def __init__(self):
        super().__init__()
        self.totals: dict = {}

    def _closed(self, ev, st, out):
        self.totals[ev.conn.id] = ev
        super()._closed(ev, st, out)


def _run(chunks, gaps):
    p = _Tapped()
    a = Analysis()
    seq = [1000, 5000]
    segs = [Segment(0.0, *CLIENT, *SERVER, seq[0] - 1, 0, SYN, b""),
            Segment(0.0, *SERVER, *CLIENT, seq[1] - 1, seq[0], SYN | ACK, b"")]
    sent = [0, 0]
    for i, (d, data) in enumerate(chunks):
        src, dst = (CLIENT, SERVER) if d == 0 else (SERVER, CLIENT)
        if i not in gaps:
            segs.append(Segment(0.001 * (i + 1), *src, *dst, seq[d], seq[1 - d], PSH | ACK, data))
        seq[d] = (seq[d] + len(data)) & 0xFFFFFFFF
        sent[d] += len(data)
    states: dict = {}           # the pipeline's, kept past the connection's close
    closed = []
    for s in segs:
        for ev in p.feed(s):
            a.apply(ev)
            if type(ev) is ConnectionClosed:
                closed.append(ev)
        states.update(p.states)
    for ev in p.finish():
        a.apply(ev)
        if type(ev) is ConnectionClosed:
            closed.append(ev)
    doc = a.document()
    json.dumps(doc, default=lambda o: o.hex() if isinstance(o, (bytes, bytearray)) else str(o))
    if states and hasattr(states[1].framers[0], "demux"):
        # an HTTP gateway carrier (the bytes began like a gateway POST): its demux was
        # given what the reassembler delivered, each direction
        demux = states[1].framers[0].demux
        end = next(ev for ev in closed if ev.conn == 1)
        assert tuple(demux.fed) == (end.bytes_c2s, end.bytes_s2c)
    elif states:
        framers = states[1].framers
        for fr in framers:
            # every byte the connection carried is decoded, undecodable or a gap
            assert fr.decoded + fr.undecodable + fr.gap_bytes == fr.fed + fr.gap_bytes
        # ... and the framers were given what the reassembler reports it delivered
        end = next(ev for ev in closed if ev.conn == 1)
        assert (framers[0].fed, framers[1].fed) == (end.bytes_c2s, end.bytes_s2c)
        assert framers[0].gap_bytes + framers[1].gap_bytes == end.gap_bytes
        # each direction's gaps where they were, as the reassembler counted them
        assert (framers[0].gap_bytes, framers[1].gap_bytes) == p.totals[1].gap_bytes
    return doc
