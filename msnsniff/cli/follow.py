"""`msnsniff follow CAPTURE CONNECTION`: one connection, both directions, as the protocol
has it (Wireshark's "Follow TCP Stream", knowing MSNP)."""

from __future__ import annotations

import os
import sys

import click

from .common import CONTEXT, check_paths, check_ports, time_arg


@click.command(context_settings=CONTEXT)
@click.argument("capture", type=click.Path(allow_dash=True))
@click.argument("connection", type=int, required=False)
@click.option("--client", metavar="IP:PORT", help="The connection whose client is this endpoint.")
@click.option("--raw", is_flag=True, help="Also show each command's bytes as a hex dump.")
@click.option("--port", "ports", type=int, multiple=True, callback=check_ports,
              help="Also treat this TCP port as MSNP (repeatable).")
@click.option("--since", metavar="TIME", help="Only what came at or after this ISO 8601 time.")
@click.option("--until", metavar="TIME", help="Only what came at or before this ISO 8601 time.")
def follow(capture, connection, client, raw, ports, since, until):
    """Both directions of one connection in order: commands, payloads (text decoded,
    binary as a hex dump), gaps and undecodable bytes where they are.  CONNECTION is
    the id in the Connections table of `read`; an HTTP gateway session is followed by
    its id across the TCP connections that carried it.

    \b
    Example:
      msnsniff follow capture.pcap 5
      msnsniff follow capture.pcap --client 127.0.0.10:52677
    """
    from ..engine.analyze import Run
    from ..events import Anomaly, ConnectionOpened, Framed
    from ..model.timefmt import iso
    from ..output.follow import FollowPrinter

    since, until = time_arg(since, "--since"), time_arg(until, "--until")
    counts = [0, 0]                 # items shown, items of the connection

    if (connection is None) == (client is None):
        raise click.UsageError("give a CONNECTION id or --client IP:PORT")
    paths = check_paths([capture])
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    printer = FollowPrinter(colour=colour, raw=raw)
    run = Run(paths, ports, trace=True)
    want = connection
    found = False
    out = sys.stdout
    for ev in run.events():
        t = type(ev)
        if t is ConnectionOpened:
            if want is None and ev.client == client:
                want = ev.conn
            if ev.conn == want:
                found = True
                out.write(f"=== connection {ev.conn}: {ev.client} → {ev.server}\n")
            continue
        if want is None or getattr(ev, "conn", None) != want:
            continue
        if t is Framed or t is Anomaly and ev.kind == "gap":
            counts[1] += 1
            if since or until:
                when = iso(ev.ts)
                if since and when < since or until and when > until:
                    continue
            counts[0] += 1
        if t is Framed:
            lines = printer.item(ev.ts, ev.dir, ev.item)
        elif t is Anomaly and ev.kind == "gap":
            lines = printer.gap(ev.ts, ev.dir, ev.length, ev.offset)
        elif t.__name__ == "ConnectionClosed":
            lines = [f"=== closed ({ev.reason}): {ev.bytes_c2s} bytes →, {ev.bytes_s2c} bytes ←"]
        else:
            continue
        out.write("\n".join(lines) + "\n")
    if found and (since or until):
        click.echo(f"shown: {counts[0]} of {counts[1]} commands and gaps of the connection "
                   f"(--since/--until)", err=True)
    if not found:
        from ..errors import MsnsniffError
        raise MsnsniffError(f"no connection {connection if client is None else client} "
                            "in the capture (see the Connections table of `read`)")
