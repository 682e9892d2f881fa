"""One emitter for every command: rows (dicts) -> table | csv | json | jsonl.

Terminal safety: text from the network may carry ANSI escapes and control characters.
Table output shows them escaped (``\\x1b``).  Every other format keeps the exact text
when it goes to a pipe or a file, and escapes it too when it goes to a terminal: CSV
cells as tables do, JSON by writing C1 controls and bidi overrides as ``\\u`` escapes
(json.dumps already escapes C0).  CSV also neutralises cells a spreadsheet would execute
(formula injection) unless ``raw_csv``.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from datetime import tzinfo


def _wcswidth_first(s: str) -> int:
    """Display width of non-ASCII text, as tabulate measures it (with wcwidth when it
    is installed).  Imported on first use: tabulate and wcwidth take ~25 ms to import,
    which every run paid before reading a byte, and the default styles need neither.
    ``wcswidth`` is this function until its first call replaces it with wcwidth's."""
    global wcswidth
    w: Callable[[str], int]
    try:
        from wcwidth import wcswidth as w
    except ImportError:  # pragma: no cover - depends on the environment
        w = len
    wcswidth = w
    return w(s)


wcswidth: Callable[[str], int] = _wcswidth_first

FORMATS = ("table", "csv", "json", "jsonl")
LIST_SEP = "; "      # how list values are joined in table and CSV cells

# C0/C1 controls, DEL, Unicode bidi marks, overrides and isolates (they reorder what is
# shown) and the Unicode line/paragraph separators
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
                     "\u202a-\u202e\u2066-\u2069]")


def _escape(m):
    c = m.group(0)
    o = ord(c)
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


def safe_text(s: str) -> str:
    """Render network text harmless on a terminal: controls shown as escapes."""
    if s.isprintable():
        # no control, separator or format character at all (the common case): the
        # C-level test is ~10x cheaper than the substitution (a dense report has
        # hundreds of thousands of cells); isprintable() is False for every character
        # _UNSAFE matches, for \n and \t, and for some harmless ones (those take the
        # slow path below, which is exact)
        return s
    # CR, LF and tab one way: \r \n \t (the other controls as \xNN)
    s = s.replace("\r", "\\r")
    s = _UNSAFE.sub(_escape, s)
    return s.replace("\n", "\\n").replace("\t", "\\t")


def cell(v, terminal=True) -> str:
    t = type(v)
    if t is str:
        # (safe_text's own first test, inlined: a report calls this for every cell)
        return v if not terminal or v.isprintable() else safe_text(v)
    if t is int:
        return str(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (list, tuple)):
        v = LIST_SEP.join(cell(x, terminal) for x in v)
    elif isinstance(v, dict):
        v = LIST_SEP.join(f"{k}={cell(x, terminal)}" for k, x in v.items())
    else:
        v = str(v)
    return safe_text(v) if terminal else v


# what makes a spreadsheet run a cell (a NUL or a line break first hides the rest)
_FORMULA = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")


def csv_line(cells) -> str:
    """One RFC 4180 line.  A cell is quoted when it holds a comma, a quote or a line
    break — and a semicolon too: a spreadsheet in a semicolon locale would otherwise cut
    ``a;=cmd|…`` into a new cell that starts with ``=`` and runs."""
    return ",".join('"' + c.replace('"', '""') + '"' if _NEEDS_QUOTES.search(c) else c
                    for c in cells) + "\r\n"


_NEEDS_QUOTES = re.compile('[,";\r\n]')


def _list_item(x) -> str:
    if isinstance(x, dict):          # an object in a list (an endpoint): k=v, joined
        x = LIST_SEP.join(f"{k}={v}" for k, v in x.items())
    return str(x).replace("\\", "\\\\").replace(";", "\\;")


def csv_cell(v, raw=False) -> str:
    """CSV text of a value: lists joined with LIST_SEP (items escaped; an object in a
    list as its k=v pairs), objects as JSON,
    booleans true/false, None empty; formula-looking cells neutralised unless raw."""
    if v is None:
        s = ""
    elif isinstance(v, bool):
        s = "true" if v else "false"
    elif isinstance(v, (list, tuple)):
        s = LIST_SEP.join(_list_item(x) for x in v)
    elif isinstance(v, dict):
        s = to_json(v)
    else:
        s = str(v)
    if not raw and s.startswith(_FORMULA):
        # a leading apostrophe makes spreadsheets show the text instead of running it
        s = "'" + s
    return s


def split_list(s: str) -> list[str]:
    """Inverse of the CSV list encoding."""
    if s == "":
        return []
    out, cur, i = [], [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            cur.append(s[i + 1])
            i += 2
            continue
        if s.startswith(LIST_SEP, i):
            out.append("".join(cur))
            cur = []
            i += len(LIST_SEP)
            continue
        cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


def to_json(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, default=_default)


def _default(o):
    if isinstance(o, (bytes, bytearray)):
        return o.hex()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    raise TypeError(type(o).__name__)


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def json_for_terminal(text: str) -> str:
    """JSON text with the characters that would act on a terminal written as escapes
    (still valid JSON, same values)."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def is_terminal(out) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def emit(rows, columns, fmt, out=None, tablefmt="simple", headers=None, raw_csv=False,
         screen=None):
    """Write ``rows`` (iterable of dicts) with the given columns in ``fmt``.  ``screen``:
    the stream a buffered table will end up on (to fit its width)."""
    out = out or sys.stdout
    tty = fmt != "table" and is_terminal(out)
    if fmt == "jsonl":
        for r in rows:
            line = to_json(r)
            out.write((json_for_terminal(line) if tty else line) + "\n")
        return
    if fmt == "json":
        # row by row, the same text as to_json(list(rows)): memory is one row
        sep = "["
        for r in rows:
            text = to_json(r)
            out.write(sep + (json_for_terminal(text) if tty else text))
            sep = ", "
        out.write("[]\n" if sep == "[" else "]\n")
        return
    if fmt == "csv":
        # the one CSV writer of every command and of `export`
        out.write(csv_line(columns))
        for r in rows:
            row = [csv_cell(r.get(c), raw_csv) for c in columns]
            out.write(csv_line([safe_text(x) for x in row] if tty else row))
        return
    heads = headers or columns
    width = terminal_width(screen or out)
    if not width and TZ[0] is None and tablefmt in ("simple", "plain"):
        # piped: the first STREAM_AFTER rows decide the widths, the rest stream in them
        # (flat memory on a big capture; a short table is rendered exactly as before)
        from .tablestream import stream_table
        stream_table(rows, columns, heads, tablefmt, out, cell, render_table, table_line, _width)
        return
    table = [list(map(cell, map(r.get, columns))) for r in rows]
    if width or TZ[0] is not None:
        table = local_times(table, heads)
    if width:
        table = fit_table(table, heads, width)
    out.write((render_table(table, heads, tablefmt, tight=True) if width
               else render_table(table, heads, tablefmt)) + "\n")


WIDE = [False]      # --wide: never clip (set by the CLI)
TZ: list[tzinfo | None] = [None]         # --tz: the zone times are shown in (None: UTC)
MIN_CELL = 8
MIN_WRAP = 24
KEEP_WHOLE = ("time",)      # a clipped timestamp says nothing
# the free text of a row: wrapped, never clipped, and narrowed first
FREE_TEXT = ("text", "description", "summary", "detail", "value", "params")
_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?Z")


def show_time(iso_text: str) -> tuple[str, str]:
    """(date, time of day) of an ISO 8601 UTC time, in --tz's zone."""
    if TZ[0] is not None:
        from datetime import datetime
        t = datetime.fromisoformat(iso_text.replace("Z", "+00:00")).astimezone(TZ[0])
        day = t.strftime("%Y-%m-%d UTC%z")
        return day, t.strftime("%H:%M:%S.%f")
    return iso_text[:10] + " UTC", iso_text[11:-1]


def local_times(table, headers):
    """Times as HH:MM:SS.ffffff, the date on a line of its own where it changes (a
    terminal shows 15 characters instead of 27 on every row); times on another date
    than the current one keep their date."""
    out = []
    day = None
    n = len(headers)
    for row in table:
        first = True
        cells = list(row)
        for i, c in enumerate(cells):
            if len(c) >= 20 and c[4] == "-" and _ISO.fullmatch(c):
                d, t = show_time(c)
                if first and d != day:
                    day = d
                    out.append([d if k == i else "" for k in range(n)])
                first = False
                cells[i] = t if d == day else f"{d[:10]} {t}"
        out.append(cells)
    return out


def set_timezone(name: str | None):
    """--tz: "local", "UTC" or an IANA zone name (Europe/Berlin)."""
    if not name:
        TZ[0] = None
        return
    from datetime import timezone
    if name.upper() == "UTC":
        TZ[0] = timezone.utc
        return
    if name.lower() == "local":
        from datetime import datetime
        TZ[0] = datetime.now().astimezone().tzinfo
        return
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        TZ[0] = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        from ..errors import MsnsniffError
        raise MsnsniffError(f"--tz {name}: not a time zone (try local, UTC or "
                            "Europe/Berlin)") from None


def terminal_width(out) -> int | None:
    """The width to fit when ``out`` is a terminal (and --wide was not given)."""
    if WIDE[0] or not is_terminal(out):
        return None
    import os
    try:
        return os.get_terminal_size(out.fileno()).columns
    except (OSError, ValueError, AttributeError):
        import shutil
        return shutil.get_terminal_size((120, 24)).columns


_DAY_OR_TIME = re.compile(r"\d{4}-\d\d-\d\d( UTC\S*)?|(\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d\.\d{6}")
_NUMBER_OR_PASSPORT = re.compile(r"-?\d+|[^\s@]+@[^\s@]+")


def _atom(c: str) -> bool:
    # ids, numbers, passports, addresses, verbs, times: one word (a date line counts
    # as one), wrapped only as a last resort
    return (" " not in c and len(c) <= 64) or _DAY_OR_TIME.fullmatch(c) is not None


def _never_wrap(c: str) -> bool:
    # numbers, passports and times keep their width whatever the terminal
    return c == "" or _DAY_OR_TIME.fullmatch(c) is not None or (
        _NUMBER_OR_PASSPORT.fullmatch(c) is not None and len(c) <= 64)


def fit_table(table, headers, width):
    """Fit rows into ``width`` columns.  Every column is at least its header wide (the
    layout pads headers; a budget without them overflowed).  The free-text columns
    (FREE_TEXT) are narrowed first and wrapped onto continuation lines; then other
    columns of words are wrapped too; then columns of single words (addresses, verbs);
    numbers, passports and times keep their width.  What still does not fit overflows
    rather than lose text."""
    if not table:
        return table
    n = len(headers)
    widths = [max([_width(h)] + [_width(r[i]) for r in table]) for i, h in enumerate(headers)]
    total = sum(widths) + 2 * (n - 1)
    if total <= width:
        return table
    limits = list(widths)
    whole = [headers[i] in KEEP_WHOLE or (headers[i] not in FREE_TEXT
                                          and all(_atom(r[i]) for r in table))
             for i in range(n)]
    keep = [headers[i] in KEEP_WHOLE or all(_never_wrap(r[i]) for r in table)
            for i in range(n)]
    floor = [max(_width(headers[i]), MIN_CELL) for i in range(n)]
    for tier in (FREE_TEXT, None, "atoms"):
        cols = [i for i in range(n) if (not keep[i] if tier == "atoms" else not whole[i])
                and (tier is None or tier == "atoms" or headers[i] in tier)]
        if tier == "atoms" and total - sum(limits[k] - floor[k] for k in cols) > width:
            break           # cutting addresses in pieces would not make it fit anyway
        while total > width:
            open_ = [k for k in cols if limits[k] > floor[k]]
            if not open_:
                break
            # the widest first, down to the next widest (so they end up even)
            open_.sort(key=lambda k: -limits[k])
            i = open_[0]
            nxt = max([limits[k] for k in open_[1:]] + [floor[i]])
            cut = min(total - width, max(1, limits[i] - nxt), limits[i] - floor[i])
            limits[i] -= cut
            total -= cut
    out = []
    for row in table:
        pieces = [[c] if _width(c) <= limits[i] else _chop(c, limits[i])
                  for i, c in enumerate(row)]
        for k in range(max(map(len, pieces))):
            out.append([p[k] if k < len(p) else "" for p in pieces])
    return out


class StreamedTable:
    """A table written a row at a time (flat memory, the first row at once) in fixed
    column widths: ``fixed`` gives the width of the columns it names, the others (the
    free text) share what is left of ``width``.  Cells wider than their column wrap onto
    continuation lines (nothing is clipped); times as in local_times.  "simple"/"plain"
    layouts only."""

    def __init__(self, out, headers, fixed, width, tablefmt="simple"):
        self.out, self.headers, self.n = out, headers, len(headers)
        widths = [max(fixed.get(h, 0), _width(h)) for h in headers]
        free = [i for i, h in enumerate(headers) if h not in fixed]
        room = width - sum(widths[i] for i in range(self.n) if i not in free) - 2 * (self.n - 1)
        for k, i in enumerate(free):
            share = max(room // max(len(free), 1), _width(headers[i]), MIN_CELL)
            widths[i] = share if k < len(free) - 1 else max(room - share * (len(free) - 1),
                                                             _width(headers[i]), MIN_CELL)
        self.widths = widths
        self.day = None
        out.write(table_line(headers, widths) + "\n")
        if tablefmt == "simple":
            out.write("  ".join("-" * w for w in widths) + "\n")

    def line(self, text):
        """A line of its own between rows (a connection's endpoints)."""
        self.out.write(text + "\n")

    def row(self, cells):
        cells = list(cells)
        for i, c in enumerate(cells):
            if len(c) >= 20 and c[4] == "-" and _ISO.fullmatch(c):
                d, t = show_time(c)
                if d != self.day:
                    self.day = d
                    self.out.write(table_line([d if k == i else "" for k in range(self.n)],
                                              self.widths) + "\n")
                cells[i] = t
        pieces = [[c] if _width(c) <= w else _chop(c, w) for c, w in zip(cells, self.widths)]
        for k in range(max(map(len, pieces))):
            self.out.write(table_line([p[k] if k < len(p) else "" for p in pieces],
                                      self.widths) + "\n")


def _clip(s: str, w: int) -> str:
    while _width(s) > w - 1 and s:
        s = s[:max(1, len(s) - max(1, _width(s) - w + 1))]
    return s + "…"


def _chop(s: str, w: int) -> list[str]:
    """``s`` in lines of at most ``w`` columns, broken after a space where there is one
    (a word longer than a line is cut where the line ends)."""
    out = []
    while _width(s) > w:
        cut = w
        while _width(s[:cut]) > w:
            cut -= 1
        space = s.rfind(" ", 0, cut + 1)
        if space > 0:
            out.append(s[:space].rstrip())
            s = s[space + 1:]
        else:
            out.append(s[:cut])
            s = s[cut:]
    return out + [s]


def _width(s: str) -> int:
    return len(s) if s.isascii() else max(wcswidth(s), 0)


def table_line(cells, widths) -> str:
    """One line of the "simple"/"plain" layouts: cells padded to display widths."""
    return "  ".join(c + " " * (w - _width(c)) for c, w in zip(cells, widths)).rstrip()


_MARKUP = {"github": "\\|", "pipe": "\\|", "mediawiki": "&#124;", "moinmoin": "&#124;",
           "textile": "&#124;", "jira": "&#124;", "youtrack": "&#124;"}


def _markup_cell(c, bar):
    if not isinstance(c, str):
        return c
    return c.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", bar)


def render_table(table, headers, tablefmt="simple", tight=False) -> str:
    """tabulate's "simple" and "plain" layouts, exactly, but several times faster (a
    dense capture's report is megabytes of tables); other styles go to tabulate.
    ``tight``: columns only as wide as their header (tabulate pads headers by two; a
    table fitted to a terminal has no room for that)."""
    pad = 0 if tight else 2
    if tablefmt not in ("simple", "plain"):
        from tabulate import tabulate
        if tablefmt in _MARKUP:
            # Markdown, MediaWiki, Textile… render HTML written in a cell (tabulate
            # escapes only for "html"): text from the network stays text there too, and
            # a "|" cannot open a cell
            esc = _MARKUP[tablefmt]
            table = [[_markup_cell(c, esc) for c in row] for row in table]
        return tabulate(table, headers=headers, tablefmt=tablefmt, disable_numparse=True)
    rows = [headers, *table]
    if "".join(map("".join, rows)).isascii():
        # every cell's display width is its length: widths, padding and joining all
        # happen in C (one format call per row)
        widths = [max(len(h) + pad, max(map(len, col))) for h, col in zip(headers, zip(*rows))]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        lines = [fmt.format(*row).rstrip() for row in rows]
    else:
        widths = [_width(h) + pad for h in headers]
        for row in table:
            for i, c in enumerate(row):
                w = _width(c)
                if w > widths[i]:
                    widths[i] = w
        lines = [table_line(row, widths) for row in rows]
    if tablefmt == "simple":
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
