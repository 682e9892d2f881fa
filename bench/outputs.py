#!/usr/bin/env python3
"""Record what every command prints, in every format, for every capture in captures/.

Used to prove that a refactoring changes no behaviour: record before, record after,
then ``diff -r BEFORE AFTER`` must print nothing.

    python3 bench/outputs.py /tmp/before
"""

from __future__ import annotations

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
] + [(cmd, fmt) for cmd in ("commands", "chats", "files") for fmt in FORMATS] + [
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
        out.write_bytes(b"".join(parts))


def main():
    dest = Path(sys.argv[1])
    dest.mkdir(parents=True, exist_ok=True)
    caps = sorted(p for p in (ROOT / "captures").iterdir() if p.suffix in (".pcap", ".pcapng"))
    for cap in caps:
        rel = os.path.relpath(cap, ROOT)
        for r in RUNS:
            cmd, fmt, *extra = r
            name = "_".join([cap.stem, cmd, fmt, *[e.strip("-") for e in extra]])
            run([cmd, rel, "--format", fmt, *extra], dest / name)
        for fmt in ("csv", "json", "jsonl", "sqlite"):
            export(cap, fmt, dest / f"{cap.stem}_export_{fmt}")
    print(f"{len(list(dest.iterdir()))} outputs in {dest}")


if __name__ == "__main__":
    main()
