"""The command line end to end (CliRunner and real subprocesses), exact values."""

import json
import os
import subprocess
import sys

import pytest
from conftest import cap, invoke, msnsniff, read_pty

from msnsniff import __version__
from msnsniff.core import name as core_name

MAIN = cap("msnp8_session.pcap")


run = invoke


def test_version_and_help():
    r = run("--version")
    assert r.exit_code == 0 and r.output.strip() == f"msnsniff, version {__version__} (core: {core_name()})"
    for sub in ([], ["read"], ["commands"], ["chats"], ["files"]):
        r = run(*sub, "-h")
        assert r.exit_code == 0 and "Usage: " in r.output and "-h, --help" in r.output


def test_commands_json_keys_and_values():
    r = run("commands", MAIN, "--format", "json", "--verb", "CHL", "--verb", "qry")
    assert r.exit_code == 0
    rows = json.loads(r.stdout)
    assert [(x["verb"], x["direction"], x["trid"], x["params"], x["payload_length"]) for x in rows] == [
        ("CHL", "s2c", 0, ["15570131571988941333"], None),
        ("QRY", "c2s", 10, ["msmsgs@msnmsgr.com", "32"], 32),
        ("QRY", "s2c", 10, [], None)]
    for x in rows:
        assert {"time", "connection", "client", "server", "direction", "verb", "trid", "params",
                "payload_length"} <= set(x)
        assert x["time"].endswith("Z") and x["server"] == "127.0.0.2:1863"
    assert "connections: 9" in r.stderr and "commands: " in r.stderr


def test_commands_url_decodes_text_arguments_and_summarises_msg():
    r = run("commands", MAIN, "--format", "jsonl", "--connection", "5")
    rows = [json.loads(ln) for ln in r.stdout.splitlines()]
    joi = [x for x in rows if x["verb"] == "JOI"]
    assert joi[1]["params"] == ["carol@hotmail.com", "Carol ♥"]
    msgs = [x["summary"] for x in rows if x["verb"] == "MSG"]
    assert msgs[:3] == ["text/x-msmsgscontrol", "text/plain: Hi Bob, are you there?",
                        "text/plain: Yes! Café at 5?"]
    assert {x["connection"] for x in rows} == {5}


def test_commands_table_has_summary_and_damage_rows():
    r = run("commands", cap("mid_session.pcap"))
    assert r.exit_code == 0
    assert "<undecodable>" in r.output and "not an MSNP command line" in r.output
    assert "\nconnections: 8\n" in r.output


def test_commands_csv_streams_with_header():
    r = run("commands", MAIN, "--format", "csv", "--verb", "LSG")
    lines = r.stdout.splitlines()
    assert lines[0] == "time,connection,client,server,direction,verb,trid,params,payload_length,summary"
    import csv
    # list cells hold "; ": quoted, so a semicolon-locale spreadsheet keeps them whole
    assert [row[7] for row in csv.reader(lines[1:])] == ["0; Other Contacts; 0",
                                                         "1; Friends; 0", "2; Família; 0"]
    assert lines[1].split(",")[7] == '"0; Other Contacts; 0"'


def test_read_tables():
    r = run("read", MAIN)
    assert r.exit_code == 0
    out = r.output
    assert "=== Session 2 · notification · alice@hotmail.com · 127.0.0.10:52677 > 127.0.0.2:1863" in out
    assert "client port (corrected)  52677" in out
    assert "matching reading         byte-swapped (real MSN server)" in out
    assert "carol@hotmail.com  Carol ♥            FL AL RL  11           Friends, Família" in out
    assert "msmsgs@msnmsgr.com  8f2f5a91b72102cd28355e9fc9000d6e  yes      yes" in out
    assert "accounts                     alice@hotmail.com; bob@hotmail.com; carol@hotmail.com" in out


def test_read_account_filter_and_json():
    r = run("read", cap("compat_failures.pcap"), "--account", "mallory@hotmail.com")
    assert "911 Authentication failed" in r.output and "dave@hotmail.com" not in r.output.split(
        "=== Capture summary")[0]
    r = run("read", MAIN, "--format", "json")
    doc = json.loads(r.stdout)
    assert set(doc) >= {"sessions", "contacts", "groups", "presence", "challenges", "errors",
                        "messages", "invitations", "transfers", "anomalies", "summary"}
    assert all("_data" not in t for t in doc["transfers"])
    alice = [s for s in doc["sessions"] if s["kind"] == "notification"][0]
    assert alice["profile"]["client_port"] == 52677 and alice["profile"]["nat"] is False


def test_chats_transcript():
    r = run("chats", MAIN, "--account", "alice@hotmail.com", "--no-typing")
    assert r.exit_code == 0
    lines = [ln.split(None, 1)[1].strip() for ln in r.output.splitlines()
             if ln.startswith("2026-") or ln[:2].isdigit()]
    assert lines[:6] == [
        "bob@hotmail.com    * bob@hotmail.com joined",
        "alice@hotmail.com  Hi Bob, are you there?",
        "bob@hotmail.com    Yes! Café at 5?",
        "carol@hotmail.com  * carol@hotmail.com joined",
        "carol@hotmail.com  こんにちは 👋 everyone",
        "carol@hotmail.com  * carol@hotmail.com left"]
    assert "is typing" not in r.output


def test_chats_filters_json():
    r = run("chats", MAIN, "--with", "carol@hotmail.com", "--format", "json")
    rows = json.loads(r.stdout)
    assert {x["session"] for x in rows} == {5, 6, 7}
    r = run("chats", MAIN, "--account", "carol@hotmail.com", "--format", "jsonl",
            "--since", "2026-11-25T02:59:09.570Z", "--until", "2026-11-25T02:59:09.600Z")
    rows = [json.loads(ln) for ln in r.stdout.splitlines()]
    # one conversation, its three connections merged: each line once, from the copy
    # captured first (the sender's own connection for messages)
    assert [(x["session"], x["account"], x["sender"], x["text"]) for x in rows] == [
        (5, "alice@hotmail.com", "carol@hotmail.com", "* carol@hotmail.com joined"),
        (7, "carol@hotmail.com", "carol@hotmail.com", "こんにちは 👋 everyone"),
        (5, "alice@hotmail.com", "carol@hotmail.com", "* carol@hotmail.com left")]
    assert rows[1]["recipients"] == ["alice@hotmail.com", "bob@hotmail.com"]
    r = run("chats", MAIN, "--account", "dave@hotmail.com")
    # the one convention for nothing matched (issue 30): exit 1, one line on stderr
    assert r.exit_code == 1 and r.output.strip() == \
        "msnsniff: nothing matched (no switchboard conversations)"


def test_chats_merges_the_connections_of_one_conversation():
    r = run("chats", MAIN, "--no-typing")
    titles = [ln for ln in r.output.splitlines() if ln.startswith("=== ")]
    assert titles == ["=== Conversation · SB session 11752013 at 127.0.0.3:1864 · "
                      "alice@hotmail.com, bob@hotmail.com, carol@hotmail.com · "
                      "2026-11-25T02:59:09.436015Z – 2026-11-25T02:59:09.702941Z · seen by "
                      "alice@hotmail.com (5), bob@hotmail.com (6), carol@hotmail.com (7)"]
    texts = [ln.split(None, 2)[2] for ln in r.output.splitlines() if ln.startswith("2026-")]
    assert texts.count("Hi Bob, are you there?") == 1       # on 2 connections, shown once
    assert texts.count("こんにちは 👋 everyone") == 1        # on 3 connections
    assert texts.count("* carol@hotmail.com joined") == 1
    assert len(texts) == 13


def test_files_listing():
    r = run("files", MAIN, "--format", "csv")
    lines = r.stdout.splitlines()
    assert lines[0].startswith("finished,session,kind,name,sender,receiver,size,received")
    assert lines[1].split(",", 1)[1].startswith(
        "8,file,notes.txt,alice@hotmail.com,bob@hotmail.com,3000,3000,0,complete")
    assert lines[2].split(",", 1)[1].startswith(
        "9,file,../secret plan.txt,alice@hotmail.com,bob@hotmail.com,5120,2045,3075,cancelled")


@pytest.mark.parametrize("args, message", [
    (["read", "/nonexistent.pcap"], "msnsniff: error: /nonexistent.pcap: no such file"),
    (["read", "/tmp"], "msnsniff: error: /tmp: is a directory, not a capture file"),
    (["commands", "--port", "70000", MAIN], "is not a TCP port"),
    (["chats", MAIN, "--since", "yesterday"], "is not an ISO 8601 time"),
    (["read", "--format", "xml", MAIN], "Invalid value for '--format'"),
])
def test_user_errors_are_one_line_exit_2(args, message):
    res = msnsniff(*args)
    assert res.returncode == 2
    assert message in res.stderr and "Traceback" not in res.stderr


def test_not_a_capture_file(tmp_path):
    p = tmp_path / "x.pcap"
    p.write_text("GET / HTTP/1.1\r\n")
    res = msnsniff("read", str(p))
    assert res.returncode == 2
    assert res.stderr.strip() == (f"msnsniff: error: {p}: not a pcap or pcapng capture file "
                                  "(starts with 47455420)")


def test_truncated_capture_warns_but_decodes(tmp_path):
    data = open(MAIN, "rb").read()
    p = tmp_path / "cut.pcap"
    p.write_bytes(data[:20000])
    r = run("read", str(p))
    assert r.exit_code == 0
    # the message is the reader's: ours ("file ends inside record …") or libpcap's
    assert "capture truncated: " in r.output
    assert "alice@hotmail.com" in r.output


def test_terminal_output_escapes_control_characters():
    from msnsniff.output.emit import safe_text
    assert safe_text("hi\x1b[2Jthere\x07") == "hi\\x1b[2Jthere\\x07"
    assert safe_text("a\u202eb") == "a\\u202eb"


@pytest.mark.parametrize("command", ["read", "chats", "commands", "files"])
def test_network_text_cannot_reach_the_terminal(command):
    out = run(command, cap("hostile.pcap")).output
    assert "\x1b" not in out and "\x07" not in out
    if command in ("read", "commands"):
        assert "\\x1b[2J\\x1b[31mALICE\\x1b[0m\\x07" in out
    if command == "chats":
        assert "\\x1b]0;pwned\\x07\\x1b[2J@SUM(1+1)" in out


@pytest.mark.parametrize("name", ["msnp8_session.pcap", "hostile.pcap", "compat_failures.pcap"])
def test_fast_tables_are_exactly_tabulates(name, monkeypatch):
    """read's tables come from our own renderer for the default styles (speed): the
    output must be byte for byte what tabulate prints."""
    import io

    from tabulate import tabulate

    import msnsniff.output.emit as emit_mod
    from msnsniff.engine.analyze import analyse
    from msnsniff.output.sections import write_report
    d = analyse([cap(name)])
    for style in ("simple", "plain"):
        fast = io.StringIO()
        write_report(d, fast, table_format=style)
        monkeypatch.setattr(emit_mod, "render_table", lambda t, h, f: tabulate(
            t, headers=h, tablefmt=f, disable_numparse=True))
        slow = io.StringIO()
        write_report(d, slow, table_format=style)
        monkeypatch.undo()
        assert fast.getvalue() == slow.getvalue()


def test_jobs_and_globs_give_the_same_document(tmp_path):
    caps = [cap("msnp8_session.pcap"), cap("compat_failures.pcap"), cap("hostile.pcap")]
    one = json.loads(run("read", *caps, "--format", "json").stdout)
    many = json.loads(run("read", *caps, "--format", "json", "--jobs", "3").stdout)
    assert one == many
    assert [s["id"] for s in one["sessions"]] == list(range(1, 15))
    # ids follow on across captures and the links move with them
    alice_sb = [s for s in one["sessions"] if s["kind"] == "switchboard"
                and s["passport"] == "alice@hotmail.com"][0]
    assert alice_sb["linked_session"] == 2
    hostile_sb = [s for s in one["sessions"] if s["capture"] == caps[2]
                  and s["kind"] == "switchboard"][0]
    assert hostile_sb["id"] == 14 and hostile_sb["linked_session"] == 13
    # a quoted glob is expanded by msnsniff itself (sorted)
    g = json.loads(run("read", os.path.join(os.path.dirname(caps[0]), "c*_any.pcap"),
                       "--format", "json").stdout)
    assert [c["file"].rsplit("/", 1)[1] for c in g["summary"]["captures"]] == [
        "cooked2_any.pcap", "cooked_any.pcap"]
    r = run("read", str(tmp_path / "*.pcap"))
    assert r.exit_code == 2 and "no capture file matches" in r.output


def test_progress_bar_on_a_terminal_only():
    import pty
    master, slave = pty.openpty()
    res = subprocess.run([sys.executable, "-m", "msnsniff", "read", MAIN], stdout=subprocess.PIPE,
                         stderr=slave, timeout=60)
    os.close(slave)
    err = read_pty(master)
    assert res.returncode == 0
    assert b"msnp8_session.pcap" in err and b"100%" in err and b"MB/s" in err
    assert b"msnp8_session.pcap  [" not in res.stdout          # never in the output itself
    quiet = subprocess.run([sys.executable, "-m", "msnsniff", "read", MAIN], capture_output=True)
    assert b"%" not in quiet.stderr                            # not a terminal: no bar


@pytest.mark.parametrize("name", ["msnp8_session.pcap", "compat_failures.pcap", "mid_session.pcap"])
def test_streamed_read_has_the_same_tables_as_the_whole_document(name):
    """`read` prints each session when its connection finishes (flat memory); the
    sections are those of the whole-document report, in finishing order.  Only the
    dispatch's forward link to a later connection cannot be printed yet."""
    import io

    from msnsniff.engine.analyze import analyse
    from msnsniff.output.sections import write_report
    streamed = run("read", cap(name)).output
    whole = io.StringIO()
    write_report(analyse([cap(name)]), whole)
    blocks = lambda text: sorted(b for b in text.split("\n=== ") if "· dispatch ·" not in b)
    assert blocks(streamed) == blocks(whole.getvalue())
    if name == "msnp8_session.pcap":
        assert "redirected to     127.0.0.2:1863" in streamed
        assert "redirect continues in session  2" in whole.getvalue()
