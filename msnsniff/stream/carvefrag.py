"""One carved fragment, sans-IO: the bytes at an anchor -> a row, or None.

The scanner (carve.py) finds where MSNP may start; this module decides what is there,
with the parsers the capture path uses: a command line and its payload are framed by
``framing.Framer`` (so the declared length decides where a payload ends, and a length
that runs past the bytes present is ``truncated``), MIME by ``protocol.mime``, P2P
headers and MSNSLP by ``protocol.p2p``, MSNObjects by ``protocol.xmlpayload``.

Memory images hold MSNP without its TCP framing: a MIME message without its ``MSG``
line (the client's copy of the payload), an MSNSLP message without its P2P header, an
MSNObject on its own.  Those have no length to check: their completeness is
``no length`` and they end at a NUL byte, the end of the bytes or a size cap.
"""

from __future__ import annotations

import re

from ..config import DEFAULT_LIMITS, Limits
from ..protocol import p2p as P
from ..protocol.mime import decode_text, file_name, header, media_type, split_payload
from ..protocol.tables import KNOWN_VERBS
from ..protocol.xmlpayload import parse_msnobj
from .framing import PAYLOAD, Framer, RawCommand

COMPLETE, TRUNCATED, NO_LENGTH = "complete", "truncated", "no length"

# a MIME message or MSNSLP message found without a length: the longest a switchboard
# MSG could be (reference §1.2: 1664 bytes), doubled for the headers of an SLP INVITE
MAX_UNFRAMED = 4096
# a line of protocol text holds printable bytes only (UTF-8 above 0x7f, tabs allowed)
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DIGIT_VERB = re.compile(rb"[0-9]{3} ")

# What the first argument of a verb looks like (a transaction id, unless the verb has
# none): checked on the few bytes after the verb before any line is looked for, so
# that upper-case words in text (``NOT A WORD``) cost nothing.
_TRID = rb"[0-9]{1,10}[ \r\n]"
_ACCT = rb"(?:[0-9]{1,3}:)?[^\s@]{1,64}@"
_STATUS = rb"[A-Z]{3}[ \r\n]"
_FIRST = {v: re.compile(p) for v, p in {
    "NLN": _STATUS, "BPR": _STATUS, "OUT": _STATUS, "FLN": _ACCT, "JOI": _ACCT,
    "UBX": _ACCT, "BYE": _ACCT + b"|" + _TRID, "USR": _TRID + b"|" + _ACCT,
    "MSG": _TRID + b"|" + _ACCT, "LST": _ACCT + b"|N=", "VER": _TRID + b"|MSNFTP",
}.items()}
_FIRST_TRID = re.compile(_TRID)
NO_ARGS_OK = {"OUT", "PNG", "TFR", "CCL"}
_KNOWN_B = {v.encode() for v in KNOWN_VERBS}


def shape_ok(buf, pos: int) -> bool:
    """Could a command line start at pos?  (verb, then its first argument's shape)"""
    verb = bytes(buf[pos:pos + 3])
    if verb not in _KNOWN_B:
        return False
    nxt = buf[pos + 3:pos + 4]
    if nxt in (b"\r", b"\n"):
        return verb.decode() in NO_ARGS_OK
    return nxt == b" " and (_FIRST.get(verb.decode(), _FIRST_TRID).match(buf, pos + 4)
                            is not None)


MIME_KINDS = {
    "text/plain": "text", "text/x-msmsgscontrol": "typing",
    "text/x-msmsgsinvite": "invitation", "application/x-msnmsgrp2p": "p2p",
    "text/x-msmsgsprofile": "profile", "text/x-msmsgsdatacast": "datacast",
    "text/x-msnmsgr-datacast": "datacast", "text/x-mms-emoticon": "emoticon",
    "text/x-mms-animemoticon": "emoticon", "text/x-clientcaps": "clientcaps",
    "text/x-msmsgsemailnotification": "mail", "text/x-msmsgsinitialemailnotification": "mail",
    "text/x-msmsgsinitialmdatanotification": "mail", "text/x-msmsgsoimnotification": "mail",
    "text/x-msmsgsactivemailnotification": "mail", "text/x-keepalive": "keepalive",
}


def row(kind, verb=None, content_type=None, sender=None, recipient=None, text=None,
        complete=COMPLETE, length=0, declared=None) -> dict:
    return {"kind": kind, "verb": verb, "content_type": content_type, "sender": sender,
            "recipient": recipient, "text": text, "complete": complete, "length": length,
            "declared": declared}


def _line_ok(line: bytes) -> bool:
    return _CONTROL.search(line) is None


def command_at(buf, pos: int, end: int, limits: Limits = DEFAULT_LIMITS):
    """The command line starting at ``pos`` (and its payload, as far as ``end``):
    (row, bytes used) or None when it is not one."""
    if not (buf[pos:pos + 1].isdigit() or shape_ok(buf, pos)):
        return None
    i = buf.find(b"\n", pos, min(end, pos + limits.max_line + 2))
    if i < 0:
        return None
    line = bytes(buf[pos:i + 1])
    if not _line_ok(line[:-2] if line.endswith(b"\r\n") else line[:-1]):
        return None
    fr = Framer(limits)
    out = fr.feed(line)
    if fr.state == PAYLOAD:
        out += fr.feed(bytes(buf[i + 1:min(end, i + 1 + fr.need)]))
        out += fr.close()
    cmd = out[0] if out else None
    if type(cmd) is not RawCommand:
        return None
    verb, params = cmd.verb, cmd.params
    complete = TRUNCATED if cmd.missing else COMPLETE
    if cmd.payload is None:
        r = row("command", verb, None, _passport(params), None,
                line.rstrip(b"\r\n").decode("utf-8", "replace"), complete, cmd.length)
    elif verb == "MSG":
        r = describe_mime(cmd.payload)
        if params and "@" in params[0]:
            r["sender"] = r["sender"] or params[0]    # the server names the sender
        r.update(verb=verb, complete=complete, length=cmd.length, declared=cmd.declared)
    else:
        text = cmd.payload.decode("utf-8", "replace")
        r = row("command", verb, None, _passport(params), None, text, complete,
                cmd.length, cmd.declared)
    return r, cmd.length


def _passport(params) -> str | None:
    """The first argument that names an account (``1:bob@…`` keeps its network)."""
    for p in params:
        if "@" in p and len(p) < 130:
            return p.split(";", 1)[0]
    return None


def describe_mime(payload: bytes) -> dict:
    """What a MIME message (an MSG payload) is, who it names and its text."""
    headers, body = split_payload(payload)
    ct, charset = media_type(headers)
    kind = MIME_KINDS.get(ct, "mime")
    r = row(kind, None, ct or None, length=len(payload))
    if kind == "text":
        r["text"] = decode_text(body, charset)
    elif kind == "typing":
        r["sender"] = header(headers, "TypingUser") or None
        r["text"] = r["sender"]
    elif kind == "invitation":
        fields = dict(split_payload(body + b"\r\n\r\n")[0]) if body else {}
        app = header(fields, "Application-Name")
        f = header(fields, "Application-File")
        r["text"] = " ".join(x for x in (header(fields, "Invitation-Command"), app,
                                          file_name(f) if f else "") if x) or None
    elif kind == "p2p":
        r["recipient"] = header(headers, "P2P-Dest") or None
        r["sender"] = header(headers, "P2P-Src") or None
        _p2p(r, body)
    elif kind in ("datacast", "emoticon", "profile", "mail", "clientcaps"):
        # a profile's fields are headers; the others' are the body's
        fields = headers if kind == "profile" else split_payload(body + b"\r\n\r\n")[0]
        r["text"] = "; ".join(f"{k}={v}" for k, v in fields.items()
                              if k.lower() not in ("mime-version", "content-type")) or None
    else:
        r["text"] = body.decode("utf-8", "replace") or None
    return r


def _p2p(r: dict, body: bytes):
    """The P2P header (v2 when the addresses carry an endpoint, as MSNP16+ sends them)
    and the MSNSLP message it may carry."""
    v2 = ";" in (r["recipient"] or "") or r["sender"] is not None
    try:
        part = P.parse_v2(body) if v2 else P.parse_v1(body)
    except P.P2PError as e:
        r["text"] = f"P2P v{2 if v2 else 1} header: {e}"
        return
    if part.data[:8] in (b"INVITE M", b"MSNSLP/1", b"BYE MSNM", b"ACK MSNM"):
        slp = _slp_row(part.data)
        if slp is not None:
            r["sender"] = slp["sender"] or r["sender"]
            r["recipient"] = slp["recipient"] or r["recipient"]
            r["text"] = slp["text"]
            return
    where = (f"bytes {part.offset}-{part.offset + len(part.data)} of {part.total}"
             if part.version == 1 else f"{len(part.data)} bytes")
    app = P.APP_IDS.get(part.app_id, part.app_id)
    r["text"] = f"P2P v{part.version} session {part.session_id} {where}" + (
        " (ack)" if part.is_ack else "") + (f" app {app}" if app is not None else "")


def _slp_row(raw: bytes) -> dict | None:
    try:
        slp = P.parse_slp(raw)
    except P.P2PError:
        return None
    fields = slp["fields"]
    guid = fields.get("EUF-GUID", "").upper()
    what = P.EUF_GUIDS.get(guid)
    start = slp["method"] if slp["code"] is None else f"{slp['code']} {slp['reason']}"
    text = " ".join(x for x in (start, what) if x)
    ctx = fields.get("Context")
    if ctx and what == "file":
        try:
            fc = P.file_context(P.b64(ctx))
            text += f" {fc['name']} ({fc['size']} bytes)"
        except P.P2PError:
            pass
    elif ctx and what == "msnobject":
        try:
            obj = parse_msnobj(P.b64(ctx).rstrip(b"\x00").decode("utf-8", "replace"))
        except P.P2PError:
            obj = None
        if obj:
            text += f" {obj.get('creator')} {obj.get('sha1d')}"
    return row("slp", None, slp["content_type"] or None, slp["from"], slp["to"], text)


def slp_at(buf, pos: int, end: int):
    """An MSNSLP message on its own (no P2P header in front): its Content-Length says
    where the body ends."""
    head_end = buf.find(b"\r\n\r\n", pos, min(end, pos + MAX_UNFRAMED))
    if head_end < 0:
        return None
    m = re.search(rb"\r\nContent-Length: *([0-9]{1,7})\r\n", bytes(buf[pos:head_end + 2]),
                  re.IGNORECASE)
    if m is None:
        return None
    want = head_end + 4 + int(m.group(1)) - pos
    have = min(want, end - pos)
    r = _slp_row(bytes(buf[pos:pos + have]))
    if r is None:
        return None
    r.update(complete=COMPLETE if have == want else TRUNCATED, length=have, declared=want)
    return r, have


def _unframed_end(buf, pos: int, end: int) -> int:
    lim = min(end, pos + MAX_UNFRAMED)
    nul = buf.find(b"\x00", pos, lim)
    return nul if nul >= 0 else lim


def mime_at(buf, pos: int, end: int):
    """A MIME message without its MSG line (``MIME-Version: 1.0`` first)."""
    stop = _unframed_end(buf, pos, end)
    data = bytes(buf[pos:stop])
    if b"\n" not in data or not _line_ok(data.replace(b"\r\n", b"").replace(b"\n", b"")):
        return None
    r = describe_mime(data)
    if r["content_type"] is None:
        return None
    r.update(complete=NO_LENGTH, length=len(data))
    return r, len(data)


def msnobj_at(buf, pos: int, end: int):
    """``<msnobj …/>`` on its own (a client's cache of a contact's picture)."""
    close = buf.find(b"/>", pos, min(end, pos + MAX_UNFRAMED))
    if close < 0:
        return None
    data = bytes(buf[pos:close + 2])
    obj = parse_msnobj(data.decode("utf-8", "replace"))
    if not obj:
        return None
    text = " ".join(str(obj[k]) for k in ("type_name", "location", "friendly_text", "size",
                                          "sha1d") if obj.get(k) not in (None, ""))
    return row("msnobject", None, None, obj.get("creator"), None, text, NO_LENGTH,
               len(data)), len(data)


def at_word(buf, word_start: int, sep_at: int, end: int, limits: Limits = DEFAULT_LIMITS):
    """Dispatch on the upper-case word found by the scanner (``buf[word_start:sep_at]``,
    followed by the byte at ``sep_at``): (row, bytes used) or None."""
    word = bytes(buf[word_start:sep_at])
    sep = buf[sep_at:sep_at + 1]
    if sep == b" " and buf[sep_at + 1:sep_at + 9] == b"MSNMSGR:" or \
            word == b"MSNSLP" and sep == b"/":
        return slp_at(buf, word_start, end)
    if word == b"MIME" and sep == b"-":
        return mime_at(buf, word_start, end)
    if sep == b" ":
        # the verb may follow other letters (garbage before a buffer): its last three
        return command_at(buf, sep_at - 3, end, limits)
    return None


def digit_line_at(buf, pos: int, end: int, limits: Limits = DEFAULT_LIMITS):
    """An error reply (``911 5``) right after a command the scanner found."""
    if _DIGIT_VERB.match(buf, pos, pos + 4) is None:
        return None
    return command_at(buf, pos, end, limits)
