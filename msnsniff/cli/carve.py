"""`msnsniff carve`: MSNP fragments in any file (memory image, pagefile, disk image)."""

from __future__ import annotations

import io
import sys

import click

from ..output.emit import FORMATS, emit
from .common import (CONTEXT, check_paths, columns_option, grep_options, grep_regex,
                     highlight, pick_columns, project, table_format_option)


@click.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=False, metavar="FILE...",
                type=click.Path(allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(FORMATS + ("sqlite",)), default="table",
              show_default=True, help="Output format (sqlite: a file, with -o).")
@click.option("-o", "--output", "output", metavar="FILE",
              help="Write to this file instead of standard output (required for sqlite).")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--kind", "kinds", multiple=True,
              help="Only fragments of this kind (repeatable: text, typing, p2p, command …).")
@click.option("--cap", type=click.IntRange(1), default=None, metavar="N",
              help="Fragments decoded per MiB at most (the rest are counted).  [default: 4096]")
@click.option("--no-progress", is_flag=True,
              help="No progress bar (it is shown on a terminal's stderr only).")
@grep_options
@table_format_option
@columns_option
def carve(files, fmt, output, force, kinds, cap, no_progress, grep, ignore_case,
          table_format, columns):
    """Find MSNP in any file: command lines of every dialect with their payloads, MIME
    messages, MSNSLP, P2P headers and MSNObjects, in UTF-8 and UTF-16LE.  Copies of the
    same fragment are one row with every offset.

    \b
    Example:
      msnsniff carve memory.raw --kind text --format csv
    """
    from ..capture.image import ImageStats, read_chunks
    from ..output.carveout import COLUMNS, TABLE_COLUMNS, write_sqlite
    from ..stream.carve import DEFAULT_CAP, MIB, Carver, Grouper

    paths = check_paths(files) if files else _no_file()
    if fmt == "sqlite" and not output:
        raise click.UsageError("--format sqlite writes a file: give -o FILE")
    cols = pick_columns(columns, COLUMNS) if columns else (
        TABLE_COLUMNS if fmt == "table" else COLUMNS)
    rx = grep_regex(grep, ignore_case)
    cap = cap or DEFAULT_CAP
    rows, lines = [], []
    for path in paths:
        stats = ImageStats(path)
        carver, groups = Carver(cap=cap), Grouper()
        for chunk in _progress(read_chunks(path, stats), stats, no_progress):
            for r in carver.feed(chunk):
                groups.add(r)
        for r in carver.close():
            groups.add(r)
        found = groups.result()
        for first, last, n in carver.capped_ranges():
            where = f"MiB {first}" if first == last else f"MiB {first}-{last}"
            found.append({"kind": "capped", "offset": first * MIB, "count": n,
                          "encoding": None, "complete": "truncated", "length": 0,
                          "offsets": [first * MIB], "text": f"{where}: {n} places that may "
                          f"start a fragment not examined (cap: {cap} fragments per MiB)"})
        name = "standard input" if path == "-" else path
        lines.append(f"{name}: {stats.read} bytes, {carver.fragments} fragments in "
                     f"{len(groups.rows)} rows" + (
                         f", {sum(n for *_, n in carver.capped_ranges())} places not "
                         "examined (cap)" if carver.capped else "")
                     + (f"; {stats.broken}" if stats.broken else ""))
        for r in found:
            r["file"] = path
            if kinds and r["kind"] not in kinds:
                continue
            if rx is not None and not rx.search(" ".join(
                    str(r.get(k) or "") for k in ("verb", "sender", "recipient", "text"))):
                continue
            rows.append(r)
    summary = {"files": paths, "lines": lines}
    if fmt == "sqlite":
        write_sqlite(rows, output, force, summary)
        click.echo("\n".join(lines + [f"wrote {output}"]), err=True)
        return
    out = _target(output, force)
    try:
        if fmt == "table" and out is sys.stdout:
            buf = io.StringIO()
            emit(list(project(rows, cols)), cols, fmt, buf, tablefmt=table_format,
                 screen=sys.stdout)
            sys.stdout.write(highlight(buf.getvalue(), rx))
        else:
            emit(project(rows, cols), cols, fmt, out, tablefmt=table_format)
    finally:
        if out is not sys.stdout:
            out.close()
    click.echo("\n".join(lines), err=True)


def _no_file():
    raise click.UsageError("give a file to carve (FILE; - reads standard input)")


def _target(output, force):
    if not output or output == "-":
        return sys.stdout
    import os
    from ..errors import MsnsniffError
    if os.path.exists(output) and not force and not os.path.samefile(output, os.devnull):
        raise MsnsniffError(f"{output}: exists (use --force to overwrite)")
    try:
        return open(output, "w", encoding="utf-8", newline="")
    except OSError as e:
        raise MsnsniffError(f"{output}: cannot write: {e.strerror or e}") from None


def _progress(chunks, stats, no_progress):
    """Bytes read of the file, on a terminal's stderr only (as the other commands)."""
    if no_progress or not sys.stderr.isatty() or sys.stdout.isatty() or not stats.size:
        yield from chunks
        return
    import os
    import time
    start = time.monotonic()

    def rate(_):
        return f"{stats.position / max(time.monotonic() - start, 1e-6) / 1e6:.0f} MB/s"
    with click.progressbar(length=stats.size, label=os.path.basename(stats.path),
                           file=sys.stderr, item_show_func=rate, show_eta=True) as bar:
        done = 0
        for c in chunks:
            yield c
            bar.update(stats.position - done)
            done = stats.position
