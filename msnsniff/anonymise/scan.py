"""One TCP connection's two byte streams -> the patches that anonymise them (sans-IO).

A connection is scanned as the pipeline classified it: MSNP (NS, switchboard, MSNFTP)
through the project's own Framer, a P2P direct connection through the DirectFramer, the
HTTP gateway as HTTP messages whose bodies form one MSNP stream per direction.  Every
framed command is rewritten by lines.py / payloads.py / p2p.py into bytes of the same
length, and wherever those differ a patch ``(stream offset, bytes)`` is kept; file and
object data become *fill* patches ``(offset, length, None, (session or filler,
data offset))`` made in the writing pass.

What cannot be read is not let through: undecodable bytes are written back as
pseudonym text (and counted), a payload a gap cut is marked *dirty* (the writing pass
overwrites whatever of it the capture holds), and so is anything past what was seen.
"""

from __future__ import annotations

import bisect
import re

from ..protocol.tables import MIME_PAYLOAD_VERBS, XML_PAYLOAD_VERBS
from ..stream.directframing import DirectFrame, DirectFramer
from ..stream.framing import FileAbort, FileData, Framer, RawCommand, Undecodable
from .lines import rewrite_line
from .p2p import Assembly, P2PSide, Sessions
from .payloads import header_block, media_of, mime, mime_body, xml
from .pseudonyms import Pseudonyms

MIME_VERBS, XML_VERBS = MIME_PAYLOAD_VERBS, XML_PAYLOAD_VERBS
KEEP_VERBS = frozenset(("QRY", "GCF"))     # a challenge answer, the server's policy
_VER = re.compile(r"MSNP(\d+)")


class Side:
    """What one direction gives the writing pass."""

    __slots__ = ("patches", "dirty", "end", "undecodable", "damaged_p2p", "starts")

    def __init__(self):
        self.patches: list = []      # (offset, length, bytes or None, fill source)
        self.dirty: list = []        # (start, end) to overwrite
        self.end = 0                 # stream bytes seen (data and gaps)
        self.undecodable = 0
        self.damaged_p2p = 0

    def sort(self):
        self.patches.sort(key=lambda p: p[0])
        self.starts = [p[0] for p in self.patches]


class Ctx:
    """The run's shared state: pseudonyms, P2P sessions."""

    def __init__(self, ps: Pseudonyms):
        self.ps = ps
        self.sessions = Sessions(ps)


class MsnpSide:
    """One direction of an MSNP stream.  ``emit``/``fill``/``dirty`` take offsets in
    this stream's own space (the gateway maps them onto its TCP stream)."""

    def __init__(self, conn, d, ctx: Ctx, emit, fill, dirty, side: Side):
        self.conn, self.d, self.ctx = conn, d, ctx
        self.ps = ctx.ps
        self.emit, self.fill, self.mark_dirty, self.side = emit, fill, dirty, side
        self.framer = Framer()
        self.buf = bytearray()
        self.base = 0                # stream offset of buf[0]
        self.p2p = P2PSide(ctx.ps, ctx.sessions, emit, fill)
        self.file_at = 0             # MSNFTP file bytes so far
        self.chunks: dict = {}       # Message-ID -> the chunked message being joined

    def feed(self, offset: int, data: bytes):
        if offset != self.base + len(self.buf):
            self.buf.clear()
            self.base = offset
        self.buf += data
        self._items(self.framer.feed(data))
        self._trim()

    def gap(self, offset: int, length: int):
        self._items(self.framer.gap(length))
        self.buf.clear()
        self.base = offset + length

    def close(self):
        self._items(self.framer.close())
        self.p2p.close()
        for asm in self.chunks.values():      # never whole: rewritten as far as it goes
            self._joined(asm)
        self.chunks.clear()
        self.side.damaged_p2p += self.p2p.damaged

    def _trim(self):
        f = self.framer
        keep = f.cmd.offset if f.cmd is not None else f.base - len(f.buf)
        drop = keep - self.base
        if drop > 0:
            del self.buf[:drop]
            self.base = keep

    def _bytes(self, off: int, n: int) -> bytes:
        i = off - self.base
        return bytes(self.buf[i:i + n]) if i >= 0 else b""

    def _items(self, items):
        for it in items:
            t = type(it)
            if t is RawCommand:
                self._command(it)
            elif t is Undecodable:
                raw = self._bytes(it.offset, it.length)
                if len(raw) == it.length:
                    self.side.undecodable += it.length
                    self._patch(it.offset, raw, self.ps.text(raw))
                else:
                    self.mark_dirty(it.offset, it.offset + it.length)
            elif t is FileData:
                filler = self.conn.ftp_filler(self.d)
                self.fill(it.offset, len(it.data), filler, self.file_at)
                self.file_at += len(it.data)
            elif t is FileAbort:
                pass

    def _patch(self, off, old, new):
        if new != old:
            self.emit(off, new)

    def _command(self, cmd: RawCommand):
        payload = cmd.payload
        plen = len(payload) if payload is not None else 0
        line_len = cmd.length - plen
        line = self._bytes(cmd.offset, line_len)
        if len(line) != line_len:
            self.mark_dirty(cmd.offset, cmd.offset + cmd.length + cmd.missing)
            return
        verb = cmd.verb
        if verb == "VER" and self.d == 1:
            found = [int(v) for v in _VER.findall(" ".join(cmd.params))]
            if found:
                self.conn.version = max(found)
        if cmd.params:
            args = line[4:len(line) - (2 if line.endswith(b"\r\n") else 1)]
            new = rewrite_line(verb, cmd.params, cmd.bad_utf8, self.d, self.conn.version,
                               self.ps)
            if len(new) == len(args):
                self._patch(cmd.offset + 4, args, new)
            else:
                self.emit(cmd.offset + 4, self.ps.text(args))
        if not plen and not cmd.missing:
            return
        start = cmd.offset + line_len
        if cmd.missing:
            # a gap cut the payload: what of it was captured cannot be placed surely
            self.mark_dirty(start, start + plen + cmd.missing)
            return
        self._payload(verb, payload, start)

    def _payload(self, verb, payload, start):
        ps = self.ps
        if verb in KEEP_VERBS:
            return
        if verb in MIME_VERBS:
            head, sep, body = payload.partition(b"\r\n\r\n")
            if sep and _CHUNK.search(head):
                self._chunk(head, body, start)
                return
            new, media = mime(ps, payload)
            self._patch(start, payload, new)
            if media == "application/x-msnmsgrp2p":
                i = payload.find(b"\r\n\r\n") + 4
                head = payload[:i].lower()
                v2 = b"p2p-src:" in head or b";{" in head.split(b"p2p-dest:", 1)[-1][:200]
                self.p2p.message(payload[i:], start + i, v2)
            return
        if verb in XML_VERBS and payload.lstrip()[:1] == b"<":
            self._patch(start, payload, xml(ps, payload))
            return
        self._patch(start, payload, ps.text(payload))


    def _chunk(self, head: bytes, body: bytes, start: int):
        """A chunk of a chunked message (``Message-ID``, ``Chunks: N`` / ``Chunk: i``):
        the bodies are joined as the decoder joins them, rewritten once whole (a wink's
        MSNObject spans three MSGs) and the changes put back on each chunk's bytes."""
        self._patch(start, head, header_block(self.ps, head))
        fields = {k.strip().lower(): v.strip() for k, _, v in
                  (line.partition(b":") for line in head.split(b"\r\n"))}
        mid = fields.get(b"message-id", b"")
        body_off = start + len(head) + 4
        asm: Assembly | None
        if fields.get(b"chunks", b"").isdigit():
            asm = Assembly(int(fields[b"chunks"]))
            asm.media = media_of(head)
            self.chunks[mid] = asm
            while len(self.chunks) > MAX_OPEN_CHUNKED:
                self._joined(self.chunks.pop(next(iter(self.chunks))))
        else:
            asm = self.chunks.get(mid)
            if asm is None:              # a continuation whose first chunk was not seen
                self._patch(body_off, body, self.ps.text(body))
                return
        asm.add(body, body_off)
        if len(asm.pieces) >= asm.total or len(asm.buf) > MAX_CHUNKED_BYTES:
            self._joined(self.chunks.pop(mid))

    def _joined(self, asm):
        old = bytes(asm.buf)
        new = mime_body(self.ps, asm.media, old)
        for at, off, n in asm.pieces:
            self._patch(off, old[at:at + n], new[at:at + n])


MAX_OPEN_CHUNKED = 16          # as the decoder's ChunkJoin: messages joined at once
MAX_CHUNKED_BYTES = 256 * 1024
_CHUNK = re.compile(rb"(?:^|\n)Chunks?: *\d", re.IGNORECASE)


class DirectSide:
    def __init__(self, conn, d, ctx: Ctx, side: Side):
        self.ps = ctx.ps
        self.side = side
        self.framer = DirectFramer()
        self.p2p = P2PSide(ctx.ps, ctx.sessions, self._emit, self._fill)

    def _emit(self, off, data):
        self.side.patches.append((off, len(data), data, None))

    def _fill(self, off, n, src, at):
        self.side.patches.append((off, n, None, (src, at)))

    def feed(self, offset, data):
        self._items(self.framer.feed(data))

    def gap(self, offset, length):
        self._items(self.framer.gap(length))

    def close(self):
        self._items(self.framer.close())
        self.side.damaged_p2p += self.p2p.damaged

    def _items(self, items):
        for it in items:
            if type(it) is DirectFrame:
                self.p2p.direct(it.body, it.offset + 4)
            else:
                self.side.dirty.append((it.offset, it.offset + it.length))
                self.side.undecodable += it.length


class GatewaySide:
    """One direction of an HTTP gateway connection: envelopes (addresses mapped with
    --addresses), bodies framed as one MSNP stream through a virtual offset space."""

    def __init__(self, conn, d, ctx: Ctx, side: Side):
        self.ps, self.side, self.d = ctx.ps, side, d
        self.buf = bytearray()
        self.base = 0
        self.need = 0                 # body bytes still to come
        self.vpos = 0                 # virtual offset of the next body byte
        self.segments: list[tuple[int, int, int]] = []   # (virtual, stream, length)
        self.vstarts: list[int] = []
        self.msnp = MsnpSide(conn, d, ctx, self._emit, self._fill, self._dirty, side)
        self.broken = False
        self.chunked = False
        self.chunk_end = False

    # virtual -> stream offsets
    def _map(self, voff, n):
        i = bisect.bisect_right(self.vstarts, voff) - 1
        while n > 0 and 0 <= i < len(self.segments):
            v, s, ln = self.segments[i]
            take = min(n, v + ln - voff)
            if take > 0:
                yield s + (voff - v), voff, take
                voff += take
                n -= take
            i += 1

    def _emit(self, voff, data):
        pos = 0
        for s, v, n in list(self._map(voff, len(data))):
            self.side.patches.append((s, n, data[pos:pos + n], None))
            pos += n

    def _fill(self, voff, n, src, at):
        pos = 0
        for s, v, k in list(self._map(voff, n)):
            self.side.patches.append((s, k, None, (src, at + pos)))
            pos += k

    def _dirty(self, vstart, vend):
        for s, v, k in list(self._map(vstart, vend - vstart)):
            self.side.dirty.append((s, s + k))

    def feed(self, offset, data):
        if self.broken:
            self.side.dirty.append((offset, offset + len(data)))
            return
        if offset != self.base + len(self.buf):
            self.buf.clear()
            self.base = offset
        self.buf += data
        while self.buf:
            if self.need:
                take = min(self.need, len(self.buf))
                self.segments.append((self.vpos, self.base, take))
                self.vstarts.append(self.vpos)       # (kept sorted: bisected per patch)
                self.msnp.feed(self.vpos, bytes(self.buf[:take]))
                self.vpos += take
                self.need -= take
                del self.buf[:take]
                self.base += take
                if not self.need and self.chunked:
                    self.chunk_end = True
                continue
            if self.chunked and not self._chunk_line():
                return
            if self.chunked:
                continue
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > 65536:
                    self._break()
                return
            head = bytes(self.buf[:end + 4])
            new = self.ps.addresses_in(head) if self.ps.addresses else head
            if new != head:
                self.side.patches.append((self.base, len(new), new, None))
            m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
            if m is None and re.search(rb"\r\ntransfer-encoding: *chunked", head, re.I):
                self.chunked = True
                self.chunk_end = False
            elif m is None and self.d == 1 and head[:5] == b"HTTP/" \
                    and head[9:10] not in (b"1",) and head[9:12] not in (b"204", b"304"):
                self.need = 1 << 62          # HTTP/1.0: the body runs to the close
            else:
                self.need = int(m.group(1)) if m else 0
            del self.buf[:end + 4]
            self.base += end + 4

    def _chunk_line(self) -> bool:
        """Chunked transfer coding: a size line, the data (framed as body), a CRLF; the
        last chunk (size 0) and its trailer end the message."""
        if self.chunk_end:                       # the CRLF after a chunk's data
            if len(self.buf) < 2:
                return False
            del self.buf[:2]
            self.base += 2
            self.chunk_end = False
        i = self.buf.find(b"\r\n")
        if i < 0:
            if len(self.buf) > 1024:
                self._break()
            return False
        size_s = bytes(self.buf[:i]).split(b";")[0].strip()
        try:
            size = int(size_s, 16)
        except ValueError:
            self._break()
            return False
        if size == 0:
            end = self.buf.find(b"\r\n\r\n", 0)
            if end < 0:
                return False
            del self.buf[:end + 4]
            self.base += end + 4
            self.chunked = False
            return True
        del self.buf[:i + 2]
        self.base += i + 2
        self.need = size
        return True

    def _break(self):
        self.broken = True
        self.side.dirty.append((self.base, self.base + len(self.buf)))
        self.buf.clear()

    def gap(self, offset, length):
        if self.need:
            self.msnp.gap(self.vpos, length)
        self.side.dirty.append((offset, offset + length))
        self.broken = True

    def close(self):
        self.msnp.close()


class ConnScan:
    """Both directions of one connection, and the facts they share."""

    def __init__(self, kind: str, ctx: Ctx, ident: int = 0):
        self.kind = kind
        self.ident = ident          # the connection's id: seeds its fillers (one key, one output)
        self.ctx = ctx
        self.version: int | None = None
        # each direction's sequence number of stream offset 0 (the writing pass maps
        # segments by it), from the first bytes seen
        self.bases: list[int | None] = [None, None]
        self.sides = (Side(), Side())
        self._ftp: list = [None, None]     # each direction's MSNFTP filler, once needed
        self.scanners = [self._make(d) for d in (0, 1)]

    def ftp_filler(self, d):
        if self._ftp[d] is None:
            self._ftp[d] = self.ctx.ps.filler("msnftp", f"{self.ident}:{d}".encode())
        return self._ftp[d]

    def _make(self, d):
        side = self.sides[d]
        if self.kind == "direct":
            return DirectSide(self, d, self.ctx, side)
        if self.kind == "gateway":
            return GatewaySide(self, d, self.ctx, side)

        def emit(off, data, side=side):
            side.patches.append((off, len(data), data, None))

        def fill(off, n, src, at, side=side):
            side.patches.append((off, n, None, (src, at)))

        def dirty(a, b, side=side):
            side.dirty.append((a, b))
        return MsnpSide(self, d, self.ctx, emit, fill, dirty, side)

    def data(self, d, offset, data):
        self.sides[d].end = max(self.sides[d].end, offset + len(data))
        if self.scanners[d] is not None:
            self.scanners[d].feed(offset, data)

    def gap(self, d, offset, length):
        self.sides[d].end = max(self.sides[d].end, offset + length)
        if self.scanners[d] is not None:
            self.scanners[d].gap(offset, length)

    def close(self, d):
        scanner = self.scanners[d]
        if scanner is not None:
            scanner.close()
            self.scanners[d] = None      # its buffers and P2P state are not needed again
