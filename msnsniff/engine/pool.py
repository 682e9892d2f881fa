"""Work spread over processes (``--jobs``) that stops when asked: Ctrl-C or SIGTERM to
the parent ends the workers within a second.  ``concurrent.futures``' own exit waits for
every running job to finish (15 s and more on big captures), and its workers, which
catch every exception of a job, would then wait for more work."""

from __future__ import annotations

import os
import signal


def _stop_once(signum, frame):
    """A worker's first SIGTERM or SIGINT stops its job; the ones after it are ignored,
    so they cannot cut the job's cleanup short (a Ctrl-C reaches the whole process group
    and the parent then sends SIGTERM; the pool itself sends SIGTERM to the other workers
    once one has ended)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _call(item):
    fn, args = item
    signal.signal(signal.SIGTERM, _stop_once)
    signal.signal(signal.SIGINT, _stop_once)
    try:
        return fn(args)
    except (KeyboardInterrupt, SystemExit):
        # the job has cleaned up (temporary files) on its way out: the worker ends
        os._exit(130)


def map_in_processes(fn, items, n: int) -> list:
    """``[fn(x) for x in items]`` in ``n`` processes (``fn`` at module level).  Stopped,
    the workers get SIGTERM, which they handle as the parent does."""
    from concurrent.futures import ProcessPoolExecutor
    ex = ProcessPoolExecutor(n)
    try:
        out = list(ex.map(_call, [(fn, x) for x in items]))
    except BaseException:
        procs = list((getattr(ex, "_processes", None) or {}).values())
        for proc in procs:
            if proc.is_alive():
                os.kill(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.join(2.0)
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    ex.shutdown()
    return out
