"""Framing, sans-IO: one direction's byte stream -> RawCommand / FileData / Undecodable.

Reference §1: commands are CRLF lines (bare LF tolerated) split on the space byte; a
payload command's last argument is the byte length of the raw payload that follows the
line (QRY's 32-byte answer has no CRLF, which this handles for free).  MSNFTP (§8) is
line based too, except that after the sender's ``FIL n`` line its direction carries
3-byte-headed binary blocks until n file bytes have gone by.

After a gap or garbage the framer is *out of sync*: it scans for the next line that
parses as a known command and reports everything it skipped as Undecodable.

Byte accounting (tests/test_framing.py): decoded + undecodable + gap == bytes fed + gap
bytes announced, once ``close()`` has been called.
"""

from __future__ import annotations

import re

from ..config import DEFAULT_LIMITS, Limits
from ..protocol.numbers import MAX_DIGITS, is_num
from ..protocol.tables import KNOWN_VERBS, PAYLOAD_MIN_ARGS, trid_of

# verb bytes -> str, for the verbs seen so far (3 upper-case letters or 3 digits: bounded)
_VERBS: dict = {}


class RawCommand:
    """One MSNP command as framed: verb, TrID, raw string arguments, payload bytes."""

    __slots__ = ("verb", "trid", "params", "payload", "offset", "length", "declared",
                 "missing", "bad_utf8", "ts")

    def __init__(self, verb, trid, params, payload, offset, length, declared=None, ts=0.0):
        self.verb = verb
        self.trid = trid
        self.params = params
        self.payload = payload          # bytes or None (not a payload command)
        self.offset = offset            # stream offset of the first byte of the line
        self.length = length            # bytes of line + payload present in the stream
        self.declared = declared        # declared payload length (payload commands)
        self.missing = 0                # payload bytes lost in a gap / at stream end
        self.bad_utf8 = False
        self.ts = ts

    def __repr__(self):  # pragma: no cover - debugging aid
        p = "" if self.payload is None else f" +{len(self.payload)}B"
        return f"<{self.verb} {self.trid} {self.params}{p}>"


class FileData:
    """MSNFTP file bytes (one block or part of one)."""

    __slots__ = ("offset", "data", "ts")

    def __init__(self, offset, data, ts):
        self.offset, self.data, self.ts = offset, data, ts


class FileAbort:
    """MSNFTP sender's abort block (header byte 1)."""

    __slots__ = ("offset", "ts")

    def __init__(self, offset, ts):
        self.offset, self.ts = offset, ts


class Undecodable:
    __slots__ = ("offset", "length", "reason", "sample", "ts")

    def __init__(self, offset, data, reason, ts):
        self.offset = offset
        self.length = len(data)
        self.reason = reason
        self.sample = bytes(data[:48])
        self.ts = ts


# a command line at a line boundary, for resynchronisation (§1.4)
_CANDIDATE = re.compile(rb"(?:^|(?<=\n))([A-Z]{3}|[0-9]{3})(?:[ ][^\r\n]*)?\r?\n")

LINE, PAYLOAD, BLOCK_HDR, BLOCK_DATA, RESYNC = range(5)


class Framer:
    def __init__(self, limits: Limits = DEFAULT_LIMITS):
        self.limits = limits
        self.buf = bytearray()
        # bytes of buf already searched for a line end (a stream trickling in one byte at
        # a time must not be searched from the start every time: that was quadratic)
        self.scanned = 0
        self.base = 0               # stream offset of buf[0]
        self.state = LINE
        self.cmd: RawCommand | None = None      # command waiting for its payload (state PAYLOAD)
        self.need = 0               # payload / block bytes still expected
        self.parts: list[bytes] = []
        self.ftp = False            # an MSNFTP stream (first line `VER MSNFTP`)
        self.file_left = 0          # MSNFTP file bytes still to come after FIL
        self.lines = 0
        self.decoded = 0
        self.undecodable = 0
        self.gap_bytes = 0
        self.fed = 0

    # ------------------------------------------------------------ input
    def feed(self, data: bytes, ts: float = 0.0) -> list:
        self.fed += len(data)
        out: list = []
        if self.state == LINE and not self.buf and not self.ftp:
            used = self._fast(data, ts, out)
            if used == len(data):
                return out
            data = data[used:]
        self.buf += data
        self._run(ts, out)
        return out

    def gap(self, length: int, ts: float = 0.0) -> list:
        """``length`` bytes of this stream were never captured."""
        out: list = []
        self.gap_bytes += length
        self._run(ts, out)      # settle what is buffered first
        if self.state in (PAYLOAD, BLOCK_DATA):
            # _run consumed every buffered byte into the payload / block
            inside = min(length, self.need)
            self.need -= inside
            self.base += inside
            if self.state == PAYLOAD:
                assert self.cmd is not None
                self.cmd.missing += inside
                if self.need:
                    return out          # the gap lies inside the payload: still in sync
                self._emit_payload_cmd(ts, out)
            else:
                self.file_left -= inside
                if self.need:
                    return out
                self.state = BLOCK_HDR if self.file_left > 0 else LINE
            if length > inside:
                self._lose_sync(length - inside)
            return out
        if self.buf:
            self._undecodable(len(self.buf), "cut by a capture gap", ts, out)
        self._lose_sync(length)
        return out

    def close(self, ts: float = 0.0) -> list:
        """End of stream: whatever is buffered is reported."""
        out: list = []
        self._run(ts, out)
        if self.state == PAYLOAD:
            self._take_payload_bytes(len(self.buf))
            assert self.cmd is not None
            self.cmd.missing += self.need
            self.need = 0
            self._emit_payload_cmd(ts, out)
        elif self.state == BLOCK_DATA and self.buf:
            self._file_bytes(len(self.buf), ts, out)
        if self.buf:
            self._undecodable(len(self.buf), "incomplete at end of stream", ts, out)
        return out

    # ------------------------------------------------------------ machinery
    def _lose_sync(self, skipped: int):
        self.base += skipped
        self.state = RESYNC

    def _consume(self, n: int) -> bytes:
        data = bytes(self.buf[:n])
        del self.buf[:n]
        self.scanned = 0
        self.base += n
        return data

    def _undecodable(self, n, reason, ts, out):
        off = self.base
        data = self._consume(n)
        self.undecodable += n
        out.append(Undecodable(off, data, reason, ts))

    def _take_payload_bytes(self, n):
        if n:
            self.parts.append(self._consume(n))
            self.need -= n
            self.decoded += n

    def _emit_payload_cmd(self, ts, out):
        cmd = self.cmd
        assert cmd is not None
        cmd.payload = b"".join(self.parts)
        cmd.length += len(cmd.payload)
        self.parts = []
        self.cmd = None
        self.state = LINE
        out.append(cmd)

    def _file_bytes(self, n, ts, out):
        off = self.base
        data = self._consume(n)
        self.decoded += n
        self.need -= n
        self.file_left -= n
        out.append(FileData(off, data, ts))

    def _run(self, ts, out):
        buf = self.buf
        while buf:
            st = self.state
            if st == LINE:
                i = buf.find(b"\n", self.scanned)
                if i < 0:
                    self.scanned = len(buf)
                    if len(buf) > self.limits.max_line:
                        self._undecodable(len(buf), f"line longer than {self.limits.max_line} "
                                          "bytes without a line end", ts, out)
                        self.state = RESYNC
                    return
                if i + 1 > self.limits.max_line + 2:
                    self._undecodable(i + 1, f"line longer than {self.limits.max_line} bytes",
                                      ts, out)
                    continue
                self._line(i, ts, out)
            elif st == PAYLOAD:
                n = min(self.need, len(buf))
                self._take_payload_bytes(n)
                if self.need:
                    return
                self._emit_payload_cmd(ts, out)
            elif st == BLOCK_HDR:
                if len(buf) < 3:
                    return
                off = self.base
                hdr = self._consume(3)
                self.decoded += 3
                if hdr[0] != 0:
                    out.append(FileAbort(off, ts))
                    self.state = LINE
                    self.file_left = 0
                    continue
                self.need = hdr[1] | (hdr[2] << 8)
                self.state = BLOCK_DATA if self.need else BLOCK_HDR
            elif st == BLOCK_DATA:
                n = min(self.need, len(buf))
                self._file_bytes(n, ts, out)
                if self.need == 0:
                    self.state = BLOCK_HDR if self.file_left > 0 else LINE
            else:  # RESYNC
                if not self._resync(ts, out):
                    return

    def _resync(self, ts, out) -> bool:
        buf = self.buf
        if buf.find(b"\n", self.scanned) < 0 and len(buf) <= self.limits.max_line:
            # a candidate line ends with a line end: none came since the last look
            self.scanned = len(buf)
            return False
        start = -1
        for m in _CANDIDATE.finditer(bytes(buf)):   # a copy: buf is resized below
            verb = m.group(1).decode()
            if verb in KNOWN_VERBS or verb.isdigit():
                start = m.start()
                break
        if start >= 0:
            if start:
                self._undecodable(start, "skipped while resynchronising", ts, out)
            self.state = LINE
            return True
        # nothing yet: everything up to the last line end cannot start a command
        j = buf.rfind(b"\n")
        keep_from = j + 1 if j >= 0 else 0
        if len(buf) - keep_from > self.limits.max_line:
            keep_from = len(buf)
        if keep_from:
            self._undecodable(keep_from, "skipped while resynchronising", ts, out)
        return False

    def _line(self, i, ts, out):
        off = self.base
        raw = self._consume(i + 1)
        line = raw[:-1]
        if line.endswith(b"\r"):
            line = line[:-1]
        self._command(line, raw, off, ts, out)

    def _command(self, line: bytes, raw: bytes, off: int, ts, out):
        """One line (``raw`` with its line end, ``line`` without): a command, or
        undecodable bytes.  A payload command sets the PAYLOAD state."""
        verb = _VERBS.get(line[:3])
        if verb is None or len(line) > 3 and line[3] != 0x20:
            verb_b = line.split(b" ", 1)[0]
            if len(verb_b) != 3 or not (verb_b.isalpha() and verb_b.isupper()
                                        or verb_b.isdigit()):
                self.undecodable += len(raw)
                reason = "empty line" if not line else "not an MSNP command line"
                out.append(Undecodable(off, raw, reason, ts))
                return
            verb = _VERBS[verb_b] = verb_b.decode("ascii")     # at most 18,576 of them
        bad = False
        try:
            params = line[4:].decode("utf-8").split(" ") if len(line) > 3 else []
        except UnicodeDecodeError:
            # bytes that are not UTF-8 stay recoverable as \xNN escapes (protocol.tables
            # raw_bytes gives them back), never a U+FFFD that loses the byte
            params = [p.decode("utf-8", "backslashreplace") for p in line[4:].split(b" ")]
            bad = True
        min_args = PAYLOAD_MIN_ARGS.get(verb)
        if min_args and len(params) >= min_args and not self.ftp and params[-1].isdigit() \
                and not params[-1].isascii():
            # a length of Unicode digits ('²') is no length: the line is damage and its
            # payload, whatever it is, is skipped by resynchronising
            self.undecodable += len(raw)
            out.append(Undecodable(off, raw, "payload length is not an ASCII number", ts))
            self.state = RESYNC
            return
        self.lines += 1
        length = len(raw)
        self.decoded += length
        cmd = RawCommand(verb, trid_of(verb, params), params, None, off, length, None, ts)
        if bad:
            cmd.bad_utf8 = True
        if self.lines == 1 and verb == "VER" and params[:1] == ["MSNFTP"]:
            self.ftp = True
        if min_args and len(params) >= min_args and is_num(params[-1], 10 ** 6) \
                and not self.ftp:
            # a claim of more than 18 digits is as impossible as one of 10: it is kept
            # as the largest 18-digit number (no int() of a 5,000-digit string)
            n = int(params[-1]) if len(params[-1]) <= MAX_DIGITS else 10 ** MAX_DIGITS - 1
            cmd.declared = n
            if n > self.limits.max_payload:
                # an impossible claim: report the line, then find the next command
                cmd.payload = b""
                cmd.missing = n
                out.append(cmd)
                self.state = RESYNC
                return
            if n == 0:
                cmd.payload = b""
                out.append(cmd)
                return
            self.cmd = cmd
            self.need = n
            self.parts = []
            self.state = PAYLOAD
            return
        out.append(cmd)
        if self.ftp and verb == "FIL" and params and is_num(params[0]):
            self.file_left = int(params[0])
            if self.file_left:
                self.state = BLOCK_HDR

    def _fast(self, data: bytes, ts, out) -> int:
        """The common case, straight from a segment's bytes without buffering: whole
        lines and whole payloads.  Returns how much was consumed; the rest (a partial
        line or payload, or anything unusual) goes through the buffered machinery."""
        pos, n = 0, len(data)
        maxl = self.limits.max_line + 2
        while pos < n and self.state == LINE:
            i = data.find(b"\n", pos)
            if i < 0 or i - pos > maxl:
                break
            raw = data[pos:i + 1]
            line = raw[:-1]
            if line[-1:] == b"\r":
                line = line[:-1]
            off = self.base
            self.base += len(raw)
            pos = i + 1
            self._command(line, raw, off, ts, out)
            if self.state == PAYLOAD and n - pos >= self.need:
                need = self.need
                cmd = self.cmd
                assert cmd is not None      # (state PAYLOAD: _command set it)
                cmd.payload = data[pos:pos + need]
                cmd.length += need
                self.decoded += need
                self.base += need
                pos += need
                self.need = 0
                self.cmd = None
                self.state = LINE
                out.append(cmd)
        return pos
