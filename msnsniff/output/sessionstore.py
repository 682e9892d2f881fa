"""Rows kept on disk by connection, for views that need a conversation's rows together
once the capture is read (`chats`): memory holds an index and the rows of connections
still open, however long the capture is.

Rows arrive as their connection finishes; they wait in memory until its sessions row
(which comes with them) and are then written as one marshal record (dicts, lists,
strings and numbers only).  ``load`` gives a connection's rows back in arrival order,
the main kind first and then the second (a transcript's messages, then its joins and
leaves), as the analysis document holds them.
"""

from __future__ import annotations

import marshal
import tempfile

from .sortruns import name_temporary


class SessionStore:
    def __init__(self):
        self.file = tempfile.TemporaryFile()
        self.index: dict[int, list[int]] = {}       # connection id -> record offsets
        self.pending: dict[int, tuple[list, list]] = {}

    def add(self, session: int, row: dict, second: bool = False) -> None:
        self.pending.setdefault(session, ([], []))[1 if second else 0].append(row)

    def done(self, session: int) -> None:
        """The connection finished: its rows so far go to disk."""
        rows = self.pending.pop(session, None)
        if rows is None:
            return
        f = self.file
        f.seek(0, 2)
        self.index.setdefault(session, []).append(f.tell())
        try:
            marshal.dump(rows, f)
        except OSError as e:
            name_temporary(e)
            raise

    def finish(self) -> None:
        for session in list(self.pending):
            self.done(session)
        self.file.flush()

    def load(self, session: int) -> list:
        first: list = []
        second: list = []
        for off in self.index.get(session, ()):
            self.file.seek(off)
            a, b = marshal.load(self.file)
            first += a
            second += b
        return first + second

    def close(self) -> None:
        self.file.close()
