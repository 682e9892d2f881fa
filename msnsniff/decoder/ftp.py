"""MSNFTP decoder (reference §8): VER/USR/FIL/TFR/BYE/CCL lines and the file blocks.

Roles come from the commands, not the TCP direction: the receiver sends USR and BYE,
the sender sends FIL and the data blocks (framing.py switches the sender's direction
to block mode after FIL).
"""

from __future__ import annotations

from .. import events as E
from ..protocol.numbers import is_num


class FtpDecoder:
    def __init__(self, conn: int):
        self.conn = conn

    def command(self, cmd, ts, d) -> list:
        p = cmd.params
        v = cmd.verb
        if v == "VER":
            return []
        if v == "USR" and len(p) >= 2:
            return [E.FtpUser(ts, self.conn, d, p[0], p[1])]
        if v == "FIL" and p and is_num(p[0]):
            return [E.FtpFile(ts, self.conn, d, int(p[0]))]
        if v == "TFR":
            return [E.FtpStart(ts, self.conn, d)]
        if v == "BYE":
            code = int(p[0]) if p and is_num(p[0]) else None
            return [E.FtpEnd(ts, self.conn, d, "BYE", code)]
        if v == "CCL":
            return [E.FtpEnd(ts, self.conn, d, "CCL", None)]
        return [E.Unknown(ts, self.conn, d, v, tuple(p))]

    def data(self, chunk, ts, d) -> list:
        return [E.FtpData(ts, self.conn, d, chunk.data)]

    def abort(self, ts, d) -> list:
        return [E.FtpEnd(ts, self.conn, d, "abort", None)]
