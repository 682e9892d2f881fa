"""Typed decoder events: slotted, one class per meaning, never mutated after creation.

Every event carries ``ts`` (capture time, seconds), ``conn`` (connection id) and
``dir`` (0 = client to server, 1 = server to client).  Damage is an event too
(``Anomaly``).  The model (model/) folds events into sessions; the live printer
prints them one per line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .protocol.mime import content_type_of, lower_names, split_payload
from .protocol.p2p import Part
from .protocol.xmlpayload import PersonalData

# @dataclass(slots=True) on each class, written out (an alias for it hid every event
# from mypy and pyright).  Not frozen=True: a frozen dataclass's __init__ goes through
# object.__setattr__ for every field, which made event creation the largest single cost
# of decoding a dense capture (bench/RESULTS.md); events are treated as immutable by
# convention.


@dataclass(slots=True)
class Event:
    ts: float
    conn: int
    dir: int


# ---------------------------------------------------------------- connection level
@dataclass(slots=True)
class ConnectionOpened(Event):
    client: str
    server: str
    start: float


@dataclass(slots=True)
class ConnectionClosed(Event):
    kind: str
    reason: str
    bytes_c2s: int
    bytes_s2c: int
    gap_bytes: int
    dup_bytes: int


@dataclass(slots=True)
class Framed(Event):
    """Framer output for the protocol trace (only with ``trace=True``)."""
    item: object
    via: str | None = None      # HTTP gateway: the TCP connection and request carrying it


@dataclass(slots=True)
class GatewayExchange(Event):
    """A request (dir 0) or response (dir 1) of an HTTP gateway session (``conn`` is the
    gateway session, ``carrier`` the TCP connection that carried it)."""
    carrier: int
    session_id: str | None     # the SessionID a response announced
    gw_ip: str | None
    poll: bool                 # an Action=poll request with an empty body


@dataclass(slots=True)
class RoleKnown(Event):
    """The connection's role became known (dispatch/notification/switchboard/file-transfer)."""
    role: str


@dataclass(slots=True)
class Anomaly(Event):
    """Damage or protocol oddity: gap, undecodable bytes, count mismatch, unknown command."""
    kind: str
    detail: str
    offset: int = -1
    length: int | None = 0      # None: no byte count (P2P frames sent before a handshake)


# ---------------------------------------------------------------- login (§2.1)
@dataclass(slots=True)
class VersionOffer(Event):
    versions: tuple


@dataclass(slots=True)
class VersionChosen(Event):
    version: str          # "MSNP8", or "0" = no common version


@dataclass(slots=True)
class ClientInfo(Event):
    locale: str
    os_type: str
    os_version: str
    arch: str
    client_name: str
    client_version: str
    passport: str


@dataclass(slots=True)
class ServerVersionInfo(Event):
    recommended: str
    minimum: str
    download_url: str
    info_url: str


@dataclass(slots=True)
class DialectKnown(Event):
    """The protocol version became known: from VER, or inferred from a command's shape
    (a lower bound) when the capture holds no VER (docs/dialects.md)."""
    version: int
    source: str           # "VER", "offer" or "inferred"


@dataclass(slots=True)
class AuthStart(Event):
    method: str          # TWN, MD5 or SSO
    passport: str


@dataclass(slots=True)
class AuthPolicy(Event):
    policy: str          # TWN policy, MD5 salt, or the SSO policy name (MBI_KEY_OLD)
    nonce: str | None = None      # SSO: the nonce the client must sign


@dataclass(slots=True)
class AuthTicket(Event):
    ticket: str
    response: str | None = None       # SSO: the signed nonce (a credential)
    machine_guid: str | None = None   # MSNP16+: the endpoint's machine guid


@dataclass(slots=True)
class Redirect(Event):
    target: str           # host:port of the NS
    server_initiated: bool


@dataclass(slots=True)
class LoginOk(Event):
    passport: str
    friendly_name: str | None     # None: MSNP10+ sends no name here (PRP MFN does)
    verified: str | None
    flag: str | None


@dataclass(slots=True)
class Logout(Event):
    reason: str | None     # OUT argument, None for a plain client OUT


@dataclass(slots=True)
class ErrorReply(Event):
    code: int
    name: str
    trid: int | None
    request: str | None   # the verb of the request it answers


# ---------------------------------------------------------------- NS messages (§2.9)
@dataclass(slots=True)
class Profile(Event):
    headers: dict


@dataclass(slots=True)
class HotmailMessage(Event):
    content_type: str
    fields: dict


# ---------------------------------------------------------------- lists (§2.2, §2.3)
@dataclass(slots=True)
class ListSync(Event):
    client_version: int | None   # the version the client had (its SYN request)
    version: int | None
    contacts: int | None     # None: "up to date" reply
    groups: int | None
    timestamps: tuple | None = None   # MSNP10-12: two timestamps instead of a version


@dataclass(slots=True)
class Setting(Event):
    name: str            # GTC / BLP
    value: str
    version: int | None


@dataclass(slots=True)
class Phone(Event):
    passport: str | None   # None: own phone (PRP); else the contact (BPR)
    key: str
    value: str


@dataclass(slots=True)
class Group(Event):
    group_id: str         # decimal (MSNP2-9) or a GUID (MSNP10+)
    name: str


@dataclass(slots=True)
class Contact(Event):
    passport: str
    friendly_name: str | None
    list_bits: int
    groups: tuple             # group ids (str)
    contact_id: str | None = None   # MSNP10+ C= GUID
    network: int | None = None      # MSNP12+ network id (1 Passport, 32 Yahoo, …)
    source: str = "SYN"             # SYN (LST lines) or ADL (MSNP13+)


@dataclass(slots=True)
class ListChange(Event):
    op: str              # ADD / REM / REA / ADC / ADL / RML
    list: str | None
    passport: str | None      # None: named by contact GUID only (MSNP10+ REM/ADC C=)
    friendly_name: str | None
    group_id: str | None
    version: int | None
    by_server: bool      # TrID 0: someone else added/removed you
    contact_id: str | None = None
    network: int | None = None
    list_bits: int | None = None    # ADL/RML: several lists at once
    refused: str | None = None      # the server's error ("241 …"): the change did not happen


@dataclass(slots=True)
class GroupChange(Event):
    op: str              # ADG / RMG / REG
    group_id: str | None
    name: str | None
    version: int | None


@dataclass(slots=True)
class OwnName(Event):
    """The account's own friendly name from PRP MFN (MSNP10+): in the SYN reply or at
    login (``at_login``), or a rename confirmed by the server."""
    name: str
    at_login: bool


@dataclass(slots=True)
class ContactName(Event):
    """SBP trid contact-guid MFN name (MSNP10+): a contact renamed in the list."""
    contact_id: str
    name: str


@dataclass(slots=True)
class PersonalMessage(Event):
    """UUX (own, client) or UBX (a contact's, server): MSNP11+ personal message."""
    command: str
    passport: str | None       # None: the account's own (UUX)
    network: int | None
    data: PersonalData         # protocol.xmlpayload.parse_data's result


@dataclass(slots=True)
class Notice(Event):
    """A command kept as a notification row with its meaning (GCF policies, SBS, NOT,
    UUN/UBN, FQY, ADL/RML acknowledgements)."""
    command: str
    what: str
    summary: str
    fields: dict | None = None


# ---------------------------------------------------------------- presence (§2.4, §5)
@dataclass(slots=True)
class Presence(Event):
    command: str         # CHG / ILN / NLN / FLN
    passport: str | None # None: own status (CHG)
    status: str
    friendly_name: str | None
    client_id: int | None
    network: int | None = None    # MSNP14+ (field) / MSNP18 (n:passport)
    caps_ex: int | None = None    # MSNP16+ extended capabilities (caps:capsex)
    msnobj: str | None = None     # MSNP9+ MSNObject (URL-encoded), as sent
    via: str | None = None        # MSNP18 circle routing (;via=9:…)
    # CHG: what the server's echo confirmed (it may add capability bits: NLN 32 -> 4128)
    confirmed_status: str | None = None
    confirmed_client_id: int | None = None
    confirmed_caps_ex: int | None = None


# ---------------------------------------------------------------- challenge (§6)
@dataclass(slots=True)
class Challenge(Event):
    challenge: str


@dataclass(slots=True)
class ChallengeAnswer(Event):
    trid: int | None
    product_id: str
    response: str


@dataclass(slots=True)
class ChallengeResult(Event):
    trid: int | None
    accepted: bool


# ---------------------------------------------------------------- switchboard hand-off (§2.6)
@dataclass(slots=True)
class SwitchboardGranted(Event):
    """XFR trid SB host:port CKI cookie (on the NS)."""
    address: str
    cookie: str


@dataclass(slots=True)
class Ring(Event):
    """RNG session host:port CKI cookie inviter friendly (on the NS)."""
    session_id: str
    address: str
    cookie: str
    inviter: str
    inviter_name: str


@dataclass(slots=True)
class NsOther(Event):
    """URL, SDC, PNG/QNG and other NS commands kept for the record."""
    verb: str
    params: tuple


# ---------------------------------------------------------------- switchboard (§3, §4)
@dataclass(slots=True)
class SbJoinRequest(Event):
    """Client USR (caller) or ANS (invitee) on a switchboard."""
    how: str              # "caller" / "invitee"
    passport: str
    cookie: str
    session_id: str | None
    endpoint: str | None = None     # MSNP16+ MPOP: passport;{machine-guid}


@dataclass(slots=True)
class SbJoined(Event):
    """USR … OK / ANS … OK: the local account is in."""
    passport: str | None
    friendly_name: str | None


@dataclass(slots=True)
class Participant(Event):
    """IRO (already there), JOI (entered), BYE (left)."""
    command: str
    passport: str             # the account (MSNP16+: without its endpoint)
    friendly_name: str | None
    timeout: bool = False
    endpoint: str | None = None     # MSNP16+ MPOP machine guid
    client_id: int | None = None    # MSNP12+ JOI/IRO capabilities
    caps_ex: int | None = None


@dataclass(slots=True)
class Calling(Event):
    passport: str
    trid: int | None


@dataclass(slots=True)
class Ringing(Event):
    session_id: str
    trid: int | None


@dataclass(slots=True)
class Message(Event):
    """MSG on a switchboard (or a non-Hotmail MSG anywhere).

    The payload travels raw and is parsed on first use of ``headers``, ``body`` or
    ``content_type``: the reading process only frames it, and when the run is split
    (stages.py) the parsing happens in the report process, which has time to spare.
    The parse is cached in ``_mime`` (the one write after creation)."""
    sender: str | None        # passport; None when the local account is unknown
    sender_name: str | None
    ack: str | None
    trid: int | None
    payload: bytes            # headers, blank line, body, as sent
    missing: int              # payload bytes lost to a gap
    _mime: tuple | None = field(default=None, init=False, repr=False, compare=False)
    # MSNP14+ UUM/UBM on the notification server (Yahoo interop, offline messages)
    recipient: str | None = None
    network: int | None = None
    via: str | None = None          # UUM / UBM (None: a switchboard MSG)

    def _parsed(self) -> tuple:
        if self._mime is None:
            headers, body = split_payload(self.payload)
            # (the model reads four or five headers of each message: each by name)
            low = lower_names(headers)
            ctype, charset = content_type_of(low.get("content-type", ""))
            self._mime = (headers, body, ctype, charset, low)
        return self._mime

    def header(self, name: str) -> str:
        """The value of the header ``name`` (lower case) as mime.header finds it, or ""."""
        return self._parsed()[4].get(name, "")

    @property
    def charset(self) -> str | None:
        """Content-Type's charset (None when there is none)."""
        return self._parsed()[3]

    @property
    def headers(self) -> dict:
        return self._parsed()[0]

    @property
    def body(self) -> bytes:
        return self._parsed()[1]

    @property
    def content_type(self) -> str:
        """`type/subtype`, lower-cased ("" when there is none)."""
        return self._parsed()[2]


@dataclass(slots=True)
class P2PPart(Event):
    """One MSN P2P message (MSG … D, application/x-msnmsgrp2p, or one frame of a direct
    connection), its binary header decoded (protocol/p2p.py ``Part``).  ``error`` names
    what was wrong with a part that could not be decoded (``part`` is then None)."""
    sender: str | None        # passport; None: the local account (outgoing) or unknown
    dest: str | None          # P2P-Dest account
    dest_endpoint: str | None  # P2P-Dest ;{machine-guid} (MSNP16+)
    src_endpoint: str | None   # P2P-Src ;{machine-guid} (MSNP16+)
    version: int              # 1 (MSNP9-15) or 2 (MSNP16+)
    part: Part | None
    transport: str = "switchboard"   # or "direct" (a negotiated direct connection)
    error: str | None = None
    length: int = 0           # bytes of the P2P body (for the anomaly)


@dataclass(slots=True)
class DirectHandshake(Event):
    """A direct connection's preamble (``foo\0``, dir 0) or nonce handshake."""
    version: int | None       # 1 or 2; None for the preamble
    nonce: str | None         # {GUID} as sent (v2: the unhashed nonce)


@dataclass(slots=True)
class Acknowledgement(Event):
    verb: str               # ACK / NAK
    trid: int | None


# ---------------------------------------------------------------- MSNFTP (§8)
@dataclass(slots=True)
class FtpUser(Event):
    passport: str
    auth_cookie: str


@dataclass(slots=True)
class FtpFile(Event):
    size: int


@dataclass(slots=True)
class FtpStart(Event):
    pass


@dataclass(slots=True)
class FtpData(Event):
    data: bytes


@dataclass(slots=True)
class FtpEnd(Event):
    how: str               # BYE / CCL / abort-block
    code: int | None


@dataclass(slots=True)
class Unknown(Event):
    """A well-formed command the decoder does not know for this role."""
    verb: str
    params: tuple
