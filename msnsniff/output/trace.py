"""The protocol trace (`msnsniff commands`): one row per framed command, gap and
undecodable run, with fixed columns.  No printing (the CLI writes through emit.py)."""

from __future__ import annotations

from collections import Counter

from ..model.timefmt import iso
from ..protocol.mime import media_type, split_payload
from ..protocol.tables import display_params
from ..stream.framing import FileAbort, FileData, RawCommand, Undecodable

TRACE_COLUMNS = ["time", "connection", "client", "server", "direction", "verb", "trid",
                 "params", "payload_length", "summary"]
# with --columns: the HTTP gateway request or response that carried a command
TRACE_EXTRA = ["via"]


# the trace as an SQLite table (export's case file): (name, type, required, meaning, example)
TRACE_TABLE = [
    ("time", "text", False, "when the command's first byte was captured", "2003-09-05T10:00:01.2Z"),
    ("session", "integer", False, "the connection (sessions.id)", "2"),
    ("client", "text", False, "client address:port", "10.0.0.10:52677"),
    ("server", "text", False, "server address:port", "10.0.0.2:1863"),
    ("direction", "text", False, "c2s or s2c", "c2s"),
    ("verb", "text", True, "the command, or <gap>/<undecodable>/<file-data>", "USR"),
    ("trid", "integer", False, "transaction id", "3"),
    ("params", "list", False, "the arguments (names decoded) as a JSON list", '["TWN", "I"]'),
    ("payload_length", "integer", False, "bytes of payload", "133"),
    ("summary", "text", False, "what the payload holds, or the damage", "text/plain: hi"),
]


def trace_rows(events, trace):
    """The protocol trace's rows from a run's events (as `commands` shows them)."""
    from ..events import Anomaly, ConnectionOpened, DialectKnown, Framed
    for ev in events:
        t = type(ev)
        if t is ConnectionOpened:
            trace.open(ev)
        elif t is DialectKnown:
            trace.versions[ev.conn] = ev.version
        elif t is Framed:
            r = trace.framed(ev)
            if r is not None:
                yield dict(r, session=r["connection"])
        elif t is Anomaly and ev.kind == "gap":
            r = trace.gap(ev)
            yield dict(r, session=r["connection"])


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
        # connection -> dialect (DialectKnown): which arguments are names depends on it,
        # as it does for the decoder
        self.versions: dict[int, int] = {}

    def open(self, ev):
        self.endpoints[ev.conn] = (ev.client, ev.server)

    def row(self, conn, d, ts, verb, trid=None, params=(), length=None, summary=""):
        client, server = self.endpoints.get(conn, ("?", "?"))
        return {"time": iso(ts), "connection": conn, "client": client, "server": server,
                "direction": "c2s" if d == 0 else "s2c", "verb": verb, "trid": trid,
                "params": list(params), "payload_length": length, "summary": summary}

    def framed(self, ev):
        r = self._framed(ev)
        if r is not None:
            r["via"] = ev.via
        return r

    def _framed(self, ev):
        item = ev.item
        if isinstance(item, RawCommand):
            self.verbs[item.verb] += 1
            self.bytes += item.length
            params = display_params(item.verb, item.params, self.versions.get(ev.conn))
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
        verbs = {v: n for v, n in self.verbs.items() if not v.isdigit()}
        codes = {v: n for v, n in self.verbs.items() if v.isdigit()}
        lines = [f"connections: {len(self.endpoints)}",
                 "commands: " + (", ".join(f"{v} {n}" for v, n in sorted(verbs.items()))
                                 or "none")]
        if codes:                     # error replies are numbers, not verbs
            lines.append("error replies: " + ", ".join(f"{v} {n}" for v, n in sorted(codes.items())))
        if not self.endpoints:
            lines.append("no MSNP found: is the server on another port? try --port N")
        lines += [
                 f"bytes decoded: {self.bytes}; gaps: {self.gaps} ({self.gap_bytes} bytes); "
                 f"undecodable: {self.undecodable} bytes"]
        from .readview import capture_counts
        for path, st in stats_list:
            lines.append(capture_counts({"file": path, "format": st.format,
                                         "packets": st.packets, "skipped": st.skipped,
                                         "reader": st.reader,
                                         "tcp_segments": st.tcp_segments}))
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
