"""Live capture: packets from network interfaces -> Segments, for `msnsniff live`.

The only other module (besides files.py) that touches the network stack.  It uses
Linux packet sockets directly (AF_PACKET, SOCK_DGRAM: every interface's packets arrive
as bare IP, like libpcap's "any" device) and Scapy's libpcap binding to compile BPF
filters.  Why not Scapy's sniff()/AsyncSniffer: it cannot listen on all interfaces at
once with one link type, and it cannot swap the kernel filter of a running socket —
which is how we follow switchboards and file transfers on ports announced in the
traffic without flooding the machine (see ``widen``).  Loopback packets are seen twice
by packet sockets (outgoing and incoming); the outgoing copy is dropped, as libpcap does.

Filter trade-off (documented in README): the default kernel filter passes TCP port 1863
(and --port), every SYN (so a later-followed connection has its handshake), and any
TCP segment whose payload starts with `USR `, `ANS ` or `VER ` (the first client line
of a switchboard or MSNFTP connection on any port).  When the traffic announces an
endpoint (XFR/RNG/invitation) or a connection is recognised by content, the filter is
replaced — atomically, no packet lost — by one that also passes that port (follow.py
builds the expressions, shared with the libpcap file reader).  Past
follow.MAX_PORTS_IN_BPF extra ports it falls back to all TCP, selected in process.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import time

from ..errors import MsnsniffError
from .packet import CaptureStats, parse_frame

ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = 35
SO_ATTACH_FILTER = 26
PACKET_OUTGOING = 4
ARPHRD_LOOPBACK = 772
LINKTYPE_RAW = 101


def interfaces() -> list[tuple[int, str]]:
    return sorted(socket.if_nameindex())


def _compile(expr: str):
    """The kernel filter for ``expr`` (a ``sock_fprog``).  libpcap compiles it, through
    pcapy-ng (msnsniff's file reader already needs it); Scapy's compiler, which also
    calls libpcap and gives the same program, is the fallback where pcapy-ng is not
    installed."""
    insns = _compile_insns(expr)
    return _fprog(insns)


_KEEP: list = []    # the instruction arrays the attached programs point to


def _compile_insns(expr: str) -> list[tuple]:
    try:
        import pcapy
    except ImportError:
        pcapy = None
    if pcapy is not None:
        try:
            # DLT_RAW: the packets of a SOCK_DGRAM packet socket start at IP
            return [tuple(i) for i in pcapy.compile(12, 262144, expr, 1, 0).get_bpf()]
        except pcapy.PcapError as e:
            raise MsnsniffError(f"bad BPF expression: {e}") from None
    try:
        from scapy.arch.common import compile_filter
    except ImportError as e:       # no libpcap at all
        raise MsnsniffError(f"cannot compile BPF filters: {e} "
                            "(install libpcap: apt-get install libpcap0.8)") from None
    from scapy.error import Scapy_Exception
    try:
        bp = compile_filter(expr, linktype=12)
    except Scapy_Exception as e:
        raise MsnsniffError(f"bad BPF expression: {e}") from None
    return [(i.code, i.jt, i.jf, i.k) for i in bp.bf_insns[:bp.bf_len]]


def _fprog(insns) -> bytes:
    import ctypes

    class SockFilter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8),
                    ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(SockFilter))]
    arr = (SockFilter * len(insns))(*[SockFilter(*i) for i in insns])
    _KEEP.append(arr)
    del _KEEP[:-4]                  # the kernel copies the program on attach
    return bytes(SockFprog(len(insns), arr))


class _Capturing:
    """What both live back ends do with a captured frame, and how they stop."""

    # (set by each back end's __init__)
    stats: CaptureStats
    writer: PcapWriter | None
    socks: list

    def _take(self, linktype, data, ts, out):
        self.stats.packets += 1
        self.stats.bytes += len(data)
        if self.writer is not None:
            self.writer.write(ts, data)
        seg = parse_frame(linktype, data, ts, self.stats, self.stats.packets)
        if seg is not None:
            out.append(seg)

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class LiveSource(_Capturing):
    """Packet sockets on the chosen interfaces, yielding Segments."""

    def __init__(self, ifaces, follow, write_path: str | None = None):
        self.ifaces = list(ifaces) or ["any"]
        self.follow = follow            # follow.Follow, shared with the pipeline
        self.applied = follow.version
        self.socks: list[socket.socket] = []
        self.stats = CaptureStats(format="live")
        self.truncated = 0
        self.dropped_outgoing = 0
        self.writer = None
        self.write_path = write_path

    # ------------------------------------------------------------ set-up
    def open(self):
        names = {n for _, n in interfaces()}
        for i in self.ifaces:
            if i != "any" and i not in names:
                raise MsnsniffError(f"unknown interface {i!r}; interfaces: "
                                    f"{', '.join(sorted(names))}")
        prog = _compile(self.follow.bpf())
        for i in self.ifaces:
            try:
                s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
            except PermissionError:
                raise MsnsniffError(
                    "no permission to capture packets: run as root, or give Python the "
                    "capability: sudo setcap cap_net_raw,cap_net_admin=eip "
                    f"{os.path.realpath(sys.executable)}") from None
            s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, prog)
            s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            if i != "any":
                s.bind((i, ETH_P_ALL))
            self._drain(s)        # packets queued before the filter was attached
            s.setblocking(False)
            self.socks.append(s)
        if self.write_path:
            self.writer = PcapWriter(self.write_path)

    @staticmethod
    def _drain(s):
        s.setblocking(False)
        try:
            while True:
                s.recv(65536)
        except (BlockingIOError, InterruptedError):
            pass

    def refresh_filter(self):
        """Re-attach the kernel filter if following widened (atomic: no packet lost)."""
        if self.follow.version == self.applied:
            return
        self.applied = self.follow.version
        prog = _compile(self.follow.bpf())
        for s in self.socks:
            s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, prog)

    # ------------------------------------------------------------ packets
    def read(self, timeout: float) -> list:
        """Segments that arrived within ``timeout`` seconds (maybe none)."""
        import select
        out: list = []
        try:
            ready, _, _ = select.select(self.socks, [], [], timeout)
        except InterruptedError:
            return out
        for s in ready:
            for _ in range(256):
                try:
                    data, anc, flags, addr = s.recvmsg(262144, socket.CMSG_SPACE(16))
                except (BlockingIOError, InterruptedError):
                    break
                if addr[2] == PACKET_OUTGOING and addr[3] == ARPHRD_LOOPBACK:
                    self.dropped_outgoing += 1
                    continue
                ts = None
                for lvl, typ, d in anc:
                    if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS and len(d) >= 16:
                        sec, nsec = struct.unpack("qq", d[:16])
                        # kept to the microsecond, computed as the pcap reader does, so
                        # that --write + read gives the very same times
                        usec = (nsec + 500) // 1000
                        sec, usec = (sec + 1, 0) if usec == 1000000 else (sec, usec)
                        ts = sec + usec * 1e-6
                if ts is None:
                    ts = round(time.time(), 6)
                if flags & socket.MSG_TRUNC:
                    self.truncated += 1
                self._take(LINKTYPE_RAW, data, ts, out)
        return out


class PcapWriter:
    """A plain pcap file (LINKTYPE_RAW, µs) of every captured packet, flushed as it
    goes so that an interrupted run still leaves a readable file."""

    def __init__(self, path, linktype=LINKTYPE_RAW):
        try:
            self.f = open(path, "xb")
        except FileExistsError:
            raise MsnsniffError(f"{path}: exists (choose another --write file)") from None
        except OSError as e:
            raise MsnsniffError(f"{path}: cannot write: {e.strerror}") from None
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype))

    def write(self, ts, data):
        sec = int(ts)
        usec = min(999999, int(round((ts - sec) * 1e6)))
        self.f.write(struct.pack("<IIII", sec, usec, len(data), len(data)))
        self.f.write(data)
        self.f.flush()

    def close(self):
        self.f.close()
