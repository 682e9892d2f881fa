"""Capture input: pcap / pcapng files (or stdin) -> Segment records.

This is the only module that reads capture files: libpcap (pcapy-ng) with a BPF filter
when it is installed, else its own streaming pcap/pcapng reader; packet headers are
parsed by packet.py.  Scapy's full dissection runs at ~9k packets/s here (bench/
RESULTS.md): it is not used for files.

Invariants:
- streamed: one record in memory at a time, never the whole file;
- nothing silently dropped: every packet is counted, and packets that are not TCP,
  IP fragments, damaged headers or a file cut inside a record are reported in
  ``CaptureStats`` (the CLI prints them, the analysis lists them as anomalies).
"""

from __future__ import annotations

import lzma
import struct
import sys
import zlib
from typing import BinaryIO, Iterator

from ..errors import MsnsniffError

# Segment, CaptureStats and the flag bits are re-exported: they are the reader's output
from .packet import ACK, FIN, PSH, RST, SYN, CaptureStats, Segment, _irrelevant, parse_frame  # noqa: F401

# A record longer than this is treated as a damaged length field (real link MTUs,
# even with TSO/GRO on loopback, stay far below; tcpdump's default snaplen is 262144).
MAX_RECORD = 262144 * 4
# A pcapng block may be longer (a name resolution or custom block): libpcap reads
# blocks up to 16 MiB, and so does the Python reader, one block in memory at a time.
MAX_BLOCK = 16 * 1024 * 1024
LINKTYPES = {0, 1, 12, 14, 101, 108, 113, 276}   # what parse_frame decodes
MAX_TS = 253402300799.0         # 9999-12-31T23:59:59Z: the last time ISO 8601 text holds


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


def pcapng_time(ticks: int, unit: float, tsoffset: int) -> float:
    """An enhanced packet block's time in seconds (the compiled core computes the same,
    and calls this for units its 64-bit arithmetic cannot hold)."""
    if unit < 1e-6:
        # finer than µs: cut to µs as libpcap does, so both readers agree
        sec, rest = divmod(ticks, round(1 / unit))
        ts = sec + (rest * 1000000 // round(1 / unit)) * 1e-6
    else:
        ts = ticks * unit
    return ts + tsoffset            # (seconds the interface's clock was off, as libpcap)


def _iter_pcapng(r: _Reader, stats: CaptureStats, follow=None) -> Iterator[Segment]:
    stats.format = "pcapng"
    endian = "<"
    interfaces: list[tuple] = []     # (linktype, seconds per tick, if_tsoffset seconds)
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
            if blen < 28 or blen % 4 or blen > MAX_BLOCK:
                # (a claimed length was read whole before: 2 GB from a small gzip)
                stats.truncated = (f"section header at byte {r.offset - 12} has an impossible "
                                   f"length {blen}; reading stopped")
                return
            body = bom + r.read(blen - 12) if blen >= 12 else b""
        else:
            btype, blen = struct.unpack(endian + "II", head)
            if blen < 12 or blen % 4 or blen > MAX_BLOCK:
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
            tsoffset = 0
            opt = 8
            while opt + 4 <= len(body):
                code, olen = struct.unpack_from(endian + "HH", body, opt)
                if code == 0:
                    break
                if code == 9 and olen >= 1 and opt + 4 < len(body):   # if_tsresol
                    v = body[opt + 4]
                    unit = 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -v
                elif code == 14 and olen == 8 and opt + 12 <= len(body):   # if_tsoffset
                    tsoffset = struct.unpack_from(endian + "q", body, opt + 4)[0]
                opt += 4 + ((olen + 3) & ~3)
            interfaces.append((lt, unit, tsoffset))
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
            lt, unit, tsoffset = interfaces[iface]
            ts = pcapng_time((hi << 32) | lo, unit, tsoffset)
            if ts > MAX_TS or ts < 0:
                # 2^63 ticks and the like: no time a capture can hold; counted as damage
                stats.bad_times += 1
                ts = MAX_TS
            if follow is not None and _irrelevant(lt, data, follow):
                stats.skipped += 1
                continue
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
            if follow is not None and _irrelevant(interfaces[0][0], data, follow):
                stats.skipped += 1
                continue
            seg = parse_frame(interfaces[0][0], data, 0.0, stats, frame)
            if seg is not None:
                yield seg
        # other blocks (statistics, name resolution, custom) carry no packets


def _open(path: str) -> BinaryIO:
    if path == "-":
        if sys.stdin is None or getattr(sys.stdin, "buffer", None) is None:
            raise MsnsniffError("standard input is closed: nothing to read")
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
    """pcapy-ng (libpcap) when installed and not disabled (MSNSNIFF_READER=python;
    =libpcap asks for it by name, which also keeps the compiled core out: core/)."""
    import os
    if os.environ.get("MSNSNIFF_READER", "auto") == "python":
        return None
    try:
        import pcapy
    except ImportError:
        return None
    return pcapy


def _mixed_byte_order(path: str) -> bool:
    """Whether a pcapng file holds a section in the other byte order than its first:
    valid pcapng that libpcap refuses mid-file ("block size … > maximum"), so such a file
    goes to the Python reader.  One memchr-speed scan for the section magic (about 0.2 s
    per GB from the page cache); a false hit inside packet data only costs speed."""
    import mmap
    boms = (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d")
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            first = m[8:12]
            other = boms[1] if first == boms[0] else boms[0]
            i = m.find(_PCAPNG_SHB, 4)
            while i != -1:
                if m[i + 8:i + 12] == other:
                    return True
                i = m.find(_PCAPNG_SHB, i + 1)
    except (OSError, ValueError):
        return False
    return False


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
        ts = sec + usec * 1e-6
        if not 0 <= ts <= MAX_TS:       # (pcapng ticks of 2^63 and the like)
            stats.bad_times += 1
            ts = MAX_TS
        seg = parse_frame(linktype, data, ts, stats, frame)
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
    f = raw = _open(path)
    try:
        f, compression = _decompressing(f)
        r = _Reader(f)
        magic = r.read(4)
        name = "standard input" if path == "-" else path
        if len(magic) < 4:
            raise MsnsniffError(f"{name}: empty or too short to be a capture file")
        # libpcap opens the file itself: only a regular file can be read twice (a FIFO
        # would be split between two readers)
        fast = (_libpcap() if follow is not None and path != "-" and not compression
                and _regular(path) else None)
        # nanosecond pcap stays in Python: libpcap would round the times to µs; so does a
        # pcap whose header claims a small snaplen: libpcap cuts every record to it, even
        # records that are longer (such headers are often wrong)
        if fast is not None and magic in _PCAP_MAGICS:
            head = f.peek(20)[:20]          # the rest of the file header, not consumed
            snaplen = (struct.unpack_from(_PCAP_MAGICS[magic][0] + "I", head, 12)[0]
                       if len(head) >= 16 else 0)
            if snaplen < 65535:
                fast = None
        if fast is not None and magic == _PCAPNG_SHB and _mixed_byte_order(path):
            fast = None
        if fast is not None and (magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4")
                                 or magic == _PCAPNG_SHB):
            try:
                handle = fast.open_offline(path)
            except fast.PcapError:
                handle = None               # e.g. mixed link types: the Python reader copes
            if handle is not None and handle.datalink() not in LINKTYPES:
                # a link type the BPF cannot select on (802.11, …): libpcap would drop
                # every packet silently; the Python reader counts and reports them
                handle = None
            if handle is not None:
                stats.format = _PCAP_MAGICS[magic][2] if magic in _PCAP_MAGICS else "pcapng"
                yield from _iter_libpcap(fast, handle, stats, follow)
                return
        if magic in _PCAP_MAGICS:
            yield from _iter_pcap(r, magic, stats, follow)
            if compression:
                stats.format += f" ({compression})"
        elif magic == _PCAPNG_SHB:
            r.prefix, r.offset = magic, 0
            yield from _iter_pcapng(r, stats, follow)
            if compression:
                stats.format += f" ({compression})"
        else:
            raise MsnsniffError(f"{name}: not a pcap or pcapng capture file "
                                f"(starts with {magic.hex()})")
    except STREAM_ERRORS as e:
        if not compression:
            raise
        # a damaged or cut compressed file: what was read is kept, the damage reported
        stats.truncated = f"{compression} stream broken: {e}"
        if stats.format and compression not in stats.format:
            stats.format += f" ({compression})"
    finally:
        if f is not raw:
            f.close()
        if raw is not sys.stdin.buffer:
            raw.close()


# what a damaged compressed stream raises (zlib.error and LZMAError are no OSError):
# the capture is then decoded as far as it goes and the damage reported
STREAM_ERRORS = (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError)

# gzip, bzip2, xz, zstd and lz4 captures are read as tshark reads them (by magic, stdin included)
_COMPRESSED = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"),
               (b"\x28\xb5\x2f\xfd", "zstd"), (b"\x04\x22\x4d\x18", "lz4"))


def _decompressing(f):
    """(stream of the capture itself, compression name or None)."""
    try:
        head = f.peek(6)[:6]
    except (AttributeError, OSError):
        return f, None
    for magic, name in _COMPRESSED:
        if head.startswith(magic):
            if name == "gzip":
                import gzip
                return gzip.GzipFile(fileobj=f, mode="rb"), name
            if name == "bzip2":
                import bz2
                return bz2.BZ2File(f, "rb"), name
            import io

            from ..config import DEFAULT_LIMITS
            if name in ("zstd", "lz4"):
                from .decompress import open_lz4, open_zstd
                return (open_zstd(f, DEFAULT_LIMITS.max_xz_memory) if name == "zstd"
                        else open_lz4(f)), name
            from .xzbounded import BoundedXz
            return io.BufferedReader(BoundedXz(f, DEFAULT_LIMITS.max_xz_memory)), name
    return f, None


def _regular(path: str) -> bool:
    import os
    import stat
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def file_provenance(path: str) -> dict:
    """Size and sha256 of a capture file, for the chain of custody (None for standard
    input or anything that is not a regular file: it cannot be read twice)."""
    import hashlib
    import os
    import stat
    out = {"size": None, "sha256": None}
    if path == "-":
        return out
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return out
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return out
    return {"size": st.st_size, "sha256": h.hexdigest()}


def file_size(path: str) -> int | None:
    """Size in bytes for progress reporting; None for stdin or unknown."""
    if path == "-":
        return None
    try:
        import os
        return os.path.getsize(path)
    except OSError:
        return None
