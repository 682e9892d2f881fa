"""Run the pipeline over capture files: the glue between capture input (I/O), the
sans-IO pipeline and the model.  Used by every file-reading command."""

from __future__ import annotations

from collections import Counter

from .capture import CaptureStats, read_segments
from .config import DEFAULT_LIMITS, Limits
from .model import Analysis, iso
from .pipeline import Pipeline
from .schema import normalise


class Run:
    """Events of one or more captures, with their statistics, numbered so that
    connection ids stay unique across files."""

    def __init__(self, paths, ports=(), limits: Limits = DEFAULT_LIMITS, trace=False,
                 progress=None):
        self.paths = list(paths)
        self.ports = ports
        self.limits = limits
        self.trace = trace
        self.stats: list[tuple[str, CaptureStats]] = []
        self.conn_capture: dict[int, str] = {}
        self.progress = progress
        self.late_segments = 0

    def events(self):
        next_id = 1
        for path in self.paths:
            stats = CaptureStats()
            self.stats.append((path, stats))
            pipe = Pipeline(self.ports, self.limits, trace=self.trace)
            pipe.reasm.next_id = next_id
            segs = read_segments(path, stats)
            if self.progress is not None:
                segs = self.progress(path, segs, stats)
            for ev in pipe.run(segs):
                yield ev
            for cid in range(next_id, pipe.reasm.next_id):
                self.conn_capture[cid] = path
            next_id = pipe.reasm.next_id
            self.late_segments += pipe.late_segments
            for notice in stats.notices():
                yield CaptureNotice(path, notice)


class CaptureNotice:
    """Damage found by the capture reader (truncation, fragments, snaplen)."""

    __slots__ = ("path", "text")

    def __init__(self, path, text):
        self.path, self.text = path, text


def analyse(paths, ports=(), limits: Limits = DEFAULT_LIMITS, progress=None) -> dict:
    """The analysis document for one or more captures."""
    run = Run(paths, ports, limits, progress=progress)
    a = Analysis(limits)
    notices = []
    for ev in run.events():
        if type(ev) is CaptureNotice:
            notices.append(ev)
        else:
            a.apply(ev)
    doc = a.document()
    for table, rows in doc.items():
        for r in rows:
            if "session" in r:
                r["capture"] = run.conn_capture.get(r["session"])
    for s in doc["sessions"]:
        s["capture"] = run.conn_capture.get(s["id"])
    for n in notices:
        doc["anomalies"].append({"time": None, "session": None, "capture": n.path,
                                 "direction": None, "kind": "capture", "detail": n.text,
                                 "offset": None, "length": 0})
    normalise(doc)
    doc["summary"] = summary(doc, run)
    return doc


def summary(doc, run) -> dict:
    caps = []
    for path, st in run.stats:
        caps.append({"file": path, "format": st.format, "packets": st.packets,
                     "bytes": st.bytes, "tcp_segments": st.tcp_segments,
                     "ip_fragments": st.ip_fragments, "snapped": st.snapped,
                     "bad_headers": st.bad_headers, "truncated": st.truncated,
                     "notices": st.notices()})
    kinds = Counter(s["kind"] for s in doc["sessions"])
    accounts = sorted({s["passport"] for s in doc["sessions"]
                       if s["passport"] and s["kind"] in ("notification", "dispatch")})
    return {
        "captures": caps,
        "sessions": len(doc["sessions"]),
        "sessions_by_kind": dict(sorted(kinds.items())),
        "accounts": accounts,
        "messages": sum(1 for m in doc["messages"] if m["kind"] == "text"),
        "transfers": len(doc["transfers"]),
        "gap_bytes": sum(s["gap_bytes"] for s in doc["sessions"]),
        "anomalies": dict(sorted(Counter(a["kind"] for a in doc["anomalies"]).items())),
        "first": min((s["start"] for s in doc["sessions"] if s["start"]), default=None),
        "last": max((s["end"] for s in doc["sessions"] if s["end"]), default=None),
    }


__all__ = ["Run", "analyse", "iso", "CaptureNotice"]
