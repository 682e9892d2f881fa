"""Switchboard decoder (reference §3, §4).

Theory of operation: a switchboard connection is one conversation.  The client joins
with USR (caller, cookie from XFR SB) or ANS (invitee, cookie + session from RNG), the
server lists who is there (IRO) and who comes and goes (JOI/BYE), and MSG carries the
messages.  Outgoing MSG lines name no sender: the sender is the local account, known
from USR/ANS (or, mid-session, resolved later by the model from the client address).
Handlers never raise; malformed lines become Anomaly events.
"""

from __future__ import annotations

import re
from collections import OrderedDict

from .. import events as E
from ..protocol.dialects import split_caps, split_endpoint
from ..protocol.mime import header, media_type, parse_fields, split_payload
from ..protocol.numbers import is_num
from ..protocol.p2p import P2PError, parse_v1, parse_v2
from ..protocol.tables import ERROR_NAMES, url_decode
from .chunks import ChunkJoin

MAX_PENDING = 1024


def _one(ev) -> list:
    return [ev] if ev is not None else []


def _p(params, i, default=None):
    return params[i] if len(params) > i else default


class SbDecoder:
    def __init__(self, conn: int):
        self.conn = conn
        self.local: str | None = None    # the local account's passport, once known
        self.pending: OrderedDict = OrderedDict()
        self.chunks = ChunkJoin()
        self.version: int | None = None      # a lower bound from the commands' shapes (no VER here)

    def client(self, cmd, ts) -> list:
        if cmd.trid is not None:
            self.pending[cmd.trid] = cmd.verb
            if len(self.pending) > MAX_PENDING:
                self.pending.popitem(last=False)
        p = cmd.params
        v = cmd.verb
        if v == "USR" and len(p) >= 3:
            # MSNP16+ (MPOP): passport;{machine-guid} names the endpoint
            self.local, endpoint = split_endpoint(p[1])
            return [E.SbJoinRequest(ts, self.conn, 0, "caller", self.local, p[2], None,
                                    endpoint)]
        if v == "ANS" and len(p) >= 4:
            self.local, endpoint = split_endpoint(p[1])
            return [E.SbJoinRequest(ts, self.conn, 0, "invitee", self.local, p[2], p[3],
                                    endpoint)]
        if v == "CAL" and len(p) >= 2:
            return [E.Calling(ts, self.conn, 0, p[1], cmd.trid)]
        if v == "MSG" and len(p) >= 3:
            return _one(self._message(cmd, ts, 0, self.local, None, p[1]))
        if v == "OUT":
            return [E.Logout(ts, self.conn, 0, None)]
        return [E.Unknown(ts, self.conn, 0, v, tuple(p))]

    def server(self, cmd, ts) -> list:
        p = cmd.params
        v = cmd.verb
        if is_num(v):
            code = int(v)
            return [E.ErrorReply(ts, self.conn, 1, code, ERROR_NAMES.get(code, "Unknown error"),
                                 cmd.trid, self.pending.get(cmd.trid))]
        if v == "USR" and len(p) >= 2 and p[1] == "OK":
            if _p(p, 2):
                self.local = split_endpoint(p[2])[0]
                return [E.SbJoined(ts, self.conn, 1, self.local,
                                   url_decode(_p(p, 3, "")) or None)]
            return [E.SbJoined(ts, self.conn, 1, None, None)]
        if v == "ANS" and len(p) >= 2 and p[1] == "OK":
            return [E.SbJoined(ts, self.conn, 1, None, None)]
        if v == "IRO" and len(p) >= 5:      # IRO trid i n pp name [caps (MSNP12+)]
            return self._participant(ts, "IRO", p[3], url_decode(p[4]), _p(p, 5))
        if v == "JOI" and len(p) >= 1:      # JOI pp name [caps (MSNP12+)]
            return self._participant(ts, "JOI", p[0], url_decode(_p(p, 1, "")), _p(p, 2))
        if v == "BYE" and len(p) >= 1:
            account, endpoint = split_endpoint(p[0])
            return [E.Participant(ts, self.conn, 1, "BYE", account, None, _p(p, 1) == "1",
                                  endpoint)]
        if v == "CAL" and len(p) >= 3 and p[1] == "RINGING":
            return [E.Ringing(ts, self.conn, 1, p[2], cmd.trid)]
        if v == "MSG" and len(p) >= 3:
            return _one(self._message(cmd, ts, 1, split_endpoint(p[0])[0], url_decode(p[1]),
                                      None))
        if v in ("ACK", "NAK"):
            return [E.Acknowledgement(ts, self.conn, 1, v, cmd.trid)]
        if v == "OUT":
            return [E.Logout(ts, self.conn, 1, _p(p, 0))]
        return [E.Unknown(ts, self.conn, 1, v, tuple(p))]

    def close(self, ts) -> list:
        return [E.Anomaly(ts, self.conn, d, "chunked message", why, -1, 0)
                for d, why in self.chunks.unfinished()]

    def _participant(self, ts, command, who, name, caps):
        account, endpoint = split_endpoint(who)
        client_id, ex = split_caps(caps)
        out: list[E.Event] = [E.Participant(ts, self.conn, 1, command, account, name, False,
                                            endpoint, client_id, ex)]
        # the dialect from the shapes: IRO/JOI carry a client id from MSNP12 on, and
        # MSNP16+ (MPOP) adds extended capabilities (caps:capsex) and endpoints
        seen = 16 if (ex is not None or (endpoint or "").startswith("{")) else (
            12 if client_id is not None else None)
        if seen is not None and (self.version or 0) < seen:
            self.version = seen
            out.insert(0, E.DialectKnown(ts, self.conn, -1, seen, "inferred"))
        return out

    def _message(self, cmd, ts, d, sender, sender_name, ack):
        # the payload is parsed by whoever reads the event's headers (events.Message)
        payload = cmd.payload or b""
        if _CHUNKED.search(payload, 0, 400):
            joined = self.chunks.add(payload, d, ts)
            if joined is None:
                return None             # held until its last chunk
            if isinstance(joined, str):
                return E.Anomaly(ts, self.conn, d, "chunked message", joined, -1, 0)
            payload = joined
        if _P2P.search(payload, 0, 200):
            headers, body = split_payload(payload)
            if media_type(headers)[0] == "application/x-msnmsgrp2p":
                return p2p_part(ts, self.conn, d, sender, headers, body)
        if d == 0 and sender is None:
            # an outgoing typing notification names the local account (§4.3)
            headers, _ = split_payload(payload)
            if media_type(headers)[0] == "text/x-msmsgscontrol":
                sender = header(headers, "TypingUser") or None
                if sender:
                    self.local = sender
        return E.Message(ts, self.conn, d, sender, sender_name, ack,
                         cmd.trid if d == 0 else None, payload, cmd.missing)


_P2P = re.compile(rb"x-msnmsgrp2p", re.IGNORECASE)
_CHUNKED = re.compile(rb"(?:^|\n)Chunks?: *\d", re.IGNORECASE)


def p2p_part(ts, conn, d, sender, headers, body) -> E.Event:
    """A P2P message: v2 when the peers name endpoints (MSNP16+: ``P2P-Src``, or a
    ``P2P-Dest`` with ``;{machine-guid}``), else v1."""
    dest, endpoint = split_endpoint(header(headers, "P2P-Dest"))
    src_account, src_endpoint = split_endpoint(header(headers, "P2P-Src"))
    v2 = bool(src_account) or bool(endpoint and endpoint.startswith("{"))
    version = 2 if v2 else 1
    if sender is None and src_account:
        sender = src_account
    try:
        part = parse_v2(body) if v2 else parse_v1(body)
    except P2PError as e:
        return E.P2PPart(ts, conn, d, sender, dest or None, endpoint, src_endpoint, version,
                         None, "switchboard", str(e), len(body))
    return E.P2PPart(ts, conn, d, sender, dest or None, endpoint, src_endpoint, version,
                     part, "switchboard", None, len(body))


# the Content-Type of a file-transfer invitation, in any case (see invitation_endpoints)
_INVITE = re.compile(rb"x-msmsgsinvite", re.IGNORECASE)


def invitation_endpoints(ev: E.Message) -> list[str]:
    """The ``host:port`` endpoints an accepted file-transfer invitation announces (the
    pipeline follows them; ``0.0.0.0`` when no address is given).  A cheap necessary
    condition first: most messages are never parsed in the reading process (see
    events.Message)."""
    if not _INVITE.search(ev.payload) or ev.content_type != "text/x-msmsgsinvite":
        return []
    fields = parse_fields(ev.body)
    ip = header(fields, "IP-Address")
    port = header(fields, "Port")
    if not port:                # a port that is not a number is for the pipeline to report
        return []
    out = [f"{ip or '0.0.0.0'}:{port}"]
    internal = header(fields, "IP-Address-Internal")
    portx = header(fields, "PortX")
    if portx:
        out.append(f"{internal or ip or '0.0.0.0'}:{portx}")
    return out
