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


MSNP12 = [  # kind, name, size, received, status, transport, sender, closed_by, sha256
    ("display-picture", None, 1288, 1288, "complete", "switchboard", "bob@example.com",
     "alice@example.com", "c2c0f7e1d49add3f5e362471177ebc5c7db568ea66711d37ccb34ca0c7203636"),
    ("wink", "Bow", 2177, 2177, "complete", "switchboard", "bob@example.com", "alice@example.com",
     "591107eeaa14c658be359b742f3d1a4332b80367aef36caae8f229e57f09d8ea"),
    ("file", "dc notes.txt", 3100, 3100, "complete", "direct", "alice@example.com",
     "bob@example.com", "a9f72b2ccc10493120f8cff4dcdbbd8586ab0fd93971b98270f92fd50f57b41b"),
    ("emoticon", "(cake)", 512, 512, "complete", "switchboard", "alice@example.com",
     "bob@example.com", "ff5226165a7ab2f64593b2b87bee2ce1b4528cabe7947dcda3b18ca36cfcc136"),
    ("voice-clip", "{7B1C2D3E-4F50-4617-8829-3A4B5C6D7E8F}.wav", 2544, 2544, "complete",
     "switchboard", "alice@example.com", "bob@example.com",
     "ab1e91f9afb7b616b90c33ea56f2936af26776d6c197eb923bacdaeb069bfbec"),
    ("file", "holiday plan.doc", 3000, 0, "declined", "switchboard", "bob@example.com",
     "alice@example.com", None),
]
PC, LAPTOP = ALICE_GUID, "{3E7A9C15-2B4D-4F60-8A1B-9C2D3E4F5061}"
MSNP18 = [  # ..., sender endpoint, receiver endpoint
    ("voice-clip", "{5A6B7C8D-9E0F-4A1B-8C2D-3E4F5A6B7C8D}.wav", 2344, 2344, "complete",
     "switchboard", "alice@example.com", "bob@example.com",
     "0065e81c5dff28435b9e771a4de3ef0d35dea437bb2133eeab387da798bf8283", LAPTOP, BOB_GUID),
    ("file", "big photo.jpg", 4000, 2404, "cancelled", "switchboard", "bob@example.com",
     "alice@example.com", "c37d6de4b4c8207a6771a791fe4b5369fb2da202def657699530018c4f288ea1",
     BOB_GUID, PC),
    ("emoticon", ":star:", 670, 670, "complete", "switchboard", "bob@example.com",
     "alice@example.com", "707b4df7de343647d56673b331a4c75aa87b0c9457d159403d82107769070186",
     BOB_GUID, PC),
    ("wink", "Wave", 2100, 2100, "complete", "switchboard", "bob@example.com", "alice@example.com",
     "c1debec57fe4148a28a6ba3049c7c715405d3e5da813d97bea29708ea1829e4e", BOB_GUID, PC),
    ("file", "laptop log.txt", 3250, 3250, "complete", "direct", "alice@example.com",
     "bob@example.com", "fc0a4c915bb70b9c324241b5aa5d11d0c7050b91a9a639833eec08c2180cdd5f",
     LAPTOP, BOB_GUID),
]


def _rows(doc, extra=()):
    return [(t["kind"], t["name"], t["size"], t["received"], t["status"], t["transport"],
             t["sender"], t["closed_by"], t["sha256"], *(t[k] for k in extra))
            for t in doc["transfers"]]


def test_escargot_msnp12_p2p_v1_objects_and_a_direct_connection():
    d = analyse(cap("escargot_msnp12_p2p.pcap.gz"))
    assert d["summary"]["sessions_by_kind"] == {"notification": 2, "p2p-direct": 1,
                                                "switchboard": 2}
    assert _rows(d) == MSNP12
    assert {t["p2p_version"] for t in d["transfers"]} == {1} and d["anomalies"] == []
    # the direct connection: where the transrespbody said to connect, whose it is, which
    # conversation negotiated it
    inv = next(i for i in d["invitations"] if i["file_name"] == "dc notes.txt")
    assert (inv["ip_address_internal"], inv["port"], inv["commands"]) == (
        "127.0.0.1", 31863, ["INVITE", "200 OK", "INVITE (direct connection)", "200 OK", "BYE"])
    dc = next(s for s in d["sessions"] if s["kind"] == "p2p-direct")
    sb = next(s for s in d["sessions"] if s["kind"] == "switchboard" and s["id"] == inv["session"])
    assert (dc["server"], dc["passport"], dc["participants"], dc["linked_session"]) == (
        "127.0.0.1:31863", "alice@example.com", ["alice@example.com", "bob@example.com"], sb["id"])


def test_escargot_msnp18_mpop_two_endpoints_p2p_v2_and_a_direct_connection():
    d = analyse(cap("escargot_msnp18_mpop.pcap.gz"))
    ns = [(s["passport"], s["machine_guid"]) for s in d["sessions"] if s["kind"] == "notification"]
    assert sorted(ns) == sorted([("alice@example.com", PC), ("alice@example.com", LAPTOP),
                                 ("bob@example.com", BOB_GUID)])
    # every MSG reaches every other switchboard connection (both of alice's): one row per call
    assert _rows(d, ("sender_endpoint", "receiver_endpoint")) == MSNP18
    assert {t["p2p_version"] for t in d["transfers"]} == {2} and d["anomalies"] == []


def test_escargot_objects_extract_byte_exact_and_chats_keep_each_acceptance(tmp_path):
    import subprocess
    import sys
    out = tmp_path / "x"
    r = subprocess.run([sys.executable, "-m", "msnsniff", "files", cap("escargot_msnp12_p2p.pcap.gz"),
                        "--extract", str(out), "--no-progress"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in out.iterdir()
           if p.name != "SHA256SUMS"}
    assert got == {"dc notes.txt": "51662fb5ed8379ce62230c09149e7fca27a93204",
                   "display-picture bob@example.com.png": "ce5dd464b67dd35936bb13fc4220d7a13bf03f3b",
                   "emoticon (cake).png": "8671834db78ebf2d1b1ecc35f5bc04156765fc37",
                   # the clip's own name ends .wav already: not "….wav.wav"
                   "voice-clip {7B1C2D3E-4F50-4617-8829-3A4B5C6D7E8F}.wav":
                       "d64ca6876fd1b85af57ad07aa5175eb44e296996",
                   "wink Bow.cab": "fc5ace62485972345ab5e8dfae3b5a551c1d4d7f"}
    chats = subprocess.run([sys.executable, "-m", "msnsniff", "chats",
                            cap("escargot_msnp12_p2p.pcap.gz"), "--no-progress"],
                           capture_output=True, text=True).stdout
    # four requests (picture, emoticon, wink, clip), each accepted: the same line from
    # the same connection twice is two lines, not a copy
    accepted = [ln.split("  ")[-1].strip() for ln in chats.splitlines() if "accepted the request" in ln]
    # the file sent over the direct connection ends in the conversation that offered it
    assert ("* alice@example.com sent all of dc notes.txt: 3,100 bytes, sha256 "
            "a9f72b2ccc10493120f8cff4dcdbbd8586ab0fd93971b98270f92fd50f57b41b") in chats
    assert accepted == ["* bob@example.com accepted the request",
                        "* alice@example.com accepted the request",
                        "* bob@example.com accepted the request",
                        "* alice@example.com accepted the request"]


def test_escargot_mpop_one_machine_leaving_is_not_the_account_leaving():
    """alice's laptop leaves while her PC stays: the PC's connection says so, and no
    connection lists its own endpoint (Escargot's IRO names the joiner) as a participant."""
    import subprocess
    import sys
    d = analyse(cap("escargot_msnp18_mpop.pcap.gz"))
    laptop_sb = next(s for s in d["sessions"] if s["kind"] == "switchboard" and s["machine_guid"] == LAPTOP)
    own = [p for p in d["participants"] if p["session"] == laptop_sb["id"]
           and (p["endpoint"] or "").upper() == LAPTOP]
    assert own == []
    pc_sb = next(s for s in d["sessions"] if s["kind"] == "switchboard" and s["machine_guid"] == PC)
    assert [(p["command"], p["endpoint"], p["event"]) for p in d["participants"]
            if p["session"] == pc_sb["id"] and p["passport"] == "alice@example.com"] == [
        ("JOI", None, "joined (the server's echo of this connection's account)"),
        ("JOI", LAPTOP.lower(), "joined on another endpoint"),
        ("BYE", LAPTOP.lower(), "left on one endpoint (still here on another)")]
    chats = subprocess.run([sys.executable, "-m", "msnsniff", "chats", cap("escargot_msnp18_mpop.pcap.gz"),
                            "--no-progress"], capture_output=True, text=True).stdout
    events = [ln.split("  ")[-1].strip() for ln in chats.splitlines() if "* " in ln and (
        "joined" in ln or "left" in ln)]
    assert events == ["* alice@example.com joined", "* alice@example.com another endpoint joined",
                      "* alice@example.com left on one endpoint (still here on another)",
                      "* bob@example.com left"]
