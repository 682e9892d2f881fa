"""`msnsniff files`: file transfers (MSNFTP and P2P) and, with --extract, the files."""

from __future__ import annotations


import click

from ..output.emit import FORMATS, emit
from .common import (CONTEXT, analyse_captures, capture_args)


@click.command(context_settings=CONTEXT)
@capture_args
@click.option("--extract", "extract_dir", metavar="DIR",
              help="Write the transferred files into DIR (names sanitised, never overwritten).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Output format.")
def files(captures, ports, no_progress, jobs, extract_dir, fmt):
    """File transfers (MSNFTP and P2P: files, display pictures, emoticons): names, sizes,
    completeness, hashes; optionally the files themselves."""
    from ..output.extract import extract_transfer
    from ..output.transcript import TRANSFER_COLUMNS

    doc = analyse_captures(captures, ports, no_progress, jobs)
    rows = doc["transfers"]
    if extract_dir:
        for t in rows:
            if t["_overflow"]:
                t["extracted_to"] = None
                click.echo(f"session {t['session']}: {t['name']} is larger than the in-memory "
                           "cap; not extracted", err=True)
            else:
                t["extracted_to"] = extract_transfer(extract_dir, t)
    rows = [{k: v for k, v in t.items() if not k.startswith("_")} for t in rows]
    if fmt == "table" and not rows:
        click.echo("no file transfers found")
        return
    emit(rows, TRANSFER_COLUMNS, fmt)
