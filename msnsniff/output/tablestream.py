"""A piped table that streams (emit's "simple"/"plain" tables when no terminal sets
the width): the first STREAM_AFTER rows decide the column widths, the rest are written
in them as they come, so a big capture's table holds no rows; a table that ends sooner
is rendered exactly as render_table renders it."""

from __future__ import annotations

STREAM_AFTER = 5000


def stream_table(rows, columns, heads, tablefmt, out, cell, render_table, table_line, _width):
    """(emit's cell, render_table, table_line and _width are given, not imported: this
    module sits below emit.py, which uses it)"""
    it = iter(rows)
    first = []
    for r in it:
        first.append(list(map(cell, map(r.get, columns))))
        if len(first) >= STREAM_AFTER:
            break
    else:
        out.write(render_table(first, heads, tablefmt) + "\n")
        return
    widths = [_width(h) + 2 for h in heads]
    for row in first:
        for i, c in enumerate(row):
            w = _width(c)
            if w > widths[i]:
                widths[i] = w
    out.write(table_line(heads, widths) + "\n")
    if tablefmt == "simple":
        out.write("  ".join("-" * w for w in widths) + "\n")
    for row in first:
        out.write(table_line(row, widths) + "\n")
    del first
    for r in it:
        # a cell wider than its column pushes the rest of its line along: nothing is cut
        out.write(table_line(list(map(cell, map(r.get, columns))), widths) + "\n")
