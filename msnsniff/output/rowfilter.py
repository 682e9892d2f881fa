"""`export --account/--with/--since/--until/--connection`: the rows of some sessions and
a time window, decided while the tables stream past.

Tables come in the document's order, ``sessions`` first, so the sessions decide which
session ids every later table keeps (a contact, a transfer or an anomaly belongs to the
account whose connection carried it) without holding any table in memory.  The same
rules as `read`/`chats`/`report`:
- ``--account A``: the sessions A signed in on (notification, dispatch, switchboard);
- ``--with P``: sessions where P took part (a switchboard participant) or signed in;
- ``--connection N``: these session ids;
- ``--since/--until``: sessions that overlap the window, and only rows inside it (rows
  without a time, such as contacts and groups, follow their session).
Rows that belong to no session (capture-wide notices) are kept only when no session
filter is given.  What was kept of what is counted for the summary and the closing line.
"""

from __future__ import annotations


class RowFilter:
    def __init__(self, account=None, with_=None, since=None, until=None, connections=()):
        self.account = account.lower() if account else None
        self.with_ = with_.lower() if with_ else None
        self.since, self.until = since, until
        self.connections = set(connections or ())
        self.by_session = bool(self.account or self.with_ or self.connections
                               or since or until)
        self.keep_ids: set = set()
        self.kept = 0
        self.seen = 0

    @property
    def active(self) -> bool:
        return self.by_session

    def describe(self) -> dict:
        return {k: v for k, v in (("account", self.account), ("with", self.with_),
                                  ("since", self.since), ("until", self.until),
                                  ("connections", sorted(self.connections) or None))
                if v is not None}

    def pairs(self, pairs, summary=None):
        """The filtered (table, rows); ``summary["filter"]`` says what was kept of what
        once each table went by (the writers put the summary last)."""
        for table, rows in pairs:
            if table == "sessions":
                # taken whole even when the sessions table is not written: they decide
                # what every later table keeps (only the kept rows are held)
                rows = list(self._rows(table, rows))
            else:
                rows = self._rows(table, rows)
            yield table, self._noted(rows, summary)

    def _noted(self, rows, summary):
        yield from rows
        if summary is not None:
            summary["filter"] = dict(self.describe(), rows_kept=self.kept,
                                     rows_seen=self.seen)

    def _rows(self, table, rows):
        for r in rows:
            self.seen += 1
            if self._keep(table, r):
                self.kept += 1
                yield r

    def _keep(self, table, r) -> bool:
        if table == "sessions":
            if self._session(r):
                self.keep_ids.add(r["id"])
                return True
            return False
        if r.get("session") is None:
            return not (self.account or self.with_ or self.connections)
        if r["session"] not in self.keep_ids:
            return False
        t = r.get("time")
        return not t or ((not self.since or t >= self.since)
                         and (not self.until or t <= self.until))

    def _session(self, s) -> bool:
        if self.connections and s["id"] not in self.connections:
            return False
        me = (s.get("passport") or "").lower()
        if self.account and me != self.account:
            return False
        if self.with_ and me != self.with_ and self.with_ not in [
                p.lower() for p in (s.get("participants") or [])]:
            return False
        start, end = s.get("start"), s.get("end") or s.get("start")
        if self.until and start and start > self.until:
            return False
        if self.since and end and end < self.since:
            return False
        return True
