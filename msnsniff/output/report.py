"""Presentation: rows with fixed columns for each command, built from the analysis
document or from trace events.  No protocol knowledge beyond what the document holds,
no printing (the CLI writes through emit.py)."""

from __future__ import annotations

import io
import marshal
import tempfile
from array import array
from collections import Counter

from .emit import _width, cell, render_table, table_line
from ..stream.framing import FileAbort, FileData, RawCommand, Undecodable
from ..protocol.mime import media_type, split_payload
from ..model.timefmt import iso
from ..protocol.tables import display_params

# ---------------------------------------------------------------- commands (trace)
TRACE_COLUMNS = ["time", "connection", "client", "server", "direction", "verb", "trid",
                 "params", "payload_length", "summary"]


class Trace:
    """Turns pipeline events into protocol-trace rows and keeps the closing summary."""

    def __init__(self, redact=False, redact_qry=False):
        self.redact, self.redact_qry = redact, redact_qry
        self.endpoints: dict[int, tuple[str, str]] = {}
        self.verbs: Counter = Counter()
        self.bytes = 0
        self.gaps = 0
        self.gap_bytes = 0
        self.undecodable = 0

    def open(self, ev):
        self.endpoints[ev.conn] = (ev.client, ev.server)

    def row(self, conn, d, ts, verb, trid=None, params=(), length=None, summary=""):
        client, server = self.endpoints.get(conn, ("?", "?"))
        return {"time": iso(ts), "connection": conn, "client": client, "server": server,
                "direction": "c2s" if d == 0 else "s2c", "verb": verb, "trid": trid,
                "params": list(params), "payload_length": length, "summary": summary}

    def framed(self, ev):
        item = ev.item
        if isinstance(item, RawCommand):
            self.verbs[item.verb] += 1
            self.bytes += item.length
            params = display_params(item.verb, item.params)
            if self.redact:
                from .redact import redact_params
                params = redact_params(item.verb, params)
            if item.trid is not None:
                params = params[1:]         # the TrID has its own column
            return self.row(ev.conn, ev.dir, ev.ts, item.verb, item.trid, params,
                            None if item.payload is None else len(item.payload),
                            "[redacted]" if self.redact_qry and item.verb == "QRY"
                            and item.payload else payload_summary(item))
        if isinstance(item, Undecodable):
            self.undecodable += item.length
            return self.row(ev.conn, ev.dir, ev.ts, "<undecodable>", length=item.length,
                            summary=f"{item.reason}: {item.sample!r}")
        if isinstance(item, FileData):
            self.bytes += len(item.data)
            return self.row(ev.conn, ev.dir, ev.ts, "<file-data>", length=len(item.data),
                            summary="MSNFTP file bytes")
        if isinstance(item, FileAbort):
            return self.row(ev.conn, ev.dir, ev.ts, "<file-abort>", summary="sender aborted")
        return None

    def gap(self, ev):
        self.gaps += 1
        self.gap_bytes += ev.length
        return self.row(ev.conn, ev.dir, ev.ts, "<gap>", length=ev.length, summary=ev.detail)

    def summary_lines(self, stats_list) -> list[str]:
        lines = [f"connections: {len(self.endpoints)}",
                 "commands: " + (", ".join(f"{v} {n}" for v, n in sorted(self.verbs.items()))
                                 or "none"),
                 f"bytes decoded: {self.bytes}; gaps: {self.gaps} ({self.gap_bytes} bytes); "
                 f"undecodable: {self.undecodable} bytes"]
        for path, st in stats_list:
            lines.append(f"{path}: {st.format or '?'}, {st.packets} packets, "
                         f"{st.tcp_segments} TCP segments")
            lines.extend(f"{path}: {n}" for n in st.notices())
        return lines


def payload_summary(cmd: RawCommand) -> str:
    if cmd.payload is None:
        return ""
    extra = f" ({cmd.missing} bytes missing)" if cmd.missing else ""
    if cmd.verb == "MSG":
        headers, body = split_payload(cmd.payload)
        ctype, _ = media_type(headers)
        if ctype == "text/plain":
            text = body.decode("utf-8", "replace")
            return f"{ctype}: {text[:40]}{'…' if len(text) > 40 else ''}{extra}"
        return (ctype or "no content type") + extra
    if cmd.verb == "QRY":
        return cmd.payload.decode("ascii", "replace") + extra
    return f"{len(cmd.payload)} bytes{extra}"


# ---------------------------------------------------------------- read
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
            if v and s.get("protocol_source") in ("offer", "inferred"):
                v += {"offer": " (client offer; no server answer captured)",
                      "inferred": " or later (inferred from the commands: no VER captured)"
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
    for k, v in p["headers"].items():
        if k.lower() not in ("mime-version", "content-type", "clientip", "clientport"):
            rows.append({"field": k, "value": v})
    return rows


def _picture(obj) -> str | None:
    if not obj:
        return None
    return " ".join(str(x) for x in (obj.get("type_name"), f"{obj.get('size')} bytes",
                                     obj.get("location"), "SHA1D " + (obj.get("sha1d") or "?"))
                    if x)


def group_names(c) -> str:
    return ", ".join(n or str(g) for g, n in zip(c["groups"], c["group_names"]))


def read_sections(doc, account=None):
    """(title, columns, rows) per table, per session."""
    by_session = {}
    for t in ("contacts", "groups", "presence", "challenges", "errors", "list_changes",
              "personal_messages"):
        for r in doc[t]:
            by_session.setdefault((t, r["session"]), []).append(r)
    for s in doc["sessions"]:
        if account and s["passport"] != account:
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
            yield "list changes", ["time", "op", "list", "passport", "friendly_name",
                                   "group_id", "version", "by_server"], changes
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
            yield "presence", cols, pres
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
        self.file = None
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
        for off in self.offsets:
            if off >= 0:
                f.seek(off)
                n = int.from_bytes(f.read(4), "little")
                yield marshal.loads(f.read(n))

    def write(self, out, table_format: str):
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


class StreamingReport:
    """`read` tables printed as each connection finishes, so memory holds only the rows
    of open connections (plus one short line per finished connection for the closing
    connections table).  ``row`` and ``session`` are the analysis callbacks."""

    def __init__(self, write_section, account=None):
        self.write_section = write_section      # (title, columns, rows) -> None
        self.account = account
        self.pending: dict = {}
        self.connections = ConnectionSpool()
        self.shown = 0

    # only what the tables print is kept, as tuples (a dict per row is ~4x the memory)
    KEEP = {
        "contacts": ("session", "passport", "friendly_name", "lists", "list_bits", "groups",
                     "group_names", "phones"),
        "groups": ("session", "group_id", "name"),
        "list_changes": ("session", "time", "op", "list", "passport", "friendly_name",
                         "group_id", "version", "by_server"),
        "presence": ("session", "time", "command", "passport", "status", "status_name",
                     "friendly_name", "client_id", "msnc_version", "capabilities",
                     "network", "msnobj"),
        "personal_messages": ("session", "time", "command", "passport", "personal_message",
                              "current_media"),
        "challenges": ("session", "time", "challenge", "product_id", "response", "valid",
                       "accepted"),
        "errors": ("session", "time", "code", "name", "trid", "request"),
    }

    # what the report prints (sessions come through ``session``): the model need not
    # build the other tables' rows
    TABLES = frozenset({"sessions", *KEEP})

    def row(self, table, r):
        keep = self.KEEP.get(table)
        if keep is not None and r.get("session") is not None:
            self.pending.setdefault(r["session"], {}).setdefault(table, []).append(
                tuple(map(r.get, keep)))

    def session(self, s):
        rows = self.pending.pop(s["id"], {})
        if self.account and s["passport"] != self.account:
            return
        self.connections.append(s)
        doc = {"sessions": [s], **{t: [dict(zip(keep, v)) for v in rows.get(t, ())]
                                   for t, keep in self.KEEP.items()}}
        for section in read_sections(doc, self.account):
            if section[1] is None:
                self.shown += 1
            self.write_section(*section)


def summary_rows(doc) -> list[dict]:
    sm = doc["summary"]
    rows = [{"field": "sessions", "value": ", ".join(f"{k} {v}" for k, v in
                                                      sm["sessions_by_kind"].items()) or "0"},
            {"field": "accounts", "value": sm["accounts"]},
            {"field": "MSNP commands", "value": sm.get("commands")},
            {"field": "text messages", "value": sm["messages"]},
            {"field": "file transfers", "value": sm["transfers"]},
            {"field": "first / last", "value": f"{sm['first']} / {sm['last']}"},
            {"field": "bytes never captured (gaps)", "value": sm["gap_bytes"]},
            {"field": "damage and anomalies", "value": ", ".join(
                f"{k} {v}" for k, v in sm["anomalies"].items()) or "none"}]
    if sm.get("redacted"):
        rows.append({"field": "redaction", "value": "on: tickets, MSPAuth and cookies masked"
                     + ("; QRY answers masked" if sm["redacted"]["qry_answers"] else "")})
    for c in sm["captures"]:
        rows.append({"field": "capture", "value": f"{c['file']}: {c['format']}, "
                     f"{c['packets']} packets, {c['tcp_segments']} TCP segments"})
        for n in c["notices"]:
            rows.append({"field": "damage", "value": f"{c['file']}: {n}"})
    return rows


# ---------------------------------------------------------------- chats
# message kinds a transcript shows as what the client showed, not as raw content
_SHOWN_AS = {"nudge": "sent a nudge", "wink": "sent a wink", "voice clip": "sent a voice clip",
             "action": "(action)", "emoticon": "uses custom emoticons"}

def conversations(doc, account=None, with_=None, since=None, until=None, typing=True):
    """Yield (header, rows) per conversation.  The switchboard connections of one
    switchboard session (same server, same session id) are one conversation: a message
    seen on the sender's connection and on every receiver's is shown once — the first
    copy, which is the sender's own when it was captured."""
    by_id = {s["id"]: s for s in doc["sessions"]}
    groups: dict = {}
    for s in doc["sessions"]:
        if s["kind"] == "switchboard":
            key = (s["server"], s["sb_session_id"]) if s["sb_session_id"] else s["id"]
            groups.setdefault(key, []).append(s)
    items: dict[int, list] = {}
    for m in doc["messages"]:
        items.setdefault(m["session"], []).append(m)
    for e in doc["participants"]:
        items.setdefault(e["session"], []).append(dict(e, kind="event", sender=e["passport"],
                                                       text=e["event"]))
    for group in groups.values():
        viewers = [s["passport"] or "unknown" for s in group]
        people = sorted({p for s in group for p in (s["participants"] or [])})
        if account and account not in viewers:
            continue
        if with_ and with_ not in people:
            continue
        merged = len(group) > 1
        pool = sorted((m for s in group for m in items.get(s["id"], ())),
                      key=lambda m: (m["time"], m.get("direction") != "out"))
        rows, seen, last_typing = [], {}, None
        for m in pool:
            if (since and m["time"] < since) or (until and m["time"] > until):
                continue
            kind = m["kind"]
            if merged and kind == "event" and m["command"] == "IRO":
                continue        # "was there" is the joiner's view; the JOI lines say it
            key = (kind, m["sender"], m.get("content_type"), m["text"])
            if merged and key in seen and _seconds(seen[key], m["time"]) < 5:
                continue        # the same message (or join/leave) seen on another connection
            seen[key] = m["time"]
            if kind == "typing":
                if not typing or last_typing == m["sender"]:
                    continue
                last_typing = m["sender"]
                line = f"({m['sender'] or 'unknown'} is typing…)"
            else:
                last_typing = None
                if kind == "event":
                    line = f"* {m['sender']} {m['text']}"
                elif kind == "text":
                    line = m["text"]
                elif kind == "invitation":
                    line = f"[invitation] {m['text']}"
                elif kind == "transfer":
                    line = f"* {m['sender'] or 'unknown'} {m['text']}"
                elif kind in _SHOWN_AS:
                    line = f"* {m['sender'] or 'unknown'} {_SHOWN_AS[kind]}" + (
                        f": {m['text']}" if kind != "nudge" and m["text"] else "")
                else:
                    line = f"[{m['content_type']}] {m['text'] or ''}"
            rows.append({"time": m["time"], "session": m["session"],
                         "account": by_id[m["session"]]["passport"],
                         "sender": m["sender"] if m["sender"] else "unknown",
                         "recipients": m.get("recipients"), "kind": kind, "text": line,
                         "font": m.get("font"), "effects": m.get("effects"),
                         "color": m.get("color"), "ack": m.get("ack")})
        head = {"sessions": [s["id"] for s in group], "accounts": viewers,
                "participants": people, "server": group[0]["server"],
                "sb_session_id": group[0]["sb_session_id"],
                "start": min(s["start"] for s in group),
                "end": max((s["end"] for s in group if s["end"]), default=None)}
        yield head, rows


def _seconds(a: str, b: str) -> float:
    from datetime import datetime
    return abs((datetime.fromisoformat(b.replace("Z", "+00:00"))
                - datetime.fromisoformat(a.replace("Z", "+00:00"))).total_seconds())


def conversation_title(h) -> str:
    parts = ", ".join(h["participants"] or []) or "nobody known"
    sid = f"SB session {h['sb_session_id']} at {h['server']}" if h["sb_session_id"] else \
        f"switchboard {h['server']}"
    seen = ", ".join(f"{a} ({i})" for a, i in zip(h["accounts"], h["sessions"]))
    return (f"Conversation · {sid} · {parts} · {h['start']} – {h['end']} · "
            f"seen by {seen}")


TRANSFER_COLUMNS = ["session", "kind", "name", "sender", "receiver", "size", "received",
                    "missing_bytes", "status", "sha256", "extracted_to"]


__all__ = ["Trace", "TRACE_COLUMNS", "read_sections", "summary_rows", "conversations",
           "conversation_title", "TRANSFER_COLUMNS", "cell"]
