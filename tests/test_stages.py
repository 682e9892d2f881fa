"""Two stage processes (msnsniff/stages.py): reading + decoding in a child, the model
and report in the parent.  Whatever the split, the output is the same, errors stay one
line, and an early end of the output stops both processes."""

import json
import os
import subprocess
import sys
import time

import pytest
from conftest import cap, invoke

from msnsniff.cli.common import plan_jobs
from msnsniff.engine.analyze import analyse

CAPS = ["msnp8_session.pcap", "compat_failures.pcap", "hostile.pcap", "reordered.pcap",
        "mid_session.pcap", "ipv6.pcapng", "sb_one_direction.pcap", "msnp_dialects.pcap",
        "p2p_transfers.pcap.gz", "http_gateway.pcap"]


run = invoke


@pytest.mark.parametrize("name", CAPS)
def test_split_gives_the_same_tables_trace_and_document(name):
    path = cap(name)
    for args in (["read"], ["read", "--format", "json"], ["commands", "--format", "jsonl"],
                 ["chats", "--format", "json"]):
        one = run(*args, path, "-j", "1")
        two = run(*args, path, "-j", "2")
        # (1: nothing matched, a capture without conversations for chats)
        assert one.exit_code == two.exit_code and one.exit_code in (0, 1), two.output
        assert one.stdout == two.stdout
    doc = analyse([path], split=True)
    assert doc == analyse([path], split=False)
    assert doc["summary"]["commands"] > 0


@pytest.mark.parametrize("name", CAPS)
def test_read_counts_what_it_does_not_print(name):
    """`read` streams with message rows reduced to their kind (it prints none): its
    summary must still count exactly what the full document holds."""
    path = cap(name)
    doc = json.loads(run("read", path, "--format", "json").stdout)
    table = run("read", path).stdout
    lines = table.split("=== Capture summary\n", 1)[1].splitlines()
    col = lines[1].index("  -") + 2                 # where the value column starts
    summary = {line[:col].strip(): line[col:].strip() for line in lines[2:]}
    # each message once: the copies other connections of its switchboard saw name it
    texts = sum(1 for m in doc["messages"] if m["kind"] == "text" and not m["copy_of_session"])
    assert summary["text messages"] == str(texts)
    assert summary["file transfers"] == str(len(doc["transfers"]))
    assert int(summary["MSNP commands"]) == doc["summary"]["commands"]
    if name == "msnp8_session.pcap":
        assert texts == 3 and len(doc["transfers"]) == 2     # 3 messages, 7 rows


def test_split_streams_several_captures_and_standard_input(tmp_path):
    caps = [cap(n) for n in CAPS[:3]]
    out = tmp_path / "two.jsonl"
    assert run("export", *caps, "--format", "jsonl", "-o", str(tmp_path / "one.jsonl"),
               "-j", "1").exit_code == 0
    assert run("export", *caps, "--format", "jsonl", "-o", str(out), "-j", "2").exit_code == 0
    one = (tmp_path / "one.jsonl").read_text().splitlines()
    assert one == out.read_text().splitlines()
    # rows name the capture they came from, also when computed in the child
    files = {json.loads(line).get("capture") for line in one}
    assert set(caps) <= files
    data = open(caps[0], "rb").read()
    r1 = run("read", "-", "-j", "1", input=data)
    r2 = run("read", "-", "-j", "2", input=data)
    assert r2.exit_code == 0 and r1.stdout == r2.stdout
    assert "alice@hotmail.com" in r2.stdout


def test_errors_in_the_reading_process_are_one_line(tmp_path):
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"junk" * 1000)
    r = subprocess.run([sys.executable, "-m", "msnsniff", "read", "-j", "2", str(junk)],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr == (f"msnsniff: error: {junk}: not a pcap or pcapng capture file "
                        "(starts with 6a756e6b)\n")
    assert r.stdout == ""


def test_closed_output_stops_both_processes(tmp_path):
    # a long capture: many copies of the sample's records in one pcap
    data = open(cap("msnp8_session.pcap"), "rb").read()
    big = tmp_path / "long.pcap"
    with open(big, "wb") as f:
        f.write(data)
        for _ in range(300):
            f.write(data[24:])
    p = subprocess.Popen([sys.executable, "-m", "msnsniff", "read", "-j", "2", str(big)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = p.stdout.readline()
    p.stdout.close()                    # like `| head -1`
    assert p.wait(timeout=60) == 0
    assert first == b"\n"
    assert p.stderr.read() == b""
    time.sleep(0.2)
    left = subprocess.run(["pgrep", "-f", str(big)], capture_output=True)
    assert left.stdout == b""           # the reading process is gone too


def test_plan_jobs(tmp_path, monkeypatch):
    small = cap("msnp8_session.pcap")
    assert plan_jobs(1, [small]) == (1, False)
    assert plan_jobs(3, [small]) == (3, True)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert plan_jobs(None, [small]) == (1, False)          # too small to be worth it
    big = tmp_path / "big.pcap"
    big.write_bytes(b"\0" * (9 << 20))
    assert plan_jobs(None, [big]) == (1, True)
    assert plan_jobs(None, ["-"]) == (1, True)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert plan_jobs(None, [big]) == (1, False)            # one CPU: one process


@pytest.mark.parametrize("fmt", ["simple", "plain", "github"])
def test_streamed_connections_table_equals_the_documents(fmt):
    """`read` streams the closing Connections table through a temporary file; `read` of
    several captures in parallel builds it from the whole document: same table."""
    caps = [cap(n) for n in CAPS[:4]]
    streamed = run("read", *caps, "-j", "1", "--table-format", fmt)
    whole = run("read", *caps, "-j", "2", "--table-format", fmt)
    assert streamed.exit_code == 0 and whole.exit_code == 0

    def table(out):
        return out.split("=== Connections\n", 1)[1].split("\n=== Capture summary", 1)[0]
    assert table(streamed.stdout) == table(whole.stdout)
    assert len(table(streamed.stdout).splitlines()) >= 20


def test_events_with_personal_data_cross_as_marshal_data():
    """The stage processes send event batches as marshal data; a PersonalMessage carries a
    small dataclass (PersonalData), sent as its field values: the batch stays marshal
    (it fell back to pickle, 4× slower) and comes back equal."""
    from msnsniff import events as E
    from msnsniff.engine.stages import _Codec
    from msnsniff.protocol.xmlpayload import parse_data
    data = parse_data(b'<Data><PSM>En r\xc3\xa9union</PSM><EndpointData id="{A}"><Capabilities>'
                      b'1:2</Capabilities></EndpointData></Data>')
    batch = [E.PersonalMessage(1.5, 3, 1, "UBX", "bob@example.com", 1, data),
             E.Anomaly(1.6, 3, 1, "gap", "x", 0, 4)]
    codec = _Codec()
    blob = codec.encode(batch)
    assert blob[:1] == b"M"
    kind, back = codec.decode(blob)
    assert kind == "events" and back == batch
    assert back[0].data.psm == "En réunion" and back[0].data.endpoints == [
        {"id": "{A}", "capabilities": "1:2"}]
