#!/usr/bin/env python3
"""Coverage-guided fuzzing (atheris / libFuzzer) of the whole path: capture bytes ->
readers -> reassembly -> framing -> decoders -> model -> every renderer
(capture_harness.py).  Seed it with the sample captures, and run it for an hour:

    mkdir -p /tmp/corpus && cp captures/*.pcap* /tmp/corpus/
    python3 fuzz/fuzz_capture.py -max_total_time=3600 -max_len=65536 /tmp/corpus

CI runs a short pass (tests/test_robustness.py).  A crash writes crash-<hash>: replay it
with `python3 fuzz/fuzz_capture.py crash-<hash>`; add it to the tests.
"""

import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

with atheris.instrument_imports(include=["msnsniff"]):
    from capture_harness import run_capture


def one_input(data: bytes):
    run_capture(data)


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
