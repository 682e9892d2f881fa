#!/usr/bin/env python3
"""Benchmark `msnsniff carve` on a generated memory-like image, against the naive
baseline examiners use (`strings -e l` + `grep`, and `strings` + `grep` for ASCII), and
append the numbers to bench/RESULTS.md.

    bench/carve.py [--size-mb 1024] [--repeat 3] [--out bench/out]

The image (deterministic, not committed; written unless it exists) is 4 KiB pages:
half zero pages, a quarter random bytes, a fifth English text (sentence case, one word
in 25 an acronym such as ``HTTP`` or ``CPU``: the scanner's anchors hit those and must
reject them; ``--dense-upper`` makes every third word upper case, ``NOT`` — an MSNP
verb — among them: the worst case for the scanner), and
one page in twenty holding MSNP fragments (ASCII and UTF-16LE, some across a page
boundary).  msnsniff's fragment count is checked against the number planted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time

from machine import cpu_times, load_average, load_line

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PAGE = 4096

FRAGMENTS = [
    b"MSG alice@hotmail.com Alice 130\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; "
    b"charset=UTF-8\r\nX-MMS-IM-Format: FN=Arial; EF=; CO=0; CS=0; PF=0\r\n\r\nsee you at 5",
    b"NLN AWY bob@hotmail.com Bob 268435492\r\n",
    b"MSG 4 N 91\r\nMIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\n"
    b"TypingUser: carol@hotmail.com\r\n\r\n\r\n",
    b"ILN 9 NLN dave@hotmail.com Dave 1073856572\r\n",
]
FRAGMENTS[0] = FRAGMENTS[0].replace(b"130", str(len(FRAGMENTS[0].split(b"\r\n", 1)[1])).encode())
FRAGMENTS[2] = FRAGMENTS[2].replace(b" 91", b" " + str(len(FRAGMENTS[2].split(b"\r\n", 1)[1])).encode())


DENSE = ("the quick brown fox jumps over lazy dog HELLO WORLD NOT A CMD and then "
         "SOME MORE TEXT with Names Like Alice").split()
PROSE = ("the of and to in is was for on that with as by it at from this be are or an "
         "which have not one had but all were they their there been has when who will "
         "more if no out so said what up its about into than them can only other new "
         "some could time these two may then do first any my now such like our over "
         "man me even most made after also did many before must through back years "
         "where much your way well down should because each just those people how too "
         "little state good very make world still own see men work long get here between "
         "both life being under never day same another know while last might us great "
         "old year off come since against go came right used take three").split()
ACRONYMS = ["HTTP", "CPU", "USB", "PDF", "OK", "URL", "HTML", "DNS", "RAM", "BIOS"]


def _prose(rnd) -> bytes:
    out, start = [], True
    while sum(len(w) + 1 for w in out) < PAGE:
        w = rnd.choice(ACRONYMS) if rnd.random() < 0.04 else rnd.choice(PROSE)
        out.append(w.capitalize() if start else w)
        start = rnd.random() < 0.08
        if start:
            out[-1] += "."
    return " ".join(out).encode()[:PAGE]


def generate(path: str, size_mb: int, dense: bool = False) -> int:
    """Write the image; returns how many fragments were planted."""
    rnd = random.Random(20261202)
    randoms = [rnd.randbytes(PAGE) for _ in range(64)]
    texts = []
    for _ in range(32):
        if dense:
            t = " ".join(rnd.choice(DENSE) for _ in range(900)).encode()[:PAGE]
        else:
            t = _prose(rnd)
        texts.append(t.ljust(PAGE, b" "))
    planted = 0
    pages = size_mb * 256
    with open(path + ".tmp", "wb", buffering=1 << 22) as f:
        for i in range(pages):
            x = rnd.random()
            if x < 0.5:
                f.write(bytes(PAGE))
            elif x < 0.75:
                f.write(rnd.choice(randoms))
            elif x < 0.95:
                f.write(rnd.choice(texts))
            else:
                page = bytearray(rnd.choice(randoms))
                pos = 64
                for k in range(4):
                    frag = FRAGMENTS[rnd.randrange(len(FRAGMENTS))]
                    if k % 2:
                        frag = frag.decode().encode("utf-16-le")
                    page[pos:pos + len(frag)] = frag
                    pos += len(frag) + rnd.randrange(8, 64)
                    planted += 1
                f.write(page[:PAGE])
    os.replace(path + ".tmp", path)
    with open(path + ".planted", "w") as f:
        f.write(str(planted))
    return planted


def timed(cmd, shell=False):
    """Wall seconds, CPU seconds (user+sys of every process the command ran), output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.Popen(cmd, shell=shell, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate()
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out, err


def peak_mb(cmd):
    """Peak resident size of the command (GNU time's maximum RSS)."""
    p = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True)
    return int(p.stderr.decode().strip().splitlines()[-1]) / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--dense-upper", action="store_true",
                    help="text pages dense with upper-case words (the worst case)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    img = os.path.join(a.out, f"carve-{a.size_mb}m{'-dense' if a.dense_upper else ''}.raw")
    if not os.path.exists(img):
        generate(img, a.size_mb, a.dense_upper)
    planted = int(open(img + ".planted").read())
    size = os.path.getsize(img)
    carve = [sys.executable, "-m", "msnsniff", "carve", img, "--format", "jsonl",
             "--no-progress"]
    tools = [
        ("msnsniff carve --format jsonl", carve, False),
        ("strings -e l | grep -E 'MSG|NLN|ILN|TypingUser'",
         f"strings -e l {img} | grep -cE 'MSG|NLN|ILN|TypingUser'", True),
        ("strings | grep -E 'MSG|NLN|ILN|TypingUser'",
         f"strings {img} | grep -cE 'MSG|NLN|ILN|TypingUser'", True),
    ]
    rows = []
    load, stat0 = load_average(), cpu_times()
    for name, cmd, shell in tools:
        walls, cpus, check = [], [], ""
        for _ in range(a.repeat):
            wall, cpu, out, err = timed(cmd, shell)
            walls.append(wall)
            cpus.append(cpu)
        if not shell:
            found = sum(json.loads(line)["count"] for line in out.decode().splitlines())
            check = f"{found} fragments found, {planted} planted"
            mem = f"{peak_mb(cmd):.0f}"
        else:
            check = f"{out.decode().strip()} matching lines (no offsets, no decoding)"
            mem = ""
        w = statistics.median(walls)
        rows.append(f"| {name} | {w:.2f} | {statistics.median(cpus):.2f} | "
                    f"{size / w / 1e6:.0f} | {mem} | {check} |")
        print(rows[-1], flush=True)
    machine = load_line(load, stat0, cpu_times())
    print(machine)
    flag = " --dense-upper" if a.dense_upper else ""
    text = ["", f"## carve{flag} ({time.strftime('%Y-%m-%d')})", "",
            f"`bench/carve.py --size-mb {a.size_mb}{flag}`: a generated {size / 1e6:.0f} MB "
            f"memory-like image (bench/carve.py's docstring), medians of {a.repeat} runs; "
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; {machine}; CPU "
            "is user+sys of every process; peak memory is GNU time's maximum RSS.", "",
            "| tool | wall s | CPU s | MB/s | peak memory MB | check |",
            "|---|---|---|---|---|---|",
            *rows]
    with open(os.path.join(HERE, "RESULTS.md"), "a") as f:
        f.write("\n".join(text) + "\n")


if __name__ == "__main__":
    main()
