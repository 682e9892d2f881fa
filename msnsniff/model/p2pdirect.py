"""P2P direct connections in the model (docs/p2p.md): a transrespbody that says
``Listening: true`` names an endpoint; the connection to it is followed and joined to
the call that negotiated it, and its handshake nonce checked against the negotiated one.
Split from p2p.py (the P2P fold), which it is mixed into."""

from __future__ import annotations

from collections import OrderedDict

from ..protocol import p2pdc as DCP
from ..protocol.numbers import net_port
from .host import FoldBase


class DirectFold(FoldBase):
    p2p_listen: OrderedDict         # (ip, port) -> (listener, other, call)
    p2p_direct: OrderedDict         # connection id -> its sides and call

    def _p2p_anomaly(self, ev, kind, detail) -> None:       # (P2PFold's)
        raise NotImplementedError

    def _p2p_direct_answer(self, ev, t, slp):
        """transrespbody: ``Listening: true`` names where the answering peer listens; the
        connection to it is then followed (the pipeline widens the filter) and its bytes
        belong to this call's pair."""
        f = slp["fields"]
        listening = f.get("Listening", "").lower() == "true"
        t["direct_connection"] = "listening" if listening else "refused"
        if not listening:
            return
        t["dc_nonce"] = f.get("Nonce") or f.get("Hashed-Nonce") or t.get("dc_nonce")
        ports = [f.get(k, "") for k in ("IPv4Internal-Port", "IPv4External-Port")]
        addrs = [f.get(k, "") for k in ("IPv4Internal-Addrs", "IPv4External-Addrs")]
        # the invitation row names where the data was to go, as MSNFTP's does
        inv = t["invitation"]
        internal, external = (a.split()[0] if a.split() else None for a in addrs)
        inv["ip_address"] = external or internal
        inv["ip_address_internal"] = internal
        inv["port"] = net_port(ports[0]) or net_port(ports[1])
        for ips, port in zip(addrs, ports):
            if not port.isascii() or not port.isdigit() or len(port) > 5:
                continue
            for ip in ips.split():
                self._remember(self.p2p_listen, (ip, int(port)),
                               (slp["from"], slp["to"], t))

    def on_direct_opened(self, conn, server):
        """A connection to an endpoint a transrespbody announced: its client is the
        peer that did not listen."""
        host, _, port = server.rpartition(":")
        hit = self.p2p_listen.get((host.strip("[]"), int(port))) if port.isdigit() else None
        if hit is None:
            return
        listener, other, t = hit
        self._remember(self.p2p_direct, conn, {"sides": (other, listener), "call": t,
                                               "nonces": []})
        s = self.sessions.get(conn)
        if s is not None:
            # the connection's accounts and the conversation that negotiated it
            s.passport = s.passport or other
            s.owner_from = s.owner_from or "direct-connection negotiation"
            s.linked_ns = t["session"]
            s.participants.setdefault(other, None)
            s.participants.setdefault(listener, None)

    def on_direct_handshake(self, ev):
        dc = self.p2p_direct.get(ev.conn)
        if dc is None or ev.nonce is None:
            return
        t = dc["call"]
        expected = t.get("dc_nonce")
        ok = (DCP.same_guid(ev.nonce, expected) if ev.version == 1
              else DCP.same_guid(DCP.hashed_nonce(ev.nonce), expected)
              or DCP.same_guid(ev.nonce, expected))
        t["dc_nonce_ok"] = ok if t.get("dc_nonce_ok") is not False else False
        if not ok:
            self._p2p_anomaly(ev, "p2p direct", f"handshake nonce {ev.nonce} does not match "
                              f"the negotiated {expected}")
