"""`msnsniff export`: the analysis as CSV, JSON, JSON Lines or SQLite (output/export.py
writes, model/schema.py defines the columns)."""

from __future__ import annotations

import os
import sys

import click

from ..output.emit import safe_text
from ..output.trace import TRACE_TABLE
from .common import (
    CONTEXT,
    capture_args,
    check_paths,
    complete_file,
    connection_option,
    filter_options,
    plan_jobs,
    progress_bar,
    redact_options,
    time_arg,
    tool_info,
)


@click.command(context_settings=CONTEXT)
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "jsonl", "sqlite"]),
              default=None, help="csv: one file per table in the -o folder; json / jsonl / "
              "sqlite: one file ('-' = stdout for json and jsonl).  Default: from -o's name "
              "(.json, .jsonl, .db/.sqlite; a folder: csv).")
# one option, three spellings: -o/--output as tshark/tcpdump users type it, --out as the
# first version documented it; a folder for csv and --per-capture, a file otherwise
@click.option("-o", "--output", "--out", "output", metavar="PATH", shell_complete=complete_file,
              help="Where to write: a file, or a folder (csv, --per-capture).")
@click.option("--tables", metavar="T1,T2", help="Only these tables (see docs/schema.md).")
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
@click.option("--raw-csv", is_flag=True,
              help="Do not neutralise CSV cells that spreadsheets would run as formulas.")
@click.option("--per-capture", is_flag=True,
              help="One export per capture, in --out DIR under the capture's name (with "
                   "--jobs N, N captures at a time, each streaming).")
@click.option("--dask", "dask_address", metavar="ADDRESS|local",
              help="With --per-capture: run each capture on a Dask cluster's workers "
                   "(captures and --out at the same path there); 'local' starts a "
                   "LocalCluster.  Needs the dask extra.")
@click.option("--no-trace", is_flag=True,
              help="sqlite: leave out the `trace` table (every command, as `commands` shows "
                   "it; it costs a second pass over the captures).")
@filter_options
@connection_option
@redact_options
@capture_args
def export(captures, ports, no_progress, jobs, fmt, output, tables, force, raw_csv,
           per_capture, dask_address, no_trace, account, with_, since, until, connections,
           redact, redact_qry):
    """Export the analysis (sessions, contacts, messages, …) as CSV, JSON, JSON Lines or
    SQLite.  The columns are documented in docs/schema.md.

    \b
    Example:
      msnsniff export capture.pcap -o case.db
    """
    from ..model.schema import TABLE_NAMES
    from ..output import export as ex

    wanted = None
    if tables:
        wanted = [t.strip() for t in tables.split(",") if t.strip()]
        bad = [t for t in wanted if t not in TABLE_NAMES]
        if bad:
            raise click.BadParameter(f"unknown table(s) {', '.join(bad)}; tables are "
                                     f"{', '.join(TABLE_NAMES)}", param_hint="--tables")
    if dask_address and not per_capture:
        raise click.UsageError("--dask goes with --per-capture")
    from ..output.rowfilter import RowFilter
    rf = RowFilter(account, with_, time_arg(since, "--since"), time_arg(until, "--until"),
                   connections)
    if per_capture:
        if rf.active:
            raise click.UsageError("--per-capture exports whole captures: the filters go "
                                   "without it")
        return _per_capture(captures, ports, jobs, fmt, output, wanted, force,
                            raw_csv, dask_address, redact, redact_qry)
    if not output:
        raise click.UsageError("give -o PATH (a file; a folder for csv)")
    if fmt is None:
        # inferred from the output's name (x.json, x.jsonl, x.db/.sqlite; a folder: csv)
        ext = os.path.splitext(output)[1].lower()
        fmt = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".db": "sqlite",
               ".sqlite": "sqlite", ".sqlite3": "sqlite"}.get(ext)
        if fmt is None and output != "-" and (os.path.isdir(output) or not ext):
            fmt = "csv"
        if fmt is None:
            raise click.UsageError("give --format csv|json|jsonl|sqlite (it cannot be told "
                                   "from the output's name)")
    out_dir = None
    if fmt == "csv":
        if output == "-":
            raise click.UsageError("--format csv writes one file per table: give -o DIR")
        out_dir, output = output, None
    elif output == "-" and fmt == "sqlite":
        raise click.UsageError("sqlite cannot be written to standard output")
    if output and output != "-":
        ex._check_target(output, force)       # fail before the (long) analysis
    if fmt == "jsonl" and not rf.active:
        # (filtered JSON Lines go through the spool below: sessions decide the rows)
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
    if rf.active:
        pairs = rf.pairs(pairs, summary)
    if redact:
        from ..output.redact import redact_pairs
        pairs = redact_pairs(pairs, summary, redact_qry)
    # the case file (sqlite) also holds the protocol trace
    extra = () if no_trace or fmt != "sqlite" else [("trace", TRACE_TABLE, lambda: _trace(
        paths, ports, redact, redact_qry, rf.keep_ids if rf.active else None))]
    try:
        written = ex.write_tables(fmt, pairs, summary, out_dir if fmt == "csv" else output,
                                  force, wanted, raw_csv, extra, stdout=sys.stdout)
    finally:
        spooled.close()
    if output != "-":
        click.echo(f"wrote {len(written)} file(s): {', '.join(written)}"
                   + (" (redacted)" if redact else ""), err=True)
    if rf.active:
        # what the filter kept of what, as the other filtered views say it
        click.echo(f"kept {rf.kept:,} of {rf.seen:,} rows ({len(rf.keep_ids):,} "
                   f"connections)", err=True)


def _trace(paths, ports, redact, redact_qry, keep):
    """The protocol trace for the SQLite case file (a second pass over the captures,
    streamed into the table): every command as `commands` shows it, and the gaps;
    with export's filters, only the kept connections'."""
    from ..engine.analyze import Run
    from ..output.trace import Trace, trace_rows
    rows = trace_rows(Run(paths, ports, trace=True).events(), Trace(redact, redact_qry))
    if keep is None:
        return rows
    return (r for r in rows if r["session"] in keep)




def _per_capture(captures, ports, jobs, fmt, out_dir, wanted, force, raw_csv,
                 dask_address, redact, redact_qry):
    """Each capture's export in DIR under its own name: N at a time (--jobs) or on Dask
    workers; each streams, so memory is N × one capture's, never the sum."""
    if fmt is None or not out_dir or out_dir == "-":
        raise click.UsageError("--per-capture writes into a folder: give --format and -o DIR")
    from ..output.export import EXTENSIONS
    paths = check_paths(captures)
    os.makedirs(out_dir, exist_ok=True)
    outs, taken = [], set()
    for p in paths:
        stem = os.path.basename(p) if p != "-" else "stdin"
        for ext in (".gz", ".bz2", ".xz"):
            stem = stem.removesuffix(ext)
        stem = os.path.splitext(stem)[0] or "capture"
        name, n = stem, 1
        while name in taken:                # the same name from two folders
            n += 1
            name = f"{stem}-{n}"
        taken.add(name)
        outs.append(os.path.join(out_dir, name + EXTENSIONS[fmt]))
    calls = [(p, o, fmt, ports, wanted, force, redact, redact_qry, tool_info(), raw_csv)
             for p, o in zip(paths, outs)]
    if dask_address:
        written = _on_dask(dask_address, jobs, calls)
    elif (jobs or 1) > 1 and len(paths) > 1:
        from ..engine.pool import map_in_processes
        from ..output.export import remove_leftovers
        try:
            written = map_in_processes(_export_job, calls, min(jobs, len(paths)))
        except BaseException:
            # stopped: the workers removed their temporary files; check that none is left
            for o in outs:
                remove_leftovers(o)
            raise
    else:
        written = [_export_job(c) for c in calls]
    # one capture that cannot be read costs only its own export: the others are written
    # and every failure is told, one line each
    files = [f for w in written if type(w) is not str for f in w]
    failed = [w for w in written if type(w) is str]
    click.echo(f"wrote {len(files)} file(s) for {len(paths) - len(failed)} of {len(paths)} "
               f"capture(s) in {out_dir}" + (" (redacted)" if redact else ""), err=True)
    for line in failed:
        click.echo(f"msnsniff: error: {safe_text(line)}", err=True)
    if failed:
        sys.exit(2)


def _export_job(args):              # top level: it runs in worker processes
    """A capture's files, or the one line that says why it has none."""
    from ..engine.api import export_capture
    from ..errors import MsnsniffError
    try:
        return export_capture(*args)
    except MsnsniffError as e:
        return str(e) if args[0] in str(e) else f"{args[0]}: {e}"
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # noqa: BLE001 - reported with the others, not lost
        return f"{args[0]}: internal error: {type(e).__name__}: {e}"


def _on_dask(address, jobs, calls):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise click.UsageError("--dask needs Dask: pip install 'msnsniff[dask]'") from None
    cluster = None
    if address == "local":
        cluster = LocalCluster(n_workers=jobs or 2, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(address)
    try:
        futures = client.map(_export_job, calls, pure=False)
        return client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
