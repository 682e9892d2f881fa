"""One row per event across every session, in time order (`msnsniff timeline`).

Rows of every table become timeline entries (time, session, account, kind, a one-line
description) as the analysis hands them over.  They arrive per connection, not in time
order, so they go through an external merge sort: runs of ``RUN`` entries are sorted in
memory and spilled to temporary files, then merged — memory stays flat however long the
capture is.  Timesketch output is JSON Lines with ``message``, ``datetime`` and
``timestamp_desc`` and the rest as attributes, as Timesketch imports them.
"""

from __future__ import annotations

from .emit import LIST_SEP
from .sortruns import SortedRuns

COLUMNS = ["time", "session", "account", "kind", "description"]
RUN = 10_000          # entries sorted in memory before a run goes to disk


def _s(v) -> str:
    return "" if v is None else str(v)


def entries(table: str, r: dict):
    """(time, session, account, kind, description) for one row of the document."""
    who = r.get("owner")
    if table == "sessions":
        acct = r["passport"]
        if r.get("login_time"):
            via = " via the HTTP gateway" if r.get("transport") == "http-gateway" else ""
            yield (r["login_time"], r["id"], acct, "login",
                   f"{acct} signed in ({r['kind']}, {r.get('protocol') or '?'}"
                   f"{', ' + r['client_name'] + ' ' + _s(r['client_version']) if r.get('client_name') else ''})"
                   f" from {r['client']}{via}")
        elif r["kind"] == "switchboard" and r.get("start"):
            yield (r["start"], r["id"], acct, "switchboard",
                   f"{acct or 'unknown'} joined switchboard session {_s(r.get('sb_session_id'))} "
                   f"at {r['server']}")
        p = r.get("profile")
        if p:
            nat = {True: "behind NAT", False: "no NAT", None: "NAT unknown"}[p.get("nat")]
            yield (p.get("login_time") or r["start"], r["id"], acct, "profile",
                   f"profile: ClientIP {_s(p.get('client_ip_reported'))}, ClientPort "
                   f"{_s(p.get('client_port_reported'))} (corrected {_s(p.get('client_port'))}), {nat}")
        lo = r.get("logout")
        if lo and r["kind"] == "switchboard":
            # OUT on a switchboard leaves the conversation; the account stays signed in
            yield (lo["time"], r["id"], acct, "conversation",
                   f"{acct or 'unknown'} left switchboard session {_s(r.get('sb_session_id'))}"
                   f" (OUT by {lo['by']}" + (f" {lo['reason']}" if lo.get("reason") else "") + ")")
        elif lo:
            yield (lo["time"], r["id"], acct, "logout",
                   f"{acct or 'unknown'} signed out (OUT by {lo['by']}"
                   + (f" {lo['reason']}" if lo.get("reason") else "") + ")")
    elif table == "presence":
        name = f" “{r['friendly_name']}”" if r.get("friendly_name") else ""
        yield (r["time"], r["session"], who, "presence",
               f"{_s(r['passport'])}{name} is {_s(r['status_name'])} ({r['command']})")
    elif table == "personal_messages":
        media = f" ♪ {r['current_media']}" if r.get("current_media") else ""
        yield (r["time"], r["session"], who, "personal message",
               f"{_s(r['passport'])}: “{_s(r['personal_message'])}”{media}")
    elif table == "list_changes":
        yield (r["time"], r["session"], who, "list change",
               " ".join(x for x in (r["op"], _s(r.get("list")), _s(r.get("passport")),
                                    _s(r.get("friendly_name")), _s(r.get("group_id"))) if x))
    elif table == "participants":
        yield (r["time"], r["session"], who, "conversation",
               f"{r['passport']} {r['event']}")
    elif table == "messages":
        if r["kind"] == "typing":
            return
        to = LIST_SEP.join(r.get("recipients") or [])
        yield (r["time"], r["session"], who, "message" if r["kind"] == "text" else r["kind"],
               f"{_s(r['sender'])} → {to}: {_s(r['text'])}")
    elif table == "invitations":
        yield (r["time"], r["session"], who, "invitation",
               f"{_s(r['inviter'])} invites {_s(r.get('invitee'))} to {_s(r['application'])}"
               + (f": {r['file_name']}" if r.get("file_name") else "") + f" ({_s(r['status'])})")
    elif table == "transfers":
        yield (r.get("finished") or r.get("started"), r["session"], r.get("sender"), "transfer",
               f"{_s(r.get('kind'))} {_s(r['name'])} {_s(r['sender'])}"
               + (f" → {r['receiver']}" if r.get("receiver") else "") + ": "
               f"{r['received']} of {_s(r['size'])} bytes, {r['status']}"
               + (f", sha256 {r['sha256']}" if r.get("sha256") else ""))
    elif table == "challenges":
        yield (r["time"], r["session"], None, "challenge",
               f"CHL {_s(r['challenge'])} answered by {_s(r['product_id'])}: valid "
               f"{_s(r['valid'])}, accepted {_s(r['accepted'])}")
    elif table == "errors":
        yield (r["time"], r["session"], who, "error",
               f"{r['code']} {r['name']} (answering {_s(r.get('request'))})")
    elif table == "anomalies":
        yield (r["time"], r["session"], None, "damage", f"{r['kind']}: {r['detail']}")


class TimelineSort(SortedRuns):
    """Timeline entries by (time, session), sorted on disk past ``run`` entries."""

    def __init__(self, run: int = RUN):
        super().__init__(_key, run)

    def add(self, entry):
        if entry[0] is not None:
            self.push(entry)

    def __iter__(self):
        try:
            yield from self.merged()
        finally:
            self.close()


def _key(e):
    return (e[0], e[1] if e[1] is not None else -1)


def timesketch(row: dict) -> dict:
    """A Timesketch JSONL record: message, datetime, timestamp_desc, attributes."""
    return {"message": row["description"], "datetime": row["time"],
            "timestamp_desc": f"MSN {row['kind']}", "session": row["session"],
            "account": row["account"], "event_kind": row["kind"], "data_type": "msn:event"}


# entries that are not a message on a switchboard (everything else is seen once per
# participant's connection when the capture holds several of them)
_NOT_MESSAGES = {"login", "switchboard", "profile", "logout", "presence", "personal message",
                 "list change", "challenge", "error", "damage", "transfer"}
COPY_WINDOW = 5.0       # seconds between a message's copies (the server relays at once)


def _seconds(iso_text: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(iso_text.replace("Z", "+00:00")).timestamp()


def one_per_message(entries, group_of):
    """The time-sorted ``entries`` with each message once: the copies seen on the other
    connections of the same switchboard session (``group_of(session)``: its key) are
    folded into the first, whose description then names them.  Only entries within
    COPY_WINDOW of an open message are held back, so memory stays flat."""
    from collections import deque
    pending: deque[list] = deque()      # [entry, key, seconds, copies]
    open_: dict = {}
    for e in entries:
        t = None
        while pending and (pending[0][1] is None
                           or pending[0][2] < (t := t or _seconds(e[0])) - COPY_WINDOW):
            item = pending.popleft()
            if item[1] is not None and open_.get(item[1]) is item:
                del open_[item[1]]
            yield _with_copies(item)
        if e[3] in _NOT_MESSAGES or e[4].endswith(" was there"):
            # (IRO: who was there when each one joined, not one event seen twice)
            if pending:
                pending.append([e, None, 0.0, None])
            else:
                yield e
            continue
        key = (group_of(e[1]), e[3], e[4])
        first = open_.get(key)
        if (first is not None and e[1] not in first[3]
                and _seconds(e[0]) - first[2] <= COPY_WINDOW):
            first[3].append(e[1])
            continue
        item = [e, key, _seconds(e[0]), [e[1]]]
        open_[key] = item
        pending.append(item)
    while pending:
        yield _with_copies(pending.popleft())


def _with_copies(item):
    e, copies = item[0], item[3]
    if not copies or len(copies) < 2:
        return e
    return (*e[:4], f"{e[4]} (copies on connections {', '.join(map(str, copies))})")
