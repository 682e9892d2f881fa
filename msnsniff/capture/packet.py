"""Packets -> Segments: link layer, IPv4/IPv6 and TCP headers parsed from bytes with
plain indexing (no Scapy), plus the cheap "can this packet matter" check used by the
pure-Python file reader.  Pure functions; the readers in files.py and live.py feed
them.  The TCP payload length comes from the IP total length, so Ethernet padding on
short frames never becomes payload.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .follow import FIRST_WORDS

# TCP flag bits
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


class Segment:
    """One TCP segment as the reassembler needs it: no Scapy types, nothing else."""

    __slots__ = ("ts", "src", "sport", "dst", "dport", "seq", "ack", "flags", "payload",
                 "frame", "missing")

    def __init__(self, ts, src, sport, dst, dport, seq, ack, flags, payload, frame=0, missing=0):
        self.ts = ts
        self.src = src
        self.sport = sport
        self.dst = dst
        self.dport = dport
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.payload = payload
        self.frame = frame
        # bytes the IP header promised but the capture did not keep (snaplen); the
        # reassembler turns them into a gap.
        self.missing = missing

    def __repr__(self):  # pragma: no cover - debugging aid
        return (f"Segment({self.src}:{self.sport}->{self.dst}:{self.dport} seq={self.seq} "
                f"flags={self.flags:#x} len={len(self.payload)})")


@dataclass
class CaptureStats:
    """What the reader saw, so that nothing it skipped goes unreported."""

    packets: int = 0
    bytes: int = 0
    tcp_segments: int = 0
    non_ip: int = 0
    non_tcp: int = 0
    ip_fragments: int = 0
    snapped: int = 0            # packets cut short by the capture's snaplen
    bad_headers: int = 0        # IP/TCP headers that do not parse
    unsupported_link: dict = field(default_factory=dict)   # linktype -> packets
    truncated: str | None = None   # the file ends inside a record / block
    format: str = ""
    reader: str = "python"      # python, or libpcap (BPF applied in C: packets that
                                # cannot matter are never seen, so not counted)
    skipped: int = 0            # TCP packets dropped by the cheap port/flag check
    bad_times: int = 0          # timestamps past 9999-12-31 (clamped)
    position: int = 0           # bytes of the file read so far (for progress bars)
    bad_checksums: int = 0      # TCP segments whose checksum is wrong (decoded anyway)
    msn_last: float | None = None   # the last packet of MSN traffic (a bare ACK counts)

    def notices(self) -> list[str]:
        """One line per kind of damage or skipped input, for people."""
        out = []
        if self.truncated:
            out.append(f"capture truncated: {self.truncated}")
        if self.ip_fragments:
            out.append(f"{self.ip_fragments} IP fragment(s) ignored (not reassembled)")
        if self.snapped:
            out.append(f"{self.snapped} packet(s) cut short by the capture's snaplen")
        if self.bad_headers:
            out.append(f"{self.bad_headers} packet(s) with damaged IP/TCP headers")
        if self.bad_times:
            out.append(f"{self.bad_times} packet(s) timestamped after the year 9999 "
                       "(clamped to 9999-12-31T23:59:59Z)")
        for lt, n in sorted(self.unsupported_link.items()):
            out.append(f"{n} packet(s) of unsupported link type {lt}")
        return out


# ---------------------------------------------------------------- link layers

def _ip_after_ethernet(buf: bytes) -> int:
    """Offset of the IP header in an Ethernet frame (802.1Q / QinQ tags skipped), or -1."""
    off = 12
    n = len(buf)
    while off + 2 <= n:
        et = (buf[off] << 8) | buf[off + 1]
        if et in (0x8100, 0x88A8, 0x9100):      # VLAN tag, possibly stacked
            off += 4
            continue
        if et in (0x0800, 0x86DD):
            return off + 2
        return -1
    return -3                                   # the frame ends inside its link header


def _ip_offset(linktype: int, buf: bytes) -> int:
    """Offset of the IP header for a link type; -1 = not IP; -2 = unsupported link;
    -3 = the frame is shorter than its link header (damage)."""
    if linktype == 1:                                   # Ethernet
        return _ip_after_ethernet(buf)
    if linktype in (101, 12, 14, 228, 229):             # raw IP
        return 0
    if linktype in (0, 108):                            # BSD null / OpenBSD loop
        if len(buf) < 4:
            return -3
        fam_le = struct.unpack_from("<I", buf)[0]
        fam_be = struct.unpack_from(">I", buf)[0]
        # the family is host-endian for DLT_NULL; accept either byte order
        fam = fam_le if fam_le < 256 else fam_be
        return 4 if fam in (2, 24, 28, 30) else -1
    if linktype == 113:                                 # Linux cooked v1 (SLL)
        if len(buf) < 16:
            return -3
        proto = (buf[14] << 8) | buf[15]
        return 16 if proto in (0x0800, 0x86DD) else -1
    if linktype == 276:                                 # Linux cooked v2 (SLL2)
        if len(buf) < 20:
            return -3
        proto = (buf[0] << 8) | buf[1]
        return 20 if proto in (0x0800, 0x86DD) else -1
    return -2


_IPV6_EXT = {0, 43, 60, 51}   # hop-by-hop, routing, destination options, AH


def _ip4(b: bytes, _cache={}) -> str:
    """Dotted text of a 4-byte address (the few addresses of a capture repeat: cached,
    bounded)."""
    text = _cache.get(b)
    if text is None:
        if len(_cache) > 65536:
            _cache.clear()
        text = _cache[b] = f"{b[0]}.{b[1]}.{b[2]}.{b[3]}"
    return text


def _fmt_ip6(b: bytes) -> str:
    import ipaddress
    return str(ipaddress.IPv6Address(b))


_IP4_TCP = struct.Struct(">BxH2xHxB2x4s4s")      # IPv4 header fields we use
_TCP = struct.Struct(">HHIIBB")


def parse_frame(linktype: int, buf: bytes, ts: float, stats: CaptureStats, frame: int = 0):
    """Return a Segment for a TCP packet, or None (counted in ``stats``)."""
    if linktype == 1 and buf[12:14] == b"\x08\x00" and len(buf) >= 54:
        # the common case, Ethernet + IPv4, in one struct call (the general parser below
        # handles everything else, and every damaged IP header)
        vihl, total, frag, proto, s, d = _IP4_TCP.unpack_from(buf, 14)
        ihl = (vihl & 0x0F) * 4
        if vihl >> 4 == 4 and proto == 6 and not frag & 0x3FFF and ihl >= 20 \
                and total >= ihl:
            return _tcp(buf, 14 + ihl, 14 + total, ts, _ip4(s), _ip4(d), stats, frame, 14,
                        False)
    off = _ip_offset(linktype, buf)
    if off < 0:
        if off == -2:
            stats.unsupported_link[linktype] = stats.unsupported_link.get(linktype, 0) + 1
        elif off == -3:
            stats.bad_headers += 1
        else:
            stats.non_ip += 1
        return None
    n = len(buf)
    if off >= n:                            # a link header announcing IP, and no IP
        stats.bad_headers += 1
        return None
    ver = buf[off] >> 4
    if ver == 4:
        if off + 20 > n:
            stats.bad_headers += 1
            return None
        ihl = (buf[off] & 0x0F) * 4
        total = (buf[off + 2] << 8) | buf[off + 3]
        if ihl < 20 or total < ihl:
            stats.bad_headers += 1
            return None
        frag = ((buf[off + 6] << 8) | buf[off + 7])
        if frag & 0x3FFF:                    # MF set or non-zero offset
            stats.ip_fragments += 1
            return None
        if buf[off + 9] != 6:
            stats.non_tcp += 1
            return None
        src = f"{buf[off + 12]}.{buf[off + 13]}.{buf[off + 14]}.{buf[off + 15]}"
        dst = f"{buf[off + 16]}.{buf[off + 17]}.{buf[off + 18]}.{buf[off + 19]}"
        end = off + total
        t = off + ihl
    elif ver == 6:
        if off + 40 > n:
            stats.bad_headers += 1
            return None
        plen = (buf[off + 4] << 8) | buf[off + 5]
        nxt = buf[off + 6]
        src = _fmt_ip6(buf[off + 8:off + 24])
        dst = _fmt_ip6(buf[off + 24:off + 40])
        end = off + 40 + plen
        t = off + 40
        while nxt in _IPV6_EXT or nxt == 44:
            if t + 8 > n:
                stats.bad_headers += 1
                return None
            if nxt == 44:                       # fragment header
                stats.ip_fragments += 1
                return None
            hdr_len = (buf[t + 1] + 2) * 4 if nxt == 51 else (buf[t + 1] + 1) * 8
            nxt = buf[t]
            t += hdr_len
        if nxt != 6:
            stats.non_tcp += 1
            return None
    else:
        stats.non_ip += 1
        return None
    return _tcp(buf, t, end, ts, src, dst, stats, frame, off, ver == 6)


def checksum_ok(buf, ipoff: int, t: int, end: int, v6: bool) -> bool:
    """The TCP checksum of the segment at ``t:end`` (IP header at ``ipoff``) is right.
    The ones' complement sum of 16-bit words is the big number they spell modulo 0xFFFF
    (2^16 = 1 mod 0xFFFF), which int.from_bytes computes in C; the pseudo-header's
    addresses, protocol (6) and length are added the same way, an odd segment is padded
    by a shift, and a right checksum makes the whole sum 0xFFFF, that is 0."""
    n = end - t
    addrs = buf[ipoff + 8:ipoff + 40] if v6 else buf[ipoff + 12:ipoff + 20]
    seg = int.from_bytes(buf[t:end], "big")
    if n & 1:
        seg <<= 8
    return (int.from_bytes(addrs, "big") + 6 + n + seg) % 0xFFFF == 0


def _tcp(buf, t, end, ts, src, dst, stats, frame, ipoff, v6):
    """The TCP header at ``t`` of an IP packet ending at ``end`` -> Segment, or None."""
    n = len(buf)
    if t + 20 > n:
        stats.bad_headers += 1
        return None
    sport, dport, seq, ack, doff, flags = _TCP.unpack_from(buf, t)
    doff = (doff >> 4) * 4
    if doff < 20 or t + doff > end:
        stats.bad_headers += 1
        return None
    missing = 0
    if end > n:
        # the capture kept fewer bytes than the IP header announces (snaplen)
        missing = end - n
        end = n
        stats.snapped += 1
    elif not checksum_ok(buf, ipoff, t, end, v6):
        # decoded anyway (checksum offload leaves the sender's capture with wrong
        # sums; a sniffer that dropped them would lose whole sessions): counted
        stats.bad_checksums += 1
    stats.tcp_segments += 1
    return Segment(ts, src, sport, dst, dport, seq, ack, flags, buf[t + doff:end], frame, missing)


def _irrelevant(linktype: int, buf: bytes, follow) -> bool:
    """True for a plain Ethernet/raw IPv4 TCP segment that cannot matter (see follow.py):
    decided from a few fixed offsets, before any string is built.  Anything unusual
    (VLAN, IPv6, options we do not expect, fragments) goes to the full parser."""
    if linktype == 1:
        if buf[12:14] != b"\x08\x00":
            return False
        off = 14
    elif linktype in (101, 12, 14):
        off = 0
    else:
        return False
    if len(buf) < off + 40 or buf[off] >> 4 != 4 or buf[off + 9] != 6:
        return False
    if (buf[off + 6] & 0x3F) or buf[off + 7]:        # a fragment: let the parser count it
        return False
    ihl = (buf[off] & 0x0F) * 4
    t = off + ihl
    if ihl < 20 or len(buf) < t + 20:   # odd or truncated headers: the parser counts them
        return False
    ports = follow.port_set
    sport, dport = buf[t] << 8 | buf[t + 1], buf[t + 2] << 8 | buf[t + 3]
    if sport in ports or dport in ports:
        return False
    if follow.conn_pairs and (sport, dport) in follow.conn_pairs:
        return False                    # a followed gateway connection (checked by host later)
    if buf[t + 13] & SYN:
        return False
    p = t + (buf[t + 12] >> 4) * 4
    return buf[p:p + 4] not in _FIRST_WORDS


_FIRST_WORDS = set(FIRST_WORDS)
