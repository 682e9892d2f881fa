"""`msnsniff carve`: MSNP fragments in any file (memory image, pagefile, disk image)."""

from __future__ import annotations

import io
import sys
from contextlib import contextmanager

import click

from ..output.emit import FORMATS, emit
from .common import (
    CONTEXT,
    check_paths,
    columns_option,
    grep_options,
    grep_regex,
    highlight,
    pick_columns,
    project,
    table_format_option,
)


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
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
              help="Processes carving ranges of a big file side by side.  [default: 2 on "
                   "a machine with 2+ CPUs; one for standard input and compressed files]")
@grep_options
@table_format_option
@columns_option
def carve(files, fmt, output, force, kinds, cap, no_progress, jobs, grep, ignore_case,
          table_format, columns):
    """Find MSNP in any file: command lines of every dialect with their payloads, MIME
    messages, MSNSLP, P2P headers and MSNObjects, in UTF-8 and UTF-16LE.  Copies of the
    same fragment are one row with every offset.

    \b
    Example:
      msnsniff carve memory.raw --kind text --format csv
    """
    from ..engine.carve import carve_file
    from ..output.carveout import COLUMNS, TABLE_COLUMNS, write_sqlite
    from ..stream.carve import DEFAULT_CAP, MIB

    paths = check_paths(files) if files else _no_file()
    if fmt == "sqlite" and not output:
        raise click.UsageError("--format sqlite writes a file: give -o FILE")
    cols = pick_columns(columns, COLUMNS) if columns else (
        TABLE_COLUMNS if fmt == "table" else COLUMNS)
    rx = grep_regex(grep, ignore_case)
    cap = cap or DEFAULT_CAP
    rows, lines = [], []
    for path in paths:
        with _progress(path, no_progress) as bar:
            res = carve_file(path, cap, _jobs(jobs), bar)
        found = res.groups.result()
        ranges = res.capped_ranges()
        for first, last, n in ranges:
            where = f"MiB {first}" if first == last else f"MiB {first}-{last}"
            found.append({"kind": "capped", "offset": first * MIB, "count": n,
                          "encoding": None, "complete": "truncated", "length": 0,
                          "offsets": [first * MIB], "text": f"{where}: {n} places that may "
                          f"start a fragment not examined (cap: {cap} fragments per MiB)"})
        name = "standard input" if path == "-" else path
        lines.append(f"{name}: {res.stats.read} bytes, {res.fragments} fragments in "
                     f"{len(res.groups.rows)} rows" + (
                         f", {sum(n for *_, n in ranges)} places not examined (cap)"
                         if ranges else "")
                     + (f"; {res.stats.broken}" if res.stats.broken else ""))
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


def _jobs(jobs):
    if jobs is not None:
        return jobs
    import os
    try:
        return min(2, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return 1


@contextmanager
def _progress(path, no_progress):
    """Bytes read of the file, on a terminal's stderr only (as the other commands)."""
    from ..capture.files import file_size
    size = file_size(path)
    if no_progress or not sys.stderr.isatty() or sys.stdout.isatty() or not size:
        yield None
        return
    import os
    import time
    start = time.monotonic()
    state = {"done": 0}

    def rate(_):
        return f"{state['done'] / max(time.monotonic() - start, 1e-6) / 1e6:.0f} MB/s"
    with click.progressbar(length=size, label=os.path.basename(path), file=sys.stderr,
                           item_show_func=rate, show_eta=True) as bar:
        def update(done):
            bar.update(done - state["done"])
            state["done"] = done
        yield update
