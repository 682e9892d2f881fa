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

from markupsafe import escape

from .reporttimeline import clip, timeline
from .transcript import conversations

CAP = 500                 # rows per table or conversation before "N more"
MAX_SECTIONS = 50         # contact lists, conversations and account cards shown
MAX_NAMES = 20            # friendly names and personal messages on an account card
# The page's promise is "under 4 MB whatever the capture".  Row counts alone do not
# keep it: 500 lines of 1,600 characters of ``<`` (escaped five times larger) in each
# of 50 conversations is 200 MB.  So each section also has a budget of escaped bytes;
# the rows past it are counted in its "N more" line like the rows past its cap.  The
# CSS and the timeline (bounded by its own caps) take the rest of the 4 MB.
BUDGETS = {"accounts": 300_000, "contacts": 700_000, "conversations": 1_100_000,
           "transfers": 200_000, "challenges": 100_000, "errors": 100_000,
           "anomalies": 200_000}
ROW = 120                 # markup bytes around a row's values
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
EFFECTS = {"bold": "b", "italic": "i", "underline": "u", "strikethrough": "s"}


def safe_colour(c) -> str | None:
    """A CSS colour only when it is exactly a parsed #rrggbb."""
    return c if isinstance(c, str) and _HEX.match(c) else None


def _capped(rows, cap=CAP):
    rows = list(rows)
    return rows[:cap], max(0, len(rows) - cap)


def _escaped_len(v) -> int:
    if v is None or v is True or v is False:
        return 5
    if isinstance(v, dict):
        return sum(_escaped_len(k) + _escaped_len(x) for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return sum(_escaped_len(x) for x in v)
    return len(escape(str(v)))


class Budget:
    """Escaped bytes a section may still fill (see BUDGETS)."""

    def __init__(self, left: int):
        self.left = left

    def take(self, rows, fields, cap=CAP) -> tuple[list, int]:
        """The rows shown (each value in ``fields`` clipped) and how many are not.
        The first row of a call is always shown: every conversation or contact list
        that is listed shows something."""
        shown: list = []
        n = 0
        for r in rows:
            n += 1
            if len(shown) >= cap or (shown and self.left <= 0):
                continue
            c = {k: clip(r.get(k)) for k in fields if isinstance(r.get(k), str)}
            r = dict(r, **c) if any(c[k] is not r.get(k) for k in c) else r
            self.left -= ROW + sum(_escaped_len(r.get(k)) for k in fields)
            shown.append(r)
        return shown, n - len(shown)


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
        names = sorted({(t or "", n) for t, n in a["names"]})
        a["names"] = [(t, clip(n, 400)) for t, n in names[:MAX_NAMES]]
        a["names_more"] = max(0, len(names) - MAX_NAMES)
        a["psm_more"] = max(0, len(a["psm"]) - MAX_NAMES)
        a["psm"] = [(t, clip(m), clip(media)) for t, m, media in a["psm"][:MAX_NAMES]]
    return sorted(out.values(), key=lambda a: a["passport"].lower())


def _account_cards(doc) -> tuple[list, int]:
    """Account cards within their budget: a card's sessions are rows like any other."""
    cards, more = _capped(accounts(doc), MAX_SECTIONS)
    budget = Budget(BUDGETS["accounts"])
    for a in cards:
        budget.left -= ROW + sum(_escaped_len(x) for x in (a["passport"], a["names"], a["psm"]))
        a["sessions"], a["sessions_more"] = budget.take(
            a["sessions"], ("client", "login", "login_time", "auth", "client_address",
                            "protocol"), MAX_NAMES)
    return cards, more


def conversation_views(doc, account=None, since=None, until=None) -> tuple[list, int]:
    """The first MAX_SECTIONS conversations, and how many more there are."""
    out: list = []
    more = 0
    budget = Budget(BUDGETS["conversations"])
    for head, rows in conversations(doc, account, None, since, until, typing=True):
        if len(out) == MAX_SECTIONS:
            more += 1
            continue
        typing = sum(1 for r in rows if r["kind"] == "typing")
        lines = []
        for r in rows:
            if r["kind"] == "typing":
                continue
            classes = [EFFECTS[e] for e in (r.get("effects") or []) if e in EFFECTS]
            lines.append({"time": r["time"], "sender": r["sender"], "text": r["text"],
                          "kind": r["kind"], "colour": safe_colour(r.get("color")),
                          "classes": " ".join(classes), "font": r.get("font")})
        shown, more_lines = budget.take(lines, ("time", "sender", "text", "font"))
        people = head.get("participants") or []
        head = dict(head, participants=[clip(p, 200) for p in people[:MAX_NAMES]] + (
            [f"{len(people) - MAX_NAMES} more"] if len(people) > MAX_NAMES else []))
        out.append({"head": head, "lines": shown, "more": more_lines, "typing": typing})
    return out, more


def contacts_by_owner(doc) -> tuple[list, int]:
    """The first MAX_SECTIONS sessions' contact lists, and how many more there are."""
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
    # each contact's last personal message (UBX) on that session, with its media
    psm: dict = {}
    for r in doc["personal_messages"]:
        if r["command"] == "UBX" and r.get("passport"):
            psm[(r["session"], r["passport"].lower())] = (r.get("personal_message"),
                                                           r.get("current_media"))
    out: list = []
    lists_more = 0
    budget = Budget(BUDGETS["contacts"])
    for s in doc["sessions"]:
        rows = contacts.get(s["id"], [])
        changes = list_changes.get(s["id"], [])
        if rows or changes:
            if len(out) == MAX_SECTIONS:
                lists_more += 1
                continue
            if psm:
                rows = [_with_psm(r, psm.get((s["id"], (r["passport"] or "").lower())))
                        for r in rows]
            shown, more = budget.take(rows, ("passport", "friendly_name", "group_names",
                                             "phones", "psm", "media"))
            ch, ch_more = budget.take(changes, ("time", "op", "list", "passport",
                                                "friendly_name", "group_id"))
            groups = {k: clip(v, 200) for k, v in groups.get(s["id"], {}).items()}
            out.append({"session": s["id"], "owner": s["passport"], "contacts": shown,
                        "more": more, "changes": ch, "changes_more": ch_more,
                        "groups": groups})
    return out, lists_more


def _with_psm(r: dict, found) -> dict:
    if not found or not (found[0] or found[1]):
        return r
    return dict(r, psm=found[0] or None, media=found[1] or None)


def context(doc, version: str) -> dict:
    sm = doc["summary"]
    tables = {}
    for t, fields in (("transfers", ("kind", "name", "sender", "receiver", "status")),
                      ("challenges", ("time", "challenge", "product_id")),
                      ("errors", ("time", "name", "request")),
                      ("anomalies", ("time", "kind", "detail"))):
        rows, more = Budget(BUDGETS[t]).take(doc[t], fields)
        tables[t] = {"rows": rows, "more": more}
    return {"version": version, "summary": sm, "captures": sm.get("captures", []),
            "accounts": _account_cards(doc),
            "timeline": timeline(doc),
            "contacts": contacts_by_owner(doc),
            "conversations": conversation_views(doc),
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
