#!/usr/bin/env python3
"""Record what every command prints, in every format, for every capture in captures/:
read, commands, chats, files, timeline, export (every format), the report's page,
follow of every connection, and live's lines.

Used to prove that a refactoring changes no behaviour: record before, record after,
then ``diff -r BEFORE AFTER`` must print nothing (temporary folders are written as DIR;
a checkout at another path differs in the capture paths, which ``sed`` can align).
Recordings made before 2026-12-04 name their files ``capture_command_…`` rather than
``capture_pcap_command_…``: compare recordings made by the same version of this script.

    python3 bench/outputs.py /tmp/before
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ["table", "csv", "json", "jsonl"]

RUNS = [("read", fmt) for fmt in ("table", "json")] + [
    ("read", "table", "--redact"), ("read", "table", "--table-format", "grid"),
    ("read", "table", "-j2"),
] + [(cmd, fmt) for cmd in ("commands", "chats", "files", "timeline") for fmt in FORMATS] + [
    ("timeline", "timesketch"), ("timeline", "table", "--redact"),
    ("commands", "table", "--redact", "--redact-qry"), ("chats", "table", "--no-typing"),
]


def run(args, out: Path):
    env = dict(os.environ, MSNSNIFF_READER=os.environ.get("MSNSNIFF_READER", ""))
    p = subprocess.run([sys.executable, "-m", "msnsniff", *args, "--no-progress"],
                       capture_output=True, env=env, cwd=ROOT)
    out.write_bytes(p.stdout + b"\n--- stderr\n" + p.stderr + f"\n--- exit {p.returncode}\n".encode())


def export(cap: Path, fmt: str, out: Path):
    with tempfile.TemporaryDirectory() as d:
        dest = Path(d) / "x"
        args = ["export", str(cap), "--format", fmt, "--no-progress"]
        args += ["--out", str(dest)] if fmt == "csv" else ["-o", str(dest)]
        p = subprocess.run([sys.executable, "-m", "msnsniff", *args], capture_output=True, cwd=ROOT)
        # the temporary folder's name differs per run: not part of the behaviour
        parts = [p.stdout.replace(d.encode(), b"DIR"), p.stderr.replace(d.encode(), b"DIR"),
                 f"exit {p.returncode}\n".encode()]
        if fmt == "csv" and dest.is_dir():
            for f in sorted(dest.iterdir()):
                parts += [f"== {f.name}\n".encode(), f.read_bytes()]
        elif fmt == "sqlite" and dest.exists():
            con = sqlite3.connect(dest)
            parts += [("\n".join(con.iterdump()) + "\n").encode()]
            con.close()
        elif dest.exists():
            parts.append(dest.read_bytes())
        # (the files name it too: summary.tool.command_line)
        out.write_bytes(b"".join(parts).replace(d.encode(), b"DIR"))


def report(rel: str, out: Path):
    """The HTML report's page (and what the command printed)."""
    with tempfile.TemporaryDirectory() as d:
        page = Path(d) / "r.html"
        p = subprocess.run([sys.executable, "-m", "msnsniff", "report", rel, "-o", str(page),
                            "--no-progress"], capture_output=True, cwd=ROOT)
        parts = [p.stdout.replace(d.encode(), b"DIR"), p.stderr.replace(d.encode(), b"DIR"),
                 f"exit {p.returncode}\n".encode()]
        if page.exists():
            parts.append(page.read_bytes())
        out.write_bytes(b"".join(parts).replace(d.encode(), b"DIR"))


def follow_all(rel: str, stem: str, dest: Path):
    """`follow` of every connection `read` lists, plain and with --raw for the first."""
    p = subprocess.run([sys.executable, "-m", "msnsniff", "export", rel, "--format", "json",
                        "-o", "-", "--no-progress"], capture_output=True, cwd=ROOT)
    ids = sorted(s["id"] for s in json.loads(p.stdout)["sessions"]) if p.returncode == 0 else []
    for i in ids:
        run(["follow", rel, str(i)], dest / f"{stem}_follow_{i}")
    if ids:
        run(["follow", rel, str(ids[0]), "--raw"], dest / f"{stem}_follow_{ids[0]}_raw")


LIVE = """
import json, sys
from msnsniff.capture.files import read_segments
from msnsniff.model import Analysis
from msnsniff.output.livefmt import LiveFormatter
from msnsniff.pipeline import Pipeline
pipe, analysis = Pipeline(), Analysis(sink=lambda t, r: None, stream_sessions=True)
printer = LiveFormatter(analysis)
def show(evs):
    for ev in evs:
        analysis.apply(ev)
        rec = printer.record(ev)
        if rec is not None:
            print(json.dumps(rec, ensure_ascii=False, default=str))
for seg in read_segments(sys.argv[1]):
    show(pipe.feed(seg))
show(pipe.finish())
"""


def live(rel: str, out: Path):
    """The lines `live` prints for the capture's events, fed as a capture file (live's
    own loop over a socket is not replayable; its formatter and model are the same)."""
    run_py = [sys.executable, "-c", LIVE, rel]
    p = subprocess.run(run_py, capture_output=True, cwd=ROOT)
    out.write_bytes(p.stdout + b"\n--- stderr\n" + p.stderr + f"\n--- exit {p.returncode}\n".encode())


def main():
    dest = Path(sys.argv[1])
    dest.mkdir(parents=True, exist_ok=True)
    caps = sorted(p for p in (ROOT / "captures").iterdir()
                  if p.name.endswith((".pcap", ".pcapng", ".pcap.gz")))
    for cap in caps:
        rel = os.path.relpath(cap, ROOT)
        stem = cap.name.replace(".", "_")
        for r in RUNS:
            cmd, fmt, *extra = r
            name = "_".join([stem, cmd, fmt, *[e.strip("-") for e in extra]])
            run([cmd, rel, "--format", fmt, *extra], dest / name)
        for fmt in ("csv", "json", "jsonl", "sqlite"):
            export(cap, fmt, dest / f"{stem}_export_{fmt}")
        report(rel, dest / f"{stem}_report")
        live(rel, dest / f"{stem}_live")
        follow_all(rel, stem, dest)
    print(f"{len(list(dest.iterdir()))} outputs in {dest}")


if __name__ == "__main__":
    main()
