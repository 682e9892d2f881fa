"""Which packets can matter: the set the pipeline follows, as a BPF expression (for
libpcap on files and for the kernel on live sockets) and as a cheap Python check (for
the pure-Python file reader).  Pure data; no I/O.

A packet can matter when it is TCP and
- one of its ports is 1863, a --port, or the server port of an endpoint the traffic
  announced (XFR NS/SB, RNG, an accepted file-transfer invitation) or of a connection
  recognised by its content;
- it is a SYN (a flow recognised later by content then has its handshake);
- its payload starts like the first client line of a switchboard or MSNFTP connection
  on any port (`USR `, `ANS `, `VER `), or like an HTTP request (`POST`: the HTTP
  gateway, reference §9) — a gateway connection is then followed by its four-tuple
  (``add_connection``), not by port, so the rest of port 80 stays out.
Following is only ever widened, and ``version`` tells readers to re-apply the filter.
"""

from __future__ import annotations

from ..protocol.tables import OPENING_WORDS

# the first words of a connection that may be MSN on any port (protocol/tables.py
# says which openings they begin)
FIRST_WORDS = OPENING_WORDS
# Followed endpoints are filtered by port only: a handful of ports (1864, 6891, …)
# covers any number of switchboards and transfers, and libpcap's optimiser takes
# ~0.1 s on an expression with a hundred host clauses.  Past this many extra ports the
# expression becomes plain "tcp" (selection then happens in Python).
MAX_PORTS_IN_BPF = 40


class Follow:
    def __init__(self, ports=(), user_bpf: str | None = None):
        self.ports = {1863, *ports}           # the configured ports
        self.extra: list[int] = []            # ports of endpoints followed since
        self.port_set = set(self.ports)       # both, for the Python check
        self.conns: list[tuple] = []          # HTTP gateway connections: (ip, port, ip, port)
        self.conn_pairs: set = set()          # their port pairs, both ways (Python check)
        self._conn_keys: set = set()          # (conns as a set: a membership test per add)
        self.user_bpf = user_bpf
        self.version = 0

    def add(self, ip: str | None, port: int):
        """Follow an endpoint (the pipeline still selects by host; filters use the port).
        Only a real port reaches the filter: libpcap refuses to compile anything else."""
        if port in self.port_set or type(port) is not int or not 0 < port < 65536:
            return
        self.extra.append(port)
        self.port_set.add(port)
        self.version += 1

    def add_connection(self, client: tuple, server: tuple):
        """Follow one TCP connection (an HTTP gateway carrier) by its four-tuple."""
        key = (*client, *server)
        if key in self._conn_keys:
            return
        self._conn_keys.add(key)
        self.conns.append(key)
        self.conn_pairs.update(((client[1], server[1]), (server[1], client[1])))
        self.version += 1

    def base_bpf(self) -> str:
        if self.user_bpf:
            return self.user_bpf
        ports = " or ".join(f"port {p}" for p in sorted(self.ports))
        words = " or ".join(f"tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x{w.hex()}"
                            for w in FIRST_WORDS)
        # A BPF load past the end of a packet rejects the packet outright, whatever the
        # other alternatives say: the payload test must only run on segments that have
        # 4 payload bytes (IPv4 only: libpcap cannot compute the IPv6 payload offset).
        payload4 = "ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2) >= 4"
        # an IPv4 TCP frame shorter than its headers fails every load below and would be
        # dropped unseen: it is passed first, so the Python side counts it as damage
        # (Ethernet 14 + the IP header it announces + 20; a superset on raw-IP links)
        # (and any frame of fewer than 20 bytes: shorter than any link header plus an
        # IP header, damage the Python side reports too)
        short = "len < 20 or (ip and ip[9] = 6 and len < 34 + ((ip[0] & 0xf) << 2))"
        return (f"{short} or (tcp and ({ports} or (tcp[tcpflags] & tcp-syn != 0) "
                f"or (ip and {payload4} and ({words}))))")

    def bpf(self, vlan: bool = False) -> str:
        """The expression; ``vlan`` (Ethernet files) also matches one or two 802.1Q tags:
        libpcap's `vlan` shifts every later offset, so `F or (vlan and F) or (vlan and F)`
        reads untagged, single- and double-tagged frames."""
        clauses = [f"port {p}" for p in self.extra] + [
            f"(host {ci} and host {si} and port {cp} and port {sp})"
            for ci, cp, si, sp in self.conns]
        if not clauses:
            f = self.base_bpf()
        elif len(clauses) > MAX_PORTS_IN_BPF:
            f = "tcp" if not self.user_bpf else f"({self.user_bpf}) or tcp"
        else:
            f = f"({self.base_bpf()}) or (tcp and ({' or '.join(clauses)}))"
        return f"({f}) or (vlan and ({f})) or (vlan and ({f}))" if vlan else f
