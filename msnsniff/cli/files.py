"""`msnsniff files`: file transfers (MSNFTP and P2P) and, with --extract, the files."""

from __future__ import annotations

import click

from ..output.emit import FORMATS, emit, safe_text
from .common import (
    CONTEXT,
    analyse_captures,
    capture_args,
    columns_option,
    complete_dir,
    connection_option,
    filter_options,
    finish,
    pick_columns,
    project,
    redact_options,
    redacted,
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
    from ..output.extract import Extraction
    from ..output.transcript import TRANSFER_COLUMNS

    cols = pick_columns(columns, TRANSFER_COLUMNS)
    doc = redacted(analyse_captures(captures, ports, no_progress, jobs), redact, redact_qry)
    rows = doc["transfers"]
    since, until = time_arg(since, "--since"), time_arg(until, "--until")
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
