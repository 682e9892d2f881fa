"""What changes between MSNP versions, as data (docs/dialects.md has the table with
example lines and sources).  The decoders ask these questions instead of comparing
version numbers: a new dialect is a row here plus the handlers for its new commands.

The version comes from VER (the server's answer; the client's offer alone when the
answer was not captured).  A capture that starts mid-session has no VER: then the
decoder infers a lower bound from the shapes of the commands it sees (``evidence``).
"""

from __future__ import annotations

import re

from .numbers import is_num, net_int

# network ids (MSNP13+ ADL t=, MSNP14+ ILN/NLN/FLN/UBX, MSNP18 "n:passport")
NETWORKS = {1: "Passport", 2: "Office Communicator", 4: "telephone", 8: "MNI", 16: "SMTP",
            32: "Yahoo", 9: "circle", 13: "circle (temporary)"}

GUID_RE = re.compile(r"^\{?[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}\}?$")
_SYN_TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT")


class Dialect:
    """Facts about one protocol version (``None``: not known yet)."""

    __slots__ = ("version", "source")

    def __init__(self, version: int | None = None, source: str | None = None):
        self.version = version
        self.source = source          # "VER", "offer", "inferred" or None

    def at_least(self, v: int) -> bool | None:
        """True/False when the version is known, None when it is not."""
        return None if self.version is None else self.version >= v

    # -------- the differences (each: version known -> answer; unknown -> None)
    def name_in_usr_ok(self):       # MSNP10+ sends no friendly name in USR … OK
        a = self.at_least(10)
        return None if a is None else not a

    def network_field(self):        # MSNP14-17: ILN/NLN/FLN/UBX carry a network id field
        v = self.version
        return None if v is None else 14 <= v <= 17

    def label(self) -> str | None:
        if self.version is None:
            return None
        return f"MSNP{self.version}"

    def learn(self, version: int, source: str):
        """A stronger source replaces a weaker one; inference only raises the bound."""
        rank = {"VER": 3, "offer": 2, "inferred": 1}
        if self.source is None or rank[source] > rank[self.source]:
            self.version, self.source = version, source
        elif source == "inferred" == self.source and version > (self.version or 0):
            self.version = version


def version_of(token: str) -> int | None:
    """``MSNP12`` -> 12."""
    if token.startswith("MSNP") and is_num(token[4:], 3):
        return int(token[4:])
    return None


def is_guid(s: str) -> bool:
    return bool(GUID_RE.match(s))


def is_syn_timestamp(s: str) -> bool:
    """MSNP10-12 SYN carries two timestamps where MSNP8 had a list version."""
    return bool(_SYN_TS_RE.match(s))


def split_network(s: str) -> tuple[int | None, str]:
    """MSNP18 ``1:bob@example.com`` -> (1, "bob@example.com"); other forms unchanged."""
    head, sep, rest = s.partition(":")
    if sep and is_num(head, 3) and rest:
        return int(head), rest
    return None, s


def split_endpoint(s: str) -> tuple[str, str | None]:
    """MSNP16+ MPOP ``bob@example.com;{machine-guid}`` -> (account, "{machine-guid}").
    Also drops a circle's ``;via=9:…`` routing suffix into the endpoint slot."""
    account, sep, rest = s.partition(";")
    if not sep:
        return s, None
    return account, rest


def split_caps(s: str | None) -> tuple[int | None, int | None]:
    """Client id ``268435492`` or MSNP16+ ``caps:capsex`` -> (caps, capsex)."""
    if not s:
        return None, None
    a, sep, b = s.partition(":")
    caps = net_int(a, 10)
    ex = net_int(b, 10) if sep else None
    return caps, ex


def looks_like_caps(s: str) -> bool:
    a, sep, b = s.partition(":")
    return is_num(a) and (not sep or is_num(b))


def network_field(who: str, rest: list, version: int | None) -> bool:
    """Does an ILN/NLN line carry a network id field before the name?  ``who`` is the
    passport argument, ``rest`` the arguments after it.  MSNP14-17 do (MSNP18 names the
    network in the passport, ``1:pp``); with no version known, the shape tells: a small
    number where the name would be, then capabilities.  The one rule the decoder and
    the protocol trace share (they disagreed once: names left %-encoded in `commands`)."""
    if split_network(who)[0] is not None:
        return False
    if version is not None:
        return 14 <= version <= 17
    return (len(rest) >= 3 and is_num(rest[0]) and len(rest[0]) <= 3
            and looks_like_caps(rest[2]))

