"""Client-ID numbers (reference §5.2): top nibble = MSNC version, low bits = capabilities."""

from __future__ import annotations

from functools import lru_cache

from .numbers import net_int

CAPABILITIES = (
    (0x00000001, "mobile device"),
    (0x00000002, "MSN Explorer 8"),
    (0x00000004, "ink (GIF)"),
    (0x00000008, "ink (ISF)"),
    (0x00000010, "webcam"),
    (0x00000020, "multi-packet messaging"),
    (0x00000040, "MSN Mobile"),
    (0x00000080, "MSN Direct"),
    (0x00000100, "bit 8 (WebMessenger/activities, disputed)"),
    (0x00000200, "web client"),
    (0x00000800, "TGW"),
    (0x00001000, "MSN Space"),
    (0x00002000, "Media Center"),
    (0x00004000, "direct-connect IM"),
    (0x00008000, "winks"),
    (0x00010000, "shared search"),
    (0x00020000, "bot"),
    (0x00040000, "voice clips"),
    (0x00080000, "secure channel"),
    (0x00100000, "SIP invitations"),
    (0x00400000, "shared folders"),
)
_KNOWN = 0
for _bit, _ in CAPABILITIES:
    _KNOWN |= _bit

MSNC_CLIENTS = {0: "MSN Messenger 5.0 or older / third party", 1: "MSN Messenger 6.0",
                2: "MSN Messenger 6.1", 3: "MSN Messenger 6.2", 4: "MSN Messenger 7.0",
                5: "MSN Messenger 7.5", 6: "Windows Live Messenger 8.0",
                7: "Windows Live Messenger 8.1", 8: "Windows Live Messenger 8.5",
                9: "Windows Live Messenger 9.0", 10: "Windows Live Messenger 14.0"}


def decode_client_id(value: int) -> tuple[int, list[str]]:
    """(MSNC version, capability names); unknown bits are named by their number."""
    version, names = _decode(value & 0xFFFFFFFF)
    return version, list(names)


@lru_cache(maxsize=4096)      # a capture repeats a handful of client ids thousands of times
def _decode(value: int) -> tuple[int, tuple[str, ...]]:
    version = value >> 28
    names = [name for bit, name in CAPABILITIES if value & bit]
    rest = value & 0x0FFFFFFF & ~_KNOWN
    bit = 0
    while rest:
        if rest & 1:
            names.append(f"bit {bit}")
        rest >>= 1
        bit += 1
    return version, tuple(names)


def parse_client_id(s: str | None) -> int | None:
    v = net_int(s, 10) if s is not None else None
    if v is None:
        return None
    return v if v <= 0xFFFFFFFF else None
