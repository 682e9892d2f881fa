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


def wcswidth(s: str) -> int:
    """Display width of non-ASCII text, as tabulate measures it (with wcwidth when it
    is installed).  Imported on first use: tabulate and wcwidth take ~25 ms to import,
    which every run paid before reading a byte, and the default styles need neither."""
    global wcswidth
    try:
        from wcwidth import wcswidth as w
    except ImportError:  # pragma: no cover - depends on the environment
        w = len
    wcswidth = w
    return w(s)

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
    return str(x).replace("\\", "\\\\").replace(";", "\\;")


def csv_cell(v, raw=False) -> str:
    """CSV text of a value: lists joined with LIST_SEP (items escaped), objects as JSON,
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
    table = [list(map(cell, map(r.get, columns))) for r in rows]
    width = terminal_width(screen or out)
    if width:
        table = fit_table(table, headers or columns, width)
    out.write(render_table(table, headers or columns, tablefmt) + "\n")


WIDE = [False]      # --wide: never clip (set by the CLI)
MIN_CELL = 8
MIN_WRAP = 24
KEEP_WHOLE = ("time",)      # a clipped timestamp says nothing


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


def fit_table(table, headers, width):
    """Clip the widest columns (with …) until a row fits ``width``; a "text" column (a
    transcript) is wrapped onto continuation lines instead of clipped."""
    if not table:
        return table
    n = len(headers)
    widths = [max([_width(h) + 2] + [_width(r[i]) for r in table]) for i, h in enumerate(headers)]
    total = sum(widths) + 2 * (n - 1)
    if total <= width:
        return table
    limits = list(widths)
    wrap = headers.index("text") if "text" in headers else -1
    clippable = [i for i in range(n) if headers[i] not in KEEP_WHOLE]
    floor = [MIN_WRAP if i == wrap else MIN_CELL for i in range(n)]
    while total > width and clippable:
        # the text of a transcript is narrowed last (and wrapped, not clipped)
        others = [k for k in clippable if k != wrap and limits[k] > floor[k]]
        i = max(others or clippable, key=lambda k: limits[k])
        if limits[i] <= floor[i]:
            break
        cut = min(total - width, limits[i] - floor[i])
        limits[i] -= cut
        total -= cut
    out = []
    for row in table:
        extra = []
        cells = []
        for i, c in enumerate(row):
            if _width(c) <= limits[i]:
                cells.append(c)
            elif i == wrap:
                pieces = _chop(c, limits[i])
                cells.append(pieces[0])
                extra = pieces[1:]
            else:
                cells.append(_clip(c, limits[i]))
        out.append(cells)
        for piece in extra:
            out.append(["" if i != wrap else piece for i in range(n)])
    return out


def _clip(s: str, w: int) -> str:
    while _width(s) > w - 1 and s:
        s = s[:max(1, len(s) - max(1, _width(s) - w + 1))]
    return s + "…"


def _chop(s: str, w: int) -> list[str]:
    out = []
    while _width(s) > w:
        cut = w
        while _width(s[:cut]) > w:
            cut -= 1
        space = s.rfind(" ", 0, cut)
        if space > w // 2:
            cut = space + 1
        out.append(s[:cut].rstrip())
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


def render_table(table, headers, tablefmt="simple") -> str:
    """tabulate's "simple" and "plain" layouts, exactly, but several times faster (a
    dense capture's report is megabytes of tables); other styles go to tabulate."""
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
        widths = [max(len(h) + 2, max(map(len, col))) for h, col in zip(headers, zip(*rows))]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        lines = [fmt.format(*row).rstrip() for row in rows]
    else:
        widths = [_width(h) + 2 for h in headers]
        for row in table:
            for i, c in enumerate(row):
                w = _width(c)
                if w > widths[i]:
                    widths[i] = w
        lines = [table_line(row, widths) for row in rows]
    if tablefmt == "simple":
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
