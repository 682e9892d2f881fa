"""Command lines with their identifying values replaced (same byte length).

Friendly names, group names and phone numbers sit where ``protocol.tables``'s
``text_arg_indexes`` says the decoder finds them (one rule for both); credentials
(tickets, MD5 hashes, switchboard and MSNFTP cookies) at the positions of the
reference's USR/XFR/RNG/ANS; passports and, with ``--addresses``, IPv4 addresses
wherever they occur in an argument.  Pure functions.
"""

from __future__ import annotations

import re

from ..protocol.tables import text_arg_indexes
from .pseudonyms import EMAIL, Pseudonyms, url_recode

_ESCAPED = re.compile(r"\\x([0-9a-f]{2})")


def _credentials(verb: str, params: list[str], d: int) -> tuple[int, ...]:
    """Indexes of arguments that are secrets (the reference's §3-§5, §8)."""
    n = len(params)
    if verb == "USR":
        if n >= 2 and "@" in params[0] and not params[0][:1].isdigit():
            return (1,)                              # MSNFTP: USR passport cookie
        if d == 0 and n >= 4 and params[1] in ("TWN", "MD5", "SSO") and params[2] == "S":
            return (3, 4) if params[1] == "SSO" and n >= 5 else (3,)
        if d == 0 and n >= 4 and params[1] == "SHA" and params[2] == "A":
            return (3,)                              # MSNP18 circles: USR trid SHA A token
        if d == 0 and n >= 3 and "@" in params[1] and params[1] != "OK":
            return (2,)                              # switchboard: USR trid passport cookie
        return ()
    if verb == "XFR" and n >= 5 and params[3] == "CKI":
        return (4,)
    if verb == "RNG" and n >= 4:
        return (3,)
    if verb == "ANS" and n >= 3:
        return (2,)
    return ()


def _arg_bytes(p: str, bad_utf8: bool) -> bytes:
    if not bad_utf8:
        return p.encode("utf-8")
    # the framer kept bytes that were not UTF-8 as \xNN: give them back
    parts = _ESCAPED.split(p)
    out = bytearray()
    for i, part in enumerate(parts):
        out += bytes([int(part, 16)]) if i % 2 else part.encode("utf-8")
    return bytes(out)


def _name(ps: Pseudonyms, raw: bytes) -> bytes:
    prefix = raw[:2] if raw[:2] in (b"F=", b"N=") else b""
    body = raw[len(prefix):]
    if not body or body in (b"0", b"1", b"Y", b"N"):
        return raw                  # flags (MOB Y, MBE N), not names or numbers
    try:
        return prefix + url_recode(body, ps.text)
    except ValueError:
        return prefix + ps.scrub(body)


def _other(ps: Pseudonyms, raw: bytes) -> bytes:
    if raw[:9].lower() == b"%3cmsnobj":
        from .payloads import msnobj
        return msnobj(raw, ps)
    if b"@" in raw:
        raw = EMAIL.sub(lambda m: ps.passport(m.group()), raw)
    return ps.addresses_in(raw)


def rewrite_line(verb: str, params: list[str], bad_utf8: bool, d: int,
                 version: int | None, ps: Pseudonyms) -> bytes:
    """The arguments part of a command line (everything after ``VERB ``), rewritten."""
    if verb == "MSG" and params[:2] == ["Hotmail", "Hotmail"]:
        return b" ".join(_arg_bytes(p, bad_utf8) for p in params)     # the server's own
    names = text_arg_indexes(verb, params, version)
    secrets = _credentials(verb, params, d)
    out = []
    for i, p in enumerate(params):
        raw = _arg_bytes(p, bad_utf8)
        if i in secrets and raw:
            kind = "cookie" if verb in ("XFR", "RNG", "ANS") or (verb == "USR" and i < 3) \
                else "ticket"
            new = ps.token(raw, kind)
        elif i in names:
            new = _name(ps, raw)
        else:
            new = _other(ps, raw)
        out.append(new)
    return b" ".join(out)
