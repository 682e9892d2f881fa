"""Two stages in two processes: a child reads the capture and runs the sans-IO pipeline
(reassembly, framing, decoding), the parent builds the model and writes the report.

Why: the work per MSNP command is spread evenly over the stages (bench/RESULTS.md), so on
a machine with two or more CPUs cutting the chain in the middle nearly halves the wall
time of a large capture (measured 1.6x on both bench captures).  The events cross the
pipe in batches (marshal, see _Codec); the pipe's buffer is the only queue, so a slow consumer stops
the reader (memory stays flat) instead of piling events up.

The child is forked (Linux and other POSIX systems), inherits the open state and never
returns into the caller's code: it leaves with ``os._exit`` so buffered output of the
parent is not written twice.  Whatever ends the child — the end of the captures, an
error, Ctrl-C — reaches the parent as a message or as the end of the pipe.
"""

from __future__ import annotations

import dataclasses
import marshal
import os
import pickle
import struct
import sys
import traceback
from collections.abc import Callable
from operator import attrgetter
from typing import Any

BATCH = 256            # events per message: large enough that the per-message cost is small


class _Codec:
    """Events as marshal data: (class number, field values) per event.  The child sends
    what the model needs in half the time pickle takes (and the parent reads it back in
    half the time too); both processes number the event classes alike because the table
    is built before the fork.  Events of other classes, or with values marshal cannot
    write (the trace's framed commands), go as pickle."""

    def __init__(self):
        from .. import events as E
        self.classes: list = []          # class number -> what rebuilds the event
        self.index: dict = {}
        todo = [E.Event]
        while todo:
            cls = todo.pop()
            todo.extend(cls.__subclasses__())
            if not dataclasses.is_dataclass(cls):
                continue
            # the constructor's arguments (a field it does not take is a cache, e.g.
            # Message._mime, rebuilt on the other side when needed)
            names = [f.name for f in dataclasses.fields(cls) if f.init]
            get: Callable[[Any], tuple] = attrgetter(*names)
            if len(names) == 1:
                get = (lambda g: lambda ev: (g(ev),))(get)
            make: Callable = cls
            if cls is E.PersonalMessage:
                get, make = _nested(get, names.index("data"), cls)
            self.index[cls] = (len(self.classes), get)
            self.classes.append(make)

    def encode(self, batch) -> bytes:
        index = self.index
        rows = []
        for ev in batch:
            c = index.get(type(ev))
            if c is None:
                rows.append((-1, pickle.dumps(ev, pickle.HIGHEST_PROTOCOL)))
            else:
                rows.append((c[0], c[1](ev)))
        try:
            return b"M" + marshal.dumps(rows)
        except ValueError:                  # a value marshal cannot write
            return b"P" + pickle.dumps(("events", batch), pickle.HIGHEST_PROTOCOL)

    def decode(self, blob: bytes):
        """("events", list) | ("end", state) | ("error", (exception, traceback))"""
        if blob[:1] == b"P":
            return pickle.loads(memoryview(blob)[1:])
        classes = self.classes
        return "events", [classes[i](*v) if i >= 0 else pickle.loads(v)
                          for i, v in marshal.loads(memoryview(blob)[1:])]


def _nested(get, i, cls):
    """A field that holds a small dataclass (PersonalMessage.data) goes as its field
    values, so the batch stays marshal data (one such event made a batch pickle, 4×
    slower to send and read)."""
    from ..protocol.xmlpayload import PersonalData
    inner = attrgetter(*[f.name for f in dataclasses.fields(PersonalData)])

    def flat(ev):
        v = get(ev)
        return (*v[:i], inner(v[i]), *v[i + 1:])

    def make(*v):
        return cls(*v[:i], PersonalData(*v[i]), *v[i + 1:])
    return flat, make


def _pickled(obj) -> bytes:
    return b"P" + pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)


class ChildFailed(Exception):
    """The traceback of an unexpected error in the reading process (for --debug)."""


class _Sender:
    """Length-prefixed messages on the write end of a pipe (what multiprocessing's
    Connection does, without its ~8 ms of imports on the start-up path)."""

    def __init__(self, fd):
        self.fd = fd

    def send_bytes(self, blob: bytes):
        data = memoryview(_LEN.pack(len(blob)) + blob)
        while data:
            data = data[os.write(self.fd, data):]

    def close(self):
        os.close(self.fd)


class _Receiver:
    def __init__(self, fd):
        self.f = os.fdopen(fd, "rb", buffering=1 << 16)

    def recv_bytes(self) -> bytes:
        head = self.f.read(4)
        if len(head) < 4:
            raise EOFError
        n = _LEN.unpack(head)[0]
        blob = self.f.read(n)
        if len(blob) < n:
            raise EOFError
        return blob

    def close(self):
        self.f.close()


_LEN = struct.Struct("!I")


def _pipe():
    r, w = os.pipe()
    return _Receiver(r), _Sender(w)


def available() -> bool:
    return hasattr(os, "fork")


def events(gen, state, finish):
    """Yield the events of the generator ``gen()`` (which yields lists of events),
    computed in a child process; at its end call ``finish(s)`` in this process with
    ``s = state()`` computed in the child (the statistics the generator's owner
    gathered there)."""
    recv, send = _pipe()
    codec = _Codec()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:                                    # the child
        import signal
        # the parent stops it with SIGTERM: the default action, whatever the parent set
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        recv.close()
        _child(gen, state, send, codec)             # never returns
    send.close()
    ended = False
    try:
        while True:
            try:
                blob = recv.recv_bytes()
            except EOFError:
                raise ChildFailed("the reading process ended without a word") from None
            kind, value = codec.decode(blob)
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


def _child(gen, state, send, codec):
    code = 0
    try:
        try:
            batch = []
            it = gen()
            for evs in it:
                batch += evs
                if len(batch) >= BATCH:
                    send.send_bytes(codec.encode(batch))
                    batch = []
            if batch:
                send.send_bytes(codec.encode(batch))
            send.send_bytes(_pickled(("end", state())))
        except (KeyboardInterrupt, BrokenPipeError, EOFError):
            code = 1                                # the parent reports it (or is gone)
        except BaseException as e:  # noqa: BLE001 - everything goes to the parent
            tb = traceback.format_exc()
            try:
                blob = _pickled(("error", (e, tb)))
                pickle.loads(blob[1:])              # an exception that cannot come back
            except Exception:  # noqa: BLE001
                blob = _pickled(("error", (RuntimeError(f"{type(e).__name__}: {e}"), tb)))
            try:
                send.send_bytes(blob)
            except OSError:
                pass
            code = 1
    finally:
        os._exit(code)
