"""Running the carver over files: one process, or a pool over ranges of a big file.

One process carves ~150 MB/s here (bench/RESULTS.md): the scanner's C passes are a
few nanoseconds per byte, the rest is Python per hit.  A regular uncompressed file is
cut into ranges of ``TASK`` bytes (MiB-aligned, so the per-MiB cap is counted where it
is) carved side by side; each task reads ``OVERLAP`` bytes past its range so that a
fragment starting inside it is decoded whole, and keeps only the fragments that start
inside it.  A fragment that starts in one range and holds an anchor of the next is
found by both: the later task's fragments that begin inside the earlier one's last
fragment are dropped when the results are joined, in file order.
"""

from __future__ import annotations

from ..capture.image import ImageStats, read_chunks, read_range, splittable
from ..stream.carve import MIB, OVERLAP, Carver, Grouper

TASK = 64 * MIB


class Result:
    def __init__(self, path: str):
        self.path = path
        self.groups = Grouper()
        self.fragments = 0
        self.capped: dict = {}       # MiB -> places not examined
        self.stats = ImageStats(path)

    def capped_ranges(self):
        c = Carver()
        c.capped = self.capped
        return c.capped_ranges()


def _task(args):
    path, start, stop, cap = args
    c = Carver(cap=cap, base=start)
    rows = []
    for chunk in read_range(path, start, stop + OVERLAP):
        rows += c.feed(chunk)
    rows += c.close()
    return [r for r in rows if r["offset"] < stop], c.capped, stop - start


def carve_file(path: str, cap: int, jobs: int = 1, progress=None) -> Result:
    """``progress(done_bytes)`` is called as the file is read (the CLI's bar)."""
    res = Result(path)
    size = res.stats.size or 0
    if jobs > 1 and size > TASK and splittable(path):
        _parallel(res, cap, jobs, size, progress)
        return res
    c = Carver(cap=cap)
    for chunk in read_chunks(path, res.stats):
        for r in c.feed(chunk):
            res.groups.add(r)
        if progress:
            progress(res.stats.position)
    for r in c.close():
        res.groups.add(r)
    res.fragments, res.capped = c.fragments, c.capped
    return res


def _parallel(res: Result, cap: int, jobs: int, size: int, progress):
    import multiprocessing as mp
    ranges = [(res.path, s, min(s + TASK, size), cap) for s in range(0, size, TASK)]
    covered = 0
    # fork: the workers need nothing but the arguments (and start instantly)
    with mp.get_context("fork").Pool(jobs) as pool:
        done = 0
        for rows, capped, n in pool.imap(_task, ranges):
            for r in rows:
                if r["offset"] < covered:
                    continue            # inside the previous range's last fragment
                res.groups.add(r)
                res.fragments += 1
                covered = max(covered, r["end"])
            res.capped.update(capped)
            done += n
            res.stats.read = res.stats.position = done
            if progress:
                progress(done)
