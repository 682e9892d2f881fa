"""--redact: mask the credentials and secrets that MSNP carries in the clear, so a
report can be shared: Passport tickets (USR TWN S), MSPAuth, switchboard cookies
(XFR SB / RNG / USR / ANS), MSNFTP auth cookies and, optionally, QRY answers.

The document is redacted by value: every secret found is collected, then every string
in the document is searched for it, so a secret quoted elsewhere (a summary, a profile
header, a notification field) is masked too.
"""

from __future__ import annotations

MASK = "[redacted]"


def _ticket_parts(ticket: str) -> list[str]:
    parts = [ticket]
    for item in ticket.split("&"):
        _, eq, value = item.partition("=")
        if eq and len(value) >= 6:
            parts.append(value)
    return parts


def secrets(doc: dict, qry: bool = False) -> set[str]:
    found: set[str] = set()
    for s in doc.get("sessions", []):
        if s.get("ticket"):
            found.update(_ticket_parts(s["ticket"]))
        if s.get("sb_cookie"):
            found.add(s["sb_cookie"])
        prof = s.get("profile") or {}
        for k, v in (prof.get("headers") or {}).items():
            if k.lower() == "mspauth" and v:
                found.add(v)
        if s.get("kind") == "dispatch" and s.get("policy") and s.get("auth_method") == "MD5":
            pass    # an MD5 salt is not a secret
    for n in doc.get("notifications", []):
        f = n.get("fields") or {}
        if f.get("cookie"):
            found.add(f["cookie"])
    for i in doc.get("invitations", []):
        if i.get("auth_cookie"):
            found.add(i["auth_cookie"])
    if qry:
        for c in doc.get("challenges", []):
            if c.get("response"):
                found.add(c["response"])
    return {x for x in found if x and len(x) >= 4}


def _mask(value, secrets_sorted):
    if isinstance(value, str):
        for sec in secrets_sorted:
            if sec in value:
                value = value.replace(sec, MASK)
        return value
    if isinstance(value, list):
        return [_mask(v, secrets_sorted) for v in value]
    if isinstance(value, dict):
        return {k: _mask(v, secrets_sorted) for k, v in value.items()}
    return value


def redact_document(doc: dict, qry: bool = False) -> dict:
    found = sorted(secrets(doc, qry), key=len, reverse=True)   # longest first
    out = {}
    for k, v in doc.items():
        if k.startswith("_"):
            out[k] = v
        elif isinstance(v, list):
            out[k] = [{a: (b if a.startswith("_") else _mask(b, found)) for a, b in r.items()}
                      for r in v]
        else:
            out[k] = _mask(v, found)
    out.setdefault("summary", {})["redacted"] = {"on": True, "qry_answers": qry,
                                                 "secrets_masked": len(found)}
    return out


def redact_params(verb: str, params: list[str], qry: bool = False) -> list[str]:
    """The same masking for one command of the protocol trace (streamed, by position)."""
    p = list(params)
    n = len(p)
    if verb == "USR" and n >= 4 and p[1] in ("TWN", "MD5") and p[2] == "S" and "=" in p[3]:
        p[3] = MASK                                    # ticket (a client's TWN S)
    elif verb == "USR" and n == 3 and "@" in p[1]:     # switchboard caller cookie
        p[2] = MASK
    elif verb == "USR" and n == 2 and "@" in p[0]:     # MSNFTP auth cookie
        p[1] = MASK
    elif verb == "ANS" and n >= 4:
        p[2] = MASK
    elif verb == "XFR" and n >= 5 and p[3] == "CKI":
        p[4] = MASK
    elif verb == "RNG" and n >= 4 and p[2] == "CKI":
        p[3] = MASK
    return p
