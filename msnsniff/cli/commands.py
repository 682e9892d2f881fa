"""`msnsniff commands`: the protocol trace."""

from __future__ import annotations

import io
import sys

import click

from ..output.emit import FORMATS, StreamedTable, cell, emit, safe_text, terminal_width
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

# the trace's headers on a terminal
SHORT = {"connection": "conn", "direction": "dir", "payload_length": "bytes"}
# their widths when the table streams (params and summary share the rest)
FIXED = {"time": 15, "conn": 4, "dir": 3, "verb": 7, "trid": 4, "bytes": 5}


@click.command(context_settings=CONTEXT)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Output format.")
@click.option("--verb", "verbs", multiple=True, help="Only these verbs (repeatable, e.g. MSG).")
@connection_option
@filter_options
@grep_options
@strict_option
@table_format_option
@columns_option
@redact_options
@capture_args
def commands(captures, ports, no_progress, jobs, fmt, verbs, connections, account, with_, since,
             until, grep, ignore_case, strict, table_format, columns, redact, redact_qry):
    """Protocol trace: one row per MSNP command, plus damage (gaps, undecodable bytes).

    \b
    --account keeps the connections of that account (known from its CVR, USR or ANS;
    the commands before are held back until then); --with keeps the commands that
    name that passport and every command of a switchboard that person is in.

    \b
    Example:
      msnsniff commands capture.pcap --verb CHL --verb QRY
      msnsniff commands capture.pcap --account alice@hotmail.com --with bob@hotmail.com
    """
    from ..engine.analyze import CaptureNotice, Run
    from ..events import (
        Anomaly,
        AuthStart,
        ClientInfo,
        ConnectionClosed,
        ConnectionOpened,
        DialectKnown,
        Framed,
        Participant,
        SbJoinRequest,
    )
    from ..output.trace import TRACE_COLUMNS, Trace

    captures = check_paths(captures)
    verbs_u = {v.upper() for v in verbs}
    from ..protocol.tables import KNOWN_VERBS
    for v in sorted(verbs_u - KNOWN_VERBS):
        if not v.isdigit():
            click.echo(f"msnsniff: warning: {v} is not an MSNP verb msnsniff knows; "
                       "no command may match", err=True)
    from ..output.trace import TRACE_EXTRA
    cols = pick_columns(columns, TRACE_COLUMNS + TRACE_EXTRA) if columns else TRACE_COLUMNS
    rx = grep_regex(grep, ignore_case)
    since, until = time_arg(since, "--since"), time_arg(until, "--until")
    streamed = (fmt in ("csv", "jsonl") or fmt == "table" and not columns
                and table_format in ("simple", "plain") and bool(terminal_width(sys.stdout)))
    run = Run(captures, ports, trace=True,
              progress=progress_bar(no_progress, buffered=not streamed),
              split=plan_jobs(jobs, captures)[1])
    trace = Trace(redact=redact, redact_qry=redact_qry)

    acct = account.lower() if account else None
    other = with_.lower() if with_ else None
    owner: dict = {}          # connection -> its account's passport, once known
    held: dict = {}           # connection -> rows waiting for its account (--account)
    with_in: set = set()      # switchboards --with's person is in
    counts = [0, 0]           # rows shown, rows of the trace

    def keep(r):
        conn = r["connection"]
        if other and conn not in with_in and other not in f"{r['params']} {r['summary']}".lower():
            return False
        if acct and conn is not None:
            if conn not in owner:
                held.setdefault(conn, []).append(r)
                return False
            return owner[conn] == acct
        return True

    def rows():
        for ev in run.events():
            t = type(ev)
            if t is ConnectionOpened:
                trace.open(ev)
                continue
            if t is DialectKnown:
                trace.versions[ev.conn] = ev.version
                continue
            if t in (ClientInfo, AuthStart, SbJoinRequest) and ev.conn not in owner:
                owner[ev.conn] = (ev.passport or "").lower()
                waiting = held.pop(ev.conn, ())
                if owner[ev.conn] == acct:
                    counts[0] += len(waiting)
                    yield from waiting
                continue
            if t is Participant and other and ev.passport.lower() == other:
                with_in.add(ev.conn)
                continue
            if t is ConnectionClosed:
                held.pop(ev.conn, None)      # never named its account: not shown
                continue
            if t is Framed:
                r = trace.framed(ev)
            elif t is Anomaly and ev.kind == "gap":
                r = trace.gap(ev)
            elif t is CaptureNotice:
                r = {c: None for c in TRACE_COLUMNS}
                r.update(verb="<capture>", summary=f"{ev.path}: {ev.text}")
            else:
                continue
            if r is None:
                continue
            counts[1] += 1
            if verbs_u and r["verb"] not in verbs_u:
                continue
            if connections and r["connection"] not in connections:
                continue
            if rx is not None and not rx.search(f"{r['params']} {r['summary']}"):
                continue
            if (since and (r["time"] or "") < since) or (until and (r["time"] or "") > until):
                continue
            if (acct or other) and not keep(r):
                continue
            counts[0] += 1
            yield r

    if fmt in ("csv", "jsonl"):
        emit(project(rows(), cols), cols, fmt)    # streamed as the capture is read
    elif streamed:
        # a terminal: rows as they are decoded, in widths fixed from the trace's schema
        # (flat memory; the first row shows at once), each connection's endpoints on a
        # line of their own where it first appears
        cols = [c for c in cols if c not in ("client", "server")]
        table = StreamedTable(sys.stdout, [SHORT.get(c, c) for c in cols], FIXED,
                              terminal_width(sys.stdout), table_format)
        seen = set()
        for r in project(rows(), cols + ["client", "server"]):
            conn = r["connection"]
            if conn is not None and conn not in seen:
                seen.add(conn)
                table.line(safe_text(f"-- connection {conn}: {r['client']} > {r['server']}"))
            line = io.StringIO()
            table.out, out = line, table.out
            table.row([cell(r[c]) for c in cols])
            table.out = out
            out.write(highlight(line.getvalue(), rx, header=False))
    elif fmt == "table" and not terminal_width(sys.stdout):
        # piped: emit streams the table (widths from its first rows), nothing is held
        emit(project(rows(), cols), cols, fmt, sys.stdout, tablefmt=table_format)
    else:
        buf = io.StringIO()
        heads = None
        if fmt == "table" and not columns and terminal_width(sys.stdout):
            # on a terminal: the endpoints once per connection above the table, not on
            # every row, and short headers (the room goes to params and summary)
            cols = [c for c in cols if c not in ("client", "server")]
            heads = [SHORT.get(c, c) for c in cols]
        selected = list(project(rows(), cols))
        if heads:
            for conn, (client, server) in sorted(trace.endpoints.items()):
                buf.write(safe_text(f"connection {conn}: {client} > {server}") + "\n")
            buf.write("\n")
        emit(selected, cols, fmt, buf, tablefmt=table_format, screen=sys.stdout, headers=heads)
        sys.stdout.write(highlight(buf.getvalue(), rx) if fmt == "table" else buf.getvalue())
    lines = trace.summary_lines(run.stats)
    if verbs_u or connections or acct or other or rx is not None or since or until:
        # the counts above are the whole capture's; say how much of it the rows are
        lines.insert(0, f"shown: {counts[0]:,} of {counts[1]:,} trace rows")
    if redact:
        lines.append("redaction: on (tickets and cookies masked"
                     + (", QRY answers masked)" if redact_qry else ")"))
    if fmt == "table":
        click.echo("\n" + "\n".join(lines))
    else:
        click.echo("\n".join(lines), err=True)
    finish(counts[0], trace.gaps + (trace.undecodable > 0)
           + sum(len(st.notices()) for _, st in run.stats), strict)
