"""The analyst's workflow: timeline, follow, grep, and the SQLite case file (FTS5,
keys, views, provenance) served by a real Datasette."""

import json
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import cap, msnsniff

MAIN = cap("msnp8_session.pcap")


def run(*args):
    extra = [] if args[0] == "follow" else ["--no-progress"]
    return msnsniff(*args, *extra)


def test_timeline_order_and_content():
    rows = json.loads(run("timeline", MAIN, "--format", "json").stdout)
    times = [r["time"] for r in rows]
    assert times == sorted(times)
    kinds = [(r["kind"], r["account"]) for r in rows[:6]]
    assert kinds == [("login", "alice@hotmail.com"), ("profile", "alice@hotmail.com"),
                     ("presence", "alice@hotmail.com"), ("presence", "alice@hotmail.com"),
                     ("presence", "alice@hotmail.com"), ("challenge", None)]
    assert rows[1]["description"] == ("profile: ClientIP 127.0.0.10, ClientPort 50637 "
                                      "(corrected 52677), no NAT")
    msg = [r for r in rows if r["kind"] == "message" and "Café" in r["description"]]
    assert [(r["session"], r["description"]) for r in msg] == [
        (6, "bob@hotmail.com → alice@hotmail.com: Yes! Café at 5? "
            "(copies on connections 6, 5)")]            # one event per message (issue 30)
    last = rows[-1]
    assert (last["kind"], last["description"]) == ("logout", "alice@hotmail.com signed out "
                                                              "(OUT by client)")
    assert [r["description"] for r in rows if r["kind"] == "transfer"] == [
        "file notes.txt alice@hotmail.com → bob@hotmail.com: 3000 of 3000 bytes, complete, "
        "sha256 f541874101876255b4baf3a739778d04cb9cba25ffa38b30bc1fb8b0701f2a45",
        "file ../secret plan.txt alice@hotmail.com → bob@hotmail.com: 2045 of 5120 bytes, "
        "cancelled, sha256 c28703a9372e0b16328aefbdb1b517a4c7fc4c5b148fa88d8d7e82115f4d3567"]


def test_timeline_filters_and_timesketch():
    rows = json.loads(run("timeline", MAIN, "--format", "json", "--account", "BOB@hotmail.com",
                          "--since", "2026-11-25T02:59:09.45Z",
                          "--until", "2026-11-25T02:59:09.50Z").stdout)
    assert [(r["kind"], r["description"]) for r in rows] == [
        ("switchboard", "bob@hotmail.com joined switchboard session 11752013 at 127.0.0.3:1864"),
        ("conversation", "alice@hotmail.com was there"),
        ("message", "alice@hotmail.com → bob@hotmail.com: Hi Bob, are you there?"),
        ("message", "bob@hotmail.com → alice@hotmail.com: Yes! Café at 5?")]
    ts = [json.loads(x) for x in run("timeline", MAIN, "--format", "timesketch", "--grep",
                                     "café", "-i").stdout.splitlines()]
    # the message once, not once per copy (issue 30)
    assert len(ts) == 1 and all(set(t) >= {"message", "datetime", "timestamp_desc"} for t in ts)
    assert ts[0]["timestamp_desc"] == "MSN message" and ts[0]["datetime"].endswith("Z")


def test_timeline_memory_is_flat(tmp_path):
    from msnsniff.output.timeline import TimelineSort
    s = TimelineSort(run=1000)                       # runs spill to disk past 1,000 entries
    import random
    rnd = random.Random(5)
    entries = [(f"2026-01-01T00:00:{rnd.random() * 60:09.6f}Z", i, None, "k", "d")
               for i in range(5000)]
    for e in entries:
        s.add(e)
    assert len(s.files) == 5 and len(s.buf) == 0
    assert list(s) == sorted(entries, key=lambda e: (e[0], e[1]))


def test_follow_a_switchboard_with_a_split_message():
    out = run("follow", MAIN, "6").stdout
    lines = out.splitlines()
    assert lines[0] == "=== connection 6: 127.0.0.11:57365 → 127.0.0.3:1864"
    # bob's reply was written in three pieces (split inside the MSG line and its payload):
    # follow shows the command once, whole, with its payload's boundaries
    i = lines.index("02:59:09.498359Z → MSG 2 A 129")
    assert lines[i + 1:i + 8] == ["      ┌ payload 129 bytes", "      │ MIME-Version: 1.0",
                                  "      │ Content-Type: text/plain; charset=UTF-8",
                                  "      │ X-MMS-IM-Format: FN=Arial; EF=; CO=0; CS=0; PF=22",
                                  "      │", "      │ Yes! Café at 5?", "      └"]
    assert lines[-1].startswith("=== closed (fin)")


def test_follow_a_connection_with_damage_and_raw_bytes():
    out = run("follow", cap("mid_session.pcap"), "--client", "127.0.0.10:52677").stdout
    assert "← !! 41 bytes undecodable at offset 0 (not an MSNP command line)" in out
    raw = run("follow", MAIN, "2", "--raw").stdout
    assert "      000000  56 45 52 20 34 20 4d 53 4e 50 38 20 43 56 52 30  VER 4 MSNP8 CVR0" in raw
    nope = run("follow", MAIN, "99")
    assert nope.returncode == 2 and "no connection 99" in nope.stderr


def test_follow_a_gateway_session_across_tcp_connections():
    out = run("follow", cap("http_gateway.pcap"), "2").stdout
    assert "→ CHG 8 AWY 0" in out and "→ VER 1 MSNP8 CVR0" in out    # both TCP connections
    assert "POST" not in out and "HTTP/1.1" not in out


def test_grep_with_and_without_case():
    assert "Yes! Café at 5?" in run("chats", MAIN, "--grep", "CAFÉ", "-i").stdout
    none = run("chats", MAIN, "--grep", "CAFÉ")
    assert none.returncode == 1 and none.stdout == "" and \
        none.stderr.strip() == "msnsniff: nothing matched (no switchboard conversations)"
    out = run("commands", MAIN, "--grep", "frank", "--format", "csv", "--columns", "verb").stdout
    assert out.split() == ["verb", "ADD", "ADD"]


@pytest.fixture(scope="module")
def case_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("case") / "case.db"
    r = run("export", MAIN, "-o", str(path))
    assert r.returncode == 0, r.stderr
    return path


def test_sqlite_keys_fts_views_and_provenance(case_file):
    db = sqlite3.connect(case_file)
    db.execute("PRAGMA foreign_keys = ON")
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    hits = db.execute("SELECT m.session, m.sender, m.text FROM messages_fts f JOIN messages m "
                      "ON m.row_id = f.rowid WHERE messages_fts MATCH 'café' "
                      "ORDER BY m.session").fetchall()
    assert hits == [(5, "bob@hotmail.com", "Yes! Café at 5?"),
                    (6, "bob@hotmail.com", "Yes! Café at 5?")]
    accounts = db.execute("SELECT passport, protocols FROM accounts ORDER BY 1").fetchall()
    assert accounts == [("alice@hotmail.com", "MSNP8"), ("bob@hotmail.com", "MSNP8"),
                        ("carol@hotmail.com", "MSNP8")]
    conv = db.execute("SELECT sb_session_id, senders FROM conversations").fetchall()
    assert conv == [("11752013", "alice@hotmail.com,bob@hotmail.com,carol@hotmail.com")]
    inputs = json.loads(db.execute("SELECT value FROM meta WHERE key = 'inputs'").fetchone()[0])
    assert inputs[0]["sha256"] and inputs[0]["size"] == 36548
    with pytest.raises(sqlite3.IntegrityError):        # sessions.id is the primary key
        db.execute("INSERT INTO sessions (id, capture, kind, client, server, start, transport, "
                   "bytes_c2s, bytes_s2c, gap_bytes) VALUES (1, 'x', 'x', 'x', 'x', 'x', 'tcp', "
                   "0, 0, 0)")


def test_datasette_serves_the_case_file(case_file):
    pytest.importorskip("datasette")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    p = subprocess.Popen([sys.executable, "-m", "datasette", "serve", str(case_file), "-h",
                          "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        url = (f"http://127.0.0.1:{port}/case/messages.json?_search=caf%C3%A9&_shape=array"
               "&_col=sender&_col=text")
        for _ in range(100):
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    rows = json.load(r)
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("datasette did not answer")
        assert [(r["sender"], r["text"]) for r in rows] == [
            ("bob@hotmail.com", "Yes! Café at 5?"), ("bob@hotmail.com", "Yes! Café at 5?")]
    finally:
        p.terminate()
        p.wait(10)
