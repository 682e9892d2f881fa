"""What every sub-command shares: the capture arguments, job planning, the progress bar,
redaction and time options.  Sub-commands import this module; it imports none of them."""

from __future__ import annotations

import functools
import sys

import click

from ..errors import MsnsniffError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


TABLE_STYLES = ("simple", "plain", "grid", "github", "pipe", "orgtbl", "rst", "psql",
                "fancy_grid", "outline", "presto", "pretty", "rounded_grid", "heavy_grid",
                "mixed_grid", "double_grid", "jira", "html", "latex", "mediawiki", "moinmoin",
                "textile", "tsv", "youtrack", "simple_grid", "rounded_outline")


def table_format_option(f):
    f = click.option("--wide", is_flag=True, expose_value=False, callback=_wide,
                     help="On a terminal, do not wrap cells to fit its width.")(f)
    f = tz_option(f)
    return click.option("--table-format", type=click.Choice(TABLE_STYLES), default="simple",
                        show_default=True, help="Table style (tabulate's names).")(f)


# One convention for how a row command ends (README, "Exit codes"): 0 rows shown, 1
# nothing matched (nothing to show, or the filters kept nothing), 2 bad usage or input
# msnsniff cannot read, 3 damaged input under --strict (as tshark fails on a cut file).
NOTHING_MATCHED, DAMAGED = 1, 3


def strict_option(f):
    return click.option("--strict", is_flag=True,
                        help="Exit with status 3 when the input is damaged (gaps, "
                        "undecodable bytes, a cut capture); the rows are still shown.")(f)


def finish(shown: int, damage: int, strict: bool, what: str = ""):
    """Exit as the convention says, with one line on stderr when it is not 0 (``what``:
    what there was none of)."""
    if strict and damage:
        click.echo(f"msnsniff: damaged input: {damage:,} damage report(s) (--strict)",
                   err=True)
        sys.exit(DAMAGED)
    if not shown:
        click.echo(f"msnsniff: nothing matched{f' ({what})' if what else ''}", err=True)
        sys.exit(NOTHING_MATCHED)


def complete_file(ctx, param, incomplete):
    """Shell completion of an output path: the shell offers file names (a click.Path
    type would do it too, but would also check the path in click's words, not ours)."""
    from click.shell_completion import CompletionItem
    return [CompletionItem(incomplete, type="file")]


def complete_dir(ctx, param, incomplete):
    from click.shell_completion import CompletionItem
    return [CompletionItem(incomplete, type="dir")]


def tz_option(f):
    return click.option("--tz", metavar="ZONE", expose_value=False, callback=_tz,
                        help="Show times in this zone: local, UTC (the default) or a name "
                        "such as Europe/Berlin.")(f)


def _tz(ctx, param, value):
    from ..output.emit import set_timezone
    set_timezone(value)
    return value


def _wide(ctx, param, value):
    from ..output.emit import WIDE
    WIDE[0] = bool(value)
    return value


def same_account(a: str | None, b: str | None) -> bool:
    """Passports compare case-insensitively (alice@Hotmail.com is alice@hotmail.com)."""
    return a is not None and b is not None and a.lower() == b.lower()


def columns_option(f):
    return click.option("--columns", metavar="A,B,C",
                        help="Only these columns, in this order (any format).")(f)


def pick_columns(columns: str | None, available: list[str]) -> list[str]:
    """--columns against the command's columns: unknown names are refused, listing the
    valid ones."""
    if not columns:
        return available
    wanted = [c.strip() for c in columns.split(",") if c.strip()]
    bad = [c for c in wanted if c not in available]
    if bad:
        raise click.BadParameter(f"unknown column(s) {', '.join(bad)}; choose from "
                                 f"{', '.join(available)}", param_hint="--columns")
    return wanted


def project(rows, columns):
    for r in rows:
        yield {c: r.get(c) for c in columns}


def grep_options(f):
    f = click.option("--grep", metavar="REGEX", help="Only rows whose text matches (Python "
                     "regular expression; highlighted on a terminal).")(f)
    f = click.option("-i", "--ignore-case", is_flag=True, help="--grep ignores case.")(f)
    return f


def grep_regex(pattern, ignore_case):
    import re
    if pattern is None:
        return None
    try:
        return re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as e:
        raise click.BadParameter(f"{pattern!r}: {e}", param_hint="--grep") from None


def highlight(text: str, rx, header=True) -> str:
    """Matches in reverse video, for a terminal (unless NO_COLOR is set).  Applied to
    the rendered (already escaped) table, so alignment and escaping are untouched."""
    import os
    if rx is None or os.environ.get("NO_COLOR") or not sys.stdout.isatty():
        return text
    lines = text.split("\n")
    skip = 2 if header else 0         # the header and its rule
    return "\n".join(lines[:skip] + [rx.sub(lambda m: f"\x1b[7m{m.group(0)}\x1b[27m", ln)
                                   for ln in lines[skip:]])


def filter_options(f, with_=True, times=True):
    if times:
        f = click.option("--until", metavar="TIME",
                         help="Only rows at or before this ISO 8601 time (UTC).")(f)
        f = click.option("--since", metavar="TIME",
                         help="Only rows at or after this ISO 8601 time (UTC).")(f)
    if with_:
        f = click.option("--with", "with_", metavar="PASSPORT",
                         help="Only rows that involve this person.")(f)
    f = click.option("--account", metavar="PASSPORT",
                     help="Only this account's rows (passports compare case-insensitively).")(f)
    return f


def connection_option(f):
    """The same --connection on every command that shows sessions: the ids are the
    `session` / `connection` numbers of the Connections table and of `commands`."""
    return click.option("--connection", "connections", type=click.IntRange(min=1),
                        multiple=True, metavar="ID",
                        help="Only these connections (session ids; repeatable).")(f)


def check_ports(ctx, param, value):
    for p in value:
        if not 0 < p < 65536:
            raise click.BadParameter(f"{p} is not a TCP port (1-65535)")
    return tuple(value)


def redact_options(inner):
    @functools.wraps(inner)
    def f(*args, **kwargs):
        # every command refuses the flag alone (read used to redact nothing, silently)
        if kwargs.get("redact_qry") and not kwargs.get("redact"):
            raise click.UsageError("--redact-qry goes with --redact")
        return inner(*args, **kwargs)
    f = click.option("--redact", is_flag=True,
                     help="Mask Passport tickets, MSPAuth, switchboard and MSNFTP cookies.")(f)
    f = click.option("--redact-qry", is_flag=True,
                     help="With --redact: mask the QRY challenge answers too.")(f)
    return f


def redacted(doc, redact, qry):
    if not redact:              # (redact_options refused --redact-qry alone)
        return doc
    from ..output.redact import redact_document
    return redact_document(doc, qry)


def _remember(key):
    def callback(ctx, param, value):
        ctx.meta[f"msnsniff.{key}"] = value
        return value
    return callback


def capture_args(f):
    # a path type: shells complete file names (see README, "Shell completion")
    f = click.argument("captures", nargs=-1, required=False, metavar="CAPTURE...",
                       type=click.Path(allow_dash=True))(f)
    # tcpdump/tshark habits: -r FILE (repeatable) and -c N
    f = click.option("-r", "read_files", multiple=True, type=click.Path(allow_dash=True),
                     metavar="FILE", expose_value=False, callback=_remember("read"),
                     help="A capture to read (as tcpdump -r; the same as naming it).")(f)
    f = click.option("-c", "count", type=click.IntRange(1), default=None, metavar="N",
                     expose_value=False, callback=_remember("count"),
                     help="Stop after N packets that reach msnsniff (per capture).")(f)
    f = click.option("--port", "ports", type=int, multiple=True, callback=check_ports,
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
    pipeline is cut into two stage processes — see engine/stages.py)."""
    import os
    if jobs is not None:
        return jobs, jobs > 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    if cpus < 2:
        return 1, False
    from ..capture.files import file_size
    total = 0
    for p in paths:
        if p == "-":
            return 1, True              # a pipe: its length is unknown, assume long
        total += file_size(p) or 0
    return 1, total >= SPLIT_MIN_BYTES


def check_paths(paths) -> list[str]:
    """The capture paths (the arguments and any -r FILE), globs expanded (for shells
    that did not), each checked."""
    import glob
    import os
    ctx = click.get_current_context(silent=True)
    paths = list(paths) + list((ctx.meta.get("msnsniff.read") if ctx else None) or ())
    if not paths:
        raise click.UsageError("give a capture (CAPTURE or -r FILE; - reads standard input)")
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


class FirstOutput:
    """The moment a streaming command (``read``) writes its first line to the terminal
    its progress bar shares.  The bar is drawn until then, possibly by the reading
    process (engine/stages.py forks it): the flag lives in anonymous shared memory,
    which the fork inherits."""

    def __init__(self):
        import mmap
        self.flag = mmap.mmap(-1, 1)

    @property
    def taken(self) -> bool:
        return self.flag[0] == 1

    def take(self) -> None:
        """Before the first write: the bar stops drawing and its line is cleared."""
        if self.flag[0]:
            return
        self.flag[0] = 1
        if sys.stderr.isatty():
            import time
            time.sleep(0.02)        # (a reading process mid-redraw finishes it first)
            sys.stderr.write("\r\033[2K\033[?25h")
            sys.stderr.flush()


def progress_bar(no_progress, buffered=False, until: FirstOutput | None = None):
    """A progress wrapper for file input when stderr is a terminal (bytes read of the
    file, rate, ETA); never on pipes, so machine-readable output stays clean.
    ``buffered``: the command writes nothing until the capture is read, so the bar may
    share the terminal with it (otherwise a big capture leaves the screen blank).
    ``until``: the command streams to that terminal; the bar is drawn until its first
    output (``FirstOutput.take``) and then gives the terminal up."""
    # on a terminal's stderr only; and not when stdout is that terminal too: the report
    # streams there while the bar redraws, and the bar's lines would end up inside the
    # tables (it may be drawn by the reading process, apart from the writing one)
    ctx = click.get_current_context(silent=True)
    count = ctx.meta.get("msnsniff.count") if ctx else None
    shared = sys.stdout.isatty() and not buffered
    if no_progress or not sys.stderr.isatty() or (shared and until is None):
        return _limited(count) if count else None
    stop = until if shared else None
    import os
    import time

    from ..capture.files import file_size

    def wrap(path, segs, stats):
        if count:
            segs = _limited(count)(path, segs, stats)
        size = file_size(path)
        if not size or (stop is not None and stop.taken):
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
                    if stop is not None and stop.taken:
                        break                   # the output has the terminal now
                    bar.update(stats.position - done)
                    done = stats.position
            else:
                if stop is None or not stop.taken:
                    bar.update(size - done)
            if stop is not None:
                bar.hidden = True       # no closing line: the first output clears the bar
        yield from segs                 # (after a break: the rest, undrawn)
    return wrap


def _limited(count):
    """-c N: the first N segments of each capture that reach msnsniff."""
    from itertools import islice

    def wrap(path, segs, stats):
        return islice(segs, count)
    return wrap


def analyse_captures(captures, ports, no_progress=True, jobs=None):
    from ..engine.analyze import analyse
    paths = check_paths(captures)
    pool, split = plan_jobs(jobs, paths)
    doc = analyse(paths, ports, progress=progress_bar(no_progress), jobs=pool, split=split)
    doc["summary"]["tool"] = tool_info()
    return doc


def tool_info() -> dict:
    """Who made the document, for the chain of custody."""
    import shlex

    from ..version import __version__
    return {"name": "msnsniff", "version": __version__,
            "command_line": " ".join(shlex.quote(a) for a in ["msnsniff", *sys.argv[1:]])}



def time_arg(value, name):
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
