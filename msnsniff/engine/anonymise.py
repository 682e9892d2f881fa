"""``msnsniff anonymise``: two passes over a capture.

1. The pipeline reads the capture as ``read`` does (the same selection of MSN
   connections, the same roles and kinds); a tap hands each connection's in-order bytes
   to anonymise/scan.py, which frames them again and keeps the patches that replace
   every identifying value by a pseudonym of the same length.
2. capture/rewrite.py copies the file record by record; each TCP segment of an MSN
   connection gets the patches that fall in its sequence range (retransmissions the
   same as the original), bytes that were never read (before a mid-session start, cut
   by a gap) are overwritten, checksums are recomputed (a wrong one stays wrong), and
   with ``--addresses`` the IP and Ethernet addresses are mapped as the text ones were.
   Packets of other traffic are left out unless asked for.
"""

from __future__ import annotations

import bisect
import os
import struct

from ..anonymise.scan import ConnScan, Ctx
from ..capture.files import read_segments
from ..capture.packet import SYN, CaptureStats, _ip_offset, checksum_ok
from ..capture.rewrite import copy_capture
from ..config import DEFAULT_LIMITS
from ..decoder.direct import DirectDecoder
from ..errors import MsnsniffError
from ..pipeline import Pipeline
from ..pipeline.gateway import CarrierDecoder
from ..stream.reassembly import Connection, Data, End, Gap, Reassembler, fmt_ep

MASK = 0xFFFFFFFF


class _Flow:
    """One direction of one connection, as the writing pass needs it."""

    __slots__ = ("side", "base", "isn", "conn_id")

    def __init__(self, side, conn_id):
        self.side, self.base, self.isn, self.conn_id = side, None, None, conn_id


class _TapReassembler(Reassembler):
    """The reassembler whose in-order fast path (bytes that go straight to a framer,
    without a Data event) also hands them to the tap."""

    def __init__(self, limits, tap):
        super().__init__(limits)
        self.tap = tap

    def take_in_order(self, conn, seg):
        d = super().take_in_order(conn, seg)
        if d is not None:
            half = conn.halves[d]
            self.tap._data(conn, d, half.offset - len(seg.payload), seg.payload)
        return d


class _Tap(Pipeline):
    """The pipeline, with each connection's stream bytes also given to its scanner."""

    def __init__(self, ctx, ports=()):
        super().__init__(ports, reasm=_TapReassembler(DEFAULT_LIMITS, self))
        self.ctx = ctx
        self.scans: dict[int, ConnScan] = {}
        self.conns: dict[int, Connection] = {}

    def _scan(self, conn) -> ConnScan:
        scan = self.scans.get(conn.id)
        if scan is None:
            dec = self.states[conn.id].decoder
            kind = ("direct" if isinstance(dec, DirectDecoder) else
                    "gateway" if isinstance(dec, CarrierDecoder) else "msnp")
            scan = self.scans[conn.id] = ConnScan(kind, self.ctx, conn.id)
            self.conns[conn.id] = conn
        return scan

    def _data(self, conn, d, offset, data):
        scan = self._scan(conn)
        half = conn.halves[d]
        if scan.bases[d] is None and half.next_seq is not None:
            scan.bases[d] = (half.next_seq - half.offset) & MASK
        scan.data(d, offset, data)

    def _stream_events(self, raw, out):
        # one by one: a connection's first bytes tell its kind (in the pipeline's state,
        # which a Closed later in the same list drops)
        for ev in raw:
            super()._stream_events([ev], out)
            t = type(ev)
            if t is Data:
                self._data(ev.conn, ev.dir, ev.offset, ev.data)
            elif t is Gap and ev.conn.id in self.scans:
                self.scans[ev.conn.id].gap(ev.dir, ev.offset, ev.length)
            elif t is End and ev.conn.id in self.scans:
                self.scans[ev.conn.id].close(ev.dir)


class Result:
    def __init__(self):
        self.connections = 0
        self.packets = 0
        self.written = 0
        self.left_out = 0
        self.overwritten = 0          # bytes nothing decoded (dirty, unseen): overwritten
        self.undecodable = 0          # undecodable bytes written back as pseudonym text
        self.damaged_p2p = 0
        self.truncated = None
        self.damaged_headers = 0      # TCP packets whose IP lengths lie: left out
        self.map: dict = {}
        self.per_connection: list = []


def anonymise(path: str, out_path: str, addresses: bool = False, keep_other: bool = False,
              ports=(), key: bytes | None = None) -> Result:
    from ..anonymise.pseudonyms import Pseudonyms
    if path == "-":
        raise MsnsniffError("anonymise reads its capture twice: give a file, not standard input")
    if os.path.exists(out_path) and os.path.exists(path) and os.path.samefile(path, out_path):
        raise MsnsniffError(f"{out_path}: is the input capture; anonymise never writes over it")
    ps = Pseudonyms(key, addresses)
    ctx = Ctx(ps)
    tap = _Tap(ctx, ports)
    stats = CaptureStats()
    for _ in tap.run_lists(read_segments(path, stats)):
        pass
    flows: dict[tuple, list[_Flow]] = {}
    res = Result()
    for cid, scan in tap.scans.items():
        conn = tap.conns[cid]
        res.connections += 1
        eps = (conn.client, conn.server)
        for d in (0, 1):
            side = scan.sides[d]
            side.sort()
            side.dirty.sort()
            f = _Flow(side, cid)
            f.base = scan.bases[d]
            f.isn = conn.halves[d].isn
            flows.setdefault((*eps[d], *eps[1 - d]), []).append(f)
            res.undecodable += side.undecodable
            res.damaged_p2p += side.damaged_p2p
        res.per_connection.append({"connection": cid, "kind": scan.kind,
                                   "endpoints": f"{fmt_ep(conn.client)} > {fmt_ep(conn.server)}",
                                   "undecodable": sum(s.undecodable for s in scan.sides),
                                   "damaged_p2p": sum(s.damaged_p2p for s in scan.sides),
                                   "overwritten": 0})
    writer = _Writer(ps, ctx, flows, keep_other, res,
                     {c["connection"]: c for c in res.per_connection})
    tmp = out_path + ".part"
    try:
        with open(path, "rb") as src, open(tmp, "wb") as out:
            cs = copy_capture(src, out, writer.patch, scrub=True)
        os.replace(tmp, out_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    res.packets, res.written, res.left_out = cs.packets, cs.written, cs.left_out
    res.truncated = cs.truncated or stats.truncated
    res.map = ps.report()
    return res


class _Writer:
    def __init__(self, ps, ctx, flows, keep_other, res, per_conn):
        self.ps, self.ctx, self.flows, self.keep_other, self.res = ps, ctx, flows, keep_other, res
        self.per_conn = per_conn
        self.current: dict[tuple, int] = {}

    def patch(self, linktype: int, buf: bytearray) -> bool:
        ipoff = _ip_offset(linktype, bytes(buf[:64]))    # (the link header is all it reads)
        if ipoff < 0 or ipoff + 20 > len(buf):
            return self.keep_other
        v = buf[ipoff] >> 4
        if v == 4:
            ihl = (buf[ipoff] & 0x0F) * 4
            if buf[ipoff + 9] != 6 or (buf[ipoff + 6] & 0x3F) or buf[ipoff + 7]:
                return self._other(linktype, buf, ipoff, v)
            t = ipoff + ihl
            end = ipoff + ((buf[ipoff + 2] << 8) | buf[ipoff + 3])
            src = ".".join(map(str, buf[ipoff + 12:ipoff + 16]))
            dst = ".".join(map(str, buf[ipoff + 16:ipoff + 20]))
        elif v == 6 and ipoff + 40 <= len(buf) and buf[ipoff + 6] == 6:
            import ipaddress
            t = ipoff + 40
            end = t + ((buf[ipoff + 4] << 8) | buf[ipoff + 5])
            src = ipaddress.IPv6Address(bytes(buf[ipoff + 8:ipoff + 24])).compressed
            dst = ipaddress.IPv6Address(bytes(buf[ipoff + 24:ipoff + 40])).compressed
        else:
            return self._other(linktype, buf, ipoff, v)
        if t + 20 > len(buf) or end < t + 20:
            # an IP header whose lengths cannot hold a TCP header: the reader rejects it
            # as damage, so nothing of it was read; it is left out, never copied as it is
            self.res.damaged_headers += 1
            return False
        if end < len(buf):
            # bytes after the IP packet (Ethernet padding, or anything hidden there) are
            # not the protocol's: zeros, as padding is
            buf[end:] = bytes(len(buf) - end)
        sport, dport, seq = struct.unpack_from(">HHI", buf, t)
        cands = self.flows.get((src, sport, dst, dport))
        if not cands:
            if self.keep_other and self.ps.addresses:
                good = end <= len(buf) and checksum_ok(buf, ipoff, t, end, v == 6)
                self._addresses(linktype, buf, ipoff, v)
                if end <= len(buf):
                    _set_tcp_checksum(buf, ipoff, t, end, v == 6, good)
            return self.keep_other
        flow = self._pick(cands, (src, sport, dst, dport), seq, buf[t + 13])
        doff = (buf[t + 12] >> 4) * 4
        p = t + doff
        snapped = end > len(buf)
        stop = min(end, len(buf))
        good = not snapped and checksum_ok(buf, ipoff, t, end, v == 6)
        if stop > p:
            start = (seq + (1 if buf[t + 13] & SYN else 0) - flow.base) & MASK \
                if flow.base is not None else None
            self._payload(flow, buf, p, stop, start)
        if self.ps.addresses:
            self._addresses(linktype, buf, ipoff, v)
        if not snapped:
            _set_tcp_checksum(buf, ipoff, t, end, v == 6, good)
        return True

    def _pick(self, cands, key, seq, flags):
        i = self.current.get(key, 0)
        if flags & SYN:
            for j, f in enumerate(cands):
                if f.isn == seq:
                    i = j
                    break
        self.current[key] = i
        return cands[min(i, len(cands) - 1)]

    def _payload(self, flow, buf, p, stop, start):
        n = stop - p
        side = flow.side
        if start is None or start + n > side.end or start > MASK // 2:
            # bytes the first pass never read: nothing of them is let through
            buf[p:stop] = self.ps.text(bytes(buf[p:stop]))
            self._overwritten(flow, n)
            return
        for a, b in side.dirty:
            if a >= start + n:
                break
            lo, hi = max(a, start), min(b, start + n)
            if lo < hi:
                buf[p + lo - start:p + hi - start] = self.ps.text(
                    bytes(buf[p + lo - start:p + hi - start]))
                self._overwritten(flow, hi - lo)
        i = bisect.bisect_right(side.starts, start) - 1
        i = max(i, 0)
        pats = side.patches
        while i < len(pats) and pats[i][0] < start + n:
            off, length, data, src = pats[i]
            i += 1
            lo, hi = max(off, start), min(off + length, start + n)
            if lo >= hi:
                continue
            if data is None:
                data = self._fill(src, lo - off, hi - lo)
                buf[p + lo - start:p + hi - start] = data
            else:
                buf[p + lo - start:p + hi - start] = data[lo - off:hi - off]

    def _overwritten(self, flow, n):
        self.res.overwritten += n
        self.per_conn[flow.conn_id]["overwritten"] += n

    def _fill(self, src, at, n):
        source, data_off = src
        filler = self.ctx.sessions.filler(source) if isinstance(source, int) else source
        return filler.bytes(data_off + at, n)

    def _other(self, linktype, buf, ipoff, v) -> bool:
        """A packet that is not TCP (or not one the reader decodes): kept only with
        --keep-other, its addresses mapped too with --addresses (a UDP checksum, which
        covers them, is cleared: 0 means "none" in IPv4)."""
        if not self.keep_other:
            return False
        if self.ps.addresses and v in (4, 6) and ipoff + (20 if v == 4 else 40) <= len(buf):
            self._addresses(linktype, buf, ipoff, v)
            if v == 4 and buf[ipoff + 9] == 17:
                u = ipoff + (buf[ipoff] & 0x0F) * 4
                if u + 8 <= len(buf):
                    buf[u + 6:u + 8] = b"\0\0"
        return True

    def _addresses(self, linktype, buf, ipoff, v):
        ps = self.ps
        if v == 4:
            buf[ipoff + 12:ipoff + 16] = ps.ipv4_bytes(bytes(buf[ipoff + 12:ipoff + 16]))
            buf[ipoff + 16:ipoff + 20] = ps.ipv4_bytes(bytes(buf[ipoff + 16:ipoff + 20]))
            ihl = (buf[ipoff] & 0x0F) * 4
            buf[ipoff + 10:ipoff + 12] = b"\0\0"
            buf[ipoff + 10:ipoff + 12] = _ones(bytes(buf[ipoff:ipoff + ihl])).to_bytes(2, "big")
        else:
            buf[ipoff + 8:ipoff + 24] = ps.ipv6_bytes(bytes(buf[ipoff + 8:ipoff + 24]))
            buf[ipoff + 24:ipoff + 40] = ps.ipv6_bytes(bytes(buf[ipoff + 24:ipoff + 40]))
        if linktype == 1 and len(buf) >= 12:
            buf[0:6] = ps.mac(bytes(buf[0:6]))
            buf[6:12] = ps.mac(bytes(buf[6:12]))
        elif linktype == 113 and len(buf) >= 16 and buf[4:6] == b"\x00\x06":
            buf[6:12] = ps.mac(bytes(buf[6:12]))        # Linux cooked v1: the sender's
        elif linktype == 276 and len(buf) >= 20 and buf[11] == 6:
            buf[12:18] = ps.mac(bytes(buf[12:18]))      # Linux cooked v2


def _ones(data: bytes) -> int:
    """The Internet checksum of ``data`` (RFC 1071)."""
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack(f">{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _set_tcp_checksum(buf, ipoff, t, end, v6, good):
    """Recompute the TCP checksum; a segment whose checksum was wrong (send offload on
    the capturing host) keeps a wrong one, so the capture's damage stays as it was."""
    buf[t + 16:t + 18] = b"\0\0"
    addrs = bytes(buf[ipoff + 8:ipoff + 40]) if v6 else bytes(buf[ipoff + 12:ipoff + 20])
    n = end - t
    pseudo = addrs + (struct.pack(">IxxxB", n, 6) if v6 else struct.pack(">xBH", 6, n))
    c = _ones(pseudo + bytes(buf[t:end]))
    if not good:
        c ^= 0x0001 if c != 0x0001 else 0x0003
    buf[t + 16:t + 18] = c.to_bytes(2, "big")
