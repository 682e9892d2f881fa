"""Folding MSNFTP events (reference §8) into a transfer."""

from __future__ import annotations

from ..protocol.numbers import net_int
from ..protocol.tables import FTP_BYE_CODES, FTP_SUCCESS
from .host import FoldBase
from .session import FtpState, Session, iso


class FtpFold(FoldBase):
    def _t(self, ev) -> FtpState:
        s = self._s(ev)
        t = s.transfer
        if t is None:
            s.kind = "file-transfer"
            t = s.transfer = FtpState()
        return t

    def on_ftp_user(self, ev):
        t = self._t(ev)
        t.receiver, t.auth_cookie = ev.passport, ev.auth_cookie
        self._s(ev).passport = ev.passport

    def on_ftp_file(self, ev):
        self._t(ev).size = ev.size

    def on_ftp_start(self, ev):
        self._t(ev).started = ev.ts

    def on_ftp_data(self, ev):
        t = self._t(ev)
        t.received += len(ev.data)
        t.sha.update(ev.data)
        if len(t.data) + len(ev.data) <= self.limits.max_file_bytes:
            t.data += ev.data
        elif not t.overflow:
            t.overflow = True
            self.sink("anomalies", {
                "time": iso(ev.ts), "session": ev.conn, "direction": None,
                "kind": "file cap", "offset": None, "length": len(ev.data),
                "detail": f"file larger than {self.limits.max_file_bytes} bytes: its sha256 "
                          "still covers every byte, but it will not be extracted"})
        t.finished = ev.ts

    def on_ftp_end(self, ev):
        t = self._t(ev)
        if t.end is None:
            t.end, t.code = ev.how, ev.code
        t.finished = ev.ts

    def _transfer_row(self, s: Session, t: FtpState) -> dict:
        """The transfers row of a finished MSNFTP connection, tied to its invitation."""
        inv = self.offers.get(("auth", t.auth_cookie)) if t.auth_cookie else None
        if inv is None:
            port = s.server.rpartition(":")[2]
            inv = self.offers.get(("port", net_int(port, 5)))
        size = t.size
        expected = inv["file_size"] if inv else None
        want = size if size is not None else expected
        code = t.code
        if t.end in ("CCL", "abort") or (code is not None and code not in FTP_SUCCESS):
            status = "cancelled"
        elif want is not None and t.received >= want and code in FTP_SUCCESS:
            status = "complete"
        else:
            status = "incomplete"
        return {
            "session": s.id, "invitation_cookie": inv["cookie"] if inv else None,
            "invitation_session": inv["session"] if inv else None,
            "sender": inv["inviter"] if inv else None,
            "receiver": t.receiver, "name": inv["file_name"] if inv else None,
            "size": want, "announced_size": expected, "received": t.received,
            "missing_bytes": max(0, (want or 0) - t.received), "status": status,
            "end": t.end, "bye_code": code,
            "bye_meaning": FTP_BYE_CODES.get(code) if code is not None else None,
            "size_matches_invitation": (None if expected is None or size is None
                                        else expected == size),
            "sha256": t.sha.hexdigest() if t.received else None,
            "started": iso(t.started), "finished": iso(t.finished),
            "extracted_to": None, "method": "msnftp", "kind": "file",
            "_data": t.data, "_overflow": t.overflow}
