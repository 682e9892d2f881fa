#!/usr/bin/env python3
"""Coverage-guided fuzzing (atheris / libFuzzer) of reassembly, framing, the NS/SB/MSNFTP
decoders and the model.  Run it longer by hand, e.g.:

    python3 fuzz/fuzz_msnp.py -max_len=4096 -runs=2000000 fuzz/corpus

CI runs a short pass (tests/test_fuzz.py).  A crash writes crash-<hash>: feed it back
with `python3 fuzz/fuzz_msnp.py crash-<hash>` to reproduce.
"""

import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

with atheris.instrument_imports(include=["msnsniff"]):
    from harness import run_chunks


def one_input(data: bytes):
    fdp = atheris.FuzzedDataProvider(data)
    chunks, gaps = [], set()
    while fdp.remaining_bytes():
        head = fdp.ConsumeIntInRange(0, 255)
        size = fdp.ConsumeIntInRange(1, 400)
        chunk = fdp.ConsumeBytes(size)
        if not chunk:
            break
        if head & 0x80 and len(chunks) > 2:
            gaps.add(len(chunks))          # now and then a segment is never captured
        chunks.append((head & 1, chunk))
    run_chunks(chunks, gaps)


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
