"""The analysis document without holding it: rows go to disk as the captures are read
and come back in the document's order (sessions by id; every other table grouped by
session id, in arrival order within a session, capture-level rows last).

An external merge sort: runs of ``RUN`` rows are sorted in memory and spilled to
temporary files (marshal), then merged table by table, so memory stays flat however
many connections the captures hold (an export of a million connections used to need
~7 KB per connection).  Several captures are analysed one after another with their
connection ids renumbered to follow on, exactly as ``analyse`` does, and the same
dispatch -> NS forward links are restored.
"""

from __future__ import annotations

from ..config import DEFAULT_LIMITS
from ..model.schema import TABLE_NAMES
from ..output.sortruns import SortedRuns
from .analyze import _ID_LINKS, stream

RUN = 20_000
_INDEX = {t: i for i, t in enumerate(TABLE_NAMES)}


class SpooledDocument(SortedRuns):
    def __init__(self, run: int = RUN):
        super().__init__(_first, run)
        self.seq = 0
        self.forward: dict = {}          # dispatch session id -> the NS session it led to
        self.summary: dict = {}

    def add(self, table: str, row: dict):
        row = {k: v for k, v in row.items() if not k.startswith("_")}
        if table == "sessions":
            if row.get("redirected_from_session") is not None:
                self.forward[row["redirected_from_session"]] = row["id"]
            key = (_INDEX[table], 0, row["id"], 0)
        else:
            s = row.get("session")
            key = (_INDEX[table], s is None, s or 0, self.seq)
        self.seq += 1
        self.push((key, row))

    def tables(self):
        """(table, iterator of rows) in the document's table order; each table's rows
        must be taken (or skipped) before the next table's."""
        it = self.merged()
        head = [next(it, None)]

        def rows(idx):
            while head[0] is not None and head[0][0][0] < idx:     # a table not taken
                head[0] = next(it, None)
            while head[0] is not None and head[0][0][0] == idx:
                row = head[0][1]
                if idx == 0 and row.get("redirected_to_session") is None \
                        and row["id"] in self.forward:
                    row["redirected_to_session"] = self.forward[row["id"]]
                yield row
                head[0] = next(it, None)
        for t in TABLE_NAMES:
            yield t, rows(_INDEX[t])


def _first(item):
    return item[0]


def spool_analysis(paths, ports=(), limits=DEFAULT_LIMITS, progress=None, split=False):
    """The document of ``paths`` as a SpooledDocument (its ``summary`` filled)."""
    doc = SpooledDocument()
    offset = 0
    summaries = []
    for path in paths:
        seen = [0]

        def take(table, row, offset=offset):
            if offset:
                for k in _ID_LINKS.get(table, ("session",)):
                    if row.get(k) is not None:
                        row[k] += offset
            if table == "sessions":
                seen[0] += 1
            doc.add(table, row)
        summaries.append(stream([path], ports, limits, emit=take, progress=progress,
                                split=split, provenance=True))
        offset += seen[0]
    doc.summary = _merge_summaries(summaries)
    return doc


def _merge_summaries(parts: list) -> dict:
    if len(parts) == 1:
        return parts[0]
    out = dict(parts[0])
    out["captures"] = [c for p in parts for c in p["captures"]]
    for k in ("sessions", "messages", "transfers", "gap_bytes", "commands"):
        out[k] = sum(p.get(k) or 0 for p in parts)
    kinds: dict = {}
    anomalies: dict = {}
    for p in parts:
        for k, v in p["sessions_by_kind"].items():
            kinds[k] = kinds.get(k, 0) + v
        for k, v in p["anomalies"].items():
            anomalies[k] = anomalies.get(k, 0) + v
    out["sessions_by_kind"] = dict(sorted(kinds.items()))
    out["anomalies"] = dict(sorted(anomalies.items()))
    out["accounts"] = sorted({a for p in parts for a in p["accounts"]})
    firsts = [p["first"] for p in parts if p["first"]]
    lasts = [p["last"] for p in parts if p["last"]]
    out["first"] = min(firsts) if firsts else None
    out["last"] = max(lasts) if lasts else None
    return out

