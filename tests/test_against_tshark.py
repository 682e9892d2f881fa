"""Our reassembly against an independent one: tshark's `follow,tcp,raw` on every TCP
connection of every sample capture must give the very same byte streams."""

import shutil
import subprocess

import pytest
from conftest import cap

from msnsniff.capture.files import read_segments
from msnsniff.capture.packet import ACK, SYN
from msnsniff.stream.reassembly import Closed, Data, Gap, Reassembler

CAPS = ["msnp8_session.pcap", "reordered.pcap", "vlan.pcap", "compat_failures.pcap",
        "cooked_any.pcap", "ipv6.pcapng", "cooked2_any.pcap"]

pytestmark = pytest.mark.skipif(not shutil.which("tshark"), reason="tshark not installed")


def tshark_streams(path):
    """{(client ep, server ep): (c2s bytes, s2c bytes)} per tshark's follow."""
    n = max(int(x) for x in subprocess.run(["tshark", "-r", path, "-T", "fields", "-e", "tcp.stream"],
                           capture_output=True, text=True, check=True).stdout.split()) + 1
    args = ["tshark", "-r", path, "-q"]
    for i in range(n):
        args += ["-z", f"follow,tcp,raw,{i}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    streams = {}
    for block in out.split("=" * 67)[1:]:
        lines = block.strip("\n").split("\n")
        if not lines or not lines[0].startswith("Follow"):
            continue
        nodes = [ln.split(": ", 1)[1] for ln in lines if ln.startswith("Node ")]
        a, b = bytearray(), bytearray()
        for ln in lines:
            if ln.startswith("\t"):
                b += bytes.fromhex(ln.strip())
            elif ln and all(c in "0123456789abcdef" for c in ln):
                a += bytes.fromhex(ln)
        streams[tuple(nodes)] = (bytes(a), bytes(b))
    return streams


def ep(ip, port):
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def our_streams(path):
    r = Reassembler()
    events, out = [], {}
    for s in read_segments(path):
        conn = r.lookup(s)
        if conn is None:
            if not s.flags & SYN:
                continue
            conn = r.open(s, not s.flags & ACK, events)
        r.feed(conn, s, events)
    r.flush(events)
    totals = {}
    for e in events:
        if isinstance(e, Closed):
            totals[(ep(*e.conn.client), ep(*e.conn.server))] = e.delivered
        if isinstance(e, Gap):
            raise AssertionError(f"unexpected gap in {path}")
        if isinstance(e, Data):
            key = (ep(*e.conn.client), ep(*e.conn.server))
            c2s, s2c = out.setdefault(key, (bytearray(), bytearray()))
            (c2s if e.dir == 0 else s2c).extend(e.data)
    streams = {k: (bytes(a), bytes(b)) for k, (a, b) in out.items()}
    # the totals a connection's Closed event reports are the bytes it delivered
    assert {k: v for k, v in totals.items() if k in streams} == {
        k: (len(a), len(b)) for k, (a, b) in streams.items()}
    return streams


@pytest.mark.parametrize("name", CAPS)
def test_same_bytes_as_tshark(name):
    theirs = tshark_streams(cap(name))
    ours = our_streams(cap(name))
    # tshark names Node 0 the side that sent the first packet, which is the client here
    theirs = {k: v for k, v in theirs.items() if v[0] or v[1]}
    assert set(ours) == set(theirs)
    for k in ours:
        assert ours[k] == theirs[k], k
    # (so the Closed totals, checked against these streams in our_streams, are tshark's)
