"""Two stages in two processes: a child reads the capture and runs the sans-IO pipeline
(reassembly, framing, decoding), the parent builds the model and writes the report.

Why: the work per MSNP command is spread evenly over the stages (bench/RESULTS.md), so on
a machine with two or more CPUs cutting the chain in the middle nearly halves the wall
time of a large capture (measured 1.6x on both bench captures).  The events cross the
pipe pickled in batches; the pipe's buffer is the only queue, so a slow consumer stops
the reader (memory stays flat) instead of piling events up.

The child is forked (Linux and other POSIX systems), inherits the open state and never
returns into the caller's code: it leaves with ``os._exit`` so buffered output of the
parent is not written twice.  Whatever ends the child — the end of the captures, an
error, Ctrl-C — reaches the parent as a message or as the end of the pipe.
"""

from __future__ import annotations

import os
import pickle
import sys
import traceback

BATCH = 256            # events per pickle: large enough that pickling per batch is cheap


class ChildFailed(Exception):
    """The traceback of an unexpected error in the reading process (for --debug)."""


def available() -> bool:
    return hasattr(os, "fork")


def events(gen, state, finish):
    """Yield the events of the generator ``gen()``, computed in a child process; at its
    end call ``finish(s)`` in this process with ``s = state()`` computed in the child
    (the statistics the generator's owner gathered there)."""
    from multiprocessing.connection import Pipe

    recv, send = Pipe(duplex=False)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:                                    # the child
        recv.close()
        _child(gen, state, send)                    # never returns
    send.close()
    ended = False
    try:
        while True:
            try:
                blob = recv.recv_bytes()
            except EOFError:
                raise ChildFailed("the reading process ended without a word") from None
            kind, value = pickle.loads(blob)
            if kind == "events":
                yield from value
            elif kind == "end":
                ended = True
                finish(value)
                return
            else:                                   # "error": (exception, traceback)
                ended = True
                exc, tb = value
                raise exc from ChildFailed(tb)
    finally:
        recv.close()
        if not ended:
            # the consumer stopped early (an error, a closed stdout, Ctrl-C): stop the
            # reader too
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass
        os.waitpid(pid, 0)


def _child(gen, state, send):
    code = 0
    try:
        try:
            batch = []
            it = gen()
            for ev in it:
                batch.append(ev)
                if len(batch) >= BATCH:
                    send.send_bytes(pickle.dumps(("events", batch), pickle.HIGHEST_PROTOCOL))
                    batch = []
            if batch:
                send.send_bytes(pickle.dumps(("events", batch), pickle.HIGHEST_PROTOCOL))
            send.send_bytes(pickle.dumps(("end", state()), pickle.HIGHEST_PROTOCOL))
        except (KeyboardInterrupt, BrokenPipeError, EOFError):
            code = 1                                # the parent reports it (or is gone)
        except BaseException as e:  # noqa: BLE001 - everything goes to the parent
            tb = traceback.format_exc()
            try:
                blob = pickle.dumps(("error", (e, tb)), pickle.HIGHEST_PROTOCOL)
                pickle.loads(blob)                  # an exception that cannot come back
            except Exception:  # noqa: BLE001
                blob = pickle.dumps(("error", (RuntimeError(f"{type(e).__name__}: {e}"),
                                               tb)), pickle.HIGHEST_PROTOCOL)
            try:
                send.send_bytes(blob)
            except OSError:
                pass
            code = 1
    finally:
        os._exit(code)
