"""MSNP facts as tables: verbs, payload commands, TrID rules, error names, statuses.

Pure data plus tiny helpers; reference sections are given where each fact comes from.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote_to_bytes

from .dialects import is_guid, network_field
from .numbers import is_num
from .p2pdc import DC_START

# §1.2: payload commands (MSNP8 set + later versions, so newer traffic never
# desynchronises the framer), with the smallest argument count of their payload form.
# `QRY trid` (server reply) and `NNN trid` have no payload.
PAYLOAD_MIN_ARGS = {
    "MSG": 3, "QRY": 3, "SDC": 3, "PAG": 2, "IPG": 1, "NOT": 1,
    "UBX": 2, "UUX": 2, "GCF": 2, "ADL": 2, "RML": 2, "FQY": 2, "UUN": 3, "UBN": 3,
    "UUM": 3, "UBM": 3, "NFY": 2, "PUT": 2, "DEL": 2, "SDG": 2, "VAS": 2,
}

# what a payload holds, by verb: MIME headers and a body, or an XML document (follow
# shows them, anonymise rewrites them); the rest are opaque (QRY's answer, GCF's policy
# files, SDC/PAG/IPG/VAS bodies)
MIME_PAYLOAD_VERBS = frozenset({"MSG", "SDG", "UUM", "UBM", "NFY", "PUT", "DEL"})
XML_PAYLOAD_VERBS = frozenset({"UBX", "UUX", "ADL", "RML", "FQY", "NOT", "UBN", "UUN", "SDC"})

NS_VERBS = {
    "VER", "CVR", "USR", "XFR", "SYN", "GTC", "BLP", "PRP", "LSG", "LST", "BPR", "ADD",
    "REM", "REA", "ADG", "RMG", "REG", "CHG", "ILN", "NLN", "FLN", "CHL", "QRY", "PNG",
    "QNG", "OUT", "URL", "SDC", "SND", "PAG", "IPG", "NOT", "MSG", "RNG", "INF", "FND",
    # later versions, tolerated (§10)
    "UBX", "UUX", "GCF", "ADC", "ADL", "RML", "FQY", "UUN", "UBN", "UUM", "UBM", "NFY",
    "PUT", "DEL", "SDG", "VAS", "PGD", "SBS", "GCF", "UUR", "CVQ", "BLS", "QRY", "SBP",
}
SB_VERBS = {"USR", "ANS", "IRO", "CAL", "JOI", "MSG", "ACK", "NAK", "BYE", "OUT"}
FTP_VERBS = {"VER", "USR", "FIL", "TFR", "BYE", "CCL"}
KNOWN_VERBS = NS_VERBS | SB_VERBS | FTP_VERBS
# a verb that only one kind of connection carries says what the connection is
# (decoder.classify): derived, so that a verb added above is classified too
NS_ONLY = frozenset(NS_VERBS - SB_VERBS - FTP_VERBS - {"VER", "USR"})
SB_ONLY = frozenset(SB_VERBS - NS_VERBS - FTP_VERBS)
FTP_ONLY = frozenset(FTP_VERBS - NS_VERBS - SB_VERBS)

# who sends a verb, where only one side does (§2, §3): the first line of a connection
# whose SYN was not captured says which side is the client (the pipeline's guess;
# MSG and USR are decided by their arguments there; HTT and POS are the first bytes of
# an HTTP response and request)
SERVER_SENT = frozenset({"HTT", "NLN", "ILN", "FLN", "LST", "LSG", "BPR", "JOI", "IRO", "RNG",
                         "QNG", "ACK", "NAK", "CHL", "FIL", "GTC", "BLP"})
CLIENT_SENT = frozenset({"POS", "VER", "CVR", "ANS", "CAL", "PNG", "SYN", "CHG", "QRY", "TFR",
                         "CCL"})

# How a connection that may be MSN starts on any port (§1.5, §8, P2P direct
# connections): the opening the pipeline recognises, and its first four bytes — the
# capture filter's test, as BPF compares fixed bytes and cannot run a pattern.
CLIENT_OPENINGS = (
    (b"USR ", rb"USR \d+ \S+@\S+ \S+\r?\n"),                 # a switchboard login (XFR)
    (b"ANS ", rb"ANS \d+ \S+@\S+ \S+ \S+\r?\n"),            # a switchboard answer (RNG)
    (b"VER ", rb"VER \d+ MSNP\d|VER MSNFTP"),                   # NS, SB or MSNFTP
    (DC_START[:4], re.escape(DC_START)),                         # P2P direct connection
)
# an HTTP gateway request, and a gateway's response (a capture may hold only the
# server's side); the pipeline's gateway patterns start with these
GATEWAY_OPENINGS = (b"POST", b"HTTP")
OPENING_WORDS = tuple(w for w, _ in CLIENT_OPENINGS) + GATEWAY_OPENINGS
CLIENT_START = re.compile(b"^(?:" + b"|".join(rx for _, rx in CLIENT_OPENINGS) + b")")

# §1.1: commands whose first argument is never a TrID.
NO_TRID = {"NLN", "FLN", "RNG", "JOI", "BYE", "QNG", "OUT", "PNG", "IPG", "NOT", "BPR",
           "FIL", "TFR", "CCL", "UBX"}

VERB_RE = re.compile(r"^(?:[A-Z]{3}|[0-9]{3})$")


def trid_of(verb: str, params: list[str]) -> int | None:
    """The transaction id of a command, or None when its shape carries none (§1.1, §2.2)."""
    if not params or verb in NO_TRID or not is_num(params[0], 10):
        return None
    if verb == "LSG" and len(params) in (2, 3):  # `LSG gid name 0` / MSNP10+ `LSG name guid`
        return None
    if verb == "MSG" and len(params) == 3 and params[1] not in ("U", "N", "A", "D"):
        return None
    return int(params[0])


def url_decode(s: str) -> str:
    """URL-decode a friendly/group name as UTF-8; bytes that are not UTF-8 are kept
    recoverable as ``\\xNN`` escapes (``raw_bytes``), never raise."""
    if "%" not in s:
        return s
    return _url_decode(s)


@lru_cache(maxsize=8192)      # the same names come back in every ILN/NLN/LST
def _url_decode(s: str) -> str:
    return unquote_to_bytes(s).decode("utf-8", "backslashreplace")


_ESCAPED = re.compile(rb"\\x([0-9a-f]{2})")


def raw_bytes(text: str | None) -> str | None:
    """The bytes as sent (hex) of text that held bytes which are not UTF-8 (decoded as
    ``\\xNN`` escapes), else None: the text column is then exact.  A name that
    really spells ``\\xdb`` next to such bytes is the one case it cannot tell."""
    if not text or "\\x" not in text:
        return None
    b = _ESCAPED.sub(lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8"))
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return b.hex()
    return None


# §7 error codes
ERROR_NAMES = {
    200: "Syntax error", 201: "Invalid parameter", 205: "Invalid user",
    206: "Domain name missing", 207: "Already logged in", 208: "Invalid username",
    204: "Invalid network id", 209: "Invalid friendly name", 210: "List full", 215: "Already there",
    216: "Not on list", 217: "User not online", 218: "Already in mode",
    219: "User is in the opposite list", 223: "Too many groups", 224: "Invalid group",
    225: "User not in group", 229: "Group name too long", 230: "Cannot remove group 0",
    231: "Invalid group", 241: "Invalid list payload (ADL/RML)",
    280: "Switchboard failed", 281: "Transfer to switchboard failed",
    282: "Malformed MSG D", 300: "Required field missing", 301: "Too many FND results",
    302: "Not logged in", 500: "Internal server error", 501: "Database server error",
    502: "Command disabled", 510: "File operation failed", 520: "Memory allocation failed",
    540: "Challenge response failed", 600: "Server is busy", 601: "Server is unavailable",
    602: "Peer NS down", 603: "Database connection failed", 604: "Server going down",
    605: "Server unavailable", 707: "Could not create connection", 710: "Bad CVR parameters",
    711: "Write is blocking", 712: "Session overloaded", 713: "Calling too rapidly",
    714: "Too many sessions", 715: "Not expected", 717: "Bad friend file",
    731: "Not expected (CVR)", 800: "Changing too rapidly", 910: "Server too busy",
    911: "Authentication failed", 912: "Server too busy", 913: "Not allowed when offline",
    914: "Server unavailable", 915: "Server unavailable", 916: "Server unavailable",
    917: "Authentication failed", 918: "Server too busy", 919: "Server too busy",
    920: "Not accepting new users", 921: "Server too busy (kids)", 922: "Server too busy",
    923: "Kids' Passport without parental consent", 924: "Passport account not verified",
    928: "Bad ticket", 931: "Account on wrong server",
}

# §5.1
STATUS_NAMES = {
    "NLN": "Online", "BSY": "Busy", "IDL": "Idle", "BRB": "Be right back", "AWY": "Away",
    "PHN": "On the phone", "LUN": "Out to lunch", "HDN": "Appear offline", "FLN": "Offline",
}

# §2.2 list bits
LIST_BITS = (("FL", 1), ("AL", 2), ("BL", 4), ("RL", 8), ("PL", 16))
LIST_BIT = dict(LIST_BITS)


def list_names(bits: int) -> list[str]:
    return [name for name, b in LIST_BITS if bits & b]


# §2.7 OUT reasons
OUT_REASONS = {"OTH": "signed in elsewhere", "SSD": "server shutting down",
               "MIG": "migrated", "TOU": "terms of use", "RCT": "reconnect"}

# §8.4 MSNFTP BYE codes
FTP_BYE_CODES = {
    16777989: "received successfully", 16777987: "received successfully",
    2147942405: "receiver out of disk space", 2164261682: "receiver cancelled",
    2164261683: "sender cancelled", 2164261694: "connection blocked / timed out",
}
FTP_SUCCESS = {16777989, 16777987}


# Which arguments are URL-encoded text (friendly names, group names, phone numbers),
# by verb and argument count; the protocol trace shows them decoded (§1.1).
def text_arg_indexes(verb: str, params: list[str],
                     version: int | None = None) -> tuple[int, ...]:
    """``version``: the connection's dialect when known (MSNP14-17 put a network id
    before the name in ILN/NLN; dialects.network_field is the rule the decoder uses)."""
    n = len(params)
    if verb == "USR" and n >= 4 and params[1] == "OK":
        return (3,)
    if verb == "ILN":
        return (4,) if n >= 4 and network_field(params[2], params[3:], version) else (3,)
    if verb == "NLN":
        return (3,) if n >= 3 and network_field(params[1], params[2:], version) else (2,)
    if verb in ("LST", "ADC") and any(p.startswith("F=") for p in params):
        return tuple(i for i, p in enumerate(params) if p.startswith("F="))   # MSNP10+
    if verb == "SBP":
        return (3,)
    if verb == "LST":
        return (1,) if n >= 1 and "@" in params[0] else (6,)
    if verb == "LSG":           # LSG name guid (MSNP10+), LSG gid name 0 (SYN), LSG trid …
        return (0,) if n == 2 else ((1,) if n == 3 else (5,))
    if verb == "ADD":           # ADD trid FL passport name (client), ADD trid FL ver passport name
        return (3,) if n >= 4 and "@" in params[2] else (4,)
    if verb in ("REA",):
        return (3,) if n >= 4 and is_num(params[1]) and "@" in params[2] else (2,)
    if verb == "ADG":           # ADG trid name guid 0 (MSNP10+ reply), ADG trid ver name gid 0
        return (1,) if n < 4 or is_guid(params[2]) else (2,)
    if verb == "REG":           # REG trid ver gid name 0, REG trid ver name guid 0 (MSNP10+)
        return ((2,) if is_guid(params[3]) else (3,)) if n >= 5 else (2,)
    if verb == "RNG":
        return (5,)
    if verb == "IRO":
        return (4,)
    if verb == "JOI":
        return (1,)
    if verb == "MSG" and n >= 3 and params[1] not in ("U", "N", "A", "D"):
        return (1,)
    if verb == "PRP":           # PRP MFN name (SYN), PRP trid MFN name, PRP trid ver PHH v
        return (1,) if n == 2 else ((2,) if n == 3 and not is_num(params[1]) else (3,))
    if verb == "BPR":           # BPR PHH v (SYN), BPR ver passport PHH v, BPR passport PHH [v]
        if n >= 1 and "@" in params[0]:
            return (2,) if n >= 3 else ()
        return (1,) if n == 2 else (3,)
    if verb == "SDC":
        return (7,)
    return ()


def display_params(verb: str, params: list[str], version: int | None = None) -> list[str]:
    idx = text_arg_indexes(verb, params, version)
    if not idx:
        return list(params)
    return [url_decode(p) if i in idx else p for i, p in enumerate(params)]
