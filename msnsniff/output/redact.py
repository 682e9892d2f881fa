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


class Redactor:
    """Collects the secrets a row carries in its known secret fields, and masks every
    string of a row by value against all secrets seen so far.  For a whole document,
    ``collect`` every row first; a stream is masked row by row (the secret fields of a
    row always name the secrets that row quotes elsewhere)."""

    def __init__(self, qry: bool = False):
        self.qry = qry
        self.found: set[str] = set()
        self._sorted: list[str] = []

    def collect(self, table: str, r: dict):
        new = []
        if table == "sessions":
            if r.get("ticket"):
                new += _ticket_parts(r["ticket"])
            if r.get("auth_response"):              # SSO: the signed nonce
                new.append(r["auth_response"])
            if r.get("sb_cookie"):
                new.append(r["sb_cookie"])
            for k, v in ((r.get("profile") or {}).get("headers") or {}).items():
                if k.lower() == "mspauth" and v:
                    new.append(v)
        elif table == "notifications":
            cookie = (r.get("fields") or {}).get("cookie")
            if cookie:
                new.append(cookie)
        elif table == "invitations" and r.get("auth_cookie"):
            new.append(r["auth_cookie"])
        elif table == "challenges" and self.qry and r.get("response"):
            new.append(r["response"])
        new = [x for x in new if len(x) >= 4 and x not in self.found]
        if new:
            self.found.update(new)
            self._sorted = sorted(self.found, key=len, reverse=True)   # longest first

    def mask(self, r: dict) -> dict:
        return {k: (v if k.startswith("_") else _mask(v, self._sorted)) for k, v in r.items()}

    def value(self, v):
        """Any value (a summary, a string) masked against the secrets seen so far."""
        return _mask(v, self._sorted)

    def row(self, table: str, r: dict) -> dict:
        self.collect(table, r)
        return self.mask(r)

    def collect_event(self, ev):
        """`live`: the secrets an event carries, before its line is printed (the rows
        that name them are finished only when the connection ends)."""
        new = []
        for name in ("ticket", "cookie", "auth_cookie"):
            v = getattr(ev, name, None)
            if isinstance(v, str):
                new += _ticket_parts(v) if name == "ticket" else [v]
        if type(ev).__name__ == "AuthTicket" and getattr(ev, "response", None):
            new.append(ev.response)                 # SSO: the signed nonce
        if self.qry and type(ev).__name__ == "ChallengeAnswer":
            new.append(ev.response)
        if type(ev).__name__ == "Profile":
            new += [v for k, v in (ev.headers or {}).items() if k.lower() == "mspauth" and v]
        new = [x for x in new if len(x) >= 4 and x not in self.found]
        if new:
            self.found.update(new)
            self._sorted = sorted(self.found, key=len, reverse=True)

    def info(self) -> dict:
        return {"on": True, "qry_answers": self.qry, "secrets_masked": len(self.found)}


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


def redact_pairs(pairs, summary: dict, qry: bool = False):
    """(table, rows) pairs masked row by row as they are written (as JSON Lines are):
    the summary says so once every table went by."""
    red = Redactor(qry)
    for t, rows in pairs:
        yield t, (red.row(t, r) for r in rows)
    summary["redacted"] = red.info()


def redact_document(doc: dict, qry: bool = False) -> dict:
    red = Redactor(qry)
    for k, v in doc.items():
        if isinstance(v, list):
            for r in v:
                red.collect(k, r)
    out = {}
    for k, v in doc.items():
        if k.startswith("_"):
            out[k] = v
        elif isinstance(v, list):
            out[k] = [red.mask(r) for r in v]
        else:
            out[k] = _mask(v, red._sorted)
    out["summary"] = dict(out.get("summary", {}), redacted=red.info())
    return out


def redact_params(verb: str, params: list[str], qry: bool = False) -> list[str]:
    """The same masking for one command of the protocol trace (streamed, by position)."""
    p = list(params)
    n = len(p)
    if verb == "USR" and n >= 4 and p[1] in ("TWN", "MD5") and p[2] == "S" and "=" in p[3]:
        p[3] = MASK                                    # ticket (a client's TWN S)
    elif verb == "USR" and n >= 4 and p[1] == "SSO" and p[2] == "S" \
            and not p[3].replace("_", "").isupper():   # not the server's MBI_KEY_OLD
        p[3] = MASK                                    # SSO ticket, then the signed nonce
        if n >= 5:
            p[4] = MASK
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
