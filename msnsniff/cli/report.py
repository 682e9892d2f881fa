"""`msnsniff report CAPTURE... -o FILE.html`: one self-contained page to look at."""

from __future__ import annotations

import click

from .common import (
    CONTEXT,
    analyse_captures,
    capture_args,
    complete_file,
    connection_option,
    filter_options,
    redact_options,
    redacted,
    time_arg,
)


@click.command(context_settings=CONTEXT)
@click.option("-o", "--output", required=True, metavar="FILE.html", shell_complete=complete_file,
              help="The page to write.")
@filter_options
@connection_option
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@redact_options
@capture_args
def report(captures, ports, no_progress, jobs, output, account, with_, since, until,
           connections, force,
           redact, redact_qry):
    """One HTML page that opens offline in any browser: captures, accounts (with the
    corrected ClientPort), a timeline, contacts, conversations, transfers, challenges,
    errors and anomalies.  Nothing from the network becomes markup.

    \b
    Example:
      msnsniff report capture.pcap -o report.html
    """
    from ..output.export import _check_target, atomic_path
    from ..output.html import render
    from ..output.sections import for_account, for_connections
    from ..version import __version__

    _check_target(output, force)
    doc = redacted(analyse_captures(captures, ports, no_progress, jobs), redact, redact_qry)
    doc = for_connections(for_account(doc, account), connections)
    since, until = time_arg(since, "--since"), time_arg(until, "--until")
    if with_ or since or until:
        doc = _narrow(doc, with_, since, until)
    with atomic_path(output) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            render(doc, f, __version__)
    click.echo(f"wrote {output}", err=True)


def _narrow(doc, with_, since, until):
    """Rows in the time window; conversations and sessions that involve ``with_``."""
    out = dict(doc)
    for t, rows in doc.items():
        if not isinstance(rows, list) or t == "sessions":
            continue
        out[t] = [r for r in rows if not r.get("time") or
                  ((not since or r["time"] >= since) and (not until or r["time"] <= until))]
    if with_:
        w = with_.lower()
        keep = {s["id"] for s in doc["sessions"]
                if w in [p.lower() for p in (s.get("participants") or [])]
                or (s["passport"] or "").lower() == w}
        out["messages"] = [m for m in out["messages"] if m["session"] in keep]
        out["participants"] = [m for m in out["participants"] if m["session"] in keep]
    return out
