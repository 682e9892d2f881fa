"""MSG payloads (reference §4): MIME-like headers, bodies, X-MMS-IM-Format, field lists.

Never raises on remote garbage: a payload without the blank separator line is all
headers; bad UTF-8 shows as U+FFFD; bad %-escapes are kept.
"""

from __future__ import annotations

from functools import lru_cache

from .tables import url_decode


def split_payload(payload: bytes) -> tuple[dict, bytes]:
    """Headers (name -> value, original case, first wins) and the raw body."""
    sep = payload.find(b"\r\n\r\n")
    if sep >= 0:
        head, body = payload[:sep], payload[sep + 4:]
    else:
        lf = payload.find(b"\n\n")
        if lf >= 0:
            head, body = payload[:lf], payload[lf + 2:]
        else:
            head, body = payload, b""
    return parse_fields(head), body


def parse_fields(block: bytes) -> dict:
    """`Name: value` lines -> dict (keeps the first of repeated names)."""
    out: dict = {}
    # one decode for the whole block: a newline byte is never inside a UTF-8 sequence,
    # so this is line-by-line decoding exactly, bad bytes included
    for line in block.decode("utf-8", "replace").split("\n"):
        name, sep, value = line.rstrip("\r").partition(":")
        if not sep or not name.strip():
            continue
        name = name.strip()
        if name not in out:
            out[name] = value[1:] if value.startswith(" ") else value
    return out


def header(headers: dict, name: str, default: str = "") -> str:
    """Case-insensitive header lookup."""
    low = name.lower()
    for k, v in headers.items():
        if k.lower() == low:
            return v
    return default


@lru_cache(maxsize=256)
def _media_type(ct: str) -> tuple[str, str | None]:
    parts = [p.strip() for p in ct.split(";")]
    charset = None
    for p in parts[1:]:
        k, _, v = p.partition("=")
        if k.strip().lower() == "charset":
            charset = v.strip().strip('"') or None
    return parts[0].lower() if parts else "", charset


def media_type(headers: dict) -> tuple[str, str | None]:
    """(`type/subtype` lower-cased, charset or None) from Content-Type (the few
    Content-Type values of a capture repeat: parsed once each)."""
    return content_type_of(header(headers, "Content-Type"))


def content_type_of(ct: str) -> tuple[str, str | None]:
    """``media_type`` of a Content-Type value."""
    # long (hostile) values are parsed without filling the cache
    return _media_type(ct) if len(ct) <= 200 else _media_type.__wrapped__(ct)


def lower_names(headers: dict) -> dict:
    """The headers by lower-cased name, the first of names that differ only in case
    winning (what ``header`` finds): a dict lookup per header instead of a scan that
    lower-cases every name."""
    low: dict = {}
    for k, v in headers.items():
        low.setdefault(k.lower(), v)
    return low


def decode_text(body: bytes, charset: str | None) -> str:
    """§4.2: UTF-8 when declared, ISO-8859-1 for a bare text/plain, never raise: a
    charset Python does not know (or cannot even look up: ``utf\\0-8``) decodes as
    UTF-8 with replacement characters (``known_charset`` tells the model to report it)."""
    enc = (charset or "iso-8859-1").lower()
    # bytes the charset cannot decode stay recoverable (\xNN, see tables.raw_bytes)
    try:
        return body.decode(enc, "backslashreplace")
    except (LookupError, ValueError, TypeError):
        return body.decode("utf-8", "backslashreplace")


def known_charset(charset: str | None) -> bool:
    if not charset:
        return True
    try:
        b"".decode(charset.lower())
        return True
    except (LookupError, ValueError, TypeError):
        return False


# §4.2 X-MMS-IM-Format
_EFFECTS = {"B": "bold", "I": "italic", "U": "underline", "S": "strikethrough"}
_FAMILIES = {0: "dontcare", 1: "roman", 2: "swiss", 3: "modern", 4: "script", 5: "decorative"}
_PITCHES = {0: "default", 1: "fixed", 2: "variable"}
CHARSETS = {0x0: "ANSI", 0x1: "DEFAULT", 0x2: "SYMBOL", 0x4D: "MAC", 0x80: "SHIFTJIS",
            0x81: "HANGEUL", 0x82: "JOHAB", 0x86: "GB2312", 0x88: "BIG5", 0xA1: "GREEK",
            0xA2: "TURKISH", 0xA3: "VIETNAMESE", 0xB1: "HEBREW", 0xB2: "ARABIC",
            0xBA: "BALTIC", 0xCC: "RUSSIAN", 0xDE: "THAI", 0xEE: "EASTEUROPE", 0xFF: "OEM"}


def parse_format(value: str) -> dict:
    """Decode `FN=…; EF=…; CO=…; CS=…; PF=…[; RL=1]` in any order and case."""
    f = _parse_format(value)
    return dict(f, effects=list(f["effects"]))


@lru_cache(maxsize=4096)      # a sender's format string repeats with every message
def _parse_format(value: str) -> dict:
    out: dict = {"font": None, "effects": (), "color": None, "charset": None,
                 "pitch_family": None, "rtl": False}
    for item in value.split(";"):
        key, sep, val = item.strip().partition("=")
        if not sep:
            continue
        key = key.strip().upper()
        val = val.strip()
        if key == "FN":
            out["font"] = url_decode(val)
        elif key == "EF":
            out["effects"] = tuple(_EFFECTS[c] for c in val.upper() if c in _EFFECTS)
        elif key == "CO":
            try:
                v = int(val, 16) if val else 0
            except ValueError:
                continue
            # the wire is BGR: red is the low byte
            out["color"] = "#%02x%02x%02x" % (v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF)
        elif key == "CS":
            try:
                cs = int(val, 16)
                out["charset"] = CHARSETS.get(cs, f"0x{cs:X}")
            except ValueError:
                pass
        elif key == "PF":
            try:
                pf = int(val, 16)
                out["pitch_family"] = (f"{_FAMILIES.get(pf >> 4, pf >> 4)}/"
                                       f"{_PITCHES.get(pf & 3, pf & 3)}")
            except ValueError:
                pass
        elif key == "RL":
            out["rtl"] = val == "1"
    return out


# §4.4 invitation application GUIDs
APPLICATIONS = {
    "{5d3e02ab-6190-11d3-bbbb-00c04f795683}": "File transfer",
    "{44bba842-cc51-11cf-aafa-00aa00b6015c}": "NetMeeting",
    "{02d3c01f-bf30-4825-a83a-de7af41648aa}": "Voice conversation",
    "{f1b1920c-6a3c-4ce7-b18c-afab305fd03d}": "Application sharing",
    "{1df57d09-637a-4ca5-91b9-2c3edaaf62fe}": "Whiteboard",
    "{56b994a7-380f-410b-9985-c809d78c1bdc}": "Remote Assistance",
    "{8dae4336-2b71-11d4-9a6c-006067325e47}": "Baldur's Gate 2",
    "{2a23868e-b45f-401d-b8b0-1e16b774a5b7}": "Webcam",
}
FILE_TRANSFER_GUID = "{5d3e02ab-6190-11d3-bbbb-00c04f795683}"


def file_name(value: str) -> str:
    """Application-File: some clients URL-encode it; decode only when it has %XX."""
    import re
    return url_decode(value) if re.search(r"%[0-9A-Fa-f]{2}", value) else value
