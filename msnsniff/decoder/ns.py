"""Dispatch / notification server decoder (reference §2, §5, §6, §7).

Theory of operation: the NS protocol is request/reply keyed by TrID plus asynchronous
server pushes.  The decoder remembers each client request by TrID (bounded) so a reply
or an error can name the request it answers, and counts the lines of a SYN reply so a
shortfall (truncated capture, lost segments) is reported.  It starts in an UNKNOWN state
when the capture begins mid-session: every handler works from the command alone, so
nothing depends on having seen the login.

Every handler takes a RawCommand and returns events; malformed arguments give an
Anomaly, never an exception.
"""

from __future__ import annotations

from collections import OrderedDict

from .. import events as E
from ..protocol.mime import media_type, parse_fields, split_payload
from ..protocol.tables import ERROR_NAMES, url_decode
from ..protocol.clientid import parse_client_id

MAX_PENDING = 1024
SYN_LINE_VERBS = {"GTC", "BLP", "PRP", "LSG", "LST", "BPR"}


def _int(s):
    return int(s) if s is not None and s.isdigit() else None


def _p(params, i, default=None):
    return params[i] if len(params) > i else default


class NsDecoder:
    def __init__(self, conn: int):
        self.conn = conn
        self.kind = "notification"      # becomes "dispatch" on XFR … NS
        self.pending: OrderedDict = OrderedDict()   # trid -> verb of the client request
        self.syn = None                  # [expected contacts, expected groups, got c, got g]
        self.last_contact = None         # BPR inside a SYN applies to the preceding LST
        self.chg_trids: set = set()
        self.syn_request = None          # list version the client asked to sync from

    # ------------------------------------------------------------ entry points
    def client(self, cmd, ts) -> list:
        if cmd.trid is not None:
            self.pending[cmd.trid] = cmd.verb
            if len(self.pending) > MAX_PENDING:
                self.pending.popitem(last=False)
        h = _CLIENT.get(cmd.verb)
        if h is None:
            return [E.NsOther(ts, self.conn, 0, cmd.verb, tuple(cmd.params))]
        return h(self, cmd, ts)

    def server(self, cmd, ts) -> list:
        verb = cmd.verb
        if self.syn and not (verb in SYN_LINE_VERBS and cmd.trid is None
                             and not (verb == "BPR" and len(cmd.params) > 2)):
            out = self._end_syn(ts)
        else:
            out = None
        h = _SERVER.get(verb)
        if h is not None:
            res = h(self, cmd, ts)
        elif verb.isdigit():
            res = self._error(cmd, ts)
        else:
            res = [E.NsOther(ts, self.conn, 1, verb, tuple(cmd.params))]
        if out:
            out.extend(res)
            return out
        return res

    def close(self, ts) -> list:
        return self._end_syn(ts) if self.syn else []

    def _bad(self, cmd, ts, d, why="unexpected arguments"):
        return [E.Anomaly(ts, self.conn, d, "malformed command",
                          f"{cmd.verb} {' '.join(cmd.params)[:120]}: {why}", cmd.offset, cmd.length)]

    def _request(self, trid):
        return self.pending.get(trid) if trid is not None else None

    # ------------------------------------------------------------ client side
    def c_VER(self, cmd, ts):
        return [E.VersionOffer(ts, self.conn, 0, tuple(p for p in cmd.params[1:]))]

    def c_CVR(self, cmd, ts):
        p = cmd.params
        if len(p) < 7:
            return self._bad(cmd, ts, 0)
        return [E.ClientInfo(ts, self.conn, 0, p[1], p[2], p[3], p[4], p[5], p[6],
                             _p(p, 8, ""))]

    def c_USR(self, cmd, ts):
        p = cmd.params
        if len(p) >= 4 and p[2] == "I":
            return [E.AuthStart(ts, self.conn, 0, p[1], p[3])]
        if len(p) >= 4 and p[2] == "S":
            return [E.AuthTicket(ts, self.conn, 0, p[3])]
        return self._bad(cmd, ts, 0)

    def c_CHG(self, cmd, ts):
        p = cmd.params
        if len(p) < 2:
            return self._bad(cmd, ts, 0)
        self.chg_trids.add(cmd.trid)
        return [E.Presence(ts, self.conn, 0, "CHG", None, p[1], None,
                           parse_client_id(_p(p, 2)))]

    def c_QRY(self, cmd, ts):
        p = cmd.params
        resp = (cmd.payload or b"").decode("ascii", "replace")
        return [E.ChallengeAnswer(ts, self.conn, 0, cmd.trid, _p(p, 1, ""), resp)]

    def c_OUT(self, cmd, ts):
        return [E.Logout(ts, self.conn, 0, None)]

    def c_SYN(self, cmd, ts):
        self.syn_request = _int(_p(cmd.params, 1))      # the reply says what changed
        return []

    def _reply_carries_it(self, cmd, ts):
        return []       # the server's reply (with the new list version) is what counts

    c_ADD = c_REM = c_REA = c_ADG = c_RMG = c_REG = c_GTC = c_BLP = c_PRP = _reply_carries_it
    c_XFR = _reply_carries_it

    def c_MSG(self, cmd, ts):
        return [E.Anomaly(ts, self.conn, 0, "protocol", "client sent MSG to the NS "
                          "(real servers close the connection)", cmd.offset, cmd.length)]

    # ------------------------------------------------------------ server side
    def s_VER(self, cmd, ts):
        chosen = next((p for p in cmd.params[1:] if p.startswith("MSNP")), _p(cmd.params, 1, ""))
        return [E.VersionChosen(ts, self.conn, 1, chosen)]

    def s_CVR(self, cmd, ts):
        p = cmd.params
        return [E.ServerVersionInfo(ts, self.conn, 1, _p(p, 1, ""), _p(p, 3, ""),
                                    _p(p, 4, ""), _p(p, 5, ""))]

    def s_USR(self, cmd, ts):
        p = cmd.params
        if len(p) >= 3 and p[1] == "OK":
            return [E.LoginOk(ts, self.conn, 1, p[2], url_decode(_p(p, 3, "")),
                              _p(p, 4), _p(p, 5))]
        if len(p) >= 4 and p[2] == "S":
            return [E.AuthPolicy(ts, self.conn, 1, p[3])]
        return self._bad(cmd, ts, 1)

    def s_XFR(self, cmd, ts):
        p = cmd.params
        if len(p) >= 3 and p[1] == "NS":
            self.kind = "dispatch"
            return [E.RoleKnown(ts, self.conn, 1, "dispatch"),
                    E.Redirect(ts, self.conn, 1, p[2], cmd.trid == 0)]
        if len(p) >= 5 and p[1] == "SB":
            return [E.SwitchboardGranted(ts, self.conn, 1, p[2], p[4])]
        return self._bad(cmd, ts, 1)

    def s_SYN(self, cmd, ts):
        p = cmd.params
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
        if len(p) >= 3:
            return [E.Setting(ts, self.conn, 1, cmd.verb, p[2], _int(p[1]))]
        return self._bad(cmd, ts, 1)

    s_GTC = s_BLP = _setting

    def s_PRP(self, cmd, ts):
        p = cmd.params
        if len(p) in (1, 2) and not p[0].isdigit():        # inside a SYN reply
            return [E.Phone(ts, self.conn, 1, None, p[0], url_decode(_p(p, 1, "")))]
        if len(p) >= 3:
            return [E.Phone(ts, self.conn, 1, None, p[2], url_decode(_p(p, 3, "")))]
        return self._bad(cmd, ts, 1)

    def s_BPR(self, cmd, ts):
        p = cmd.params
        if len(p) in (1, 2) and not p[0].isdigit():        # inside a SYN: preceding LST
            if self.last_contact is None:
                return self._bad(cmd, ts, 1, "BPR with no preceding LST")
            return [E.Phone(ts, self.conn, 1, self.last_contact, p[0], url_decode(_p(p, 1, "")))]
        if len(p) >= 3:                                    # async: BPR ver passport key value
            return [E.Phone(ts, self.conn, 1, p[1], p[2], url_decode(_p(p, 3, "")))]
        return self._bad(cmd, ts, 1)

    def s_LSG(self, cmd, ts):
        p = cmd.params
        if self.syn:
            self.syn[3] += 1
        if len(p) == 3 and p[0].isdigit():
            return [E.Group(ts, self.conn, 1, int(p[0]), url_decode(p[1]))]
        if len(p) >= 6 and p[4].isdigit():                 # MSNP7: LSG trid ver i n gid name 0
            return [E.Group(ts, self.conn, 1, int(p[4]), url_decode(p[5]))]
        return self._bad(cmd, ts, 1)

    def s_LST(self, cmd, ts):
        p = cmd.params
        if self.syn:
            self.syn[2] += 1
        if len(p) >= 3 and "@" in p[0]:                    # MSNP8 form
            bits = _int(p[2])
            if bits is None:
                return self._bad(cmd, ts, 1, "list bits not a number")
            groups = tuple(int(g) for g in _p(p, 3, "").split(",") if g.isdigit())
            self.last_contact = p[0]
            return [E.Contact(ts, self.conn, 1, p[0], url_decode(p[1]), bits, groups)]
        if len(p) >= 7 and p[1] in ("FL", "AL", "BL", "RL"):   # MSNP7: LST trid L ver i n pp name [g]
            from ..protocol.tables import LIST_BIT
            groups = tuple(int(g) for g in _p(p, 7, "").split(",") if g.isdigit())
            self.last_contact = p[5]
            return [E.Contact(ts, self.conn, 1, p[5], url_decode(p[6]), LIST_BIT[p[1]], groups)]
        if len(p) >= 5 and p[1] in ("FL", "AL", "BL", "RL"):   # MSNP7 empty list marker
            return []
        return self._bad(cmd, ts, 1)

    def s_ADD(self, cmd, ts):
        p = cmd.params
        if len(p) < 4:
            return self._bad(cmd, ts, 1)
        return [E.ListChange(ts, self.conn, 1, "ADD", p[1], p[3], url_decode(_p(p, 4, "")),
                             _int(_p(p, 5)), _int(p[2]), cmd.trid == 0)]

    def s_REM(self, cmd, ts):
        p = cmd.params
        if len(p) < 4:
            return self._bad(cmd, ts, 1)
        return [E.ListChange(ts, self.conn, 1, "REM", p[1], p[3], None, _int(_p(p, 4)),
                             _int(p[2]), cmd.trid == 0)]

    def s_REA(self, cmd, ts):
        p = cmd.params
        if len(p) < 4:
            return self._bad(cmd, ts, 1)
        return [E.ListChange(ts, self.conn, 1, "REA", None, p[2], url_decode(p[3]), None,
                             _int(p[1]), False)]

    def s_ADG(self, cmd, ts):
        p = cmd.params
        if len(p) < 4:
            return self._bad(cmd, ts, 1)
        return [E.GroupChange(ts, self.conn, 1, "ADG", _int(p[3]), url_decode(p[2]), _int(p[1]))]

    def s_RMG(self, cmd, ts):
        p = cmd.params
        if len(p) < 3:
            return self._bad(cmd, ts, 1)
        return [E.GroupChange(ts, self.conn, 1, "RMG", _int(p[2]), None, _int(p[1]))]

    def s_REG(self, cmd, ts):
        p = cmd.params
        if len(p) < 4:
            return self._bad(cmd, ts, 1)
        return [E.GroupChange(ts, self.conn, 1, "REG", _int(p[2]), url_decode(p[3]), _int(p[1]))]

    def s_CHG(self, cmd, ts):
        p = cmd.params
        if len(p) < 2:
            return self._bad(cmd, ts, 1)
        if cmd.trid in self.chg_trids:       # the echo of our own request: already recorded
            self.chg_trids.discard(cmd.trid)
            return []
        return [E.Presence(ts, self.conn, 1, "CHG", None, p[1], None, parse_client_id(_p(p, 2)))]

    def s_ILN(self, cmd, ts):
        p = cmd.params
        if len(p) < 3:
            return self._bad(cmd, ts, 1)
        return [E.Presence(ts, self.conn, 1, "ILN", p[2], p[1], url_decode(_p(p, 3, "")),
                           parse_client_id(_p(p, 4)))]

    def s_NLN(self, cmd, ts):
        p = cmd.params
        if len(p) < 2:
            return self._bad(cmd, ts, 1)
        return [E.Presence(ts, self.conn, 1, "NLN", p[1], p[0], url_decode(_p(p, 2, "")),
                           parse_client_id(_p(p, 3)))]

    def s_FLN(self, cmd, ts):
        p = cmd.params
        if not p:
            return self._bad(cmd, ts, 1)
        return [E.Presence(ts, self.conn, 1, "FLN", p[0], "FLN", None, None)]

    def s_CHL(self, cmd, ts):
        p = cmd.params
        if len(p) < 2:
            return self._bad(cmd, ts, 1)
        return [E.Challenge(ts, self.conn, 1, p[1])]

    def s_QRY(self, cmd, ts):
        return [E.ChallengeResult(ts, self.conn, 1, cmd.trid, True)]

    def s_RNG(self, cmd, ts):
        p = cmd.params
        if len(p) < 5:
            return self._bad(cmd, ts, 1)
        return [E.Ring(ts, self.conn, 1, p[0], p[1], p[3], p[4], url_decode(_p(p, 5, "")))]

    def s_OUT(self, cmd, ts):
        return [E.Logout(ts, self.conn, 1, _p(cmd.params, 0))]

    def s_MSG(self, cmd, ts):
        headers, body = split_payload(cmd.payload or b"")
        ctype, _ = media_type(headers)
        if ctype == "text/x-msmsgsprofile":
            return [E.Profile(ts, self.conn, 1, headers)]
        fields = dict(headers)
        if body.strip():
            fields.update(parse_fields(body))
        return [E.HotmailMessage(ts, self.conn, 1, ctype, fields)]

    # ------------------------------------------------------------ errors and SYN end
    def _error(self, cmd, ts):
        code = int(cmd.verb)
        req = self._request(cmd.trid)
        out = [E.ErrorReply(ts, self.conn, 1, code, ERROR_NAMES.get(code, "Unknown error"),
                            cmd.trid, req)]
        if req == "QRY":
            out.append(E.ChallengeResult(ts, self.conn, 1, cmd.trid, False))
        return out

    def _end_syn(self, ts):
        """The SYN reply ended (a non-list line arrived, or the stream ended)."""
        exp_c, exp_g, got_c, got_g = self.syn
        self.syn = None
        self.last_contact = None
        out = []
        if got_c < exp_c or got_g < exp_g:
            out.append(E.Anomaly(ts, self.conn, 1, "count mismatch",
                                 f"SYN announced {exp_c} contacts and {exp_g} groups; "
                                 f"received {got_c} and {got_g}"))
        return out


# handler tables, built once: a dict lookup instead of getattr("c_" + verb) per command
_CLIENT = {n[2:]: f for n, f in vars(NsDecoder).items() if n.startswith("c_")}
_SERVER = {n[2:]: f for n, f in vars(NsDecoder).items() if n.startswith("s_")}
