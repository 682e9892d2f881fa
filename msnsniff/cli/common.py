"""What every sub-command shares: the capture arguments, job planning, the progress bar,
redaction and time options.  Sub-commands import this module; it imports none of them."""

from __future__ import annotations

import sys

import click

from ..errors import MsnsniffError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def check_ports(ctx, param, value):
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


def redacted(doc, redact, qry):
    if not redact:
        if qry:
            raise click.UsageError("--redact-qry goes with --redact")
        return doc
    from ..output.redact import redact_document
    return redact_document(doc, qry)


def capture_args(f):
    f = click.argument("captures", nargs=-1, required=True, metavar="CAPTURE...")(f)
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

    from ..capture.files import file_size

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


def analyse_captures(captures, ports, no_progress=True, jobs=None):
    from ..engine.analyze import analyse
    paths = check_paths(captures)
    pool, split = plan_jobs(jobs, paths)
    return analyse(paths, ports, progress=progress_bar(no_progress), jobs=pool, split=split)



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
