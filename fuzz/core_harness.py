"""The compiled core against the Python path, for fuzzing (fuzz_core.py) and for the
tests (tests/test_core.py): the same capture bytes read by both must give the same
segments and reader counts, and the same events — every framed command, gap, anomaly
and close — with small and default limits.  A difference raises AssertionError."""

from __future__ import annotations

import dataclasses
import os
import tempfile

from msnsniff import core
from msnsniff.capture.files import CaptureStats, read_segments
from msnsniff.capture.follow import Follow
from msnsniff.config import Limits
from msnsniff.engine.analyze import Run
from msnsniff.errors import MsnsniffError

# (the fuzz target sets config.STRICT, so that a decoder or model bug raises there; the
# tests import this module and must not change it for the rest of the suite)
_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else None
# a small max_line puts the core's hand-back on long lines at reach of short inputs
LIMITS = (Limits(), Limits(max_line=40, max_payload=300, max_pending_bytes=512))


def plain(x):
    """Events and what they hold (framed commands, undecodable bytes) as plain values."""
    if dataclasses.is_dataclass(x):
        return (type(x).__name__, *[plain(getattr(x, f.name)) for f in dataclasses.fields(x)])
    if hasattr(x, "__slots__"):
        return (type(x).__name__, *[plain(getattr(x, k)) for k in x.__slots__])
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    return x


def events(path: str, limits: Limits, compiled: bool) -> list:
    """Every event of a traced run of ``path`` on one core, as plain values."""
    _use(compiled)
    try:
        return [plain(ev) for ev in Run([path], limits=limits, trace=True).events()]
    finally:
        _use(True)


def reading(path: str, compiled: bool):
    """(segments, reader counts) of ``path`` with nothing adopted, or None when the
    compiled core does not read such a file."""
    stats = CaptureStats()
    if not compiled:
        _use(False)
        try:
            segs = [_seg(s) for s in read_segments(path, stats, Follow())]
        finally:
            _use(True)
    else:
        r = core.open_capture(path, stats, Limits())
        if r is None:
            return None
        with r:
            r.core.follow(Follow().port_set, set())
            segs = [_seg(s) for s in r.core]
            r.core.sync()
    d = dict(vars(stats))
    for k in ("reader", "position", "msn_last"):
        d.pop(k)
    return segs, d


def compare_file(path: str) -> None:
    fast = reading(path, True)
    if fast is None:
        return
    assert fast == reading(path, False), "reader"
    for limits in LIMITS:
        try:
            a = events(path, limits, True)
        except MsnsniffError:
            return
        assert a == events(path, limits, False), f"events with {limits}"


def compare(data: bytes) -> None:
    fd, path = tempfile.mkstemp(suffix=".pcap", dir=_DIR)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        compare_file(path)
    finally:
        os.unlink(path)


def _use(compiled: bool):
    if compiled:
        os.environ.pop("MSNSNIFF_CORE", None)
        os.environ.pop("MSNSNIFF_READER", None)
    else:
        os.environ["MSNSNIFF_CORE"] = "python"
        os.environ["MSNSNIFF_READER"] = "python"


def _seg(s):
    return (s.ts, s.src, s.sport, s.dst, s.dport, s.seq, s.ack, s.flags, s.payload, s.frame,
            s.missing)
