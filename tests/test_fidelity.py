"""Every fact the bytes hold (the fidelity issue): each finding of the real captures and
of a third-party server, on captures/fidelity.pcap (our sockets, tcpdump) and the
captures cut from it and from msnp8_session.pcap with Scapy (captures/README.md)."""

import json
import shutil
import subprocess

import pytest
from conftest import by, cap, msnsniff, one

FID = "fidelity.pcap"


run = msnsniff


def session_of(d, passport, kind="notification"):
    return one(d["sessions"], passport=passport, kind=kind)["id"]


def test_chg_keeps_what_the_server_confirmed(doc):
    d = doc(FID)
    wm = session_of(d, "wm47@hotmail.com")
    chg = one(d["presence"], session=wm, command="CHG")       # one row, not two
    assert (chg["status"], chg["client_id"]) == ("NLN", 32)
    assert (chg["confirmed_status"], chg["confirmed_client_id"]) == ("NLN", 4128)
    assert chg["capabilities_added"] == ["MSN Space"]          # 0x1000, added by the server
    mp = one(d["presence"], session=session_of(d, "mpop@example.com"), command="CHG")
    assert (mp["confirmed_client_id"], mp["confirmed_capabilities_ex"]) == (2789003324, 48)
    assert mp["capabilities_added"] == []
    out = run("read", cap(FID)).stdout
    assert "confirmed_status" in out and "4128" in out


def test_nat_from_the_address_whatever_the_port(doc):
    p = one(doc(FID)["sessions"], passport="wm47@hotmail.com")["profile"]
    assert (p["client_ip_reported"], p["client_port_reported"]) == ("203.0.113.47", 0)
    assert p["observed_client"].startswith("127.0.0.60:") and p["nat"] is True


def test_a_name_that_is_not_utf8_keeps_its_bytes(doc):
    c = one(doc(FID)["contacts"], passport="raw@hotmail.com")
    assert c["friendly_name"] == "\x19\\xdb"             # the 0xDB escaped, not U+FFFD
    assert bytes.fromhex(c["friendly_name_raw"]) == b"\x19\xdb"
    assert one(doc(FID)["contacts"], passport="pal@hotmail.com")["friendly_name_raw"] is None
    table = run("read", cap(FID)).stdout
    assert "raw@hotmail.com  \\x19\\xdb" in table


def test_cr_and_lf_are_escaped_one_way_in_tables():
    from msnsniff.output.emit import safe_text
    assert safe_text("a\r\nb\x1b") == "a\\r\\nb\\x1b"
    # mallory's switchboard message in hostile.pcap ends its lines with CRLF
    out = run("chats", cap("hostile.pcap")).stdout
    assert "\\r\\n" in out and "\\x0d" not in out


def test_not_says_what_it_is_about(doc):
    n = one(doc(FID)["notifications"], command="NOT")
    assert n["what"] == "address-book change"
    assert n["fields"]["service"] == "ABCHInternal"
    assert n["fields"]["cid"] == "-2118238208812345678"


def test_owner_and_account_from_every_cue(doc):
    d = doc("fidelity_sb_only.pcap")                   # a switchboard, nothing else
    assert d["summary"]["accounts"] == ["sbonly@example.com"]
    one_packet = doc("fidelity_typing.pcap")            # one outgoing typing notice
    s = one(one_packet["sessions"])
    assert (s["kind"], s["passport"]) == ("switchboard", "sbonly@example.com")
    assert one(one_packet["messages"])["sender"] == "sbonly@example.com"
    out = run("read", cap("fidelity_typing.pcap")).stdout
    assert "switchboard  sbonly@example.com" in out


def test_switchboard_dialect_from_its_commands(doc):
    for name in (FID, "fidelity_sb_only.pcap"):
        s = one(doc(name)["sessions"], kind="switchboard")
        # JOI pal@example.com Pal 1342242856: a client id on JOI is MSNP12 or later
        assert (s["protocol"], s["protocol_source"]) == ("MSNP12", "inferred")


@pytest.mark.skipif(not shutil.which("tshark"), reason="tshark not installed")
def test_times_last_packet_and_order_of_one_instant(doc):
    d = doc(FID)
    times = subprocess.run(["tshark", "-r", cap(FID), "-T", "fields", "-e", "frame.time_epoch"],
                           capture_output=True, text=True, check=True).stdout.split()
    from msnsniff.model.timefmt import iso
    last = iso(max(float(t) for t in times))
    assert d["summary"]["last"] == last == d["summary"]["captures"][0]["last"]
    # JOI and pal's first message came in one segment: joined, then the message
    out = run("read", cap(FID)).stdout
    joined = out.index("* pal@example.com joined")
    assert joined < out.index("On se voit à midi ?")
    tl = json.loads(run("timeline", cap(FID), "--format", "json").stdout)
    descs = [e["description"] for e in tl if e["session"] == 4]
    j = next(i for i, x in enumerate(descs) if "joined" in x)
    m = next(i for i, x in enumerate(descs) if "On se voit" in x)
    assert j < m


def test_bad_checksums_are_decoded_and_said(doc):
    d, ref = doc("bad_checksums.pcap"), doc("msnp8_session.pcap")
    c = d["summary"]["captures"][0]
    assert c["bad_checksums"] == 64
    if shutil.which("tshark"):
        status = subprocess.run(["tshark", "-r", cap("bad_checksums.pcap"), "-o",
                                 "tcp.check_checksum:TRUE", "-T", "fields", "-e",
                                 "tcp.checksum.status"], capture_output=True, text=True,
                                check=True).stdout.split()
        assert status.count("0") == 64 and status.count("1") == 181
    # every fact of the session holds: the checksums change nothing that is decoded
    for t in ("messages", "contacts", "presence", "transfers", "list_changes"):
        strip = lambda rows: [{k: v for k, v in r.items() if k != "capture"} for r in rows]  # noqa: E731
        assert strip(d[t]) == strip(ref[t]), t
    out = run("read", cap("bad_checksums.pcap")).stdout
    assert ("64 segments with bad TCP checksums, decoded anyway (checksum offload on the "
            "capturing host?)") in out


def test_yahoo_and_offline_messages_are_messages(doc):
    d = doc(FID)
    yuki = session_of(d, "yuki@example.com")
    out_ = one(d["messages"], session=yuki, direction="out")
    assert (out_["sender"], out_["recipients"], out_["network"], out_["text"],
            out_["offline"]) == ("yuki@example.com", ["yahoo1@yahoo.com"], 32,
                                 "Hello from MSN to Yahoo", False)
    in_ = one(d["messages"], session=yuki, direction="in")
    assert (in_["sender"], in_["recipients"], in_["network"], in_["text"]) == (
        "yahoo1@yahoo.com", ["yuki@example.com"], 32, "Hi back from Yahoo!")
    oim = one(d["messages"], session=session_of(d, "mpop@example.com"))
    assert (oim["recipients"], oim["network"], oim["offline"], oim["text"]) == (
        ["bob@example.com"], 1, True, "Tu es là ?")


def test_no_false_damage(doc):
    d = doc(FID)
    kinds = sorted((a["kind"], a["session"]) for a in d["anomalies"])
    # the raw LST line really is not UTF-8, ZAP really is no command, and the gateway's
    # 400 is said once, its HTML page not taken for MSNP
    assert [k for k, _ in kinds] == ["http", "invalid UTF-8", "unknown command"]
    http = one(d["anomalies"], kind="http")
    assert http["detail"].endswith("its 159-byte body is not MSNP (not decoded)")
    mp = session_of(d, "mpop@example.com")
    pms = by(d["personal_messages"], session=mp)
    assert [p["personal_message"] for p in pms] == ["Au travail", None, None]
    assert one(d["sessions"], id=mp)["personal_message"] == "Au travail"  # not wiped
    assert pms[1]["endpoints"][0]["capabilities"] == "2789003324:48"
    assert pms[2]["endpoints"][0]["name"] == "HOME-PC"
    dave = one(d["contacts"], passport="dave@example.com")
    assert dave["phones"] == {"PHH": "", "MOB": "N"}


def test_refused_edits_change_nothing(doc):
    d = doc(FID)
    yuki = session_of(d, "yuki@example.com")
    ch = {c["passport"]: c for c in by(d["list_changes"], session=yuki)}
    assert ch["nobody@example.com"]["refused"] == "208 Invalid username"
    assert ch["carol@example.com"]["refused"] == "241 Invalid list payload (ADL/RML)"
    assert ch["dave@example.com"]["refused"] is None
    contacts = {c["passport"]: c["lists"] for c in by(d["contacts"], session=yuki)}
    assert contacts == {"bob@example.com": ["FL", "AL"], "yahoo1@yahoo.com": ["FL", "AL"],
                        "dave@example.com": ["FL"]}


def test_one_fact_one_place_commands_follow_and_unknown_commands(doc):
    rows = [json.loads(x) for x in run("commands", cap(FID), "--verb", "ILN", "--format",
                                       "jsonl").stdout.splitlines()]
    names = [r["params"] for r in rows if r["connection"] == 2]
    # MSNP14: the network field comes before the name, which is shown decoded
    assert names == [["NLN", "bob@example.com", "1", "Bob Ñandú", "2789003324", "0"],
                     ["AWY", "yahoo1@yahoo.com", "32", "Yahoo One", "0", "0"]]
    out = run("follow", cap(FID), "3").stdout
    assert "│ <EndpointData><Capabilities>2789003324:48</Capabilities></EndpointData>" in out
    zap = one(doc(FID)["anomalies"], kind="unknown command")
    assert (zap["session"], zap["direction"], zap["detail"]) == (4, "c2s", "ZAP 5 probe")
