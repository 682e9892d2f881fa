"""`msnsniff export`: the analysis as CSV, JSON, JSON Lines or SQLite (output/export.py
writes, model/schema.py defines the columns)."""

from __future__ import annotations

import os
import sys

import click

from .common import (CONTEXT, tool_info, capture_args, check_paths, plan_jobs, progress_bar,
                     redact_options)


@click.command(context_settings=CONTEXT)
@capture_args
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "jsonl", "sqlite"]),
              default=None, help="csv: one file per table in --out DIR; json / jsonl / "
              "sqlite: one file (-o FILE; '-' = stdout for json and jsonl).")
@click.option("-o", "--output", "output", metavar="FILE", help="Output file (json, jsonl, sqlite).")
@click.option("--out", "out_dir", metavar="DIR", help="Output directory (csv).")
@click.option("--tables", metavar="T1,T2", help="Only these tables (see docs/schema.md).")
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
@click.option("--raw-csv", is_flag=True,
              help="Do not neutralise CSV cells that spreadsheets would run as formulas.")
@redact_options
def export(captures, ports, no_progress, jobs, fmt, output, out_dir, tables, force, raw_csv,
           redact, redact_qry):
    """Export the analysis (sessions, contacts, messages, …) as CSV, JSON, JSON Lines or
    SQLite.  The columns are documented in docs/schema.md."""
    from ..output import export as ex
    from ..model.schema import TABLE_NAMES

    wanted = None
    if tables:
        wanted = [t.strip() for t in tables.split(",") if t.strip()]
        bad = [t for t in wanted if t not in TABLE_NAMES]
        if bad:
            raise click.BadParameter(f"unknown table(s) {', '.join(bad)}; tables are "
                                     f"{', '.join(TABLE_NAMES)}", param_hint="--tables")
    if fmt is None:
        # inferred from the output's name (x.json, x.jsonl, x.db/.sqlite; a folder: csv)
        ext = os.path.splitext(output or "")[1].lower()
        fmt = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".db": "sqlite",
               ".sqlite": "sqlite", ".sqlite3": "sqlite"}.get(ext)
        if fmt is None and out_dir:
            fmt = "csv"
        if fmt is None:
            raise click.UsageError("give --format csv|json|jsonl|sqlite (it cannot be told "
                                   "from the output's name)")
    if fmt == "csv":
        if not out_dir or output:
            raise click.UsageError("--format csv writes one file per table: give --out DIR")
    else:
        if not output or out_dir:
            raise click.UsageError(f"--format {fmt} writes one file: give -o FILE")
        if output == "-" and fmt == "sqlite":
            raise click.UsageError("sqlite cannot be written to standard output")
    if redact_qry and not redact:
        raise click.UsageError("--redact-qry goes with --redact")
    if output and output != "-":
        ex._check_target(output, force)       # fail before the (long) analysis
    if fmt == "jsonl":
        from ..engine.analyze import stream
        from ..output.redact import Redactor
        captures = check_paths(captures)
        bar = progress_bar(no_progress)
        split = plan_jobs(jobs, captures)[1]
        written = ex.stream_jsonl(lambda emit: dict(stream(captures, ports, emit=emit,
                                                           progress=bar, split=split,
                                                           provenance=True),
                                                    tool=tool_info()),
                                  output,
                                  force, wanted, stdout=sys.stdout,
                                  redactor=Redactor(redact_qry) if redact else None)
        if output != "-":
            click.echo(f"wrote {output}" + (" (redacted)" if redact else ""), err=True)
        return
    # the rows go to disk as the captures are read and come back in the document's order:
    # memory does not grow with the number of connections
    from ..engine.spool import spool_analysis
    paths = check_paths(captures)
    spooled = spool_analysis(paths, ports, progress=progress_bar(no_progress),
                             split=plan_jobs(jobs, paths)[1])
    summary = dict(spooled.summary, tool=tool_info())
    pairs = spooled.tables()
    if redact:
        pairs = _redacting(pairs, summary, redact_qry)
    try:
        if fmt == "json":
            written = ex.write_json_tables(pairs, summary, output, force, wanted,
                                           stdout=sys.stdout)
        elif fmt == "csv":
            written = ex.write_csv_tables(pairs, summary, out_dir, force, wanted, raw_csv)
        else:
            written = ex.write_sqlite_tables(pairs, summary, output, force, wanted)
    finally:
        spooled.close()
    if output != "-":
        click.echo(f"wrote {len(written)} file(s): {', '.join(written)}"
                   + (" (redacted)" if redact else ""), err=True)


def _redacting(pairs, summary, qry):
    """Rows masked one by one as they are written (as JSON Lines are); the summary says
    so once every table went by."""
    from ..output.redact import Redactor
    red = Redactor(qry)
    for t, rows in pairs:
        yield t, (red.row(t, r) for r in rows)
    summary["redacted"] = red.info()
