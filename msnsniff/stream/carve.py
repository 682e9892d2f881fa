"""Carving MSNP out of any bytes (memory images, pagefiles, disk images), sans-IO.

``Carver.feed(chunk)`` takes the file's bytes in order, in chunks of any size, and
returns the fragments found so far; ``close()`` the rest.  Fragments split across
chunks are found because the last ``OVERLAP`` bytes of every chunk wait for the next
one: a fragment is only decoded once every byte its length could claim is present (or
the input has ended).  Memory is the chunk plus that window, whatever the input's size.

Speed comes from never running Python per byte.  The chunk's pages that are not all
zero (a memory image is half zero pages) are translated once (C, ~1 GB/s) so that every
upper-case letter becomes ``A`` and the separators that follow the words MSNP starts
with (space, ``-`` of ``MIME-Version``, ``/`` of ``MSNSLP/1.0``) become a space; then
``bytes.find`` (C) looks for ``AAA `` — a verb and its space, the ``IME-`` of
``MIME-Version``, the ``SLP/`` of ``MSNSLP/``.  UTF-16LE strings (the client's in-memory
strings) are found the same way with ``A\\0A\\0A\\0 \\0`` (NUL stays NUL), in the
non-zero pages only: a needle holding NULs steps slowly through zeros (CPython's find
skips by the byte after its window).  Each hit is then decided by
carvefrag.py with the capture path's own parsers.  ``<msnobj`` has no upper-case word
and is looked for as it is.

A fragment flood (an image that is all ``MSG``) is bounded: at most ``cap`` fragments
per MiB are decoded; the rest are counted and reported as ``capped`` rows.
"""

from __future__ import annotations

import re

from ..config import DEFAULT_LIMITS, Limits
from . import carvefrag as F

_T = bytearray(b"." * 256)
for _c in range(0x41, 0x5B):
    _T[_c] = 0x41
_T[0] = 0
_T[0x20] = _T[0x2D] = _T[0x2F] = 0x20
TRANSLATE = bytes(_T)
del _T, _c

ASCII_ANCHOR = b"AAA "
# words before a space that start something other than a command line (MSNSLP)
_WORDS = {b"INVITE ", b"BYE ", b"ACK "}
# the three letters before the separator at an ASCII anchor that can start anything:
# a verb, INV(ITE), M(IME)-, MSN(SLP)/
_CANDIDATES = F._KNOWN_B | {b"ITE", b"IME", b"SLP"}
MSNOBJ_ANCHOR = b"<msnobj"
_ASCII_RE = re.compile(re.escape(ASCII_ANCHOR))
_MSNOBJ_RE = re.compile(re.escape(MSNOBJ_ANCHOR))

# the longest a fragment may reach past its start: a command line and the largest
# payload framing accepts; UTF-16 doubles it
# the longest UTF-16 string decoded at a hit: a line and a switchboard MSG's payload
# many times over (a string that runs on is garbage after the fragment's own length)
UTF16_RUN = 16 * 1024
# a UTF-16 string is first decoded this far: an in-memory string usually ends (two NULs)
# well before, and one that runs on into random bytes costs its decode per byte; the
# long decode is done only when the short one cannot be trusted (see _utf16)
UTF16_FIRST = 2048
OVERLAP = max(DEFAULT_LIMITS.max_line + DEFAULT_LIMITS.max_payload + 64, UTF16_RUN)
BACK = 64                    # bytes kept before the scanned region (a word's start)
MIB = 1 << 20
DEFAULT_CAP = 4096           # fragments decoded per MiB (real pages hold far fewer)


class Carver:
    def __init__(self, limits: Limits = DEFAULT_LIMITS, cap: int = DEFAULT_CAP,
                 base: int = 0):
        self.limits = limits
        self.cap = cap
        self.buf = b""
        self.base = base         # file offset of buf[0] (a range of a file starts later)
        self.start = 0           # buf index where the next scan begins
        self.covered = base      # file offset up to which bytes belong to a fragment
        self.u16_done = base       # file offset up to which UTF-16 strings were carved
        self.per_mib: dict = {}  # MiB -> fragments decoded there
        self.capped: dict = {}   # MiB -> anchors not examined because of the cap
        self.fed = 0
        self.fragments = 0
        # (counts, MiB) changed while a short UTF-16 decode is tried (see _utf16)
        self._undo: list[tuple[dict, int]] | None = None

    def feed(self, data: bytes) -> list:
        self.fed += len(data)
        buf = self.buf + data if self.buf else bytes(data)
        out: list = []
        stop = len(buf) - OVERLAP
        if stop > self.start:
            self._scan(buf, self.start, stop, len(buf), out)
            keep = max(stop - BACK, 0)
            self.buf = buf[keep:]
            self.base += keep
            self.start = stop - keep
        else:
            self.buf = buf
        return out

    def close(self) -> list:
        out: list = []
        if len(self.buf) > self.start:
            self._scan(self.buf, self.start, len(self.buf), len(self.buf), out)
        self.buf = b""
        return out

    def capped_ranges(self) -> list[tuple[int, int, int]]:
        """(first MiB, last MiB, anchors not examined), consecutive MiBs merged."""
        out: list = []
        for mib in sorted(self.capped):
            if out and out[-1][1] == mib - 1:
                a, _, n = out[-1]
                out[-1] = (a, mib, n + self.capped[mib])
            else:
                out.append((mib, mib, self.capped[mib]))
        return out

    # ------------------------------------------------------------ machinery
    def _room(self, off: int) -> bool:
        mib = off >> 20
        if self.per_mib.get(mib, 0) < self.cap:
            return True
        self._count(self.capped, mib)
        return False

    def _count(self, counts: dict, mib: int) -> None:
        counts[mib] = counts.get(mib, 0) + 1
        if self._undo is not None:
            self._undo.append((counts, mib))

    def _emit(self, r: dict, off: int, encoding: str, out: list):
        self._count(self.per_mib, off >> 20)
        self.fragments += 1
        r["offset"] = off
        r["encoding"] = encoding
        r["end"] = off + r["length"] * (2 if encoding == "utf-16le" else 1)
        out.append(r)

    def _scan(self, buf: bytes, start: int, stop: int, end: int, out: list):
        """Every anchor starting in buf[start:stop]; fragments may reach up to end.
        The ASCII anchor is by far the most frequent (every upper-case word in text):
        its hits are found and the words that start nothing dropped before any Python
        runs per hit."""
        runs = _nonzero_runs(buf, start, stop)
        tr = _translated(buf, runs)
        la, lo = stop + 3, stop + len(MSNOBJ_ANCHOR) - 1
        cand = _CANDIDATES
        # every hit of each anchor, as lists made by C loops (a find per hit from
        # Python cost more than the rest of a rejection), walked in order of position
        # (no two anchors can start at the same byte)
        hits = [(a, 0) for a in [m.start() for m in _ASCII_RE.finditer(tr, start, la)]
                if buf[a:a + 3] in cand]
        hits += [(u, 1) for u in _utf16_hits(tr, runs, start, stop)]
        hits += [(m.start(), 2) for m in _MSNOBJ_RE.finditer(buf, start, lo)]
        hits.sort()
        base = self.base
        for pos, kind in hits:
            if base + pos < self.covered:
                continue
            if kind == 0:
                self._ascii(buf, tr, pos, end, base, "ascii", out)
            elif kind == 1:
                if base + pos >= self.u16_done:
                    self._utf16(buf, pos, end, out)
            elif self._room(base + pos):
                found = F.msnobj_at(buf, pos, end)
                if found:
                    self._emit(found[0], base + pos, "ascii", out)
                    self.covered = base + pos + found[1]

    def _ascii(self, buf, tr, p, end, base, encoding, out, offset_of=None) -> int:
        """A hit of ``AAA `` at p: decode what starts at the word's first letter.
        Returns the buf index after the fragment(s) (p when nothing was found)."""
        w = p
        while w > 0 and 0x41 <= buf[w - 1] <= 0x5A and p - w < 16:
            w -= 1
        if buf[p + 3:p + 4] == b" " and buf[w:p + 4] not in _WORDS:
            if not F.shape_ok(buf, p):
                return p                # the common case: an upper-case word in text
            w = p                       # a verb after other letters (garbage before it)
        off = offset_of(w) if offset_of else base + w
        if not self._room(off):
            return p
        found = F.at_word(buf, w, p + 3, end, self.limits)
        if found is None:
            return p
        r, used = found
        self._emit(r, off, encoding, out)
        pos = w + used
        # error replies (three digits) follow the command they answer: no upper-case
        # word anchors them
        while True:
            more = F.digit_line_at(buf, pos, end, self.limits)
            if more is None or not self._room(offset_of(pos) if offset_of else base + pos):
                break
            self._emit(more[0], offset_of(pos) if offset_of else base + pos, encoding, out)
            pos += more[1]
        if offset_of is None:
            self.covered = max(self.covered, base + pos)
        return pos

    def _utf16(self, buf, q, end, out):
        """Three UTF-16LE letters at q: the string from the word's first letter is
        decoded to UTF-8 and carved like ASCII; offsets point into the original bytes.

        The string is first decoded to UTF16_FIRST bytes.  That gives exactly what the
        full decode gives when the string ends inside (two NULs), or when every
        fragment found is complete by its own length and ends well before the cut;
        otherwise (a fragment without a length runs to the string's end, or one is
        cut) the counts it changed are undone and the string is decoded in full."""
        if not (0x41 <= buf[q] <= 0x5A and not buf[q + 1] and 0x41 <= buf[q + 2] <= 0x5A):
            return
        w = q
        while w >= 2 and 0x41 <= buf[w - 2] <= 0x5A and buf[w - 1] == 0 and q - w < 32:
            w -= 2
        full = min(end, w + UTF16_RUN)
        short = min(full, w + UTF16_FIRST)
        if short < full:
            fragments = self.fragments
            trial: list = []
            self._undo = []
            try:
                ok = self._utf16_string(buf, q, w, short, trial, trusted=False)
            finally:
                undo, self._undo = self._undo, None
            if ok:
                out += trial
                return
            for counts, mib in undo:
                counts[mib] -= 1
                if not counts[mib]:
                    del counts[mib]
            self.fragments = fragments
        self._utf16_string(buf, q, w, full, out, trusted=True)

    def _utf16_string(self, buf, q, w, lim, out, trusted) -> bool:
        """Carve the UTF-16 string buf[w:lim] (up to its two NULs).  Untrusted (a short
        decode): returns False, changing nothing but the undoable counts, when the
        result could differ from the full decode's."""
        z = buf.find(b"\x00\x00", w, lim)
        while z >= 0 and (z - w) & 1:
            z = buf.find(b"\x00\x00", z + 1, lim)
        if z >= 0:
            trusted = True          # the string ends here whatever comes after
        stop = z if z >= 0 else lim - ((lim - w) & 1)
        text = buf[w:stop].decode("utf-16-le", "replace")
        u8 = text.encode("utf-8", "replace")
        base = self.base + w

        def offset_of(i: int) -> int:
            # UTF-8 index -> UTF-16 bytes before it
            return base + len(u8[:i].decode("utf-8", "replace").encode("utf-16-le",
                                                                      "surrogatepass"))
        # fragments one after the other from the string's start (lines of a buffer);
        # the first bytes that start none end it: a string that does not end with NULs
        # runs on into whatever follows, which is not UTF-16 text
        sub = u8.translate(TRANSLATE)
        last = 0                    # UTF-8 index after the last fragment
        first = len(out)
        while True:
            i = sub.find(ASCII_ANCHOR, last, last + 24)
            if i < 0:
                break
            nxt = self._ascii(u8, sub, i, len(u8), base, "utf-16le", out, offset_of)
            if nxt <= i:
                if not trusted:
                    return False    # it may have needed bytes past the cut
                break
            last = nxt
        # a cap refusal, a fragment without its full length, or one ending near the
        # cut: the full decode could carve otherwise
        if not trusted and (last + 64 > len(u8)
                            or any(r["complete"] != F.COMPLETE for r in out[first:])
                            or any(c is self.capped for c, _ in self._undo or ())):
            return False
        if last:
            self.covered = max(self.covered, offset_of(last))
        self.u16_done = offset_of(last) if last else self.base + q + 8
        return True


ZERO_PAGE = bytes(4096)
# three UTF-16LE letters and a separator in the translated bytes (NUL stays NUL)
UTF16_ANCHOR = b"A\x00A\x00A\x00 \x00"


def _nonzero_runs(buf: bytes, start: int, stop: int) -> list[tuple[int, int]]:
    """The runs of 4 KiB pages, from the page holding ``start`` past ``stop``, that are
    not all zero.  A memory image is half zero pages and no anchor starts in one;
    ``startswith`` compares a page with memcmp and copies nothing."""
    page = len(ZERO_PAGE)
    runs, a, p = [], None, start - start % page
    while p < stop:
        if buf.startswith(ZERO_PAGE, p):
            if a is not None:
                runs.append((a, p))
                a = None
        elif a is None:
            a = p
        p += page
    if a is not None:
        runs.append((a, p))
    return runs


def _translated(buf: bytes, runs) -> bytearray:
    """``buf.translate(TRANSLATE)`` where it matters: the non-zero runs (and the 8
    bytes after each, where an anchor that starts in it may end); zero pages stay zero
    without being looked at, which halves this pass on a memory image."""
    tr = bytearray(len(buf))
    for a, b in runs:
        b = min(b + 8, len(buf))
        tr[a:b] = buf[a:b].translate(TRANSLATE)
    return tr


def _utf16_hits(tr, runs, start: int, stop: int) -> list[int]:
    """Where three UTF-16LE upper-case letters and a separator start in
    buf[start:stop] (sorted).  The needle holds NULs, which makes ``find`` step slowly
    through zeros: it is run on the non-zero runs only."""
    hits = []
    for a, b in runs:
        lo, hi = max(a, start), min(b, stop)
        j = tr.find(UTF16_ANCHOR, lo, hi + 7)
        while j >= 0:
            hits.append(j)
            j = tr.find(UTF16_ANCHOR, j + 1, hi + 7)
    return hits


class Grouper:
    """Fragments that repeat (the same message in several pages) become one row that
    keeps every offset.  Two fragments are the same when everything but where they lie
    is equal."""

    KEY = ("encoding", "kind", "verb", "content_type", "sender", "recipient", "text",
           "complete", "length")

    def __init__(self):
        self.rows: dict = {}

    def add(self, r: dict):
        key = tuple(r.get(k) for k in self.KEY)
        g = self.rows.get(key)
        if g is None:
            g = self.rows[key] = dict(r, count=0, offsets=[])
        g["count"] += 1
        g["offsets"].append(r["offset"])

    def result(self) -> list[dict]:
        return sorted(self.rows.values(), key=lambda g: g["offsets"][0])
