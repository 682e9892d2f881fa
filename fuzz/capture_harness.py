"""The whole path from capture bytes to every renderer, for fuzzing: the bytes are a
capture file (pcap, pcapng or compressed) read by the pure-Python reader and by libpcap
when it is installed, then reassembly, framing, decoders, model, and the table, CSV,
transcript, timeline, JSON and HTML renderers; and the same bytes as a memory image
through the carver.  Nothing may raise (a MsnsniffError for
a file that is not a capture at all is the one-line error users get, and allowed)."""

from __future__ import annotations

import io
import json
import os
import tempfile

from msnsniff import config
from msnsniff.engine.analyze import analyse
from msnsniff.errors import MsnsniffError
from msnsniff.output.emit import emit, to_json
from msnsniff.output.html import render
from msnsniff.output.sections import write_report
from msnsniff.output.timeline import entries
from msnsniff.output.transcript import conversations
from msnsniff.stream.carve import Carver, Grouper

# strict: a decoder or model bug raises (and the fuzzer reports it) instead of becoming
# a "decoder error" / "model error" row
config.STRICT = True
_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else None


def carve_all(data: bytes) -> None:
    """The bytes as an image, through the carver and its grouping."""
    c, g = Carver(), Grouper()
    for r in c.feed(data) + c.close():
        g.add(r)
    g.result()


def run_capture(data: bytes, readers=("python",)) -> None:
    carve_all(data)
    fd, path = tempfile.mkstemp(suffix=".pcap", dir=_DIR)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        for reader in readers:
            os.environ["MSNSNIFF_READER"] = reader
            try:
                doc = analyse([path])
            except MsnsniffError:
                return
            render_all(doc)
            live_lines(path)
    finally:
        os.environ.pop("MSNSNIFF_READER", None)
        os.unlink(path)


def live_lines(path: str) -> None:
    """`live`'s lines for the capture's events (its formatter reads the model's open
    state and the rows each event made)."""
    from msnsniff.capture.files import CaptureStats, read_segments
    from msnsniff.model import Analysis
    from msnsniff.output.livefmt import LiveFormatter
    from msnsniff.pipeline import Pipeline
    pipe, analysis = Pipeline(), Analysis(sink=lambda t, r: None, stream_sessions=True)
    printer = LiveFormatter(analysis)
    try:
        segs = list(read_segments(path, CaptureStats()))
    except MsnsniffError:
        return
    for evs in [*(pipe.feed(s) for s in segs), pipe.finish()]:
        for ev in evs:
            analysis.apply(ev)
            printer.record(ev)


def render_all(doc: dict) -> None:
    out = io.StringIO()
    write_report(doc, out)
    for t, rows in doc.items():
        if isinstance(rows, list) and rows:
            emit(rows, list(rows[0]), "csv", out)
            emit(rows, list(rows[0]), "table", out)
    for head, rows in conversations(doc):
        emit(rows, ["time", "sender", "text"], "table", out)
    for t, rows in doc.items():
        if isinstance(rows, list):
            for r in rows:
                for _ in entries(t, r):
                    pass
    json.loads(to_json({k: v for k, v in doc.items() if k != "summary"},))
    render(doc, out, "fuzz")
