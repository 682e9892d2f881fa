"""The analysis model: folds decoder events into sessions and table rows.

``Analysis.apply(event)`` is the only mutation.  Rows wait in their connection's
Session while it is open; when the connection closes they are finalised — the owner
(the local account), message recipients and transfer links are settled — and handed to
the sink, and the connection's bulky state is dropped.  So memory holds open
connections plus one small row per finished session, and a streaming sink (JSON Lines,
the live printer) sees rows as the capture is read.  ``finish()`` closes what is left
and emits the sessions table, whose dispatch -> NS links can only be made at the end.

Correlation (issue: "Who is who"): DS -> NS by the XFR target and client address; NS ->
switchboard by the XFR SB / RNG cookie; switchboard -> MSNFTP by the accepted
invitation's AuthCookie or port; an unknown owner by the client address when exactly
one account used it.  No I/O.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .. import config
from .. import events as E
from ..config import DEFAULT_LIMITS, Limits
from ..protocol.dialects import version_of
from .ftp import FtpFold
from .ns import NsFold
from .p2p import P2PFold
from .sb import SbFold
from .schema import TABLE_NAMES as TABLES
from .session import Session, iso

__all__ = ["Analysis", "TABLES", "iso"]

# Rows that never change after they are made leave as soon as their connection's owner
# is known, so a long-lived connection (a notification session of a live run lasts for
# hours) holds no rows; challenges and invitations are completed by later commands and
# wait for the close.  Before the owner is known at most Limits.max_waiting_rows wait.
COPY_WINDOW = 5.0     # seconds between a message's copies (the server relays at once)
SETTLE_EARLY = frozenset({"presence", "list_changes", "notifications", "messages",
                          "participants", "errors", "personal_messages"})


class Analysis(NsFold, SbFold, FtpFold, P2PFold):
    def __init__(self, limits: Limits = DEFAULT_LIMITS, sink=None, on_session=None,
                 stream_sessions: bool = False, brief_messages: bool = False):
        self.limits = limits
        # the sink uses no messages row, only the summary's count of them (`read`):
        # messages other than invitations get a row with just their kind
        self.brief_messages = brief_messages
        self.sessions: dict[int, Session] = {}       # open connections
        self.session_rows: dict[int, dict] = {}      # finished connections
        self.out: dict[str, list[dict]] = {t: [] for t in TABLES}
        self.seq = 0
        # the row the event being applied made or completed, as (table, row): what a
        # watcher of the events (live's lines) reads instead of working it out again
        self.made: tuple[str, dict] | None = None
        self.recent_messages: OrderedDict = OrderedDict()   # for copy_of_session
        self.sink = sink or self._collect
        self.grants: OrderedDict = OrderedDict()     # XFR SB cookie -> NS session id
        self.rings: OrderedDict = OrderedDict()      # RNG cookie -> (NS id, SB session id)
        self.offers: OrderedDict = OrderedDict()     # ("auth", cookie) / ("port", p) -> invitation
        self.by_ip: OrderedDict = OrderedDict()      # client ip -> passports seen there
        self.redirects: OrderedDict = OrderedDict()  # (NS address, client ip) -> dispatch id
        self.on_session = on_session                 # called with each finished session row
        # streaming consumers take each sessions row when its connection finishes (the
        # dispatch -> NS forward link is then only in the NS row); a whole document
        # keeps them for the end, when every link is known
        self.stream_sessions = stream_sessions
        self.finished = False
        self._p2p_init()

    # ------------------------------------------------------------ plumbing
    def _collect(self, table, row):
        self.out[table].append(row)

    def apply(self, ev) -> None:
        self.made = None
        h = _HANDLERS.get(type(ev))
        if h is not None:
            try:
                h(self, ev)
            except Exception as e:  # noqa: BLE001 - one event's bug never stops the analysis
                if config.STRICT:
                    raise
                self.sink("anomalies", {
                    "time": iso(ev.ts) if _finite_time(ev.ts) else None,
                    "session": getattr(ev, "conn", None), "direction": None,
                    "kind": "model error", "detail": f"{type(ev).__name__}: "
                    f"{type(e).__name__}: {e}"[:300], "offset": None, "length": None})

    def _s(self, ev) -> Session:
        s = self.sessions.get(ev.conn)
        if s is None:       # a connection whose open event was not seen
            s = self.sessions[ev.conn] = Session(ev.conn, "?:0", "?:0", ev.ts)
        return s

    def _add(self, conn, table, row):
        self.made = (table, row)
        s = self._s_id(conn)
        # the order rows were made in, across tables: a JOI and the message that came
        # with it in one packet share a timestamp, and views that merge tables (the
        # transcript) must keep them in order (never exported: a "_" key)
        row["_seq"] = self.seq
        self.seq += 1
        if s.settled and table in SETTLE_EARLY:
            self._settle(s, table, row)
            return
        s.rows.setdefault(table, []).append(row)
        s.held.append((table, row))     # the order they happened in, across tables
        s.waiting += 1
        if s.waiting > self.limits.max_waiting_rows and not s.settled:
            self._owner(s)
            self._settle_early(s)

    def _settle(self, s: Session, table, r):
        """Give a row its final owner (and recipients) and hand it on."""
        me = s.passport
        if "owner" in r:
            r["owner"] = me
        if table == "presence" and r["command"] == "CHG" and r["passport"] is None:
            r["passport"] = me
        elif table == "personal_messages" and r["passport"] is None:
            r["passport"] = me                 # UUX: the account's own
        if table == "messages":
            self._settle_message(r, me)
            self._copy_of(s, r)
        self.sink(table, r)

    def _settle_early(self, s: Session):
        # in the order the rows were made, not table by table: rows of one instant (a
        # JOI and the message after it, in one packet) keep their order downstream
        keep = []
        for table, r in s.held:
            if table in SETTLE_EARLY:
                self._settle(s, table, r)
            else:
                keep.append((table, r))
        for table in SETTLE_EARLY:
            s.waiting -= len(s.rows.pop(table, ()))
        s.held = keep
        s.settled = True

    def _rows(self, conn, table) -> list:
        return self._s_id(conn).rows.get(table, [])

    def _s_id(self, conn) -> Session:
        s = self.sessions.get(conn)
        if s is None:
            s = self.sessions[conn] = Session(conn, "?:0", "?:0", 0.0)
        return s

    def _note_ip(self, ip, passport):
        """Remember which account used a client address (bounded, oldest forgotten)."""
        if ip not in self.by_ip:
            self._remember(self.by_ip, ip, set())
        self.by_ip[ip].add(passport)

    def _learn(self, s: Session, passport):
        """The connection's local account became known."""
        s.passport = passport
        if passport:
            self._note_ip(s.client_ip, passport)
            if not s.settled:
                self._settle_early(s)

    def _remember(self, table: OrderedDict, key, value):
        table[key] = value
        table.move_to_end(key)
        if len(table) > self.limits.max_links:
            table.popitem(last=False)

    def _offer(self, inv):
        if inv.get("auth_cookie"):
            self._remember(self.offers, ("auth", inv["auth_cookie"]), inv)
        if inv.get("port") is not None:
            self._remember(self.offers, ("port", inv["port"]), inv)

    # ------------------------------------------------------------ connection events
    def on_open(self, ev):
        s = self.sessions[ev.conn] = Session(ev.conn, ev.client, ev.server, ev.start)
        if self.p2p_listen:
            self.on_direct_opened(ev.conn, ev.server)
        # the connection a dispatch server just sent this client to (XFR … NS)
        ds = self.redirects.pop((ev.server, s.client_ip), None)
        if ds is not None:
            s.ns.redirected_from = ds
            row = self.session_rows.get(ds)
            if row is not None:
                row["redirected_to_session"] = ev.conn
            elif ds in self.sessions:
                self.sessions[ds].ns.redirected_to = ev.conn

    def note_redirect(self, s: Session):
        self._remember(self.redirects, (s.ns.redirect_target, s.client_ip), s.id)

    def on_close(self, ev):
        s = self._s(ev)
        s.end = ev.ts
        s.close_reason = ev.reason
        s.bytes_c2s, s.bytes_s2c, s.gap_bytes = ev.bytes_c2s, ev.bytes_s2c, ev.gap_bytes
        if s.kind == "unknown" and ev.kind != "unknown":
            s.kind = ev.kind
        self._finalise(s)

    def on_gateway(self, ev):
        s = self._s(ev)
        s.transport = "http-gateway"
        if ev.carrier not in s.carriers:
            s.carriers.append(ev.carrier)
        if ev.session_id and ev.session_id not in s.gateway_ids:
            s.gateway_ids.append(ev.session_id)
        if ev.gw_ip:
            s.gw_ip = ev.gw_ip
        s.polls += ev.poll

    def on_role(self, ev):
        s = self._s(ev)
        if ev.role == "dispatch" or s.kind in ("unknown", None):
            s.kind = ev.role

    def on_anomaly(self, ev):
        row = {"time": iso(ev.ts), "session": ev.conn, "capture": None,
               "direction": {0: "c2s", 1: "s2c"}.get(ev.dir), "kind": ev.kind,
               "detail": ev.detail, "offset": ev.offset if ev.offset >= 0 else None,
               "length": ev.length}
        self.sink("anomalies", row)      # damage is reported at once, never held back

    def on_unknown(self, ev):
        """A switchboard command the decoder does not know (unknown NS ones are notices):
        kept as an anomaly row, never dropped."""
        self.sink("anomalies", {
            "time": iso(ev.ts), "session": ev.conn, "capture": None,
            "direction": {0: "c2s", 1: "s2c"}.get(ev.dir), "kind": "unknown command",
            "detail": " ".join((ev.verb,) + tuple(ev.params))[:200], "offset": None,
            "length": None})

    # ------------------------------------------------------------ finalisation
    def _owner(self, s: Session):
        if s.passport is None and s.kind in ("notification", "switchboard"):
            cands = self.by_ip.get(s.client_ip, set())
            if len(cands) == 1:
                s.passport = next(iter(cands))
                s.owner_from = "client address"
        return s.passport

    def _dialect_from_ns(self, s: Session):
        """A switchboard has no VER: its dialect is the one its notification session
        negotiated (the cookie links them), when that is known and not below what the
        switchboard's own commands show (Escargot's MSNP18 switchboards read as MSNP16+)."""
        if s.linked_ns is None or s.protocol_source not in (None, "inferred"):
            return
        ns = self.sessions.get(s.linked_ns)
        proto, source = ((ns.protocol, ns.protocol_source) if ns is not None else
                         ((self.session_rows.get(s.linked_ns) or {}).get("protocol"),
                          (self.session_rows.get(s.linked_ns) or {}).get("protocol_source")))
        if source != "VER" or not proto:
            return
        have = version_of(s.protocol) if s.protocol else 0
        if (version_of(proto) or 0) >= (have or 0):
            s.protocol, s.protocol_source = proto, "notification session"

    def _finalise(self, s: Session):
        """The connection is over: settle its rows and hand them to the sink."""
        self.sessions.pop(s.id, None)
        if s.kind == "switchboard":
            cookie = s.sb_state.cookie if s.sb_state is not None else None
            if cookie in self.grants:
                s.linked_ns = self.grants[cookie]
            elif cookie in self.rings:
                s.linked_ns = self.rings[cookie][0]
            self._dialect_from_ns(s)
        me = self._owner(s)
        if me:
            self._note_ip(s.client_ip, me)
        for table, r in s.held:
            self._settle(s, table, r)
        s.held = []
        if s.ns_state is not None:
            self._list_rows(s, s.ns_state, me)
        if s.transfer is not None:
            self.sink("transfers", self._transfer_row(s, s.transfer))
        row = s.row()
        if self.on_session is not None:
            self.on_session(row)
        if self.stream_sessions:
            self.sink("sessions", row)
        else:
            self.session_rows[s.id] = row

    def _copy_of(self, s: Session, r):
        """The switchboard relays one message to every participant's connection: a row
        that another connection of the same switchboard session already holds (same
        sender, type and text, within COPY_WINDOW) names it in ``copy_of_session`` and
        is counted once (summary, report)."""
        ts = r.pop("_ts", None)
        if ts is not None:
            r["copy_of_session"] = self._seen_before(s, r["sender"], r["content_type"],
                                                     r["text"], ts)

    def _seen_before(self, s: Session, sender, ctype, content, ts):
        """The connection that already holds this message, or None (then it is this one)."""
        sb = s.sb_state
        if s.kind != "switchboard" or sb is None or not sb.session_id:
            return None
        # (the text's hash, not the text: the table holds up to max_links entries)
        key = (s.server, sb.session_id, sender, ctype, hash(content))
        seen = self.recent_messages.get(key)
        if seen is not None and seen[0] != s.id and abs(ts - seen[1]) < COPY_WINDOW:
            return seen[0]
        self._remember(self.recent_messages, key, (s.id, ts))
        return None

    @staticmethod
    def _settle_message(r, me):
        present = r.pop("_present")
        called = r.pop("_called")
        if r["direction"] == "out" and r["sender"] is None:
            r["sender"] = me                     # None stays None: unknown, not guessed
        if r["recipients"] is None:
            people = set(present)
            r["recipients_source"] = "roster"
            if not people and r["direction"] == "out" and called:
                # one-direction capture: no IRO/JOI seen; the CAL targets are the best
                # available answer, and the row says so
                people = set(called)
                r["recipients_source"] = "invited (CAL); roster not captured"
            if me:
                people.add(me)
            people.discard(r["sender"])
            r["recipients"] = sorted(people)

    def finish(self):
        """End of input: finalise open connections, link dispatch -> NS, emit sessions."""
        if self.finished:
            return
        self.finished = True
        for s in list(self.sessions.values()):
            self._finalise(s)
        self._p2p_finish()
        for sid in sorted(self.session_rows):
            self.sink("sessions", self.session_rows[sid])

    def document(self) -> dict:
        """The whole analysis document (rows grouped by session, in session order)."""
        self.finish()
        doc = {}
        for t in TABLES:
            rows = self.out[t]
            rows.sort(key=lambda r: (r.get("session") is None, r.get("session") or 0,
                                     r.get("time") or ""))
            doc[t] = rows
        return doc


def _finite_time(ts) -> bool:
    return isinstance(ts, (int, float)) and 0 <= ts < 253402300800


# event class -> the Analysis method that folds it
_HANDLERS: dict[type, Callable[[Analysis, Any], None]] = {
    E.DialectKnown: Analysis.on_dialect, E.OwnName: Analysis.on_own_name,
    E.ContactName: Analysis.on_contact_name, E.PersonalMessage: Analysis.on_personal,
    E.Notice: Analysis.on_notice, E.P2PPart: Analysis.on_p2p,
    E.DirectHandshake: Analysis.on_direct_handshake,
    E.GatewayExchange: Analysis.on_gateway,
    E.ConnectionOpened: Analysis.on_open, E.ConnectionClosed: Analysis.on_close,
    E.RoleKnown: Analysis.on_role, E.Anomaly: Analysis.on_anomaly,
    E.VersionOffer: Analysis.on_ver_offer, E.VersionChosen: Analysis.on_ver_chosen,
    E.ClientInfo: Analysis.on_client_info, E.AuthStart: Analysis.on_auth_start,
    E.AuthPolicy: Analysis.on_policy, E.AuthTicket: Analysis.on_ticket,
    E.Redirect: Analysis.on_redirect, E.LoginOk: Analysis.on_login_ok,
    E.Logout: Analysis.on_logout, E.ErrorReply: Analysis.on_error,
    E.Profile: Analysis.on_profile, E.HotmailMessage: Analysis.on_hotmail,
    E.ListSync: Analysis.on_list_sync, E.Setting: Analysis.on_setting,
    E.Phone: Analysis.on_phone, E.Group: Analysis.on_group, E.Contact: Analysis.on_contact,
    E.ListChange: Analysis.on_list_change, E.GroupChange: Analysis.on_group_change,
    E.Presence: Analysis.on_presence, E.Challenge: Analysis.on_challenge,
    E.ChallengeAnswer: Analysis.on_answer, E.ChallengeResult: Analysis.on_chal_result,
    E.SwitchboardGranted: Analysis.on_xfr_sb, E.Ring: Analysis.on_ring,
    E.ServerVersionInfo: Analysis.on_server_versions, E.NsOther: Analysis.on_ns_other,
    E.SbJoinRequest: Analysis.on_sb_request, E.SbJoined: Analysis.on_sb_joined,
    E.Participant: Analysis.on_participant, E.Ringing: Analysis.on_ringing,
    E.Calling: Analysis.on_calling, E.Message: Analysis.on_message,
    E.FtpUser: Analysis.on_ftp_user, E.FtpFile: Analysis.on_ftp_file,
    E.FtpStart: Analysis.on_ftp_start, E.FtpData: Analysis.on_ftp_data,
    E.FtpEnd: Analysis.on_ftp_end, E.Unknown: Analysis.on_unknown,
}
