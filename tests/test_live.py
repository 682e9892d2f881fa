"""`msnsniff live` on loopback for real: a subprocess captures while the real-socket
MSNP8 exchange of captures/make_captures.py runs (switchboard on port 1864, MSNFTP on
6891), then stops on --duration, --count or SIGINT."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import CAPTURES, private_network

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or sys.platform != "linux",
                                reason="live capture needs root on Linux")


def scenario():
    sys.path.insert(0, CAPTURES)
    try:
        import make_captures
    finally:
        sys.path.remove(CAPTURES)
    return make_captures


def start_live(*args):
    p = subprocess.Popen([sys.executable, "-m", "msnsniff", "live", "-i", "lo", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stderr.readline()                  # "capturing on lo …" once the socket is open
    assert line.startswith("capturing on lo"), line + p.stderr.read()
    return p


@pytest.mark.slow          # over 5 s: CI runs it (plain pytest); -m 'not slow' skips it
@private_network
def test_live_events_and_write_then_read_gives_the_same_analysis(tmp_path):
    pcap = tmp_path / "live.pcap"
    exp = tmp_path / "exp"
    p = start_live("--duration", "4", "--format", "jsonl", "--write", str(pcap),
                   "--export", str(exp), "--export-format", "json")
    scenario().scenario_session()
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    recs = [json.loads(ln) for ln in out.splitlines()]
    signins = [r for r in recs if r["event"] == "sign-in"]
    assert [r["account"] for r in signins] == ["alice@hotmail.com", "bob@hotmail.com",
                                               "carol@hotmail.com"]
    for prof in (r for r in recs if r["event"] == "profile"):
        sess = [r for r in signins if r["session"] == prof["session"]][0]
        port = int(sess["address"].rsplit(":", 1)[1])
        assert prof["client_port"] == port                                     # corrected
        # (a port with two equal bytes reads the same both ways: null, 1 in 256)
        assert prof["port_byteswapped"] is ((port >> 8) != (port & 0xFF) or None)
        assert prof["nat"] is False
    sync = [r for r in recs if r["event"] == "contact-list" and r.get("contacts") is not None]
    assert [(r["account"], r["contacts"], r["groups"]) for r in sync] == [
        ("alice@hotmail.com", 4, 3)]
    pres = [(r["passport"], r["status"]) for r in recs if r["event"] == "presence"]
    assert ("bob@hotmail.com", "BSY") in pres and ("carol@hotmail.com", "FLN") in pres
    chats = [(r["sender"], r["message"]) for r in recs if r["event"] == "message"]
    assert chats[0] == ("alice@hotmail.com", "Hi Bob, are you there?")
    assert ("carol@hotmail.com", "こんにちは 👋 everyone") in chats
    ends = [(r["how"], r["received"]) for r in recs if r["event"] == "transfer-end"]
    assert ends == [("BYE", 3000), ("CCL", 2045)]
    assert recs[-1]["event"] == "summary" and recs[-1]["sessions"] == 9

    # the packets written during the live run give the same analysis with `read`
    res = subprocess.run([sys.executable, "-m", "msnsniff", "read", str(pcap), "--format", "json"],
                         capture_output=True, text=True, check=True)
    from_file = json.loads(res.stdout)
    live_doc = json.loads(open(next(exp.glob("*.json")), encoding="utf-8").read())
    # (live hands each session on when it finishes: the dispatch row cannot name the
    # NS connection that opens after it; the NS row names the dispatch one)
    assert from_file["sessions"][0]["redirected_to_session"] == 2
    from_file["sessions"][0]["redirected_to_session"] = None
    assert live_doc["sessions"][1]["redirected_from_session"] == 1
    for t in ("sessions", "contacts", "groups", "presence", "messages", "participants",
              "invitations", "transfers", "challenges", "errors", "anomalies"):
        strip = lambda rows: [{k: v for k, v in r.items() if k != "capture"} for r in rows]
        assert strip(from_file[t]) == strip(live_doc[t]), t
    assert len(from_file["messages"]) > 20 and from_file["anomalies"] == []


@private_network
def test_count_stops_and_text_lines_are_readable(tmp_path):
    p = start_live("--count", "30", "--no-summary")
    scenario().scenario_compat_failures()
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    lines = out.splitlines()
    assert any("error     mallory@hotmail.com: 911 Authentication failed (answers USR 4)" in ln
               for ln in lines)
    # the date (and zone) once, then HH:MM:SS.ffffff  text
    import re
    assert re.fullmatch(r"-- \d{4}-\d\d-\d\d UTC", lines[0]), lines[0]
    assert all(re.match(r"\d\d:\d\d:\d\d\.\d{6}  ", ln) for ln in lines[1:])
    tokyo = start_live("--count", "30", "--no-summary", "--tz", "Asia/Tokyo")
    scenario().scenario_compat_failures()
    out, err = tokyo.communicate(timeout=30)
    assert re.fullmatch(r"-- \d{4}-\d\d-\d\d UTC\+0900", out.splitlines()[0]), out


@private_network
def test_sigint_stops_cleanly_with_the_summary():
    p = start_live()
    scenario().scenario_ipv6()
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert "sign-in   alice@hotmail.com “Alice”" in out
    assert "=== Capture summary" in out and "notification 1" in out
    assert "Traceback" not in err


def test_permission_error_without_cap_net_raw():
    """The capture process without CAP_NET_RAW (what an unprivileged user has): the
    capability is removed from its bounding set, so even uid 0 cannot open a packet
    socket.  (A real other uid cannot run this machine's Python at all: it lives under
    /root.)"""
    if not shutil.which("setpriv"):
        pytest.skip("setpriv not available")
    res = subprocess.run(["setpriv", "--bounding-set=-net_raw,-net_admin",
                          "--inh-caps=-net_raw,-net_admin", sys.executable, "-m", "msnsniff",
                          "live", "-i", "lo", "--duration", "1"], capture_output=True, text=True)
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("msnsniff: error: no permission to capture packets: run as root")
    assert "setcap cap_net_raw,cap_net_admin=eip" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args, message", [
    (["-i", "nosuch0"], "msnsniff: error: unknown interface 'nosuch0'; interfaces: "),
    (["--bpf", "tcp and port foo"], "msnsniff: error: bad BPF expression: unknown port 'foo'"),
])
def test_bad_interface_and_bpf(args, message):
    res = subprocess.run([sys.executable, "-m", "msnsniff", "live", *args, "--duration", "1"],
                         capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.startswith(message), res.stderr
    if "interface" in message:
        assert "lo" in res.stderr


def test_interfaces_command():
    res = subprocess.run([sys.executable, "-m", "msnsniff", "interfaces"], capture_output=True,
                         text=True, check=True)
    assert "  lo\n" in res.stdout and "any" in res.stdout


@private_network
def test_sigterm_and_stats_line():
    p = start_live("--stats", "0.3", "--format", "jsonl")
    scenario().scenario_ipv6()
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    stats = [ln for ln in err.splitlines() if ln.startswith("[stats]")]
    assert stats and "open connections" in stats[-1] and "peak RSS" in stats[-1]
    recs = [json.loads(ln) for ln in out.splitlines()]
    assert recs[-1]["event"] == "summary" and recs[-1]["sessions_by_kind"] == {"notification": 1}


def test_kernel_filter_compiled_by_libpcap_is_scapys_program():
    """live compiles its filter with libpcap through pcapy-ng; the program is the one
    Scapy's compiler (also libpcap) gives, but for the capture length it accepts."""
    pytest.importorskip("pcapy")
    from scapy.arch.common import compile_filter

    from msnsniff.capture.follow import Follow
    from msnsniff.capture.live import _compile_insns
    f = Follow(ports=(1864,))
    f.add_connection(("10.0.0.1", 40000), ("10.0.0.2", 80))
    expr = f.bpf()
    ours = _compile_insns(expr)
    bp = compile_filter(expr, linktype=12)
    theirs = [(i.code, i.jt, i.jf, i.k) for i in bp.bf_insns[:bp.bf_len]]
    accept = lambda p: [(c, jt, jf, 0 if c == 6 and k else k) for c, jt, jf, k in p]  # noqa: E731
    assert len(ours) == len(theirs) > 40 and accept(ours) == accept(theirs)
    assert (6, 0, 0, 262144) in ours                 # whole packets, GRO-sized ones too


@pytest.mark.slow          # over 5 s: CI runs it (plain pytest); -m 'not slow' skips it
@private_network
def test_scapy_backend_used_where_packet_sockets_are_missing(tmp_path):
    # macOS/BSD take this path (no AF_PACKET); on Linux it is forced by MSNSNIFF_LIVE
    pcap = tmp_path / "scapy.pcap"
    p = subprocess.Popen([sys.executable, "-m", "msnsniff", "live", "-i", "lo", "--duration",
                          "4", "--format", "jsonl", "--write", str(pcap)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, MSNSNIFF_LIVE="scapy"))
    line = p.stderr.readline()
    assert line.startswith("capturing on lo"), line + p.stderr.read()
    scenario().scenario_session()
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    recs = [json.loads(ln) for ln in out.splitlines()]
    assert [r["account"] for r in recs if r["event"] == "sign-in"] == [
        "alice@hotmail.com", "bob@hotmail.com", "carol@hotmail.com"]
    chats = [(r["sender"], r["message"]) for r in recs if r["event"] == "message"]
    assert chats[0] == ("alice@hotmail.com", "Hi Bob, are you there?")
    # the MSNFTP port announced in a chat was followed (the filter widened by reopening)
    ends = [(r["how"], r["received"]) for r in recs if r["event"] == "transfer-end"]
    assert ends == [("BYE", 3000), ("CCL", 2045)]
    assert recs[-1]["event"] == "summary" and recs[-1]["sessions"] == 9
    # no packet seen twice (Linux loopback hands a packet socket each frame twice)
    res = subprocess.run([sys.executable, "-m", "msnsniff", "read", str(pcap), "--format",
                          "json"], capture_output=True, text=True, check=True)
    doc = json.loads(res.stdout)
    assert [m["text"] for m in doc["messages"] if m["text"]][:1] == ["Hi Bob, are you there?"]
    assert doc["anomalies"] == [] and doc["summary"]["captures"][0]["notices"] == []


@pytest.mark.slow          # over 5 s: CI runs it (plain pytest); -m 'not slow' skips it
@private_network
def test_redact_masks_live_lines_the_summary_and_the_export(tmp_path):
    from test_export import SECRETS
    exp = tmp_path / "exp"
    p = start_live("--duration", "4", "--format", "jsonl", "--redact", "--redact-qry",
                   "--export", str(exp), "--export-format", "json")
    scenario().scenario_session()
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    exported = open(next(exp.glob("*.json")), encoding="utf-8").read()
    # the scenario is the one captures/msnp8_session.pcap was made from: same secrets
    for s in SECRETS + ["8f2f5a91b72102cd28355e9fc9000d6e"]:
        assert s not in out and s not in exported, s
    recs = [json.loads(ln) for ln in out.splitlines()]
    doc = json.loads(exported)
    assert doc["sessions"][1]["ticket"] == "[redacted]"
    assert recs[-1]["event"] == "summary" and recs[-1]["redacted"]["secrets_masked"] >= 5


@pytest.mark.slow          # over 5 s: CI runs it (plain pytest); -m 'not slow' skips it
@private_network
def test_live_follows_a_p2p_direct_connection_on_the_port_its_answer_names(tmp_path):
    # the default filter passes 1863 and MSNP first words; the direct connection runs on
    # the port bob's transrespbody announced (51337, Listening: true), which only the
    # widened filter lets through: its bytes complete the transfer
    exp = tmp_path / "exp"
    p = start_live("--duration", "5", "--format", "jsonl", "--export", str(exp),
                   "--export-format", "json")
    sys.path.insert(0, CAPTURES)
    try:
        import p2p_dc_scenarios
    finally:
        sys.path.remove(CAPTURES)
    p2p_dc_scenarios.scenario_msnp12()
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    doc = json.loads(open(next(exp.glob("*.json")), encoding="utf-8").read())
    name, data = p2p_dc_scenarios.FILE_DC
    t = [t for t in doc["transfers"] if t["name"] == name][0]
    import hashlib
    assert (t["status"], t["transport"], t["received"], t["sha256"]) == (
        "complete", "direct", len(data), hashlib.sha256(data).hexdigest())
    assert [s["kind"] for s in doc["sessions"]].count("p2p-direct") == 1


@pytest.mark.slow          # over 5 s: CI runs it (plain pytest); -m 'not slow' skips it
@private_network
def test_account_and_with_keep_the_lines_a_person_asks_for():
    p = start_live("--duration", "6", "--format", "jsonl", "--with", "carol@hotmail.com")
    scenario().scenario_session()
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    recs = [json.loads(ln) for ln in out.splitlines()]
    lines = [r for r in recs if r["event"] != "summary"]

    def names(r):
        return {r.get(k) for k in ("sender", "passport", "account", "inviter", "contact")} | set(
            r.get("recipients") or ())
    assert lines and all("carol@hotmail.com" in names(r) for r in lines)
    # carol's message is kept; what alice and bob said before she joined is not
    texts = [r["text"] for r in lines if r["event"] == "message"]
    assert any("こんにちは" in t for t in texts) and not any("Hi Bob" in t for t in texts)
    shown, made = map(int, err.split("shown: ")[1].split(" lines")[0].split(" of "))
    assert 0 < shown == len(lines) < made
    # the summary is still the whole capture's: three accounts signed in
    assert sorted(recs[-1]["accounts"]) == ["alice@hotmail.com", "bob@hotmail.com",
                                            "carol@hotmail.com"]
    p = start_live("--duration", "6", "--format", "jsonl", "--account", "bob@hotmail.com")
    scenario().scenario_session()
    out, err = p.communicate(timeout=30)
    recs = [json.loads(ln) for ln in out.splitlines() if '"summary"' not in ln]
    assert [r["account"] for r in recs if r["event"] == "sign-in"] == ["bob@hotmail.com"]
    assert {r["session"] for r in recs} and "alice@hotmail.com" not in {
        r.get("account") for r in recs if r["event"] in ("sign-in", "profile", "contact-list")}
