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
from datetime import datetime

from .transcript import conversations

CAP = 500                 # rows per table or conversation before "N more"
WIDTH = 1000              # timeline drawing width (SVG user units)
LANE = 16
MAX_TICKS = 2000          # above this, ticks are binned per lane
BINS = 200
MAX_LANES = 300           # connections drawn (the first by start); the rest are counted
MAX_BANDS = 2000
MAX_SECTIONS = 50         # contact lists, conversations and account cards shown
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
KIND_COLOURS = {"dispatch": "#8e44ad", "notification": "#2c7fb8", "switchboard": "#41ab5d",
                "file-transfer": "#fd8d3c", "http": "#969696", "unknown": "#bdbdbd"}
STATUS_COLOURS = {"NLN": "#31a354", "BSY": "#de2d26", "AWY": "#fec44f", "IDL": "#fec44f",
                  "BRB": "#fec44f", "PHN": "#de2d26", "LUN": "#fec44f", "HDN": "#9e9ac8",
                  "FLN": "#d9d9d9"}
EFFECTS = {"bold": "b", "italic": "i", "underline": "u", "strikethrough": "s"}


def _epoch(t):
    if not t:
        return None
    try:
        return datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


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


def timeline(doc) -> dict:
    """Lanes (one per connection), presence bands per contact and ticks, as numbers."""
    sessions = [s for s in doc["sessions"] if _epoch(s["start"]) is not None]
    if not sessions:
        return {"lanes": [], "bands": [], "ticks": [], "bins": [], "height": 0}
    t0 = min(_epoch(s["start"]) for s in sessions)
    t1 = max(_epoch(s["end"] or s["start"]) for s in sessions)
    span = max(t1 - t0, 1e-6)

    def x(t):
        return round((t - t0) / span * WIDTH, 2)

    lanes, index = [], {}
    ordered = sorted(sessions, key=lambda s: s["start"])
    for i, s in enumerate(ordered[:MAX_LANES]):
        index[s["id"]] = i
        a, b = _epoch(s["start"]), _epoch(s["end"] or s["start"])
        lanes.append({"y": i * LANE, "x": x(a), "w": max(x(b) - x(a), 1.5),
                      "colour": KIND_COLOURS.get(s["kind"], "#bdbdbd"),
                      "gateway": s.get("transport") == "http-gateway",
                      "label": f"{s['id']} {s['kind']} {s['passport'] or ''}"})
    top = len(lanes) * LANE + 10
    bands, people = [], {}
    for r in sorted(doc["presence"], key=lambda r: r["time"] or ""):
        if r.get("passport") and _epoch(r["time"]) is not None:
            people.setdefault(r["passport"].lower(), []).append((_epoch(r["time"]), r["status"],
                                                                 r["passport"]))
    for j, (key, changes) in enumerate(sorted(people.items())[:200]):
        for k, (t, status, who) in enumerate(changes):
            end = changes[k + 1][0] if k + 1 < len(changes) else t1
            if len(bands) < MAX_BANDS:
                bands.append({"y": top + j * 10, "x": x(t), "w": max(x(end) - x(t), 1),
                              "colour": STATUS_COLOURS.get(status, "#bdbdbd"),
                              "label": f"{who} {status}"})
    ticks = []
    for m in doc["messages"]:
        if m["kind"] in ("text", "transfer") and m["session"] in index and _epoch(m["time"]):
            ticks.append((index[m["session"]], x(_epoch(m["time"])), m["kind"]))
    for t in doc["transfers"]:
        if t["session"] in index and _epoch(t.get("finished")):
            ticks.append((index[t["session"]], x(_epoch(t["finished"])), "transfer"))
    bins = []
    if len(ticks) > MAX_TICKS:                     # dense: one bar per lane and bin
        counts: dict = {}
        for lane, xx, _ in ticks:
            b = min(int(xx / WIDTH * BINS), BINS - 1)
            counts[(lane, b)] = counts.get((lane, b), 0) + 1
        peak = max(counts.values())
        bins = [{"y": lane * LANE, "x": round(b * WIDTH / BINS, 2), "w": round(WIDTH / BINS, 2),
                 "h": max(2, round(12 * n / peak, 1)), "n": n} for (lane, b), n in counts.items()]
        ticks = []
    else:
        ticks = [{"y": lane * LANE, "x": xx, "colour": "#000" if kind == "text" else "#d95f0e"}
                 for lane, xx, kind in ticks]
    return {"lanes": lanes, "bands": bands, "ticks": ticks, "bins": bins,
            "lanes_more": max(0, len(ordered) - MAX_LANES),
            "height": top + len(people) * 10 + 20, "width": WIDTH, "t0": doc["summary"].get("first"),
            "t1": doc["summary"].get("last"), "people": len(people)}


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
    for chunk in env.get_template("report.html.j2").generate(**context(doc, version)):
        out.write(chunk)
