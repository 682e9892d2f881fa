"""`msnsniff chats`: switchboard conversations as transcripts."""

from __future__ import annotations

import io
import sys

import click

from ..output.emit import FORMATS, emit, safe_text
from .common import (
    CONTEXT,
    capture_args,
    check_paths,
    columns_option,
    connection_option,
    finish,
    grep_options,
    grep_regex,
    highlight,
    pick_columns,
    plan_jobs,
    progress_bar,
    project,
    redact_options,
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
    from ..engine.analyze import stream
    from ..output.redact import Redactor
    from ..output.sessionstore import SessionStore
    from ..output.transcript import as_item, grouped, unfetched_emoticons

    since, until = time_arg(since, "--since"), time_arg(until, "--until")
    rx = grep_regex(grep, ignore_case)
    paths = check_paths(captures)
    red = Redactor(redact_qry) if redact else None
    # a conversation's rows are needed together, and which connections make one is
    # known only at the end: the rows wait on disk by connection (memory stays flat),
    # the switchboard sessions' few fields and the unfetched emoticons in memory
    store = SessionStore()
    sessions: list = []
    transfers: list = []

    def take(table, row):
        if red is not None:
            red.collect(table, row)     # every row: a secret is masked wherever it is seen
        if table == "messages":
            store.add(row["session"], row)
        elif table == "participants":
            store.add(row["session"], as_item(row), second=True)
        elif table == "sessions":
            store.done(row["id"])
            if row["kind"] == "switchboard":
                sessions.append({k: row[k] for k in _SESSION_FIELDS})
        elif table == "transfers" and row.get("status") == "not fetched" \
                and row.get("kind") == "emoticon":
            transfers.append({k: row[k] for k in ("session", "sender", "name", "status",
                                                  "kind")})

    try:
        stream(paths, ports, emit=take, progress=progress_bar(no_progress, buffered=True),
               split=plan_jobs(jobs, paths)[1],
               tables=None if red else {"sessions", "messages", "participants", "transfers"})
        store.finish()
        sessions.sort(key=lambda s: s["id"])
        if red is not None:
            sessions = [red.mask(s) for s in sessions]
            transfers = [red.mask(t) for t in transfers]

        def load(sid: int) -> list:
            rows = store.load(sid)
            return rows if red is None else [red.mask(r) for r in rows]
        convs = grouped(sessions, load, unfetched_emoticons(transfers), account, with_,
                        since, until, not no_typing, connections=set(connections))
        if rx is not None:
            convs = ((h, [r for r in rows if r["kind"] != "typing"
                          and rx.search(r["text"] or "")]) for h, rows in convs)
            convs = ((h, rows) for h, rows in convs if rows)
        shown = _write(convs, fmt, columns, table_format, rx)
    finally:
        store.close()
    finish(shown, 0, False, "no switchboard conversations")


_SESSION_FIELDS = ("id", "kind", "passport", "participants", "server", "sb_session_id",
                   "start", "end")


def _write(convs, fmt, columns, table_format, rx) -> int:
    """Each conversation as it is made (a table per conversation, or rows); returns
    how many there were."""
    from ..output.transcript import conversation_title
    n = [0]

    def counted():
        for c in convs:
            n[0] += 1
            yield c
    if fmt == "table":
        cols = pick_columns(columns, ROW_COLUMNS) if columns else ["time", "sender", "text"]
        for head, rows in counted():
            # the title names passports from the network: escaped like table cells
            click.echo(f"\n=== {safe_text(conversation_title(head))}")
            if rows:
                buf = io.StringIO()
                emit(rows, cols, "table", buf, tablefmt=table_format, headers=cols,
                     screen=sys.stdout)
                sys.stdout.write(highlight(buf.getvalue(), rx))
            else:
                click.echo("(no messages)")
        return n[0]
    cols = pick_columns(columns, ROW_COLUMNS)
    flat = (dict(r, participants=h["participants"]) for h, rows in counted() for r in rows)
    emit(project(flat, cols), cols, fmt)
    return n[0]
