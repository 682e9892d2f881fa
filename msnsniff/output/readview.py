"""The `read` view: per session, the titled tables a person reads (login, profile,
contacts, presence, personal messages, challenges, errors), the conversations and the
transfers; streamed as each connection finishes (StreamingReport).  No printing."""

from __future__ import annotations

import io
import marshal
import tempfile
from array import array
from collections import OrderedDict
from operator import itemgetter
from typing import IO, Any

from .emit import _width, cell, render_table, table_line
from .transcript import conversation_title, conversations


def session_title(s) -> str:
    who = s["passport"] or "unknown account"
    return f"Session {s['id']} · {s['kind']} · {who} · {s['client']} > {s['server']}"


def login_rows(s) -> list[dict]:
    keys = [("protocol", None), ("versions offered", "versions_offered"),
            ("client", None), ("locale", "locale"), ("os", "os"),
            ("passport", "passport"), ("friendly name", "friendly_name"),
            ("friendly name at login", "friendly_name_at_login"),
            ("personal message", "personal_message"), ("machine guid", "machine_guid"),
            ("auth", "auth_method"), ("login", "login"), ("login error", "login_error"),
            ("login time", "login_time"), ("verified", "verified"),
            ("redirected to", "redirected_to"),
            ("redirect continues in session", "redirected_to_session"),
            ("redirected from session", "redirected_from_session"),
            ("list version", "list_version"), ("contacts from", None),
            ("settings", "settings"), ("phones", "phones"),
            ("transport", None),
            ("logout", None), ("start", "start"), ("end", "end"), ("closed by", "close_reason"),
            ("capture", "capture")]
    out = []
    for label, key in keys:
        if key is None and label == "client":
            v = " ".join(x for x in (s["client_name"], s["client_version"]) if x) or None
        elif key is None and label == "protocol":
            v = s["protocol"]
            if v and s.get("protocol_source") in ("offer", "inferred", "notification session"):
                v += {"offer": " (client offer; no server answer captured)",
                      "inferred": " or later (inferred from the commands: no VER captured)",
                      "notification session": f" (as its notification session "
                                              f"{s.get('linked_session')} negotiated)"
                      }[s["protocol_source"]]
        elif key is None and label == "transport":
            v = None
            if s.get("transport") == "http-gateway":
                v = (f"HTTP gateway, SessionID {', '.join(s['gateway_session_ids'] or [])} "
                     f"over connection(s) {', '.join(map(str, s['http_connections'] or []))}; "
                     f"{s['gateway_polls']} polls")
        elif key is None and label == "contacts from":
            v = {"ADL": "ADL (the client's list; the address book itself travels over "
                        "SOAP/HTTPS and is not in the capture)",
                 "SYN": None}.get(s.get("contacts_source"))
        elif key is None:
            lo = s["logout"]
            if lo and s["kind"] == "switchboard":
                label = "left the switchboard"     # not a sign-out: the NS session goes on
            v = None if not lo else (f"OUT by {lo['by']}" + (f" {lo['reason']}" if lo['reason'] else "")
                                     + (f" ({lo['meaning']})" if lo['meaning'] else ""))
        else:
            v = s.get(key)
        if v not in (None, "", [], {}):
            out.append({"field": label, "value": v})
    return out


def profile_rows(s) -> list[dict]:
    p = s["profile"]
    if not p:
        return []
    rows = [{"field": "ClientIP (reported)", "value": p["client_ip_reported"]},
            {"field": "ClientPort (reported)", "value": p["client_port_reported"]},
            {"field": "ClientPort byte-swapped", "value": p["client_port_byteswapped"]},
            {"field": "client port (corrected)", "value": p["client_port"]},
            {"field": "observed client", "value": p["observed_client"]},
            {"field": "matching reading", "value": {True: "byte-swapped (real MSN server)",
                                                    False: "plain (revival server)",
                                                    None: "cannot tell (neither or both)"}[p["port_byteswapped"]]},
            {"field": "NAT", "value": {True: "yes", False: "no", None: "unknown"}[p["nat"]]}]
    empty = []
    for k, v in p["headers"].items():
        if k.lower() not in ("mime-version", "content-type", "clientip", "clientport"):
            if v in (None, ""):
                empty.append(k)     # one line for them all, not a line each
            else:
                rows.append({"field": k, "value": v})
    if empty:
        rows.append({"field": "empty fields", "value": ", ".join(empty)})
    return rows


def _picture(obj) -> str | None:
    if not obj:
        return None
    return " ".join(str(x) for x in (obj.get("type_name"), f"{obj.get('size')} bytes",
                                     obj.get("location"), "SHA1D " + (obj.get("sha1d") or "?"))
                    if x)


def group_names(c) -> str:
    return ", ".join(n or str(g) for g, n in zip(c["groups"], c["group_names"]))


def _lower(*names):
    """Passports compare case-insensitively."""
    return [(n or "").lower() for n in names]


TRANSFER_LINE = ["kind", "name", "sender", "receiver", "size", "received", "status", "sha256"]


def conversation_sections(doc, account=None, seen=None):
    """Each conversation as a compact transcript (typing folded away); ``seen`` keeps
    the conversations already shown (a streamed read meets each participant's view)."""
    for head, rows in conversations(doc, account, typing=False):
        key = head["key"]
        if seen is not None:
            if key in seen:
                continue
            seen.add(key)
        yield conversation_title(head), None, None
        yield "transcript", ["time", "sender", "text"], rows or []


def transfer_sections(rows):
    if rows:
        yield "Transfers", None, None
        yield f"transfers ({len(rows)})", TRANSFER_LINE, rows


def read_sections(doc, account=None, brief=False):
    """(title, columns, rows) per table, per session; then, unless ``brief``, every
    conversation and every transfer."""
    yield from _ns_sections(doc, account)
    if brief:
        return
    yield from conversation_sections(doc, account)
    yield from transfer_sections([t for t in doc["transfers"] if not account
                                  or account.lower() in _lower(t["sender"], t["receiver"])])


_NS_TABLES = ("contacts", "groups", "presence", "challenges", "errors", "list_changes",
              "personal_messages", "messages")


def _ns_sections(doc, account=None, by_session=None):
    """``by_session``: (table, session id) -> rows, when the caller has them grouped."""
    if by_session is None:
        by_session = {}
        for t in _NS_TABLES:
            for r in doc.get(t, ()):
                by_session.setdefault((t, r["session"]), []).append(r)
    for s in doc["sessions"]:
        if account and (s["passport"] or "").lower() != account.lower():
            continue
        if s["kind"] not in ("dispatch", "notification") and not (
                s["kind"] == "unknown" and (s["bytes_c2s"] or s["bytes_s2c"])):
            continue
        yield session_title(s), None, None
        yield "login", ["field", "value"], login_rows(s)
        prof = profile_rows(s)
        if prof:
            yield "profile", ["field", "value"], prof
        contacts = by_session.get(("contacts", s["id"]), [])
        if contacts or (s.get("syn") and s["syn"].get("contacts_declared") is not None):
            syn = s.get("syn") or {}
            rows = [dict(c, lists_s=" ".join(c["lists"]), groups_s=group_names(c))
                    for c in contacts]
            src = ("; from ADL" if s.get("contacts_source") == "ADL" else
                   f"; SYN declared {syn['contacts_declared']}"
                   if syn.get("contacts_declared") is not None else "")
            yield (f"contacts ({len(contacts)}{src})",
                   ["passport", "friendly_name", "lists_s", "list_bits", "groups_s", "phones"],
                   rows)
        groups = by_session.get(("groups", s["id"]), [])
        if groups:
            yield "groups", ["group_id", "name"], groups
        changes = by_session.get(("list_changes", s["id"]), [])
        if changes:
            cols = ["time", "op", "list", "passport", "friendly_name", "group_id", "version",
                    "by_server"]
            if any(c.get("refused") for c in changes):
                cols.append("refused")      # the server said no: the lists are unchanged
            yield "list changes", cols, changes
        pres = by_session.get(("presence", s["id"]), [])
        if pres:
            cols = ["time", "command", "passport", "status", "status_name", "friendly_name",
                    "client_id", "msnc_version", "capabilities"]
            if any(p.get("network") is not None for p in pres):
                cols.insert(3, "network")
            if any(p.get("msnobj") for p in pres):
                # display-picture changes beside presence (the MSNObject sent with it)
                pres = [dict(p, display_picture=_picture(p.get("msnobj"))) for p in pres]
                cols.append("display_picture")
            if any(p.get("confirmed_client_id") not in (None, p.get("client_id"))
                   or p.get("confirmed_status") not in (None, p.get("status")) for p in pres):
                # the server's echo of CHG differs from the request (revival developers
                # compare exactly this with Microsoft's servers)
                cols += ["confirmed_status", "confirmed_client_id", "capabilities_added"]
            yield "presence", cols, pres
        msgs = [m for m in by_session.get(("messages", s["id"]), []) if m["kind"] == "text"]
        if msgs:
            # UUM/UBM (MSNP14+): to and from Yahoo contacts, offline messages
            yield "messages (through the notification server)", [
                "time", "direction", "sender", "recipients", "network", "offline", "text"], msgs
        pms = by_session.get(("personal_messages", s["id"]), [])
        if pms:
            yield "personal messages", ["time", "command", "passport", "personal_message",
                                        "current_media"], pms
        ch = by_session.get(("challenges", s["id"]), [])
        if ch:
            yield "challenges", ["time", "challenge", "product_id", "response", "valid",
                                 "accepted"], ch
        err = by_session.get(("errors", s["id"]), [])
        if err:
            yield "errors", ["time", "code", "name", "trid", "request"], err


CONNECTION_COLUMNS = ["id", "kind", "passport", "client", "server", "start", "end",
                      "close_reason"]


class ConnectionSpool:
    """The closing "Connections" table of a streamed `read`, one line per finished
    connection.  A capture has as many as it has connections, so the lines wait in a
    temporary file; memory keeps only their offsets by connection id (8 bytes each)
    and each column's widest cell, which is all the "simple"/"plain" layouts need to
    write the table in id order at the end (other layouts read the lines back)."""

    def __init__(self):
        self.file: IO[bytes] | None = None
        self.offsets = array("q")           # connection id -> offset in file, or -1
        self.widths = [_width(c) + 2 for c in CONNECTION_COLUMNS]
        self.count = 0

    def __len__(self):
        return self.count

    def append(self, row: dict):
        cells = [cell(row.get(c)) for c in CONNECTION_COLUMNS]
        self.widths = [max(w, _width(c)) for w, c in zip(self.widths, cells)]
        if self.file is None:
            try:
                self.file = tempfile.TemporaryFile()
            except OSError:             # no writable temporary directory: keep them here
                self.file = io.BytesIO()
        cid = row["id"]
        if cid >= len(self.offsets):
            self.offsets.extend([-1] * (cid + 1 - len(self.offsets)))
        self.file.seek(0, 2)
        self.offsets[cid] = self.file.tell()
        data = marshal.dumps(cells)
        self.file.write(len(data).to_bytes(4, "little") + data)
        self.count += 1

    def cells(self):
        """The lines' cells, in connection id order."""
        f = self.file
        if f is None:                   # (nothing appended: no offsets either)
            return
        for off in self.offsets:
            if off >= 0:
                f.seek(off)
                n = int.from_bytes(f.read(4), "little")
                yield marshal.loads(f.read(n))

    def write(self, out, table_format: str):
        from .emit import TZ, fit_table, local_times, terminal_width
        width = terminal_width(out)
        if width or TZ[0] is not None:
            # on a terminal: times of day and the table fitted to its width (the cells
            # of one line per connection)
            table = local_times(list(self.cells()), CONNECTION_COLUMNS)
            if width:
                table = fit_table(table, CONNECTION_COLUMNS, width)
            out.write(render_table(table, CONNECTION_COLUMNS, table_format,
                                   tight=bool(width)) + "\n")
            return
        if table_format not in ("simple", "plain"):
            out.write(render_table(list(self.cells()), CONNECTION_COLUMNS, table_format) + "\n")
            return
        # exactly what render_table writes, one line at a time
        out.write(table_line(CONNECTION_COLUMNS, self.widths) + "\n")
        if table_format == "simple":
            out.write("  ".join("-" * w for w in self.widths) + "\n")
        for cells in self.cells():
            out.write(table_line(cells, self.widths) + "\n")

    def close(self):
        if self.file is not None:
            self.file.close()


def _getter(keys):
    def get(r):
        return tuple(map(r.get, keys))
    return get


def _columns(keys: tuple) -> Any:
    # (a function of its own: mypy 2.4.1 crashes on itemgetter(*keys) in the dict below)
    return itemgetter(*keys)


class StreamingReport:
    """`read` tables printed as each connection finishes, so memory holds only the rows
    of open connections (plus one short line per finished connection for the closing
    connections table).  ``row`` and ``session`` are the analysis callbacks."""

    def __init__(self, write_section, account=None, brief=False):
        self.write_section = write_section      # (title, columns, rows) -> None
        self.account = account
        self.brief = brief
        self.keep = self.KEEP if brief else {**self.KEEP, **self.CONVERSATION_KEEP}
        # the tuple ``row`` keeps of a row: Rows gives every row all its table's columns,
        # so itemgetter (3x faster than a map of dict.get) reads them; the conversation
        # tables' "_seq" is not a column and is read with get
        self.getters = {t: _columns(keep) if t in self.KEEP else _getter(keep)
                        for t, keep in self.keep.items()}
        self._sb_message = _getter(tuple("offline" if c == "recipients" else c
                                         for c in self.CONVERSATION_KEEP["messages"]))
        self.tables = self.TABLES if brief else self.TABLES_FULL
        self.pending: dict = {}
        self.connections = ConnectionSpool()
        self.conversations_seen: set = set()
        self.waiting: OrderedDict = OrderedDict()     # conversation key -> its rows so far
        self.waiting_rows = 0
        self.transfers: list = []
        self.unfetched: list = []
        self.shown = 0

    # only what the tables print is kept, as tuples (a dict per row is ~4x the memory)
    KEEP = {
        "contacts": ("session", "passport", "friendly_name", "lists", "list_bits", "groups",
                     "group_names", "phones"),
        "groups": ("session", "group_id", "name"),
        "list_changes": ("session", "time", "op", "list", "passport", "friendly_name",
                         "group_id", "version", "by_server", "refused"),
        "presence": ("session", "time", "command", "passport", "status", "status_name",
                     "friendly_name", "client_id", "msnc_version", "capabilities",
                     "network", "msnobj", "confirmed_status", "confirmed_client_id",
                     "capabilities_added"),
        "personal_messages": ("session", "time", "command", "passport", "personal_message",
                              "current_media"),
        "challenges": ("session", "time", "challenge", "product_id", "response", "valid",
                       "accepted"),
        "errors": ("session", "time", "code", "name", "trid", "request"),
    }

    # what the report prints (sessions come through ``session``): the model need not
    # build the other tables' rows
    TABLES = frozenset({"sessions", *KEEP})
    # with conversations and transfers (the default; --brief leaves them out)
    CONVERSATION_KEEP = {
        "messages": ("session", "time", "direction", "sender", "content_type", "kind", "text",
                     "recipients", "network", "offline", "_seq"),
        "participants": ("session", "time", "command", "passport", "event", "_seq"),
    }
    TABLES_FULL = frozenset({*TABLES, *CONVERSATION_KEEP, "transfers"})

    def row(self, table, r):
        if table == "transfers":                # few and small: printed at the end
            if not self.brief:
                self.transfers.append({c: r.get(c) for c in TRANSFER_LINE})
                if r.get("status") == "not fetched":
                    # the transcript says it on the announcement's line (conversations
                    # are printed at the end, after these rows; see _print_conversation)
                    self.unfetched.append({c: r.get(c) for c in
                                           ("session", "sender", "name", "status", "kind")})
            return
        get = self.getters.get(table)
        if get is not None and r.get("session") is not None:
            if table == "messages" and r.get("offline") is None:
                # a switchboard message: its recipients are the conversation's (a list per
                # row held until the connection closes is most of a dense capture's memory);
                # its "offline" is None, so reading that in the recipients' place keeps
                # None there without a copy of the row
                get = self._sb_message
            self.pending.setdefault(r["session"], {}).setdefault(table, []).append(get(r))

    def session(self, s):
        rows = self.pending.pop(s["id"], {})
        if self.account and (s["passport"] or "").lower() != self.account.lower():
            return
        self.connections.append(s)
        if s["kind"] == "switchboard" and not self.brief:
            # a conversation is printed once all its connections that close together
            # have closed (each participant's connection holds its own view): it waits
            # until later connections close, at most MAX_WAITING message rows in all
            key = (s["server"], s["sb_session_id"]) if s["sb_session_id"] else s["id"]
            conv = self.waiting.setdefault(key, {"sessions": [], "messages": [],
                                                 "participants": []})
            self.waiting.move_to_end(key)
            conv["sessions"].append(s)
            for t, keep in self.CONVERSATION_KEEP.items():
                conv[t] += [dict(zip(keep, v)) for v in rows.get(t, ())]
            self.waiting_rows += len(rows.get("messages", ())) + 1
            while self.waiting_rows > self.MAX_WAITING and len(self.waiting) > 1:
                self._print_conversation(*self.waiting.popitem(last=False))
            return
        # the rows are this session's already: given grouped as _ns_sections groups them
        sid = s["id"]
        by_session = {(t, sid): [dict(zip(keep, v)) for v in rows[t]]
                      for t, keep in self.keep.items() if t in rows and t in _NS_TABLES}
        for section in _ns_sections({"sessions": [s]}, self.account, by_session):
            if section[1] is None:
                self.shown += 1
            self.write_section(*section)

    MAX_WAITING = 20_000

    def _print_conversation(self, key, conv):
        self.waiting_rows -= len(conv["messages"]) + len(conv["sessions"])
        conv["sessions"].sort(key=lambda x: x["id"])      # as the whole document lists them
        # emoticons never fetched are known once the capture has ended: a conversation
        # printed early (more than MAX_WAITING rows waiting) cannot say it yet
        conv["transfers"] = self.unfetched
        for section in conversation_sections(conv, None, self.conversations_seen):
            self.write_section(*section)

    def tail(self):
        """What comes after the last session: the waiting conversations, the transfers."""
        while self.waiting:
            self._print_conversation(*self.waiting.popitem(last=False))
        for section in transfer_sections([t for t in self.transfers if not self.account
                                          or self.account.lower() in _lower(t["sender"], t["receiver"])]):
            self.write_section(*section)


def capture_counts(c: dict) -> str:
    """What the reader counted, said the same way for both readers: the Python reader
    reads every record; libpcap skips in C what cannot be MSN, and those records are
    not counted (it cannot say how many there were)."""
    size = f"{c['size']:,} bytes, " if c.get("size") is not None else ""
    if c.get("reader") == "libpcap":
        read = "records read: not counted (libpcap skipped what cannot be MSN)"
        reached = c["packets"]
    else:
        read = f"{c['packets']:,} records read"
        reached = c["packets"] - (c.get("skipped") or 0)
    return (f"{c['file']}: {c['format'] or '?'}, {size}{read}, {reached:,} reached msnsniff "
            f"({c['tcp_segments']:,} TCP segments)")


def _accounts(accounts) -> str:
    """A count and the first few: the whole list of a dense capture is 100 KB on a line."""
    if len(accounts) <= 10:
        return "; ".join(accounts) or "none"
    return f"{len(accounts):,} accounts (first 10: {'; '.join(accounts[:10])})"


def summary_rows(doc) -> list[dict]:
    sm = doc["summary"]
    shown = sm.get("shown")
    rows = [{"field": "shown", "value": f"{shown['sessions']:,} of {shown['of']:,} connections "
             "(the counts below are the whole capture's)"}] if shown else []
    rows += [{"field": "sessions", "value": ", ".join(f"{k} {v}" for k, v in
                                                      sm["sessions_by_kind"].items()) or "0"},
            {"field": "accounts", "value": _accounts(sm["accounts"])},
            {"field": "MSNP commands", "value": sm.get("commands")},
            {"field": "text messages", "value": sm["messages"]},
            {"field": "file transfers", "value": sm["transfers"]},
            {"field": "first / last", "value": (f"{sm['first']} / {sm['last']}" if sm["first"]
                                                else "no MSNP connection found: is the server "
                                                     "on another port? try --port N")},
            {"field": "bytes never captured (gaps)", "value": sm["gap_bytes"]},
            {"field": "damage and anomalies", "value": ", ".join(
                f"{k} {v}" for k, v in sm["anomalies"].items()) or "none"}]
    if sm.get("redacted"):
        rows.append({"field": "redaction", "value": "on: tickets, MSPAuth and cookies masked"
                     + ("; QRY answers masked" if sm["redacted"]["qry_answers"] else "")})
    for c in sm["captures"]:
        rows.append({"field": "capture", "value": capture_counts(c)})
        for n in c["notices"]:
            rows.append({"field": "damage", "value": f"{c['file']}: {n}"})
        if c.get("bad_checksums"):
            # not damage: the bytes are decoded, and offload makes it common (every
            # segment of a capture on loopback or on the sending host)
            rows.append({"field": "checksums", "value": f"{c['file']}: {c['bad_checksums']:,} "
                         "segments with bad TCP checksums, decoded anyway (checksum "
                         "offload on the capturing host?)"})
    return rows
