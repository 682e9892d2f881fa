"""MSN P2P (MSNC) framing and MSNSLP, as values (docs/p2p.md).

P2P messages ride in switchboard ``MSG … D`` with ``Content-Type:
application/x-msnmsgrp2p`` and a ``P2P-Dest`` header.  The MIME body is a binary header,
the data, and a 4-byte big-endian footer (the AppID).  Field layouts as libpurple's msn
plugin reads them (libpurple/protocols/msn/p2p.c, ``msn_p2p_header_from_wire``;
slp.h ``MsnFileContext``):

- v1 (MSNP9-15): 48 bytes little-endian: SessionID u32, Identifier u32, Offset u64,
  TotalSize u64, MessageSize u32, Flags u32, AckSessionID u32, AckUniqueID u32,
  AckDataSize u64;
- v2 (MSNP16+): HeaderLength u8, OpCode u8, MessageSize u16 BE, SequenceNumber u32 BE,
  header TLVs; when MessageSize > 0 a data header: length u8, TF u8, PackageNumber
  u16 BE, SessionID u32 BE, data TLVs (type 1: bytes remaining after this chunk, u64 BE).

Pure functions; lengths from the network are checked, never trusted: a part whose
declared sizes do not fit its bytes raises ``P2PError`` with the reason.
"""

from __future__ import annotations

import base64
import binascii
import struct

V1 = struct.Struct("<IIQQIIIIQ")
FOOTER = struct.Struct(">I")

# v1 Flags (libpurple p2p.h MsnP2PHeaderFlag)
FLAG_ACK = 0x2
FLAG_WAIT = 0x4
FLAG_ERROR = 0x8
FLAG_MSNOBJ_DATA = 0x20
FLAG_CLOSE = 0x40
FLAG_TLP_ERROR = 0x80
FLAG_DC_HANDSHAKE = 0x100
FLAG_FILE_DATA = 0x1000030

APP_IDS = {0: "session", 1: "msnobject", 2: "file", 11: "emoticon", 12: "display picture"}

# What a fetched MSNObject is, by its Type (xmlpayload.MSNOBJ_TYPES names every type).
# The Type decides, not the AppID: MSN 7.5 fetches pictures, winks and voice clips with
# AppID 1 (v1), WLM 2009 uses 12 for pictures and 11 for emoticons (v2; MSNPSharp
# ObjectTransfer.cs), and both reuse the one EUF-GUID {A4268EEC-…} for every object.
OBJECT_KINDS: dict[str | None, str] = {   # (looked up with an MSNObject's Type, maybe None)
    "2": "emoticon", "3": "display-picture", "7": "display-picture", "5": "background",
    "10": "background", "8": "wink", "11": "voice-clip", "16": "scene"}

# EUF-GUIDs of session invitations (MSNSLP INVITE bodies)
EUF_GUIDS = {
    "{5D3E02AB-6190-11D3-BBBB-00C04F795683}": "file",
    "{A4268EEC-FEC5-49E5-95C3-F126696BDBF6}": "msnobject",     # display picture/emoticon
    "{4BD96FC0-AB17-4425-A14A-439185962DC8}": "webcam (send)",
    "{1C9AA97E-9C05-4583-A3BD-908A196F1E92}": "webcam (receive)",
    "{6A13AF9C-5308-4F35-923A-67E8DDA40C2F}": "activity",
    "{5D3E02AB-6190-11D3-BBBB-00C04F795684}": "sharing",
    "{02D3C01F-BF30-4825-A83A-DE7AF41648AA}": "voice conversation",
}

MAX_FILE_NAME_CHARS = 260             # MsnFileContext.file_name (UTF-16LE)


class P2PError(ValueError):
    """A P2P part whose sizes or fields cannot be right (the message says which)."""


class Part:
    """One P2P message: which session and byte range it carries, and the bytes.

    v1 fills offset/total from its header.  v2 has no offsets: ``remaining`` (the
    bytes-remaining TLV, 0 when absent) and ``first`` (TF_FIRST) let the model place the
    chunk (offset = size - remaining - len(data)); ``identifier`` is the SequenceNumber."""

    __slots__ = ("version", "session_id", "identifier", "offset", "total", "flags",
                 "ack_id", "ack_size", "app_id", "data", "first", "tf", "opcode", "package",
                 "remaining", "nak_id", "peer_info", "message_size")

    def __init__(self, version, session_id, identifier, offset, total, flags, ack_id,
                 ack_size, app_id, data, first=None, tf=None, opcode=0, package=None,
                 remaining=0, nak_id=None, peer_info=None, message_size=0):
        self.version = version
        self.session_id = session_id
        self.identifier = identifier
        self.offset = offset
        self.total = total            # v2: len(data) + remaining on a TF_FIRST chunk
        self.flags = flags
        self.ack_id = ack_id
        self.ack_size = ack_size
        self.app_id = app_id          # the footer; None on a direct connection
        self.data = data
        self.first = first            # v2: TF_FIRST
        self.tf = tf                  # v2: the TF combination byte
        self.opcode = opcode          # v2: SYN 0x01, RAK 0x02
        self.package = package        # v2: PackageNumber
        self.remaining = remaining    # v2: bytes of this message still to come
        self.nak_id = nak_id          # v2: NAK TLV
        self.peer_info = peer_info    # v2: the SYN's peer-info TLV, decoded
        self.message_size = message_size   # v2: MessageSize (data header + data)

    @property
    def is_ack(self) -> bool:
        return self.version == 1 and self.flags == FLAG_ACK

    @property
    def is_data_preparation(self) -> bool:
        """The 4 zero bytes a sender puts before an MSNObject's data (v1: a session's
        first message of TotalSize 4; v2: TF First alone, libpurple and MSNPSharp
        agree).  It is not the object: the object's bytes follow."""
        if self.session_id == 0 or self.data != b"\x00\x00\x00\x00":
            return False
        if self.version == 1:
            return self.total == 4 and self.offset == 0 and self.flags == 0
        return self.tf == TF_FIRST and not self.remaining


def _footer(rest: bytes):
    return FOOTER.unpack(rest[:4])[0] if len(rest) >= 4 else None


def parse_v1(body: bytes, footer: bool = True) -> Part:
    """A v1 message: the 48-byte header, the data, the AppID footer (absent on a direct
    connection: ``footer=False``)."""
    if len(body) < V1.size:
        raise P2PError(f"{len(body)} bytes: shorter than the 48-byte P2P header")
    sid, ident, offset, total, size, flags, ack_sid, ack_id, ack_size = V1.unpack_from(body)
    data = body[V1.size:V1.size + size]
    if len(data) != size:
        raise P2PError(f"MessageSize {size} but {len(body) - V1.size} bytes follow the header")
    if offset > total or size > total - offset:
        raise P2PError(f"bytes {offset}-{offset + size} lie past TotalSize {total}")
    app_id = _footer(body[V1.size + size:]) if footer else None
    return Part(1, sid, ident, offset, total, flags, ack_id, ack_size, app_id, data)


# v2 opcodes and TF combinations (MSNPSharp P2PHeader.cs TFCombination; libpurple p2p.h)
OP_SYN = 0x01
OP_RAK = 0x02
TF_FIRST = 0x01
TF_MSNOBJ = 0x04
TF_FILE = 0x06
TF_NAMES = {0x00: "continuation", 0x01: "first", 0x04: "msnobject", 0x05: "msnobject first",
            0x06: "file", 0x07: "file first"}


def _tlvs(buf: bytes, base: int) -> dict:
    """Type-length-value records up to the first padding byte (type 0).  ``base`` is the
    buffer's offset in the P2P body, for the error message."""
    out = {}
    i = 0
    while i < len(buf):
        t = buf[i]
        if t == 0:                       # padding to a multiple of 4
            break
        if i + 2 > len(buf) or i + 2 + buf[i + 1] > len(buf):
            n = buf[i + 1] if i + 1 < len(buf) else "?"
            raise P2PError(f"TLV type {t} at offset {base + i} declares {n} bytes; "
                           f"only {len(buf) - i - 2} are left in its header")
        out[t] = buf[i + 2:i + 2 + buf[i + 1]]
        i += 2 + buf[i + 1]
    return out


def peer_info(v: bytes) -> dict | None:
    """The SYN's peer-info TLV (12 bytes; little-endian as MSNPSharp writes it):
    protocol version, implementation id, version, reserved, capabilities."""
    if len(v) != 12:
        return None
    proto, impl, ver, _res, caps = struct.unpack("<HHHHI", v)
    return {"protocol_version": proto, "implementation_id": impl, "version": ver,
            "capabilities": caps}


def parse_v2(body: bytes, footer: bool = True) -> Part:
    if len(body) < 8:
        raise P2PError(f"{len(body)} bytes: shorter than the P2Pv2 header")
    hlen, opcode, mlen, seq = struct.unpack_from(">BBHI", body)
    if hlen < 8 or hlen + mlen > len(body):
        raise P2PError(f"header {hlen} + message {mlen} bytes exceed the {len(body)} received")
    htlv = _tlvs(body[8:hlen], 8)
    ack = htlv.get(2)
    nak = htlv.get(3)
    ack_id = struct.unpack(">I", ack)[0] if ack and len(ack) == 4 else None
    nak_id = struct.unpack(">I", nak)[0] if nak and len(nak) == 4 else None
    info = peer_info(htlv[1]) if 1 in htlv else None
    if mlen == 0:
        app_id = _footer(body[hlen:]) if footer else None
        return Part(2, 0, seq, None, 0, 0, ack_id, None, app_id, b"", None, None, opcode,
                    None, 0, nak_id, info, 0)
    d = body[hlen:hlen + mlen]
    if len(d) < 8 or d[0] < 8 or d[0] > mlen:
        raise P2PError(f"data header length {d[0] if d else 0} does not fit the message "
                       f"of {mlen} bytes (offset {hlen})")
    dlen, tf, package, sid = struct.unpack_from(">BBHI", d)
    dtlv = _tlvs(d[8:dlen], hlen + 8)
    data = d[dlen:]
    rem = dtlv.get(1)
    remaining = struct.unpack(">Q", rem)[0] if rem and len(rem) == 8 else 0
    if remaining > 1 << 62:
        raise P2PError(f"bytes-remaining TLV of {remaining} at offset {hlen + 8}")
    app_id = _footer(body[hlen + mlen:]) if footer else None
    first = bool(tf & TF_FIRST)
    total = len(data) + remaining if first else None
    return Part(2, sid, seq, None, total, 0, ack_id, None, app_id, data, first, tf, opcode,
                package, remaining, nak_id, info, mlen)


# ---------------------------------------------------------------- MSNSLP
def parse_slp(raw: bytes) -> dict:
    """An MSNSLP message (SIP-like text, NUL-terminated) -> start line, headers, body
    fields.  Raises P2PError when it is not one."""
    text = raw.rstrip(b"\x00").decode("utf-8", "replace")
    head, _, body = text.replace("\r\n", "\n").partition("\n\n")
    lines = head.split("\n")
    start = lines[0].strip()
    if not (start.startswith("MSNSLP/") or " MSNSLP/" in start):
        raise P2PError(f"not an MSNSLP message: {start[:60]!r}")
    headers = {}
    for line in lines[1:]:
        k, sep, v = line.partition(":")
        if sep:
            headers[k.strip().lower()] = v.strip()
    fields = {}
    for line in body.split("\n"):
        k, sep, v = line.partition(":")
        if sep and k.strip():
            fields[k.strip()] = v.strip()
    if start.startswith("MSNSLP/"):
        parts = start.split(" ", 2)
        method, code = "RESPONSE", int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        reason = parts[2] if len(parts) > 2 else ""
    else:
        method, code, reason = start.split(" ", 1)[0], None, ""
    return {"method": method, "code": code, "reason": reason, "headers": headers,
            "fields": fields, "to": _addr(headers.get("to")), "from": _addr(headers.get("from")),
            "to_endpoint": addr_endpoint(headers.get("to"))[1],
            "from_endpoint": addr_endpoint(headers.get("from"))[1],
            "call_id": headers.get("call-id"),
            "content_type": headers.get("content-type", "").split(";")[0].strip().lower()}


def _addr(v: str | None) -> str | None:
    """``<msnmsgr:bob@example.com;{guid}>`` -> bob@example.com"""
    return addr_endpoint(v)[0]


def addr_endpoint(v: str | None) -> tuple[str | None, str | None]:
    """``<msnmsgr:bob@example.com;{guid}>`` -> (bob@example.com, {GUID}): the endpoint
    upper-cased (clients write it in either case, MSNSLP lower, P2P-Dest upper)."""
    if not v:
        return None, None
    v = v.strip().strip("<>")
    if v.lower().startswith("msnmsgr:"):
        v = v[8:]
    account, _, ep = v.partition(";")
    return account.lower() or None, norm_endpoint(ep)


def norm_endpoint(ep: str | None) -> str | None:
    """A machine GUID as ``{UPPER-CASE}``, or None when it is not one."""
    if not ep:
        return None
    ep = ep.strip()
    if not (ep.startswith("{") and ep.endswith("}")) or len(ep) > 40:
        return None
    return ep.upper()


def b64(s: str) -> bytes:
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise P2PError("Context is not valid base64") from None


def file_context(raw: bytes) -> dict:
    """The base64-decoded file-transfer Context (libpurple slp.h MsnFileContext):
    length u32, version u32, file size u64, type u32 (0: a preview follows), the file
    name as 260 UTF-16LE units, then 34 bytes and an optional PNG preview."""
    if len(raw) < 20:
        raise P2PError(f"file context of {len(raw)} bytes (at least 20 are needed)")
    length, version, size, ftype = struct.unpack_from("<IIQI", raw)
    name_raw = raw[20:20 + 2 * MAX_FILE_NAME_CHARS]
    name = name_raw.decode("utf-16-le", "replace").split("\x00", 1)[0]
    return {"version": version, "size": size, "name": name, "preview": ftype == 0,
            "header_length": length}
