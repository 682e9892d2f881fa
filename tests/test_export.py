"""export: JSON/JSONL/CSV/SQLite round trips, schema, redaction, hostile values, safety."""

import csv
import glob
import json
import os
import re
import sqlite3

import jsonschema
import pytest
from conftest import CAPTURES, cap, invoke

from msnsniff.model.schema import TABLES, json_schema, markdown
from msnsniff.output.emit import split_list

MAIN = cap("msnp8_session.pcap")
ALL = sorted(glob.glob(os.path.join(CAPTURES, "*.pcap*")))




def export_json(*caps, extra=()):
    r = invoke("export", *caps, "--format", "json", "-o", "-", *extra)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_json_export_equals_read_json():
    r = invoke("read", MAIN, "--format", "json")
    assert json.loads(r.stdout) == export_json(MAIN)


@pytest.mark.parametrize("path", ALL, ids=os.path.basename)
def test_every_capture_validates_against_the_shipped_schema(path):
    import importlib.resources
    schema = json.loads(importlib.resources.files("msnsniff.model").joinpath("schema.json").read_text())
    assert schema == json_schema()
    jsonschema.validate(export_json(path), schema)


def test_docs_and_code_list_the_same_columns():
    doc = open(os.path.join(os.path.dirname(CAPTURES), "docs", "schema.md"), encoding="utf-8").read()
    assert doc.strip() == markdown().strip()
    documented = {}
    table = None
    for line in doc.splitlines():
        if line.startswith("## "):
            table = line[3:].strip()
        m = re.match(r"\| `(\w+)` \| (\w+) \|", line)
        if m:
            documented.setdefault(table, []).append(m.group(1))
    assert documented == {t: [c[0] for c in cols] for t, cols in TABLES.items()}
    d = export_json(MAIN)
    assert {t: list(rows[0]) for t, rows in d.items() if isinstance(rows, list) and rows} == {
        t: documented[t] for t, rows in d.items() if isinstance(rows, list) and rows}


def _from_csv(value, typ):
    if value[:1] == "'" and value[1:2] in ("=", "+", "-", "@", "\t", "\r"):
        value = value[1:]                   # the documented formula neutralisation
    if value == "":
        return None
    if typ == "integer":
        return int(value)
    if typ == "boolean":
        return {"true": True, "false": False}[value]
    if typ == "list":
        return split_list(value)
    if typ == "intlist":
        return [int(x) for x in split_list(value)]
    if typ == "objectlist":          # one item per object, its k=v pairs joined
        return [dict(kv.split("=", 1) for kv in item.split("; ")) for item in split_list(value)]
    if typ == "object":
        return json.loads(value)
    return value


def _comparable(v, typ):
    if v == "" or (typ in ("list", "intlist", "objectlist") and v == []):
        return None          # documented: empty CSV cells are null
    return v


@pytest.mark.parametrize("name", ["msnp8_session.pcap", "hostile.pcap", "compat_failures.pcap"])
def test_csv_round_trip(tmp_path, name):
    d = export_json(cap(name))
    out = tmp_path / "csv"
    r = invoke("export", cap(name), "--format", "csv", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert sorted(os.listdir(out)) == sorted([f"{t}.csv" for t in TABLES] + ["summary.json"])
    for t, cols in TABLES.items():
        with open(out / f"{t}.csv", encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        assert rows[0] == [c[0] for c in cols]           # header even when empty
        assert len(rows) - 1 == len(d[t])
        for got, want in zip(rows[1:], d[t]):
            for (n, typ, *_), cellv in zip(cols, got):
                assert _comparable(_from_csv(cellv, typ), typ) == _comparable(want[n], typ), (t, n)


def test_sqlite_round_trip(tmp_path):
    d = export_json(MAIN)
    db = tmp_path / "out.db"
    assert invoke("export", MAIN, "--format", "sqlite", "-o", str(db)).exit_code == 0
    con = sqlite3.connect(db)
    for t, cols in TABLES.items():
        names = ", ".join(f'"{c[0]}"' for c in cols)      # (not the row_id key)
        rows = con.execute(f'select {names} from "{t}"').fetchall()
        assert len(rows) == len(d[t])
        for got, want in zip(rows, d[t]):
            for (n, typ, *_), v in zip(cols, got):
                if typ == "boolean" and v is not None:
                    v = bool(v)
                elif typ in ("list", "intlist", "objectlist", "object") and v is not None:
                    v = json.loads(v)
                assert v == want[n], (t, n)
    # questions answered directly in SQL
    assert con.execute("select sender, text from messages where kind='text' and direction='out' "
                       "order by time").fetchall() == [
        ("alice@hotmail.com", "Hi Bob, are you there?"), ("bob@hotmail.com", "Yes! Café at 5?"),
        ("carol@hotmail.com", "こんにちは 👋 everyone")]
    assert con.execute("select json_extract(profile, '$.client_port') from sessions "
                       "where passport='alice@hotmail.com' and kind='notification'").fetchone() == (52677,)
    idx = {r[0] for r in con.execute("select name from sqlite_master where type='index'")}
    assert {"messages_session", "messages_time", "contacts_passport", "sessions_passport"} <= idx
    types = {r[1]: r[2] for r in con.execute("pragma table_info(contacts)")}
    assert types["list_bits"] == "INTEGER" and types["passport"] == "TEXT"


def test_jsonl_line_count_and_tables(tmp_path):
    d = export_json(MAIN)
    out = tmp_path / "a.jsonl"
    assert invoke("export", MAIN, "--format", "jsonl", "-o", str(out)).exit_code == 0
    lines = [json.loads(ln) for ln in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == sum(len(d[t]) for t in TABLES) + 1
    assert lines[-1]["table"] == "summary" and lines[-1]["sessions"] == 9
    # streamed: rows leave as their connection finishes — the dispatch connection's
    # session row first; the one forward link that is only known later (dispatch ->
    # NS) is in the NS row
    assert (lines[0]["table"], lines[0]["id"], lines[0]["redirected_to_session"]) == (
        "sessions", 1, None)
    assert sorted(x["id"] for x in lines if x["table"] == "sessions") == list(range(1, 10))
    by_table = {}
    for x in lines[:-1]:
        by_table.setdefault(x.pop("table"), []).append(x)
    d["sessions"][0]["redirected_to_session"] = None
    for t in TABLES:
        key = lambda r: json.dumps(r, sort_keys=True)
        assert sorted(by_table.get(t, []), key=key) == sorted(d[t], key=key), t
    r = invoke("export", MAIN, "--format", "jsonl", "-o", "-", "--tables", "contacts,groups")
    rows = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert {x["table"] for x in rows} == {"contacts", "groups", "summary"} and len(rows) == 11


def test_several_captures_say_where_each_record_came_from():
    d = export_json(MAIN, cap("compat_failures.pcap"))
    assert {s["capture"] for s in d["sessions"]} == {MAIN, cap("compat_failures.pcap")}
    ids = [s["id"] for s in d["sessions"]]
    assert ids == list(range(1, len(ids) + 1))                 # unique across files
    err = [e for e in d["errors"] if e["code"] == 911][0]
    assert err["capture"] == cap("compat_failures.pcap")


SECRETS = ["5QZGIz7mc8aa2Bbl0aPpmB3YnnJ1DEOTdvSJ2Nu0qTPz9lHCuN8O6bRz2VpLZBhN0dmlKvhJ5A$$",
           "5KaSYb0Ax!ZW8T6Ljm7Fp1ZQ9aqfJ*Hk3Z6y$$", "17262740.1062764410.32308",
           "849102291.520491113", "1115371039.15845", "1735283", "1735284"]


def test_redaction_removes_every_secret_from_every_format(tmp_path):
    plain = json.dumps(export_json(MAIN), ensure_ascii=False)
    assert all(s in plain for s in SECRETS)                      # they are there to remove
    outs = []
    for fmt, target in (("json", "-o"), ("jsonl", "-o"), ("sqlite", "-o"), ("csv", "--out")):
        p = tmp_path / f"out-{fmt}"
        r = invoke("export", MAIN, "--format", fmt, target, str(p), "--redact", "--redact-qry")
        assert r.exit_code == 0 and "(redacted)" in r.output
        outs += [p] if fmt != "csv" else list(p.iterdir())
    for p in outs:
        data = p.read_bytes()
        for s in SECRETS + ["8f2f5a91b72102cd28355e9fc9000d6e"]:
            assert s.encode() not in data, (p.name, s)
    d = json.loads((tmp_path / "out-json").read_text())
    assert d["summary"]["redacted"]["on"] is True
    assert d["sessions"][1]["ticket"] == "[redacted]"
    assert d["sessions"][1]["profile"]["headers"]["MSPAuth"] == "[redacted]"
    # other commands
    for args in (["read", MAIN, "--redact"], ["commands", MAIN, "--redact", "--redact-qry"],
                 ["chats", MAIN, "--redact"]):
        out = invoke(*args).output
        assert not [s for s in SECRETS if s in out], args
    assert re.search(r"redaction\s+on: tickets, MSPAuth and cookies masked",
                     invoke("read", MAIN, "--redact").output)


def test_hostile_values_in_csv_are_neutralised_and_kept_in_json(tmp_path):
    d = export_json(cap("hostile.pcap"))
    names = {c["passport"]: c["friendly_name"] for c in d["contacts"]}
    assert names["mallory@hotmail.com"] == "=2+5+cmd|' /C calc'!A0"
    assert names["quote@hotmail.com"] == '"Quoted", comma\nnew line'
    # bytes that are not UTF-8 stay recoverable: escaped in the text, exact in the raw
    assert names["bad@hotmail.com"] == "Bad\\xff\\xfeUTF8\\xe2("
    raw = {c["passport"]: c["friendly_name_raw"] for c in d["contacts"]}
    assert bytes.fromhex(raw["bad@hotmail.com"]) == b"Bad\xff\xfeUTF8\xe2("
    assert raw["quote@hotmail.com"] is None        # valid UTF-8: the text is exact
    alice = [s for s in d["sessions"] if s["kind"] == "notification"][0]
    assert alice["friendly_name"] == "\x1b[2J\x1b[31mALICE\x1b[0m\x07"      # exact in JSON
    out = tmp_path / "csv"
    invoke("export", cap("hostile.pcap"), "--format", "csv", "--out", str(out))
    with open(out / "contacts.csv", encoding="utf-8", newline="") as f:
        rows = {r["passport"]: r for r in csv.DictReader(f)}
    assert rows["mallory@hotmail.com"]["friendly_name"] == "'=2+5+cmd|' /C calc'!A0"
    assert rows["mallory@hotmail.com"]["group_names"] == "'=HYPERLINK(\"http://x\"),1"
    assert rows["quote@hotmail.com"]["friendly_name"] == '"Quoted", comma\nnew line'
    with open(out / "messages.csv", encoding="utf-8", newline="") as f:
        text = [r["text"] for r in csv.DictReader(f) if r["kind"] == "text"][0]
    assert text == "\x1b]0;pwned\x07\x1b[2J@SUM(1+1)*cmd|' /C calc'!A0\r\nsecond, \"line\""
    raw = tmp_path / "raw"
    invoke("export", cap("hostile.pcap"), "--format", "csv", "--out", str(raw), "--raw-csv")
    with open(raw / "contacts.csv", encoding="utf-8", newline="") as f:
        assert [r["friendly_name"] for r in csv.DictReader(f)][0] == "=2+5+cmd|' /C calc'!A0"


def test_never_overwrites_without_force_and_writes_atomically(tmp_path):
    out = tmp_path / "x.json"
    out.write_text("keep me")
    r = invoke("export", MAIN, "--format", "json", "-o", str(out))
    assert r.exit_code == 2 and "exists (use --force to overwrite)" in r.output
    assert out.read_text() == "keep me"
    assert invoke("export", MAIN, "--format", "json", "-o", str(out), "--force").exit_code == 0
    assert json.loads(out.read_text())["sessions"][0]["kind"] == "dispatch"
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]          # no temp files left
    csvdir = tmp_path / "c"
    csvdir.mkdir()
    (csvdir / "errors.csv").write_text("mine")
    r = invoke("export", MAIN, "--format", "csv", "--out", str(csvdir))
    assert r.exit_code == 2 and "errors.csv: exists" in r.output
    assert [p.name for p in csvdir.iterdir()] == ["errors.csv"]        # nothing half written


@pytest.mark.parametrize("args, message", [
    (["--format", "csv", "-o", "-"], "give -o DIR"),
    (["--format", "json"], "give -o PATH"),
    (["--format", "sqlite", "-o", "-"], "sqlite cannot be written to standard output"),
    (["--format", "json", "-o", "-", "--tables", "contacts,nope"], "unknown table(s) nope"),
    (["--format", "json", "-o", "/nonexistent-dir/x.json"], "/nonexistent-dir: no such directory"),
])
def test_export_usage_errors(args, message):
    r = invoke("export", MAIN, *args)
    assert r.exit_code == 2 and message in r.output


@pytest.mark.parametrize("name", ["msnp8_session.pcap", "msnp_dialects.pcap",
                                  "p2p_transfers.pcap.gz", "http_gateway.pcap"])
def test_streamed_exports_equal_the_document(tmp_path, name):
    """json, csv and sqlite are written from rows spooled to disk (flat memory); what they
    hold is exactly the analysis document."""
    from msnsniff.engine.analyze import analyse
    from msnsniff.output import export as ex
    doc = analyse([cap(name)])
    doc["summary"]["tool"] = None
    streamed = invoke("export", cap(name), "--format", "json", "-o", "-").output
    got = json.loads(streamed)
    got["summary"]["tool"] = None
    assert got == json.loads(ex.to_json(ex.public_doc(doc)))
    invoke("export", cap(name), "--format", "csv", "--out", str(tmp_path / "s"))
    ex.write_document(doc, "csv", str(tmp_path / "d"), False)
    for f in sorted(os.listdir(tmp_path / "d")):
        if f.endswith(".csv"):
            assert (tmp_path / "s" / f).read_bytes() == (tmp_path / "d" / f).read_bytes(), f


def test_spool_spills_and_merges_in_document_order(tmp_path):
    import msnsniff.engine.spool as sp
    from msnsniff.engine.analyze import analyse
    from msnsniff.engine.spool import SpooledDocument, spool_analysis
    doc = analyse([MAIN])
    old = sp.RUN
    try:
        s = SpooledDocument(run=7)                 # many tiny runs on disk
        sp.SpooledDocument.__init__.__defaults__ = (7,)
        s = spool_analysis([MAIN, MAIN])
        assert len(s.files) > 5
        tables = {t: list(rows) for t, rows in s.tables()}
    finally:
        sp.SpooledDocument.__init__.__defaults__ = (old,)
    both = analyse([MAIN, MAIN])
    for t, rows in tables.items():
        want = [{k: v for k, v in r.items() if not k.startswith("_")} for r in both[t]]
        assert rows == want, t
    assert len(tables["sessions"]) == 2 * len(doc["sessions"])


@pytest.mark.parametrize("flags, keep", [
    (["--account", "BOB@hotmail.com"],
     lambda s: (s["passport"] or "").lower() == "bob@hotmail.com"),
    (["--with", "carol@hotmail.com"],
     lambda s: "carol@hotmail.com" in [p.lower() for p in s["participants"] or []]
     or (s["passport"] or "").lower() == "carol@hotmail.com"),
    (["--connection", "2", "--connection", "5"], lambda s: s["id"] in (2, 5)),
])
def test_filtered_export_holds_exactly_the_rows_of_those_sessions(tmp_path, flags, keep):
    whole = export_json(cap("msnp8_session.pcap"))
    ids = {s["id"] for s in whole["sessions"] if keep(s)}
    assert 0 < len(ids) < len(whole["sessions"])
    expected = {t: [r for r in whole[t] if (r["id"] if t == "sessions" else r["session"]) in ids]
                for t in TABLES}
    got = export_json(cap("msnp8_session.pcap"), extra=flags)
    for t in TABLES:
        assert got[t] == expected[t], t
    kept = sum(len(v) for v in expected.values())
    assert got["summary"]["filter"]["rows_kept"] == kept
    assert got["summary"]["filter"]["rows_seen"] == sum(len(whole[t]) for t in TABLES)
    # JSON Lines and SQLite hold the same rows
    jl = tmp_path / "f.jsonl"
    r = invoke("export", cap("msnp8_session.pcap"), *flags, "-o", str(jl))
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in jl.read_text().splitlines()]
    assert len(lines) == kept + 1 and lines[-1]["filter"]["rows_kept"] == kept
    assert f"kept {kept:,} of" in r.output
    db = tmp_path / "f.db"
    assert invoke("export", cap("msnp8_session.pcap"), *flags, "-o", str(db)).exit_code == 0
    con = sqlite3.connect(db)
    assert con.execute("select count(*) from messages").fetchone()[0] == len(expected["messages"])
    assert sorted(i for (i,) in con.execute("select id from sessions")) == sorted(ids)


def test_filtered_export_by_time_keeps_rows_inside_the_window():
    whole = export_json(cap("msnp8_session.pcap"))
    times = sorted(m["time"] for m in whole["messages"])
    since, until = times[2], times[-3]
    got = export_json(cap("msnp8_session.pcap"), extra=["--since", since, "--until", until])
    assert sorted(m["time"] for m in got["messages"]) == times[2:-2]
    assert len(times[2:-2]) == len(times) - 4
    assert got["summary"]["filter"]["since"] == since


def test_sqlite_case_file_holds_the_protocol_trace(tmp_path):
    """The `trace` table: every row `commands` shows, the CHL/QRY pair findable in SQL,
    joined to its session; export's filters keep their connections' rows only."""
    db = tmp_path / "case.db"
    assert invoke("export", MAIN, "--format", "sqlite", "-o", str(db)).exit_code == 0
    r = invoke("commands", MAIN, "--format", "csv")
    trace_csv = list(csv.DictReader(r.stdout.splitlines()))
    con = sqlite3.connect(db)
    rows = con.execute("select time, session, direction, verb, trid, params, payload_length "
                       "from trace order by row_id").fetchall()
    assert len(rows) == len(trace_csv) == 145
    assert [(t, int(c), d, v) for t, c, d, v, *_ in rows] == [
        (x["time"], int(x["connection"]), x["direction"], x["verb"]) for x in trace_csv]
    assert con.execute(
        "select s.passport, t.direction, t.params from trace t join sessions s on s.id = t.session"
        " where t.verb = 'QRY' and t.direction = 'c2s'").fetchall() == [
        ("alice@hotmail.com", "c2s", '["msmsgs@msnmsgr.com", "32"]')]
    # names decoded as commands shows them
    assert con.execute("select params from trace where verb = 'REA' and direction = 's2c'"
                       ).fetchone()[0] == '["46", "alice@hotmail.com", "Alice in Wonderland"]'
    # --account: only alice's connections; --no-trace: no table
    db2 = tmp_path / "alice.db"
    assert invoke("export", MAIN, "--format", "sqlite", "-o", str(db2), "--account",
                  "alice@hotmail.com").exit_code == 0
    con2 = sqlite3.connect(db2)
    kept = {s for (s,) in con2.execute("select distinct session from trace")}
    assert kept == {s for (s,) in con2.execute("select id from sessions")} and len(kept) < 9
    db3 = tmp_path / "none.db"
    assert invoke("export", MAIN, "--format", "sqlite", "-o", str(db3), "--no-trace").exit_code == 0
    assert sqlite3.connect(db3).execute(
        "select count(*) from sqlite_master where name = 'trace'").fetchone() == (0,)


def test_sqlite_keeps_endpoints_as_objects(tmp_path):
    """MSNP16+ endpoints are objects in the rows: SQL reaches into them (no k=v text to
    parse again); CSV joins them, one list item per endpoint."""
    fid = cap("fidelity.pcap")
    db = tmp_path / "f.db"
    assert invoke("export", fid, "--format", "sqlite", "-o", str(db)).exit_code == 0
    con = sqlite3.connect(db)
    got = con.execute("select json_extract(endpoints, '$[0].name'), "
                      "json_extract(endpoints, '$[0].state') from personal_messages "
                      "where json_extract(endpoints, '$[0].name') is not null").fetchall()
    assert got == [("HOME-PC", "NLN")]
    out = tmp_path / "csv"
    assert invoke("export", fid, "--format", "csv", "--out", str(out)).exit_code == 0
    with open(out / "personal_messages.csv", newline="", encoding="utf-8") as f:
        cells = [r["endpoints"] for r in csv.DictReader(f) if r["endpoints"]]
    assert [split_list(c) for c in cells] == [
        ["capabilities=2789003324:48"], ["name=HOME-PC; client_type=1; state=NLN; idle=false"]]


def test_the_api_refuses_an_unknown_format_before_reading(tmp_path):
    """msnsniff.export_capture with a format it does not write: one clear error, raised
    before the capture is read (it wrote SQLite under any other name before)."""
    import msnsniff
    from msnsniff.errors import MsnsniffError
    with pytest.raises(MsnsniffError, match=r"unknown export format 'xml': one of csv, json, "
                                            r"jsonl, sqlite"):
        msnsniff.export_capture(str(tmp_path / "not-read.pcap"), str(tmp_path / "x"), "xml")
    assert not (tmp_path / "x").exists()


def test_a_worker_stopped_twice_still_removes_its_temporary_file(tmp_path):
    """A --jobs worker's export gets SIGTERM while a second signal follows during its
    cleanup (a Ctrl-C reaches the process group, then the parent and the pool send
    SIGTERM): the first stops the job, the others are ignored, and no temporary file of
    the export is left (a second KeyboardInterrupt cut the cleanup short)."""
    import signal
    import subprocess
    import sys
    target = tmp_path / "x.jsonl"
    prog = f"""
import os, signal, sys, time
from msnsniff.engine import pool
from msnsniff.output.export import atomic_path
def job(path):
    with atomic_path(path) as tmp:
        open(tmp, "w").write("half")
        try:
            print("ready", flush=True)
            time.sleep(30)
        finally:
            print("cleaning", flush=True)
            time.sleep(0.5)          # a slow cleanup: the second signal lands inside it
pool._call((job, {str(target)!r}))
"""
    p = subprocess.Popen([sys.executable, "-c", prog], stdout=subprocess.PIPE, text=True)
    # (the signal goes once the job is inside its try, its temporary file written)
    assert p.stdout.readline() == "ready\n"
    assert [n for n in os.listdir(tmp_path) if ".msnsniff-" in n]
    p.send_signal(signal.SIGTERM)
    assert p.stdout.readline() == "cleaning\n"
    p.send_signal(signal.SIGINT)
    p.send_signal(signal.SIGTERM)
    assert p.wait(10) == 130
    assert os.listdir(tmp_path) == []
