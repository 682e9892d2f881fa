"""`live` where Linux packet sockets are missing (macOS, BSD): Scapy's capture sockets
(BPF devices there, packet sockets on Linux) with the same filter and the same
segments as capture/live.py.  Chosen when ``socket.AF_PACKET`` does not exist, or with
``MSNSNIFF_LIVE=scapy`` (how it is tested on Linux).

Re-attaching a widened filter here means reopening the socket, and Scapy compiles
the expression on the way (tens of milliseconds): the data connection of a file
transfer accepted in a chat opens within that time and its first packets were lost
(measured on loopback).  So without --bpf the kernel keeps one fixed filter, all TCP,
and the same cheap check the pure-Python file reader uses (``_irrelevant``) selects
in Python — nothing to swap, nothing lost, at some CPU on a busy link.  With --bpf
the user's expression is honoured and widened by reopening (counted in ``refilters``).
"""

from __future__ import annotations

import time

from ..errors import MsnsniffError
from .live import PcapWriter, _Capturing
from .packet import CaptureStats, _irrelevant


class ScapySource(_Capturing):
    def __init__(self, ifaces, follow, write_path: str | None = None):
        self.ifaces = [i for i in ifaces if i != "any"]
        self.follow = follow
        self.applied = follow.version
        self.fixed = not follow.user_bpf      # see the module note
        self.socks: list = []
        self.stats = CaptureStats(format="live (scapy)")
        self.truncated = 0
        self.dropped_outgoing = 0
        self.refilters = 0
        self.writer = None
        self.write_path = write_path

    def _open_socks(self):
        import logging

        import scapy.arch  # noqa: F401  (sets conf.L2socket for this platform)
        from scapy.config import conf
        from scapy.error import Scapy_Exception
        # Scapy warns when it cannot name an interface's link layer (Linux `lo`): the
        # frames are still Ethernet-framed, which _linktype assumes; keep stderr ours
        logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
        ifaces = self.ifaces or [conf.iface]
        socks = []
        for i in ifaces:
            try:
                # L2socket, not L2listen: on Linux it leaves out our own outgoing copies
                flt = "tcp or (vlan and tcp)" if self.fixed else self.follow.bpf(vlan=True)
                socks.append(conf.L2socket(iface=i, filter=flt))
            except PermissionError:
                raise MsnsniffError("no permission to capture packets: run as root") from None
            except (OSError, Scapy_Exception, ValueError) as e:
                raise MsnsniffError(f"cannot capture on {i}: {e}") from None
        return socks

    def open(self):
        self.socks = self._open_socks()
        if self.write_path:
            self.writer = PcapWriter(self.write_path, linktype=self._linktype(self.socks[0]))

    @staticmethod
    def _linktype(sock) -> int:
        from scapy.config import conf
        return conf.l2types.layer2num.get(sock.LL, 1)

    def refresh_filter(self):
        if self.fixed or self.follow.version == self.applied:
            return
        self.applied = self.follow.version
        old, self.socks = self.socks, self._open_socks()
        for s in old:
            s.close()
        self.refilters += 1

    def read(self, timeout: float) -> list:
        out: list = []
        ready = type(self.socks[0]).select(self.socks, timeout) if self.socks else ()
        for s in ready:
            lt = self._linktype(s)
            for _ in range(256):
                try:
                    _cls, data, ts = s.recv_raw(262144)
                except (BlockingIOError, InterruptedError):
                    break
                if data is None:            # our own outgoing copy (Linux), or nothing
                    if not s.select([s], 0):
                        break
                    continue
                if self.fixed and _irrelevant(lt, data, self.follow):
                    self.stats.skipped += 1
                    if not s.select([s], 0):
                        break
                    continue
                ts = round(ts if ts is not None else time.time(), 6)
                self._take(lt, data, ts, out)
                if not s.select([s], 0):
                    break
        return out
