"""Payloads with their identifying values replaced, byte length kept: MIME messages
(text, typing, profiles, invitations, e-mail notices, emoticon lists, datacasts), XML
documents (UBX/UUX personal messages, ADL/RML lists, notifications), MSNObjects and
MSNSLP bodies.  The P2P binary framing is p2p.py's.  Pure functions of the bytes and
the run's Pseudonyms.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from ..protocol.p2p import MAX_FILE_NAME_CHARS
from .pseudonyms import EMAIL, Pseudonyms, url_recode

# MIME headers whose values carry nothing personal (passports in them are still mapped)
KEEP = frozenset("""mime-version content-type x-mms-im-format typinguser p2p-dest p2p-src
message-id chunks chunk invitation-command invitation-cookie application-name
application-guid session-protocol session-id connectivity request-data port portx
cancel-code application-filesize inbox-unread folders-unread inbox-url folders-url
post-url logintime emailenabled lang_preference country gender kid wallet flags
clientport abchmigrated content-transfer-encoding id dest-folder src-folder message-delta
routing reliability messaging to from-pp via call-id cseq content-length max-forwards
euf-guid sessionid appid conn-type tcp-conn-type upnpnat icf hashed-nonce nonce bridges
netid listening schannelstate capabilities-flags stream pipe bridge max-forwards
requestdata ack-id uri msgtype isdefault mspprot ttl""".split())
# credentials and numbers that identify the account
TOKEN = frozenset("""mspauth kv sid memberidhigh memberidlow authcookie postalcode birthday
bdaypre age nickname auth-cookie""".split())
ADDRESS = frozenset("""clientip ip-address ip-address-internal ipv4internal-addrs
ipv4external-addrs ipv6-addrs srdda-lanretni4vpi srdda-lanretxe4vpi""".split())
NAMES = frozenset(("application-file", "subject", "from", "name", "x-friendly-name"))
# numbers, GUIDs, booleans: kept when a header is not known
_NUMBERS = re.compile(rb"[0-9.,:;{}\-]*|\{?[0-9A-Fa-f\-]{8,}\}?|true|false|[YN]", re.I)
# a body of ``Name: value`` lines (notices, invitations) rather than text
_FIELDS = re.compile(rb"(?:[A-Za-z][\w\-]*: ?[^\r\n]*\r?\n)+(?:\r?\n)*")
_ELEMENT = re.compile(rb"\s*<[A-Za-z]\w*[ />]")
_ATTR = re.compile(rb'([A-Za-z_][\w:.\-]*)="([^"]*)"')


def header_value(ps: Pseudonyms, name: bytes, value: bytes) -> bytes:
    key = name.strip().lower().decode("latin-1")
    if key in ADDRESS:
        if key.startswith("srdda"):             # WLM 2009 writes some names and values reversed
            return ps.addresses_in(value[::-1])[::-1]
        return ps.addresses_in(value)
    if key in TOKEN:
        return ps.token(value.strip(), key).join(_edges(value)) if value.strip() else value
    if key == "data" and value.lstrip()[:7] == b"<msnobj":
        return msnobj(value, ps)
    if _ELEMENT.match(value) and (b"</" in value or b"/>" in value):
        return xml(ps, value)                    # Mail-Data: <MD>…</MD> (not <msnmsgr:…>)
    if key in KEEP or (b"@" in value and EMAIL.search(value)):
        if b"@" in value:
            value = EMAIL.sub(lambda m: ps.passport(m.group()), value)
        return ps.addresses_in(value)
    if key not in NAMES and _NUMBERS.fullmatch(value.strip()):
        return ps.addresses_in(value)
    return ps.text(value)


def _edges(value: bytes) -> tuple[bytes, bytes]:
    """The whitespace around a value, to put back around its pseudonym."""
    stripped = value.strip()
    i = value.find(stripped)
    return value[:i], value[i + len(stripped):]


def header_block(ps: Pseudonyms, block: bytes) -> bytes:
    """``Name: value`` lines (a MIME header, an invitation body, an SLP body)."""
    out = []
    for line in block.split(b"\n"):
        name, sep, value = line.partition(b":")
        if not sep:
            out.append(ps.text(line) if line.strip(b"\r\0") else line)
            continue
        cr = b"\r" if value.endswith(b"\r") else b""
        value = value[:-1] if cr else value
        out.append(name + sep + header_value(ps, name, value) + cr)
    return b"\n".join(out)


def mime(ps: Pseudonyms, payload: bytes) -> tuple[bytes, str]:
    """A MIME payload (MSG/SDG/UUM/UBM/NFY…) -> (same-length rewrite, media type).  The
    body of a P2P message is left to the caller (p2p.py), the media type says so."""
    head, sep, body = payload.partition(b"\r\n\r\n")
    if not sep:
        return header_block(ps, payload), ""
    media = media_of(head)
    new_head = header_block(ps, head)
    if media == "application/x-msnmsgrp2p":
        return new_head + sep + body, media
    return new_head + sep + mime_body(ps, media, body), media


def media_of(head: bytes) -> str:
    for line in head.split(b"\r\n"):
        if line[:13].lower() == b"content-type:":
            return line[13:].split(b";")[0].strip().lower().decode("latin-1")
    return ""


def mime_body(ps: Pseudonyms, media: str, body: bytes) -> bytes:
    """A MIME body by its media type (a chunked message's joined body too)."""
    if media in ("text/x-msmsgsinvite", "text/x-msmsgsprofile", "text/x-msnmsgr-datacast") \
            or "notification" in media or media.startswith("text/x-msmsgsactivemail") \
            or (media != "text/plain" and _FIELDS.fullmatch(body)):
        return header_block(ps, body)
    if media in ("text/x-mms-emoticon", "text/x-mms-animemoticon"):
        return emoticons(ps, body)
    return ps.text(body)


def emoticons(ps: Pseudonyms, body: bytes) -> bytes:
    """``shortcut<TAB>msnobj<TAB>…``: shortcuts as text, objects as MSNObjects."""
    parts = body.split(b"\t")
    return b"\t".join(msnobj(p, ps) if i % 2 else ps.text(p) for i, p in enumerate(parts))


# ------------------------------------------------------------------ MSNObjects
def msnobj(raw: bytes, ps: Pseudonyms, objects=None) -> bytes:
    """``<msnobj Creator=… Size=… SHA1D=… …/>``: Creator mapped as a passport, Friendly
    (base64 UTF-16LE) as text, Location and Stamp as tokens; SHA1D becomes the SHA1 of
    the filler that replaces the object's bytes (``Objects``), SHA1C is recomputed when
    the original was right."""
    objects = objects if objects is not None else ps.objects
    if raw[:9].lower() == b"%3cmsnobj":          # URL-encoded (CHG, ILN, emoticon lists)
        from .pseudonyms import url_recode
        try:
            return url_recode(raw, lambda b: msnobj(b, ps, objects))
        except ValueError:
            return ps.text(raw)
    # attribute names in their canonical case (WLM 2009 writes "stamp", "avatarid");
    # a name given twice: every copy rewritten alike
    every = [(_CANON.get(m.group(1).lower(), m.group(1)), m) for m in _ATTR.finditer(raw)]
    attrs = dict(every)
    if b"Creator" not in attrs and b"SHA1D" not in attrs:
        return ps.text(raw) if raw.strip(b"\0") not in (b"", b"0") else raw
    vals = {k: m.group(2) for k, m in attrs.items()}
    new = dict(vals)
    if b"Creator" in vals:
        new[b"Creator"] = EMAIL.sub(lambda m: ps.passport(m.group()), vals[b"Creator"])
    if vals.get(b"Friendly"):
        new[b"Friendly"] = b64_text(ps, vals[b"Friendly"])
    if vals.get(b"Location", b"0") != b"0":
        new[b"Location"] = ps.token(vals[b"Location"], "location")
    for k in (b"Stamp", b"AvatarID", b"contentid"):
        if vals.get(k):
            new[k] = ps.token(vals[k], k.decode().lower())
    if vals.get(b"SHA1D"):
        size = int(vals[b"Size"]) if vals.get(b"Size", b"").isdigit() else 0
        sha = objects.sha1d(vals[b"SHA1D"].decode("latin-1"), size)
        new[b"SHA1D"] = sha.encode() if len(sha) == len(vals[b"SHA1D"]) \
            else ps.token(vals[b"SHA1D"], "sha1d")
    if vals.get(b"SHA1C"):
        if sha1c(vals) == vals[b"SHA1C"]:
            new[b"SHA1C"] = sha1c(new)
        else:
            new[b"SHA1C"] = ps.token(vals[b"SHA1C"], "sha1c")
    out = bytearray(raw)
    for k, m in every:
        if new[k] != vals[k] and len(m.group(2)) == len(vals[k]):
            out[m.start(2):m.end(2)] = _same(ps, m.group(2), new[k])
    return bytes(out)


_CANON = {k.lower(): k for k in (b"Creator", b"Size", b"Type", b"Location", b"Friendly",
                                 b"SHA1D", b"SHA1C", b"Stamp", b"AvatarID", b"contentid")}


def sha1c(v: dict) -> bytes:
    s = b"".join(k + v.get(k, b"") for k in (b"Creator", b"Size", b"Type", b"Location",
                                             b"Friendly", b"SHA1D"))
    return base64.b64encode(hashlib.sha1(s).digest())


def b64_text(ps: Pseudonyms, value: bytes) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
        text = raw.decode("utf-16-le")
    except (binascii.Error, ValueError):
        return ps.token(value, "friendly")
    new = ps.text(text.encode("utf-8", "surrogatepass")).decode("utf-8", "surrogatepass")
    enc = base64.b64encode(new.encode("utf-16-le", "surrogatepass"))
    return enc if len(enc) == len(value) else ps.token(value, "friendly")


# ------------------------------------------------------------------ XML documents
_TEXT = re.compile(rb">([^<>]+)<")
_ENTITY = re.compile(rb"&#?\w+;")
KEEP_TAGS = (b"MachineGuid", b"Capabilities", b"ClientType", b"State", b"Idle",
             b"ClientCapabilities", b"LastSeen", b"MsnObj", b"SignatureSound", b"Service",
             b"NotificationType", b"MessageType", b"HasNewItem", b"ChangeType")
TOKEN_TAGS = (b"CID", b"MemberId", b"PUID", b"PassportName")


def xml_text(ps: Pseudonyms, raw: bytes) -> bytes:
    """Element text, entities kept (``&amp;`` stays an entity)."""
    out, pos = [], 0
    for m in _ENTITY.finditer(raw):
        out += [ps.text(raw[pos:m.start()]), m.group()]
        pos = m.end()
    out.append(ps.text(raw[pos:]))
    return b"".join(out)


def xml(ps: Pseudonyms, payload: bytes) -> bytes:
    """An XML payload: list documents' ``<d n=domain><c n=account f=name>`` mapped as
    the passports and names they spell, e-mail-like attributes mapped, ids tokenised,
    element text replaced except for machine facts (GUIDs, capabilities, client types);
    an MSNObject or a document escaped inside an element (DDP, an alert's BODY) is
    rewritten as what it is.  Same length, always."""
    if payload.lstrip()[:7] == b"<msnobj":
        return msnobj(payload, ps)
    out = bytearray(payload)
    for m in _ATTR.finditer(payload):
        name, value = m.group(1), m.group(2)
        tag_start = payload.rfind(b"<", 0, m.start())
        tag = payload[tag_start + 1:m.start()].split(b" ", 1)[0]
        if name == b"n" and tag == b"d":
            new = ps.domain(value.decode("latin-1")).encode("latin-1")
        elif name == b"n" and tag == b"c":
            new = ps.local(value.decode("latin-1")).encode("latin-1")
        elif name == b"f" and tag == b"c":              # ADL's friendly name, URL-encoded
            new = _recoded(ps, value)
        elif b"@" in value:
            new = EMAIL.sub(lambda e: ps.passport(e.group()), value)
        elif name.lower() in (b"name", b"friendlyname", b"displayname", b"title"):
            new = xml_text(ps, value)
        elif name.lower() in (b"pid", b"cid", b"puid", b"memberid"):
            new = ps.token(value, "cid")                 # account ids (a NOT's TO pid)
        else:
            new = ps.addresses_in(value)
        out[m.start(2):m.end(2)] = _same(ps, value, new)
    for m in _CDATA.finditer(payload):
        out[m.start(1):m.end(1)] = ps.text(m.group(1))
    return _texts(ps, bytes(out), payload)


def _same(ps: Pseudonyms, old: bytes, new: bytes) -> bytes:
    return new if len(new) == len(old) else ps.scrub(old)


def _recoded(ps: Pseudonyms, value: bytes) -> bytes:
    try:
        return url_recode(value, ps.text)
    except ValueError:
        return ps.scrub(value)


_CDATA = re.compile(rb"<!\[CDATA\[(.*?)\]\]>", re.S)
# a document escaped inside an element's text: an escaped tag, not a "&lt;3"
_ESCAPED_TAG = re.compile(rb"&lt;/?[A-Za-z][\w:.\-]*(?:[ /]|&gt;)")
_XML_ENTITIES = {b"&lt;": b"<", b"&gt;": b">", b"&amp;": b"&", b"&quot;": b'"', b"&apos;": b"'"}
_ENTITY_OR_BYTE = re.compile(rb"&(?:lt|gt|amp|quot|apos);|.", re.S)


def _escaped(ps: Pseudonyms, value: bytes) -> bytes:
    """A document escaped inside an element (``&lt;msnobj Creator=&quot;…``): unescaped,
    rewritten as a document, escaped back position by position (an entity stays where
    its character is unchanged; a changed byte stays a plain byte)."""
    forms = [m.group() for m in _ENTITY_OR_BYTE.finditer(value)]
    doc = b"".join(_XML_ENTITIES.get(f, f) for f in forms)
    new = xml(ps, doc)
    if len(new) != len(doc):
        return ps.scrub(value)
    out = bytearray()
    for f, old, b in zip(forms, doc, new):
        if len(f) > 1 and b == old:
            out += f
        elif b in b'<>&"' and b != old:
            return ps.scrub(value)
        else:
            out.append(b)
    return bytes(out) if len(out) == len(value) else ps.scrub(value)


def _texts(ps: Pseudonyms, doc: bytes, orig: bytes) -> bytes:
    """Element text of ``orig`` rewritten into ``doc`` (the same bytes with attributes
    already done)."""
    out = bytearray(doc)
    for m in _TEXT.finditer(orig):
        value = m.group(1)
        tag_at = orig.rfind(b"<", 0, m.start())
        tag = orig[tag_at + 1:m.start()].split(b" ", 1)[0].rstrip(b"/")
        if not value.strip() or tag in KEEP_TAGS:
            continue
        if _ESCAPED_TAG.search(value):
            new = _escaped(ps, value)
        elif tag in TOKEN_TAGS:
            new = ps.token(value, "cid")
        elif _guid_or_number(value):
            continue
        elif tag == b"CurrentMedia":
            new = current_media(ps, value)
        elif b"@" in value and EMAIL.fullmatch(value.strip()):
            new = EMAIL.sub(lambda e: ps.passport(e.group()), value)
        else:
            new = xml_text(ps, value)
        out[m.start(1):m.end(1)] = _same(ps, value, new)
    return bytes(out)


def current_media(ps: Pseudonyms, value: bytes) -> bytes:
    """``\\0Music\\01\\0{0} - {1}\\0Title\\0Artist\\0…``: the kind, the flag and the
    format are kept, the titles replaced."""
    fields = value.split(b"\\0")
    return b"\\0".join(f if i < 4 else xml_text(ps, f) for i, f in enumerate(fields))


def _guid_or_number(v: bytes) -> bool:
    s = v.strip()
    return bool(re.fullmatch(rb"\{?[0-9A-Fa-f\-]{8,}\}?|[0-9.:\-]+|true|false", s))


# ------------------------------------------------------------------ MSNSLP
FILE_GUID = b"{5D3E02AB-6190-11D3-BBBB-00C04F795683}"


def slp(ps: Pseudonyms, raw: bytes, sessions=None) -> bytes:
    """An MSNSLP message (SIP-like text, NUL-terminated): passports in To/From mapped,
    the body's Context rewritten by what it is (a file's name in its binary context, an
    MSNObject), addresses mapped with --addresses.  ``sessions`` learns which filler
    the data of the invited session takes."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    start, nl, rest = head.partition(b"\r\n")
    # the start line (INVITE MSNMSGR:bob@… MSNSLP/1.0, MSNSLP/1.0 200 OK): passports only
    new_head = EMAIL.sub(lambda m: ps.passport(m.group()), start) + nl + header_block(ps, rest)
    if not sep:
        return new_head
    fields = {}
    for line in body.split(b"\r\n"):
        k, s, v = line.partition(b":")
        if s:
            fields[k.strip().lower()] = v.strip()
    out = []
    for line in body.split(b"\r\n"):
        k, s, v = line.partition(b":")
        if s and k.strip().lower() == b"context":
            lead = v[:len(v) - len(v.lstrip())]
            ctx = v.strip(b" \0")
            tail = v[len(lead) + len(ctx):]
            out.append(k + s + lead + context(ps, ctx, fields.get(b"euf-guid", b"")) + tail)
        elif s:
            out.append(k + s + header_value(ps, k, v))
        else:
            out.append(line)
    if sessions is not None:
        sessions.invited(fields)
    return new_head + sep + b"\r\n".join(out)


def context(ps: Pseudonyms, value: bytes, euf: bytes) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value
    if base64.b64encode(raw) != value:
        return value
    if euf.upper() == FILE_GUID and len(raw) >= 20:
        new = file_context(ps, raw)
    elif raw.lstrip()[:7] == b"<msnobj":
        new = msnobj(raw, ps)
    else:
        return value
    return base64.b64encode(new)


def file_context(ps: Pseudonyms, raw: bytes) -> bytes:
    """The binary file context: the UTF-16LE name as text, a preview image (after the
    header's own length) as filler; sizes and flags kept."""
    out = bytearray(raw)
    end = 20 + 2 * MAX_FILE_NAME_CHARS
    name = raw[20:end]
    n = 0
    while n + 1 < len(name) and name[n:n + 2] != b"\0\0":
        n += 2
    if n:
        try:
            text = name[:n].decode("utf-16-le")
            new = ps.text(text.encode("utf-8", "surrogatepass")).decode("utf-8", "surrogatepass")
            enc = new.encode("utf-16-le", "surrogatepass")
            if len(enc) == n:
                out[20:20 + n] = enc
        except UnicodeDecodeError:
            out[20:20 + n] = ps.text(name[:n])
    hlen = int.from_bytes(raw[:4], "little")
    if 20 < hlen < len(raw):
        out[hlen:] = ps.filler("preview", raw[hlen:]).bytes(0, len(raw) - hlen)
    return bytes(out)
