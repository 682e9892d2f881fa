"""Folding notification-server events (reference §2, §5, §6, §7) into the session."""

from __future__ import annotations

from ..protocol.challenge import verify
from ..protocol.mime import header
from ..protocol.numbers import net_int
from ..protocol.tables import OUT_REASONS
from .lists import ListsFold
from .session import byteswap16, iso


class NsFold(ListsFold):
    made: tuple[str, dict] | None        # (the host's: see model/__init__.py)

    def on_ver_offer(self, ev):
        self._s(ev).ns.versions_offered = list(ev.versions)

    def on_ver_chosen(self, ev):
        s = self._s(ev)
        s.protocol = ev.version
        s.protocol_source = "VER"

    def on_dialect(self, ev):
        s = self._s(ev)
        if ev.source != "VER" or s.protocol is None:
            s.protocol = f"MSNP{ev.version}"
        s.protocol_source = ev.source

    def on_client_info(self, ev):
        s = self._s(ev)
        ns = s.ns
        ns.locale, ns.os = ev.locale, f"{ev.os_type} {ev.os_version} {ev.arch}"
        ns.client_name, ns.client_version = ev.client_name, ev.client_version
        if ev.passport and not s.passport:
            s.passport = ev.passport

    def on_auth_start(self, ev):
        s = self._s(ev)
        s.ns.auth_method = ev.method
        s.passport = s.passport or ev.passport

    def on_policy(self, ev):
        ns = self._s(ev).ns
        ns.policy = ev.policy
        ns.auth_nonce = ev.nonce

    def on_ticket(self, ev):
        s = self._s(ev)
        ns = s.ns
        ns.ticket = ev.ticket
        ns.auth_response = ev.response
        if ev.machine_guid:
            s.machine_guid = ev.machine_guid

    def on_redirect(self, ev):
        s = self._s(ev)
        s.kind = "dispatch"
        ns = s.ns
        ns.redirect_target = ev.target
        self.note_redirect(s)

    def on_login_ok(self, ev):
        s = self._s(ev)
        self._learn(s, ev.passport)
        ns = s.ns
        if ev.friendly_name is not None:          # MSNP10+: PRP MFN names the account
            s.friendly_name = ev.friendly_name
            ns.friendly_name_at_login = ev.friendly_name
        ns.login = "ok"
        ns.login_time = ev.ts
        ns.verified = ev.verified
        ns.extra_flag = ev.flag

    def on_logout(self, ev):
        s = self._s(ev)
        s.logout = {"by": "client" if ev.dir == 0 else "server", "reason": ev.reason,
                    "meaning": OUT_REASONS.get(ev.reason or "", None), "time": iso(ev.ts)}

    def on_error(self, ev):
        s = self._s(ev)
        self._add(ev.conn, "errors", {"time": iso(ev.ts), "session": ev.conn, "capture": None,
                                    "owner": None,
                                    "code": ev.code, "name": ev.name, "trid": ev.trid,
                                    "request": ev.request})
        if ev.request == "USR" and s.kind in ("notification", "dispatch"):
            ns = s.ns
            ns.login = "failed"
            ns.login_error = f"{ev.code} {ev.name}"

    def on_profile(self, ev):
        s = self._s(ev)
        h = ev.headers
        ip = header(h, "ClientIP") or None
        port_s = header(h, "ClientPort")
        reported = net_int(port_s, 5)
        obs_ip, _, obs_port_s = s.client.rpartition(":")
        obs_ip = obs_ip.strip("[]")
        obs_port = net_int(obs_port_s, 5)
        swapped = byteswap16(reported) if reported is not None else None
        known = reported not in (None, 0) and obs_port is not None   # 0: HTTP gateway
        as_swapped = known and swapped == obs_port
        as_plain = known and reported == obs_port
        # which reading matches the source port seen on the wire; a port whose two
        # bytes are equal reads the same both ways, so it cannot tell (null)
        port_bs = True if as_swapped and not as_plain else (
            False if as_plain and not as_swapped else None)
        # the corrected port: the matching reading, else what real servers meant (§2.9)
        client_port = obs_port if (as_swapped or as_plain) else swapped
        # NAT: a reported address other than the observed one is NAT, whatever the port
        # (real servers sent ClientPort 0 over plain TCP); with the same address, a known
        # port that matches neither reading was translated
        if ip is None or not obs_ip:
            nat = None
        elif ip != obs_ip:
            nat = True
        else:
            nat = (not (as_swapped or as_plain)) if known else None
        ns = s.ns
        ns.profile = {"client_ip_reported": ip, "client_port_reported": reported,
                      "client_port": client_port, "client_port_byteswapped": swapped,
                      "observed_client": s.client, "port_byteswapped": port_bs, "nat": nat,
                      "login_time": iso(ev.ts), "headers": dict(h)}
        ns.login_time = ns.login_time or ev.ts

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
        self._add(ev.conn, "notifications", {
            "time": iso(ev.ts), "session": ev.conn, "capture": None, "owner": None,
            "direction": "c2s" if ev.dir == 0 else "s2c", "command": command, "what": what,
            "summary": summary, "fields": fields})

    def on_server_versions(self, ev):
        self._s(ev).ns.server_versions = {"recommended": ev.recommended, "minimum": ev.minimum,
                                          "download_url": ev.download_url, "info_url": ev.info_url}

    def on_ns_other(self, ev):
        what = {"URL": "service URL", "SDC": "e-mail invitation", "SND": "e-mail invitation",
                "PNG": "ping", "QNG": "ping reply", "PAG": "page", "IPG": "incoming page",
                }.get(ev.verb, "other command")
        self._note(ev, ev.verb, what, " ".join(ev.params))

    def on_notice(self, ev):
        self._note(ev, ev.command, ev.what, ev.summary, ev.fields)

    def on_xfr_sb(self, ev):
        self._remember(self.grants, ev.cookie, ev.conn)
        self._note(ev, "XFR", "switchboard granted", f"{ev.address} cookie {ev.cookie}",
                   {"address": ev.address, "cookie": ev.cookie})

    def on_ring(self, ev):
        self._remember(self.rings, ev.cookie, (ev.conn, ev.session_id))
        self._note(ev, "RNG", "switchboard invitation",
                   f"{ev.inviter} ({ev.inviter_name}) invites to switchboard session "
                   f"{ev.session_id} at {ev.address}",
                   {"inviter": ev.inviter, "inviter_name": ev.inviter_name,
                    "session_id": ev.session_id, "address": ev.address, "cookie": ev.cookie})

    def on_challenge(self, ev):
        self._s(ev).ns.challenge = ev.challenge
        self._add(ev.conn, "challenges", {
            "time": iso(ev.ts), "session": ev.conn, "capture": None, "challenge": ev.challenge,
            "product_id": None, "response": None, "valid": None, "accepted": None,
            "trid": None})

    def on_answer(self, ev):
        row: dict | None = next((r for r in reversed(self._rows(ev.conn, "challenges"))
                                 if r["session"] == ev.conn and r["response"] is None), None)
        if row is None:
            row = {"time": iso(ev.ts), "session": ev.conn, "challenge": None, "accepted": None}
            self._add(ev.conn, "challenges", row)
        row.update(product_id=ev.product_id, response=ev.response, trid=ev.trid,
                   valid=verify(row["challenge"], ev.product_id, ev.response))
        self.made = ("challenges", row)

    def on_chal_result(self, ev):
        for r in reversed(self._rows(ev.conn, "challenges")):
            if r["session"] == ev.conn and r.get("trid") == ev.trid:
                r["accepted"] = ev.accepted
                return
