"""One connection's state while it is open, and its row in the sessions table."""

from __future__ import annotations

from .timefmt import iso  # noqa: F401 - re-exported for the model


def byteswap16(v: int) -> int:
    return ((v & 0xFF) << 8) | ((v >> 8) & 0xFF)


def contact(passport):
    return {"passport": passport, "friendly_name": None, "list_bits": 0, "groups": [],
            "phones": {}, "contact_id": None, "network": None}


class Session:
    """Everything known about one open connection.  Rows of the other tables wait in
    ``rows`` until the connection closes, when the owner and recipients are final."""

    def __init__(self, sid, client, server, start):
        self.id = sid
        self.kind = "unknown"
        self.client = client
        self.server = server
        self.start = start
        self.end = None
        self.close_reason = None
        self.transport = "tcp"           # or http-gateway (reference §9)
        self.carriers = []               # gateway: the TCP connections that carried it
        self.gateway_ids = []            # gateway: every SessionID it was given
        self.gw_ip = None
        self.polls = 0
        self.protocol = None
        self.protocol_source = None      # VER, offer or inferred (docs/dialects.md)
        self.versions_offered = None
        self.passport = None
        self.owner_from = None
        self.friendly_name = None
        self.friendly_name_at_login = None
        self.personal_message = None
        self.machine_guid = None
        self.client_name = None
        self.client_version = None
        self.locale = None
        self.os = None
        self.login = None
        self.login_time = None
        self.login_error = None
        self.auth_method = None
        self.verified = None
        self.extra_flag = None
        self.server_versions = None
        self.policy = None
        self.ticket = None
        self.auth_nonce = None           # SSO nonce (MSNP15+)
        self.auth_response = None        # SSO signed nonce (a credential)
        self.redirect_target = None
        self.redirect_ts = None
        self.redirected_to = None        # dispatch: the NS connection that followed
        self.redirected_from = None      # NS: the dispatch connection that sent it
        self.profile = None
        self.logout = None
        self.list_version = None
        self.syn = None
        self.settings = {}
        self.phones = {}
        self.contacts = {}           # passport -> contact dict
        self.contact_ids = {}        # MSNP10+ contact GUID -> passport
        self.contacts_dropped = 0    # contacts past Limits.max_contacts
        self.contacts_source = None  # SYN (the list itself) or ADL (MSNP13+)
        self.groups = {}             # id -> name
        self.challenge = None
        # switchboard
        self.sb_how = None
        self.sb_cookie = None
        self.sb_session_id = None
        self.present = {}            # passport -> friendly name (others, now)
        self.participants = {}       # everyone ever present (others)
        self.endpoints = {}          # account -> MPOP endpoints present (MSNP16+)
        self.endpoints_seen = {}     # account -> every endpoint that joined
        self.left_by_endpoint = set()  # accounts whose last endpoint sent BYE
        self.called = {}             # passports the local account CALed
        self.invites = {}            # invitation cookie -> row
        self.linked_ns = None
        # MSNFTP
        self.transfer = None
        # rows of other tables, by table, until they can be settled (see model/__init__)
        self.rows: dict[str, list] = {}
        self.held: list = []          # the same rows as (table, row), in the order made
        self.waiting = 0
        self.settled = False
        self.last_message = None         # the latest messages row (for live lines)
        self.bytes_c2s = 0
        self.bytes_s2c = 0
        self.gap_bytes = 0

    @property
    def client_ip(self) -> str:
        return self.client.rpartition(":")[0]

    def row(self) -> dict:
        r = {
            "id": self.id, "kind": self.kind, "client": self.client, "server": self.server,
            "start": iso(self.start), "end": iso(self.end), "close_reason": self.close_reason,
            "transport": self.transport,
            "gateway_session_id": self.gateway_ids[-1] if self.gateway_ids else None,
            "gateway_session_ids": self.gateway_ids or None,
            "http_connections": self.carriers or None, "gateway_polls":
                self.polls if self.transport == "http-gateway" else None,
            "gw_ip": self.gw_ip,
            "protocol": self.protocol, "protocol_source": self.protocol_source,
            "versions_offered": self.versions_offered,
            "passport": self.passport, "friendly_name": self.friendly_name,
            "friendly_name_at_login": self.friendly_name_at_login,
            "personal_message": self.personal_message, "machine_guid": self.machine_guid,
            "client_name": self.client_name, "client_version": self.client_version,
            "locale": self.locale, "os": self.os, "auth_method": self.auth_method,
            "login": self.login, "login_error": self.login_error,
            "login_time": iso(self.login_time), "verified": self.verified,
            "extra_flag": self.extra_flag, "server_versions": self.server_versions,
            "policy": self.policy, "ticket": self.ticket, "auth_nonce": self.auth_nonce,
            "auth_response": self.auth_response,
            "redirected_to": self.redirect_target,
            "redirected_to_session": self.redirected_to,
            "redirected_from_session": self.redirected_from, "profile": self.profile,
            "list_version": self.list_version, "syn": self.syn,
            "contacts_source": self.contacts_source,
            "settings": self.settings or None, "phones": self.phones or None,
            "logout": self.logout, "participants": None, "sb_role": self.sb_how,
            "sb_cookie": self.sb_cookie, "sb_session_id": self.sb_session_id,
            "linked_session": self.linked_ns, "owner_from": self.owner_from,
            "bytes_c2s": self.bytes_c2s, "bytes_s2c": self.bytes_s2c,
            "gap_bytes": self.gap_bytes,
        }
        if self.kind in ("switchboard", "p2p-direct"):
            people = dict(self.participants)
            if self.passport:
                people.setdefault(self.passport, self.friendly_name)
            r["participants"] = sorted(people)
            r["endpoints"] = {a: sorted(e) for a, e in sorted(self.endpoints_seen.items())} or None
        return r
