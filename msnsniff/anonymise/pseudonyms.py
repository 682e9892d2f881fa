"""Pseudonyms of the same byte length, consistent within one run (``msnsniff anonymise``).

Every value is replaced by one derived from a keyed hash of the value itself, so the
same passport, name, cookie or word becomes the same pseudonym wherever it occurs (a
switchboard's cookie still matches its XFR, a message and its copy stay equal), and a
different value becomes a different one.  The key is random per run: without the map
``--keep-map`` writes, nothing leads back.

Lengths are kept in bytes *and* in characters of the same UTF-8 width: a 2-byte
letter becomes a 2-byte letter, so payload lengths, TCP sequence numbers and P2P
offsets stay valid, and a line of text keeps its shape (spaces, punctuation, emoji and
line ends stay where they were).  Pure functions of (key, value); no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

_LOWER = "abcdefghijklmnopqrstuvwxyz"
_UPPER = _LOWER.upper()
_DIGITS = "0123456789"
# letters whose UTF-8 form is 2 bytes (à..þ without ÷) and 3 bytes (CJK ideographs)
_WIDE2 = [chr(c) for c in range(0xE0, 0xFF) if c != 0xF7]
_WORD = re.compile(r"[\w\udc80-\udcff]+")
EMAIL = re.compile(rb"[A-Za-z0-9_.+\-]+@(?:[A-Za-z0-9\-]+\.)+[A-Za-z]{2,}")
IPV6 = re.compile(rb"(?<![\w:])(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4}(?![\w:])")
IPV4 = re.compile(rb"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")


# addresses of the protocol itself, not of anyone: the challenge's product id, the
# sender of Hotmail notices
PROTOCOL_ACCOUNTS = frozenset(("msmsgs@msnmsgr.com", "pro0090yuauv@msnmsgr.com"))
# public mail domains identify no one: their accounts are mapped, the domains kept
PUBLIC_DOMAINS = frozenset("""hotmail.com msn.com live.com passport.com msnmsgr.com
outlook.com hotmail.co.uk hotmail.fr hotmail.de live.co.uk live.fr windowslive.com
webtv.net compuserve.com gmail.com yahoo.com aol.com example.com example.org example.net
messenger.msn.com escargot.chat escargot.log1p.xyz""".split())


class Pseudonyms:
    def __init__(self, key: bytes | None = None, addresses: bool = False):
        self.key = key if key is not None else secrets.token_bytes(32)
        self.addresses = addresses
        self.map: dict[str, dict[str, str]] = {}     # kind -> original -> pseudonym
        self._taken: dict[str, set] = {}
        self._words: dict[str, str] = {}
        self.objects = Objects(self)

    # ------------------------------------------------------------ machinery
    def _digest(self, label: str, value: bytes, n: int = 32, salt: int = 0) -> bytes:
        out = b""
        block = 0
        while len(out) < n:
            out += hashlib.blake2b(value, key=self.key, digest_size=64,
                                   person=label.encode()[:16].ljust(16, b"\0"),
                                   salt=(salt * 65536 + block).to_bytes(16, "little")).digest()
            block += 1
        return out[:n]

    def _unique(self, kind: str, original: str, make) -> str:
        """``make(salt)`` until the pseudonym is new for ``kind`` (two values never share
        one) and differs from the original; remembered for the map."""
        known = self.map.setdefault(kind, {})
        if original in known:
            return known[original]
        taken = self._taken.setdefault(kind, set())
        for salt in range(64):
            new = make(salt)
            if new not in taken and (new != original or salt == 63):
                break
        known[original] = new
        taken.add(new)
        return new

    def _chars(self, seed: bytes, template: str) -> str:
        """A string shaped like ``template``: letters stay letters of the same case and
        UTF-8 width, digits stay digits, everything else is kept."""
        out = []
        for i, c in enumerate(template):
            r = seed[i % len(seed)] + 7 * (i // len(seed))
            if "0" <= c <= "9":
                out.append(_DIGITS[r % 10])
            elif c.isascii():
                out.append((_UPPER if c.isupper() else _LOWER)[r % 26] if c.isalpha() else c)
            elif "\udc80" <= c <= "\udcff":          # a byte that was not UTF-8
                out.append(chr(0xDCE0 + r % 30))
            else:
                # (a non-ASCII digit too: a fullwidth '１' is 3 bytes, an ASCII digit 1)
                w = len(c.encode("utf-8", "surrogatepass"))
                if w == 2:
                    out.append(_WIDE2[r % len(_WIDE2)])
                elif w == 3:
                    out.append(chr(0x4E00 + (r * 131 + i) % 0x5000))
                else:
                    out.append(chr(0x20000 + (r * 131 + i) % 0xA000))
        return "".join(out)

    # ------------------------------------------------------------ values
    def word(self, w: str) -> str:
        new = self._words.get(w)
        if new is None:
            seed = self._digest("word", w.encode("utf-8", "surrogateescape"), 2 * len(w) + 8)
            new = self._chars(seed, w)
            if len(self._words) < 200000:
                self._words[w] = new
        return new

    def text(self, raw: bytes) -> bytes:
        """Message text, a personal message, a name: every word replaced by its keyed
        pseudo-word of the same widths; whitespace, punctuation and emoji kept.  A
        passport in it becomes that passport's pseudonym.  Always the same byte length
        (every caller relies on it: offsets, sequence numbers)."""
        if b"@" not in raw:
            new = self._words_of(raw)
        else:
            out, pos = [], 0
            for m in EMAIL.finditer(raw):
                out += [self._words_of(raw[pos:m.start()]), self.passport(m.group())]
                pos = m.end()
            out.append(self._words_of(raw[pos:]))
            new = b"".join(out)
        return new if len(new) == len(raw) else self.scrub(raw)

    def scrub(self, raw: bytes) -> bytes:
        """Byte for byte, when a character-level pseudonym could not keep the length:
        ASCII letters and digits replaced in their class, UTF-8 continuation bytes by
        others (the characters' widths stay, so the text still decodes), the rest kept."""
        seed = self._digest("scrub", raw, len(raw) + 8)
        out = bytearray(raw)
        for i, b in enumerate(raw):
            r = seed[i]
            if 0x30 <= b <= 0x39:
                out[i] = 0x30 + r % 10
            elif 0x41 <= b <= 0x5A:
                out[i] = 0x41 + r % 26
            elif 0x61 <= b <= 0x7A:
                out[i] = 0x61 + r % 26
            elif 0x80 <= b <= 0xBF:
                out[i] = 0x80 + r % 64
        return bytes(out)

    def _words_of(self, raw: bytes) -> bytes:
        s = raw.decode("utf-8", "surrogateescape")
        return _WORD.sub(lambda m: self.word(m.group()), s).encode("utf-8", "surrogateescape")

    def token(self, raw: bytes, kind: str = "token") -> bytes:
        """A ticket, cookie, MSPAuth, hash or number: same characters classes, kept
        punctuation (so ``t=…&p=…`` still splits), the same token always the same."""
        s = raw.decode("latin-1")
        new = self._unique(kind, s, lambda salt: self._chars(
            self._digest(kind, raw, len(s) + 8, salt), s))
        return new.encode("latin-1")

    def passport(self, raw: bytes) -> bytes:
        """``alice@example.com`` -> a pseudonym of the same length; the account part and
        the domain are mapped each on its own (ADL's ``<d n=…><c n=…>`` splits them),
        upper-case letters kept where they were."""
        if raw.lower().decode("latin-1") in PROTOCOL_ACCOUNTS:
            return raw
        local, _, domain = raw.decode("latin-1").rpartition("@")
        new = f"{self.local(local)}@{self.domain(domain)}"
        return "".join(n.upper() if o.isupper() else n
                       for o, n in zip(raw.decode("latin-1"), new)).encode("latin-1")

    def local(self, local: str) -> str:
        low = local.lower()
        return self._unique("account", low, lambda salt: self._chars(
            self._digest("account", low.encode("latin-1", "replace"), len(low) + 8, salt),
            low))

    def domain(self, domain: str) -> str:
        low = domain.lower()
        if low in PUBLIC_DOMAINS:
            return domain
        head, dot, tld = low.rpartition(".")
        if not dot:
            return self.local(low)
        return self._unique("domain", low, lambda salt: self._chars(
            self._digest("domain", low.encode("latin-1", "replace"), len(head) + 8, salt),
            head) + dot + tld)

    # ------------------------------------------------------------ addresses
    def ipv4(self, raw: bytes) -> bytes:
        """A dotted IPv4 address -> one whose octets have the same digit counts (same
        text length), consistent with the binary mapping of ``ipv4_bytes``."""
        if not self.addresses:
            return raw
        parts = raw.split(b".")
        try:
            octets = bytes(int(p) for p in parts)
        except ValueError:
            return raw
        if any(len(p) != len(str(int(p))) for p in parts):
            return raw                      # leading zeros: not a form we map
        return ".".join(str(b) for b in self.ipv4_bytes(octets)).encode()

    def ipv4_bytes(self, octets: bytes) -> bytes:
        if not self.addresses:
            return octets
        orig = ".".join(str(b) for b in octets)

        def make(salt):
            seed = self._digest("ipv4", octets, 8, salt)
            out = []
            for i, b in enumerate(octets):
                lo, hi = (0, 9) if b < 10 else ((10, 99) if b < 100 else (100, 255))
                out.append(str(lo + seed[i] % (hi - lo + 1)))
            return ".".join(out)
        return bytes(int(p) for p in self._unique("ipv4", orig, make).split("."))

    def ipv6_bytes(self, raw: bytes) -> bytes:
        """Each non-zero 16-bit group -> a non-zero group of the same hex-digit count, so
        the address's text (zero groups compressed the same way) keeps its length."""
        if not self.addresses:
            return raw
        orig = raw.hex()

        def make(salt):
            seed = self._digest("ipv6", raw, 32, salt)
            out = []
            for i in range(8):
                g = int.from_bytes(raw[2 * i:2 * i + 2], "big")
                if g == 0:
                    out.append(0)
                    continue
                digits = len(f"{g:x}")
                lo = 1 if digits == 1 else 16 ** (digits - 1)
                hi = 16 ** digits - 1
                r = int.from_bytes(seed[2 * i:2 * i + 2], "big")
                out.append(lo + r % (hi - lo + 1))
            return b"".join(g.to_bytes(2, "big") for g in out).hex()
        return bytes.fromhex(self._unique("ipv6", orig, make))

    def ipv6_text(self, raw: bytes) -> bytes:
        import ipaddress
        try:
            a = ipaddress.IPv6Address(raw.decode())
        except ValueError:
            return raw
        new = ipaddress.IPv6Address(self.ipv6_bytes(a.packed)).compressed.encode()
        return new if len(new) == len(raw) else raw

    def mac(self, raw: bytes) -> bytes:
        if not self.addresses or raw in (b"\xff" * 6, b"\0" * 6):
            return raw
        new = self._unique("mac", raw.hex(), lambda salt: (
            bytes([0x02]) + self._digest("mac", raw, 5, salt)).hex())
        return bytes.fromhex(new)

    def addresses_in(self, raw: bytes) -> bytes:
        """Every dotted IPv4 address in ``raw`` mapped (with --addresses)."""
        if not self.addresses:
            return raw
        if b"." in raw:
            raw = IPV4.sub(lambda m: self.ipv4(m.group()), raw)
        if raw.count(b":") >= 2:
            raw = IPV6.sub(lambda m: self.ipv6_text(m.group()), raw)
        return raw

    # ------------------------------------------------------------ file content
    def filler(self, label: str, seed: bytes) -> "Filler":
        return Filler(self._digest("filler:" + label, seed, 32))

    def report(self) -> dict:
        return {kind: dict(sorted(values.items())) for kind, values in sorted(self.map.items())}


class Objects:
    """MSNObjects met so far: the filler that stands for each one's bytes, by the
    original SHA1D, and the SHA1D of that filler (what the rewritten object claims)."""

    def __init__(self, ps: "Pseudonyms"):
        self.ps = ps
        self.by_sha1d: dict[str, tuple[Filler, int, str]] = {}

    def sha1d(self, original: str, size: int) -> str:
        known = self.by_sha1d.get(original)
        if known is None:
            filler = self.ps.filler("object", f"{original}:{size}".encode())
            known = self.by_sha1d[original] = (filler, size, filler.sha1_b64(size))
        return known[2]

    def filler(self, original: str, size: int) -> "Filler":
        self.sha1d(original, size)
        return self.by_sha1d[original][0]


class Filler:
    """Same-size stand-in bytes for a file or object's content: a deterministic stream
    (blake2b of a seed and a block number), so any range can be made on its own and two
    copies of one object get the same bytes."""

    BLOCK = 64

    def __init__(self, seed: bytes):
        self.seed = seed

    def _block(self, i: int) -> bytes:
        return hashlib.blake2b(i.to_bytes(8, "little"), key=self.seed, digest_size=64).digest()

    def bytes(self, offset: int, n: int) -> bytes:
        if n <= 0:
            return b""
        first, last = offset // self.BLOCK, (offset + n - 1) // self.BLOCK
        data = b"".join(self._block(i) for i in range(first, last + 1))
        start = offset - first * self.BLOCK
        return data[start:start + n]

    def sha1_b64(self, size: int) -> str:
        h = hashlib.sha1()
        step = 1 << 16
        for off in range(0, size, step):
            h.update(self.bytes(off, min(step, size - off)))
        return base64.b64encode(h.digest()).decode()


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def url_recode(encoded: bytes, change) -> bytes:
    """Apply ``change`` (bytes -> bytes of the same length) to the URL-decoded value of
    ``encoded`` and write the result back in the same form, byte by byte: where the
    original had ``%XX`` the new byte is ``%XX`` too, where it had a literal byte the new
    one is literal.  The encoded length is therefore kept exactly (the fillers only put
    letters and digits where letters and digits were)."""
    forms: list[bool] = []          # per decoded byte: was it percent-encoded?
    dec = bytearray()
    i, n = 0, len(encoded)
    while i < n:
        c = encoded[i]
        if c == 0x25 and i + 2 < n + 0 and _is_hex(encoded[i + 1:i + 3]):
            dec.append(int(encoded[i + 1:i + 3], 16))
            forms.append(True)
            i += 3
        else:
            dec.append(c)
            forms.append(False)
            i += 1
    new = change(bytes(dec))
    if len(new) != len(dec):
        raise ValueError("a pseudonym changed a length")
    out = bytearray()
    for b, pct, old in zip(new, forms, dec):
        if pct:
            out += b"%%%02X" % b
        elif b in (0x25, 0x20) and b != old:
            raise ValueError("a pseudonym needs escaping where the original had none")
        else:
            out.append(b)
    return bytes(out)


def _is_hex(two: bytes) -> bool:
    return len(two) == 2 and all(c in b"0123456789abcdefABCDEF" for c in two)
