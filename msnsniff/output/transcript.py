"""Conversations as transcripts (`msnsniff chats`, the read view): the switchboard
connections of one conversation merged, each message once.  No printing."""

from __future__ import annotations

# message kinds a transcript shows as what the client showed, not as raw content
_SHOWN_AS = {"nudge": "sent a nudge", "wink": "sent a wink", "voice clip": "sent a voice clip",
             "action": "(action)", "emoticon": "uses custom emoticons"}

# what a connection says of its own account's joins (model/sb.py): the other
# participants' connections say the same as plain joins
_OWN_ECHO = frozenset({"joined (the server's echo of this connection's account)",
                       "joined on another endpoint", "was there on another endpoint"})


def conversations(doc, account=None, with_=None, since=None, until=None, typing=True,
                  connections=None):
    """Yield (header, rows) per conversation.  The switchboard connections of one
    switchboard session (same server, same session id) are one conversation: a message
    seen on the sender's connection and on every receiver's is shown once — the first
    copy, which is the sender's own when it was captured."""
    items: dict[int, list] = {}
    for m in doc["messages"]:
        items.setdefault(m["session"], []).append(m)
    for e in doc["participants"]:
        items.setdefault(e["session"], []).append(as_item(e))
    yield from grouped(doc["sessions"], lambda sid: items.get(sid, ()),
                       unfetched_emoticons(doc.get("transfers", ())),
                       account, with_, since, until, typing, connections)


def as_item(e: dict) -> dict:
    """A participants row as a transcript line (after the session's messages)."""
    return dict(e, kind="event", sender=e["passport"], text=e["event"])


def unfetched_emoticons(transfers) -> set:
    """Custom emoticons announced and never fetched (P2P rows "not fetched"): said on
    the announcement's line (a document that holds the transfers: chats, the report)."""
    return {(t["session"], (t["sender"] or "").lower(), t["name"])
            for t in transfers if t.get("status") == "not fetched"
            and t.get("kind") == "emoticon"}


def grouped(sessions, load, unfetched, account=None, with_=None, since=None, until=None,
            typing=True, connections=None):
    """``conversations`` over any store: ``sessions`` (rows), ``load(session id)`` (its
    messages, then its participants rows as ``as_item`` makes them)."""
    by_id = {s["id"]: s for s in sessions if s["kind"] == "switchboard"}
    groups = switchboard_groups(sessions)
    for gkey, group in groups.items():
        viewers = [s["passport"] or "unknown" for s in group]
        people = sorted({p for s in group for p in (s["participants"] or [])})
        if account and account.lower() not in [v.lower() for v in viewers]:
            continue
        if with_ and with_.lower() not in [p.lower() for p in people]:
            continue
        if connections and not connections & {s["id"] for s in group}:
            continue        # a conversation is kept whole when any of its connections is named
        merged = len(group) > 1
        pool = sorted((m for s in group for m in load(s["id"])),
                      key=lambda m: (m["time"], m.get("direction") != "out",
                                     m.get("_seq", 0)))
        rows: list = []
        seen: dict = {}
        last_typing = None
        for m in pool:
            kind = m["kind"]
            if merged and kind == "event" and (m["command"] == "IRO" or m["text"] in _OWN_ECHO):
                continue        # "was there" is the joiner's view; the JOI lines say it (and
                #                 an account's own joins, seen by the others' connections)
            key = (kind, m["sender"], m.get("content_type"), m["text"])
            prev = seen.get(key)
            if merged and prev and prev[1] != m["session"] and _seconds(prev[0], m["time"]) < 5:
                continue        # the same message (or join/leave) seen on another connection
            # (the same line twice on one connection is said twice: a person typed it
            # twice, or bob accepted two requests in a row)
            seen[key] = (m["time"], m["session"])
            # the time filter comes after the copies are gone: a receiver's later copy
            # of a line sent before --since must not bring the line back
            if (since and m["time"] < since) or (until and m["time"] > until):
                continue
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
                    # the model's text starts with the kind ("wink: Bisou"): said once
                    text = m["text"] or ""
                    if text.startswith(kind + ": "):
                        text = text[len(kind) + 2:]
                    if kind == "emoticon" and unfetched:
                        ids = {x["id"] for x in group}
                        nf = [n for n in text.split() if any(
                            (i, (m["sender"] or "").lower(), n) in unfetched for i in ids)]
                        if nf:
                            text += f" ({', '.join(nf)} announced, never fetched)"
                    line = f"* {m['sender'] or 'unknown'} {_SHOWN_AS[kind]}" + (
                        f": {text}" if kind != "nudge" and text else "")
                else:
                    line = f"[{m['content_type']}] {m['text'] or ''}"
            rows.append({"time": m["time"], "session": m["session"],
                         "account": by_id[m["session"]]["passport"],
                         "sender": m["sender"] if m["sender"] else "unknown",
                         "recipients": m.get("recipients"), "kind": kind, "text": line,
                         "font": m.get("font"), "effects": m.get("effects"),
                         "color": m.get("color"), "ack": m.get("ack")})
        head = {"key": gkey, "sessions": [s["id"] for s in group], "accounts": viewers,
                "participants": people, "server": group[0]["server"],
                "sb_session_id": group[0]["sb_session_id"],
                "start": min(s["start"] for s in group),
                "end": max((s["end"] for s in group if s["end"]), default=None)}
        yield head, rows


def _host(server: str | None) -> str:
    # the host of host:port ([v6]:port): one side may reach the switchboard through the
    # HTTP gateway, which names the server without the port the other side used
    if not server:
        return ""
    if server.startswith("["):
        return server[1:server.find("]")] if "]" in server else server
    return server.rsplit(":", 1)[0] if server.count(":") == 1 else server


def switchboard_groups(sessions) -> dict:
    """The switchboard connections of each conversation: the same session id on the same
    server host, overlapping in time (a server reuses session ids: switchboards that
    did not overlap are different conversations).  Key: (server, id, first start) or
    the connection's id when it has no session id."""
    by_key: dict = {}
    groups: dict = {}
    for s in sessions:
        if s["kind"] != "switchboard":
            continue
        if not s["sb_session_id"]:
            groups[s["id"]] = [s]
            continue
        by_key.setdefault((_host(s["server"]), s["sb_session_id"]), []).append(s)
    for (host, sid), members in by_key.items():
        members.sort(key=lambda s: (s["start"] or "", s["id"]))
        first, end = None, ""            # (end is read only once first is set)
        for s in members:
            if first is None or (s["start"] or "") > end:
                first = s       # starts after every earlier one ended: another conversation
            groups.setdefault((first["server"], sid, first["start"]), []).append(s)
            end = max(end or "", s["end"] or s["start"] or "")
    return groups


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


TRANSFER_COLUMNS = ["finished", "session", "kind", "name", "sender", "receiver", "size",
                    "received", "missing_bytes", "status", "sha256", "extracted_to"]

