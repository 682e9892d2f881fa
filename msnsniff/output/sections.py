"""The `read` view written to a stream: a titled table per section, the connections
table and the capture summary (`read` prints it as it goes, `live` when it stops)."""

from __future__ import annotations

from .emit import emit, safe_text


def write_section(out, table_format, title, columns, rows):
    if columns is None:
        out.write(f"\n=== {safe_text(title)}\n")     # titles name passports: escaped
        return
    out.write(f"\n-- {safe_text(title)}\n")
    if rows:
        emit(rows, columns, "table", out, tablefmt=table_format,
             headers=[c.removesuffix("_s") for c in columns])
    else:
        out.write("(none)\n")


def write_tail(out, conns, doc, account, shown, table_format):
    from .readview import CONNECTION_COLUMNS, summary_rows
    if account and not shown:
        out.write(f"\nno session of {account} in the capture\n")
    if conns:
        out.write("\n=== Connections\n")
        if isinstance(conns, list):
            emit(sorted(conns, key=lambda c: c["id"]), CONNECTION_COLUMNS, "table", out,
                 tablefmt=table_format)
        else:                       # a streamed read's ConnectionSpool
            conns.write(out, table_format)
    out.write("\n=== Capture summary\n")
    if account and "shown" not in doc["summary"]:       # a streamed read of one account
        doc = {**doc, "summary": dict(doc["summary"], shown={
            "sessions": len(conns) if conns else 0, "of": doc["summary"].get("sessions")})}
    emit(summary_rows(doc), ["field", "value"], "table", out, tablefmt=table_format)


def write_report(doc, out, account=None, table_format="simple", brief=False):
    """The `read` tables for a whole document (`live` prints it when it stops)."""
    from .readview import read_sections

    shown = 0
    for title, columns, rows in read_sections(doc, account, brief):
        shown += columns is None
        write_section(out, table_format, title, columns, rows)
    conns = [s for s in doc["sessions"]
             if not account or (s["passport"] or "").lower() == account.lower()]
    write_tail(out, conns, doc, account, shown, table_format)


def for_account(doc, account):
    """The document restricted to one account's sessions (all of it when None)."""
    if not account:
        return doc
    return for_sessions(doc, {s["id"] for s in doc["sessions"]
                              if (s["passport"] or "").lower() == account.lower()})


def for_connections(doc, connections):
    """The document restricted to these session ids (all of it when none given)."""
    return for_sessions(doc, set(connections)) if connections else doc


def for_sessions(doc, keep):
    out = dict(doc)
    for k, v in doc.items():
        if isinstance(v, list):
            out[k] = [r for r in v if r.get("session", r.get("id")) in keep]
    if "summary" in doc and "sessions" in doc:
        # the summary still counts the whole capture: it says what was shown of it
        out["summary"] = dict(doc["summary"], shown={"sessions": len(out["sessions"]),
                                                     "of": len(doc["sessions"])})
    return out
