"""`msnsniff stats`: each client request paired with the server's reply by TrID on its
connection — latency per verb (p50/p95), requests never answered, error codes by request
verb, account or server.  Fed trace events; no printing."""

from __future__ import annotations

from collections import Counter, defaultdict

BY = ("verb", "account", "server")
STATS_COLUMNS = ["requests", "answered", "unanswered", "p50_ms", "p95_ms", "errors"]
# client commands no reply is expected to: MSG with ack U (never) or N (only a NAK on
# failure) is handled below; these have none at all
_NO_REPLY = {"OUT", "PNG", "BYE"}


def _percentile(sorted_ms, q):
    # nearest rank: a value that was measured, not an interpolation
    if not sorted_ms:
        return None
    k = max(0, min(len(sorted_ms) - 1, round(q * len(sorted_ms) + 0.5) - 1))
    return round(sorted_ms[k], 3)


class Stats:
    def __init__(self):
        self.open: dict = {}          # (conn, trid) -> (verb, ts, expects a reply)
        self.account: dict = {}       # conn -> passport
        self.server: dict = {}        # conn -> server endpoint
        self.requests: list = []      # (conn, verb, latency ms | None, error code | None)

    def opened(self, conn, server):
        self.server[conn] = server

    def named(self, conn, passport):
        self.account.setdefault(conn, passport)

    def command(self, conn, direction, ts, cmd):
        trid = cmd.trid
        if trid is None:
            return
        if direction == 0:
            expects = cmd.verb not in _NO_REPLY and not (
                cmd.verb == "MSG" and len(cmd.params) > 1 and cmd.params[1] in ("U", "N"))
            if expects:
                self.open[(conn, trid)] = (cmd.verb, ts)
            return
        req = self.open.pop((conn, trid), None)
        if req is None:
            return                    # a server command (CHL 0, RNG …) or a second reply
        verb, t0 = req
        code = int(cmd.verb) if cmd.verb.isdigit() else None
        self.requests.append((conn, verb, (ts - t0) * 1000.0, code))

    def rows(self, by="verb"):
        unanswered = [(conn, verb, None, None) for (conn, _t), (verb, _ts) in self.open.items()]
        groups: dict = defaultdict(list)
        for conn, verb, ms, code in self.requests + unanswered:
            key = {"verb": verb, "account": self.account.get(conn) or "unknown",
                   "server": self.server.get(conn, "?")}[by]
            groups[key].append((ms, code, verb))
        out = []
        for key in sorted(groups):
            items = groups[key]
            ms = sorted(m for m, _c, _v in items if m is not None)
            errors = Counter((f"{c}" if by == "verb" else f"{v} {c}")
                             for _m, c, v in items if c is not None)
            out.append({by: key, "requests": len(items), "answered": len(ms),
                        "unanswered": len(items) - len(ms), "p50_ms": _percentile(ms, 0.5),
                        "p95_ms": _percentile(ms, 0.95),
                        "errors": [f"{k} ×{n}" for k, n in sorted(errors.items())]})
        return out
