"""Capture times as ISO 8601 text (UTC), the one time format of every output."""

from __future__ import annotations

from datetime import datetime, timezone

_last = [None, None]      # the commands of one segment share a timestamp: reuse it


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    if ts == _last[0]:
        return _last[1]
    try:
        text = datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="microseconds") \
            .replace("+00:00", "Z")
    except (ValueError, OverflowError, OSError):
        # readers clamp impossible times; anything else that slips through is shown, not
        # fatal
        text = "9999-12-31T23:59:59.999999Z" if ts > 0 else "0001-01-01T00:00:00.000000Z"
    _last[0], _last[1] = ts, text
    return text
