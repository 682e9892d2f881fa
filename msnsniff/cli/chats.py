"""`msnsniff chats`: switchboard conversations as transcripts."""

from __future__ import annotations

import io
import sys

import click

from ..output.emit import FORMATS, emit, safe_text
from .common import (
    CONTEXT,
    analyse_captures,
    capture_args,
    columns_option,
    connection_option,
    finish,
    grep_options,
    grep_regex,
    highlight,
    pick_columns,
    project,
    redact_options,
    redacted,
    table_format_option,
    time_arg,
)

ROW_COLUMNS = ["time", "session", "account", "sender", "recipients", "kind", "text", "font",
               "effects", "color", "ack", "participants"]


@click.command(context_settings=CONTEXT)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Output format.")
@click.option("--account", metavar="PASSPORT",
              help="Only conversations this account took part in (captured on its side).")
@click.option("--with", "with_", metavar="PASSPORT", help="Only conversations with this person.")
@click.option("--since", metavar="TIME", help="Only lines at or after this ISO 8601 time (UTC).")
@click.option("--until", metavar="TIME", help="Only lines at or before this ISO 8601 time (UTC).")
@click.option("--no-typing", is_flag=True, help="Hide typing notifications.")
@connection_option
@grep_options
@table_format_option
@columns_option
@redact_options
@capture_args
def chats(captures, ports, no_progress, jobs, fmt, account, with_, since, until, no_typing,
          connections, grep, ignore_case, table_format, columns, redact, redact_qry):
    """Switchboard conversations as transcripts: who said what to whom.

    The connections of one conversation (the caller's and each invitee's) are merged
    into one transcript; a message captured on several of them is shown once.

    \b
    Example:
      msnsniff chats capture.pcap --with carol@hotmail.com --grep café -i
    """
    from ..output.transcript import conversation_title, conversations

    since, until = time_arg(since, "--since"), time_arg(until, "--until")
    doc = redacted(analyse_captures(captures, ports, no_progress, jobs), redact, redact_qry)
    convs = list(conversations(doc, account, with_, since, until, not no_typing,
                               connections=set(connections)))
    rx = grep_regex(grep, ignore_case)
    if rx is not None:
        convs = [(h, [r for r in rows if r["kind"] != "typing" and rx.search(r["text"] or "")])
                 for h, rows in convs]
        convs = [(h, rows) for h, rows in convs if rows]
    if fmt == "table":
        cols = pick_columns(columns, ROW_COLUMNS) if columns else ["time", "sender", "text"]
        for head, rows in convs:
            # the title names passports from the network: escaped like table cells
            click.echo(f"\n=== {safe_text(conversation_title(head))}")
            if rows:
                buf = io.StringIO()
                emit(rows, cols, "table", buf, tablefmt=table_format, headers=cols,
                     screen=sys.stdout)
                sys.stdout.write(highlight(buf.getvalue(), rx))
            else:
                click.echo("(no messages)")
        finish(len(convs), 0, False, "no switchboard conversations")
        return
    cols = pick_columns(columns, ROW_COLUMNS)
    flat = [dict(r, participants=h["participants"]) for h, rows in convs for r in rows]
    emit(list(project(flat, cols)), cols, fmt)
    finish(len(convs), 0, False, "no switchboard conversations")
