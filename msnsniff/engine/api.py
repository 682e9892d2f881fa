"""The Python API (README "Use from Python") and what a cluster worker runs.

- ``analyse(paths, **options)``: the analysis document (dict of tables + summary);
- ``iter_rows(paths, tables=None, **options)``: ``(table, row)`` pairs as the captures are
  read (rows leave as their connection finishes; memory stays flat);
- ``export_capture(path, out, fmt, **options)``: one capture's export written at ``out``
  (``--per-capture`` runs it per capture, in processes or on Dask workers).
"""

from __future__ import annotations

import os
import queue
import threading

from ..config import DEFAULT_LIMITS, Limits
from .analyze import analyse as _analyse
from .analyze import stream


def _paths(p) -> list[str]:
    return [os.fspath(p)] if isinstance(p, (str, os.PathLike)) else [os.fspath(x) for x in p]


def analyse(path_or_paths, ports=(), jobs: int = 1, redact: bool = False,
            redact_qry: bool = False, limits: Limits = DEFAULT_LIMITS) -> dict:
    """The analysis document of one capture or several (a list per table, and
    ``summary``; columns in docs/schema.md)."""
    doc = _analyse(_paths(path_or_paths), ports, limits, jobs=jobs)
    if redact:
        from ..output.redact import redact_document
        doc = redact_document(doc, redact_qry)
    return doc


_DONE = object()


class _Stop(Exception):
    pass


def iter_rows(path_or_paths, tables=None, ports=(), limits: Limits = DEFAULT_LIMITS,
              maxsize: int = 10_000):
    """``(table, row)`` for every row of the analysis as the captures are read.  The
    analysis runs in a thread and waits while the consumer is behind (at most
    ``maxsize`` rows are queued); stopping the iteration stops the analysis."""
    wanted = set(tables) if tables else None
    q: queue.Queue = queue.Queue(maxsize)
    stop = threading.Event()

    def emit(table, row):
        if stop.is_set():
            raise _Stop
        if wanted is None or table in wanted:
            q.put((table, {k: v for k, v in row.items() if not k.startswith("_")}))

    def work():
        try:
            stream(_paths(path_or_paths), ports, limits, emit=emit,
                   tables=wanted and wanted | {"sessions"})
            q.put(_DONE)
        except _Stop:
            q.put(_DONE)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            q.put(e)

    t = threading.Thread(target=work, name="msnsniff-analysis", daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while t.is_alive():                 # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                t.join(0.05)


def export_capture(path: str, out: str, fmt: str, ports=(), tables=None, force: bool = False,
                   redact: bool = False, redact_qry: bool = False, tool: dict | None = None,
                   raw_csv: bool = False) -> list[str]:
    """Export one capture at ``out`` (a file; a folder for csv), streaming: what
    ``export --per-capture`` runs for each capture, locally or on a Dask worker (the
    capture must be at the same path there)."""
    from ..errors import MsnsniffError
    from ..output import export as ex
    from .spool import spool_analysis
    if fmt not in ex.EXTENSIONS:        # (before the capture is read, not after)
        raise MsnsniffError(f"unknown export format {fmt!r}: one of "
                            f"{', '.join(sorted(ex.EXTENSIONS))}")
    if fmt == "jsonl":
        from ..output.redact import Redactor
        return ex.stream_jsonl(lambda emit: dict(stream([path], ports, emit=emit,
                                                        provenance=True), tool=tool),
                               out, force, tables,
                               redactor=Redactor(redact_qry) if redact else None)
    spooled = spool_analysis([path], ports)
    summary = dict(spooled.summary, tool=tool)
    pairs = spooled.tables()
    if redact:
        from ..output.redact import redact_pairs
        pairs = redact_pairs(pairs, summary, redact_qry)
    try:
        return ex.write_tables(fmt, pairs, summary, out, force, tables, raw_csv)
    finally:
        spooled.close()
