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
from dataclasses import replace

from .. import events as E
from ..protocol.dialects import Dialect, network_field, split_caps, split_endpoint, split_network, version_of
from ..protocol.mime import media_type, parse_fields, split_payload
from ..protocol.numbers import is_num, net_int
from ..protocol.tables import ERROR_NAMES, url_decode
from .ns_extras import NsExtrasMixin
from .ns_lists import NsListsMixin

MAX_PENDING = 1024
MAX_HELD = 64          # requests whose events wait for the server's answer (CHG, ADL, RML)
SYN_LINE_VERBS = {"GTC", "BLP", "PRP", "LSG", "LST", "BPR"}


def _int(s):
    return net_int(s) if s is not None else None


def _p(params, i, default=None):
    return params[i] if len(params) > i else default


class NsDecoder(NsListsMixin, NsExtrasMixin):
    def __init__(self, conn: int):
        self.conn = conn
        self.dialect = Dialect()
        self.news: list = []             # DialectKnown events waiting to go out
        self.logged_in_named = False     # USR … OK carried the friendly name (MSNP2-9)
        self._ts = 0.0                   # the command being handled (for DialectKnown)
        self.kind = "notification"      # becomes "dispatch" on XFR … NS
        self.pending: OrderedDict = OrderedDict()   # trid -> verb of the client request
        self.syn: list[int] | None = None    # [expected contacts, expected groups, got c, got g]
        self.last_contact: str | None = None     # BPR inside a SYN applies to the preceding LST
        # trid -> (verb, events): what a request did is only known from the answer (the
        # server's CHG echo may add capability bits; an ADL it refuses changes nothing)
        self.held: OrderedDict = OrderedDict()
        self.syn_request: int | None = None      # list version the client asked to sync from

    # ------------------------------------------------------------ entry points
    def client(self, cmd, ts) -> list:
        self._ts = ts
        if cmd.trid is not None:
            self.pending[cmd.trid] = cmd.verb
            if len(self.pending) > MAX_PENDING:
                self.pending.popitem(last=False)
        h = _CLIENT.get(cmd.verb)
        if h is None:
            return [E.NsOther(ts, self.conn, 0, cmd.verb, tuple(cmd.params))]
        res = h(self, cmd, ts)
        if self.news:
            res = self.news + res
            self.news = []
        return res

    def server(self, cmd, ts) -> list:
        self._ts = ts
        verb = cmd.verb
        if self.syn and not (verb in SYN_LINE_VERBS and cmd.trid is None
                             and not (verb == "BPR" and len(cmd.params) > 2)):
            out = self._end_syn(ts)
        else:
            out = None
        h = _SERVER.get(verb)
        if h is not None:
            res = h(self, cmd, ts)
        elif is_num(verb):
            res = self._error(cmd, ts)
        else:
            res = [E.NsOther(ts, self.conn, 1, verb, tuple(cmd.params))]
        if self.news:
            res = self.news + res
            self.news = []
        if out:
            out.extend(res)
            return out
        return res

    def close(self, ts) -> list:
        out = self._end_syn(ts) if self.syn else []
        # requests never answered in the capture: reported as the client sent them
        for _verb, evs in self.held.values():
            out.extend(evs)
        self.held.clear()
        return out

    def _hold(self, trid, verb, evs) -> list:
        """Keep a request's events until its answer; returns what had to go out unanswered
        (the oldest, past MAX_HELD, or an earlier request with the same TrID)."""
        if trid is None:
            return evs
        out = self.held.pop(trid, (None, []))[1]
        self.held[trid] = (verb, evs)
        if len(self.held) > MAX_HELD:
            out = out + self.held.popitem(last=False)[1][1]
        return out

    def _answered(self, trid, verb):
        """The events held for this request (None: nothing held for it)."""
        held = self.held.get(trid)
        if held is None or (verb is not None and held[0] != verb):
            return None
        del self.held[trid]
        return held[1]

    def _bad(self, cmd, ts, d, why="unexpected arguments"):
        return [E.Anomaly(ts, self.conn, d, "malformed command",
                          f"{cmd.verb} {' '.join(cmd.params)[:120]}: {why}", cmd.offset, cmd.length)]

    def _learn(self, version: int, source: str, ts: float):
        dialect = self.dialect
        before = (dialect.version, dialect.source)
        dialect.learn(version, source)
        if (dialect.version, dialect.source) != before:
            assert dialect.version is not None and dialect.source is not None   # (learnt)
            self.news.append(E.DialectKnown(ts, self.conn, -1, dialect.version,
                                            dialect.source))

    def _infer(self, version):
        """A command's shape proves at least this version (used when VER was not seen)."""
        if self.dialect.source in (None, "inferred") and (self.dialect.version or 0) < version:
            self._learn(version, "inferred", self._ts)

    def _request(self, trid):
        return self.pending.get(trid) if trid is not None else None

    # ------------------------------------------------------------ client side
    def c_VER(self, cmd, ts):
        offered = [v for v in map(version_of, cmd.params[1:]) if v is not None]
        if offered:
            self._learn(max(offered), "offer", ts)
        return [E.VersionOffer(ts, self.conn, 0, tuple(p for p in cmd.params[1:]))]

    def c_CVR(self, cmd, ts):
        p = cmd.params
        if len(p) < 7:
            return self._bad(cmd, ts, 0)
        return [E.ClientInfo(ts, self.conn, 0, p[1], p[2], p[3], p[4], p[5], p[6],
                             _p(p, 8, ""))]

    def c_USR(self, cmd, ts):
        p = cmd.params
        if len(p) >= 4 and p[1] == "SSO":
            self._infer(15)
        if len(p) >= 4 and p[2] == "I":
            return [E.AuthStart(ts, self.conn, 0, p[1], p[3])]
        if len(p) >= 4 and p[2] == "S":
            # SSO: USR trid SSO S ticket [signed nonce [machine guid (MSNP16+)]]
            return [E.AuthTicket(ts, self.conn, 0, p[3], _p(p, 4), _p(p, 5))]
        return self._bad(cmd, ts, 0)

    def c_CHG(self, cmd, ts):
        p = cmd.params
        if len(p) < 2:
            return self._bad(cmd, ts, 0)
        caps, ex = split_caps(_p(p, 2))
        return self._hold(cmd.trid, "CHG", [E.Presence(ts, self.conn, 0, "CHG", None, p[1],
                                                        None, caps, None, ex, _p(p, 3))])

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
        v = version_of(chosen)
        if v is not None:
            self._learn(v, "VER", ts)
        return [E.VersionChosen(ts, self.conn, 1, chosen)]

    def s_CVR(self, cmd, ts):
        p = cmd.params
        return [E.ServerVersionInfo(ts, self.conn, 1, _p(p, 1, ""), _p(p, 3, ""),
                                    _p(p, 4, ""), _p(p, 5, ""))]

    def s_USR(self, cmd, ts):
        p = cmd.params
        if len(p) >= 3 and p[1] == "OK":
            return [self._login_ok(cmd, ts)]
        if len(p) >= 4 and p[2] == "S":
            if p[1] == "SSO":       # USR trid SSO S policy nonce (MSNP15+)
                self._infer(15)
                return [E.AuthPolicy(ts, self.conn, 1, p[3], _p(p, 4))]
            return [E.AuthPolicy(ts, self.conn, 1, p[3])]
        return self._bad(cmd, ts, 1)

    def _login_ok(self, cmd, ts):
        """``USR trid OK pp name verified 0`` (MSNP8-9), ``… pp name [verified]`` (MSNP2-7),
        ``USR trid OK pp verified 0`` (MSNP10+: no name; PRP MFN carries it)."""
        p = cmd.params
        named = self.dialect.name_in_usr_ok()
        if named is None:           # version unknown: MSNP10+ ends with two flags
            named = not (len(p) == 5 and p[3] in ("0", "1") and p[4] == "0")
            if not named:
                self._infer(10)
        self.logged_in_named = named
        if named:
            return E.LoginOk(ts, self.conn, 1, p[2], url_decode(_p(p, 3, "")), _p(p, 4),
                             _p(p, 5))
        return E.LoginOk(ts, self.conn, 1, p[2], None, _p(p, 3), _p(p, 4))

    def s_XFR(self, cmd, ts):
        p = cmd.params
        if len(p) >= 3 and p[1] == "NS":
            self.kind = "dispatch"
            return [E.RoleKnown(ts, self.conn, 1, "dispatch"),
                    E.Redirect(ts, self.conn, 1, p[2], cmd.trid == 0)]
        if len(p) >= 5 and p[1] == "SB":
            return [E.SwitchboardGranted(ts, self.conn, 1, p[2], p[4])]
        return self._bad(cmd, ts, 1)

    def s_CHG(self, cmd, ts):
        p = cmd.params
        if len(p) < 2:
            return self._bad(cmd, ts, 1)
        caps, ex = split_caps(_p(p, 2))
        mine = self._answered(cmd.trid, "CHG")
        if mine:
            # the echo of our own request: one row, with what the server made of it
            return [replace(mine[0], confirmed_status=p[1], confirmed_client_id=caps,
                            confirmed_caps_ex=ex)]
        return [E.Presence(ts, self.conn, 1, "CHG", None, p[1], None, caps, None, ex,
                           _p(p, 3))]

    def _presence(self, cmd, ts, command, status, who, rest):
        """The fields after the passport, every dialect: ``name caps [msnobj]`` (MSNP8-13),
        ``network name caps msnobj`` (MSNP14-17), MSNP18 names the network in the
        passport (``1:pp``); MSNP16+ capabilities are ``caps:capsex``."""
        has_net = network_field(who, rest, self.dialect.version)
        network, who = split_network(who)
        if network is not None:
            self._infer(18)
        elif has_net and self.dialect.version is None:
            self._infer(14)          # (the shape told: no version known yet)
        account, via = split_endpoint(who)
        if network is None and has_net and rest:
            network = int(rest[0]) if is_num(rest[0]) and len(rest[0]) <= 4 else None
            rest = rest[1:]
        if command == "FLN":
            return [E.Presence(ts, self.conn, 1, "FLN", account, "FLN", None, None, network,
                               None, None, via)]
        caps, ex = split_caps(_p(rest, 1))
        if ex is not None:
            self._infer(16)
        return [E.Presence(ts, self.conn, 1, command, account, status,
                           url_decode(_p(rest, 0, "")), caps, network, ex, _p(rest, 2), via)]

    def s_ILN(self, cmd, ts):
        p = cmd.params
        if len(p) < 3:
            return self._bad(cmd, ts, 1)
        return self._presence(cmd, ts, "ILN", p[1], p[2], p[3:])

    def s_NLN(self, cmd, ts):
        p = cmd.params
        if len(p) < 2:
            return self._bad(cmd, ts, 1)
        return self._presence(cmd, ts, "NLN", p[0], p[1], p[2:])

    def s_FLN(self, cmd, ts):
        p = cmd.params
        if not p:
            return self._bad(cmd, ts, 1)
        return self._presence(cmd, ts, "FLN", "FLN", p[0], p[1:])

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
        name = ERROR_NAMES.get(code, "Unknown error")
        out: list[E.Event] = [E.ErrorReply(ts, self.conn, 1, code, name, cmd.trid, req)]
        held = self._answered(cmd.trid, None) if cmd.trid is not None else None
        for ev in held or ():
            # a refused list edit changes nothing: it stays a row, with the error
            if type(ev) is E.ListChange:
                out.append(replace(ev, refused=f"{code} {name}"))
            elif type(ev) is E.Contact:
                out.append(E.ListChange(ev.ts, self.conn, ev.dir, "ADL", None, ev.passport,
                                        ev.friendly_name, None, None, False, None,
                                        ev.network, ev.list_bits, f"{code} {name}"))
            else:
                out.append(ev)      # a refused CHG: the status the client asked for
        if req == "QRY":
            out.append(E.ChallengeResult(ts, self.conn, 1, cmd.trid, False))
        return out

    def _end_syn(self, ts):
        """The SYN reply ended (a non-list line arrived, or the stream ended)."""
        assert self.syn is not None                 # (called only inside a SYN reply)
        exp_c, exp_g, got_c, got_g = self.syn
        self.syn = None
        self.last_contact = None
        out: list = []
        if got_c < exp_c or got_g < exp_g:
            out.append(E.Anomaly(ts, self.conn, 1, "count mismatch",
                                 f"SYN announced {exp_c} contacts and {exp_g} groups; "
                                 f"received {got_c} and {got_g}"))
        return out


# handler tables by verb, written out (a dict lookup per command; grep finds every
# handler's use; tests/test_ns.py checks every c_/s_ method is listed)
_CLIENT = {
    "ADD": NsDecoder.c_ADD, "ADG": NsDecoder.c_ADG, "ADL": NsDecoder.c_ADL,
    "BLP": NsDecoder.c_BLP, "CHG": NsDecoder.c_CHG, "CVR": NsDecoder.c_CVR,
    "FQY": NsDecoder.c_FQY, "GCF": NsDecoder.c_GCF, "GTC": NsDecoder.c_GTC,
    "MSG": NsDecoder.c_MSG, "OUT": NsDecoder.c_OUT, "PRP": NsDecoder.c_PRP,
    "QRY": NsDecoder.c_QRY, "REA": NsDecoder.c_REA, "REG": NsDecoder.c_REG,
    "REM": NsDecoder.c_REM, "RMG": NsDecoder.c_RMG, "RML": NsDecoder.c_RML,
    "SYN": NsDecoder.c_SYN, "USR": NsDecoder.c_USR, "UUM": NsDecoder.c_UUM,
    "UUN": NsDecoder.c_UUN, "UUX": NsDecoder.c_UUX, "VER": NsDecoder.c_VER,
    "XFR": NsDecoder.c_XFR,
}
_SERVER = {
    "ADC": NsDecoder.s_ADC, "ADD": NsDecoder.s_ADD, "ADG": NsDecoder.s_ADG,
    "ADL": NsDecoder.s_ADL, "BLP": NsDecoder.s_BLP, "BPR": NsDecoder.s_BPR,
    "CHG": NsDecoder.s_CHG, "CHL": NsDecoder.s_CHL, "CVR": NsDecoder.s_CVR,
    "FLN": NsDecoder.s_FLN, "FQY": NsDecoder.s_FQY, "GCF": NsDecoder.s_GCF,
    "GTC": NsDecoder.s_GTC, "ILN": NsDecoder.s_ILN, "LSG": NsDecoder.s_LSG,
    "LST": NsDecoder.s_LST, "MSG": NsDecoder.s_MSG, "NLN": NsDecoder.s_NLN,
    "NOT": NsDecoder.s_NOT, "OUT": NsDecoder.s_OUT, "PRP": NsDecoder.s_PRP,
    "QRY": NsDecoder.s_QRY, "REA": NsDecoder.s_REA, "REG": NsDecoder.s_REG,
    "REM": NsDecoder.s_REM, "RMG": NsDecoder.s_RMG, "RML": NsDecoder.s_RML,
    "RNG": NsDecoder.s_RNG, "SBP": NsDecoder.s_SBP, "SBS": NsDecoder.s_SBS,
    "SYN": NsDecoder.s_SYN, "UBM": NsDecoder.s_UBM, "UBN": NsDecoder.s_UBN,
    "UBX": NsDecoder.s_UBX, "USR": NsDecoder.s_USR, "UUN": NsDecoder.s_UUN,
    "UUX": NsDecoder.s_UUX, "VER": NsDecoder.s_VER, "XFR": NsDecoder.s_XFR,
}
