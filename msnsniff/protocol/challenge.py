"""CHL/QRY verification (reference §6; docs/dialects.md).

Two algorithms, chosen by the product id the client names in QRY:
- MSNP8–10 ids: answer = md5(challenge + product key), hex (reference §6);
- MSNP11+ ids: the "MSNP11 challenge": the md5 of challenge + key, read as four
  little-endian 31-bit integers, keys a hash over challenge + product id (padded with
  ASCII '0' to a multiple of 8 bytes, always at least one pad byte), whose two halves are
  XORed back into the md5 words.  Worked examples: tests/test_dialects.py.

An unknown product id gives ``valid: null`` rather than a guess.
"""

from __future__ import annotations

import hashlib
import struct

# product id -> (product key, algorithm).  The MSNP8 pairs are the reference's (§6); the
# later ones are the ids real clients sent (MSN 7.0/7.5, WLM 8.x, 2009), as a revival
# server's source lists them (subpurple/escargot, front/msn/msnp_ns.py, _QRY_ID_CODES).
PRODUCT_KEYS = {
    "msmsgs@msnmsgr.com": ("Q1P7W2E4J9R8U3S5", "md5"),
    "PROD0038W!61ZTF9": ("VT6PX?UQTM4WM%YR", "md5"),
    "PROD0058#7IL2{QD": ("QHDCY@7R1TB6W?5B", "md5"),
    "PROD0061VRRZH@4F": ("JXQ6J@TUOGYV@N0M", "md5"),
    "PROD00504RLUG%WL": ("I2EBK%PYNLZL5_J4", "md5"),
    "PROD0076ENE8*@AW": ("CEQJ8}OE0!WTSWII", "md5"),
    "PROD0090YUAUV{2B": ("YMM8C_H7KCQ2S_KL", "msnp11"),
    "PROD0101{0RM?UBW": ("CFHUR$52U_{VIX5T", "msnp11"),
    "PROD01065C%ZFN6F": ("O4BG@C7BWLYQX?5G", "msnp11"),
    "PROD0112J1LW7%NB": ("RH96F{PHI8PPX_TJ", "msnp11"),
    "PROD0113H11T8$X_": ("RG@XY*28Q5QHS%Q5", "msnp11"),
    "PROD0114ES4Z%Q5W": ("PK}_A_0N_K%O?A9S", "msnp11"),
    "PROD0118R6%2WYOS": ("YIXPX@5I2P0UT*LK", "msnp11"),
    "PROD0119GSJUC$18": ("ILTXC!4IXB5FB*PX", "msnp11"),
    "PROD0120PW!CCV9@": ("C1BX{V4W}Q3*10SM", "msnp11"),
}

_MOD = 0x7FFFFFFF
_MAGIC = 0x0E79A9C1


def msnp11_answer(challenge: str, product_id: str, key: str) -> str:
    """The MSNP11+ QRY answer (32 hex digits)."""
    digest = hashlib.md5((challenge + key).encode("latin-1", "replace")).digest()
    words = list(struct.unpack("<4I", digest))
    k = [w & _MOD for w in words]
    data = (challenge + product_id).encode("latin-1", "replace")
    data += b"0" * (8 - len(data) % 8)
    ints = struct.unpack(f"<{len(data) // 4}I", data)
    high = low = 0
    for i in range(0, len(ints), 2):
        t = (ints[i] * _MAGIC) % _MOD
        t = (k[0] * (t + high) + k[1]) % _MOD
        high = (k[2] * ((ints[i + 1] + t) % _MOD) + k[3]) % _MOD
        low += high + t
    high = (high + k[1]) % _MOD
    low = (low + k[3]) % _MOD
    # the halves go back into the md5 words as they were, top bits included (public
    # implementations that XOR into the masked words differ in those bits only)
    out = (words[0] ^ high, words[1] ^ low, words[2] ^ high, words[3] ^ low)
    return struct.pack("<4I", *out).hex()


def expected_answer(challenge: str, product_id: str) -> str | None:
    entry = PRODUCT_KEYS.get(product_id)
    if entry is None:
        return None
    key, algorithm = entry
    if algorithm == "msnp11":
        return msnp11_answer(challenge, product_id, key)
    return hashlib.md5((challenge + key).encode("latin-1", "replace")).hexdigest()


def verify(challenge: str | None, product_id: str, response: str) -> bool | None:
    """True/False when the product key is known and the challenge was seen, else None."""
    if challenge is None:
        return None
    exp = expected_answer(challenge, product_id)
    if exp is None:
        return None
    return response.strip().lower() == exp
