"""Writing the analysis document: json, jsonl, csv (one file per table), sqlite.

Output never overwrites an existing file unless ``force``; every file is written to a
temporary name in the same directory and renamed into place, so an interrupted export
leaves no half file.  Column sets and types come from model/schema.py.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from contextlib import contextmanager

from ..errors import MsnsniffError
from ..model.schema import TABLES
from ..version import __version__
from .emit import emit, is_terminal, json_for_terminal, to_json

EXPORT_FORMATS = ("json", "jsonl", "csv", "sqlite")


def public_rows(rows):
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]


def public_doc(doc: dict, tables=None) -> dict:
    out = {}
    for k, v in doc.items():
        if k.startswith("_"):
            continue
        if isinstance(v, list):
            if tables and k not in tables:
                continue
            out[k] = public_rows(v)
        else:
            out[k] = v
    return out


def _check_target(path: str, force: bool):
    if os.path.isdir(path):
        raise MsnsniffError(f"{path}: is a directory")
    if os.path.exists(path) and not force:
        raise MsnsniffError(f"{path}: exists (use --force to overwrite)")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise MsnsniffError(f"{parent}: no such directory")
    if not os.access(parent, os.W_OK):
        raise MsnsniffError(f"{parent}: not writable")


def _special(path: str) -> bool:
    """A FIFO, a device or a socket (or a link to one): written to, never replaced."""
    import stat
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


@contextmanager
def atomic_path(path: str):
    """Yield a temporary path next to ``path``; rename it into place on success.  A
    FIFO or device (``-o /dev/null``, a named pipe) is written to directly: renaming a
    regular file over it would destroy it.  A full disk is one line naming the file."""
    if _special(path):
        try:
            yield path
        except OSError as e:
            raise _disk_error(path, e, 0) from None
        return
    d = os.path.dirname(os.path.abspath(path))
    # (named after the target: remove_leftovers finds it)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.msnsniff-", suffix=".tmp",
                               dir=d)
    try:
        # (inside the try: a Ctrl-C or SIGTERM from here on removes the file)
        os.close(fd)
        # mkstemp makes the file 0600; the result gets the mode every other file msnsniff
        # writes gets (open()'s 0666 less the umask), whichever writer made it
        os.chmod(tmp, 0o666 & ~_umask())
        yield tmp
        os.replace(tmp, path)
    except BaseException as e:
        written = os.path.getsize(tmp) if os.path.exists(tmp) else 0
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise _disk_error(path, e, written) from None
        raise


def remove_leftovers(path: str) -> None:
    """Remove what an export of ``path`` stopped mid-way may have left: its temporary
    file beside it, or a CSV folder's staging folder inside it (a worker process stopped
    by Ctrl-C cleans up itself; this is the parent's check after it)."""
    import glob
    import shutil
    d, name = os.path.dirname(os.path.abspath(path)), os.path.basename(path)
    found = glob.glob(os.path.join(glob.escape(d), f".{glob.escape(name)}.msnsniff-*.tmp"))
    if os.path.isdir(path):
        found += glob.glob(os.path.join(glob.escape(path), ".msnsniff-*.tmp"))
    for f in found:
        try:
            if os.path.isdir(f):
                shutil.rmtree(f)
            else:
                os.unlink(f)
        except OSError:
            pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _disk_error(path, e, written):
    import errno
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return MsnsniffError(f"{path}: no space left on the device after {written} bytes; "
                             "nothing was left behind (free some space and run again)")
    return MsnsniffError(f"{path}: cannot write: {e.strerror or e}")


def doc_tables(doc):
    """A whole document as the (table, rows) pairs the writers take."""
    return [(t, doc.get(t, [])) for t in TABLES]


# a file name's extension per format (csv writes a folder)
EXTENSIONS = {"json": ".json", "jsonl": ".jsonl", "sqlite": ".db", "csv": ""}


def write_tables(fmt, pairs, summary, out, force, tables=None, raw_csv=False, extra=(),
                 stdout=None) -> list[str]:
    """The one place a document is written in a format (``export``, the API's
    ``export_capture``, ``live --export-dir``, ``read --format json``): ``out`` is a file,
    a folder for csv, ``-`` for standard output (json, jsonl).  Returns what it wrote."""
    if fmt == "json":
        return write_json_tables(pairs, summary, out, force, tables, stdout)
    if fmt == "jsonl":
        return write_jsonl_tables(pairs, summary, out, force, tables, stdout)
    if fmt == "csv":
        return write_csv_tables(pairs, summary, out, force, tables, raw_csv)
    if fmt == "sqlite":
        return write_sqlite_tables(pairs, summary, out, force, tables, extra)
    raise ValueError(f"unknown export format {fmt!r}")


def write_document(doc, fmt, out, force, tables=None, stdout=None) -> list[str]:
    """A whole analysis document (dict of tables and summary) in a format."""
    return write_tables(fmt, doc_tables(doc), doc.get("summary", {}), out, force, tables,
                        stdout=stdout)


def write_json_tables(pairs, summary, path, force, tables=None, stdout=None):
    """The document as one JSON object, written row by row (the same text as
    ``to_json(document)``; memory does not grow with the rows)."""
    def write(f):
        f.write("{")
        first = True
        for t, rows in pairs:
            if tables and t not in tables:
                continue
            f.write(("" if first else ", ") + to_json(t) + ": [")
            first = False
            sep = ""
            for r in rows:
                f.write(sep + to_json({k: v for k, v in r.items() if not k.startswith("_")}))
                sep = ", "
            f.write("]")
        f.write(("" if first else ", ") + '"summary": ' + to_json(summary) + "}\n")

    if path == "-":
        write(_for_terminal(stdout))
        return [path]
    _check_target(path, force)
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            write(f)
    return [path]


def write_jsonl_tables(pairs, summary, path, force, tables=None, stdout=None):
    """JSON Lines from the spooled document (table by table, in the document's order):
    the filtered export, which must see the sessions before the rows they decide."""
    def write(f):
        for t, rows in pairs:
            if tables and t not in tables:
                continue
            for r in rows:
                f.write(to_json({"table": t, **{k: v for k, v in r.items()
                                                if not k.startswith("_")}}) + "\n")
        f.write(to_json({"table": "summary", **summary}) + "\n")

    if path == "-":
        write(_for_terminal(stdout))
        return [path]
    _check_target(path, force)
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            write(f)
    return [path]


class _TerminalJson:
    """Standard output that is a terminal: C1 controls and bidi overrides written as
    JSON escapes (same values), as `emit` does for JSON on a terminal."""

    def __init__(self, f):
        self.f = f

    def write(self, s):
        return self.f.write(json_for_terminal(s))


def _for_terminal(f):
    return _TerminalJson(f) if is_terminal(f) else f


def stream_jsonl(run_analysis, path, force, tables=None, stdout=None, redactor=None):
    """JSON Lines written as the capture is read: each row as soon as its connection
    is finished (``run_analysis(emit)`` drives the analysis), then a summary record."""
    def lines(f):
        def emit(table, row):
            if tables and table not in tables:
                return
            row = {k: v for k, v in row.items() if not k.startswith("_")}
            if redactor is not None:
                row = redactor.row(table, row)
            f.write(to_json({"table": table, **row}) + "\n")
        summary = run_analysis(emit)
        if redactor is not None:
            summary["redacted"] = redactor.info()
        f.write(to_json({"table": "summary", **summary}) + "\n")

    if path == "-":
        lines(_for_terminal(stdout))
        return [path]
    _check_target(path, force)
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            lines(f)
    return [path]


def write_csv_tables(pairs, summary, out_dir, force, tables=None, raw_csv=False):
    names = [t for t in TABLES if not tables or t in tables]
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise MsnsniffError(f"{out_dir}: exists and is not a directory")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise MsnsniffError(f"{out_dir}: cannot create directory: {e.strerror}") from None
    paths = [os.path.join(out_dir, f"{t}.csv") for t in names]
    meta = os.path.join(out_dir, "summary.json")
    for p in paths + [meta]:                    # refuse before writing anything
        _check_target(p, force)
    # the whole set is written into a temporary folder first and moved in at the end:
    # an interrupted export leaves no half set (and no reason for a rerun to refuse)
    staging = tempfile.mkdtemp(prefix=".msnsniff-", suffix=".tmp", dir=out_dir)
    try:
        for t, rows in pairs:
            if t not in names:
                continue
            cols = [c[0] for c in TABLES[t]]
            with open(os.path.join(staging, f"{t}.csv"), "w", encoding="utf-8",
                      newline="") as f:
                emit(rows, cols, "csv", f, raw_csv=raw_csv)
        with open(os.path.join(staging, "summary.json"), "w", encoding="utf-8") as f:
            f.write(to_json(summary) + "\n")
        for p in paths + [meta]:
            os.replace(os.path.join(staging, os.path.basename(p)), p)
    except OSError as e:
        raise _disk_error(out_dir, e, 0) from None
    finally:
        import shutil
        shutil.rmtree(staging, ignore_errors=True)
    return paths + [meta]


_SQL_TYPES = {"text": "TEXT", "integer": "INTEGER", "boolean": "INTEGER", "list": "TEXT",
              "intlist": "TEXT", "objectlist": "TEXT", "object": "TEXT"}


def _sql_value(v, typ):
    if v is None:
        return None
    if typ == "boolean":
        return int(bool(v))
    if typ in ("list", "intlist", "objectlist", "object"):
        return json.dumps(v, ensure_ascii=False)
    if type(v) is int and not -2 ** 63 <= v < 2 ** 63:
        return str(v)       # SQLite's INTEGER is 64-bit signed: stored as REAL, no overflow
    return v


def write_sqlite_tables(pairs, summary, path, force, tables=None, extra=()):
    """One table per table of the document, ready for Datasette: ``sessions.id`` is the
    primary key, every other table has ``row_id`` and a foreign key to ``sessions``;
    message text and personal messages have FTS5 indexes; two views people write anyway
    (``conversations``, ``accounts``); ``meta`` holds the provenance."""
    _check_target(path, force)
    with atomic_path(path) as tmp:
        os.unlink(tmp)      # sqlite creates it
        db = sqlite3.connect(tmp)
        try:
            _sqlite_fill(db, pairs, summary, tables, extra)
        except sqlite3.OperationalError as e:
            # "database or disk is full" and friends are the disk's errors: told as such
            import errno
            why = str(e).lower()
            if "full" in why:
                raise OSError(errno.ENOSPC, "No space left on device") from None
            if "readonly" in why or "read-only" in why:
                raise OSError(errno.EROFS, "Read-only file system") from None
            raise
        finally:
            db.close()
            if os.path.exists(tmp + "-journal"):     # (left by a failed transaction)
                os.unlink(tmp + "-journal")
    return [path]


def _sqlite_fill(db, pairs, summary, tables, extra=()):
    done = []
    for t, rows in pairs:
        if tables and t not in tables:
            continue
        _sqlite_table(db, t, rows)
        done.append(t)
    for t, cols, rows in extra:         # tables beside the document's (the trace)
        _sqlite_table(db, t, rows(), cols)
        if t == "trace":
            db.execute('CREATE INDEX "trace_verb" ON "trace" ("verb")')
        done.append(t)
    _sqlite_search(db, done)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    db.executemany("INSERT INTO meta VALUES (?, ?)", [
        ("msnsniff_version", __version__),
        ("redacted", "true" if summary.get("redacted") else "false"),
        ("inputs", to_json(summary.get("captures", []))),
        ("tool", to_json(summary.get("tool"))),
        ("summary", to_json(summary))])
    db.commit()


def _sqlite_table(db, t, rows, cols=None):
    cols = cols or TABLES[t]
    names = [c[0] for c in cols]
    defs = []
    for n, typ, req, _, _ in cols:
        d = f'"{n}" {_SQL_TYPES[typ]}' + (" NOT NULL" if req else "")
        if t == "sessions" and n == "id":
            d += " PRIMARY KEY"
        elif t != "sessions" and n in ("session", "invitation_session"):
            d += " REFERENCES sessions(id)"
        defs.append(d)
    key = [] if t == "sessions" else ['"row_id" INTEGER PRIMARY KEY']
    db.execute(f'CREATE TABLE "{t}" (' + ", ".join(key + defs) + ")")
    db.executemany(
        f'INSERT INTO "{t}" ({", ".join(f"{chr(34)}{n}{chr(34)}" for n in names)}) VALUES ('
        + ", ".join("?" * len(cols)) + ")",
        ([_sql_value(r.get(n), typ) for n, typ, *_ in cols] for r in rows))
    for col in ("session", "passport", "owner", "time"):
        if col in names:
            db.execute(f'CREATE INDEX "{t}_{col}" ON "{t}" ("{col}")')


# full-text indexes (FTS5, external content: the text stays in its table once)
_FTS = {"messages": ("text", "sender"), "personal_messages": ("personal_message", "passport")}


def _sqlite_search(db, done, fts=None):
    for t, cols in (fts or _FTS).items():
        if t in done:
            db.execute(f'CREATE VIRTUAL TABLE "{t}_fts" USING fts5({", ".join(cols)}, '
                       # (the quoting Datasette looks for to offer ?_search=)
                       f'content="{t}", content_rowid="row_id")')
            db.execute(f"INSERT INTO \"{t}_fts\"(\"{t}_fts\") VALUES('rebuild')")
    if {"sessions", "messages"} <= set(done):
        db.execute("""CREATE VIEW conversations AS
            SELECT s.server AS server, s.sb_session_id AS sb_session_id,
                   min(m.time) AS start, max(m.time) AS "end",
                   count(*) AS message_rows,
                   -- each message once: a row is a copy when another connection of the
                   -- conversation saw the same sender and text earlier, within 5 s
                   sum(NOT EXISTS (
                       SELECT 1 FROM messages m2 JOIN sessions s2 ON s2.id = m2.session
                       WHERE s2.server = s.server AND s2.kind = 'switchboard'
                         AND coalesce(s2.sb_session_id, s2.id) = coalesce(s.sb_session_id, s.id)
                         AND m2.session != m.session AND m2.kind = 'text'
                         AND m2.sender IS m.sender AND m2.text IS m.text
                         AND (m2.time < m.time OR (m2.time = m.time AND m2.session < m.session))
                         AND julianday(m.time) - julianday(m2.time) < 5.0 / 86400)) AS messages,
                   group_concat(DISTINCT m.sender) AS senders,
                   group_concat(DISTINCT s.id) AS sessions
            FROM messages m JOIN sessions s ON s.id = m.session
            WHERE s.kind = 'switchboard' AND m.kind = 'text'
            GROUP BY s.server, coalesce(s.sb_session_id, s.id)""")
    if "sessions" in done:
        db.execute("""CREATE VIEW accounts AS
            SELECT lower(passport) AS passport, count(*) AS sessions,
                   sum(kind = 'notification') AS notification_sessions,
                   sum(kind = 'switchboard') AS switchboard_sessions,
                   min(start) AS first_seen, max("end") AS last_seen,
                   group_concat(DISTINCT protocol) AS protocols,
                   group_concat(DISTINCT friendly_name) AS friendly_names
            FROM sessions WHERE passport IS NOT NULL GROUP BY lower(passport)""")
