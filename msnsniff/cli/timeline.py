"""`msnsniff timeline`: every event of every session, in time order."""

from __future__ import annotations

import io
import sys

import click

from ..output.emit import FORMATS, emit
from .common import (
    CONTEXT,
    capture_args,
    check_paths,
    columns_option,
    connection_option,
    filter_options,
    finish,
    grep_options,
    grep_regex,
    highlight,
    pick_columns,
    plan_jobs,
    progress_bar,
    project,
    redact_options,
    strict_option,
    table_format_option,
    time_arg,
)


@click.command(context_settings=CONTEXT)
@click.option("--format", "fmt", type=click.Choice([*FORMATS, "timesketch"]), default="table",
              show_default=True, help="Output format (timesketch: JSON Lines Timesketch "
              "imports).")
@filter_options
@connection_option
@grep_options
@strict_option
@table_format_option
@columns_option
@redact_options
@capture_args
def timeline(captures, ports, no_progress, jobs, fmt, account, with_, since, until,
             connections, grep,
             ignore_case, strict, table_format, columns, redact, redact_qry):
    """One row per event across all sessions, in time order: logins and logouts, profile
    and NAT, presence and personal messages, list changes, joins and leaves, messages,
    invitations and transfers, challenges, errors, damage.

    \b
    Example:
      msnsniff timeline capture.pcap --account alice@hotmail.com \\
          --since 2003-09-05T10:00Z --until 2003-09-05T10:05Z
    """
    from ..engine.analyze import stream
    from ..output.redact import Redactor
    from ..output.timeline import COLUMNS, TimelineSort, entries, one_per_message, timesketch

    paths = check_paths(captures)
    since, until = time_arg(since, "--since"), time_arg(until, "--until")
    rx = grep_regex(grep, ignore_case)
    cols = pick_columns(columns, COLUMNS)
    red = Redactor(redact_qry) if redact else None
    acct = account.lower() if account else None
    other = with_.lower() if with_ else None
    sort = TimelineSort()
    sb_key = {}       # switchboard connection -> (server, session id): one conversation

    counts = [0, 0, 0, 0]    # rows shown, damage rows, entries, entries kept

    def take(table, row):
        if table == "anomalies":
            counts[1] += 1
        if table == "sessions" and row["kind"] == "switchboard" and row.get("sb_session_id"):
            sb_key[row["id"]] = (row["server"], row["sb_session_id"])
        if red is not None:
            row = red.row(table, row)
        for e in entries(table, row):
            counts[2] += 1
            if connections and e[1] not in connections:
                continue
            if acct and (e[2] or "").lower() != acct:
                continue
            if other and other not in e[4].lower():
                continue
            if (since and e[0] < since) or (until and e[0] > until):
                continue
            if rx is not None and not rx.search(e[4]):
                continue
            counts[3] += 1
            sort.add(e)

    # (every row waits for the sort: the bar shows until the first one)
    stream(paths, ports, emit=take, progress=progress_bar(no_progress, buffered=True),
           split=plan_jobs(jobs, paths)[1])
    def counted(entries):
        for e in entries:
            counts[0] += 1
            yield e
    rows = (dict(zip(COLUMNS, e))
            for e in counted(one_per_message(sort, lambda c: sb_key.get(c, c))))
    if fmt == "timesketch":
        emit((timesketch(r) for r in rows), None, "jsonl")
    elif fmt == "table":
        # a table is laid out whole: past TABLE_BLOCK rows it is printed as several
        # tables of that many rows, each with its header (memory is one block)
        for block in _blocks(project(rows, cols), TABLE_BLOCK):
            buf = io.StringIO()
            emit(block, cols, "table", buf, tablefmt=table_format, screen=sys.stdout)
            sys.stdout.write(highlight(buf.getvalue(), rx))
    elif fmt in ("csv", "jsonl"):
        emit(project(rows, cols), cols, fmt)
    else:
        emit(project(rows, cols), cols, fmt)       # (json streams its rows)
    if connections or acct or other or since or until or rx is not None:
        # entries, each copy of a message counted (the rows fold copies into one)
        click.echo(f"shown: {counts[3]:,} of {counts[2]:,} timeline entries", err=True)
    finish(counts[0], counts[1], strict)


TABLE_BLOCK = 5_000   # rows laid out as one table (its widths); memory is one block


def _blocks(rows, n):
    block, any_ = [], False
    for r in rows:
        block.append(r)
        if len(block) == n:
            yield block
            block, any_ = [], True
    if block or not any_:           # (no row at all: the header alone, as before)
        yield block
