"""Per-connection decoding: classify the connection by content, then hand each framed
command to the decoder of its role (ns.py, sb.py, ftp.py).

Classification (reference §1.5): the client's first line says it all when the capture
holds it (`VER … MSNPx` = dispatch/notification, `USR trid passport cookie` or `ANS` =
switchboard, `VER MSNFTP` = file transfer).  A capture that starts mid-session is
classified by the first command only one role uses (SYN/CHG/ILN/… = NS, IRO/JOI/CAL/
ACK/… = SB, FIL/TFR = MSNFTP); commands seen before that (OUT, errors) wait in a small
backlog and are replayed once the role is known.
"""

from __future__ import annotations

from .. import config
from .. import events as E
from ..protocol.tables import FTP_ONLY, NS_ONLY, SB_ONLY
from ..stream.framing import FileAbort, FileData, RawCommand, Undecodable
from .ftp import FtpDecoder
from .ns import NsDecoder
from .sb import SbDecoder

BACKLOG = 64
_COMMAND_DECODERS: dict[str, type[NsDecoder] | type[SbDecoder]] = {
    "notification": NsDecoder, "switchboard": SbDecoder}


def classify(cmd: RawCommand, d: int) -> str | None:
    v, p = cmd.verb, cmd.params
    if v == "VER":
        if p[:1] == ["MSNFTP"]:
            return "file-transfer"
        if any(x.startswith("MSNP") for x in p):
            return "notification"
        return None
    if v == "USR":
        if len(p) >= 2 and p[1] in ("TWN", "MD5"):
            return "notification"
        if d == 0 and len(p) == 3:
            return "switchboard"
        if d == 1 and len(p) >= 2 and p[1] == "OK":
            return "switchboard" if len(p) <= 4 else "notification"
        if d == 0 and len(p) == 2:
            return "file-transfer"
        return None
    if v == "MSG":
        if d == 1:
            return "notification" if p[:1] == ["Hotmail"] else "switchboard"
        return "switchboard"
    if v in NS_ONLY:
        return "notification"
    if v in SB_ONLY:
        return "switchboard"
    if v in FTP_ONLY:
        return "file-transfer"
    if v == "BYE" and p and "@" in p[0]:
        return "switchboard"
    return None


class ConnectionDecoder:
    """All decoding state of one connection; ``handle`` takes framer output."""

    def __init__(self, conn: int):
        self.conn = conn
        self.role: str | None = None
        # the role's decoder: NS or SB commands in impl, an MSNFTP stream in ftp
        self.impl: NsDecoder | SbDecoder | None = None
        self.ftp: FtpDecoder | None = None
        self.backlog: list = []

    @property
    def kind(self) -> str:
        if isinstance(self.impl, NsDecoder):           # (the notification role)
            return self.impl.kind
        return self.role or "unknown"

    def _set_role(self, role, ts, out):
        self.role = role
        if role == "file-transfer":
            self.ftp = FtpDecoder(self.conn)
        else:
            self.impl = _COMMAND_DECODERS[role](self.conn)
        out.append(E.RoleKnown(ts, self.conn, -1, role))
        backlog, self.backlog = self.backlog, []
        for item, d in backlog:
            out.extend(self._dispatch(item, d))

    def handle(self, item, d: int) -> list:
        if type(item) is RawCommand and self.impl is not None and not item.bad_utf8 \
                and not item.missing and self.role != "file-transfer":
            # the common case (a clean command on a connection of known role): what
            # _dispatch does, without its list copies
            try:
                return (self.impl.client(item, item.ts) if d == 0
                        else self.impl.server(item, item.ts))
            except Exception as e:  # noqa: BLE001 - remote garbage never stops decoding
                if config.STRICT:
                    raise
                return [self._decoder_error(item, d, e)]
        out: list = []
        if isinstance(item, Undecodable):
            out.append(E.Anomaly(item.ts, self.conn, d, "undecodable",
                                 f"{item.length} bytes {item.reason}: {item.sample!r}",
                                 item.offset, item.length))
            return out
        if self.role is None:
            role = classify(item, d) if isinstance(item, RawCommand) else "file-transfer"
            if role is None:
                if len(self.backlog) < BACKLOG:
                    self.backlog.append((item, d))
                else:
                    out.append(E.Anomaly(item.ts, self.conn, d, "unclassified",
                                         f"{item.verb} before the connection's role was known",
                                         item.offset, item.length))
                return out
            self._set_role(role, item.ts, out)
        out.extend(self._dispatch(item, d))
        return out

    def _dispatch(self, item, d) -> list:
        out: list = []
        ts = item.ts
        if isinstance(item, RawCommand):
            if item.bad_utf8:
                out.append(E.Anomaly(ts, self.conn, d, "invalid UTF-8",
                                     f"{item.verb} line has bytes that are not UTF-8",
                                     item.offset, item.length))
            if item.declared is not None and item.missing:
                out.append(E.Anomaly(ts, self.conn, d, "truncated payload",
                                     f"{item.verb} declared {item.declared} payload bytes; "
                                     f"{item.missing} missing", item.offset, item.length))
        try:
            if self.role == "file-transfer":
                ftp = self.ftp
                assert ftp is not None                  # (_set_role made it)
                if isinstance(item, FileData):
                    out.extend(ftp.data(item, ts, d))
                elif isinstance(item, FileAbort):
                    out.extend(ftp.abort(ts, d))
                else:
                    out.extend(ftp.command(item, ts, d))
            elif isinstance(item, RawCommand):
                impl = self.impl
                assert impl is not None                 # (_set_role made it)
                out.extend(impl.client(item, ts) if d == 0 else impl.server(item, ts))
        except Exception as e:  # noqa: BLE001 - remote garbage never stops decoding
            if config.STRICT:
                raise
            out.append(self._decoder_error(item, d, e))
        return out

    def _decoder_error(self, item, d, e):
        # remote garbage must never stop the decoder; it is reported instead
        return E.Anomaly(item.ts, self.conn, d, "decoder error",
                         f"{getattr(item, 'verb', 'data')}: {type(e).__name__}: {e}",
                         getattr(item, "offset", -1), getattr(item, "length", 0))

    def close(self, ts) -> list:
        out: list = []
        for item, d in self.backlog:
            out.append(E.Anomaly(ts, self.conn, d, "unclassified",
                                 f"{getattr(item, 'verb', 'data')} on a connection whose role "
                                 "never became known", getattr(item, "offset", -1),
                                 getattr(item, "length", 0)))
        self.backlog = []
        if self.impl is not None:                   # (an MSNFTP decoder has nothing to close)
            out.extend(self.impl.close(ts))
        return out
