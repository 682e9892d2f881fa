"""P2P direct connections (docs/p2p.md): the framing and handshake of the TCP
connection two clients open when MSNSLP's ``transreqbody``/``transrespbody`` negotiate
one (``Bridges: TCPv1``).

Every message is preceded by its length (u32 little-endian) and carries no footer.
The connecting side first sends ``foo\\0``; then both sides send a handshake that
proves they took part in the negotiation: v1 a 48-byte P2P header with Flags 0x100
whose last 16 bytes (AckSessionID, AckUniqueID, AckDataSize) are the ``Nonce`` GUID in
its little-endian byte order; v2 the 16 GUID bytes alone, the SLP having announced
only ``Hashed-Nonce`` (the first 16 bytes of SHA-1 over the nonce, again as a GUID).
Layouts as MSNPSharp's P2PDirectProcessor.cs / Converter.cs HashedNonceGenerator and
libpurple's directconn.c read them (they agree); MSNPSharp's reference vector
(nonce 122d2937-… -> hashed 2b95f56d-…) is in the tests.
"""

from __future__ import annotations

import hashlib
import struct
import uuid

FOO = b"foo\x00"
# a direct connection's first bytes: the preamble's 4-byte little-endian length, then it
DC_START = len(FOO).to_bytes(4, "little") + FOO
FLAG_DC_HANDSHAKE = 0x100


def guid_text(raw16: bytes) -> str:
    """16 bytes in the little-endian GUID layout -> ``{XXXXXXXX-…}`` (upper case, as the
    SLP writes nonces)."""
    return "{" + str(uuid.UUID(bytes_le=bytes(raw16))).upper() + "}"


def hashed_nonce(nonce: str) -> str | None:
    """The ``Hashed-Nonce`` a v2 client announces for ``nonce`` (``{GUID}``)."""
    try:
        u = uuid.UUID(nonce.strip().strip("{}"))
    except ValueError:
        return None
    return guid_text(hashlib.sha1(u.bytes_le).digest()[:16])


def handshake_nonce(body: bytes) -> tuple[int, str] | None:
    """(P2P version, nonce) of a handshake message, or None when ``body`` is not one."""
    if len(body) == 16:
        return 2, guid_text(body)
    if len(body) == 48 and struct.unpack_from("<I", body, 28)[0] & FLAG_DC_HANDSHAKE:
        return 1, guid_text(body[32:48])
    return None


def same_guid(a: str | None, b: str | None) -> bool:
    """GUIDs compare without braces and case (clients differ in both)."""
    if not a or not b:
        return False
    return a.strip().strip("{}").lower() == b.strip().strip("{}").lower()
