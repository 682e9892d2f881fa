#!/usr/bin/env python3
"""Coverage-guided differential fuzzing of the compiled core (atheris / libFuzzer): each
input is a capture file, read and framed by the compiled core and by the Python path;
segments, reader counts and every event must be the same (core_harness.py).

    mkdir -p /tmp/corecorpus && cp captures/*.pcap* /tmp/corecorpus/
    python3 fuzz/fuzz_core.py -max_total_time=3600 -max_len=65536 /tmp/corecorpus

Under AddressSanitizer and UndefinedBehaviorSanitizer (the core parses hostile
packets): ``fuzz/fuzz_core.py --asan SECONDS DIR…`` builds _core.c with
-fsanitize=address,undefined into a temporary folder and, with that build loaded, runs
every file of the folders (the seeds, and the corpus the run above grew) and then
random mutations of them (bit flips, cuts, splices, boundary values written over
length fields) for SECONDS, each through the same comparison; a memory error or
undefined behaviour in C stops it with the sanitizer's report, a difference with an
AssertionError and the input saved as core-diff-*.  (libFuzzer's coverage does not
survive a preloaded gcc ASan runtime, so this half mutates without it.)  CI runs both
briefly (tests/test_core.py).
"""

import os
import subprocess
import sys
import sysconfig
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def build_asan(out_dir: str) -> str:
    """_core.c built with ASan + UBSan (the sanitizers abort on the first error)."""
    so = os.path.join(out_dir, "_core" + sysconfig.get_config_var("EXT_SUFFIX"))
    subprocess.run([os.environ.get("CC", "gcc"), "-shared", "-fPIC", "-O1", "-g",
                    "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=undefined", "-DCORE_EXACT_BUFFERS",
                    f"-I{sysconfig.get_paths()['include']}",
                    os.path.join(ROOT, "msnsniff", "core", "_core.c"), "-o", so], check=True)
    return so


def _asan_runtime() -> str:
    cc = os.environ.get("CC", "gcc")
    return subprocess.run([cc, "-print-file-name=libasan.so"], capture_output=True, text=True,
                          check=True).stdout.strip()


def rerun_under_asan(args) -> int:
    with tempfile.TemporaryDirectory() as d:
        so = build_asan(d)
        # (PYTHONMALLOC=malloc: each allocation is one ASan can guard, not a pymalloc arena)
        env = dict(os.environ, MSNSNIFF_CORE_SO=so, LD_PRELOAD=_asan_runtime(), PYTHONMALLOC="malloc",
                   # CPython's own allocations are not ours to judge: leaks off
                   ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:allocator_may_return_null=1",
                   UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
        return subprocess.run([sys.executable, os.path.abspath(__file__), *args], env=env).returncode


def _load_core_so(path: str):
    """Make ``msnsniff.core._core`` the module at ``path`` (the sanitized build)."""
    import importlib.machinery
    import importlib.util
    loader = importlib.machinery.ExtensionFileLoader("msnsniff.core._core", path)
    spec = importlib.util.spec_from_file_location("msnsniff.core._core", path, loader=loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    sys.modules["msnsniff.core._core"] = mod


_EDGES = (0, 1, 2, 3, 4, 0x7F, 0x80, 0xFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF)


def mutate(data: bytes, rnd) -> bytes:
    b = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.randrange(5)
        i = rnd.randrange(len(b) + 1)
        if op == 0 and b:
            b[min(i, len(b) - 1)] ^= 1 << rnd.randrange(8)
        elif op == 1:
            del b[i:i + rnd.randint(1, 64)]
        elif op == 2 and b:
            j = rnd.randrange(len(b))
            b[i:i] = b[j:j + rnd.randint(1, 256)]
        elif op == 3:
            v = rnd.choice(_EDGES).to_bytes(4, rnd.choice(("little", "big")))
            b[i:i + 4] = v
        else:
            b = b[:i]
    return bytes(b)


def mutate_for(seconds: float, dirs) -> int:
    import random
    import time
    sys.path.insert(0, HERE)
    from core_harness import compare

    from msnsniff import config
    config.STRICT = True        # a decoder or model bug raises instead of becoming a row
    seeds = [open(os.path.join(d, n), "rb").read() for d in dirs for n in sorted(os.listdir(d))
             if os.path.isfile(os.path.join(d, n))]
    rnd = random.Random(1)
    runs, end = 0, time.monotonic() + seconds
    todo = list(seeds)
    while todo or time.monotonic() < end:
        data = todo.pop() if todo else mutate(rnd.choice(seeds), rnd)
        try:
            compare(data)
        except AssertionError:
            name = f"core-diff-{runs}"
            with open(name, "wb") as f:
                f.write(data)
            raise
        runs += 1
    print(f"Done {runs} runs under ASan+UBSan ({len(seeds)} seeds)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--asan"]:
        sys.exit(rerun_under_asan(sys.argv[2:]))
    if os.environ.get("MSNSNIFF_CORE_SO"):
        _load_core_so(os.environ["MSNSNIFF_CORE_SO"])
        from msnsniff import core as _c
        assert _c.name() == "compiled"
        assert sys.modules["msnsniff.core._core"].__file__ == os.environ["MSNSNIFF_CORE_SO"]
        sys.exit(mutate_for(float(sys.argv[1]), sys.argv[2:]))
    import atheris
    sys.path.insert(0, HERE)
    with atheris.instrument_imports(include=["msnsniff"]):
        from core_harness import compare

        from msnsniff import core
    if core.name() != "compiled":
        sys.exit("fuzz_core.py: the compiled core is not built (pip install -e .)")
    atheris.Setup(sys.argv, compare)
    atheris.Fuzz()
