"""Numbers carried by the traffic: the one parser every stage uses (framing, decoders,
the model, the follow filter).  Pure functions; no I/O.

Python's ``str.isdigit`` accepts any Unicode digit (``²``, ``٣``), which ``int`` then
refuses, and ``int`` refuses strings of more than 4,300 digits: a field from the network
is a number only when it is ASCII digits, no longer than its field allows and within
its range.  Anything else is not a number (``None``): the caller keeps the field as
text, drops the one field, or reports an anomaly — never an exception.
"""

from __future__ import annotations

# Longest decimal field taken as a number: 18 digits always fit a signed 64-bit
# integer (the SQLite export's INTEGER), which no MSNP field of the era exceeded.
MAX_DIGITS = 18
MAX_INT64 = 2 ** 63 - 1


def is_num(s, max_len: int = MAX_DIGITS) -> bool:
    """``s`` (str or bytes) is 1 to ``max_len`` ASCII digits."""
    return bool(s) and len(s) <= max_len and s.isascii() and s.isdigit()


def net_int(s, max_len: int = MAX_DIGITS, max_value: int | None = None) -> int | None:
    """The value of a decimal field, or None when it is not 1..``max_len`` ASCII digits
    or is above ``max_value``."""
    if not s or len(s) > max_len or not s.isascii() or not s.isdigit():
        return None
    v = int(s)
    return None if max_value is not None and v > max_value else v


def net_port(s) -> int | None:
    """A TCP port that can be followed (1..65535), else None."""
    return net_int(s, 5, 65535) or None


def hex_int(s, max_len: int = 16) -> int | None:
    """A hexadecimal field (``0x`` optional), or None."""
    if s[:2] in ("0x", "0X"):
        s = s[2:]
    if not s or len(s) > max_len or not s.isascii():
        return None
    try:
        return int(s, 16)
    except ValueError:
        return None
