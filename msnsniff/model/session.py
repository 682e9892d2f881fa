"""One connection's state while it is open, and its row in the sessions table.

``Session`` holds what every kind of connection has; what only one kind's commands
write lives in a small state object beside it: ``NsState`` (dispatch and notification
servers), ``SbState`` (switchboards) and ``FtpState`` (an MSNFTP transfer).  They are
made on first write, so a connection carries only the state its commands wrote, and a
command seen on an unexpected kind of connection still lands where ``row()`` reads it.
"""

from __future__ import annotations

import hashlib

from .timefmt import iso  # noqa: F401 - re-exported for the model


def byteswap16(v: int) -> int:
    return ((v & 0xFF) << 8) | ((v >> 8) & 0xFF)


def contact(passport):
    return {"passport": passport, "friendly_name": None, "list_bits": 0, "groups": [],
            "phones": {}, "contact_id": None, "network": None}


class NsState:
    """Sign-in, authentication, the redirect and the contact list: what dispatch and
    notification-server commands write."""

    __slots__ = ("versions_offered", "friendly_name_at_login", "personal_message",
                 "client_name", "client_version", "locale", "os", "login", "login_time",
                 "login_error", "auth_method", "verified", "extra_flag", "server_versions",
                 "policy", "ticket", "auth_nonce", "auth_response", "redirect_target",
                 "redirected_to", "redirected_from", "profile",
                 "list_version", "syn", "settings", "phones", "contacts", "contact_ids",
                 "contacts_dropped", "contacts_source", "groups", "challenge")

    def __init__(self) -> None:
        self.versions_offered: list[str] | None = None
        self.friendly_name_at_login: str | None = None
        self.personal_message: str | None = None
        self.client_name: str | None = None
        self.client_version: str | None = None
        self.locale: str | None = None
        self.os: str | None = None
        self.login: str | None = None            # ok or failed
        self.login_time: float | None = None
        self.login_error: str | None = None
        self.auth_method: str | None = None
        self.verified: str | None = None
        self.extra_flag: str | None = None
        self.server_versions: dict | None = None
        self.policy: str | None = None
        self.ticket: str | None = None
        self.auth_nonce: str | None = None       # SSO nonce (MSNP15+)
        self.auth_response: str | None = None    # SSO signed nonce (a credential)
        self.redirect_target: str | None = None
        self.redirected_to: int | None = None    # dispatch: the NS connection that followed
        self.redirected_from: int | None = None  # NS: the dispatch connection that sent it
        self.profile: dict | None = None
        self.list_version: int | None = None
        self.syn: dict | None = None
        self.settings: dict[str, str] = {}
        self.phones: dict[str, str] = {}
        self.contacts: dict[str, dict] = {}      # passport -> contact dict
        self.contact_ids: dict[str, str] = {}    # MSNP10+ contact GUID -> passport
        self.contacts_dropped = 0                # contacts past Limits.max_contacts
        self.contacts_source: str | None = None  # SYN (the list itself) or ADL (MSNP13+)
        self.groups: dict[str, str] = {}         # id -> name
        self.challenge: str | None = None


class SbState:
    """Who is in the conversation and how this connection joined it: what switchboard
    commands write."""

    __slots__ = ("how", "cookie", "session_id", "present", "endpoints", "endpoints_seen",
                 "left_by_endpoint", "called", "invites")

    def __init__(self) -> None:
        self.how: str | None = None              # caller (USR) or invitee (ANS)
        self.cookie: str | None = None
        self.session_id: str | None = None
        self.present: dict[str, str | None] = {}          # passport -> friendly name (others, now)
        self.endpoints: dict[str, set[str]] = {}          # account -> MPOP endpoints present (MSNP16+)
        self.endpoints_seen: dict[str, set[str]] = {}     # account -> every endpoint that joined
        self.left_by_endpoint: set[str] = set()           # accounts whose last endpoint sent BYE
        self.called: dict[str, None] = {}        # passports the local account CALed, in order
        self.invites: dict[str, dict] = {}       # invitation cookie -> row


class FtpState:
    """One MSNFTP transfer: the receiver's USR, the FIL size, the data and how it ended."""

    __slots__ = ("receiver", "auth_cookie", "size", "received", "data", "sha", "end", "code",
                 "started", "finished", "overflow")

    def __init__(self) -> None:
        self.receiver: str | None = None
        self.auth_cookie: str | None = None
        self.size: int | None = None
        self.received = 0
        self.data = bytearray()                  # up to Limits.max_file_bytes
        self.sha = hashlib.sha256()              # of every byte, kept or not
        self.end: str | None = None              # BYE, CCL or abort
        self.code: int | None = None
        self.started: float | None = None
        self.finished: float | None = None
        self.overflow = False


class Session:
    """Everything known about one open connection.  Rows of the other tables wait in
    ``rows`` until the connection closes, when the owner and recipients are final."""

    __slots__ = ("id", "kind", "client", "server", "start", "end", "close_reason",
                 "transport", "carriers", "gateway_ids", "gw_ip", "polls", "protocol",
                 "protocol_source", "passport", "owner_from", "friendly_name",
                 "machine_guid", "logout", "participants", "linked_ns", "last_message",
                 "rows", "held", "waiting", "settled", "bytes_c2s", "bytes_s2c",
                 "gap_bytes", "ns_state", "sb_state", "transfer")

    def __init__(self, sid: int, client: str, server: str, start: float) -> None:
        self.id = sid
        self.kind = "unknown"
        self.client = client
        self.server = server
        self.start = start
        self.end: float | None = None
        self.close_reason: str | None = None
        self.transport = "tcp"           # or http-gateway (reference §9)
        self.carriers: list[int] = []    # gateway: the TCP connections that carried it
        self.gateway_ids: list[str] = []  # gateway: every SessionID it was given
        self.gw_ip: str | None = None
        self.polls = 0
        self.protocol: str | None = None
        self.protocol_source: str | None = None   # VER, offer or inferred (docs/dialects.md)
        # the local account, named by NS sign-in, a switchboard's USR/ANS, MSNFTP's USR
        # or a direct connection's negotiation
        self.passport: str | None = None
        self.owner_from: str | None = None
        self.friendly_name: str | None = None
        self.machine_guid: str | None = None      # NS: USR/UUX; switchboard: USR/ANS endpoint
        self.logout: dict | None = None           # OUT, on a notification server or switchboard
        # others ever present: a switchboard's, or a direct connection's two sides
        self.participants: dict[str, str | None] = {}
        self.linked_ns: int | None = None         # switchboard / direct: whose session made it
        self.last_message: dict | None = None     # the latest messages row (for live lines)
        self.ns_state: NsState | None = None
        self.sb_state: SbState | None = None
        self.transfer: FtpState | None = None     # made by the MSNFTP fold, which sets the kind
        # rows of other tables, by table, until they can be settled (see model/__init__)
        self.rows: dict[str, list] = {}
        self.held: list = []          # the same rows as (table, row), in the order made
        self.waiting = 0
        self.settled = False
        self.bytes_c2s = 0
        self.bytes_s2c = 0
        self.gap_bytes = 0

    @property
    def ns(self) -> NsState:
        st = self.ns_state
        if st is None:
            st = self.ns_state = NsState()
        return st

    @property
    def sb(self) -> SbState:
        st = self.sb_state
        if st is None:
            st = self.sb_state = SbState()
        return st

    @property
    def client_ip(self) -> str:
        return self.client.rpartition(":")[0]

    def row(self) -> dict:
        # the blank states are only read here: reading must not give a connection state
        ns = self.ns_state or _BLANK_NS
        sb = self.sb_state or _BLANK_SB
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
            "versions_offered": ns.versions_offered,
            "passport": self.passport, "friendly_name": self.friendly_name,
            "friendly_name_at_login": ns.friendly_name_at_login,
            "personal_message": ns.personal_message, "machine_guid": self.machine_guid,
            "client_name": ns.client_name, "client_version": ns.client_version,
            "locale": ns.locale, "os": ns.os, "auth_method": ns.auth_method,
            "login": ns.login, "login_error": ns.login_error,
            "login_time": iso(ns.login_time), "verified": ns.verified,
            "extra_flag": ns.extra_flag, "server_versions": ns.server_versions,
            "policy": ns.policy, "ticket": ns.ticket, "auth_nonce": ns.auth_nonce,
            "auth_response": ns.auth_response,
            "redirected_to": ns.redirect_target,
            "redirected_to_session": ns.redirected_to,
            "redirected_from_session": ns.redirected_from, "profile": ns.profile,
            "list_version": ns.list_version, "syn": ns.syn,
            "contacts_source": ns.contacts_source,
            "settings": ns.settings or None, "phones": ns.phones or None,
            "logout": self.logout, "participants": None, "sb_role": sb.how,
            "sb_cookie": sb.cookie, "sb_session_id": sb.session_id,
            "linked_session": self.linked_ns, "owner_from": self.owner_from,
            "bytes_c2s": self.bytes_c2s, "bytes_s2c": self.bytes_s2c,
            "gap_bytes": self.gap_bytes,
        }
        if self.kind in ("switchboard", "p2p-direct"):
            people = dict(self.participants)
            if self.passport:
                people.setdefault(self.passport, self.friendly_name)
            r["participants"] = sorted(people)
            r["endpoints"] = {a: sorted(e) for a, e in sorted(sb.endpoints_seen.items())} or None
        return r


_BLANK_NS = NsState()
_BLANK_SB = SbState()
