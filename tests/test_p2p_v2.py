"""P2P as WLM 2009 (MSNP18, P2P v2) and MSN 7.5 (MSNP12, P2P v1) send it: split SLP by
sequence number, data placed by bytes-remaining, the data-preparation message, kinds by
MSNObject Type, MPOP endpoints, and files over direct connections (v1 and v2 handshakes).
captures/p2p_wlm.pcap.gz and p2p_msnp12.pcap.gz: real sockets, tcpdump; the expected values
come from the scenarios' constants (tests/p2p_expected.py), not from decoder output."""

import hashlib
import os
import subprocess
import sys

import pytest
from conftest import cap
from p2p_expected import EXPECTED

from msnsniff.protocol import p2pdc
from msnsniff.protocol.p2p import P2PError, parse_v2

COLS = ("kind", "sender", "receiver", "size", "received", "status", "transport",
        "closed_by", "sender_endpoint", "receiver_endpoint")


@pytest.mark.parametrize("name", ["p2p_wlm.pcap.gz", "p2p_msnp12.pcap.gz"])
def test_every_call_with_kind_endpoints_status_transport(doc, name):
    d = doc(name)
    exp = EXPECTED[name]
    got = {t["invitation_cookie"]: t for t in d["transfers"] if t["invitation_cookie"]}
    assert len(got) == len(exp["transfers"])       # one row per call, MPOP copies folded
    for e in exp["transfers"]:
        t = got[e["call_id"]]
        assert tuple(t[c] for c in COLS) == tuple(e[c] for c in COLS), e["call_id"]
        assert t["p2p_version"] == exp["p2p_version"]
        assert t["p2p_session_id"] == e["session_id"]
        if e["kind"] != "display-picture":
            assert t["name"] == e["name"]
        if e["status"] == "complete":
            assert t["sha256"] == e["sha256"]
            assert t["missing_ranges"] == []
        if e.get("sha1d") and e["msnobj_type"]:
            assert (t["sha1d"], t["sha1d_ok"]) == (e["sha1d"], e["status"] == "complete")
        if e["status"] == "cancelled" and e.get("received_sha256"):
            assert t["sha256"] == e["received_sha256"]
            assert t["cancelled_by"] == e["closed_by"]
    assert not d["anomalies"]


@pytest.mark.parametrize("name", ["p2p_wlm.pcap.gz", "p2p_msnp12.pcap.gz"])
def test_direct_connection_is_followed_and_its_nonce_checked(doc, name):
    d = doc(name)
    dc = EXPECTED[name]["direct"]
    sess = [s for s in d["sessions"] if s["kind"] == "p2p-direct"]
    assert [s["server"] for s in sess] == [dc["listener"]]
    assert sess[0]["client"].split(":")[0] == dc["connector_ip"]
    t = [t for t in d["transfers"] if t["invitation_cookie"] == dc["call_id"]][0]
    assert (t["transport"], t["direct_connection"], t["direct_nonce_ok"]) == \
        ("direct", "listening", True)


def test_extract_writes_every_object_byte_exact(tmp_path):
    r = subprocess.run([sys.executable, "-m", "msnsniff", "files", cap("p2p_wlm.pcap.gz"),
                        "--extract", str(tmp_path), "--no-progress"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    written = {hashlib.sha256(open(os.path.join(tmp_path, f), "rb").read()).hexdigest()
               for f in os.listdir(tmp_path) if not f.startswith("SHA256SUMS")}
    for e in EXPECTED["p2p_wlm.pcap.gz"]["transfers"]:
        if e["status"] == "complete":
            assert e["sha256"] in written, e["name"]
    # each object under its kind and an extension its bytes call for (PNG, GIF, the
    # wink's cabinet, the voice clip's RIFF/WAVE), so that a viewer opens it
    assert sorted(os.listdir(tmp_path)) == [
        "Album photo.zip", "Concert Live.mp3.partial", "Rapport annuel 2009.pdf", "SHA256SUMS",
        "display-picture bob18@example.com.png", "emoticon _danse_.gif", "emoticon _fleur_.png",
        "voice-clip VC1B.wav", "wink Bisou.cab"]
    assert open(os.path.join(tmp_path, "wink Bisou.cab"), "rb").read(4) == b"MSCF"


def test_hashed_nonce_matches_msnpsharps_vector():
    assert p2pdc.hashed_nonce("{122d2937-5c86-4c7b-81f5-0e05017880c2}") == \
        "{2B95F56D-9CA0-9A64-82CE-ADC1F3C55845}"
    dc = EXPECTED["p2p_wlm.pcap.gz"]["direct"]
    assert p2pdc.same_guid(p2pdc.hashed_nonce(dc["nonce"]), dc["hashed_nonce"])


def test_v2_tlv_overrun_and_remaining_lies_are_errors_with_offsets():
    # header length 12 with a TLV claiming 9 bytes where 2 are left
    body = bytes([12, 0, 0, 0, 0, 0, 0, 1, 1, 9, 0, 0])
    with pytest.raises(P2PError, match="offset 8"):
        parse_v2(body)
    # data header whose bytes-remaining TLV is absurd
    dh = bytes([20, 7, 0, 1, 0, 0, 0, 5, 1, 8]) + (1 << 63).to_bytes(8, "big") + b"\0\0"
    body = bytes([8, 0, 0, len(dh) + 3, 0, 0, 0, 1]) + dh + b"abc"
    with pytest.raises(P2PError, match="bytes-remaining"):
        parse_v2(body)


@pytest.mark.parametrize("name", ["p2p_wlm.pcap.gz", "p2p_msnp12.pcap.gz"])
def test_announced_emoticons_fetched_or_listed_as_not_fetched(doc, name):
    d = doc(name)
    rows = {t["name"]: t for t in d["transfers"] if t["kind"] == "emoticon"}
    for e in EXPECTED[name]["emoticons"]:
        t = rows[e["shortcut"]]
        assert (t["sender"], t["sha1d"]) == (e["from"], e["sha1d"])
        assert t["status"] == ("complete" if e["fetched"] else "not fetched")
    assert len(rows) == len(EXPECTED[name]["emoticons"])


@pytest.mark.parametrize("name", ["p2p_wlm.pcap.gz", "p2p_msnp12.pcap.gz"])
def test_chunked_messages_are_joined_before_their_type_is_read(doc, name):
    d = doc(name)
    exp = EXPECTED[name]
    texts = [m["text"] for m in d["messages"] if m["kind"] == "text" and m["direction"] == "out"]
    for c in exp["chunked"]:
        if "text" in c:
            assert c["text"] in texts
    winks = [m for m in d["messages"] if m["kind"] == "wink" and m["direction"] == "out"]
    assert [(m["sender"], m["msnobj"]["friendly_text"], m["msnobj"]["sha1d"]) for m in winks] \
        == [(w["from"], w["friendly"], w["sha1d"]) for w in exp["winks"]]
    # no continuation shows as a message of its own (raw base64 or a half text)
    assert not [m for m in d["messages"] if m["content_type"] in (None, "")
                and m["kind"] == "other"]
    assert not [a for a in d["anomalies"] if a["kind"] == "chunked message"]


def test_chats_tell_what_happened_as_a_person_would():
    r = subprocess.run([sys.executable, "-m", "msnsniff", "chats", cap("p2p_wlm.pcap.gz"),
                        "--no-progress", "--wide"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for line in ["* alice18@example.com sent a wink: Bisou",
                 "* alice18@example.com sent a voice clip: VC1B.tmp",
                 "* bob18@example.com sent a nudge",
                 "* bob18@example.com cancelled (the receiver) after 2,400 of 4,800 bytes",
                 "* alice18@example.com uses custom emoticons: :fleur: :soleil:",
                 "* bob18@example.com declined"]:
        assert line in r.stdout
    assert "Chunk:" not in r.stdout and "Message-ID" not in r.stdout


def test_a_direct_connection_that_never_handshakes_is_reported_and_still_decoded(tmp_path):
    # "foo", then a v1 data frame straight away: no 0x100 nonce frame from either side
    import struct

    from conftest import conversation, write_pcap
    header = struct.pack("<IIQQIIIIQ", 7, 1, 0, 5, 5, 1, 0x20, 0, 0)
    frame = header + b"hello"
    pkts = conversation(client=("10.0.0.1", 40000), server=("10.0.0.2", 51337),
                        c2s=[b"\x04\x00\x00\x00foo\x00",
                             struct.pack("<I", len(frame)) + frame])
    path = write_pcap(tmp_path / "dc.pcap", pkts)
    from msnsniff.engine.analyze import analyse
    d = analyse([path])
    assert [s["kind"] for s in d["sessions"]] == ["p2p-direct"]
    a = [a for a in d["anomalies"] if a["kind"] == "p2p direct"]
    assert sorted((x["detail"], x["offset"]) for x in a) == [
        ("P2P data on a direct connection whose negotiation was not captured: not placed",
         None),
        ("the connecting side sent 1 P2P frame(s) without a nonce handshake, the first at "
         "offset 8 (decoded anyway; a real client drops them)", 8)]
    # found by its content alone: the file filter passes the preamble's first word


def test_an_emoticon_never_fetched_is_said_where_a_person_reads():
    """:soleil: is announced with :fleur: and never fetched: the transcript's
    announcement says so, and the timeline names no receiver it never had."""
    run = lambda *a: subprocess.run([sys.executable, "-m", "msnsniff", *a],  # noqa: E731
                                    capture_output=True, text=True, timeout=120).stdout
    chats = run("chats", cap("p2p_wlm.pcap.gz"))
    assert ("* alice18@example.com uses custom emoticons: :fleur: :soleil: "
            "(:soleil: announced, never fetched)") in chats
    assert "uses custom emoticons: :danse:\n" in chats     # fetched: nothing added
    # read's tables are streamed; its transcripts come after the capture's end, so they
    # say it too
    read = run("read", cap("p2p_wlm.pcap.gz"), "--no-progress")
    assert "uses custom emoticons: :fleur: :soleil: (:soleil: announced, never fetched)" in read
    assert read.count("never fetched") == 1
    tl = run("timeline", cap("p2p_wlm.pcap.gz"))
    assert "emoticon :soleil: alice18@example.com: 0 of 670 bytes, not fetched" in tl
