"""Capture input: pcap / pcapng files (or stdin) -> Segment records.

This is the only module that reads capture files.  It parses just the headers it needs
(link layer, IPv4/IPv6, TCP) with ``struct`` instead of dissecting packets with Scapy:
full Scapy dissection runs at ~10k packets/s, this reader at well over 500k/s (see
bench/RESULTS.md).  Scapy stays in use for live sniffing (live.py) and for building
test packets.

Invariants:
- streamed: one record in memory at a time, never the whole file;
- nothing silently dropped: every packet is counted, and packets that are not TCP,
  IP fragments, damaged headers or a file cut inside a record are reported in
  ``CaptureStats`` (the CLI prints them, the analysis lists them as anomalies);
- the TCP payload length comes from the IP total length, so Ethernet padding on short
  frames never becomes payload.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

from .errors import MsnsniffError

# TCP flag bits
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

# A record longer than this is treated as a damaged length field (real link MTUs,
# even with TSO/GRO on loopback, stay far below; tcpdump's default snaplen is 262144).
MAX_RECORD = 262144 * 4


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
    position: int = 0           # bytes of the file read so far (for progress bars)

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
    return -1


def _ip_offset(linktype: int, buf: bytes) -> int:
    """Offset of the IP header for a link type; -1 = not IP; -2 = unsupported link."""
    if linktype == 1:                                   # Ethernet
        return _ip_after_ethernet(buf)
    if linktype in (101, 12, 14, 228, 229):             # raw IP
        return 0
    if linktype in (0, 108):                            # BSD null / OpenBSD loop
        if len(buf) < 4:
            return -1
        fam_le = struct.unpack_from("<I", buf)[0]
        fam_be = struct.unpack_from(">I", buf)[0]
        # the family is host-endian for DLT_NULL; accept either byte order
        fam = fam_le if fam_le < 256 else fam_be
        return 4 if fam in (2, 24, 28, 30) else -1
    if linktype == 113:                                 # Linux cooked v1 (SLL)
        if len(buf) < 16:
            return -1
        proto = (buf[14] << 8) | buf[15]
        return 16 if proto in (0x0800, 0x86DD) else -1
    if linktype == 276:                                 # Linux cooked v2 (SLL2)
        if len(buf) < 20:
            return -1
        proto = (buf[0] << 8) | buf[1]
        return 20 if proto in (0x0800, 0x86DD) else -1
    return -2


_IPV6_EXT = {0, 43, 60, 51}   # hop-by-hop, routing, destination options, AH


def _fmt_ip6(b: bytes) -> str:
    import ipaddress
    return str(ipaddress.IPv6Address(b))


def parse_frame(linktype: int, buf: bytes, ts: float, stats: CaptureStats, frame: int = 0):
    """Return a Segment for a TCP packet, or None (counted in ``stats``)."""
    off = _ip_offset(linktype, buf)
    if off < 0:
        if off == -2:
            stats.unsupported_link[linktype] = stats.unsupported_link.get(linktype, 0) + 1
        else:
            stats.non_ip += 1
        return None
    n = len(buf)
    if off >= n:
        stats.non_ip += 1
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
    if t + 20 > n:
        stats.bad_headers += 1
        return None
    doff = (buf[t + 12] >> 4) * 4
    if doff < 20 or t + doff > end:
        stats.bad_headers += 1
        return None
    sport, dport, seq, ack = struct.unpack_from(">HHII", buf, t)
    flags = buf[t + 13]
    start = t + doff
    missing = 0
    if end > n:
        # the capture kept fewer bytes than the IP header announces (snaplen)
        missing = end - n
        end = n
        stats.snapped += 1
    stats.tcp_segments += 1
    return Segment(ts, src, sport, dst, dport, seq, ack, flags, buf[start:end], frame, missing)


# ---------------------------------------------------------------- file formats

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6, "pcap"),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6, "pcap"),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9, "pcap (ns)"),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9, "pcap (ns)"),
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"


class _Reader:
    """Reads exactly n bytes or fewer at end of file (works on pipes too)."""

    def __init__(self, f: BinaryIO, prefix: bytes = b""):
        self.f = f
        self.prefix = prefix
        self.offset = 0

    def read(self, n: int) -> bytes:
        if self.prefix:
            data, self.prefix = self.prefix[:n], self.prefix[n:]
            if len(data) < n:
                data += self._read_more(n - len(data))
        else:
            data = self._read_more(n)
        self.offset += len(data)
        return data

    def _read_more(self, n: int) -> bytes:
        data = self.f.read(n)
        if data is None:
            data = b""
        if len(data) == n or not data:
            return data
        parts = [data]
        got = len(data)
        while got < n:          # pipes hand out short reads
            more = self.f.read(n - got)
            if not more:
                break
            parts.append(more)
            got += len(more)
        return b"".join(parts)


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
    t = off + (buf[off] & 0x0F) * 4
    ports = follow.port_set
    if (buf[t] << 8 | buf[t + 1]) in ports or (buf[t + 2] << 8 | buf[t + 3]) in ports:
        return False
    if buf[t + 13] & SYN:
        return False
    p = t + (buf[t + 12] >> 4) * 4
    return buf[p:p + 4] not in _FIRST_WORDS


_FIRST_WORDS = {b"USR ", b"ANS ", b"VER "}


def _iter_pcap(r: _Reader, magic: bytes, stats: CaptureStats, follow=None) -> Iterator[Segment]:
    endian, unit, name = _PCAP_MAGICS[magic]
    stats.format = name
    hdr = r.read(20)
    if len(hdr) < 20:
        stats.truncated = "file ends inside the pcap file header"
        return
    linktype = struct.unpack(endian + "HHiIII", hdr)[5] & 0x0FFFFFFF
    rec = struct.Struct(endian + "IIII")
    frame = 0
    while True:
        h = r.read(16)
        if not h:
            return
        if len(h) < 16:
            stats.truncated = f"file ends inside the header of record {frame + 1} (byte {r.offset})"
            return
        sec, frac, incl, orig = rec.unpack(h)
        if incl > MAX_RECORD:
            stats.truncated = (f"record {frame + 1} claims {incl} bytes (damaged length field); "
                               f"reading stopped at byte {r.offset - 16}")
            return
        data = r.read(incl)
        frame += 1
        stats.packets += 1
        stats.position = r.offset
        stats.bytes += len(data)
        if len(data) < incl:
            stats.truncated = (f"file ends inside record {frame} "
                               f"({len(data)} of {incl} bytes present)")
            seg = parse_frame(linktype, data, sec + frac * unit, stats, frame)
            if seg is not None:
                yield seg
            return
        if follow is not None and _irrelevant(linktype, data, follow):
            stats.skipped += 1
            continue
        seg = parse_frame(linktype, data, sec + frac * unit, stats, frame)
        if seg is not None:
            yield seg


def _iter_pcapng(r: _Reader, stats: CaptureStats) -> Iterator[Segment]:
    stats.format = "pcapng"
    endian = "<"
    interfaces: list[tuple[int, float]] = []     # (linktype, seconds per tick)
    frame = 0
    first = True
    while True:
        head = r.read(8)
        if not head:
            return
        if len(head) < 8:
            stats.truncated = f"file ends inside a block header (byte {r.offset})"
            return
        if head[:4] == _PCAPNG_SHB:
            bom = r.read(4)
            if len(bom) < 4:
                stats.truncated = "file ends inside a section header"
                return
            endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            interfaces = []
            btype, blen = struct.unpack(endian + "II", head)
            body = bom + r.read(blen - 12) if blen >= 12 else b""
        else:
            btype, blen = struct.unpack(endian + "II", head)
            if blen < 12 or blen % 4 or blen > MAX_RECORD:
                stats.truncated = (f"block at byte {r.offset - 8} has an impossible length "
                                   f"{blen}; reading stopped")
                return
            body = r.read(blen - 8)
        stats.position = r.offset
        if first and btype != 0x0A0D0D0A:
            raise MsnsniffError("not a pcapng file: it does not start with a section header")
        first = False
        if len(body) < blen - 8:
            stats.truncated = f"file ends inside a block ({len(body) + 8} of {blen} bytes present)"
            if btype == 6 and len(body) >= 20:
                frame += 1
                stats.packets += 1
            return
        body = body[:-4]            # trailing copy of the block length
        if btype == 1 and len(body) >= 8:            # interface description
            lt = struct.unpack_from(endian + "H", body)[0]
            unit = 1e-6
            opt = 8
            while opt + 4 <= len(body):
                code, olen = struct.unpack_from(endian + "HH", body, opt)
                if code == 0:
                    break
                if code == 9 and olen >= 1:            # if_tsresol
                    v = body[opt + 4]
                    unit = 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -v
                opt += 4 + ((olen + 3) & ~3)
            interfaces.append((lt, unit))
        elif btype in (6, 2) and len(body) >= 20:       # enhanced / obsolete packet
            if btype == 6:
                iface, hi, lo, cap, orig = struct.unpack_from(endian + "IIIII", body)
            else:
                iface, _drops, hi, lo, cap, orig = struct.unpack_from(endian + "HHIIII", body)
            frame += 1
            stats.packets += 1
            data = body[20:20 + cap]
            stats.bytes += len(data)
            if iface >= len(interfaces):
                stats.bad_headers += 1
                continue
            lt, unit = interfaces[iface]
            ticks = (hi << 32) | lo
            if unit < 1e-6:
                # finer than µs: cut to µs as libpcap does, so both readers agree
                sec, rest = divmod(ticks, round(1 / unit))
                ts = sec + (rest * 1000000 // round(1 / unit)) * 1e-6
            else:
                ts = ticks * unit
            seg = parse_frame(lt, data, ts, stats, frame)
            if seg is not None:
                yield seg
        elif btype == 3 and len(body) >= 4:              # simple packet
            frame += 1
            stats.packets += 1
            data = body[4:]
            stats.bytes += len(data)
            if not interfaces:
                stats.bad_headers += 1
                continue
            seg = parse_frame(interfaces[0][0], data, 0.0, stats, frame)
            if seg is not None:
                yield seg
        # other blocks (statistics, name resolution, custom) carry no packets


def _open(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb", buffering=1 << 20)
    except IsADirectoryError:
        raise MsnsniffError(f"{path}: is a directory, not a capture file") from None
    except FileNotFoundError:
        raise MsnsniffError(f"{path}: no such file") from None
    except PermissionError:
        raise MsnsniffError(f"{path}: permission denied") from None
    except OSError as e:
        raise MsnsniffError(f"{path}: cannot open: {e.strerror or e}") from None


def _libpcap():
    """pcapy-ng (libpcap) when installed and not disabled (MSNSNIFF_READER=python)."""
    import os
    if os.environ.get("MSNSNIFF_READER", "auto") == "python":
        return None
    try:
        import pcapy
    except ImportError:
        return None
    return pcapy


def _iter_libpcap(pcapy, handle, stats: CaptureStats, follow) -> Iterator[Segment]:
    """libpcap reads the file and applies the follow filter in C; only packets that can
    matter reach Python.  The filter is re-applied as soon as following widens, before
    the next packet is read, so nothing of a newly followed connection is missed."""
    stats.reader = "libpcap"
    linktype = handle.datalink()
    import os
    try:
        fd = handle.getfd()
    except Exception:  # noqa: BLE001 - progress is optional
        fd = None
    applied = -1
    frame = 0
    while True:
        if follow.version != applied:
            handle.setfilter(follow.bpf(vlan=linktype == 1))
            applied = follow.version
        try:
            hdr, data = handle.next()
        except pcapy.PcapError as e:
            stats.truncated = f"{e} (after {frame} matching packets)"
            return
        if hdr is None:
            return
        frame += 1
        stats.packets += 1
        stats.bytes += len(data)
        if fd is not None and not frame & 255:
            stats.position = os.lseek(fd, 0, os.SEEK_CUR)
        sec, usec = hdr.getts()
        seg = parse_frame(linktype, data, sec + usec * 1e-6, stats, frame)
        if seg is not None:
            yield seg


def read_segments(path: str, stats: CaptureStats | None = None, follow=None) -> Iterator[Segment]:
    """Stream the TCP segments of a pcap/pcapng file (``-`` = stdin).

    With ``follow`` (follow.Follow), packets that cannot matter are skipped as early as
    possible: by libpcap's BPF when pcapy-ng is installed, else by a cheap check of a few
    header bytes.  Raises MsnsniffError (one line) when the file cannot be opened or is
    not a capture; damage inside a readable capture is recorded in ``stats`` instead.
    """
    stats = stats if stats is not None else CaptureStats()
    f = _open(path)
    try:
        r = _Reader(f)
        magic = r.read(4)
        name = "standard input" if path == "-" else path
        if len(magic) < 4:
            raise MsnsniffError(f"{name}: empty or too short to be a capture file")
        fast = _libpcap() if follow is not None and path != "-" else None
        # nanosecond pcap stays in Python: libpcap would round the times to µs; so does a
        # pcap whose header claims a small snaplen: libpcap cuts every record to it, even
        # records that are longer (such headers are often wrong)
        if fast is not None and magic in _PCAP_MAGICS:
            head = f.peek(20)[:20]          # the rest of the file header, not consumed
            snaplen = (struct.unpack_from(_PCAP_MAGICS[magic][0] + "I", head, 12)[0]
                       if len(head) >= 16 else 0)
            if snaplen < 65535:
                fast = None
        if fast is not None and (magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4")
                                 or magic == _PCAPNG_SHB):
            try:
                handle = fast.open_offline(path)
            except fast.PcapError:
                handle = None               # e.g. mixed link types: the Python reader copes
            if handle is not None:
                stats.format = _PCAP_MAGICS[magic][2] if magic in _PCAP_MAGICS else "pcapng"
                yield from _iter_libpcap(fast, handle, stats, follow)
                return
        if magic in _PCAP_MAGICS:
            yield from _iter_pcap(r, magic, stats, follow)
        elif magic == _PCAPNG_SHB:
            r.prefix, r.offset = magic, 0
            yield from _iter_pcapng(r, stats)
        else:
            raise MsnsniffError(f"{name}: not a pcap or pcapng capture file "
                                f"(starts with {magic.hex()})")
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def file_size(path: str) -> int | None:
    """Size in bytes for progress reporting; None for stdin or unknown."""
    if path == "-":
        return None
    try:
        import os
        return os.path.getsize(path)
    except OSError:
        return None
