"""`msnsniff files`: file transfers (MSNFTP and P2P) and, with --extract, the files."""

from __future__ import annotations

import click

from ..output.emit import FORMATS, emit, safe_text
from .common import (
    CONTEXT,
    capture_args,
    check_paths,
    columns_option,
    complete_dir,
    connection_option,
    filter_options,
    finish,
    pick_columns,
    plan_jobs,
    progress_bar,
    project,
    redact_options,
    table_format_option,
    time_arg,
)


@click.command(context_settings=CONTEXT)
@click.option("--extract", "extract_dir", metavar="DIR", shell_complete=complete_dir,
              help="Write the transferred files into DIR (names sanitised, never overwritten).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Output format.")
@filter_options
@connection_option
@table_format_option
@columns_option
@redact_options
@capture_args
def files(captures, ports, no_progress, jobs, extract_dir, fmt, account, with_, since, until,
          connections, table_format, columns, redact, redact_qry):
    """File transfers (MSNFTP and P2P: files, display pictures, emoticons): names, sizes,
    completeness, hashes; optionally the files themselves.

    \b
    Example:
      msnsniff files capture.pcap --extract recovered/
    """
    from ..engine.analyze import session_order, stream
    from ..output.extract import Extraction
    from ..output.redact import Redactor
    from ..output.transcript import TRANSFER_COLUMNS

    cols = pick_columns(columns, TRANSFER_COLUMNS)
    since, until = time_arg(since, "--since"), time_arg(until, "--until")
    paths = check_paths(captures)
    red = Redactor(redact_qry) if redact else None
    rows: list = []

    def take(table, row):
        # only the transfers are kept (and their bytes only for --extract), so memory
        # follows the transfers, not the capture; --redact reads every row for the
        # secrets it masks (a ticket seen in a session row is masked everywhere)
        if red is not None:
            red.collect(table, row)
        if table == "transfers":
            rows.append(row if extract_dir else
                        {k: v for k, v in row.items() if not k.startswith("_")})

    stream(paths, ports, emit=take, tables=None if red else {"transfers"},
           progress=progress_bar(no_progress, buffered=True), split=plan_jobs(jobs, paths)[1])
    # the document's order: by connection (rows arrive as connections finish)
    rows.sort(key=lambda t: session_order(t["session"]))
    if red is not None:
        rows = [red.mask(t) for t in rows]
    people = [x.lower() for x in (account, with_) if x]
    rows = [t for t in rows
            if all(p in ((t["sender"] or "").lower(), (t["receiver"] or "").lower())
                   for p in people)
            and (not connections or t["session"] in connections)
            and (not since or (t.get("finished") or "") >= since)
            and (not until or (t.get("finished") or t.get("started") or "") <= until)]
    if extract_dir:
        ex = Extraction(extract_dir)
        for t in rows:
            if t["_overflow"]:
                t["extracted_to"] = None
                click.echo(f"session {t['session']}: {safe_text(str(t['name']))} is larger "
                           "than the in-memory cap; not extracted", err=True)
            else:
                t["extracted_to"] = ex.add(t)
        manifest = ex.manifest()
        if manifest:
            click.echo(f"wrote {manifest}", err=True)
    rows = [{k: v for k, v in t.items() if not k.startswith("_")} for t in rows]
    if fmt == "table" and not rows:
        finish(0, 0, False, "no file transfers")
    emit(list(project(rows, cols)) if columns else rows, cols, fmt, tablefmt=table_format)
    finish(len(rows), 0, False, "no file transfers")
