"""Byte placement for P2P transfers (docs/p2p.md): sorted disjoint ranges, bytes kept
as they arrive (never an allocation sized by what the traffic claims), the checks
made on a whole object (sha256, the MSNObject's SHA1D).  Pure functions on a call's
state dict."""

from __future__ import annotations

import base64
import hashlib

from ..protocol.p2p import OBJECT_KINDS
from .session import iso


def add_range(ranges: list, start: int, end: int) -> int:
    """Merge [start, end) into sorted disjoint ``ranges`` (in place); returns how many
    bytes are new.  Keyed by bisection: 20,000 parts cost 20,000 small steps, not a
    scan of every range per part."""
    if end <= start:
        return 0
    i = _bisect(ranges, start)
    lo = i - 1 if i > 0 and ranges[i - 1][1] >= start else i
    hi = lo
    covered = 0
    new_start, new_end = start, end
    while hi < len(ranges) and ranges[hi][0] <= end:
        a, b = ranges[hi]
        covered += max(0, min(b, end) - max(a, start))
        new_start, new_end = min(a, new_start), max(b, new_end)
        hi += 1
    ranges[lo:hi] = [[new_start, new_end]]
    return (end - start) - covered


def _bisect(ranges, start) -> int:
    lo, hi = 0, len(ranges)
    while lo < hi:
        mid = (lo + hi) // 2
        if ranges[mid][0] <= start:
            lo = mid + 1
        else:
            hi = mid
    return lo


def new_bytes(ranges: list, start: int, end: int) -> int:
    """How many of [start, end) no range covers yet (``ranges`` unchanged)."""
    return add_range([list(r) for r in ranges], start, end)


def missing(ranges, total) -> list[str]:
    out, pos = [], 0
    for a, b in ranges:
        if a > pos:
            out.append(f"{pos}-{a - 1}")
        pos = max(pos, b)
    if total is not None and pos < total:
        out.append(f"{pos}-{total - 1}")
    return out


def place(buf: bytearray, offset: int, data: bytes):
    """Write ``data`` at ``offset``, growing ``buf`` only as far as bytes really came
    (a hole before them is zero-filled, as extraction writes it)."""
    end = offset + len(data)
    if len(buf) < end:
        buf.extend(bytes(end - len(buf)))
    buf[offset:end] = data


def same_where_covered(t, offset, data) -> bool:
    for a, b in t["ranges"]:
        lo, hi = max(a, offset), min(b, offset + len(data))
        if lo < hi and t["data"][lo:hi] != data[lo - offset:hi - offset]:
            return False
    return True


def sha1d_ok(t):
    """The MSNObject's SHA1D (base64 of the data's SHA-1) against the bytes."""
    obj, data, total = t["msnobj"], t["data"], t["total"]
    if not obj or not obj.get("sha1d") or data is None or not total \
            or t["received"] != total:
        return None
    return base64.b64encode(hashlib.sha1(bytes(data[:total])).digest()).decode() \
        == obj["sha1d"]


def sha256(t):
    """sha256 of the bytes up to the last one seen (the extracted file, holes
    zero-filled and listed in missing_ranges)."""
    if t["data"] is None or not t["received"]:
        return None
    return hashlib.sha256(bytes(t["data"][:t["ranges"][-1][1]])).hexdigest()


def object_phrase(t) -> str:
    """How a person names what a call carried: a file by its name, an MSN object by its
    kind and label ("the custom emoticon :fleur:", "the wink Bisou")."""
    kind, name = t["kind"], t["name"]
    if kind == "file":
        return name or "a file"
    if kind == "display-picture":
        return "the display picture"
    if kind == "emoticon":
        return f"the custom emoticon {name}" if name else "a custom emoticon"
    if kind == "voice-clip":
        return "the voice clip"
    return f"the {kind.replace('-', ' ')} {name}" if name else f"the {kind.replace('-', ' ')}"


def not_fetched_row(ev, creator, shortcut, obj) -> dict:
    return {"session": ev.conn, "invitation_cookie": None, "invitation_session": ev.conn,
            "sender": creator, "receiver": None, "name": shortcut, "size": obj.get("size"),
            "announced_size": obj.get("size"), "received": 0,
            "missing_bytes": obj.get("size") or 0, "status": "not fetched", "end": None,
            "bye_code": None, "bye_meaning": None, "size_matches_invitation": None,
            "sha256": None, "started": iso(ev.ts), "finished": None, "extracted_to": None,
            "method": "p2p", "kind": OBJECT_KINDS.get(obj.get("type"), "emoticon"),
            "p2p_session_id": None, "missing_ranges": [], "cancelled_by": None,
            "acknowledged": False, "sha1d_ok": None, "direct_connection": None,
            "conflicts": 0, "p2p_version": None, "transport": None, "sender_endpoint": None,
            "receiver_endpoint": None, "closed_by": None, "sha1d": obj.get("sha1d"),
            "direct_nonce_ok": None, "_data": None, "_overflow": False, "_extent": 0}
