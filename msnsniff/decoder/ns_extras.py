"""MSNP11+ notification-server commands beside the lists (docs/dialects.md): personal
messages (UUX/UBX), policy and config documents (GCF), SBS, NOT alerts and UUN/UBN
notifications.  A mixin of ``NsDecoder`` (decoder/ns.py); handlers never raise.
"""

from __future__ import annotations

import re

from .. import events as E
from ..protocol.dialects import split_endpoint, split_network
from ..protocol.numbers import is_num
from ..protocol.xmlpayload import PersonalData, XmlError, parse_data
from .host import NsBase

_POLICY_TYPES = re.compile(rb'<Policy type="([A-Za-z0-9_]{1,40})"')


def _p(params, i, default=None):
    return params[i] if len(params) > i else default


class NsExtrasMixin(NsBase):
    def _personal(self, cmd, ts, d, passport, network):
        self._infer(11)
        if not cmd.payload:                    # an empty UBX: no personal data
            data = PersonalData()
        else:
            try:
                data = parse_data(cmd.payload)
            except XmlError as e:
                return [E.Anomaly(ts, self.conn, d, "malformed payload", f"{cmd.verb}: {e}",
                                  cmd.offset, cmd.length)]
        return [E.PersonalMessage(ts, self.conn, d, cmd.verb, passport, network, data)]

    def c_UUX(self, cmd, ts):
        return self._personal(cmd, ts, 0, None, None)

    def s_UUX(self, cmd, ts):
        if not cmd.payload:                    # UUX trid 0: accepted
            return []
        return self._personal(cmd, ts, 1, None, None)

    def s_UBX(self, cmd, ts):
        """``UBX pp len`` (MSNP11-13), ``UBX pp network len`` (14-17), ``UBX n:pp len`` (18)."""
        p = cmd.params
        if not p:
            return self._bad(cmd, ts, 1)
        network, who = split_network(p[0])
        if network is not None:
            self._infer(18)
        elif len(p) >= 3 and is_num(p[1]):
            self._infer(14)
            network = int(p[1]) if len(p[1]) <= 4 else None
        account, _endpoint = split_endpoint(who)
        return self._personal(cmd, ts, 1, account, network)

    def _gcf(self, cmd, ts, d):
        p = cmd.params
        payload = cmd.payload or b""
        name = p[1] if len(p) >= 3 else None          # MSNP11-12: GCF trid Shields.xml len
        kinds = sorted({m.decode() for m in _POLICY_TYPES.findall(payload)})
        what = "policy document" if kinds or name is None else "config file"
        summary = (f"{name}: " if name else "") + (", ".join(kinds) if kinds else
                                                   f"{len(payload)} bytes")
        return [E.Notice(ts, self.conn, d, "GCF", what, summary,
                         {"file": name, "policies": kinds, "bytes": len(payload)})]

    def c_GCF(self, cmd, ts):
        if cmd.payload is None:                # GCF trid Shields.xml (request)
            return [E.Notice(ts, self.conn, 0, "GCF", "config file request",
                             " ".join(cmd.params[1:]))]
        return self._gcf(cmd, ts, 0)

    def s_GCF(self, cmd, ts):
        self._infer(11)
        return self._gcf(cmd, ts, 1)

    def s_SBS(self, cmd, ts):
        self._infer(11)
        return [E.Notice(ts, self.conn, 1, "SBS", "service status (MSNP11+)",
                         " ".join(cmd.params[1:]))]

    def s_NOT(self, cmd, ts):
        payload = cmd.payload or b""
        body = payload[:4000].decode("utf-8", "replace")
        m = re.search(r'siteurl="([^"]{0,200})"', body)
        # the <BODY> is escaped XML; its <Service> says what the notice is about: the
        # address book (ABCHInternal: "your contacts changed, fetch them over SOAP")
        found = re.search(r"(?:<|&lt;)Service(?:>|&gt;)\s*([\w.-]{1,60})", body)
        service = found.group(1) if found else None
        cid = re.search(r"(?:<|&lt;)CID(?:>|&gt;)\s*(-?\d{1,20})", body)
        fields = {"bytes": len(payload), "service": service,
                  "cid": cid.group(1) if cid else None}
        if service == "ABCHInternal":
            return [E.Notice(ts, self.conn, 1, "NOT", "address-book change",
                             f"ABCHInternal (CID {fields['cid']})" if cid else "ABCHInternal",
                             fields)]
        return [E.Notice(ts, self.conn, 1, "NOT", "MSN alert",
                         m.group(1) if m else f"{len(payload)} bytes", fields)]

    # MSNP14+: messages through the notification server, ``UUM trid pp network type len``
    # (client) and ``UBM pp network type len`` (server): to and from a Yahoo contact
    # (network 32), and (MSNP18, network 1) the offline messages a client leaves
    def c_UUM(self, cmd, ts):
        p = cmd.params
        if len(p) < 4:
            return self._bad(cmd, ts, 0)
        self._infer(14)
        network, who = split_network(p[1])
        if network is None and is_num(p[2]) and len(p[2]) <= 4:
            network = int(p[2])
        return [E.Message(ts, self.conn, 0, None, None, None, cmd.trid, cmd.payload or b"",
                          cmd.missing, recipient=split_endpoint(who)[0], network=network,
                          via="UUM")]

    def s_UBM(self, cmd, ts):
        p = cmd.params
        if len(p) < 3:
            return self._bad(cmd, ts, 1)
        self._infer(14)
        network, who = split_network(p[0])
        if network is None and is_num(p[1]) and len(p[1]) <= 4:
            network = int(p[1])
        return [E.Message(ts, self.conn, 1, split_endpoint(who)[0], None, None, None,
                          cmd.payload or b"", cmd.missing, network=network, via="UBM")]

    def _uun(self, cmd, ts, d):
        p = cmd.params
        # UUN trid pp type len (client) / UBN pp type len (server)
        who = _p(p, 1) if cmd.verb == "UUN" else _p(p, 0)
        kind = _p(p, 2) if cmd.verb == "UUN" else _p(p, 1)
        network, who = split_network(who or "")
        return [E.Notice(ts, self.conn, d, cmd.verb, "user notification",
                         f"{who} type {kind} ({len(cmd.payload or b'')} bytes)",
                         {"passport": who, "type": kind})]

    def c_UUN(self, cmd, ts):
        if cmd.payload is None:
            return []
        return self._uun(cmd, ts, 0)

    def s_UBN(self, cmd, ts):
        return self._uun(cmd, ts, 1)

    def s_UUN(self, cmd, ts):                  # UUN trid OK
        return []
