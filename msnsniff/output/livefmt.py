"""One line per decoded event, for `msnsniff live` (and anything else that watches a
stream of events).  Pure: takes an event and the Analysis it was just applied to,
returns a record (dict with an ``event`` name and a readable ``text``) or None for
events not worth a line.  No I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import events as E
from ..model.timefmt import iso
from ..protocol.tables import FTP_BYE_CODES

if TYPE_CHECKING:
    from ..model import Analysis


class LiveFormatter:
    def __init__(self, analysis: Analysis, typing=True):
        self.a = analysis
        self.typing = typing
        self.last_typing: dict[int, str | None] = {}     # (None: a sender not known)

    def _who(self, conn):
        s = self.a.sessions.get(conn)
        return (s.passport if s else None) or "unknown"

    def record(self, ev) -> dict | None:
        h = _FORMATS.get(type(ev))
        if h is None:
            if type(ev).__name__ == "ConnectionClosed":
                self.last_typing.pop(ev.conn, None)
            return None
        rec = h(self, ev)
        if rec is None:
            return None
        if not isinstance(ev, E.Message) or rec["event"] != "typing":
            self.last_typing.pop(ev.conn, None)
        return {"time": iso(ev.ts), "session": ev.conn, **rec}

    # ------------------------------------------------------------ NS
    def _login(self, ev: E.LoginOk):
        s = self.a.sessions.get(ev.conn)
        ns = s.ns_state if s else None
        client = " ".join(x for x in ((ns.client_name, ns.client_version) if ns else ()) if x)
        proto = s.protocol if s else None
        addr = s.client if s else "?"
        # MSNP10+ sends no name with USR OK (PRP MFN follows): none is shown then
        name = f"“{ev.friendly_name}” " if ev.friendly_name is not None else ""
        return {"event": "sign-in", "account": ev.passport, "friendly_name": ev.friendly_name,
                "client": client or None, "protocol": proto, "address": addr,
                "text": f"sign-in   {ev.passport} {name}"
                        f"{client or '?'} {proto or ''} from {addr}".replace("  from", " from")}

    def _own_name(self, ev: E.OwnName):
        if ev.at_login:
            return None
        who = self._who(ev.conn)
        return {"event": "rename", "account": who, "friendly_name": ev.name,
                "text": f"rename    {who} is now “{ev.name}”"}

    def _personal(self, ev: E.PersonalMessage):
        who = ev.passport or self._who(ev.conn)
        d = ev.data
        media = f" ♪ {d.current_media}" if d.current_media else ""
        return {"event": "personal-message", "passport": who,
                "personal_message": d.psm, "current_media": d.current_media,
                "text": f"psm       {who}: “{d.psm or ''}”{media}"}

    def _profile(self, ev: E.Profile):
        s = self.a.sessions.get(ev.conn)
        p = s.ns_state.profile if s and s.ns_state else None
        if not p:
            return None
        reading = {True: "byte-swapped", False: "plain", None: "cannot tell"}[
            p["port_byteswapped"]]
        nat = {True: "yes", False: "no", None: "unknown"}[p["nat"]]
        return {"event": "profile", "account": self._who(ev.conn),
                "client_ip_reported": p["client_ip_reported"],
                "client_port_reported": p["client_port_reported"],
                "client_port": p["client_port"], "port_byteswapped": p["port_byteswapped"],
                "nat": p["nat"],
                "text": f"profile   {self._who(ev.conn)}: ClientIP {p['client_ip_reported']} "
                        f"ClientPort {p['client_port_reported']} → {p['client_port']} "
                        f"({reading}); observed {p['observed_client']}; NAT {nat}"}

    def _sync(self, ev: E.ListSync):
        who = self._who(ev.conn)
        if ev.contacts is None:
            return {"event": "contact-list", "account": who, "version": ev.version,
                    "text": f"contacts  {who}: list up to date (version {ev.version})"}
        return {"event": "contact-list", "account": who, "version": ev.version,
                "contacts": ev.contacts, "groups": ev.groups,
                "text": f"contacts  {who}: version {ev.version}, {ev.contacts} contacts, "
                        f"{ev.groups} groups"}

    def _made(self, table: str) -> dict | None:
        """The row the model made of this event (its decoded facts, not worked out
        again here), if it made one of this table."""
        made = self.a.made
        return made[1] if made is not None and made[0] == table else None

    def _presence(self, ev: E.Presence):
        who = ev.passport or self._who(ev.conn)
        caps = ""
        row = self._made("presence") or {}
        msnc, names = row.get("msnc_version"), row.get("capabilities") or []
        if ev.client_id is not None and msnc is not None:
            caps = f" [MSNC{msnc}{': ' + ', '.join(names) if names else ''}]"
        status = row.get("status_name") or ev.status
        name = f" “{ev.friendly_name}”" if ev.friendly_name else ""
        owner = "" if ev.passport is None else f" (seen by {self._who(ev.conn)})"
        return {"event": "presence", "command": ev.command, "passport": who,
                "status": ev.status, "client_id": ev.client_id, "msnc_version": msnc,
                "capabilities": names,
                "text": f"presence  {who}{name} is {status}{caps}{owner}"}

    def _challenge(self, ev: E.Challenge):
        return {"event": "challenge", "challenge": ev.challenge,
                "text": f"challenge {self._who(ev.conn)}: CHL {ev.challenge}"}

    def _answer(self, ev: E.ChallengeAnswer):
        row = self._made("challenges")
        valid = row["valid"] if row is not None else None
        v = {True: "valid", False: "INVALID", None: "not checkable"}[valid]
        return {"event": "challenge-answer", "product_id": ev.product_id, "valid": valid,
                "text": f"challenge {self._who(ev.conn)}: QRY {ev.product_id} answer {v}"}

    def _error(self, ev: E.ErrorReply):
        req = f" (answers {ev.request} {ev.trid})" if ev.request else ""
        return {"event": "error", "code": ev.code, "name": ev.name, "request": ev.request,
                "text": f"error     {self._who(ev.conn)}: {ev.code} {ev.name}{req}"}

    def _logout(self, ev: E.Logout):
        reason = f" ({ev.reason})" if ev.reason else ""
        s = self.a.sessions.get(ev.conn)
        if s is not None and s.kind == "switchboard":
            return {"event": "participant", "passport": self._who(ev.conn), "command": "OUT",
                    "text": f"chat      * {self._who(ev.conn)} leaves the switchboard (OUT)"}
        return {"event": "sign-out", "account": self._who(ev.conn), "reason": ev.reason,
                "text": f"sign-out  {self._who(ev.conn)}{reason}"}

    def _ring(self, ev: E.Ring):
        return {"event": "ring", "account": self._who(ev.conn), "inviter": ev.inviter,
                "session_id": ev.session_id,
                "text": f"ring      {ev.inviter} invites {self._who(ev.conn)} to switchboard "
                        f"{ev.session_id} at {ev.address}"}

    # ------------------------------------------------------------ SB
    def _join(self, ev: E.SbJoinRequest):
        return {"event": "switchboard", "account": ev.passport, "how": ev.how,
                "text": f"chat      {ev.passport} opens a switchboard ({ev.how})"}

    def _participant(self, ev: E.Participant):
        what = {"IRO": "is there", "JOI": "joins", "BYE": "leaves"}[ev.command]
        if ev.timeout:
            what = "times out"
        return {"event": "participant", "passport": ev.passport, "command": ev.command,
                "text": f"chat      * {ev.passport} {what}"}

    def _message(self, ev: E.Message):
        s = self.a.sessions.get(ev.conn)
        me = s.passport if s else None
        sender = ev.sender if ev.dir == 1 else (ev.sender or me)
        present = set(s.sb_state.present) if s and s.sb_state else set()
        if me:
            present.add(me)
        present.discard(sender)
        rcpt = ", ".join(sorted(present)) or "?"
        ct = ev.content_type
        if ct == "text/x-msmsgscontrol":
            if not self.typing or (ev.conn in self.last_typing
                                   and self.last_typing[ev.conn] == sender):
                return None         # (an unknown sender's first notice is shown too)
            self.last_typing[ev.conn] = sender
            return {"event": "typing", "sender": sender, "text": f"typing    {sender or 'unknown'} …"}
        if ct == "text/plain":
            row = s.last_message if s else None
            text = row["text"] if row else ev.body.decode("utf-8", "replace")
            return {"event": "message", "sender": sender, "recipients": sorted(present),
                    "message": text,
                    "text": f"chat      {sender or 'unknown'} → {rcpt}: {text}"}
        if ct == "text/x-msmsgsinvite":
            row = s.last_message if s else None
            text = row["text"] if row else "invitation"
            return {"event": "invitation", "sender": sender, "summary": text,
                    "text": f"invite    {sender or 'unknown'} → {rcpt}: {text}"}
        return {"event": "message-other", "sender": sender, "content_type": ct,
                "text": f"chat      {sender or 'unknown'} → {rcpt}: [{ct}] {len(ev.body)} bytes"}

    # ------------------------------------------------------------ MSNFTP
    def _ftp_file(self, ev: E.FtpFile):
        return {"event": "transfer", "size": ev.size,
                "text": f"transfer  session {ev.conn}: file of {ev.size} bytes announced"}

    def _ftp_end(self, ev: E.FtpEnd):
        s = self.a.sessions.get(ev.conn)
        t = s.transfer if s else None
        got = t.received if t else 0
        size = t.size if t else None
        how = ev.how + (f" {ev.code} ({FTP_BYE_CODES.get(ev.code, 'unknown code')})"
                        if ev.code is not None else "")
        return {"event": "transfer-end", "how": ev.how, "code": ev.code, "received": got,
                "size": size, "text": f"transfer  session {ev.conn}: {how}; {got} of "
                                      f"{size if size is not None else '?'} bytes"}

    # ------------------------------------------------------------ damage
    def _anomaly(self, ev: E.Anomaly):
        return {"event": "damage", "kind": ev.kind, "detail": ev.detail,
                "text": f"damage    session {ev.conn}: {ev.kind}: {ev.detail}"}


# each event class's line maker (typed per event above; the table only dispatches)
_FORMATS: dict[type, Callable[[LiveFormatter, Any], dict | None]] = {
    E.LoginOk: LiveFormatter._login, E.Profile: LiveFormatter._profile,
    E.ListSync: LiveFormatter._sync, E.Presence: LiveFormatter._presence,
    E.Challenge: LiveFormatter._challenge, E.ChallengeAnswer: LiveFormatter._answer,
    E.ErrorReply: LiveFormatter._error, E.Logout: LiveFormatter._logout,
    E.Ring: LiveFormatter._ring, E.SbJoinRequest: LiveFormatter._join,
    E.Participant: LiveFormatter._participant, E.Message: LiveFormatter._message,
    E.FtpFile: LiveFormatter._ftp_file, E.FtpEnd: LiveFormatter._ftp_end,
    E.Anomaly: LiveFormatter._anomaly, E.OwnName: LiveFormatter._own_name,
    E.PersonalMessage: LiveFormatter._personal,
}
