"""CHL/QRY verification (reference §6): answer = md5(challenge + product key), hex."""

from __future__ import annotations

import hashlib

# product id -> product key: the two MSNP8-era pairs the reference documents (§6).
# Other PROD00xx ids give `valid: null` rather than a guess.
PRODUCT_KEYS = {
    "msmsgs@msnmsgr.com": "Q1P7W2E4J9R8U3S5",
    "PROD0038W!61ZTF9": "VT6PX?UQTM4WM%YR",
}


def expected_answer(challenge: str, product_id: str) -> str | None:
    key = PRODUCT_KEYS.get(product_id)
    if key is None:
        return None
    return hashlib.md5((challenge + key).encode("latin-1", "replace")).hexdigest()


def verify(challenge: str | None, product_id: str, response: str) -> bool | None:
    """True/False when the product key is known and the challenge was seen, else None."""
    if challenge is None:
        return None
    exp = expected_answer(challenge, product_id)
    if exp is None:
        return None
    return response.strip().lower() == exp
