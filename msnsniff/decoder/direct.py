"""Decoder of a P2P direct connection (protocol/p2pdc.py, docs/p2p.md): the ``foo\\0``
preamble, one nonce handshake per side, then P2P messages without footer.  Which call
the bytes belong to is the model's business (it knows which peer listened where); this
only decodes.  Never raises: a frame that is no P2P message is an anomaly."""

from __future__ import annotations

from .. import events as E
from ..protocol.p2p import P2PError, parse_v1, parse_v2
from ..protocol.p2pdc import FOO, handshake_nonce
from ..stream.framing import Undecodable


class DirectDecoder:
    kind = "p2p-direct"

    def __init__(self, conn: int):
        self.conn = conn
        self.version: int | None = None     # from the first handshake
        self.shaken = [False, False]
        self.unshaken = [0, 0]              # P2P frames a side sent before any handshake
        # (time, stream offset) of the first of them
        self.first: list[tuple[float, int] | None] = [None, None]

    def handle(self, item, d: int) -> list:
        ts = item.ts
        if isinstance(item, Undecodable):
            return [E.Anomaly(ts, self.conn, d, "undecodable",
                              f"{item.length} bytes {item.reason}: {item.sample!r}",
                              item.offset, item.length)]
        body = item.body
        if d == 0 and body == FOO and not self.shaken[0]:
            return [E.DirectHandshake(ts, self.conn, d, None, None)]
        if not self.shaken[d]:
            hs = handshake_nonce(body)
            if hs is not None:
                self.shaken[d] = True
                self.version = self.version or hs[0]
                return [E.DirectHandshake(ts, self.conn, d, hs[0], hs[1])]
        if not self.shaken[d]:
            # real clients drop the connection here; the bytes are decoded anyway and
            # the missing handshake is reported when the connection ends
            self.unshaken[d] += 1
            self.first[d] = self.first[d] or (ts, item.offset)
        version = self.version or (1 if len(body) >= 48 else 2)
        try:
            part = (parse_v1 if version == 1 else parse_v2)(body, footer=False)
        except P2PError as e:
            return [E.P2PPart(ts, self.conn, d, None, None, None, None, version, None,
                              "direct", f"direct connection, offset {item.offset}: {e}",
                              len(body))]
        return [E.P2PPart(ts, self.conn, d, None, None, None, None, version, part, "direct",
                          None, len(body))]

    def close(self, ts) -> list:
        out: list = []
        for d, n in enumerate(self.unshaken):
            first = self.first[d]
            if n and first is not None:             # (handle sets first with unshaken)
                side = "connecting" if d == 0 else "listening"
                t0, offset = first
                out.append(E.Anomaly(t0, self.conn, d, "p2p direct",
                                     f"the {side} side sent {n} P2P frame(s) without a nonce "
                                     f"handshake, the first at offset {offset} (decoded "
                                     "anyway; a real client drops them)", offset, None))
        return out
