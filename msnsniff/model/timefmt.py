"""Capture times as ISO 8601 text (UTC), the one time format of every output."""

from __future__ import annotations

from datetime import datetime, timezone
from math import modf
from typing import overload

# [ts, text] and [whole second, its text]: a number and a str each (plain lists)
_last: list = [None, None]      # the commands of one segment share a timestamp: reuse it
_second: list = [None, None]    # and many segments share a second: reuse its date and time


@overload
def iso(ts: float) -> str: ...
@overload
def iso(ts: None) -> None: ...
def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    if ts == _last[0]:
        return _last[1]
    try:
        # the whole second and the microseconds, rounded as datetime.fromtimestamp
        # rounds them (half to even, carrying into the second).  The text of a second is
        # built once (a dense capture has thousands of timestamps per second; building
        # each one through datetime cost ~7% of a report's time)
        frac, whole = modf(ts)
        us = round(frac * 1e6)
        if us >= 1000000:
            whole, us = whole + 1, us - 1000000
        elif us < 0:
            whole, us = whole - 1, us + 1000000
        if whole != _second[0]:
            # a whole second: isoformat gives no fraction (and four-digit years, which
            # strftime does not on glibc)
            _second[1] = datetime.fromtimestamp(whole, timezone.utc).isoformat()[:19]
            _second[0] = whole
        text = f"{_second[1]}.{us:06d}Z"
    except (ValueError, OverflowError, OSError):
        # readers clamp impossible times; anything else that slips through is shown, not
        # fatal
        text = "9999-12-31T23:59:59.999999Z" if ts > 0 else "0001-01-01T00:00:00.000000Z"
    _last[0], _last[1] = ts, text
    return text
