"""What a person sees in round three (issue 30): flags, versions, help, fitted tables."""

import os
import subprocess
import sys

from conftest import cap, msnsniff
from conftest import on_terminal as terminal

MAIN = cap("msnp8_session.pcap")


run = msnsniff


def on_terminal(*args, cols=80):
    """stdout and stderr of msnsniff on a pseudo-terminal ``cols`` wide, as text."""
    return terminal(*args, "--no-progress", cols=cols).decode("utf-8").replace("\r\n", "\n")


def test_redact_qry_alone_is_refused_by_every_command():
    for command in ("read", "chats", "timeline", "export", "files", "commands"):
        r = run(command, MAIN, "--redact-qry")
        assert r.returncode == 2, command
        assert r.stderr.strip() == (f"msnsniff: error: --redact-qry goes with --redact "
                                    f"(see: msnsniff {command} -h)")


def test_one_version_number():
    from msnsniff import __version__
    from msnsniff.core import name
    assert run("--version").stdout.strip() == f"msnsniff, version {__version__} (core: {name()})"
    # the package's metadata reads the same file (pyproject's version is dynamic)
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    d = apply_configuration(Distribution(), os.path.join(root, "pyproject.toml"))
    assert d.get_version() == __version__


def test_no_arguments_prints_the_help_as_lines():
    r = run()
    assert r.returncode == 2
    lines = r.stdout.splitlines()
    assert lines[0] == "Usage: msnsniff [OPTIONS] COMMAND [ARGS]..."
    assert "\\n" not in r.stdout and "  timeline" in r.stdout
    assert r.stdout == run("-h").stdout


def test_out_on_a_switchboard_is_leaving_not_signing_out():
    import csv
    import io
    rows = list(csv.DictReader(io.StringIO(run("timeline", MAIN, "--no-progress",
                                               "--format", "csv").stdout)))
    outs = [(r["session"], r["kind"], r["description"]) for r in rows
            if "OUT by" in r["description"]]
    assert outs == [
        ("7", "conversation", "carol@hotmail.com left switchboard session 11752013 (OUT by client)"),
        ("6", "conversation", "bob@hotmail.com left switchboard session 11752013 (OUT by client)"),
        ("5", "conversation", "alice@hotmail.com left switchboard session 11752013 (OUT by client)"),
        ("2", "logout", "alice@hotmail.com signed out (OUT by client)")]


def test_timeline_fits_80_columns_with_the_description_wrapped_not_clipped():
    out = on_terminal("timeline", MAIN, cols=80)
    lines = out.splitlines()
    assert max(map(len, lines)) <= 80 and "…" not in out
    assert lines[2] == "2026-11-25 UTC"                      # the date, once
    assert lines[3].startswith("02:59:09.182549  2        alice@hotmail.com  login")
    # the description column, read down its continuation lines, is the whole text
    start = lines[1].rindex(" ") + 1
    login = [lines[3][start:]] + [ln[start:] for ln in lines[4:8]]
    assert " ".join(login) == ("alice@hotmail.com signed in (notification, MSNP8, "
                               "MSNMSGR 5.0.0544) from 127.0.0.10:52677")
    assert all(not ln[:start].strip() for ln in lines[4:8])


def test_commands_at_120_columns_name_the_endpoints_once_and_keep_params_whole():
    out = on_terminal("commands", MAIN, cols=120)
    lines = out.splitlines()
    # streamed: each connection's endpoints on a line where its first row comes
    assert lines[2] == "-- connection 1: 127.0.0.10:53673 > 127.0.0.1:1863"
    assert "-- connection 9: 127.0.0.11:45377 > 127.0.0.10:6891" in lines
    assert [ln for ln in lines if ln.startswith("-- connection ")][:2] == [
        "-- connection 1: 127.0.0.10:53673 > 127.0.0.1:1863",
        "-- connection 2: 127.0.0.10:52677 > 127.0.0.2:1863"]
    head = lines[0]
    assert head.split() == ["time", "conn", "dir", "verb", "trid", "params", "bytes", "summary"]
    table = lines[:lines.index(next(ln for ln in lines if ln.startswith("connections: ")))]
    assert max(map(len, table)) <= 120 and "…" not in out
    i = next(k for k, ln in enumerate(lines) if " USR " in ln and "TWN; I; alice" in ln)
    assert lines[i].split()[:6] == ["02:59:09.154296", "1", "c2s", "USR", "3", "TWN;"]
    # piped, the table keeps every column and ISO times
    piped = run("commands", MAIN, "--no-progress").stdout.splitlines()
    assert piped[0].split()[:4] == ["time", "connection", "client", "server"]
    assert piped[2].startswith("2026-11-25T02:59:09.141848Z  1")


def test_tz_shows_times_in_that_zone_with_the_date_line():
    out = on_terminal("timeline", MAIN, "--tz", "Asia/Tokyo", cols=120)
    lines = out.splitlines()
    assert lines[2] == "2026-11-25 UTC+0900"
    assert lines[3].split()[:3] == ["11:59:09.182549", "2", "alice@hotmail.com"]
    bad = run("timeline", MAIN, "--tz", "Mars/Olympus")
    assert bad.returncode == 2 and "--tz Mars/Olympus: not a time zone" in bad.stderr


def test_every_written_file_gets_the_same_mode(tmp_path):
    import stat
    umask = os.umask(0o022)
    os.umask(umask)
    want = 0o666 & ~umask
    outs = {"jsonl": tmp_path / "a.jsonl", "json": tmp_path / "a.json",
            "sqlite": tmp_path / "a.db", "csv": tmp_path / "csv"}
    for fmt, path in outs.items():
        r = run("export", MAIN, "--no-progress", "--format", fmt, "-o", str(path))
        assert r.returncode == 0, r.stderr
    assert run("report", MAIN, "--no-progress", "-o", str(tmp_path / "r.html")).returncode == 0
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) > 5
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {
        p.name: want for p in files}


def test_timeline_shows_each_message_once_with_its_copies():
    import csv
    import io
    rows = list(csv.DictReader(io.StringIO(run("timeline", MAIN, "--no-progress",
                                               "--format", "csv").stdout)))
    messages = [(r["time"], r["session"], r["description"]) for r in rows
                if r["kind"] == "message"]
    assert messages == [
        ("2026-11-25T02:59:09.471762Z", "5", "alice@hotmail.com → bob@hotmail.com: Hi Bob, "
         "are you there? (copies on connections 5, 6)"),
        ("2026-11-25T02:59:09.498359Z", "6", "bob@hotmail.com → alice@hotmail.com: Yes! Café "
         "at 5? (copies on connections 6, 5)"),
        ("2026-11-25T02:59:09.577775Z", "7", "carol@hotmail.com → alice@hotmail.com; "
         "bob@hotmail.com: こんにちは 👋 everyone (copies on connections 7, 5, 6)")]
    was_there = [r["session"] for r in rows if r["description"].endswith(" was there")]
    assert was_there == ["6", "7", "7"]         # one per joiner, not folded


def test_one_per_message_holds_back_only_a_window():
    from msnsniff.output.timeline import one_per_message
    t = "2026-01-01T00:00:%02d.000000Z"
    entries = [(t % 0, 1, "a", "message", "a → b: hi"), (t % 1, 2, "b", "presence", "x"),
               (t % 2, 2, "b", "message", "a → b: hi"), (t % 9, 3, "c", "message", "a → b: hi"),
               (t % 9, 1, "a", "message", "a → b: hi")]
    out = list(one_per_message(iter(entries), lambda c: "sb" if c < 3 else c))
    assert out == [(t % 0, 1, "a", "message", "a → b: hi (copies on connections 1, 2)"),
                   (t % 1, 2, "b", "presence", "x"),
                   (t % 9, 3, "c", "message", "a → b: hi"),
                   (t % 9, 1, "a", "message", "a → b: hi")]


def _trace_csv(*args):
    import csv
    import io
    r = run("commands", MAIN, "--no-progress", "--format", "csv", *args)
    assert r.returncode == 0, r.stderr
    return list(csv.DictReader(io.StringIO(r.stdout))), r.stderr


def test_commands_account_and_with_lead_from_a_passport_to_its_trace():
    rows, err = _trace_csv("--account", "BOB@hotmail.com")
    # bob's notification and switchboard connections, from their first command (the VER
    # before bob's CVR named him is held back, not lost)
    assert sorted({r["connection"] for r in rows}) == ["3", "6"]
    assert [r["verb"] for r in rows if r["connection"] == "3"][:3] == ["VER", "VER", "CVR"]
    assert err.splitlines()[0] == f"shown: {len(rows)} of 145 trace rows"
    rows, _ = _trace_csv("--with", "carol@hotmail.com", "--verb", "JOI")
    assert [(r["connection"], r["params"]) for r in rows] == [
        ("5", "carol@hotmail.com; Carol ♥"), ("6", "carol@hotmail.com; Carol ♥")]
    whole, err = _trace_csv()
    assert len(whole) == 145 and not err.startswith("shown:")


def test_conversations_are_keyed_by_session_id_server_host_and_overlap():
    from msnsniff.output.transcript import conversations

    def sb(i, server, sid, start, end, who):
        return {"id": i, "kind": "switchboard", "server": server, "sb_session_id": sid,
                "start": f"2026-01-01T00:{start}.000000Z", "end": f"2026-01-01T00:{end}.000000Z",
                "passport": who, "participants": [who]}
    doc = {"sessions": [sb(1, "10.0.0.3:1864", "77", "00:00", "00:30", "a@x.com"),
                        # the other side through the HTTP gateway: no port in its name
                        sb(2, "10.0.0.3", "77", "00:05", "00:20", "b@x.com"),
                        # the same id reused an hour later: another conversation
                        sb(3, "10.0.0.3:1864", "77", "59:00", "59:10", "c@x.com"),
                        sb(4, "10.0.0.9:1864", "77", "00:01", "00:09", "d@x.com")],
           "messages": [], "participants": []}
    got = sorted(h["sessions"] for h, _ in conversations(doc))
    assert got == [[1, 2], [3], [4]]


def test_read_folds_empty_profile_fields_into_one_line():
    out = run("read", MAIN, "--no-progress").stdout
    profile = out.split("-- profile\n")[1].split("\n-- ")[0].splitlines()
    assert profile[-1].split(None, 2) == ["empty", "fields",
                                          "PostalCode, Gender, Age, BDayPre, Birthday, Wallet"]
    assert not any(ln.strip() in ("PostalCode", "Gender", "Wallet") for ln in profile)
    assert any(ln.split() == ["country", "US"] for ln in profile)


def test_one_exit_code_convention_for_nothing_matched_and_damage(tmp_path):
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(open(MAIN, "rb").read()[:20000])     # a capture that stopped mid-record
    for command in ("commands", "timeline"):
        ok = run(command, MAIN, "--no-progress", "--strict")
        assert ok.returncode == 0 and "nothing matched" not in ok.stderr
        none = run(command, MAIN, "--no-progress", "--until", "2000-01-01T00:00:00Z")
        assert none.returncode == 1
        assert none.stderr.splitlines()[-1] == "msnsniff: nothing matched"
        damaged = run(command, str(cut), "--no-progress")
        assert damaged.returncode == 0 and damaged.stdout          # decoded as far as it goes
        strict = run(command, str(cut), "--no-progress", "--strict")
        assert strict.returncode == 3 and strict.stdout == damaged.stdout
        assert strict.stderr.splitlines()[-1].startswith("msnsniff: damaged input: ")


def _stats(*args):
    import csv
    import io
    r = run("stats", *args, "--no-progress", "--format", "csv")
    assert r.returncode == 0, r.stderr
    return {row[next(iter(row))]: row for row in csv.DictReader(io.StringIO(r.stdout))}


def test_stats_pairs_requests_with_replies_by_trid():
    by_verb = _stats(MAIN)
    assert set(by_verb) == {"ADD", "ADG", "ANS", "CAL", "CHG", "CVR", "MSG", "QRY", "REA",
                            "REM", "SYN", "URL", "USR", "VER", "XFR"}
    # CAL: three calls, one refused with 217 (the invitee is offline)
    assert by_verb["CAL"] == {"verb": "CAL", "requests": "3", "answered": "3",
                              "unanswered": "0", "p50_ms": "3.172", "p95_ms": "3.178",
                              "errors": "217 ×1"}
    # the MSG with ack A waited for its ACK (the U/N messages expect no reply)
    assert (by_verb["MSG"]["requests"], by_verb["MSG"]["p50_ms"]) == ("1", "47.154")
    by_account = _stats(MAIN, "--by", "account")
    assert {k: (v["requests"], v["errors"]) for k, v in by_account.items()} == {
        "alice@hotmail.com": ("20", "CAL 217 ×1"), "bob@hotmail.com": ("8", ""),
        "carol@hotmail.com": ("7", "")}
    failures = _stats(cap("compat_failures.pcap"), "--by", "account")
    assert failures["mallory@hotmail.com"]["errors"] == "USR 911 ×1"
    assert failures["dave@hotmail.com"]["errors"] == "QRY 540 ×1"


def test_stats_counts_requests_a_cut_capture_left_unanswered(tmp_path):
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(open(MAIN, "rb").read()[:9000])
    cvr = _stats(str(cut))["CVR"]
    assert (cvr["requests"], cvr["answered"], cvr["unanswered"]) == ("3", "2", "1")
    by_server = _stats(MAIN, "--by", "server")
    # the switchboard: USR, CAL ×3, ANS ×2 and the acknowledged MSG
    assert by_server["127.0.0.3:1864"]["requests"] == "7"


def test_a_second_extract_into_the_same_folder_writes_no_copies(tmp_path):
    out = tmp_path / "ex"
    for _ in range(2):
        r = run("files", MAIN, "--no-progress", "--extract", str(out))
        assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["SHA256SUMS", "notes.txt",
                                                    "secret plan.txt.partial"]
    # a different file under a taken name still gets its own name
    (out / "notes.txt").write_bytes(b"something else")
    run("files", MAIN, "--no-progress", "--extract", str(out))
    assert (out / "notes-1.txt").stat().st_size == 3000


def test_shell_completion_offers_paths_for_the_output_options():
    want = {("files", "--extract"): "dir", ("export", "-o"): "file",
            ("report", "-o"): "file", ("live", "--write"): "file",
            ("read", ""): "file"}            # the capture argument, as before
    for (command, option), kind in want.items():
        words = f"msnsniff {command} {option} ".replace("  ", " ")
        env = dict(os.environ, COMP_WORDS=words, COMP_CWORD=str(len(words.split())),
                   _MSNSNIFF_COMPLETE="bash_complete")
        r = subprocess.run([sys.executable, "-c", "from msnsniff.cli.app import cli; "
                            "cli(prog_name='msnsniff')"], env=env, capture_output=True,
                           text=True)
        assert r.stdout.splitlines() == [f"{kind},"], (command, option, r.stdout)


def test_readme_test_command_is_what_ci_runs_in_the_install_commands_venv():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    commands = [ln.strip() for ln in readme.split("\n---\n")[0].splitlines()
                if ln.startswith("    ")]
    assert commands[0].startswith("python3 -m venv .venv && .venv/bin/pip install .")
    assert commands[1] == ".venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"
    ci = open(os.path.join(root, ".ci", "run"), encoding="utf-8").read()
    assert ci.rstrip().splitlines()[-1] == commands[1]
    assert "python3 -m venv .venv" in ci and ".venv/bin/pip install -q '.[fuzz]'" in ci
    assert "apt-get install -y tcpdump tshark chromium" in ci and "chromium" in readme[:800]


def test_timeline_says_what_the_filters_showed_of_what():
    r = run("timeline", MAIN, "--no-progress", "--account", "bob@hotmail.com", "--format", "csv")
    assert r.stderr.splitlines()[-1] == "shown: 19 of 61 timeline entries"
    assert len(r.stdout.splitlines()) == 1 + 19     # bob sees one copy of each message
    assert "shown:" not in run("timeline", MAIN, "--no-progress").stderr


def test_sqlite_conversations_view_counts_each_message_once(tmp_path):
    import sqlite3
    db = tmp_path / "case.db"
    assert run("export", MAIN, "--no-progress", "-o", str(db)).returncode == 0
    rows = sqlite3.connect(db).execute(
        "SELECT sb_session_id, message_rows, messages, sessions FROM conversations").fetchall()
    # three messages, seen seven times on the three participants' connections
    assert rows == [("11752013", 7, 3, "5,6,7")]


def test_buffered_views_show_progress_on_a_terminal_until_their_first_row():
    # (commands on a terminal streams its rows instead; --wide buffers it)
    for command, extra in (("timeline", []), ("commands", ["--wide"]), ("stats", [])):
        out = terminal(command, MAIN, *extra, cols=120).decode()
        head = out.index("verb " if command == "stats" else "time ")
        assert "msnp8_session.pcap  [" in out[:head] and "MB/s" in out[:head], command
        assert "MB/s" not in out[head:], command        # never inside the table


def test_read_of_an_account_not_in_the_capture_is_nothing_matched():
    for extra in ([], ["--format", "json"]):
        r = run("read", MAIN, "--no-progress", "--account", "nobody@x.com", *extra)
        assert r.returncode == 1
        assert r.stderr.splitlines()[-1] == "msnsniff: nothing matched (no session of nobody@x.com)"
    assert run("read", MAIN, "--no-progress", "--account", "BOB@hotmail.com").returncode == 0


def test_a_filtered_read_says_what_it_showed_of_what():
    import subprocess
    import sys

    from conftest import cap

    def summary(*args):
        out = subprocess.run([sys.executable, "-m", "msnsniff", "read", cap("msnp8_session.pcap"),
                              *args], capture_output=True, text=True, timeout=60).stdout
        return out.split("=== Capture summary\n", 1)[1]
    assert "shown " not in summary()
    assert "shown                        1 of 9 connections (the counts below are the whole " \
           "capture's)" in summary("--connection", "2")
    # bob's notification session, his switchboard and the two MSNFTP transfers
    assert "4 of 9 connections" in summary("--account", "bob@hotmail.com")


def test_follow_since_until_keeps_the_commands_of_a_moment():
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "msnsniff", "follow", cap("msnp8_session.pcap"), "5",
                        "--since", "2026-11-25T02:59:09.47Z", "--until", "2026-11-25T02:59:09.50Z"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    commands = [ln for ln in r.stdout.splitlines() if ln[:2].isdigit()]
    assert commands == ["02:59:09.471762Z → MSG 4 N 153"]
    assert "Hi Bob, are you there?" in r.stdout and "TypingUser" not in r.stdout
    assert r.stdout.startswith("=== connection 5: ") and "=== closed (fin)" in r.stdout
    assert r.stderr.strip() == "shown: 1 of 23 commands and gaps of the connection (--since/--until)"


def test_a_piped_table_streams_after_its_first_rows(monkeypatch):
    """Piped (no terminal), a long table is written as its rows come: the first
    STREAM_AFTER rows fix the widths, later rows are neither held nor cut."""
    import io

    from msnsniff.output import emit as E
    from msnsniff.output import tablestream
    monkeypatch.setattr(tablestream, "STREAM_AFTER", 5)
    pulled, out = [], io.StringIO()

    def rows():
        for i in range(12):
            pulled.append(i)
            if i == 8:      # by now the first rows are on the page already
                assert out.getvalue().count("\n") >= 2 + 5
            yield {"verb": "MSG", "params": "x" * (40 if i == 10 else 3), "n": i}
    E.emit(rows(), ["verb", "params", "n"], "table", out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["verb", "params", "n"] and set(lines[1]) <= {"-", " "}
    assert len(lines) == 2 + 12 and pulled == list(range(12))
    assert lines[2 + 10] == "MSG     " + "x" * 40 + "  10"        # wider: pushed, not cut
    assert lines[2 + 11] == "MSG     xxx       11"
    # a short table is rendered as before (render_table)
    short = io.StringIO()
    E.emit([{"verb": "USR", "params": "a", "n": 1}], ["verb", "params", "n"], "table", short)
    assert short.getvalue() == E.render_table([["USR", "a", "1"]], ["verb", "params", "n"]) + "\n"


def test_live_shows_the_first_typing_notice_of_an_unknown_sender(tmp_path):
    """A capture that starts mid-switchboard: no USR/ANS names the connection's account
    and the client's notice has no TypingUser.  The first notice is a line (the check
    against the last one shown compared None with None and hid it)."""
    from conftest import conversation, write_pcap
    typing = b"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\n\r\n\r\n"
    text = b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhi"
    path = write_pcap(tmp_path / "mid.pcap", conversation(server=("10.0.0.3", 1863), c2s=[
        b"MSG 5 U %d\r\n" % len(typing) + typing, b"MSG 6 U %d\r\n" % len(typing) + typing,
        b"MSG 7 N %d\r\n" % len(text) + text, b"MSG 8 U %d\r\n" % len(typing) + typing]))
    recs = live_lines(path)
    typed = [r for r in recs if r[0] == "typing"]
    # the first notice, not its repeat; again after the message came between
    assert typed == [("typing", "typing    unknown …"), ("typing", "typing    unknown …")]
    assert [r[0] for r in recs] == ["typing", "message", "typing"]


def live_lines(path) -> list[tuple[str, str]]:
    """(event, text) of each line `live` would print for a capture file."""
    from msnsniff.capture.files import read_segments
    from msnsniff.model import Analysis
    from msnsniff.output.livefmt import LiveFormatter
    from msnsniff.pipeline import Pipeline
    pipe, analysis = Pipeline(), Analysis(sink=lambda t, r: None, stream_sessions=True)
    printer = LiveFormatter(analysis)
    recs = []
    for seg in read_segments(path):
        for ev in pipe.feed(seg):
            analysis.apply(ev)
            rec = printer.record(ev)
            if rec is not None:
                recs.append((rec["event"], rec["text"]))
    return recs


def test_live_lines_read_each_connection_kind_state_while_it_is_open():
    """`live` makes its lines from the state of the connection still open (the sign-in's
    client, the profile, the CHL being answered, the switchboard's roster, the MSNFTP
    byte count), which `read` and `export` never show mid-connection."""
    recs = live_lines(cap("msnp8_session.pcap"))
    text = lambda event: [t for e, t in recs if e == event]
    assert text("sign-in")[0] == ("sign-in   alice@hotmail.com “Alice Liddell ✿” MSNMSGR 5.0.0544 "
                                  "MSNP8 from 127.0.0.10:52677")
    assert text("profile")[0] == ("profile   alice@hotmail.com: ClientIP 127.0.0.10 ClientPort "
                                  "50637 → 52677 (byte-swapped); observed 127.0.0.10:52677; NAT no")
    assert text("challenge-answer") == [
        "challenge alice@hotmail.com: QRY msmsgs@msnmsgr.com answer valid"]
    assert text("message")[4] == (
        "chat      carol@hotmail.com → alice@hotmail.com, bob@hotmail.com: こんにちは 👋 everyone")
    assert text("transfer-end") == [
        "transfer  session 8: BYE 16777989 (received successfully); 3000 of 3000 bytes",
        "transfer  session 9: CCL; 2045 of 5120 bytes"]


def test_live_lines_of_every_dialect_say_what_the_model_decoded():
    """`live` takes the presence's status and capabilities and a challenge answer's
    validity from the rows the model made (Analysis.made), and reads the personal data
    from its dataclass: a UBX line raised before this test existed."""
    recs = live_lines(cap("msnp_dialects.pcap"))
    text = lambda event: [t for e, t in recs if e == event]
    assert "psm       alice11@example.com: “En réunion ☕ ça” ♪ Music: Seven Nation Army - " \
           "The White Stripes" in text("personal-message")
    assert text("challenge-answer") == [
        "challenge alice11@example.com: QRY PROD0090YUAUV{2B answer valid",
        "challenge alice11@example.com: QRY PROD0090YUAUV{2B answer INVALID",
        "challenge alice15@example.com: QRY PROD0118R6%2WYOS answer valid"]
    assert "presence  alice12@example.com is Online [MSNC5: multi-packet messaging]" \
        in text("presence")
    assert "presence  erin@yahoo.com “Erin” is Away [MSNC0] (seen by alice15@example.com)" \
        in text("presence")
