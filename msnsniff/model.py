"""The analysis model: folds decoder events into sessions and tables.

``Analysis.apply(event)`` is the only mutation; ``Analysis.document()`` correlates the
connections (dispatch -> NS by the XFR target, NS -> switchboard by cookie, switchboard
-> MSNFTP by the invitation's address and AuthCookie, unknown owners by client address)
and returns the analysis document: one dict with a list of rows per table (the schema
is docs/schema.md).  No I/O.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from . import events as E
from .challenge import verify
from .clientid import decode_client_id
from .config import DEFAULT_LIMITS, Limits
from .mime import (APPLICATIONS, decode_text, file_name, header, media_type, parse_fields,
                   parse_format)
from .pipeline import ConnectionClosed, ConnectionOpened
from .protocol import FTP_BYE_CODES, FTP_SUCCESS, OUT_REASONS, STATUS_NAMES, list_names

from .schema import TABLE_NAMES as TABLES


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="microseconds") \
        .replace("+00:00", "Z")


def byteswap16(v: int) -> int:
    return ((v & 0xFF) << 8) | ((v >> 8) & 0xFF)


class Session:
    """Everything known about one connection."""

    def __init__(self, sid, client, server, start):
        self.id = sid
        self.kind = "unknown"
        self.client = client
        self.server = server
        self.start = start
        self.end = None
        self.close_reason = None
        self.protocol = None
        self.versions_offered = None
        self.passport = None
        self.friendly_name = None
        self.client_name = None
        self.client_version = None
        self.locale = None
        self.os = None
        self.login = None
        self.login_time = None
        self.login_error = None
        self.auth_method = None
        self.policy = None
        self.ticket = None
        self.redirect_target = None
        self.redirect_ts = None
        self.redirected_to = None
        self.redirected_from = None
        self.profile = None
        self.logout = None
        self.list_version = None
        self.settings = {}
        self.phones = {}
        self.contacts = {}           # passport -> contact dict
        self.groups = {}             # id -> name
        self.challenge = None
        # switchboard
        self.sb_how = None
        self.sb_cookie = None
        self.sb_session_id = None
        self.present = {}            # passport -> friendly name (others, now)
        self.participants = {}       # everyone ever present (others)
        self.called = {}             # passports the local account CALed
        self.linked_ns = None
        # bytes
        self.bytes_c2s = 0
        self.bytes_s2c = 0
        self.gap_bytes = 0


def _contact(passport):
    return {"passport": passport, "friendly_name": None, "list_bits": 0, "groups": [],
            "phones": {}}


class Analysis:
    def __init__(self, limits: Limits = DEFAULT_LIMITS, capture: str | None = None):
        self.limits = limits
        self.capture = capture
        self.sessions: dict[int, Session] = {}
        self.rows = {t: [] for t in TABLES}
        self.grants = {}            # XFR SB cookie -> NS session id
        self.rings = {}             # (cookie) -> (NS session id, RNG session id)
        self.invites = {}           # (session, cookie) -> invitation row
        self.ftp = {}               # session -> transfer state
        self.counts = {"commands": 0}

    # ------------------------------------------------------------ folding
    def apply(self, ev) -> None:
        h = _HANDLERS.get(type(ev))
        if h is not None:
            h(self, ev)

    def _s(self, ev) -> Session:
        s = self.sessions.get(ev.conn)
        if s is None:       # events of a connection opened before a live run started
            s = self.sessions[ev.conn] = Session(ev.conn, "?", "?", ev.ts)
        return s

    def on_open(self, ev):
        self.sessions[ev.conn] = Session(ev.conn, ev.client, ev.server, ev.start)

    def on_close(self, ev):
        s = self._s(ev)
        s.end = ev.ts
        s.close_reason = ev.reason
        s.bytes_c2s, s.bytes_s2c, s.gap_bytes = ev.bytes_c2s, ev.bytes_s2c, ev.gap_bytes
        if s.kind == "unknown" and ev.kind != "unknown":
            s.kind = ev.kind

    def on_role(self, ev):
        s = self._s(ev)
        if ev.role == "dispatch" or s.kind in ("unknown", None):
            s.kind = ev.role

    def on_anomaly(self, ev):
        self.rows["anomalies"].append({
            "time": iso(ev.ts), "session": ev.conn,
            "direction": {0: "c2s", 1: "s2c"}.get(ev.dir), "kind": ev.kind,
            "detail": ev.detail, "offset": ev.offset if ev.offset >= 0 else None,
            "length": ev.length})

    # login
    def on_ver_offer(self, ev):
        self._s(ev).versions_offered = list(ev.versions)

    def on_ver_chosen(self, ev):
        self._s(ev).protocol = ev.version

    def on_client_info(self, ev):
        s = self._s(ev)
        s.locale, s.os = ev.locale, f"{ev.os_type} {ev.os_version} {ev.arch}"
        s.client_name, s.client_version = ev.client_name, ev.client_version
        if ev.passport and not s.passport:
            s.passport = ev.passport

    def on_auth_start(self, ev):
        s = self._s(ev)
        s.auth_method = ev.method
        s.passport = s.passport or ev.passport

    def on_policy(self, ev):
        self._s(ev).policy = ev.policy

    def on_ticket(self, ev):
        self._s(ev).ticket = ev.ticket

    def on_redirect(self, ev):
        s = self._s(ev)
        s.kind = "dispatch"
        s.redirect_target, s.redirect_ts = ev.target, ev.ts

    def on_login_ok(self, ev):
        s = self._s(ev)
        s.passport = ev.passport
        s.friendly_name = ev.friendly_name
        s.login = "ok"
        s.login_time = ev.ts
        s.verified = ev.verified
        s.extra_flag = ev.flag

    def on_logout(self, ev):
        s = self._s(ev)
        s.logout = {"by": "client" if ev.dir == 0 else "server", "reason": ev.reason,
                    "meaning": OUT_REASONS.get(ev.reason or "", None), "time": iso(ev.ts)}

    def on_error(self, ev):
        s = self._s(ev)
        self.rows["errors"].append({"time": iso(ev.ts), "session": ev.conn, "owner": None,
                                    "code": ev.code, "name": ev.name, "trid": ev.trid,
                                    "request": ev.request})
        if ev.request == "USR" and s.kind in ("notification", "dispatch"):
            s.login = "failed"
            s.login_error = f"{ev.code} {ev.name}"

    # profile and Hotmail
    def on_profile(self, ev):
        s = self._s(ev)
        h = ev.headers
        ip = header(h, "ClientIP") or None
        port_s = header(h, "ClientPort")
        reported = int(port_s) if port_s.isdigit() else None
        obs_ip, _, obs_port = s.client.rpartition(":")
        obs_ip = obs_ip.strip("[]")
        obs_port = int(obs_port) if obs_port.isdigit() else None
        swapped = byteswap16(reported) if reported is not None else None
        if reported is None or obs_port is None or reported == 0:
            port_bs = None
        elif swapped == obs_port and reported != obs_port:
            port_bs = True
        elif reported == obs_port:
            port_bs = False
        else:
            port_bs = None
        if port_bs is False:
            client_port = reported
        else:
            client_port = swapped           # what real MSN servers meant (§2.9)
        if ip is None or obs_port is None or reported in (None, 0):
            nat = None
        else:
            nat = not (ip == obs_ip and port_bs is not None)
        s.profile = {"client_ip_reported": ip, "client_port_reported": reported,
                     "client_port": client_port, "client_port_byteswapped": swapped,
                     "observed_client": s.client, "port_byteswapped": port_bs, "nat": nat,
                     "login_time": iso(ev.ts), "headers": dict(h)}
        s.login_time = s.login_time or ev.ts

    def on_hotmail(self, ev):
        kind = {"text/x-msmsgsinitialemailnotification": "initial e-mail status",
                "text/x-msmsgsemailnotification": "new e-mail",
                "text/x-msmsgsactivemailnotification": "mailbox activity",
                "application/x-msmsgssystemmessage": "system message",
                "text/x-msmsgssystemmessage": "system message"}.get(ev.content_type,
                                                                    ev.content_type or "other")
        fields = {k: v for k, v in ev.fields.items()
                  if k.lower() not in ("mime-version", "content-type")}
        self._note(ev, "MSG", kind, "; ".join(f"{k}={v}" for k, v in fields.items()), fields)

    def _note(self, ev, command, what, summary, fields=None):
        self.rows["notifications"].append({
            "time": iso(ev.ts), "session": ev.conn, "owner": None,
            "direction": "c2s" if ev.dir == 0 else "s2c", "command": command, "what": what,
            "summary": summary, "fields": fields})

    def on_server_versions(self, ev):
        self._s(ev).server_versions = {"recommended": ev.recommended, "minimum": ev.minimum,
                                       "download_url": ev.download_url, "info_url": ev.info_url}

    def on_ns_other(self, ev):
        what = {"URL": "service URL", "SDC": "e-mail invitation", "SND": "e-mail invitation",
                "PNG": "ping", "QNG": "ping reply", "PAG": "page", "IPG": "incoming page",
                "NOT": "MSN alert", "UBX": "personal message (MSNP11+)",
                "UUX": "personal message (MSNP11+)", "GCF": "config file (MSNP11+)",
                }.get(ev.verb, "other command")
        self._note(ev, ev.verb, what, " ".join(ev.params))

    def on_xfr_sb(self, ev):
        self.grants[ev.cookie] = ev.conn
        self._note(ev, "XFR", "switchboard granted", f"{ev.address} cookie {ev.cookie}",
                   {"address": ev.address, "cookie": ev.cookie})

    def on_ring(self, ev):
        self.rings[ev.cookie] = (ev.conn, ev.session_id)
        self._note(ev, "RNG", "switchboard invitation",
                   f"{ev.inviter} ({ev.inviter_name}) invites to switchboard session "
                   f"{ev.session_id} at {ev.address}",
                   {"inviter": ev.inviter, "inviter_name": ev.inviter_name,
                    "session_id": ev.session_id, "address": ev.address, "cookie": ev.cookie})

    # lists
    def on_list_sync(self, ev):
        s = self._s(ev)
        s.list_version = ev.version
        s.syn = {"version": ev.version, "contacts_declared": ev.contacts,
                 "groups_declared": ev.groups}

    def on_setting(self, ev):
        self._s(ev).settings[ev.name] = ev.value

    def on_phone(self, ev):
        s = self._s(ev)
        if ev.passport is None:
            s.phones[ev.key] = ev.value
        else:
            s.contacts.setdefault(ev.passport, _contact(ev.passport))["phones"][ev.key] = ev.value

    def on_group(self, ev):
        self._s(ev).groups[ev.group_id] = ev.name

    def on_contact(self, ev):
        s = self._s(ev)
        c = s.contacts.setdefault(ev.passport, _contact(ev.passport))
        c["friendly_name"] = ev.friendly_name
        c["list_bits"] |= ev.list_bits
        for g in ev.groups:
            if g not in c["groups"]:
                c["groups"].append(g)

    def on_list_change(self, ev):
        from .protocol import LIST_BIT
        s = self._s(ev)
        if ev.version is not None:
            s.list_version = ev.version
        self.rows["list_changes"].append({
            "time": iso(ev.ts), "session": ev.conn, "owner": None, "op": ev.op,
            "list": ev.list, "passport": ev.passport, "friendly_name": ev.friendly_name,
            "group_id": ev.group_id, "version": ev.version, "by_server": ev.by_server})
        if ev.op == "REA":
            if s.passport and ev.passport == s.passport:
                s.friendly_name = ev.friendly_name
            elif ev.passport in s.contacts:
                s.contacts[ev.passport]["friendly_name"] = ev.friendly_name
            return
        bit = LIST_BIT.get(ev.list or "", 0)
        if ev.op == "ADD":
            c = s.contacts.setdefault(ev.passport, _contact(ev.passport))
            c["list_bits"] |= bit
            if ev.friendly_name:
                c["friendly_name"] = ev.friendly_name
            if ev.group_id is not None and ev.group_id not in c["groups"]:
                c["groups"].append(ev.group_id)
        elif ev.op == "REM" and ev.passport in s.contacts:
            c = s.contacts[ev.passport]
            if ev.list == "FL" and ev.group_id is not None:
                if ev.group_id in c["groups"]:
                    c["groups"].remove(ev.group_id)
                if not c["groups"]:
                    c["list_bits"] &= ~bit
            else:
                c["list_bits"] &= ~bit
                if ev.list == "FL":
                    c["groups"] = []

    def on_group_change(self, ev):
        s = self._s(ev)
        if ev.version is not None:
            s.list_version = ev.version
        self.rows["list_changes"].append({
            "time": iso(ev.ts), "session": ev.conn, "owner": None, "op": ev.op, "list": None,
            "passport": None, "friendly_name": ev.name, "group_id": ev.group_id,
            "version": ev.version, "by_server": False})
        if ev.op in ("ADG", "REG") and ev.group_id is not None:
            s.groups[ev.group_id] = ev.name
        elif ev.op == "RMG":
            s.groups.pop(ev.group_id, None)
            for c in s.contacts.values():
                if ev.group_id in c["groups"]:
                    c["groups"].remove(ev.group_id)

    # presence
    def on_presence(self, ev):
        s = self._s(ev)
        msnc, caps = (decode_client_id(ev.client_id) if ev.client_id is not None
                      else (None, []))
        self.rows["presence"].append({
            "time": iso(ev.ts), "session": ev.conn, "owner": None, "command": ev.command,
            "passport": ev.passport, "status": ev.status,
            "status_name": STATUS_NAMES.get(ev.status, ev.status),
            "friendly_name": ev.friendly_name, "client_id": ev.client_id,
            "msnc_version": msnc, "capabilities": caps})
        if ev.passport and ev.friendly_name and ev.passport in s.contacts:
            s.contacts[ev.passport]["friendly_name"] = ev.friendly_name

    # challenges
    def on_challenge(self, ev):
        s = self._s(ev)
        s.challenge = ev.challenge
        self.rows["challenges"].append({
            "time": iso(ev.ts), "session": ev.conn, "challenge": ev.challenge,
            "product_id": None, "response": None, "valid": None, "accepted": None,
            "trid": None})

    def on_answer(self, ev):
        s = self._s(ev)
        row = next((r for r in reversed(self.rows["challenges"])
                    if r["session"] == ev.conn and r["response"] is None), None)
        if row is None:
            row = {"time": iso(ev.ts), "session": ev.conn, "challenge": None, "accepted": None}
            self.rows["challenges"].append(row)
        row.update(product_id=ev.product_id, response=ev.response, trid=ev.trid,
                   valid=verify(row["challenge"], ev.product_id, ev.response))
        del s

    def on_chal_result(self, ev):
        for r in reversed(self.rows["challenges"]):
            if r["session"] == ev.conn and r.get("trid") == ev.trid:
                r["accepted"] = ev.accepted
                return

    # switchboard
    def on_sb_request(self, ev):
        s = self._s(ev)
        s.kind = "switchboard"
        s.passport = ev.passport
        s.sb_how, s.sb_cookie, s.sb_session_id = ev.how, ev.cookie, ev.session_id

    def on_sb_joined(self, ev):
        s = self._s(ev)
        if ev.passport:
            s.passport = ev.passport
        if ev.friendly_name:
            s.friendly_name = ev.friendly_name

    def on_participant(self, ev):
        s = self._s(ev)
        if ev.command == "BYE":
            s.present.pop(ev.passport, None)
            detail = "left (idle timeout)" if ev.timeout else "left"
        else:
            s.present[ev.passport] = ev.friendly_name
            s.participants[ev.passport] = ev.friendly_name
            detail = "was there" if ev.command == "IRO" else "joined"
        self.rows["participants"].append({
            "time": iso(ev.ts), "session": ev.conn, "owner": None, "command": ev.command,
            "passport": ev.passport, "friendly_name": ev.friendly_name, "event": detail})

    def on_calling(self, ev):
        # who the local account invited: the recipients when the server's side (JOI)
        # was not captured
        self._s(ev).called.setdefault(ev.passport, None)

    def on_ringing(self, ev):
        s = self._s(ev)
        s.sb_session_id = s.sb_session_id or ev.session_id

    def on_message(self, ev):
        s = self._s(ev)
        ctype = ev.content_type
        sender = ev.sender
        row = self._msg_row(ev, s, sender=sender, recipients=None, ctype=ctype, kind="other",
                            text=None, ack=ev.ack, sender_name=ev.sender_name)
        row["missing_bytes"] = ev.missing
        _, charset = media_type(ev.headers)
        if ctype == "text/plain":
            row["kind"] = "text"
            row["text"] = decode_text(ev.body, charset)
            fmt = header(ev.headers, "X-MMS-IM-Format")
            if fmt:
                f = parse_format(fmt)
                row.update(font=f["font"], effects=f["effects"], color=f["color"],
                           charset=f["charset"], pitch_family=f["pitch_family"], rtl=f["rtl"])
        elif ctype == "text/x-msmsgscontrol":
            row["kind"] = "typing"
            row["sender"] = header(ev.headers, "TypingUser") or sender
        elif ctype == "text/x-msmsgsinvite":
            row["kind"] = "invitation"
            row["text"] = self._invitation(ev, s, row)
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
        self.rows["messages"].append(row)

    def _msg_row(self, ev, s, sender, recipients, ctype, kind, text, ack, sender_name=None):
        return {"time": iso(ev.ts), "session": ev.conn, "owner": None,
                "direction": "out" if ev.dir == 0 else "in", "sender": sender,
                "sender_name": sender_name, "recipients": recipients,
                "_present": sorted(s.present), "_called": sorted(s.called),
                "content_type": ctype, "kind": kind,
                "text": text, "font": None, "effects": None, "color": None, "charset": None,
                "pitch_family": None, "ack": ack}

    def _invitation(self, ev, s, row) -> str:
        f = parse_fields(ev.body)
        cmd = header(f, "Invitation-Command").upper()
        cookie = header(f, "Invitation-Cookie")
        key = (ev.conn, cookie)
        inv = self.invites.get(key)
        if inv is None:
            inv = self.invites[key] = {
                "time": iso(ev.ts), "session": ev.conn, "owner": None, "cookie": cookie,
                "application": None, "guid": None, "inviter": None, "invitee": None,
                "file_name": None, "file_size": None, "connectivity": None, "status": None,
                "ip_address": None, "ip_address_internal": None, "port": None,
                "port_x": None, "auth_cookie": None, "sender_connect": None,
                "cancel_code": None, "commands": [], "_sender_dir": ev.dir}
            self.rows["invitations"].append(inv)
        who = row["sender"]
        inv["commands"].append(cmd)
        if cmd == "INVITE":
            guid = header(f, "Application-GUID")
            inv.update(application=header(f, "Application-Name") or
                       APPLICATIONS.get(guid.lower()), guid=guid or None, status="invited",
                       connectivity=header(f, "Connectivity") or None, _inviter_dir=ev.dir)
            inv["inviter"] = who
            fn = header(f, "Application-File")
            if fn:
                inv["file_name"] = file_name(fn)
            size = header(f, "Application-FileSize")
            inv["file_size"] = int(size) if size.isdigit() else None
            return (f"INVITE {inv['application'] or '?'}"
                    + (f": {inv['file_name']} ({inv['file_size']} bytes)"
                       if inv["file_name"] else ""))
        if cmd == "ACCEPT":
            inv["status"] = "accepted"
            ip = header(f, "IP-Address")
            if ip:
                port = header(f, "Port")
                inv.update(ip_address=ip, port=int(port) if port.isdigit() else None,
                           auth_cookie=header(f, "AuthCookie") or None,
                           ip_address_internal=header(f, "IP-Address-Internal") or None,
                           sender_connect=header(f, "Sender-Connect") or None)
                px = header(f, "PortX")
                inv["port_x"] = int(px) if px.isdigit() else None
                return f"ACCEPT {cookie}: connect to {ip}:{port}"
            if inv["inviter"] != who:
                inv["invitee"] = who
            return f"ACCEPT {cookie}"
        if cmd == "CANCEL":
            inv["status"] = "cancelled"
            inv["cancel_code"] = header(f, "Cancel-Code") or None
            return f"CANCEL {cookie}: {inv['cancel_code'] or ''}".strip()
        return f"{cmd} {cookie}"

    def on_ack(self, ev):
        pass

    # MSNFTP
    def _t(self, ev):
        t = self.ftp.get(ev.conn)
        if t is None:
            s = self._s(ev)
            s.kind = "file-transfer"
            t = self.ftp[ev.conn] = {
                "session": ev.conn, "receiver": None, "auth_cookie": None, "size": None,
                "received": 0, "data": bytearray(), "sha": hashlib.sha256(),
                "end": None, "code": None, "started": None, "finished": None,
                "overflow": False, "missing_gaps": 0}
        return t

    def on_ftp_user(self, ev):
        t = self._t(ev)
        t["receiver"], t["auth_cookie"] = ev.passport, ev.auth_cookie
        self._s(ev).passport = ev.passport

    def on_ftp_file(self, ev):
        self._t(ev)["size"] = ev.size

    def on_ftp_start(self, ev):
        self._t(ev)["started"] = ev.ts

    def on_ftp_data(self, ev):
        t = self._t(ev)
        t["received"] += len(ev.data)
        t["sha"].update(ev.data)
        if len(t["data"]) + len(ev.data) <= self.limits.max_file_bytes:
            t["data"] += ev.data
        else:
            t["overflow"] = True
        t["finished"] = ev.ts

    def on_ftp_end(self, ev):
        t = self._t(ev)
        if t["end"] is None:
            t["end"], t["code"] = ev.how, ev.code
        t["finished"] = ev.ts

    # ------------------------------------------------------------ the document
    def document(self) -> dict:
        return _Correlator(self).run()


class _Correlator:
    """Links connections together and renders the tables (see Analysis.document)."""

    def __init__(self, a: Analysis):
        self.a = a
        self.s = a.sessions

    def run(self) -> dict:
        a = self.a
        self._link_dispatch()
        self._owners()
        doc = {t: [] for t in TABLES}
        for sid in sorted(self.s):
            doc["sessions"].append(self._session_row(self.s[sid]))
            self._lists(self.s[sid], doc)
        owner = {sid: s.passport for sid, s in self.s.items()}
        for t in ("presence", "list_changes", "errors", "invitations", "notifications",
                  "participants"):
            for r in a.rows[t]:
                r = {k: v for k, v in r.items() if not k.startswith("_")}
                if "owner" in r:
                    r["owner"] = owner.get(r["session"])
                if t == "presence" and r["command"] == "CHG" and r["passport"] is None:
                    r["passport"] = r["owner"]
                doc[t].append(r)
        for r in a.rows["challenges"]:
            doc["challenges"].append({k: r.get(k) for k in (
                "time", "session", "challenge", "product_id", "response", "valid",
                "accepted", "trid")})
        doc["anomalies"] = list(a.rows["anomalies"])
        for r in a.rows["messages"]:
            doc["messages"].append(self._message_row(r, owner))
        doc["transfers"] = self._transfers()
        return doc

    def _link_dispatch(self):
        for ds in self.s.values():
            if ds.kind != "dispatch" or not ds.redirect_target:
                continue
            cip = ds.client.rpartition(":")[0]
            for sid in sorted(self.s):
                ns = self.s[sid]
                if (ns is not ds and ns.kind == "notification" and ns.server == ds.redirect_target
                        and ns.client.rpartition(":")[0] == cip and ns.start >= ds.redirect_ts
                        and ns.redirected_from is None):
                    ds.redirected_to = ns.id
                    ns.redirected_from = ds.id
                    break

    def _owners(self):
        by_ip: dict[str, set] = {}
        for s in self.s.values():
            if s.passport and s.kind in ("notification", "dispatch", "switchboard"):
                by_ip.setdefault(s.client.rpartition(":")[0], set()).add(s.passport)
        for s in self.s.values():
            if s.kind == "notification" and s.passport is None:
                # a mid-session NS capture: the account of the same client address
                cands = by_ip.get(s.client.rpartition(":")[0], set())
                if len(cands) == 1:
                    s.passport = next(iter(cands))
                    s.owner_from = "client address"
        for s in self.s.values():
            if s.kind == "switchboard":
                if s.sb_cookie in self.a.grants:
                    s.linked_ns = self.a.grants[s.sb_cookie]
                elif s.sb_cookie in self.a.rings:
                    s.linked_ns = self.a.rings[s.sb_cookie][0]
                if s.passport is None:
                    # mid-session: the same client address as exactly one known account
                    cands = by_ip.get(s.client.rpartition(":")[0], set())
                    if len(cands) == 1:
                        s.passport = next(iter(cands))
                        s.owner_from = "client address"

    def _session_row(self, s: Session) -> dict:
        row = {
            "id": s.id, "kind": s.kind, "client": s.client, "server": s.server,
            "start": iso(s.start), "end": iso(s.end), "close_reason": s.close_reason,
            "protocol": s.protocol, "versions_offered": s.versions_offered,
            "passport": s.passport, "friendly_name": s.friendly_name,
            "client_name": s.client_name, "client_version": s.client_version,
            "locale": s.locale, "os": s.os, "auth_method": s.auth_method,
            "login": s.login, "login_error": s.login_error, "login_time": iso(s.login_time),
            "verified": getattr(s, "verified", None), "extra_flag": getattr(s, "extra_flag", None),
            "server_versions": getattr(s, "server_versions", None),
            "policy": s.policy, "ticket": s.ticket,
            "redirected_to": s.redirect_target, "redirected_to_session": s.redirected_to,
            "redirected_from_session": s.redirected_from, "profile": s.profile,
            "list_version": s.list_version, "syn": getattr(s, "syn", None),
            "settings": s.settings or None, "phones": s.phones or None,
            "logout": s.logout, "participants": None, "sb_role": s.sb_how,
            "sb_cookie": s.sb_cookie, "sb_session_id": s.sb_session_id,
            "linked_session": s.linked_ns, "owner_from": getattr(s, "owner_from", None),
            "bytes_c2s": s.bytes_c2s, "bytes_s2c": s.bytes_s2c, "gap_bytes": s.gap_bytes,
        }
        if s.kind == "switchboard":
            people = dict(s.participants)
            if s.passport:
                people.setdefault(s.passport, s.friendly_name)
            row["participants"] = sorted(people)
        return row

    def _lists(self, s: Session, doc):
        for gid in sorted(s.groups):
            doc["groups"].append({"session": s.id, "owner": s.passport, "group_id": gid,
                                  "name": s.groups[gid]})
        for c in s.contacts.values():
            doc["contacts"].append({
                "session": s.id, "owner": s.passport, "passport": c["passport"],
                "friendly_name": c["friendly_name"], "list_bits": c["list_bits"],
                "lists": list_names(c["list_bits"]), "groups": list(c["groups"]),
                # a group whose LSG was not captured is named by its id
                "group_names": [s.groups.get(g) or f"#{g}" for g in c["groups"]],
                "phones": c["phones"] or None})

    def _message_row(self, r, owner):
        r = dict(r)
        present = r.pop("_present")
        called = r.pop("_called")
        me = owner.get(r["session"])
        r["owner"] = me
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
        return r

    def _transfers(self) -> list:
        out = []
        invs = self.a.rows["invitations"]
        for sid, t in sorted(self.a.ftp.items()):
            s = self.s[sid]
            inv = None
            for cand in invs:
                if cand["auth_cookie"] and cand["auth_cookie"] == t["auth_cookie"]:
                    inv = cand
                    break
            if inv is None:
                sport = s.server.rpartition(":")[2]
                inv = next((c for c in invs if c["port"] is not None and str(c["port"]) == sport),
                           None)
            size = t["size"]
            expected = inv["file_size"] if inv else None
            want = size if size is not None else expected
            code = t["code"]
            if t["end"] in ("CCL", "abort") or (code is not None and code not in FTP_SUCCESS):
                status = "cancelled"
            elif want is not None and t["received"] >= want and (code in FTP_SUCCESS):
                status = "complete"
            else:
                status = "incomplete"
            out.append({
                "session": sid, "invitation_cookie": inv["cookie"] if inv else None,
                "invitation_session": inv["session"] if inv else None,
                "sender": inv["inviter"] if inv else None,
                "receiver": t["receiver"], "name": inv["file_name"] if inv else None,
                "size": want, "announced_size": expected, "received": t["received"],
                "missing_bytes": max(0, (want or 0) - t["received"]), "status": status,
                "end": t["end"], "bye_code": code,
                "bye_meaning": FTP_BYE_CODES.get(code) if code is not None else None,
                "size_matches_invitation": (None if expected is None or size is None
                                            else expected == size),
                "sha256": t["sha"].hexdigest() if t["received"] else None,
                "started": iso(t["started"]), "finished": iso(t["finished"]),
                "extracted_to": None, "_data": t["data"], "_overflow": t["overflow"]})
        return out


_HANDLERS = {
    ConnectionOpened: Analysis.on_open, ConnectionClosed: Analysis.on_close,
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
    E.FtpEnd: Analysis.on_ftp_end,
}
