"""Many captures: per-capture exports in one process, in two, and on a real Dask
LocalCluster give the same rows; the Python API."""

import json
import os
import sqlite3
import subprocess
import sys

import pytest
from conftest import cap

CAPS = [cap(n) for n in ("msnp8_session.pcap", "compat_failures.pcap", "p2p_transfers.pcap.gz",
                         "http_gateway.pcap")]


def export(out, fmt, *extra):
    r = subprocess.run([sys.executable, "-m", "msnsniff", "export", *CAPS, "--per-capture",
                        "--format", fmt, "--out", str(out), "--no-progress", *extra],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return out


def rows_of(folder, fmt):
    out = {}
    for name in sorted(os.listdir(folder)):
        path = folder / name
        if fmt == "jsonl":
            out[name] = [json.loads(x) for x in path.read_text().splitlines()
                         if '"table": "summary"' not in x]
        elif fmt == "json":
            d = json.loads(path.read_text())
            d.pop("summary")
            out[name] = d
        elif fmt == "sqlite":
            db = sqlite3.connect(path)
            out[name] = {t: db.execute(f'select * from "{t}"').fetchall()
                         for (t,) in db.execute("select name from sqlite_master where "
                                                "type='table' and name not like '%fts%' "
                                                "and name != 'meta'")}
        else:
            out[name] = {f: (path / f).read_bytes() for f in sorted(os.listdir(path))
                         if f.endswith(".csv")}
    return out


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "sqlite"])
def test_one_two_processes_same_rows(tmp_path, fmt):
    one = rows_of(export(tmp_path / "one", fmt), fmt)
    two = rows_of(export(tmp_path / "two", fmt, "-j", "2"), fmt)
    names = {"jsonl": ".jsonl", "json": ".json", "sqlite": ".db", "csv": ""}[fmt]
    assert sorted(one) == sorted(f"{n}{names}" for n in ("msnp8_session", "compat_failures",
                                                         "p2p_transfers", "http_gateway"))
    assert one == two


def test_dask_local_cluster_same_rows(tmp_path):
    pytest.importorskip("distributed")
    one = rows_of(export(tmp_path / "one", "jsonl"), "jsonl")
    dask = rows_of(export(tmp_path / "dask", "jsonl", "--dask", "local", "-j", "2"), "jsonl")
    assert one == dask
    assert sum(1 for r in dask["msnp8_session.jsonl"] if r["table"] == "messages") == 21


def test_each_per_capture_export_equals_the_single_export(tmp_path):
    export(tmp_path / "pc", "json")
    single = subprocess.run([sys.executable, "-m", "msnsniff", "export", CAPS[2], "--format",
                             "json", "-o", "-", "--no-progress"], capture_output=True,
                            text=True).stdout
    a, b = json.loads(single), json.loads((tmp_path / "pc" / "p2p_transfers.json").read_text())
    a.pop("summary"), b.pop("summary")
    assert a == b


def test_python_api():
    import msnsniff
    doc = msnsniff.analyse(CAPS[0])
    assert [m["text"] for m in doc["messages"] if m["kind"] == "text"][:2] == [
        "Hi Bob, are you there?", "Yes! Café at 5?"]
    both = msnsniff.analyse(CAPS[:2], jobs=2)
    assert len(both["sessions"]) == len(doc["sessions"]) + len(msnsniff.analyse(CAPS[1])["sessions"])
    rows = list(msnsniff.iter_rows([CAPS[0]], tables={"messages", "transfers"}))
    assert {t for t, _ in rows} == {"messages", "transfers"}
    assert sorted(r["text"] or "" for t, r in rows if t == "messages") == \
        sorted(m["text"] or "" for m in doc["messages"])
    it = msnsniff.iter_rows(CAPS[0])
    first = next(it)
    it.close()                                      # stopping early stops the analysis
    assert first[0] in ("sessions", "presence", "contacts", "groups", "list_changes",
                        "notifications", "messages", "participants", "invitations",
                        "challenges", "errors", "anomalies", "personal_messages")
    red = msnsniff.analyse(CAPS[0], redact=True)
    assert red["summary"]["redacted"]["on"] is True
