"""`msnsniff chats`: switchboard conversations as transcripts."""

from __future__ import annotations


import click

from ..output.emit import FORMATS, emit
from .common import (CONTEXT, analyse_captures, capture_args, redact_options, redacted, time_arg)


@click.command(context_settings=CONTEXT)
@capture_args
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Output format.")
@click.option("--account", metavar="PASSPORT",
              help="Only conversations this account took part in (captured on its side).")
@click.option("--with", "with_", metavar="PASSPORT", help="Only conversations with this person.")
@click.option("--since", metavar="TIME", help="Only lines at or after this ISO 8601 time (UTC).")
@click.option("--until", metavar="TIME", help="Only lines at or before this ISO 8601 time (UTC).")
@click.option("--no-typing", is_flag=True, help="Hide typing notifications.")
@click.option("--table-format", default="plain", show_default=True, help="tabulate table style.")
@redact_options
def chats(captures, ports, no_progress, jobs, fmt, account, with_, since, until, no_typing,
          table_format, redact, redact_qry):
    """Switchboard conversations as transcripts: who said what to whom.

    The connections of one conversation (the caller's and each invitee's) are merged
    into one transcript; a message captured on several of them is shown once."""
    from ..output.transcript import conversation_title, conversations

    since, until = time_arg(since, "--since"), time_arg(until, "--until")
    doc = redacted(analyse_captures(captures, ports, no_progress, jobs), redact, redact_qry)
    convs = list(conversations(doc, account, with_, since, until, not no_typing))
    columns = ["time", "sender", "text"]
    if fmt == "table":
        if not convs:
            click.echo("no switchboard conversations found")
        for head, rows in convs:
            click.echo(f"\n=== {conversation_title(head)}")
            if rows:
                emit(rows, columns, "table", tablefmt=table_format, headers=columns)
            else:
                click.echo("(no messages)")
        return
    flat = [dict(r, participants=h["participants"]) for h, rows in convs for r in rows]
    emit(flat, ["time", "session", "account", "sender", "recipients", "kind", "text",
                "font", "effects", "color", "ack"], fmt)
