"""What a person sees in round three (issue 30): flags, versions, help, fitted tables."""

import os
import pty
import subprocess
import sys

from conftest import cap, read_pty

MAIN = cap("msnp8_session.pcap")


def run(*args):
    return subprocess.run([sys.executable, "-m", "msnsniff", *args], capture_output=True,
                          text=True)


def on_terminal(*args, cols=80):
    """stdout and stderr of msnsniff on a pseudo-terminal ``cols`` wide."""
    import fcntl
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    p = subprocess.Popen([sys.executable, "-m", "msnsniff", *args, "--no-progress"],
                         stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out = read_pty(master)
    p.wait(30)
    return out.decode("utf-8").replace("\r\n", "\n")


def test_redact_qry_alone_is_refused_by_every_command():
    for command in ("read", "chats", "timeline", "export", "files", "commands"):
        r = run(command, MAIN, "--redact-qry")
        assert r.returncode == 2, command
        assert r.stderr.strip() == (f"msnsniff: error: --redact-qry goes with --redact "
                                    f"(see: msnsniff {command} -h)")


def test_one_version_number():
    from msnsniff import __version__
    assert run("--version").stdout.strip() == f"msnsniff, version {__version__}"
    # the package's metadata reads the same file (pyproject's version is dynamic)
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    d = apply_configuration(Distribution(), os.path.join(root, "pyproject.toml"))
    assert d.get_version() == __version__


def test_no_arguments_prints_the_help_as_lines():
    r = run()
    assert r.returncode == 2
    lines = r.stdout.splitlines()
    assert lines[0] == "Usage: msnsniff [OPTIONS] COMMAND [ARGS]..."
    assert "\\n" not in r.stdout and "  timeline" in r.stdout
    assert r.stdout == run("-h").stdout


def test_out_on_a_switchboard_is_leaving_not_signing_out():
    import csv
    import io
    rows = list(csv.DictReader(io.StringIO(run("timeline", MAIN, "--no-progress",
                                               "--format", "csv").stdout)))
    outs = [(r["session"], r["kind"], r["description"]) for r in rows
            if "OUT by" in r["description"]]
    assert outs == [
        ("7", "conversation", "carol@hotmail.com left switchboard session 11752013 (OUT by client)"),
        ("6", "conversation", "bob@hotmail.com left switchboard session 11752013 (OUT by client)"),
        ("5", "conversation", "alice@hotmail.com left switchboard session 11752013 (OUT by client)"),
        ("2", "logout", "alice@hotmail.com signed out (OUT by client)")]
