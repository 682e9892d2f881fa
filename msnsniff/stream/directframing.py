"""Framing of a P2P direct connection (protocol/p2pdc.py): every message is a u32
little-endian length and that many bytes.  Bounded: a length over ``MAX_FRAME`` cannot
be a P2P message (clients send at most a few KB), so the rest of that direction is
reported undecodable instead of being buffered."""

from __future__ import annotations

from .framing import Undecodable

MAX_FRAME = 1 << 20


class DirectFrame:
    __slots__ = ("offset", "body", "ts")

    def __init__(self, offset, body, ts):
        self.offset, self.body, self.ts = offset, body, ts


class DirectFramer:
    """Same interface as framing.Framer: feed/gap/close return framed items, and the
    same byte accounting (decoded + undecodable + gap_bytes == fed + gap_bytes)."""

    def __init__(self, limits=None):
        self.buf = bytearray()
        self.pos = 0              # stream offset of buf[0]
        self.lines = 0            # frames (counted as commands, for the benchmarks)
        self.lost = False
        self.decoded = self.undecodable = self.gap_bytes = self.fed = 0

    def feed(self, data: bytes, ts: float = 0.0) -> list:
        self.fed += len(data)
        if self.lost:
            self.undecodable += len(data)
            self.pos += len(data)
            return [Undecodable(self.pos - len(data), data, "after a direct-connection "
                                "frame that could not be read", ts)] if data else []
        self.buf += data
        out: list = []
        while len(self.buf) >= 4:
            n = int.from_bytes(self.buf[:4], "little")
            if n > MAX_FRAME:
                out.append(Undecodable(self.pos, bytes(self.buf), f"direct-connection frame "
                                       f"length {n} is over {MAX_FRAME}", ts))
                self.undecodable += len(self.buf)
                self.pos += len(self.buf)
                self.buf.clear()
                self.lost = True
                break
            if len(self.buf) < 4 + n:
                break
            out.append(DirectFrame(self.pos, bytes(self.buf[4:4 + n]), ts))
            self.lines += 1
            self.decoded += 4 + n
            del self.buf[:4 + n]
            self.pos += 4 + n
        return out

    def gap(self, length: int, ts: float = 0.0) -> list:
        # framing is lost at a gap: what was held is reported, the rest too
        out = [Undecodable(self.pos, bytes(self.buf), "cut by a capture gap", ts)] \
            if self.buf else []
        self.undecodable += len(self.buf)
        self.gap_bytes += length
        self.pos += len(self.buf) + length
        self.buf.clear()
        self.lost = True
        return out

    def close(self, ts: float = 0.0) -> list:
        if not self.buf:
            return []
        out = [Undecodable(self.pos, bytes(self.buf), "a direct-connection frame cut by "
                           "the end of the stream", ts)]
        self.undecodable += len(self.buf)
        self.pos += len(self.buf)
        self.buf.clear()
        return out
