"""Contact-list commands of the notification server, every dialect (reference §2.2,
§2.3; docs/dialects.md): SYN replies (LSG/LST/BPR/PRP/GTC/BLP), list and group changes
(ADD/ADC/REM/REA, ADG/RMG/REG, SBP) and the MSNP13+ XML lists (ADL/RML/FQY).

Shapes decide where the version is unknown: MSNP10+ LST lines are keyed (``N=``,
``F=``, ``C=``), groups are GUIDs, and list/group replies lost their version number.
A mixin of ``NsDecoder`` (decoder/ns.py); handlers return events and never raise.
"""

from __future__ import annotations

from .. import events as E
from ..protocol.dialects import is_guid, is_syn_timestamp
from ..protocol.numbers import is_num, net_int
from ..protocol.tables import LIST_BIT, url_decode
from ..protocol.xmlpayload import XmlError, parse_ml
from .host import NsBase

LISTS = ("FL", "AL", "BL", "RL", "PL")


def _p(params, i, default=None):
    return params[i] if len(params) > i else default


def _int(s):
    return net_int(s) if s is not None else None


def _group_ids(s: str | None) -> tuple:
    """``1,2`` or ``guid1,guid2`` (empty: none) -> ids as text."""
    return tuple(g for g in (s or "").split(",") if g)


def _keyed(params) -> tuple[dict, list]:
    """MSNP10+ ``N=… F=… C=…`` arguments -> ({N, F, C}, the positional rest)."""
    keys: dict = {}
    i = 0
    while i < len(params) and len(params[i]) > 1 and params[i][1] == "=" and params[i][0] in "NFC":
        keys[params[i][0]] = params[i][2:]
        i += 1
    return keys, list(params[i:])


class NsListsMixin(NsBase):
    # ------------------------------------------------------------ SYN and its lines
    def s_SYN(self, cmd, ts):
        p = cmd.params
        if len(p) >= 3 and is_syn_timestamp(p[1]):
            # MSNP10-12: SYN trid ts1 ts2 contacts groups (timestamps, not a list version)
            self._infer(10)
            stamps = (p[1], p[2])
            if len(p) >= 5:
                self.syn = [_int(p[3]) or 0, _int(p[4]) or 0, 0, 0]
                return [E.ListSync(ts, self.conn, 1, self.syn_request, None, _int(p[3]),
                                   _int(p[4]), stamps)]
            return [E.ListSync(ts, self.conn, 1, self.syn_request, None, None, None, stamps)]
        if len(p) >= 4:
            self.syn = [_int(p[2]) or 0, _int(p[3]) or 0, 0, 0]
            return [E.ListSync(ts, self.conn, 1, self.syn_request, _int(p[1]), _int(p[2]),
                               _int(p[3]))]
        if len(p) >= 2:
            return [E.ListSync(ts, self.conn, 1, self.syn_request, _int(p[1]), None, None)]
        return self._bad(cmd, ts, 1)

    def _setting(self, cmd, ts):
        p = cmd.params
        if len(p) == 1:                                    # inside a SYN reply
            return [E.Setting(ts, self.conn, 1, cmd.verb, p[0], None)]
        if len(p) == 2 and is_num(p[0]):                   # MSNP10+ reply: no version
            return [E.Setting(ts, self.conn, 1, cmd.verb, p[1], None)]
        if len(p) >= 3:
            return [E.Setting(ts, self.conn, 1, cmd.verb, p[2], _int(p[1]))]
        return self._bad(cmd, ts, 1)

    s_GTC = s_BLP = _setting

    def _property(self, cmd, ts, key, value, at_sync):
        if key == "MFN":            # MSNP10+: the account's own friendly name
            return [E.OwnName(ts, self.conn, 1, url_decode(value), at_sync)]
        return [E.Phone(ts, self.conn, 1, None, key, url_decode(value))]

    def s_PRP(self, cmd, ts):
        p = cmd.params
        if len(p) in (1, 2) and not is_num(p[0]):          # inside a SYN reply
            return self._property(cmd, ts, p[0], _p(p, 1, ""), self.syn is not None
                                  or not self.logged_in_named)
        if len(p) >= 2 and is_num(p[0]) and not is_num(p[1]):
            # MSNP10+ reply: PRP trid key value (no list version)
            return self._property(cmd, ts, p[1], _p(p, 2, ""), False)
        if len(p) >= 3:                                    # PRP trid version key value
            return self._property(cmd, ts, p[2], _p(p, 3, ""), False)
        return self._bad(cmd, ts, 1)

    def s_BPR(self, cmd, ts):
        p = cmd.params
        if len(p) in (1, 2) and "@" in p[0]:               # MSNP10+ async, empty value
            return [E.Phone(ts, self.conn, 1, p[0], p[1] if len(p) == 2 else "", "")]
        if len(p) in (1, 2) and not is_num(p[0]):          # inside a SYN: preceding LST
            if self.last_contact is None:
                return self._bad(cmd, ts, 1, "BPR with no preceding LST")
            return [E.Phone(ts, self.conn, 1, self.last_contact, p[0], url_decode(_p(p, 1, "")))]
        if len(p) >= 2 and "@" in p[0]:                    # MSNP10+ async: BPR passport key value
            return [E.Phone(ts, self.conn, 1, p[0], p[1], url_decode(_p(p, 2, "")))]
        if len(p) >= 3:                                    # async: BPR ver passport key value
            return [E.Phone(ts, self.conn, 1, p[1], p[2], url_decode(_p(p, 3, "")))]
        return self._bad(cmd, ts, 1)

    def s_LSG(self, cmd, ts):
        p = cmd.params
        if self.syn:
            self.syn[3] += 1
        if len(p) == 2 or (len(p) >= 2 and is_guid(p[1])):   # MSNP10+: LSG name guid
            self._infer(10)
            return [E.Group(ts, self.conn, 1, p[1], url_decode(p[0]))]
        if len(p) == 3 and is_num(p[0]):                   # MSNP8: LSG gid name 0
            return [E.Group(ts, self.conn, 1, p[0], url_decode(p[1]))]
        if len(p) >= 6 and is_num(p[4]):                   # MSNP7: LSG trid ver i n gid name 0
            return [E.Group(ts, self.conn, 1, p[4], url_decode(p[5]))]
        return self._bad(cmd, ts, 1)

    def s_LST(self, cmd, ts):
        p = cmd.params
        if self.syn:
            self.syn[2] += 1
        if p and p[0].startswith("N="):
            return self._lst_keyed(cmd, ts)
        if len(p) >= 3 and "@" in p[0]:                    # MSNP8 form
            bits = _int(p[2])
            if bits is None:
                return self._bad(cmd, ts, 1, "list bits not a number")
            self.last_contact = p[0]
            return [E.Contact(ts, self.conn, 1, p[0], url_decode(p[1]), bits,
                              _group_ids(_p(p, 3)))]
        if len(p) >= 7 and p[1] in LISTS:                  # MSNP7: LST trid L ver i n pp name [g]
            self.last_contact = p[5]
            return [E.Contact(ts, self.conn, 1, p[5], url_decode(p[6]), LIST_BIT[p[1]],
                              _group_ids(_p(p, 7)))]
        if len(p) >= 5 and p[1] in LISTS:                  # MSNP7 empty list marker
            return []
        return self._bad(cmd, ts, 1)

    def _lst_keyed(self, cmd, ts):
        """MSNP10-12: ``LST N=pp F=name [C=guid] bits [network] [groups]`` (MSNP12 added
        the network field; the groups field may be empty, leaving a trailing space)."""
        self._infer(10)
        keys, rest = _keyed(cmd.params)
        bits = _int(_p(rest, 0))
        if bits is None:
            return self._bad(cmd, ts, 1, "list bits not a number")
        network = None
        groups = ""
        if len(rest) >= 3:                                 # bits network groups
            self._infer(12)
            network, groups = _int(rest[1]), rest[2]
        elif len(rest) == 2:
            if self.dialect.at_least(12) and is_num(rest[1]) and not is_guid(rest[1]):
                network = _int(rest[1])
            else:
                groups = rest[1]
        passport = keys.get("N", "")
        self.last_contact = passport
        return [E.Contact(ts, self.conn, 1, passport, url_decode(keys.get("F", "")) or None,
                          bits, _group_ids(groups), keys.get("C") or None, network)]

    # ------------------------------------------------------------ list changes
    def s_ADD(self, cmd, ts):
        p = cmd.params
        if len(p) < 4:
            return self._bad(cmd, ts, 1)
        return [E.ListChange(ts, self.conn, 1, "ADD", p[1], p[3], url_decode(_p(p, 4, "")),
                             _p(p, 5), _int(p[2]), cmd.trid == 0)]

    def s_ADC(self, cmd, ts):
        """MSNP10+: ``ADC trid FL N=pp F=name C=guid`` (added), ``ADC trid AL N=pp``,
        ``ADC trid FL C=guid group-guid`` (into a group), ``ADC 0 RL N=pp F=name``."""
        self._infer(10)
        p = cmd.params
        if len(p) < 3:
            return self._bad(cmd, ts, 1)
        keys, rest = _keyed(p[2:])
        if not keys:
            return self._bad(cmd, ts, 1, "no N= or C= argument")
        return [E.ListChange(ts, self.conn, 1, "ADC", p[1], keys.get("N"),
                             url_decode(keys["F"]) if keys.get("F") else None, _p(rest, 0),
                             None, cmd.trid == 0, keys.get("C"))]

    def s_REM(self, cmd, ts):
        p = cmd.params
        if len(p) >= 4 and is_num(p[2]):                   # MSNP8: REM trid L ver pp [gid]
            return [E.ListChange(ts, self.conn, 1, "REM", p[1], p[3], None, _p(p, 4),
                                 _int(p[2]), cmd.trid == 0)]
        if len(p) >= 3:                                    # MSNP10+: REM trid L pp|guid [group]
            who = p[2]
            by_guid = is_guid(who)
            return [E.ListChange(ts, self.conn, 1, "REM", p[1], None if by_guid else who,
                                 None, _p(p, 3), None, cmd.trid == 0,
                                 who if by_guid else None)]
        return self._bad(cmd, ts, 1)

    def s_REA(self, cmd, ts):
        p = cmd.params
        if len(p) >= 3 and "@" in p[1]:                    # MSNP10+: REA trid pp name
            return [E.ListChange(ts, self.conn, 1, "REA", None, p[1], url_decode(p[2]), None,
                                 None, False)]
        if len(p) < 4:
            return self._bad(cmd, ts, 1)
        return [E.ListChange(ts, self.conn, 1, "REA", None, p[2], url_decode(p[3]), None,
                             _int(p[1]), False)]

    def s_ADG(self, cmd, ts):
        p = cmd.params
        if len(p) >= 3 and is_guid(p[2]):                  # MSNP10+: ADG trid name guid
            return [E.GroupChange(ts, self.conn, 1, "ADG", p[2], url_decode(p[1]), None)]
        if len(p) < 4:
            return self._bad(cmd, ts, 1)
        return [E.GroupChange(ts, self.conn, 1, "ADG", p[3], url_decode(p[2]), _int(p[1]))]

    def s_RMG(self, cmd, ts):
        p = cmd.params
        if len(p) < 3:
            return self._bad(cmd, ts, 1)
        version = None if is_guid(p[2]) else _int(p[1])   # MSNP10+ sends a constant 1
        return [E.GroupChange(ts, self.conn, 1, "RMG", p[2], None, version)]

    def s_REG(self, cmd, ts):
        p = cmd.params
        if len(p) >= 4 and is_guid(p[3]):                  # MSNP10+: REG trid 1 name guid
            return [E.GroupChange(ts, self.conn, 1, "REG", p[3], url_decode(p[2]), None)]
        if len(p) < 4:
            return self._bad(cmd, ts, 1)
        return [E.GroupChange(ts, self.conn, 1, "REG", p[2], url_decode(p[3]), _int(p[1]))]

    def s_SBP(self, cmd, ts):
        p = cmd.params                                     # SBP trid guid MFN name
        if len(p) >= 4 and p[2] == "MFN":
            return [E.ContactName(ts, self.conn, 1, p[1], url_decode(p[3]))]
        return [E.NsOther(ts, self.conn, 1, "SBP", tuple(p))]

    # ------------------------------------------------------------ MSNP13+ XML lists
    def _ml(self, cmd, ts, d, op):
        self._infer(13)
        try:
            initial, contacts = parse_ml(cmd.payload or b"")
        except XmlError as e:
            return [E.Anomaly(ts, self.conn, d, "malformed payload", f"{cmd.verb}: {e}",
                              cmd.offset, cmd.length)]
        by_server = d == 1
        out: list[E.Event] = []
        for c in contacts:
            if op == "ADL" and initial and not by_server:
                # the client's first ADL is its list (the address book came over SOAP)
                out.append(E.Contact(ts, self.conn, d, c["passport"], c["friendly_name"],
                                     c["list_bits"] or 0, (), None, c["network"], "ADL"))
            else:
                out.append(E.ListChange(ts, self.conn, d, op, None, c["passport"],
                                        c["friendly_name"], None, None, by_server, None,
                                        c["network"], c["list_bits"]))
        return out          # one payload is at most max_payload bytes; the model caps the list

    # the client's ADL/RML change the lists only once the server says OK (an error
    # refuses them): their events wait for the answer (NsDecoder._hold)
    def c_ADL(self, cmd, ts):
        return self._client_ml(cmd, ts, "ADL")

    def c_RML(self, cmd, ts):
        return self._client_ml(cmd, ts, "RML")

    def _client_ml(self, cmd, ts, op):
        evs = self._ml(cmd, ts, 0, op)
        if evs and type(evs[0]) is E.Anomaly:
            return evs
        return self._hold(cmd.trid, op, evs)

    def s_ADL(self, cmd, ts):
        if cmd.payload is None:                            # ADL trid OK
            return (self._answered(cmd.trid, "ADL") or []) + [
                E.Notice(ts, self.conn, 1, "ADL", "list accepted", " ".join(cmd.params))]
        return self._ml(cmd, ts, 1, "ADL")

    def s_RML(self, cmd, ts):
        if cmd.payload is None:
            return (self._answered(cmd.trid, "RML") or []) + [
                E.Notice(ts, self.conn, 1, "RML", "list removal accepted",
                         " ".join(cmd.params))]
        return self._ml(cmd, ts, 1, "RML")

    def _fqy(self, cmd, ts, d):
        try:
            _, contacts = parse_ml(cmd.payload or b"")
        except XmlError as e:
            return [E.Anomaly(ts, self.conn, d, "malformed payload", f"FQY: {e}",
                              cmd.offset, cmd.length)]
        who = ", ".join(f"{c['passport']} (network {c['network']})" if c["network"]
                        else c["passport"] for c in contacts)
        return [E.Notice(ts, self.conn, d, "FQY", "network query", who)]

    def c_FQY(self, cmd, ts):
        return self._fqy(cmd, ts, 0)

    def s_FQY(self, cmd, ts):
        return self._fqy(cmd, ts, 1)
