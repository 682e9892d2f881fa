"""`msnsniff stats`: requests and their replies, per verb, account or server."""

from __future__ import annotations

import click

from ..output.emit import FORMATS, emit
from .common import CONTEXT, capture_args, check_paths, finish, plan_jobs, progress_bar, table_format_option


@click.command(context_settings=CONTEXT)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
              show_default=True, help="Output format.")
@click.option("--by", type=click.Choice(["verb", "account", "server"]), default="verb",
              show_default=True, help="One row per request verb, per account or per server.")
@table_format_option
@capture_args
def stats(captures, ports, no_progress, jobs, fmt, by, table_format):
    """Each client request paired with its reply by TrID on its connection: how many,
    how many answered, latency (p50/p95, milliseconds), error codes (by verb, or
    "VERB code" per account or server).  Requests still open when the capture ends
    are unanswered; MSG with ack U or N, OUT, PNG and BYE expect no reply.

    \b
    Example:
      msnsniff stats capture.pcap --by account
    """
    from ..engine.analyze import Run
    from ..events import AuthStart, ClientInfo, ConnectionOpened, Framed, SbJoinRequest
    from ..output.stats import STATS_COLUMNS, Stats
    from ..stream.framing import RawCommand

    paths = check_paths(captures)
    run = Run(paths, ports, trace=True, progress=progress_bar(no_progress, buffered=True),
              split=plan_jobs(jobs, paths)[1])
    st = Stats()
    for ev in run.events():
        t = type(ev)
        if t is Framed:
            if type(ev.item) is RawCommand:
                st.command(ev.conn, ev.dir, ev.ts, ev.item)
        elif t is ConnectionOpened:
            st.opened(ev.conn, ev.server)
        elif t in (ClientInfo, AuthStart, SbJoinRequest):
            st.named(ev.conn, ev.passport)
    rows = st.rows(by)
    emit(rows, [by, *STATS_COLUMNS], fmt, tablefmt=table_format)
    finish(len(rows), 0, False)
