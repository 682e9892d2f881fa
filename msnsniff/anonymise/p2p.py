"""P2P messages (switchboard ``MSG … D`` bodies and direct-connection frames) as patches.

A P2P message is binary framing (kept: sizes, offsets, sequence numbers, flags), MSNSLP
text (session 0; split over several chunks when long, joined here as the decoder joins
it: v1 by Identifier and Offset, v2 by TF First and the bytes-remaining TLV) and
object or file data.  MSNSLP is rewritten once whole and its changes are mapped back
onto the chunks' bytes; data becomes a *fill* patch, made in the writing pass from the
session's filler (an MSNObject's filler, whose SHA1 the rewritten SHA1D already names,
or the file's), so nothing of the content is kept in memory.
"""

from __future__ import annotations

import zlib

from ..protocol.p2p import P2PError, parse_slp, parse_v1, parse_v2
from ..protocol.p2pdc import handshake_nonce
from .payloads import FILE_GUID, slp
from .pseudonyms import Pseudonyms

KEEP_BYTES = 8 << 20


class Sessions:
    """P2P SessionID -> the filler its data takes (learnt from MSNSLP INVITEs)."""

    def __init__(self, ps: Pseudonyms):
        self.ps = ps
        self.fillers: dict[int, object] = {}

    def invited(self, fields: dict):
        sid = fields.get(b"sessionid", b"")
        if not sid.isdigit():
            return
        sid_n = int(sid)
        import base64
        import binascii
        try:
            ctx = base64.b64decode(fields.get(b"context", b""), validate=True)
        except (binascii.Error, ValueError):
            ctx = b""
        if fields.get(b"euf-guid", b"").upper() == FILE_GUID:
            self.fillers[sid_n] = self.ps.filler("file", sid + ctx[20:40])
            return
        from .payloads import _ATTR
        attrs = {m.group(1): m.group(2) for m in _ATTR.finditer(ctx)}
        sha, size = attrs.get(b"SHA1D"), attrs.get(b"Size", b"")
        if sha:
            self.fillers[sid_n] = self.ps.objects.filler(
                sha.decode("latin-1"), int(size) if size.isdigit() else 0)

    def filler(self, sid: int):
        f = self.fillers.get(sid)
        if f is None:
            f = self.fillers[sid] = self.ps.filler("session", str(sid).encode())
        return f


class Assembly:
    """One MSNSLP message being joined: its bytes and where each piece sits."""

    __slots__ = ("buf", "pieces", "total", "media")

    def __init__(self, total):
        self.buf = bytearray()
        self.pieces: list[tuple[int, int, int]] = []   # (buf offset, stream offset, length)
        self.total = total
        self.media = ""              # a chunked MIME message's type (scan.py)

    def add(self, data: bytes, stream_off: int):
        self.pieces.append((len(self.buf), stream_off, len(data)))
        self.buf += data


class P2PSide:
    """One direction's P2P state (SB or direct connection).  ``emit(offset, bytes)``
    and ``fill(offset, length, sid, data_offset)`` receive the patches."""

    def __init__(self, ps: Pseudonyms, sessions: Sessions, emit, fill):
        self.ps, self.sessions = ps, sessions
        self.emit, self.fill = emit, fill
        self.slp: dict = {}              # v1: Identifier -> Assembly; v2: "v2" -> Assembly
        self.running: dict[int, int] = {}   # v2: session -> data bytes so far
        self.version: int | None = None  # direct connections: from the handshake
        self.seen: dict = {}             # session -> [(offset, bytes)] (conflicts)
        self.kept = 0
        self.damaged = 0

    def message(self, body: bytes, off: int, v2: bool, footer: bool = True):
        """A P2P message whose first byte is at stream offset ``off``."""
        try:
            part = parse_v2(body, footer) if v2 else parse_v1(body, footer)
        except P2PError:
            # its data cannot be placed: everything past the header is overwritten, the
            # header (whose sizes say what is wrong) and the footer are kept
            self.damaged += 1
            keep = 48 if not v2 else min(len(body), body[0] + 8)
            tail = 4 if footer and len(body) >= keep + 4 else 0
            rest = body[keep:len(body) - tail]
            if rest:
                self.emit(off + keep, self.ps.text(rest))
            return
        data = part.data
        if not data:
            return
        doff = off + (48 if not v2 else body[0] + body[body[0]])
        if part.session_id == 0:
            self._slp(part, data, doff, v2)
        elif part.is_data_preparation:
            return
        else:
            if v2:
                at = 0 if part.first else self.running.get(part.session_id, 0)
                self.running[part.session_id] = at + len(data)
            else:
                at = part.offset
            self.fill(doff, len(data), self._source(part.session_id, at, data), at)

    def _source(self, sid: int, at: int, data: bytes):
        """The session, or for bytes that contradict bytes already sent for an
        overlapping range (a conflict the decoder reports) a filler of their own, so the
        rewritten capture shows the same conflict.  The chunks compared are kept up to
        KEEP_BYTES per direction; past that, ranges are no longer compared."""
        chunks = self.seen.setdefault(sid, [])
        end = at + len(data)
        for a, old in chunks:
            lo, hi = max(a, at), min(a + len(old), end)
            if lo < hi and old[lo - a:hi - a] != data[lo - at:hi - at]:
                return self.ps.filler("conflict", b"%d:%d:%d" % (sid, at, zlib.crc32(data)))
        if self.kept + len(data) <= KEEP_BYTES:
            chunks.append((at, data))
            self.kept += len(data)
        return sid

    def direct(self, body: bytes, off: int):
        """A direct-connection frame's body (no footer)."""
        if body == b"foo\x00":
            return
        hs = handshake_nonce(body)
        if hs is not None and self.version is None:
            self.version = hs[0]
            return
        version = self.version or (1 if len(body) >= 48 else 2)
        self.message(body, off, version == 2, footer=False)

    def _slp(self, part, data, doff, v2):
        if v2:
            key = "v2"
            if part.first or key not in self.slp:
                self.slp[key] = Assembly(len(data) + part.remaining)
            asm = self.slp[key]
            asm.add(data, doff)
            done = not part.remaining
        else:
            key = part.identifier
            if part.offset == 0 or key not in self.slp:
                self.slp[key] = Assembly(part.total)
            asm = self.slp[key]
            asm.add(data, doff)
            done = part.offset + len(data) >= part.total
        if done:
            del self.slp[key]
            self._rewrite(asm)

    def _rewrite(self, asm: Assembly):
        old = bytes(asm.buf)
        try:
            parse_slp(old)
            new = slp(self.ps, old, self.sessions)
        except P2PError:
            new = self.ps.text(old)
        if len(new) != len(old):
            new = self.ps.text(old)
        for start, stream_off, n in asm.pieces:
            piece = new[start:start + n]
            if piece != old[start:start + n]:
                self.emit(stream_off, piece)

    def close(self):
        """MSNSLP still incomplete at the end: rewritten as far as it goes."""
        for asm in self.slp.values():
            self._rewrite(asm)
        self.slp.clear()

