"""The rows of ``carve``: their columns, and the SQLite file (the export writer's table
and FTS5 code, with the fragments table instead of the capture tables)."""

from __future__ import annotations

import os
import sqlite3

from ..version import __version__
from .emit import to_json
from .export import _check_target, _sqlite_search, _sqlite_table, atomic_path

# (name, type, required, meaning, example) as model/schema.py describes a column
FRAGMENT_COLUMNS = [
    ("file", "text", True, "the file carved", "memory.raw"),
    ("offset", "integer", True, "byte offset of the first copy of the fragment", 4096),
    ("count", "integer", True, "how many copies were found", 2),
    ("encoding", "text", True, "ascii (UTF-8) or utf-16le", "ascii"),
    ("kind", "text", True, "command, text, typing, invitation, p2p, slp, msnobject, "
     "profile, datacast, mail, emoticon, mime, … or capped", "text"),
    ("verb", "text", False, "the MSNP verb when the command line was found", "MSG"),
    ("content_type", "text", False, "MIME or MSNSLP content type", "text/plain"),
    ("sender", "text", False, "who the bytes name as sender (MSG line, TypingUser, "
     "P2P-Src, SLP From, MSNObject Creator)", "bob@hotmail.com"),
    ("recipient", "text", False, "who the bytes name as recipient (P2P-Dest, SLP To)",
     "alice@hotmail.com"),
    ("text", "text", False, "message text, or the command line / summary", "Hi"),
    ("complete", "text", True, "complete, truncated (a length runs past the bytes "
     "there) or no length (nothing says where it ends)", "complete"),
    ("length", "integer", True, "bytes of the fragment present (UTF-8)", 140),
    ("declared", "integer", False, "the length the fragment declares", 120),
    ("offsets", "intlist", True, "every offset of a copy", [4096, 1052672]),
]
COLUMNS = [c[0] for c in FRAGMENT_COLUMNS]
TABLE_COLUMNS = ["offset", "count", "encoding", "kind", "verb", "sender", "recipient",
                 "text", "complete"]


def write_sqlite(rows, path: str, force: bool, summary: dict) -> list[str]:
    """``fragments`` with an FTS5 index on text and sender; ``meta`` the provenance."""
    _check_target(path, force)
    with atomic_path(path) as tmp:
        os.unlink(tmp)
        db = sqlite3.connect(tmp)
        try:
            _sqlite_table(db, "fragments", rows, FRAGMENT_COLUMNS)
            _sqlite_search(db, ["fragments"], {"fragments": ("text", "sender")})
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            db.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("msnsniff_version", __version__), ("summary", to_json(summary))])
            db.commit()
        finally:
            db.close()
    return [path]
