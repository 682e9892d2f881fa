"""An external merge sort: items are kept in runs of ``run`` in memory, each full run is
sorted and spilled to a temporary file (marshal: tuples, dicts, strings and numbers
only), and the runs are merged on the way out.  Memory is one run, however many items
go in.  Used by the timeline (entries by time) and by the spooled document that big
exports stream from (rows by table and session)."""

from __future__ import annotations

import heapq
import marshal
import tempfile


class SortedRuns:
    def __init__(self, key, run: int):
        self.key = key
        self.run = run
        self.buf: list = []
        self.files: list = []

    def push(self, item):
        self.buf.append(item)
        if len(self.buf) >= self.run:
            self._spill()

    def _spill(self):
        self.buf.sort(key=self.key)
        f = tempfile.TemporaryFile()
        try:
            for item in self.buf:
                marshal.dump(item, f)
            f.flush()
        except OSError as e:
            name_temporary(e)
            try:
                f.close()           # (flushes the rest: fails again)
            except OSError:
                pass
            raise
        f.seek(0)
        self.files.append(f)
        self.buf = []

    def merged(self):
        """Every item pushed, in key order (each call starts the spilled runs over only
        once: take it once)."""
        self.buf.sort(key=self.key)
        return heapq.merge(*[_read(f) for f in self.files], iter(self.buf), key=self.key)

    def close(self):
        for f in self.files:
            f.close()


def name_temporary(e: OSError) -> None:
    """A disk error in a temporary file names the folder (TMPDIR), or the one line
    would say "the output" of a file nobody asked for."""
    e.filename = f"temporary folder {tempfile.gettempdir()} (TMPDIR)"


def _read(f):
    while True:
        try:
            yield marshal.load(f)
        except EOFError:
            return
