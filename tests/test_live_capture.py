"""The capture script end to end: real sockets on loopback, captured by real tcpdump,
decoded.  Proves the committed samples can be made again and decode the same way
(ports and times differ from run to run, so the checks are relations, not constants)."""

import os
import shutil
import sys

import pytest
from conftest import CAPTURES, private_network

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("tcpdump"),
                                reason="needs root and tcpdump to capture on lo")


@private_network
def test_fresh_capture_decodes_like_the_sample(tmp_path):
    sys.path.insert(0, CAPTURES)
    try:
        import make_captures
    finally:
        sys.path.remove(CAPTURES)
    path = str(tmp_path / "fresh.pcap")
    make_captures.capture(path, make_captures.scenario_session)
    from msnsniff.engine.analyze import analyse
    d = analyse([path])
    ns = [s for s in d["sessions"] if s["kind"] == "notification"]
    assert [s["passport"] for s in ns] == ["alice@hotmail.com", "bob@hotmail.com",
                                           "carol@hotmail.com"]
    for s in ns:
        observed = int(s["client"].rsplit(":", 1)[1])
        assert s["profile"]["client_port"] == observed
        assert s["profile"]["port_byteswapped"] is ((observed >> 8) != (observed & 0xFF) or None)
    texts = [m["text"] for m in d["messages"] if m["kind"] == "text" and m["direction"] == "out"]
    assert texts == ["Hi Bob, are you there?", "Yes! Café at 5?", "こんにちは 👋 everyone"]
    assert [(t["name"], t["status"], t["received"]) for t in d["transfers"]] == [
        ("notes.txt", "complete", 3000), ("../secret plan.txt", "cancelled", 2045)]
    damage = [a for a in d["anomalies"] if a["kind"] != "gap"]
    assert not damage, damage
