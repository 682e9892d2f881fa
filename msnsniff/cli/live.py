"""`msnsniff live` and `msnsniff interfaces`: the same pipeline as `read`, fed by packet
sockets instead of a file, printing one line per event as traffic flows."""

from __future__ import annotations

import os
import signal
import sys
import time

import click

from ..errors import MsnsniffError
from ..output.emit import safe_text, show_time, to_json
from ..output.sections import write_report
from .common import CONTEXT, check_ports, complete_file, redact_options, tz_option


class _Stop:
    """First Ctrl-C / SIGTERM: stop cleanly and report.  Second: quit at once."""

    def __init__(self):
        self.requested = False

    def __call__(self, signum, frame):
        if self.requested:
            os._exit(130)
        self.requested = True


@click.command(context_settings=CONTEXT)
@click.option("-i", "--interface", "ifaces", multiple=True, metavar="IFACE",
              help="Interface to capture on (repeatable; default: all, like tcpdump -i any).")
@click.option("--port", "ports", type=int, multiple=True, callback=check_ports,
              help="Also treat this TCP port as MSNP (repeatable; 1863 always is).")
@click.option("--bpf", metavar="EXPR",
              help="Kernel filter instead of the default (announced switchboards and "
                   "transfers are still added to it).")
@click.option("-w", "--write", "write_path", metavar="FILE.pcap", shell_complete=complete_file,
              help="Also save every captured packet (read it later with `msnsniff read`).")
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many packets.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Stop after this many seconds.")
@click.option("--format", "fmt", type=click.Choice(["text", "jsonl"]), default="text",
              show_default=True, help="Event lines for people, or JSON records.")
@click.option("--export", "export_dir", metavar="DIR",
              help="When stopping, export the analysis into DIR.")
@click.option("--export-format", type=click.Choice(["csv", "json", "jsonl", "sqlite"]),
              default="csv", show_default=True, help="Format of --export.")
@click.option("--stats", "stats_every", type=float, default=None, is_flag=False,
              flag_value=10.0, metavar="[SECONDS]",
              help="Print a statistics line to stderr every SECONDS (default 10).")
@click.option("--no-typing", is_flag=True, help="Do not show typing notifications.")
@click.option("--no-summary", is_flag=True, help="Do not print the session summary at the end.")
@click.option("--account", metavar="PASSPORT",
              help="Only lines of this account's connections (the summary stays whole).")
@click.option("--with", "with_", metavar="PASSPORT",
              help="Only lines that name this person (sender, recipient, contact).")
@tz_option
@redact_options
def live(ifaces, ports, bpf, write_path, count, duration, fmt, export_dir, export_format,
         stats_every, no_typing, no_summary, account, with_, redact, redact_qry):
    """Decode MSNP traffic from network interfaces as it happens.

    Needs root or CAP_NET_RAW.  Stops on --count, --duration, Ctrl-C or SIGTERM, then
    prints the session summary (as `read` does).  A second Ctrl-C quits at once.
    """
    from ..capture.follow import Follow
    from ..capture.live import LiveSource
    from ..engine.analyze import Rows
    from ..model import Analysis
    from ..output.livefmt import LiveFormatter
    from ..pipeline import Pipeline

    if export_dir and os.path.exists(export_dir) and not os.path.isdir(export_dir):
        raise MsnsniffError(f"{export_dir}: exists and is not a directory")
    pipe = Pipeline(ports)
    pipe.follow = Follow(ports, user_bpf=bpf)
    import socket
    if not hasattr(socket, "AF_PACKET") or os.environ.get("MSNSNIFF_LIVE") == "scapy":
        # macOS, BSD: Scapy's capture sockets (tested on Linux with MSNSNIFF_LIVE=scapy)
        from ..capture.live_scapy import ScapySource
        src: LiveSource | ScapySource = ScapySource(ifaces, pipe.follow, write_path)
    else:
        src = LiveSource(ifaces, pipe.follow, write_path)
    src.open()
    name = "live:" + (",".join(src.ifaces) or "default")
    from ..config import DEFAULT_LIMITS
    rows = Rows(name, max_rows=DEFAULT_LIMITS.max_report_rows)
    red = None
    if redact:
        # lines, the closing summary and --export are masked alike (the -w file keeps
        # the packets as captured: it is evidence, not a report)
        from ..output.redact import Redactor
        red = Redactor(redact_qry)
        sink = rows

        def rows_sink(table, row):
            return sink(table, red.row(table, row))
    # finished connections leave as rows (capped), nothing else of them is kept
    analysis = Analysis(sink=rows_sink if red else rows, stream_sessions=True)
    printer = LiveFormatter(analysis, typing=not no_typing)
    stop = _Stop()
    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    out = sys.stdout

    recent: dict = {}
    counts = [0, 0]       # lines shown, lines made (the filters' trailer)
    day: list = [None]    # the date last printed (lines show the time of day under it)

    def show(events):
        for ev in events:
            analysis.apply(ev)
            if red is not None:
                red.collect_event(ev)
            rec = printer.record(ev)
            if rec is None:
                continue
            counts[1] += 1
            if (account or with_) and not _wanted(rec, printer._who(ev.conn), account, with_):
                continue
            counts[0] += 1
            if red is not None:
                rec = red.mask(rec)
            if fmt == "jsonl":
                out.write(to_json(rec) + "\n")
                continue
            # the same message seen on several connections of one conversation (sender's
            # and receivers') is printed once for people; jsonl keeps every record
            if rec["event"] in ("message", "invitation", "typing", "participant"):
                key = (rec["event"], rec.get("sender") or rec.get("passport"), rec["text"])
                if ev.ts - recent.get(key, -10.0) < 2.0:
                    continue
                recent[key] = ev.ts
                if len(recent) > 1000:
                    recent.clear()
            d, hms = show_time(rec["time"])
            if d != day[0]:
                day[0] = d
                out.write(f"-- {d}\n")
            out.write(f"{hms}  {safe_text(rec['text'])}\n")
        out.flush()

    click.echo(f"capturing on {', '.join(src.ifaces)} (filter: {bpf or 'default MSNP filter'})"
               + (f", writing {write_path}" if write_path else ""), err=True)
    started = time.monotonic()
    next_stats = started + (stats_every or 0)
    try:
        while not stop.requested:
            for seg in src.read(0.2):
                show(pipe.feed(seg))
                src.refresh_filter()
            if count and src.stats.packets >= count:
                break
            now = time.monotonic()
            if duration and now - started >= duration:
                break
            if stats_every and now >= next_stats:
                next_stats = now + stats_every
                _stats_line(src, pipe, started)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        src.close()
    show(pipe.finish())
    analysis.finish()
    doc = rows.document([(name, src.stats)])
    if src.truncated:
        doc["summary"]["truncated_packets"] = src.truncated
    if red is not None:
        doc = {k: (v if isinstance(v, list) or k.startswith("_") else red.value(v))
               for k, v in doc.items()}
        doc["summary"] = dict(doc["summary"], redacted=red.info())
    if not no_summary and fmt == "text":
        write_report(doc, out)
    if account or with_:
        click.echo(f"shown: {counts[0]} of {counts[1]} lines ("
                   + ", ".join(f"--{k} {v}" for k, v in (("account", account), ("with", with_)) if v)
                   + "; the summary is the whole capture's)", err=True)
    if fmt == "jsonl":
        out.write(to_json({"event": "summary", **doc["summary"]}) + "\n")
    if export_dir:
        _export(doc, export_dir, export_format)


def _wanted(rec, owner, account, with_) -> bool:
    """A live line kept by --account (the connection's owner, or the account a sign-in
    names) and --with (a person the line names)."""
    if account:
        a = account.lower()
        if owner.lower() != a and (rec.get("account") or "").lower() != a:
            return False
    if with_:
        w = with_.lower()
        named = {(rec.get(k) or "").lower() for k in ("sender", "passport", "account",
                                                      "inviter", "contact")}
        named.update(x.lower() for x in rec.get("recipients") or ())
        if w not in named:
            return False
    return True


def _stats_line(src, pipe, started):
    try:
        import resource
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    except ImportError:      # pragma: no cover - not Linux
        rss = 0
    click.echo(f"[stats] {time.monotonic() - started:.0f}s packets {src.stats.packets} "
               f"tcp {src.stats.tcp_segments} open connections {pipe.open_connections} "
               f"followed ports {len(src.follow.extra)} peak RSS {rss} MB", err=True)


def _export(doc, export_dir, fmt):
    from ..output import export as ex
    os.makedirs(export_dir, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    written = ex.write_document(doc, fmt, os.path.join(export_dir,
                                                       f"msnsniff-{stamp}{ex.EXTENSIONS[fmt]}"),
                                False)
    click.echo(f"exported: {', '.join(written)}", err=True)


@click.command(context_settings=CONTEXT)
def interfaces():
    """List the network interfaces live capture can use."""
    from ..capture.live import interfaces as ifs
    for idx, name in ifs():
        click.echo(f"{idx:>3}  {name}")
    click.echo("  -  any  (all interfaces; the default)")
