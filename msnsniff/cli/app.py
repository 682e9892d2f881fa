"""The command line's entry point: the click group, its sub-commands (one file each),
and the last line of defence that turns every failure into one line for people.

User mistakes and bad input raise MsnsniffError / click errors: one line, exit 2.
Anything unexpected prints one line pointing at --debug (exit 1), never a traceback
unless --debug asks for it.
"""

from __future__ import annotations

import signal
import sys

import click

from ..errors import MsnsniffError
from ..output.emit import safe_text
from ..version import __version__
from .anonymise import anonymise
from .carve import carve
from .chats import chats
from .commands import commands
from .common import CONTEXT
from .export import export
from .files import files
from .follow import follow
from .live import interfaces, live
from .read import read
from .report import report
from .stats import stats
from .timeline import timeline


class UserError(click.ClickException):
    """A MsnsniffError as click shows it: one line, exit code 2."""

    exit_code = 2

    def format_message(self):
        return self.message

    def show(self, file=None):
        # the message may quote a file name or a value that came from the network
        click.echo(f"msnsniff: error: {safe_text(self.format_message())}", err=True)


class Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MsnsniffError as e:
            raise UserError(str(e)) from None
        except BrokenPipeError:
            # click would turn it into exit code 1; main() makes it a quiet exit 0
            raise _OutputClosed() from None


def _version_line() -> str:
    """The version and which core reads captures (the compiled one, or the Python path
    where it was not built or MSNSNIFF_CORE=python)."""
    from ..core import name
    return f"%(prog)s, version %(version)s (core: {name()})"


class _OutputClosed(Exception):
    """Standard output was closed by its reader (``| head``)."""


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="msnsniff",
                      message=_version_line())
@click.option("--debug", is_flag=True, help="Show the full traceback of internal errors.")
@click.pass_context
def cli(ctx, debug):
    """Decode MSN Messenger (MSNP8) sessions from packet captures.

    Reads pcap / pcapng files (or - for standard input) and shows logins, profiles,
    contact lists, presence, challenges, switchboard chats and file transfers.
    """
    ctx.ensure_object(dict)["debug"] = debug


# the order people meet them in `msnsniff -h` is click's (alphabetical)
for _command in (commands, read, chats, files, export, live, interfaces, timeline, follow,
                 report, stats, carve, anonymise):
    cli.add_command(_command)


def _stop_cleanly_on(*signums):
    """SIGTERM and SIGHUP stop msnsniff like Ctrl-C: temporary files are removed and the
    reading process is stopped (their default action would leave both behind)."""
    def handler(signum, frame):
        raise KeyboardInterrupt
    for s in signums:
        try:
            signal.signal(s, handler)
        except (ValueError, OSError):      # not the main thread, or not on this system
            pass


def disk_error_line(e: OSError) -> str | None:
    """A full, read-only or forbidden disk met by any writer (standard output, the
    temporary folder of sorted runs, an export) as one line; None for other errors."""
    import errno
    where = e.filename or "the output"
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"error: {where}: no space left on the device (free some space and run again)"
    if e.errno == errno.EROFS:
        return f"error: {where}: the file system is read-only"
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"error: {where}: permission denied"
    return None


def main(argv=None):
    import gc
    # Decoded rows are long-lived and acyclic; with the default thresholds the cyclic
    # collector rescans them over and over (it cost ~10% on dense captures).  Fewer,
    # later collections; everything imported so far is frozen out of the scans.
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    _stop_cleanly_on(signal.SIGTERM, signal.SIGHUP)
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="msnsniff", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as e:
        # `msnsniff` alone: the help, as -h prints it (on stdout, real line breaks)
        click.echo(e.ctx.get_help() if e.ctx is not None else cli.get_help(click.Context(cli)))
        sys.exit(2)
    except click.UsageError as e:
        # one line, not click's three (usage, hint, error)
        cmd = e.ctx.command_path if e.ctx is not None else "msnsniff"
        click.echo(f"msnsniff: error: {safe_text(e.format_message())} (see: {cmd} -h)",
                   err=True)
        sys.exit(2)
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
    except OSError as e:
        line = disk_error_line(e)
        if line is None:
            if debug:
                raise
            line = f"internal error: {type(e).__name__}: {e} (run again with --debug for " \
                   "the traceback)"
        # standard output may be the full disk: its final flush must not fail again
        import os
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        click.echo(f"msnsniff: {safe_text(line)}", err=True)
        sys.exit(2 if line.startswith("error:") else 1)
    except Exception as e:  # noqa: BLE001 - the last line of defence for people
        if debug:
            raise
        click.echo(f"msnsniff: internal error: {type(e).__name__}: {e} "
                   "(run again with --debug for the traceback)", err=True)
        sys.exit(1)
