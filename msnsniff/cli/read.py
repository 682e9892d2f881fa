"""`msnsniff read`: every session as readable tables, or the analysis document."""

from __future__ import annotations

import sys

import click

from ..output.sections import for_account, for_connections, write_report, write_section, write_tail
from .common import (
    CONTEXT,
    FirstOutput,
    analyse_captures,
    capture_args,
    check_paths,
    connection_option,
    finish,
    plan_jobs,
    progress_bar,
    redact_options,
    redacted,
    table_format_option,
)


@click.command(context_settings=CONTEXT)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Readable tables, or the analysis document as JSON.")
@click.option("--account", metavar="PASSPORT", help="Only sessions of this account.")
@click.option("--brief", is_flag=True,
              help="Only the notification sessions' tables (no conversations or transfers).")
@connection_option
@table_format_option
@redact_options
@capture_args
def read(captures, ports, no_progress, jobs, fmt, account, brief, connections, table_format,
         redact, redact_qry):
    """Every MSN session in the capture, as readable tables.

    \b
    Example:
      msnsniff read capture.pcap --account alice@hotmail.com
    """
    paths = check_paths(captures)
    pool, split = plan_jobs(jobs, paths)
    # --connection needs the whole document (a session's id is known only once its
    # connection has been seen), so it takes the document path like --redact
    if fmt == "json" or redact or connections or pool > 1 and len(paths) > 1:
        from ..output.export import write_document
        doc = redacted(analyse_captures(paths, ports, no_progress, jobs), redact, redact_qry)
        doc = for_connections(doc, connections)
        if fmt == "json":
            write_document(for_account(doc, account), "json", "-", False, stdout=sys.stdout)
        else:
            write_report(doc, sys.stdout, account, table_format, brief)
        if account:         # (a capture without MSN is reported in the tables, exit 0)
            finish(len(for_account(doc, account)["sessions"]), 0, False,
                   f"no session of {account}")
        return
    # tables: printed as each connection finishes (flat memory on big captures)
    from ..engine.analyze import stream
    from ..output.readview import StreamingReport

    out = sys.stdout
    first = FirstOutput()

    def section(*sec):
        first.take()
        write_section(out, table_format, *sec)
    report = StreamingReport(section, account, brief)
    # on a terminal, the bar shows until the first session is printed (a long first
    # connection would otherwise leave the screen blank)
    summary = stream(paths, ports, emit=report.row,
                     progress=progress_bar(no_progress, until=first),
                     on_session=report.session, split=split, tables=report.tables)
    report.tail()
    first.take()
    try:
        write_tail(out, report.connections, {"summary": summary}, account, report.shown,
                    table_format)
    finally:
        report.connections.close()
    if account:
        finish(report.shown, 0, False, f"no session of {account}")
