"""Folding switchboard events (reference §3, §4): messages, participants, invitations."""

from __future__ import annotations

from typing import Any

from ..protocol.mime import (
    APPLICATIONS,
    decode_text,
    file_name,
    header,
    known_charset,
    parse_fields,
    parse_format,
)
from ..protocol.numbers import net_int
from ..protocol.tables import raw_bytes
from ..protocol.xmlpayload import parse_msnobj
from .host import FoldBase
from .session import Session, iso

_KINDS = {"text/plain": "text", "text/x-msmsgscontrol": "typing"}
# text/x-msnmsgr-datacast ID values (MSNP12+): what the client shows for each
_DATACAST = {"1": "nudge", "2": "wink", "3": "voice clip", "4": "action"}
_EMOTICONS = ("text/x-mms-emoticon", "text/x-mms-animemoticon")
# messages that announce transfers (invitations make their links; emoticons and winks /
# voice clips name the P2P objects fetched next): built in full even when the consumer
# does not want message rows
_ANNOUNCING = frozenset({"text/x-msmsgsinvite", "text/x-msnmsgr-datacast", *_EMOTICONS})


class SbFold(FoldBase):
    def on_sb_request(self, ev):
        s = self._s(ev)
        s.kind = "switchboard"
        self._learn(s, ev.passport)
        sb = s.sb
        sb.how, sb.cookie, sb.session_id = ev.how, ev.cookie, ev.session_id
        if ev.endpoint:
            s.machine_guid = ev.endpoint

    def on_sb_joined(self, ev):
        s = self._s(ev)
        if ev.passport:
            self._learn(s, ev.passport)
        if ev.friendly_name:
            s.friendly_name = ev.friendly_name

    def on_participant(self, ev):
        """One row per account joining or leaving.  MSNP16+ (MPOP) announces an account
        once per endpoint (``JOI pp;{guid}``) and once bare: those fold into the
        account, the endpoints are kept (sessions.endpoints)."""
        s = self._s(ev)
        sb = s.sb
        who = ev.passport
        own = s.passport is not None and who.lower() == s.passport.lower()
        if own and ev.endpoint and s.machine_guid and \
                ev.endpoint.strip("{}").lower() == s.machine_guid.strip("{}").lower():
            return      # this connection's own endpoint (Escargot lists the joiner in IRO)
        if ev.command == "BYE":
            if ev.endpoint:
                eps = sb.endpoints.setdefault(who, set())   # the account's endpoints present
                eps.discard(ev.endpoint)
                if eps:
                    return          # the account is still there on another endpoint
                sb.left_by_endpoint.add(who)
            elif who in sb.left_by_endpoint:
                sb.left_by_endpoint.discard(who)
                return              # the bare BYE after the last endpoint's: folded
            if own:
                # the account's other machine left; this connection is still here
                detail = "left on one endpoint (still here on another)"
            else:
                sb.present.pop(who, None)
                detail = "left (idle timeout)" if ev.timeout else "left"
        else:
            if ev.endpoint:
                eps = sb.endpoints.setdefault(who, set())
                known = ev.endpoint in eps
                eps.add(ev.endpoint)
                sb.endpoints_seen.setdefault(who, set()).add(ev.endpoint)
            else:
                known = False
            if who in sb.present:
                if known or ev.endpoint is None:
                    return          # the same account again (MPOP): folded
                detail = "another endpoint joined"
            else:
                detail = "was there" if ev.command == "IRO" else "joined"
            if own:
                # the connection's own account: another of its endpoints, or the server
                # echoing this one's join (MPOP)
                detail = ("was there on another endpoint" if ev.command == "IRO" else
                          "joined on another endpoint" if ev.endpoint else
                          "joined (the server's echo of this connection's account)")
            sb.present[who] = ev.friendly_name
            s.participants[who] = ev.friendly_name
        self._add(ev.conn, "participants", {
            "time": iso(ev.ts), "session": ev.conn, "capture": None, "owner": None,
            "command": ev.command, "passport": who, "friendly_name": ev.friendly_name, "event": detail,
            "endpoint": ev.endpoint, "client_id": ev.client_id})

    def on_calling(self, ev):
        # who the local account invited: the recipients when the server's side (JOI)
        # was not captured
        self._s(ev).sb.called.setdefault(ev.passport, None)

    def on_ringing(self, ev):
        sb = self._s(ev).sb
        sb.session_id = sb.session_id or ev.session_id

    def on_message(self, ev):
        s = self._s(ev)
        if ev.dir == 0 and ev.sender and s.passport is None and ev.via is None:
            # an outgoing typing notice names the local account (TypingUser, §4.3): the
            # connection's owner, as chats already shows it
            self._learn(s, ev.sender)
        ctype = ev.content_type
        if self.brief_messages and ctype not in _ANNOUNCING:
            row: dict[str, Any] = {"kind": _KINDS.get(ctype, "other")}
            if ctype == "text/plain":       # counted once, as the full rows are
                row["copy_of_session"] = self._seen_before(
                    s, ev.sender or (s.passport if ev.dir == 0 else None), ctype, ev.body, ev.ts)
            self.sink("messages", row)
            return
        sender = ev.sender
        row = self._msg_row(ev, s, sender=sender, recipients=None, ctype=ctype, kind="other",
                            text=None, ack=ev.ack, sender_name=ev.sender_name)
        row["missing_bytes"] = ev.missing
        charset = ev.charset
        if ctype == "text/plain":
            row["kind"] = "text"
            row["text"] = decode_text(ev.body, charset)
            row["text_raw"] = raw_bytes(row["text"])
            if not known_charset(charset):
                self.sink("anomalies", {"time": iso(ev.ts), "session": ev.conn,
                                        "direction": "c2s" if ev.dir == 0 else "s2c",
                                        "kind": "bad charset", "detail": f"charset {charset!r} "
                                        "is not one Python knows: decoded as UTF-8",
                                        "offset": None, "length": None})
            fmt = ev.header("x-mms-im-format")
            if fmt:
                f = parse_format(fmt)
                row.update(font=f["font"], effects=f["effects"], color=f["color"],
                           charset=f["charset"], pitch_family=f["pitch_family"], rtl=f["rtl"])
        elif ctype == "text/x-msmsgscontrol":
            row["kind"] = "typing"
            row["sender"] = ev.header("typinguser") or sender
        elif ctype == "text/x-msmsgsinvite":
            row["kind"] = "invitation"
            row["text"] = self._invitation(ev, s, row)
        elif ctype == "text/x-msnmsgr-datacast":
            self._datacast(ev, row)
        elif ctype in _EMOTICONS:
            # "shortcut<TAB>msnobject<TAB>…": the shortcuts this message's text uses
            parts = decode_text(ev.body, charset).split("\t")
            shortcuts = [x for x in parts[0::2] if x.strip()]
            row["kind"] = "emoticon"
            row["text"] = " ".join(shortcuts)
            objs = {k: parse_msnobj(v) for k, v in zip(parts[0::2], parts[1::2]) if k.strip()}
            row["msnobj"] = {k: v for k, v in objs.items() if v} or None
            for k, v in (row["msnobj"] or {}).items():
                self._remember(self.p2p_shortcuts, ((v.get("creator") or "").lower(),
                                                    v.get("sha1d")), (k, v, ev))
        else:
            body = ev.body
            try:
                summary = body.decode("utf-8")
            except UnicodeDecodeError:
                summary = body[:64].hex() + ("…" if len(body) > 64 else "")
            row["text"] = summary[:200]
            row["headers"] = {k: v for k, v in ev.headers.items()
                              if k.lower() not in ("mime-version",)}
            row["body_length"] = len(body)
        row["p4_context"] = ev.header("p4-context") or None
        if ev.via is not None:
            # UUM/UBM on the notification server: the other party is named on the line
            row["network"] = ev.network
            if ev.recipient:
                row["recipients"] = [ev.recipient]
                row["recipients_source"] = ev.via
            # MSNP18: a UUM to a Windows Live contact is an offline message (the server
            # stores it; Dest-Agent: client)
            row["offline"] = (ev.via == "UUM" and ev.network == 1
                              or (ev.header("dest-agent") or "").lower() == "client")
        s.last_message = row
        self._add(ev.conn, "messages", row)

    @staticmethod
    def _datacast(ev, row):
        f = parse_fields(ev.body)
        kind = _DATACAST.get(header(f, "ID"))
        row["kind"] = kind or "other"
        data = header(f, "Data")
        if kind == "nudge":
            row["text"] = "nudge"
        elif kind == "action":
            row["text"] = data
        elif kind:
            obj = parse_msnobj(data)
            row["msnobj"] = obj
            name = (obj or {}).get("friendly_text") or (obj or {}).get("location")
            row["text"] = kind + (f": {name}" if name else "")
        else:
            row["text"] = f"datacast ID {header(f, 'ID') or '?'}"

    def _msg_row(self, ev, s: Session, sender, recipients, ctype, kind, text, ack, sender_name=None):
        # (a UUM/UBM on a notification server reads no roster: it has none)
        sb = s.sb_state
        # every column, in the schema's order (engine/analyze.py Rows then hands the row
        # on as it is, without a copy); the "_" keys are taken out when it is settled
        return {"time": iso(ev.ts), "session": ev.conn, "capture": None, "owner": None,
                "direction": "out" if ev.dir == 0 else "in", "sender": sender,
                "sender_name": sender_name, "recipients": recipients,
                "recipients_source": None, "content_type": ctype, "kind": kind,
                "text": text, "text_raw": None, "font": None, "effects": None, "color": None,
                "charset": None, "pitch_family": None, "rtl": None, "ack": ack,
                "headers": None, "body_length": None, "missing_bytes": None,
                "p4_context": None, "msnobj": None, "network": None, "copy_of_session": None,
                "offline": None,
                "_present": sorted(sb.present) if sb else [],
                "_called": sorted(sb.called) if sb else [], "_ts": ev.ts}

    def _invitation(self, ev, s: Session, row) -> str:
        f = parse_fields(ev.body)
        cmd = header(f, "Invitation-Command").upper()
        cookie = header(f, "Invitation-Cookie")
        invites = s.sb.invites
        inv = invites.get(cookie)
        if inv is None:
            inv = invites[cookie] = {
                "time": iso(ev.ts), "session": ev.conn, "owner": None, "cookie": cookie,
                "application": None, "guid": None, "inviter": None, "invitee": None,
                "file_name": None, "file_size": None, "connectivity": None, "status": None,
                "ip_address": None, "ip_address_internal": None, "port": None,
                "port_x": None, "auth_cookie": None, "sender_connect": None,
                "cancel_code": None, "commands": []}
            self._add(ev.conn, "invitations", inv)
        who = row["sender"]
        inv["commands"].append(cmd)
        if cmd == "INVITE":
            guid = header(f, "Application-GUID")
            inv.update(application=header(f, "Application-Name") or
                       APPLICATIONS.get(guid.lower()), guid=guid or None, status="invited",
                       connectivity=header(f, "Connectivity") or None)
            inv["inviter"] = who
            fn = header(f, "Application-File")
            if fn:
                inv["file_name"] = file_name(fn)
            size = header(f, "Application-FileSize")
            inv["file_size"] = net_int(size)
            return (f"INVITE {inv['application'] or '?'}"
                    + (f": {inv['file_name']} ({inv['file_size']} bytes)"
                       if inv["file_name"] else ""))
        if cmd == "ACCEPT":
            inv["status"] = "accepted"
            ip = header(f, "IP-Address")
            if ip:
                port = header(f, "Port")
                inv.update(ip_address=ip, port=net_int(port, 5),
                           auth_cookie=header(f, "AuthCookie") or None,
                           ip_address_internal=header(f, "IP-Address-Internal") or None,
                           sender_connect=header(f, "Sender-Connect") or None)
                px = header(f, "PortX")
                inv["port_x"] = net_int(px, 5)
                self._offer(inv)
                return f"ACCEPT {cookie}: connect to {ip}:{port}"
            if inv["inviter"] != who:
                inv["invitee"] = who
            return f"ACCEPT {cookie}"
        if cmd == "CANCEL":
            inv["status"] = "cancelled"
            inv["cancel_code"] = header(f, "Cancel-Code") or None
            return f"CANCEL {cookie}: {inv['cancel_code'] or ''}".strip()
        return f"{cmd} {cookie}"
