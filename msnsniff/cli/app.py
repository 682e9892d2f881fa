"""The command line: a thin click layer over analyze.py, report.py and emit.py.

User mistakes and bad input raise MsnsniffError / click errors: one line, exit 2.
Anything unexpected prints one line pointing at --debug (exit 1), never a traceback
unless --debug asks for it.
"""

from __future__ import annotations

import sys

import click

from . import __version__
from .emit import FORMATS, emit
from .errors import MsnsniffError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _ports(ctx, param, value):
    for p in value:
        if not 0 < p < 65536:
            raise click.BadParameter(f"{p} is not a TCP port (1-65535)")
    return tuple(value)


def redact_options(f):
    f = click.option("--redact", is_flag=True,
                     help="Mask Passport tickets, MSPAuth, switchboard and MSNFTP cookies.")(f)
    f = click.option("--redact-qry", is_flag=True,
                     help="With --redact: mask the QRY challenge answers too.")(f)
    return f


def _redacted(doc, redact, qry):
    if not redact:
        if qry:
            raise click.UsageError("--redact-qry goes with --redact")
        return doc
    from .redact import redact_document
    return redact_document(doc, qry)


def capture_args(f):
    f = click.argument("captures", nargs=-1, required=True, metavar="CAPTURE...")(f)
    f = click.option("--port", "ports", type=int, multiple=True, callback=_ports,
                     help="Also treat this TCP port as MSNP (repeatable; 1863 always is).")(f)
    f = click.option("--no-progress", is_flag=True,
                     help="No progress bar (it is shown on a terminal's stderr only).")(f)
    f = click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
                     help="Processes to use.  Several captures: analysed side by side in "
                          "this many processes.  One capture: with 2 or more, one process "
                          "reads and decodes while another builds the report.  [default: 2 "
                          "stages for captures over 8 MB on a machine with 2+ CPUs, else 1]")(f)
    return f


SPLIT_MIN_BYTES = 8 << 20   # below this the second process costs more than it saves


def plan_jobs(jobs, paths) -> tuple[int, bool]:
    """(processes for analysing several captures side by side, whether one run of the
    pipeline is cut into two stage processes — see stages.py)."""
    import os
    if jobs is not None:
        return jobs, jobs > 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    if cpus < 2:
        return 1, False
    from .capture import file_size
    total = 0
    for p in paths:
        if p == "-":
            return 1, True              # a pipe: its length is unknown, assume long
        total += file_size(p) or 0
    return 1, total >= SPLIT_MIN_BYTES


def _check_paths(paths) -> list[str]:
    """The capture paths, globs expanded (for shells that did not), each checked."""
    import glob
    import os
    out = []
    for p in paths:
        if p == "-":
            out.append(p)
            continue
        if not os.path.exists(p) and any(c in p for c in "*?["):
            found = sorted(glob.glob(p))
            if not found:
                raise MsnsniffError(f"{p}: no capture file matches")
            out.extend(found)
            continue
        if os.path.isdir(p):
            raise MsnsniffError(f"{p}: is a directory, not a capture file")
        if not os.path.exists(p):
            raise MsnsniffError(f"{p}: no such file")
        out.append(p)
    return out


def progress_bar(no_progress):
    """A progress wrapper for file input when stderr is a terminal (bytes read of the
    file, rate, ETA); never on pipes, so machine-readable output stays clean."""
    if no_progress or not sys.stderr.isatty():
        return None
    import os
    import time

    from .capture import file_size

    def wrap(path, segs, stats):
        size = file_size(path)
        if not size:
            yield from segs
            return
        start = time.monotonic()

        def rate(_):
            secs = max(time.monotonic() - start, 1e-6)
            return f"{stats.position / secs / 1e6:.0f} MB/s"
        with click.progressbar(length=size, label=os.path.basename(path), file=sys.stderr,
                               item_show_func=rate, show_eta=True) as bar:
            done = 0
            n = 0
            for seg in segs:
                yield seg
                n += 1
                if not n & 1023 and stats.position > done:
                    bar.update(stats.position - done)
                    done = stats.position
            bar.update(size - done)
    return wrap


def _analyse(captures, ports, no_progress=True, jobs=None):
    from .analyze import analyse
    paths = _check_paths(captures)
    pool, split = plan_jobs(jobs, paths)
    return analyse(paths, ports, progress=progress_bar(no_progress), jobs=pool, split=split)


class UserError(click.ClickException):
    """A MsnsniffError as click shows it: one line, exit code 2."""

    exit_code = 2

    def format_message(self):
        return self.message

    def show(self, file=None):
        click.echo(f"msnsniff: error: {self.format_message()}", err=True)


class Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MsnsniffError as e:
            raise UserError(str(e)) from None
        except BrokenPipeError:
            # click would turn it into exit code 1; main() makes it a quiet exit 0
            raise _OutputClosed() from None


class _OutputClosed(Exception):
    """Standard output was closed by its reader (``| head``)."""


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="msnsniff")
@click.option("--debug", is_flag=True, help="Show the full traceback of internal errors.")
@click.pass_context
def cli(ctx, debug):
    """Decode MSN Messenger (MSNP8) sessions from packet captures.

    Reads pcap / pcapng files (or - for standard input) and shows logins, profiles,
    contact lists, presence, challenges, switchboard chats and file transfers.
    """
    ctx.ensure_object(dict)["debug"] = debug


# ---------------------------------------------------------------- commands
@cli.command(context_settings=CONTEXT)
@capture_args
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Output format.")
@click.option("--verb", "verbs", multiple=True, help="Only these verbs (repeatable, e.g. MSG).")
@click.option("--connection", "connections", type=int, multiple=True,
              help="Only these connection ids (repeatable).")
@click.option("--table-format", default="simple", show_default=True,
              help="tabulate table style (plain, simple, github, grid, …).")
@redact_options
def commands(captures, ports, no_progress, jobs, fmt, verbs, connections, table_format, redact,
             redact_qry):
    """Protocol trace: one row per MSNP command, plus damage (gaps, undecodable bytes)."""
    from .analyze import CaptureNotice, Run
    from .events import Anomaly
    from .pipeline import ConnectionOpened, Framed
    from .report import TRACE_COLUMNS, Trace

    captures = _check_paths(captures)
    if redact_qry and not redact:
        raise click.UsageError("--redact-qry goes with --redact")
    verbs_u = {v.upper() for v in verbs}
    run = Run(captures, ports, trace=True, progress=progress_bar(no_progress),
              split=plan_jobs(jobs, captures)[1])
    trace = Trace(redact=redact, redact_qry=redact_qry)

    def rows():
        for ev in run.events():
            t = type(ev)
            if t is ConnectionOpened:
                trace.open(ev)
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
            if verbs_u and r["verb"] not in verbs_u:
                continue
            if connections and r["connection"] not in connections:
                continue
            yield r

    if fmt in ("csv", "jsonl"):
        emit(rows(), TRACE_COLUMNS, fmt)          # streamed as the capture is read
    else:
        emit(list(rows()), TRACE_COLUMNS, fmt, tablefmt=table_format)
    lines = trace.summary_lines(run.stats)
    if redact:
        lines.append("redaction: on (tickets and cookies masked"
                     + (", QRY answers masked)" if redact_qry else ")"))
    if fmt == "table":
        click.echo("\n" + "\n".join(lines))
    else:
        click.echo("\n".join(lines), err=True)


# ---------------------------------------------------------------- read
@cli.command(context_settings=CONTEXT)
@capture_args
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Readable tables, or the analysis document as JSON.")
@click.option("--account", metavar="PASSPORT", help="Only sessions of this account.")
@click.option("--table-format", default="simple", show_default=True,
              help="tabulate table style (plain, simple, github, grid, …).")
@redact_options
def read(captures, ports, no_progress, jobs, fmt, account, table_format, redact, redact_qry):
    """Every MSN session in the capture, as readable tables."""
    paths = _check_paths(captures)
    pool, split = plan_jobs(jobs, paths)
    if fmt == "json" or redact or pool > 1 and len(paths) > 1:
        from .export import write_json
        doc = _redacted(_analyse(paths, ports, no_progress, jobs), redact, redact_qry)
        if fmt == "json":
            write_json(for_account(doc, account), "-", False, stdout=sys.stdout)
        else:
            write_report(doc, sys.stdout, account, table_format)
        return
    # tables: printed as each connection finishes (flat memory on big captures)
    from .analyze import stream
    from .report import StreamingReport

    out = sys.stdout
    report = StreamingReport(lambda *sec: _write_section(out, table_format, *sec), account)
    summary = stream(paths, ports, emit=report.row, progress=progress_bar(no_progress),
                     on_session=report.session, split=split, tables=report.TABLES)
    try:
        _write_tail(out, report.connections, {"summary": summary}, account, report.shown,
                    table_format)
    finally:
        report.connections.close()


def _write_section(out, table_format, title, columns, rows):
    if columns is None:
        out.write(f"\n=== {title}\n")
        return
    out.write(f"\n-- {title}\n")
    if rows:
        emit(rows, columns, "table", out, tablefmt=table_format,
             headers=[c.removesuffix("_s") for c in columns])
    else:
        out.write("(none)\n")


def _write_tail(out, conns, doc, account, shown, table_format):
    from .report import CONNECTION_COLUMNS, summary_rows
    if account and not shown:
        out.write(f"\nno session of {account} in the capture\n")
    if conns:
        out.write("\n=== Connections\n")
        if isinstance(conns, list):
            emit(sorted(conns, key=lambda c: c["id"]), CONNECTION_COLUMNS, "table", out,
                 tablefmt=table_format)
        else:                       # a streamed read's ConnectionSpool
            conns.write(out, table_format)
    out.write("\n=== Capture summary\n")
    emit(summary_rows(doc), ["field", "value"], "table", out, tablefmt=table_format)


def write_report(doc, out, account=None, table_format="simple"):
    """The `read` tables for a whole document (`live` prints it when it stops)."""
    from .report import read_sections

    shown = 0
    for title, columns, rows in read_sections(doc, account):
        shown += columns is None
        _write_section(out, table_format, title, columns, rows)
    conns = [s for s in doc["sessions"] if not account or s["passport"] == account]
    _write_tail(out, conns, doc, account, shown, table_format)


def for_account(doc, account):
    """The document restricted to one account's sessions (all of it when None)."""
    if not account:
        return doc
    keep = {s["id"] for s in doc["sessions"] if s["passport"] == account}
    out = dict(doc)
    for k, v in doc.items():
        if isinstance(v, list):
            out[k] = [r for r in v if r.get("session", r.get("id")) in keep]
    return out


# ---------------------------------------------------------------- chats
@cli.command(context_settings=CONTEXT)
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
    from .report import conversation_title, conversations

    since, until = _time_arg(since, "--since"), _time_arg(until, "--until")
    doc = _redacted(_analyse(captures, ports, no_progress, jobs), redact, redact_qry)
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


def _time_arg(value, name):
    if value is None:
        return None
    from datetime import datetime, timezone
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time "
                                 "(e.g. 2003-09-05T14:30:00Z)", param_hint=name) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------- files
@cli.command(context_settings=CONTEXT)
@capture_args
@click.option("--extract", "extract_dir", metavar="DIR",
              help="Write the transferred files into DIR (names sanitised, never overwritten).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Output format.")
def files(captures, ports, no_progress, jobs, extract_dir, fmt):
    """MSNFTP file transfers: names, sizes, completeness, hashes; optionally the files."""
    from .extract import write_file
    from .report import TRANSFER_COLUMNS

    doc = _analyse(captures, ports, no_progress, jobs)
    rows = doc["transfers"]
    if extract_dir:
        for t in rows:
            if t["_overflow"]:
                t["extracted_to"] = None
                click.echo(f"session {t['session']}: {t['name']} is larger than the in-memory "
                           "cap; not extracted", err=True)
            elif t["received"]:
                t["extracted_to"] = write_file(extract_dir, t["name"] or f"transfer-{t['session']}",
                                               bytes(t["_data"]))
    rows = [{k: v for k, v in t.items() if not k.startswith("_")} for t in rows]
    if fmt == "table" and not rows:
        click.echo("no file transfers found")
        return
    emit(rows, TRANSFER_COLUMNS, fmt)


# ---------------------------------------------------------------- entry point
def _register():
    from .cli_export import export
    from .cli_live import interfaces, live
    cli.add_command(export)
    cli.add_command(live)
    cli.add_command(interfaces)


_register()


def main(argv=None):
    import gc
    # Decoded rows are long-lived and acyclic; with the default thresholds the cyclic
    # collector rescans them over and over (it cost ~10% on dense captures).  Fewer,
    # later collections; everything imported so far is frozen out of the scans.
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="msnsniff", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except MsnsniffError as e:
        UserError(str(e)).show()
        sys.exit(2)
    except (BrokenPipeError, _OutputClosed):
        # output piped into head & co.: not an error.  Point stdout at /dev/null so the
        # interpreter's final flush of the lost output does not fail again (exit 120)
        import os
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as e:  # noqa: BLE001 - the last line of defence for people
        if debug:
            raise
        click.echo(f"msnsniff: internal error: {type(e).__name__}: {e} "
                   "(run again with --debug for the traceback)", err=True)
        sys.exit(1)
