"""Capture times as ISO 8601 text (UTC), the one time format of every output."""

from __future__ import annotations

from datetime import datetime, timezone

_last = [None, None]      # the commands of one segment share a timestamp: reuse it


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    if ts == _last[0]:
        return _last[1]
    text = datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="microseconds") \
        .replace("+00:00", "Z")
    _last[0], _last[1] = ts, text
    return text
