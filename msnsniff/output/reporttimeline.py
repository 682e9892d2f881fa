"""The report's timeline drawing (`msnsniff report`), as numbers for the template: lanes,
presence bands, message marks, a time axis, cut-out gaps and a legend.

Why its own module: a timeline must stay readable from a 30-packet sample to a
revival server's day.  So
- time is mapped piecewise: an idle stretch much longer than the activity around it
  (two captures a day apart) is cut out and drawn as a narrow break, instead of
  squashing every lane against the edges;
- up to ``MAX_LANES`` connections get a lane each; past that, one lane per connection
  kind shows how many were open per time bin, and one lane the messages per bin (a
  histogram), so the drawing's size no longer grows with the capture;
- every pass is linear in the rows (a difference array counts open connections).
Nothing from the network reaches the drawing but passports and kinds as text (the
template autoescapes) and colours from the fixed tables below.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timezone

WIDTH = 1000              # drawing width (SVG user units)
LANE = 16
AXIS = 28                 # room above the lanes for the time axis
GAP = 14                  # width of a cut-out idle stretch
MAX_TICKS = 2000          # above this, message marks are binned per lane
BINS = 200
MAX_LANES = 300           # past this many connections, lanes are aggregated by kind
MAX_PEOPLE = 200          # presence rows drawn
MAX_BANDS = 2000
KIND_COLOURS = {"dispatch": "#8e44ad", "notification": "#2c7fb8", "switchboard": "#41ab5d",
                "file-transfer": "#fd8d3c", "p2p-direct": "#e6550d", "http": "#969696",
                "unknown": "#bdbdbd"}
STATUS_COLOURS = {"NLN": "#31a354", "BSY": "#de2d26", "AWY": "#fec44f", "IDL": "#fec44f",
                  "BRB": "#fec44f", "PHN": "#de2d26", "LUN": "#fec44f", "HDN": "#9e9ac8",
                  "FLN": "#d9d9d9"}
STATUS_NAMES = {"NLN": "online", "BSY": "busy", "AWY": "away / idle / lunch / brb",
                "PHN": "on the phone", "HDN": "appear offline", "FLN": "offline"}
_STEPS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300,
          600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)
CELL = 2000               # characters of one value from the network shown


def clip(v, n: int = CELL):
    """A value from the network, cut to ``n`` characters (the rest counted): one
    friendly name or message must not fill the page."""
    if isinstance(v, str) and len(v) > n:
        return f"{v[:n]}… ({len(v) - n:,} more characters)"
    return v


def epoch(t):
    if not t:
        return None
    try:
        return datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class TimeScale:
    """Capture time -> x, with long idle stretches cut out.  ``intervals`` are the
    connections' (start, end); a gap between merged intervals longer than a tenth of the
    active time (and than a minute) becomes a ``GAP``-wide break."""

    def __init__(self, intervals):
        merged: list = []
        for a, b in sorted(intervals):
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        active = sum(b - a for a, b in merged)
        segs = [list(merged[0])]
        for a, b in merged[1:]:
            if a - segs[-1][1] > max(60.0, active / 10):
                segs.append([a, b])
            else:
                segs[-1][1] = b
        self.t0, self.t1 = segs[0][0], segs[-1][1]
        shown = sum(b - a for a, b in segs)
        self.scale = (WIDTH - GAP * (len(segs) - 1)) / max(shown, 1e-6)
        self.segs, self.starts, x = [], [], 0.0
        for a, b in segs:
            self.segs.append((a, b, x))
            self.starts.append(a)
            x += (b - a) * self.scale + GAP
        # the breaks, drawn between segments
        self.breaks = [{"x": round(x0 + (b - a) * self.scale, 2), "w": GAP,
                        "label": f"{_duration(self.segs[i + 1][0] - b)} without traffic"}
                       for i, (a, b, x0) in enumerate(self.segs[:-1])]

    def x(self, t: float) -> float:
        i = max(0, bisect.bisect_right(self.starts, t) - 1)
        a, b, x0 = self.segs[i]
        return round(x0 + (min(max(t, a), b) - a) * self.scale, 2)

    def seg_end(self, t: float) -> float:
        """The end of the stretch of traffic ``t`` falls in (a band stops at a break)."""
        return self.segs[max(0, bisect.bisect_right(self.starts, t) - 1)][1]

    def axis(self) -> list[dict]:
        """Labelled ticks at a round step, about one per 110 units, per segment."""
        shown = sum(b - a for a, b, _ in self.segs)
        step = next((s for s in _STEPS if shown / s <= WIDTH / 110), _STEPS[-1])
        many_days = _day(self.t0) != _day(self.t1)
        out: list[dict] = []
        last_day = None
        for a, b, _ in self.segs:
            n = -(-a // step)                       # the first multiple of step in the segment
            first = True
            while n * step <= b and len(out) < 60:
                t = n * step
                day = _day(t)
                label = _utc(t).strftime("%H:%M:%S" if step < 60 else "%H:%M")
                if step < 1:                        # as many decimals as the step needs
                    decimals = len(f"{step:.3f}".rstrip("0").split(".")[1])
                    label += f"{t % 1:.{decimals}f}"[1:]
                if many_days and (day != last_day or first):
                    label = _utc(t).strftime("%m-%d ") + label
                out.append({"x": self.x(t), "label": label})
                last_day, first = day, False
                n += 1
        return out


def _utc(t):
    return datetime.fromtimestamp(t, timezone.utc)


def _day(t):
    return _utc(t).date()


def _duration(s: float) -> str:
    for unit, n in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= n:
            return f"{s / n:.1f} {unit}".replace(".0 ", " ")
    return f"{s:.0f} s"


def timeline(doc) -> dict:
    sessions = [s for s in doc["sessions"] if epoch(s["start"]) is not None]
    if not sessions:
        return {"lanes": [], "bands": [], "ticks": [], "bins": [], "height": 0}
    spans = {s["id"]: (epoch(s["start"]), epoch(s["end"] or s["start"]) or epoch(s["start"]))
             for s in sessions}
    ts = TimeScale(spans.values())
    x = ts.x
    ordered = sorted(sessions, key=lambda s: s["start"])
    aggregated = len(ordered) > MAX_LANES
    lanes, index, bins = [], {}, []
    if not aggregated:
        for i, s in enumerate(ordered):
            index[s["id"]] = i
            a, b = spans[s["id"]]
            lanes.append({"y": AXIS + i * LANE, "x": x(a), "w": max(x(b) - x(a), 1.5),
                          "colour": KIND_COLOURS.get(s["kind"], "#bdbdbd"),
                          "gateway": s.get("transport") == "http-gateway",
                          "label": f"{s['id']} {s['kind']} {clip(s['passport'] or '', 80)}",
                          "right": x(a) > WIDTH * 0.75})
    else:
        lanes, bins = _aggregate_lanes(ordered, spans, doc["messages"], x)
    top = AXIS + len(lanes) * LANE + 10
    bands, people = _bands(doc["presence"], ts, top)
    marks: list[tuple[int, float, str]] = []       # (lane, x, kind)
    ticks: list[dict] = []
    if not aggregated:
        for m in doc["messages"]:
            if m["kind"] in ("text", "transfer") and m["session"] in index:
                t = epoch(m["time"])
                if t is not None:
                    marks.append((index[m["session"]], x(t), m["kind"]))
        for t in doc["transfers"]:
            end = epoch(t.get("finished"))
            if t["session"] in index and end is not None:
                marks.append((index[t["session"]], x(end), "transfer"))
        if len(marks) > MAX_TICKS:                     # dense: one bar per lane and bin
            bins = _binned(marks)
        else:
            ticks = [{"y": AXIS + lane * LANE, "x": xx,
                      "colour": "#000" if kind == "text" else "#d95f0e"}
                     for lane, xx, kind in marks]
    shown_people = min(len(people), MAX_PEOPLE)
    kinds = sorted({s["kind"] for s in sessions})
    return {"lanes": lanes, "bands": bands, "ticks": ticks, "bins": bins,
            "aggregated": aggregated, "connections": len(ordered),
            "axis": ts.axis(), "breaks": ts.breaks, "axis_y": AXIS - 6,
            "height": top + shown_people * 10 + 20, "width": WIDTH,
            "t0": doc["summary"].get("first"), "t1": doc["summary"].get("last"),
            "people": len(people), "people_more": len(people) - shown_people,
            "legend_kinds": [(k, KIND_COLOURS.get(k, "#bdbdbd")) for k in kinds],
            "legend_status": [(STATUS_NAMES[k], c) for k, c in STATUS_COLOURS.items()
                              if k in STATUS_NAMES]}


def _bands(presence, ts, top):
    x = ts.x
    people: dict = {}
    for r in presence:
        t = epoch(r["time"]) if r.get("passport") else None
        if t is not None:
            people.setdefault(r["passport"].lower(), []).append((t, r["status"], r["passport"]))
    bands = []
    shown = sorted(people.items())[:MAX_PEOPLE]
    # each row gets an equal share of the bands; a busier contact is sampled (a change
    # is drawn only a share's width after the last one drawn), so every row is drawn
    budget = max(4, MAX_BANDS // max(1, len(shown)))
    for j, (_, changes) in enumerate(shown):
        changes.sort(key=lambda c: c[0])
        if len(changes) > budget:
            kept, last = [], None
            for c in changes:
                if last is None or x(c[0]) - last >= WIDTH / budget:
                    kept.append(c)
                    last = x(c[0])
            changes = kept
        y = top + j * 10
        # the person's name at the row's start, so the drawing reads without hovering
        bands.append({"y": y, "x": 0, "w": 0, "colour": None, "label": clip(changes[0][2], 80),
                      "name": True})
        for k, (t, status, who) in enumerate(changes):
            # a status holds until the next change, or the end of its stretch of traffic
            nxt = changes[k + 1][0] if k + 1 < len(changes) else ts.t1
            end = x(min(nxt, ts.seg_end(t)))
            bands.append({"y": y, "x": x(t), "w": max(end - x(t), 1),
                          "colour": STATUS_COLOURS.get(status, "#bdbdbd"),
                          "label": f"{clip(who, 80)} {status}", "name": False})
    return bands, people


def _binned(ticks):
    counts: dict = {}
    for lane, xx, _ in ticks:
        b = min(int(xx / WIDTH * BINS), BINS - 1)
        counts[(lane, b)] = counts.get((lane, b), 0) + 1
    peak = max(counts.values())
    return [{"y": AXIS + lane * LANE, "x": round(b * WIDTH / BINS, 2),
             "w": round(WIDTH / BINS, 2), "h": max(2, round(12 * n / peak, 1)), "n": n,
             "what": "events"} for (lane, b), n in counts.items()]


def _aggregate_lanes(ordered, spans, messages, x):
    """One lane per kind: connections open per bin (a difference array, linear), and a
    last lane of messages per bin."""
    kinds = sorted({s["kind"] for s in ordered})
    diff = {k: [0] * (BINS + 1) for k in kinds}
    count = dict.fromkeys(kinds, 0)
    for s in ordered:
        a, b = spans[s["id"]]
        lo = min(int(x(a) / WIDTH * BINS), BINS - 1)
        hi = min(int(x(b) / WIDTH * BINS), BINS - 1)
        diff[s["kind"]][lo] += 1
        diff[s["kind"]][hi + 1] -= 1
        count[s["kind"]] += 1
    lanes, bins = [], []
    w = round(WIDTH / BINS, 2)
    for i, k in enumerate(kinds):
        open_, run = [], 0
        for d in diff[k][:BINS]:
            run += d
            open_.append(run)
        peak = max(open_) or 1
        y = AXIS + i * LANE
        lanes.append({"y": y, "x": 0, "w": WIDTH, "colour": KIND_COLOURS.get(k, "#bdbdbd"),
                      "gateway": False, "label": f"{k}: {count[k]:,} connections "
                      f"(at most {peak:,} open at once)", "faint": True})
        bins += [{"y": y, "x": round(b * WIDTH / BINS, 2), "w": w,
                  "h": max(1, round(12 * n / peak, 1)), "n": n, "what": f"{k} connections open",
                  "colour": KIND_COLOURS.get(k, "#bdbdbd")}
                 for b, n in enumerate(open_) if n]
    per_bin = [0] * BINS
    total = 0
    for m in messages:
        if m["kind"] == "text":
            t = epoch(m["time"])
            if t is not None:
                per_bin[min(int(x(t) / WIDTH * BINS), BINS - 1)] += 1
                total += 1
    y = AXIS + len(kinds) * LANE
    lanes.append({"y": y, "x": 0, "w": WIDTH, "colour": "#000000", "gateway": False,
                  "label": f"messages: {total:,}", "faint": True})
    peak = max(per_bin) or 1
    bins += [{"y": y, "x": round(b * WIDTH / BINS, 2), "w": w, "h": max(1, round(12 * n / peak, 1)),
              "n": n, "what": "messages"} for b, n in enumerate(per_bin) if n]
    return lanes, bins
