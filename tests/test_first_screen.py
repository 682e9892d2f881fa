"""What a person meets first (issue: `read` shows the conversations, one set of options,
terminal safety in every format, compressed captures, provenance)."""

import bz2
import gzip
import json
import lzma
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cap, msnsniff, on_terminal

MAIN = cap("msnp8_session.pcap")


def run(*args, **kw):
    extra = [] if "-h" in args else ["--no-progress"]
    return msnsniff(*args, *extra, **kw)


def test_read_shows_the_conversation_and_the_transfers():
    out = run("read", MAIN).stdout
    assert "=== Conversation · SB session 11752013" in out
    assert "Yes! Café at 5?" in out and "こんにちは 👋 everyone" in out
    assert "(alice@hotmail.com is typing…)" not in out                # typing folded
    assert "=== Transfers" in out and "notes.txt" in out and "cancelled" in out
    brief = run("read", MAIN, "--brief").stdout
    assert "=== Conversation" not in brief and "=== Transfers" not in brief
    assert "=== Session 2 · notification" in brief


def test_progress_bar_never_lands_in_a_terminal_report():
    # (it may be drawn before the first line: see the test of progress until then)
    out = on_terminal("read", MAIN)
    first = out.index(b"\n===")
    assert b"=== Conversation" in out and b"MB/s" not in out[first:] and b"%|" not in out


def test_control_characters_are_escaped_on_a_terminal_in_every_format():
    hostile = cap("hostile.pcap")
    for args in (["chats", hostile, "--format", "csv"], ["chats", hostile, "--format", "json"],
                 ["read", hostile]):
        out = on_terminal(*args, "--no-progress")
        assert b"\x1b]0;pwned" not in out and b"\x1b[2J" not in out, args
    piped = run("chats", hostile, "--format", "json").stdout     # to a pipe: exact text
    assert any("\x1b]0;pwned\x07" in (r["text"] or "") for r in json.loads(piped))


def test_titles_are_escaped():
    out = on_terminal("read", cap("hostile.pcap"), "--no-progress")
    assert b"\x1b[31mALICE" not in out


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_compressed_captures(tmp_path, compress):
    path = tmp_path / "c.pcap.z"
    path.write_bytes(compress(open(MAIN, "rb").read()))
    plain = run("commands", MAIN, "--format", "csv").stdout
    assert run("commands", str(path), "--format", "csv").stdout == plain
    piped = subprocess.run([sys.executable, "-m", "msnsniff", "commands", "-", "--format", "csv",
                            "--no-progress"], input=path.read_bytes(), capture_output=True)
    assert piped.stdout.decode().replace("\r\n", "\n") == plain


def test_a_cut_compressed_capture_keeps_what_was_read(tmp_path):
    path = tmp_path / "cut.pcap.gz"
    path.write_bytes(gzip.compress(open(MAIN, "rb").read())[:6000])
    d = json.loads(run("read", str(path), "--format", "json").stdout)
    c = d["summary"]["captures"][0]
    assert c["format"] == "pcap (gzip)" and c["truncated"].startswith("gzip stream broken")
    assert 0 < c["packets"] < 245


def test_documents_name_their_inputs_and_the_tool():
    import hashlib
    d = json.loads(run("read", MAIN, "--format", "json").stdout)
    c = d["summary"]["captures"][0]
    assert (c["size"], c["sha256"]) == (os.path.getsize(MAIN),
                                        hashlib.sha256(open(MAIN, "rb").read()).hexdigest())
    # the last time is the capture's last MSN packet (tshark: frame 245, a bare ACK
    # after the last FIN, frame 244 at .706131)
    assert (c["first"], c["last"]) == ("2026-11-25T02:59:09.141687Z", "2026-11-25T02:59:09.706137Z")
    assert d["summary"]["last"] == c["last"]
    tool = d["summary"]["tool"]
    assert tool["name"] == "msnsniff" and tool["command_line"].startswith("msnsniff read ")


def test_one_set_of_options_and_refusals():
    assert "=== Session 2" in run("read", MAIN, "--account", "ALICE@Hotmail.COM").stdout
    bad = run("read", MAIN, "--table-format", "gridd")
    assert bad.returncode == 2 and "gridd" in bad.stderr and "grid" in bad.stderr
    warn = run("commands", MAIN, "--verb", "MSGG")
    assert "MSGG is not an MSNP verb msnsniff knows" in warn.stderr
    cols = run("commands", MAIN, "--verb", "CHL", "--columns", "verb,params", "--format", "csv")
    assert cols.stdout.splitlines() == ["verb,params", "CHL,15570131571988941333"]
    nocol = run("files", MAIN, "--columns", "name,nope")
    assert nocol.returncode == 2 and "unknown column(s) nope" in nocol.stderr
    summary = run("commands", MAIN).stdout
    assert "error replies: 217 1" in summary and "217 1," not in summary.split("commands:")[1]


def test_export_infers_the_format(tmp_path):
    r = run("export", MAIN, "-o", str(tmp_path / "x.json"))
    assert r.returncode == 0, r.stderr
    assert "sessions" in json.loads((tmp_path / "x.json").read_text())
    r = run("export", MAIN, "-o", str(tmp_path / "x.db"))
    assert r.returncode == 0 and (tmp_path / "x.db").read_bytes()[:15] == b"SQLite format 3"
    r = run("export", MAIN, "-o", str(tmp_path / "x.txt"))
    assert r.returncode == 2 and "give --format" in r.stderr
    # one output option: -o names the folder of a csv export too (--out is the same option)
    r = run("export", MAIN, "-o", str(tmp_path / "case"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "case" / "sessions.csv").read_text().count("\n") == 10   # header + 9
    r = run("export", MAIN, "--format", "csv", "--out", str(tmp_path / "case2"))
    assert sorted(os.listdir(tmp_path / "case2")) == sorted(os.listdir(tmp_path / "case"))


def test_no_msnp_gives_a_hint(tmp_path):
    from conftest import conversation, write_pcap
    path = write_pcap(tmp_path / "web.pcap", conversation(server=("10.0.0.2", 8080),
                                                          c2s=[b"GET / HTTP/1.1\r\n\r\n"]))
    out = run("read", path).stdout
    assert "no MSNP connection found: is the server on another port? try --port N" in out
    assert "None" not in out


def test_tcpdump_habits_and_shared_filters():
    r = run("commands", "-r", MAIN, "-c", "5", "--format", "csv", "--columns", "verb")
    assert r.stdout.split() == ["verb", "VER"] and "5 reached msnsniff" in r.stdout + r.stderr
    files = run("files", cap("p2p_transfers.pcap.gz"), "--account", "BOB@example.com", "--since",
                "2026-12-01T08:50:23.1Z", "--format", "csv", "--columns", "name,status").stdout
    assert files.splitlines()[1:] == ["TFR2C2.tmp,complete", "(cafe),complete",
                                          "Photo Noël.jpg,complete"]
    late = run("commands", MAIN, "--since", "2026-11-25T02:59:09.70Z", "--format", "csv",
               "--columns", "verb").stdout
    assert late.split() == ["verb", "OUT"]
    none = run("read")
    assert none.returncode == 2 and "give a capture (CAPTURE or -r FILE" in none.stderr


def test_help_shows_the_commands_own_options_first_and_an_example():
    for cmd, first in (("read", "--format"), ("chats", "--format"), ("files", "--extract"),
                       ("commands", "--format"), ("timeline", "--format")):
        h = run(cmd, "-h").stdout
        assert "Example:" in h, cmd
        options = h.split("Options:")[1]
        assert options.index(first) < options.index("--jobs") < options.index("--port"), cmd


def on_terminal_of(cols, *args):
    return on_terminal(*args, "--no-progress", cols=cols).decode()


def test_tables_fit_the_terminal():
    out = on_terminal_of(120, "commands", MAIN, "--columns", "time,verb,params,summary")
    lines = out.splitlines()
    lines = lines[:lines.index(next(ln for ln in lines if ln.startswith("connections: ")))]
    # fitted: nothing clipped, the long summaries and params wrapped (issue 30)
    assert max(len(ln) for ln in lines) <= 120 and not any("…" in ln for ln in lines)
    wide = on_terminal_of(120, "commands", MAIN, "--columns", "time,verb,params,summary", "--wide")
    assert max(len(ln) for ln in wide.splitlines()) > 120
    piped = run("commands", MAIN).stdout                 # to a pipe: full values
    assert max(len(ln) for ln in piped.splitlines()) > 200
    chats = on_terminal_of(70, "chats", MAIN)
    rows = [ln for ln in chats.splitlines() if not ln.startswith("===")]
    assert max(len(ln) for ln in rows) <= 70
    i = next(k for k, ln in enumerate(rows) if "[invitation] INVITE File" in ln)
    # the long line wraps onto a continuation line (the time and sender cells empty)
    assert rows[i + 1].startswith(" " * 30) and "notes.txt" in rows[i] + rows[i + 1]


def test_the_summary_counts_many_accounts():
    from msnsniff.output.readview import _accounts
    many = [f"u{i:04d}@x.com" for i in range(4820)]
    assert _accounts(many) == ("4,820 accounts (first 10: " + "; ".join(many[:10]) + ")")


def test_both_readers_say_what_they_counted():
    out = {}
    for reader in ("libpcap", "python", "auto"):
        r = subprocess.run([sys.executable, "-m", "msnsniff", "read", MAIN, "--no-progress"],
                           capture_output=True, text=True,
                           env=dict(os.environ, MSNSNIFF_READER=reader))
        out[reader] = [ln for ln in r.stdout.splitlines() if ln.startswith("capture ")][-1]
    assert out["python"].endswith("captures/msnp8_session.pcap: pcap, 36,548 bytes, 245 "
                                  "records read, 245 reached msnsniff (245 TCP segments)")
    assert out["libpcap"].endswith("captures/msnp8_session.pcap: pcap, 36,548 bytes, records "
                                   "read: not counted (libpcap skipped what cannot be MSN), 245 "
                                   "reached msnsniff (245 TCP segments)")
    # the compiled core reads every record, as the Python reader does
    from msnsniff import core
    assert out["auto"] == (out["python"] if core.name() == "compiled" else out["libpcap"])


def test_connection_selects_the_same_ids_everywhere():
    # ids are the Connections table's: 4 = carol's notification session, 5-7 the three
    # views of one switchboard conversation, 9 the cancelled MSNFTP transfer
    read = run("read", MAIN, "--connection", "4").stdout
    assert "=== Session 4 · notification · carol@hotmail.com" in read
    assert "=== Session 2" not in read and "Hi Bob, are you there?" not in read
    doc = json.loads(run("read", MAIN, "--connection", "4", "--connection", "9",
                         "--format", "json").stdout)
    assert [s["id"] for s in doc["sessions"]] == [4, 9]
    assert [t["name"] for t in doc["transfers"]] == ["../secret plan.txt"]
    chats = run("chats", MAIN, "--connection", "6").stdout
    assert "seen by alice@hotmail.com (5), bob@hotmail.com (6)" in chats
    assert "Yes! Café at 5?" in chats
    none = run("chats", MAIN, "--connection", "4")
    assert none.returncode == 1 and none.stdout == "" and none.stderr.strip() == \
        "msnsniff: nothing matched (no switchboard conversations)"
    files = run("files", MAIN, "--connection", "8", "--format", "csv", "--columns",
                "name,received").stdout
    assert files.splitlines() == ["name,received", "notes.txt,3000"]
    cmds = run("commands", MAIN, "--connection", "9", "--format", "csv", "--columns",
               "connection,verb").stdout.splitlines()
    assert cmds[0] == "connection,verb" and {ln.split(",")[0] for ln in cmds[1:]} == {"9"}
    bad = run("read", MAIN, "--connection", "0")
    assert bad.returncode == 2 and "--connection" in bad.stderr
    tl = run("timeline", MAIN, "--connection", "9", "--format", "csv", "--columns",
             "session").stdout.split()
    assert tl == ["session", "9"]            # the cancelled transfer, nothing else


@pytest.mark.parametrize("jobs", ["-j1", "-j2"])     # -j2: a reading process draws the bar
def test_read_on_a_terminal_shows_progress_until_its_first_session(tmp_path, jobs):
    """`read` streams to the terminal its bar shares: the bar is drawn while nothing is
    printed yet, and never again once the first session is (no bar inside a table)."""
    big = tmp_path / "busy.pcap"
    gen = subprocess.run([sys.executable, str(Path(MAIN).parent.parent / "bench" / "gen.py"),
                          str(big), "--packets", "30000", "--msnp-fraction", "1.0"],
                         capture_output=True)
    assert gen.returncode == 0, gen.stderr
    out = on_terminal("read", str(big), jobs, cols=120).decode("utf-8", "replace")
    first = out.index("=== Session")
    bar = re.compile(r"busy\.pcap\s+\[[#-]+\]\s+\d+%")
    assert bar.search(out[:first]), out[:first][-500:]
    assert not bar.search(out[first:])
    # the bar's line was cleared and the cursor shown again before the first line
    assert "\x1b[2K\x1b[?25h" in out[:first]
    assert "Connections" in out[first:]
