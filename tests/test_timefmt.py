"""Capture times as text: the per-second cache must give exactly what datetime gives."""

import random
from datetime import datetime, timezone

import pytest

from msnsniff.model.timefmt import iso


def reference(ts):
    try:
        return datetime.fromtimestamp(ts, timezone.utc) \
            .isoformat(timespec="microseconds").replace("+00:00", "Z")
    except (ValueError, OverflowError, OSError):
        return "9999-12-31T23:59:59.999999Z" if ts > 0 else "0001-01-01T00:00:00.000000Z"


@pytest.mark.parametrize("ts, text", [
    (1100000000.081013, "2004-11-09T11:33:20.081013Z"),
    (0.0, "1970-01-01T00:00:00.000000Z"),
    (-1e-7, "1970-01-01T00:00:00.000000Z"),         # rounds up to the epoch
    (-0.5, "1969-12-31T23:59:59.500000Z"),          # before 1970: the fraction borrows
    (1.9999996, "1970-01-01T00:00:02.000000Z"),     # rounding carries into the second
    (0.0000025, "1970-01-01T00:00:00.000002Z"),     # half to even, as datetime does
    (float("nan"), "0001-01-01T00:00:00.000000Z"),
    (1e20, "9999-12-31T23:59:59.999999Z"),
    (None, None),
])
def test_known_values(ts, text):
    assert iso(ts) == text


def test_agrees_with_datetime_on_random_and_boundary_times():
    rnd = random.Random(20)
    values = []
    for _ in range(20000):
        second = rnd.randrange(0, 2**32)
        values += [second + rnd.randrange(10**6) / 1e6,           # pcap microseconds
                   second + rnd.randrange(10**9) / 1e9,           # pcapng nanoseconds
                   second + 0.9999995 + rnd.random() * 1e-6,      # next to a carry
                   rnd.uniform(-1e10, 1e11)]
    values += [253402300799.9999995, 253402300800.0, -62135596800.0, -62135596801.0,
               float("inf"), float("-inf")]
    wrong = [(v, iso(v), reference(v)) for v in values if iso(v) != reference(v)]
    assert wrong == []
