"""Copy a pcap or pcapng file record by record, letting a function change each packet's
bytes in place (``msnsniff anonymise``'s writing pass).

The container is copied as it is (file header, section and interface blocks, record
headers, timestamps, lengths): only packet bytes change, never their length, so every
record and block keeps its size.  A packet the function refuses is left out (its record
or block is not written).  Streamed: one record in memory at a time.  A compressed
capture is written uncompressed.
"""

from __future__ import annotations

import struct
from typing import BinaryIO, Callable

from ..errors import MsnsniffError
from .files import (
    _PCAP_MAGICS,
    _PCAPNG_SHB,
    MAX_BLOCK,
    MAX_RECORD,
    STREAM_ERRORS,
    _decompressing,
    _Reader,
)

# (linktype, frame bytes) -> keep?  The bytearray is changed in place.
Patcher = Callable[[int, bytearray], bool]


class CopyStats:
    def __init__(self):
        self.packets = 0
        self.written = 0
        self.left_out = 0
        self.truncated: str | None = None


def copy_capture(src: BinaryIO, out: BinaryIO, patch: Patcher, scrub: bool = False) -> CopyStats:
    """``scrub``: pcapng metadata that names the capturing machine is overwritten too."""
    stats = CopyStats()
    f, compression = _decompressing(src)
    r = _Reader(f)
    try:
        magic = r.read(4)
        if magic in _PCAP_MAGICS:
            _copy_pcap(r, magic, out, patch, stats)
        elif magic == _PCAPNG_SHB:
            _copy_pcapng(r, magic, out, patch, stats, scrub)
        else:
            raise MsnsniffError("not a pcap or pcapng capture file")
    except STREAM_ERRORS as e:
        if not compression:
            raise
        # a damaged compressed file: what was read is copied, the damage said (as read does)
        stats.truncated = f"{compression} stream broken: {e}"
    return stats


def _copy_pcap(r, magic, out, patch, stats):
    endian = _PCAP_MAGICS[magic][0]
    hdr = r.read(20)
    if len(hdr) < 20:
        raise MsnsniffError("the file ends inside the pcap file header")
    out.write(magic + hdr)
    linktype = struct.unpack(endian + "HHiIII", hdr)[5] & 0x0FFFFFFF
    rec = struct.Struct(endian + "IIII")
    while True:
        h = r.read(16)
        if len(h) < 16:
            if h:
                stats.truncated = "the file ends inside a record header"
            return
        incl = rec.unpack(h)[2]
        if incl > MAX_RECORD:
            stats.truncated = f"a record claims {incl} bytes; copying stopped there"
            return
        data = bytearray(r.read(incl))
        stats.packets += 1
        if len(data) < incl:
            stats.truncated = "the file ends inside a record"
        if patch(linktype, data):
            # a cut last record is written whole-headed as it was read: readers report it
            out.write(h + data)
            stats.written += 1
        else:
            stats.left_out += 1
        if stats.truncated:
            return


# pcapng options kept by --scrub (timing and counters); every other option's value
# (comments, hardware, OS, application, interface names and addresses, filters, a
# packet's hash) is overwritten with "x" of the same length
_KEEP_OPTIONS = {1: {8, 9, 10, 13, 14}, 6: {2, 4, 5, 6, 7}, 5: {2, 3, 4, 5, 6, 7, 8}}


def _scrub_options(block: bytearray, btype: int, endian: str):
    if btype == 0x0A0D0D0A:
        start = 24
    elif btype == 1:
        start = 16
    elif btype == 6 and len(block) >= 28:
        cap = struct.unpack_from(endian + "I", block, 20)[0]
        start = 28 + ((cap + 3) & ~3)
    elif btype == 5:
        start = 20
    else:
        return
    keep = _KEEP_OPTIONS.get(btype, set())
    pos, end = start, len(block) - 4
    while pos + 4 <= end:
        code, olen = struct.unpack_from(endian + "HH", block, pos)
        if code == 0:
            break
        if pos + 4 + olen > end:
            break                               # a damaged option: left to the readers
        if code not in keep:
            block[pos + 4:pos + 4 + olen] = b"x" * olen
        pos += 4 + ((olen + 3) & ~3)


def _copy_pcapng(r, magic, out, patch, stats, scrub=False):
    endian = "<"
    links: list[int] = []
    head = magic + r.read(4)
    while True:
        if len(head) < 8:
            if head:
                stats.truncated = "the file ends inside a block header"
            return
        if head[:4] == _PCAPNG_SHB:
            bom = r.read(4)
            endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            links = []
            blen = struct.unpack(endian + "I", head[4:8])[0]
            rest = bom + r.read(blen - 12) if 28 <= blen <= MAX_BLOCK else b""
            btype = 0x0A0D0D0A
        else:
            btype, blen = struct.unpack(endian + "II", head)
            rest = r.read(blen - 8) if 12 <= blen <= MAX_BLOCK else b""
        if not rest or len(rest) < blen - 8:
            stats.truncated = "a block is cut or has an impossible length; copying stopped"
            return
        block = bytearray(head + rest)
        keep = True
        if scrub:
            _scrub_options(block, btype, endian)
        if btype == 1:
            links.append(struct.unpack_from(endian + "H", block, 8)[0])
        elif btype in (6, 2) and len(block) >= 28:
            stats.packets += 1
            if btype == 6:
                iface, cap = struct.unpack_from(endian + "I", block, 8)[0], \
                    struct.unpack_from(endian + "I", block, 20)[0]
            else:
                iface = struct.unpack_from(endian + "H", block, 8)[0]
                cap = struct.unpack_from(endian + "I", block, 20)[0]
            data = bytearray(block[28:28 + cap])
            keep = iface < len(links) and patch(links[iface], data)
            block[28:28 + len(data)] = data
        elif btype == 3 and len(block) >= 16:
            stats.packets += 1
            data = bytearray(block[12:-4])
            keep = bool(links) and patch(links[0], data)
            block[12:12 + len(data)] = data
        elif btype == 4:
            keep = False            # name resolution: host names are the capture owner's
        if keep:
            out.write(block)
            stats.written += btype in (2, 3, 6)
        elif btype in (2, 3, 6):
            stats.left_out += 1
        head = r.read(8)
