"""`msnsniff anonymise`: a capture safe to share (same sessions, pseudonyms in place)."""

from __future__ import annotations

import json
import os
import sys

import click

from ..errors import MsnsniffError
from .common import CONTEXT, check_paths, check_ports


@click.command(context_settings=CONTEXT)
@click.argument("capture", metavar="CAPTURE", type=click.Path())
@click.option("-o", "--output", "output", required=True, metavar="OUT.pcap",
              help="The anonymised capture (same container as the input: pcap or pcapng).")
@click.option("--keep-map", "keep_map", metavar="FILE",
              help="Also write the mapping original -> pseudonym (JSON), for the capture's owner.")
@click.option("--addresses", is_flag=True,
              help="Map IP and Ethernet addresses too (packet headers and the protocol's text).")
@click.option("--keep-other", is_flag=True,
              help="Keep packets that are not MSN traffic (left out by default: DNS, web, "
                   "TLS to Passport may name people too).")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--port", "ports", type=int, multiple=True, callback=check_ports,
              help="Also treat this TCP port as MSN (repeatable), as for read.")
def anonymise(capture, output, keep_map, addresses, keep_other, force, ports):
    """Write a copy of CAPTURE in which passports, friendly names, personal messages,
    message text, file names, tickets, MSPAuth, cookies and MSNObject creators are
    replaced by consistent pseudonyms of the same byte length, file and picture bytes by
    same-size filler (SHA1D recomputed).  `msnsniff read OUT` shows the same sessions,
    lists, conversations, transfers and anomalies.

    \b
    Example:
      msnsniff anonymise capture.pcap -o shared.pcap --keep-map map.json --addresses
    """
    from ..engine.anonymise import anonymise as run

    path = check_paths([capture])[0]
    if path == "-":
        raise MsnsniffError("anonymise reads its capture twice: give a file, not standard input")
    for target in (output, keep_map):
        if target and os.path.exists(target):
            if os.path.samefile(target, path):
                raise MsnsniffError(f"{target}: is the input capture; anonymise never "
                                    "writes over it")
            if not force:
                raise MsnsniffError(f"{target}: exists (use --force to overwrite it)")
    if keep_map and output and os.path.abspath(keep_map) == os.path.abspath(output):
        raise MsnsniffError("--keep-map and -o name the same file")
    res = run(path, output, addresses=addresses, keep_other=keep_other, ports=ports)
    if keep_map:
        with open(keep_map, "w", encoding="utf-8") as f:
            json.dump(res.map, f, indent=1, ensure_ascii=False)
            f.write("\n")
    names = sum(len(v) for v in res.map.values())
    lines = [f"{output}: {res.written} of {res.packets} packets written "
             f"({res.connections} MSN connections; {names} values replaced)"]
    if res.left_out - res.damaged_headers:
        lines.append(f"left out: {res.left_out - res.damaged_headers} packets that are not MSN traffic"
                     + ("" if keep_other else " (--keep-other keeps them)"))
    for c in res.per_connection:
        # damage is said per connection: what could not be read was overwritten, not kept
        what = [f"{c['undecodable']} undecodable bytes written back as pseudonym text"
                if c["undecodable"] else "",
                f"{c['overwritten']} bytes no pass could place overwritten (gaps, bytes "
                "before a mid-session start)" if c["overwritten"] else "",
                f"{c['damaged_p2p']} P2P messages whose framing did not read: their data "
                "overwritten" if c["damaged_p2p"] else ""]
        what = [w for w in what if w]
        if what:
            lines.append(f"connection {c['connection']} ({c['kind']}, {c['endpoints']}): "
                         + "; ".join(what))
    if res.damaged_headers:
        lines.append(f"left out: {res.damaged_headers} packets of MSN connections whose IP "
                     "lengths cannot hold their TCP header (damage the reader skips too)")
    if res.truncated:
        lines.append(f"truncated: {res.truncated}")
    for line in lines:
        click.echo(line, err=True)
    sys.exit(0)
