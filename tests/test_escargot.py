"""Captures of the real Escargot server (unmodified source, run on 127.0.0.1; the clients
are captures/escargot/*.py, HOWTO.md says how): what a third-party server writes, decoded.
The facts asserted are in the traffic (captures/escargot/HOWTO.md lists them)."""

import hashlib

import pytest
from conftest import cap

from msnsniff.engine.api import analyse

ALICE_GUID = "{8C2B5D47-1E3F-4A6B-9C0D-2E4F6A8B0C1D}"
BOB_GUID = "{F52973B6-C926-4BAD-9BA8-7C1E840E4AB0}"


@pytest.fixture(scope="module")
def msnp8():
    return analyse(cap("escargot_msnp8.pcap"))


@pytest.fixture(scope="module")
def msnp18():
    return analyse(cap("escargot_msnp18_p2p.pcap.gz"))


def _texts(doc):
    """Each message once (a switchboard's copy of another's names it)."""
    return [(m["sender"], m["text"], m["font"], m["color"])
            for m in sorted(doc["messages"], key=lambda m: m["time"])
            if m["content_type"] == "text/plain" and m["copy_of_session"] is None]


def test_escargot_msnp8_login_lists_and_chat(msnp8):
    ns = [s for s in msnp8["sessions"] if s["kind"] == "notification"]
    assert [(s["passport"], s["protocol"], s["friendly_name_at_login"], s["friendly_name"])
            for s in ns] == [("alice@example.com", "MSNP8", "alice@example.com", "Alice Liddell"),
                             ("bob@example.com", "MSNP8", "bob@example.com", "Bob the Builder")]
    # Escargot's own answers: the CVR echo and its fixed TWN policy
    assert ns[0]["server_versions"] == {"recommended": "5.0.0544", "minimum": "5.0.0544",
                                        "download_url": "https://escargot.log1p.xyz",
                                        "info_url": "https://escargot.log1p.xyz"}
    assert ns[0]["policy"] == "ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1"
    # a revival server reports ClientPort as it is (MSN's servers byte-swapped it)
    prof = ns[0]["profile"]
    assert prof["port_byteswapped"] is False and prof["nat"] is False
    assert prof["client_port"] == int(ns[0]["client"].rsplit(":", 1)[1])
    assert sorted((c["owner"], c["passport"], tuple(c["lists"])) for c in msnp8["contacts"]) == [
        ("alice@example.com", "bob@example.com", ("FL", "AL", "RL")),
        ("bob@example.com", "alice@example.com", ("FL", "AL", "RL"))]
    assert _texts(msnp8) == [
        ("alice@example.com", "Hello Bob, this is Alice on Escargot!", "MS Sans Serif", "#000000"),
        ("bob@example.com", "Hi Alice! Bob here. ça va? ☺", "Arial", "#ff0000"),
        ("alice@example.com", "Fine, thanks. Bye for now.", "Comic Sans MS", "#008000")]
    # switchboards take the dialect their notification session negotiated
    sbs = [s for s in msnp8["sessions"] if s["kind"] == "switchboard"]
    assert [(s["passport"], s["protocol"], s["protocol_source"], s["linked_session"])
            for s in sbs] == [("alice@example.com", "MSNP8", "notification session", 1),
                              ("bob@example.com", "MSNP8", "notification session", 2)]
    assert msnp8["anomalies"] == []


def test_escargot_msnp18_mpop_login_and_personal_messages(msnp18):
    ns = [s for s in msnp18["sessions"] if s["kind"] == "notification"]
    assert [(s["passport"], s["protocol"], s["machine_guid"], s["personal_message"],
             s["friendly_name"], s["policy"]) for s in ns] == [
        ("alice@example.com", "MSNP18", ALICE_GUID, "Testing Escargot with WLM 2009 framing",
         "Alice Liddell", "MBI_KEY_OLD"),
        ("bob@example.com", "MSNP18", BOB_GUID, "Building things", "Bob the Builder", "MBI_KEY_OLD")]
    assert ns[0]["server_versions"]["recommended"] == "14.0.8117.0416"
    sbs = [s for s in msnp18["sessions"] if s["kind"] == "switchboard"]
    # without the link these read "MSNP16 or later" (inferred from the ;{guid} endpoints)
    assert [(s["protocol"], s["protocol_source"], s["machine_guid"]) for s in sbs] == [
        ("MSNP18", "notification session", ALICE_GUID), ("MSNP18", "notification session", BOB_GUID)]
    assert _texts(msnp18) == [
        ("alice@example.com", "Hi Bob! Can I see your new picture?", "Segoe UI", "#000000"),
        ("bob@example.com", "Sure, and send me those notes.", "Calibri", "#000080"),
        ("alice@example.com", "Got it, thanks!", "Segoe UI", "#000000")]
    assert msnp18["anomalies"] == []


def test_escargot_relays_p2p_v2_picture_and_file(msnp18, tmp_path):
    t = {x["kind"]: x for x in msnp18["transfers"]}
    assert sorted(t) == ["display-picture", "file"]
    pic, f = t["display-picture"], t["file"]
    assert (pic["size"], pic["received"], pic["status"], pic["sha1d_ok"], pic["p2p_version"],
            pic["sender"], pic["sender_endpoint"], pic["receiver_endpoint"], pic["closed_by"]) == (
        3172, 3172, "complete", True, 2, "bob@example.com", BOB_GUID, ALICE_GUID, "alice@example.com")
    assert pic["sha256"] == "0ce66acda8546b4a17e313148d57453f2d81050de69f232209471c7a041b7d5d"
    # the file INVITE came in two chunks; the BYE from the receiver closes a completed call
    assert (f["name"], f["size"], f["received"], f["status"], f["sender"], f["closed_by"]) == (
        "escargot notes.txt", 2600, 2600, "complete", "alice@example.com", "bob@example.com")
    assert f["sha256"] == "c8c38086046bf1c7baa0d13bc080c03c17cf083a3cc94860a66da549d0ddb059"
    assert hashlib.sha1(bytes(f["_data"])).hexdigest() == "bb954d65d03ba55f5de4156bb05fe8a2371aef66"
    assert hashlib.sha1(bytes(pic["_data"])).hexdigest() == "49ba5b17f24bb5c0e5831e2271f4c71500a0db15"
