"""The XML payloads of MSNP11+ (docs/dialects.md): personal messages (UUX/UBX
``<Data>``), contact lists (MSNP13+ ADL/RML/FQY ``<ml>``) and MSNObjects.

Pure functions, bytes in, values out.  Payloads come from the network: a document with
a DTD or entity declaration is refused before parsing (no entity expansion, no external
fetch), a parse error is returned as text for an anomaly, never raised.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from .numbers import net_int

_FORBIDDEN = (b"<!DOCTYPE", b"<!ENTITY", b"<!doctype", b"<!entity")
# bounds of a payload's tree (see _Bounded)
MAX_XML_DEPTH = 32
MAX_XML_ELEMENTS = 100_000
# the rendered CurrentMedia ("Music: Song - Artist") is cut here
MAX_MEDIA_CHARS = 4096
_PLACEHOLDER = re.compile(r"\{([0-9]{1,3})\}")


class XmlError(ValueError):
    """The payload is not the XML it should be (the message says why)."""


def _parse(payload: bytes) -> ET.Element:
    # expat also reads UTF-16: there the declarations are ASCII letters with NULs
    # between them, so the check looks at the payload without its NULs as well
    if any(f in payload for f in _FORBIDDEN) or (
            b"\x00" in payload and any(f in payload.replace(b"\x00", b"") for f in _FORBIDDEN)):
        raise XmlError("XML with a DTD or entity declaration (refused, not parsed)")
    parser = ET.XMLParser(target=_Bounded())
    try:
        parser.feed(payload)
        return parser.close()
    except ET.ParseError as e:
        raise XmlError(f"not well-formed XML ({e})") from None


class _Bounded(ET.TreeBuilder):
    """A tree no deeper than MAX_XML_DEPTH and no larger than MAX_XML_ELEMENTS: real
    payloads nest four levels and hold one element per contact at most."""

    def __init__(self):
        super().__init__()
        self.depth = self.count = 0

    def start(self, tag, attrs):
        self.depth += 1
        self.count += 1
        if self.depth > MAX_XML_DEPTH or self.count > MAX_XML_ELEMENTS:
            raise XmlError(f"XML nested deeper than {MAX_XML_DEPTH} or with more than "
                           f"{MAX_XML_ELEMENTS} elements (refused)")
        return super().start(tag, attrs)

    def end(self, tag):
        self.depth -= 1
        return super().end(tag)


def _text(el: ET.Element | None) -> str | None:
    if el is None:
        return None
    return el.text or ""


def decode_current_media(raw: str | None) -> str | None:
    r"""``\0Music\01\0{0} - {1}\0Song\0Artist\0…`` -> "Music: Song - Artist".

    The fields (separated by the two characters backslash-zero) are: application,
    type, enabled, a format string with {0}, {1}… placeholders, then the values.  The
    format string decides the order, as the receiving client renders it.  Enabled 0 or
    an empty value means nothing is playing (None)."""
    if not raw:
        return None
    parts = raw.split("\\0")
    if len(parts) < 4 or parts[2] != "1":
        return None
    kind, fmt, values = parts[1], parts[3], parts[4:]
    # one pass over the format string (a value is never itself formatted: replacing
    # {0}, then {1} in the result doubled the text per placeholder), and the rendered
    # text stops at MAX_MEDIA_CHARS ({0}{0}{0}… multiplies a value); the raw field is
    # kept whole
    pieces, size, pos = [], 0, 0
    for m in _PLACEHOLDER.finditer(fmt):
        i = int(m.group(1))
        pieces.append(fmt[pos:m.start()])
        pieces.append(values[i] if i < len(values) else m.group(0))
        pos = m.end()
        size += len(pieces[-1]) + len(pieces[-2])
        if size > MAX_MEDIA_CHARS:
            break
    else:
        pieces.append(fmt[pos:])
    out = "".join(pieces)
    if len(out) > MAX_MEDIA_CHARS:
        out = out[:MAX_MEDIA_CHARS] + "…"
    out = out.strip()
    if not out:
        return None
    return f"{kind}: {out}" if kind else out


@dataclass(slots=True)
class PersonalData:
    """What a UUX/UBX document holds (an empty UBX: nothing)."""
    psm: str | None = None
    current_media_raw: str | None = None
    current_media: str | None = None        # as the client renders it
    machine_guid: str | None = None
    endpoints: list[dict] = field(default_factory=list)   # MSNP16+: one dict per endpoint
    msnobj: dict | None = None              # MSNP18: ddp, scene, signaturesound
    document: str = "Data"                  # the root: Data, or one endpoint's document alone


def parse_data(payload: bytes) -> PersonalData:
    """A UUX/UBX ``<Data>`` document -> personal message, current media, machine guid
    and the MSNP16+ endpoints (EndpointData / PrivateEndpointData by id)."""
    root = _parse(payload)
    # MSNP16+ clients also send UUX with one endpoint's document alone (MPOP): its
    # capabilities (<EndpointData>) or its name and state (<PrivateEndpointData>)
    alone = root.tag in ("EndpointData", "PrivateEndpointData")
    if root.tag != "Data" and not alone:
        raise XmlError(f"<{root.tag[:40]}> where <Data> was expected")
    endpoints: dict[str, dict] = {}
    for el in [root] if root.tag == "EndpointData" else root.findall("EndpointData"):
        ep = endpoints.setdefault(el.get("id") or "", {"id": el.get("id")})
        ep["capabilities"] = _text(el.find("Capabilities"))
    for el in ([root] if root.tag == "PrivateEndpointData"
               else root.findall("PrivateEndpointData")):
        ep = endpoints.setdefault(el.get("id") or "", {"id": el.get("id")})
        for name, key in (("EpName", "name"), ("ClientType", "client_type"),
                          ("State", "state"), ("Idle", "idle")):
            v = _text(el.find(name))
            if v is not None:
                ep[key] = v
    media_raw = _text(root.find("CurrentMedia"))
    # MSNP18: the dynamic display picture and the scene are MSNObjects (XML-escaped)
    objs = {tag.lower(): parse_msnobj(_text(root.find(tag)) or "")
            for tag in ("DDP", "Scene", "SignatureSound")}
    return PersonalData(psm=_text(root.find("PSM")), current_media_raw=media_raw,
                        msnobj={k: v for k, v in objs.items() if v} or None,
                        current_media=decode_current_media(media_raw),
                        machine_guid=_text(root.find("MachineGuid")),
                        endpoints=list(endpoints.values()), document=root.tag)


def parse_ml(payload: bytes) -> tuple[bool, list[dict]]:
    """An ADL/RML/FQY ``<ml>`` document -> (initial list?, contacts).

    Each contact: passport (``n`` of the user @ ``n`` of its domain), list bits
    (``l``), network (``t``) and a friendly name (``f``, server-sent ADL only)."""
    root = _parse(payload)
    if root.tag != "ml":
        raise XmlError(f"<{root.tag[:40]}> where <ml> was expected")
    out = []
    for d in root.findall("d"):
        domain = d.get("n") or ""
        for c in d.findall("c"):
            user = c.get("n") or ""
            bits = c.get("l")
            net = c.get("t")
            name = c.get("f")
            out.append({"passport": f"{user}@{domain}" if domain else user,
                        "list_bits": net_int(bits),
                        "network": net_int(net),
                        "friendly_name": unquote(name) if name else None})
    return root.get("l") == "1", out


_MSNOBJ_FIELDS = {"Creator": "creator", "Size": "size", "Type": "type",
                  "Location": "location", "Friendly": "friendly", "SHA1D": "sha1d",
                  "SHA1C": "sha1c", "Stamp": "stamp", "AvatarID": "avatar_id",
                  "contenttype": "content_type"}
MSNOBJ_TYPES = {"1": "avatar (MSN 6 beta)", "2": "emoticon", "3": "display picture",
                "4": "shared file", "5": "background", "6": "history", "7": "dynamic picture",
                "8": "wink", "9": "map file", "10": "dynamic background",
                "11": "voice clip", "12": "plug-in state", "13": "roaming object",
                "14": "signature sound", "15": "unknown 15", "16": "scene"}


def parse_msnobj(text: str) -> dict | None:
    """An MSNObject (URL-encoded or plain ``<msnobj …/>``) -> its fields, or None.

    ``Friendly`` is base64 of UTF-16LE text; it is decoded when it decodes."""
    if not text or text in ("0", "<msnobj/>"):
        return None
    if "%" in text and "<" not in text:
        text = unquote(text)
    try:
        root = _parse(text.encode("utf-8", "replace"))
    except XmlError:
        return None
    if root.tag != "msnobj":
        return None
    # text fields, and size as a number
    out: dict[str, Any] = {key: root.get(attr) for attr, key in _MSNOBJ_FIELDS.items()
                           if root.get(attr)}
    if not out:
        return None
    if "size" in out:
        out["size"] = net_int(out["size"])
    if "type" in out:
        out["type_name"] = MSNOBJ_TYPES.get(out["type"], "unknown")
    if out.get("friendly"):
        import base64
        try:
            out["friendly_text"] = base64.b64decode(out["friendly"], validate=True) \
                .decode("utf-16-le").rstrip("\x00")
        except (ValueError, UnicodeDecodeError):
            pass
    return out
