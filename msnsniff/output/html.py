"""`msnsniff report`: one self-contained HTML page (templates/report.html.j2).

Everything from the network is text: the template is rendered by Jinja2 with
autoescaping on, no value from the network is ever placed in a URL, a style or an
event attribute, and CSS colours come only from parsed numbers (``#rrggbb`` checked
here).  The page has no external asset and makes no request when it opens.  Long lists
are capped (``CAP`` rows, then "N more — see msnsniff …"), and the timeline aggregates
dense lanes into bins, so a big capture still gives a page a browser opens.
"""

from __future__ import annotations

import re

from .reporttimeline import timeline
from .transcript import conversations

CAP = 500                 # rows per table or conversation before "N more"
MAX_SECTIONS = 50         # contact lists, conversations and account cards shown
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
EFFECTS = {"bold": "b", "italic": "i", "underline": "u", "strikethrough": "s"}


def safe_colour(c) -> str | None:
    """A CSS colour only when it is exactly a parsed #rrggbb."""
    return c if isinstance(c, str) and _HEX.match(c) else None


def _capped(rows, cap=CAP):
    rows = list(rows)
    return rows[:cap], max(0, len(rows) - cap)


def accounts(doc) -> list[dict]:
    out: dict = {}
    own_names: dict = {}
    for r in doc["list_changes"]:
        if r["op"] in ("REA", "PRP") and r.get("passport") and r.get("friendly_name"):
            own_names.setdefault(r["passport"].lower(), []).append((r["time"], r["friendly_name"]))
    for s in doc["sessions"]:
        if s["kind"] not in ("notification", "dispatch") or not s["passport"]:
            continue
        key = s["passport"].lower()
        a = out.setdefault(key, {"passport": s["passport"], "sessions": [], "names": [],
                                 "psm": []})
        p = s.get("profile") or {}
        a["sessions"].append({
            "id": s["id"], "kind": s["kind"], "protocol": s["protocol"],
            "client": " ".join(x for x in (s["client_name"], s["client_version"]) if x),
            "login_time": s["login_time"], "auth": s["auth_method"], "login": s["login"],
            "transport": s.get("transport"), "port_reported": p.get("client_port_reported"),
            "port": p.get("client_port"),
            "reading": {True: "byte-swapped", False: "plain", None: "cannot tell"}.get(
                p.get("port_byteswapped")) if p else None,
            "nat": {True: "yes", False: "no", None: "unknown"}.get(p.get("nat")) if p else None,
            "client_address": s["client"]})
        if s.get("friendly_name_at_login"):
            a["names"].append((s["login_time"], s["friendly_name_at_login"]))
    for key, names in own_names.items():
        if key in out:
            out[key]["names"] += names
    for r in doc["personal_messages"]:
        key = (r.get("passport") or "").lower()
        if key in out and r["command"] == "UUX":
            out[key]["psm"].append((r["time"], r["personal_message"], r["current_media"]))
    for a in out.values():
        a["names"] = sorted({(t or "", n) for t, n in a["names"]})
    return sorted(out.values(), key=lambda a: a["passport"].lower())


def conversation_views(doc, account=None, since=None, until=None):
    out = []
    for head, rows in conversations(doc, account, None, since, until, typing=True):
        typing = sum(1 for r in rows if r["kind"] == "typing")
        lines = []
        for r in rows:
            if r["kind"] == "typing":
                continue
            classes = [EFFECTS[e] for e in (r.get("effects") or []) if e in EFFECTS]
            lines.append({"time": r["time"], "sender": r["sender"], "text": r["text"],
                          "kind": r["kind"], "colour": safe_colour(r.get("color")),
                          "classes": " ".join(classes), "font": r.get("font")})
        shown, more = _capped(lines)
        out.append({"head": head, "lines": shown, "more": more, "typing": typing})
    return out


def contacts_by_owner(doc) -> list[dict]:
    groups: dict = {}
    for g in doc["groups"]:
        groups.setdefault(g["session"], {})[g["group_id"]] = g["name"]
    # one pass over each table (a scan of every table per session was sessions ×
    # contacts: 25 of a dense report's 40 seconds)
    contacts: dict = {}
    for c in doc["contacts"]:
        contacts.setdefault(c["session"], []).append(c)
    list_changes: dict = {}
    for c in doc["list_changes"]:
        list_changes.setdefault(c["session"], []).append(c)
    out = []
    for s in doc["sessions"]:
        rows = contacts.get(s["id"], [])
        changes = list_changes.get(s["id"], [])
        if rows or changes:
            shown, more = _capped(rows)
            ch, ch_more = _capped(changes)
            out.append({"session": s["id"], "owner": s["passport"], "contacts": shown,
                        "more": more, "changes": ch, "changes_more": ch_more,
                        "groups": groups.get(s["id"], {})})
    return out


def context(doc, version: str) -> dict:
    sm = doc["summary"]
    tables = {}
    for t in ("transfers", "challenges", "errors", "anomalies"):
        rows, more = _capped(doc[t])
        tables[t] = {"rows": rows, "more": more}
    return {"version": version, "summary": sm, "captures": sm.get("captures", []),
            "accounts": _capped(accounts(doc), MAX_SECTIONS),
            "timeline": timeline(doc),
            "contacts": _capped(contacts_by_owner(doc), MAX_SECTIONS),
            "conversations": _capped(conversation_views(doc), MAX_SECTIONS),
            "tables": tables, "tool": sm.get("tool"), "redacted": bool(sm.get("redacted"))}


def render(doc, out, version: str):
    """Write the page to ``out`` as it is rendered (Jinja2's stream)."""
    from jinja2 import Environment, PackageLoader, select_autoescape
    env = Environment(loader=PackageLoader("msnsniff.output", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    # a cell shows yes/no, never Python's True/False
    env.filters["yesno"] = lambda v: {True: "yes", False: "no", None: ""}.get(v, v)
    for chunk in env.get_template("report.html.j2").generate(**context(doc, version)):
        out.write(chunk)
