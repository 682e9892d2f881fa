"""Run the pipeline over capture files: the glue between capture input (I/O), the
sans-IO pipeline and the model.  Used by every file-reading command.

Rows leave the model as soon as their connection is finished (see model/__init__.py);
``stream`` hands them on one by one (JSON Lines export), ``analyse`` collects them into
the analysis document.
"""

from __future__ import annotations

from collections import Counter
from itertools import chain

from ..capture.files import CaptureStats, file_provenance, file_size, read_segments
from ..config import DEFAULT_LIMITS, Limits
from ..core import open_capture
from ..model.schema import TABLE_NAMES, TABLES
from ..model.timefmt import iso
from ..pipeline import Pipeline


class Run:
    """Events of one or more captures, with their statistics, numbered so that
    connection ids stay unique across files."""

    def __init__(self, paths, ports=(), limits: Limits = DEFAULT_LIMITS, trace=False,
                 progress=None, split=False):
        self.paths = list(paths)
        # read and decode in a child process while this one builds the model (stages.py)
        self.split = split
        self.ports = ports
        self.limits = limits
        self.trace = trace
        self.stats: list[tuple[str, CaptureStats]] = []
        self.progress = progress
        self.late_segments = 0
        self.commands = 0
        self.current = None

    def events(self):
        evs = self._events()
        if self.split:
            from . import stages
            if stages.available():
                evs = stages.events(self._lists, self._state, self._set_state)
        for ev in evs:
            if type(ev) is CaptureStart:
                self.current = ev.path
                continue
            yield ev

    def _state(self):
        return self.stats, self.late_segments, self.commands

    def _set_state(self, state):
        self.stats, self.late_segments, self.commands = state

    def _events(self):
        for evs in self._lists():
            yield from evs

    def _lists(self):
        """The events, as lists (the pipeline's list per segment)."""
        next_id = 1
        for path in self.paths:
            stats = CaptureStats()
            self.stats.append((path, stats))
            self.current = path
            yield [CaptureStart(path)]
            pipe = Pipeline(self.ports, self.limits, trace=self.trace, first_id=next_id)
            reader = open_capture(path, stats, self.limits)
            if reader is not None:
                # the compiled core reads it (core/): the same events, less CPU
                with reader:
                    items = reader.core
                    if self.progress is not None:
                        items = self.progress(path, items, stats)
                    yield from pipe.run_core(items, reader.core)
            else:
                segs = read_segments(path, stats, pipe.follow)
                if self.progress is not None:
                    segs = self.progress(path, segs, stats)
                yield from pipe.run_lists(segs)
            stats.msn_last = pipe.last_ts
            next_id = pipe.next_id
            self.late_segments += pipe.late_segments
            self.commands += pipe.commands
            yield [CaptureNotice(path, notice) for notice in stats.notices()] + [CaptureEnd(path)]


class CaptureStart:
    """The events that follow come from this capture file."""

    __slots__ = ("path",)

    def __init__(self, path):
        self.path = path


class CaptureEnd:
    """All events of one capture file have been yielded."""

    __slots__ = ("path",)

    def __init__(self, path):
        self.path = path


class CaptureNotice:
    """Damage found by the capture reader (truncation, fragments, snaplen)."""

    __slots__ = ("path", "text")

    def __init__(self, path, text):
        self.path, self.text = path, text


class Summary:
    """The capture-level summary, counted from the rows as they go by."""

    def __init__(self):
        self.kinds: Counter = Counter()
        self.accounts: set = set()
        self.messages = 0
        self.transfers = 0
        self.gap_bytes = 0
        self.anomalies: Counter = Counter()
        self.first = None
        self.last = None
        self.spans: dict = {}       # capture -> [first, last] connection times

    def add(self, table, r):
        if table == "sessions":
            span = self.spans.setdefault(r.get("capture"), [None, None])
            if r["start"] and (span[0] is None or r["start"] < span[0]):
                span[0] = r["start"]
            if r["end"] and (span[1] is None or r["end"] > span[1]):
                span[1] = r["end"]
            self.kinds[r["kind"]] += 1
            # a switchboard's USR … OK names its account too (a switchboard-only capture)
            if r["passport"] and r["kind"] in ("notification", "dispatch", "switchboard"):
                self.accounts.add(r["passport"])
            self.gap_bytes += r["gap_bytes"]
            if r["start"] and (self.first is None or r["start"] < self.first):
                self.first = r["start"]
            if r["end"] and (self.last is None or r["end"] > self.last):
                self.last = r["end"]
        elif table == "messages" and r["kind"] == "text" and not r.get("copy_of_session"):
            # each message once, not once per connection that saw it
            self.messages += 1
        elif table == "transfers":
            self.transfers += 1
        elif table == "anomalies":
            self.anomalies[r["kind"]] += 1

    def as_dict(self, stats_list, provenance=False) -> dict:
        caps = [{"file": path, "format": st.format, "packets": st.packets, "bytes": st.bytes,
                 "tcp_segments": st.tcp_segments, "ip_fragments": st.ip_fragments,
                 "snapped": st.snapped, "bad_headers": st.bad_headers,
                 "truncated": st.truncated, "reader": st.reader, "skipped": st.skipped,
                 "notices": st.notices(),
                 "bad_checksums": st.bad_checksums,
                 "first": self.spans.get(path, [None, None])[0],
                 "last": _later(self.spans.get(path, [None, None])[1], st.msn_last),
                 # the size always (cheap); the sha256 for documents (a second read)
                 **(file_provenance(path) if provenance
                    else {"size": file_size(path), "sha256": None})}
                for path, st in stats_list]
        return {"captures": caps, "sessions": sum(self.kinds.values()),
                "sessions_by_kind": dict(sorted(self.kinds.items())),
                "accounts": sorted(self.accounts), "messages": self.messages,
                "transfers": self.transfers, "gap_bytes": self.gap_bytes,
                "anomalies": dict(sorted(self.anomalies.items())),
                "first": self.first,
                "last": max([t for t in [self.last] + [c["last"] for c in caps] if t],
                            default=None)}


def _later(end: str | None, last_packet: float | None) -> str | None:
    """A capture's last time: its connections' last end, or its last MSN packet when that
    came later (a bare ACK after the FIN)."""
    if last_packet is None or not _finite(last_packet):
        return end
    t = iso(last_packet)
    return t if end is None or t > end else end


def _finite(ts) -> bool:
    return 0 <= ts < 253402300800


class Rows:
    """The sink the model hands finished rows to: gives each row exactly the schema's
    columns (plus internal ``_`` keys) and its capture, counts it in the summary, then
    passes it to ``emit`` or keeps it (at most ``max_rows`` per table; the rest are
    counted in ``dropped``, so a long live run keeps flat memory)."""

    def __init__(self, capture, emit=None, max_rows: int | None = None, tables=None):
        self.capture = capture                  # a name, or a callable giving the name
        self.emit = emit
        self.max_rows = max_rows
        # the tables the consumer uses (None: all); the others are only counted
        self.tables = tables
        self.summary = Summary()
        self.doc: dict = {t: [] for t in TABLE_NAMES}
        self.dropped: Counter = Counter()

    def __call__(self, table, row):
        if self.tables is not None and table not in self.tables:
            self.summary.add(table, row)
            return
        row["capture"] = self.capture() if callable(self.capture) else self.capture
        shape = _AS_MADE.get(table)
        if shape is not None and list(row) in shape:
            # the model made the row in the table's shape: hand it on as it is (the copy
            # took 1.3 µs a row, about 7% of the report process's CPU on a dense capture)
            self._keep(table, row)
            return
        names = _COLUMNS[table]
        out = dict(zip(names, map(row.get, names)))
        if "_data" in row:            # transfers: the bytes, for files --extract
            out.update((k, v) for k, v in row.items() if k.startswith("_"))
        elif "_seq" in row:           # the order rows were made in (transcripts)
            out["_seq"] = row["_seq"]
        self._keep(table, out)

    def _keep(self, table, row):
        """A row in its table's shape: counted, then emitted or kept (or only counted
        past max_rows)."""
        self.summary.add(table, row)
        if self.emit is not None:
            self.emit(table, row)
        elif self.max_rows is not None and len(self.doc[table]) >= self.max_rows:
            self.dropped[table] += 1
        else:
            self.doc[table].append(row)

    def document(self, stats_list, provenance=False) -> dict:
        doc = self.doc
        for t in TABLE_NAMES:
            if t == "sessions":
                doc[t].sort(key=_session_id)
                continue
            # rows arrive grouped by connection, in time order within it, connections in
            # the order they finished: regroup by connection id (capture-level rows last)
            groups: dict = {}
            for r in doc[t]:
                groups.setdefault(r["session"], []).append(r)
            doc[t] = [r for k in sorted(groups, key=session_order) for r in groups[k]]
        doc["summary"] = self.summary.as_dict(stats_list, provenance)
        if self.dropped:
            doc["summary"]["rows_not_kept"] = dict(self.dropped)
        return doc


def _session_id(r):
    return r["id"]


def session_order(k):
    """Connection ids in order, capture-level rows (None) last: the document's order."""
    return (k is None, k or 0)


_NOTHING = object()

_COLUMNS = {t: [c[0] for c in cols] for t, cols in TABLES.items()}

# The tables whose rows Rows may hand on without a copy when their keys are exactly the
# columns in order (plus the _seq of rows the model orders, last): the model neither
# changes nor reads such a row once it is handed over.  Not invitations (a later MSNFTP
# connection reads its invitation's row), transfers (their "_" keys) or sessions (made
# in another order; one per connection).
_AS_MADE = {t: (_COLUMNS[t], _COLUMNS[t] + ["_seq"]) for t in TABLE_NAMES
            if t not in ("invitations", "transfers", "sessions")}


def _drive(run: Run, rows: Rows, limits: Limits, on_session=None, streaming=False):
    brief = rows.tables is not None and "messages" not in rows.tables
    events = run.events()
    # the first event starts the reading process when the run is split (stages.py):
    # only then import the model, which that process never needs (~15 ms of start-up
    # on the critical path otherwise)
    first = next(events, _NOTHING)
    from ..model import Analysis
    model = Analysis(limits, rows, on_session, streaming, brief)
    if first is _NOTHING:
        events = ()
    else:
        events = chain((first,), events)
    for ev in events:
        t = type(ev)
        if t is CaptureEnd:
            model.finish()                  # correlate within one capture, not across
            model = Analysis(limits, rows, on_session, streaming, brief)
        elif t is CaptureNotice:
            rows("anomalies", {"time": None, "session": None, "capture": None, "direction": None,
                               "kind": "capture", "detail": ev.text, "offset": None,
                               "length": 0})
        else:
            model.apply(ev)


def stream(paths, ports=(), limits: Limits = DEFAULT_LIMITS, emit=None, progress=None,
           on_session=None, split=False, tables=None, provenance=False) -> dict:
    """Analyse the captures, calling ``emit(table, row)`` for every finished row as the
    captures are read (and ``on_session(row)`` as each connection finishes, before its
    sessions row is final).  Returns the summary.  ``tables``: the only tables ``emit``
    wants (None: all); rows of the others are only counted in the summary, and message
    rows are then not even built (``read`` prints no messages: half of a dense
    capture's rows)."""
    run = Run(paths, ports, limits, progress=progress, split=split)
    rows = Rows(lambda: run.current, emit, tables=tables)
    hook = None if on_session is None else (lambda r: on_session(dict(r, capture=run.current)))
    _drive(run, rows, limits, hook, streaming=True)
    return dict(rows.summary.as_dict(run.stats, provenance), commands=run.commands)


def _analyse_one(path, ports, limits, progress=None, split=False):
    """One capture's rows (ids from 1), its reader statistics and command count."""
    run = Run([path], ports, limits, progress=progress, split=split)
    rows = Rows(path)
    _drive(run, rows, limits)
    return rows.doc, run.stats[0][1], run.commands


def _analyse_job(args):           # a top-level function: it runs in worker processes
    return _analyse_one(*args)


_ID_LINKS = {"sessions": ("id", "redirected_to_session", "redirected_from_session",
                          "linked_session"),
             "transfers": ("session", "invitation_session")}


def analyse(paths, ports=(), limits: Limits = DEFAULT_LIMITS, progress=None,
            jobs: int = 1, split=False) -> dict:
    """The analysis document for one or more captures: a list per table (rows grouped
    by session, in session order) and the summary.  Each capture is analysed on its own
    (``jobs`` > 1: in that many processes) and the results are merged in the order the
    captures were given, connection ids renumbered to follow on — so the document is
    the same whatever ``jobs`` is."""
    paths = list(paths)
    if jobs > 1 and len(paths) > 1:
        from .pool import map_in_processes
        parts = map_in_processes(_analyse_job, [(p, ports, limits) for p in paths],
                                 min(jobs, len(paths)))
    else:
        parts = [_analyse_one(p, ports, limits, progress, split) for p in paths]
    merged = Rows(None)
    offset = 0
    stats_list = []
    commands = 0
    for path, (doc, stats, n) in zip(paths, parts):
        stats_list.append((path, stats))
        commands += n
        for t in TABLE_NAMES:
            links = _ID_LINKS.get(t, ("session",))
            for r in doc[t]:
                if offset:
                    for k in links:
                        if r.get(k) is not None:
                            r[k] += offset
                merged.summary.add(t, r)
                merged.doc[t].append(r)
        offset += len(doc["sessions"])
    out = merged.document(stats_list, provenance=True)
    out["summary"]["commands"] = commands
    return out


__all__ = ["Run", "Rows", "analyse", "stream", "iso", "CaptureNotice", "CaptureEnd"]
