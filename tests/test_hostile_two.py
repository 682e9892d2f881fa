"""Hostile input, round two: each case below was a defect (an escape reaching the
terminal, an exception ending the analysis, a file destroyed or left half written, a
cost that grew faster than the input); each test failed before its fix."""

import json
import os
import signal
import struct
import subprocess
import sys
import time

import pytest
from conftest import cap, conversation, msnsniff, write_pcap

MAIN = cap("msnp8_session.pcap")


run = msnsniff


def sb_message(tmp_path, payload: bytes, name="m.pcap"):
    body = b"MSG 2 N %d\r\n" % len(payload) + payload
    return write_pcap(tmp_path / name, conversation(
        server=("10.0.0.3", 1863), c2s=[b"USR 1 eve@hotmail.com 1.2.3\r\n", body],
        s2c=[b"USR 1 OK eve@hotmail.com Eve\r\n"]))


def test_a_nul_in_the_charset_does_not_stop_the_analysis(tmp_path):
    path = sb_message(tmp_path, b"MIME-Version: 1.0\r\nContent-Type: text/plain; "
                                b"charset=utf\x00-8\r\n\r\nh\xc3\xa9llo")
    for cmd in (["chats", path, "--format", "json"], ["export", path, "-o", "-", "--format",
                                                      "json"]):
        r = run(*cmd, "--no-progress")
        assert r.returncode == 0, r.stderr
    d = json.loads(run("read", path, "--format", "json", "--no-progress").stdout)
    assert [m["text"] for m in d["messages"]] == ["héllo"]
    assert [(a["kind"], a["detail"]) for a in d["anomalies"]] == [
        ("bad charset", "charset 'utf\\x00-8' is not one Python knows: decoded as UTF-8")]


def test_a_bug_in_one_event_becomes_an_anomaly(monkeypatch):
    from msnsniff.engine.analyze import analyse
    from msnsniff.model import Analysis

    def boom(self, ev):
        raise RuntimeError("handler bug")
    import msnsniff.model as M
    presence = len(analyse([MAIN])["presence"])
    monkeypatch.setitem(M._HANDLERS, M.E.Presence, boom)
    d = analyse([MAIN])
    errs = [a for a in d["anomalies"] if a["kind"] == "model error"]
    assert len(errs) == presence == 7
    assert errs[0]["detail"] == "Presence: RuntimeError: handler bug" and d["presence"] == []
    assert len(d["messages"]) > 0 and Analysis                    # the rest went on


def pcapng(path, packets):
    """A pcapng with one Ethernet interface (µs) and enhanced packet blocks
    (ticks, frame)."""
    def block(btype, body):
        n = 12 + len(body) + (-len(body) % 4)
        return struct.pack("<II", btype, n) + body + b"\x00" * (-len(body) % 4) + \
            struct.pack("<I", n)
    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", 1, 0, 65535))
    for ticks, frame in packets:
        out += block(6, struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(frame),
                                    len(frame)) + frame)
    path.write_bytes(out)
    return str(path)


def test_timestamps_past_the_year_9999(tmp_path):
    eth = lambda p: b"\x00" * 12 + b"\x08\x00" + p      # noqa: E731
    import socket
    frames = []
    for i, (ts, payload) in enumerate([(1.0, b"VER 1 MSNP8 CVR0\r\n"), (2 ** 63, b"CHG 2 NLN 0\r\n"),
                                       (2 ** 64 - 1, b"OUT\r\n")]):
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0,
                         socket.inet_aton("10.0.0.1"), socket.inet_aton("10.0.0.2"))
        tcp = struct.pack(">HHIIBBHHH", 40000, 1863, 1000 + sum(
            len(p) for _, p in [(1, b"VER 1 MSNP8 CVR0\r\n"), (2, b"CHG 2 NLN 0\r\n")][:i]),
            0, 0x50, 0x18, 65535, 0, 0)
        ticks = int(ts * 1e6) if ts < 1e12 else int(ts)
        frames.append((ticks, eth(ip + tcp + payload)))
    path = pcapng(tmp_path / "future.pcapng", frames)
    # (no conversation or transfer in it: chats and files say nothing matched, exit 1)
    for cmd, rc in (("read", 0), ("chats", 1), ("files", 1), ("commands", 0)):
        r = run(cmd, path, "--no-progress")
        assert r.returncode == rc and "internal error" not in r.stderr, (cmd, r.stderr)
    d = json.loads(run("read", path, "--format", "json", "--no-progress").stdout)
    assert d["summary"]["captures"][0]["notices"] == [
        "2 packet(s) timestamped after the year 9999 (clamped to 9999-12-31T23:59:59Z)"]
    assert d["sessions"][0]["end"] == "9999-12-31T23:59:59.000000Z"


def test_a_fifo_is_read_once(tmp_path):
    fifo = tmp_path / "cap.fifo"
    os.mkfifo(fifo)
    data = open(MAIN, "rb").read()
    writer = subprocess.Popen(["sh", "-c", f"cat {MAIN} > {fifo}"])
    r = run("commands", str(fifo), "--format", "csv", "--no-progress", timeout=60)
    writer.wait(10)
    assert r.returncode == 0, r.stderr
    assert r.stdout == run("commands", MAIN, "--format", "csv", "--no-progress").stdout
    assert len(data) > 0


def test_force_never_replaces_a_fifo_or_a_device(tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["sh", "-c", f"wc -c < {fifo}"], stdout=subprocess.PIPE, text=True)
    r = run("export", MAIN, "--format", "json", "-o", str(fifo), "--force", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert int(reader.communicate(timeout=20)[0]) > 1000
    assert (os.stat(fifo).st_mode & 0o170000) == 0o010000         # still a FIFO
    r = run("export", MAIN, "--format", "json", "-o", "/dev/null", "--force", "--no-progress")
    assert r.returncode == 0 and os.path.exists("/dev/null")
    assert (os.stat("/dev/null").st_mode & 0o170000) == 0o020000  # still a device


def test_a_full_disk_is_one_line_and_leaves_nothing_half_written(tmp_path):
    r = run("export", MAIN, "--format", "json", "-o", "/dev/full", "--force", "--no-progress")
    assert r.returncode == 2 and r.stderr.strip() == (
        "msnsniff: error: /dev/full: no space left on the device after 0 bytes; nothing was "
        "left behind (free some space and run again)")
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(small)]).returncode:
        pytest.skip("tmpfs cannot be mounted here")
    try:
        r = run("files", cap("p2p_transfers.pcap.gz"), "--extract", str(small), "--no-progress")
        assert r.returncode == 2 and "no space left on the device for" in r.stderr
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
        for name in os.listdir(small):             # what is there is whole
            assert os.path.getsize(small / name) in (9000, 3606, 4125, 512, 3000, 408), name
        r = run("export", MAIN, "--format", "json", "-o", str(small / "big.json"),
                "--no-progress")
        assert r.returncode == 2 and "no space left on the device" in r.stderr
        assert not [n for n in os.listdir(small) if ".msnsniff-" in n]
    finally:
        subprocess.run(["umount", str(small)])


def test_contacts_are_capped(tmp_path):
    lines = b"".join(b"LST c%d@x.com C%d 11 0\r\n" % (i, i) for i in range(25000))
    reply = b"SYN 2 1 25000 0\r\n" + lines
    chunks = [reply[i:i + 60000] for i in range(0, len(reply), 60000)]
    path = write_pcap(tmp_path / "many.pcap", conversation(
        c2s=[b"VER 1 MSNP8 CVR0\r\n", b"SYN 2 0\r\n"] + [b""] * len(chunks),
        s2c=[b"VER 1 MSNP8\r\n"] + chunks), snaplen=262144)
    d = json.loads(run("read", path, "--format", "json", "--no-progress").stdout)
    assert len(d["contacts"]) == 20000
    assert [a["detail"] for a in d["anomalies"] if a["kind"] == "cap"] == [
        "5000 contacts past the cap of 20000 per session were counted, not kept"]


def test_a_stream_without_line_ends_costs_linear_time():
    from msnsniff.stream.framing import Framer
    f = Framer()
    f.feed(b"MSG 1 N 999999999\r\n")
    for _ in range(5000):
        f.feed(b"x")
    # each byte was searched once: the scan position follows the buffer
    assert f.scanned == len(f.buf)


def test_sigterm_leaves_no_temporary_file_and_no_child(tmp_path):
    import gzip
    big = tmp_path / "big.pcap"
    gen = subprocess.run([sys.executable, os.path.join(os.path.dirname(cap("")), "..", "bench",
                                                       "gen.py"), str(big), "--packets",
                          "150000", "--msnp-fraction", "1.0"], capture_output=True)
    assert gen.returncode == 0
    out = tmp_path / "out.jsonl"
    p = subprocess.Popen([sys.executable, "-m", "msnsniff", "export", str(big), "--format",
                          "jsonl", "-o", str(out), "-j", "2", "--no-progress"],
                         stderr=subprocess.PIPE)
    time.sleep(1.5)
    children = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()
    p.send_signal(signal.SIGTERM)
    p.wait(20)
    assert p.returncode == 130
    assert not [n for n in os.listdir(tmp_path) if ".msnsniff-" in n]
    time.sleep(0.5)
    for c in children:
        assert not os.path.exists(f"/proc/{c}") or \
            open(f"/proc/{c}/stat").read().split()[2] == "Z"
    assert gzip


def test_an_interrupted_csv_export_leaves_no_half_set(tmp_path, monkeypatch):
    from msnsniff.output import export as ex

    class Boom(KeyboardInterrupt):
        pass
    real = ex.emit
    calls = []

    def failing(rows, cols, fmt, f, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise Boom()
        return real(rows, cols, fmt, f, **kw)
    monkeypatch.setattr(ex, "emit", failing)
    from msnsniff.engine.analyze import analyse
    with pytest.raises(Boom):
        ex.write_document(analyse([MAIN]), "csv", str(tmp_path / "set"), False)
    assert os.listdir(tmp_path / "set") == []


@pytest.mark.parametrize("value, cell", [("\0=1+1", "'\0=1+1"), ("\n=1+1", "'\n=1+1"),
                                         ("=cmd", "'=cmd")])
def test_csv_neutralisation(value, cell):
    from msnsniff.output.emit import csv_cell, csv_line
    assert csv_cell(value) == cell
    assert csv_line(["a;=cmd|' /C calc'!A0"]) == "\"a;=cmd|' /C calc'!A0\"\r\n"


def test_device_names_and_invisible_marks():
    from msnsniff.output.extract import safe_name
    assert safe_name("CONIN$") == "_CONIN$" and safe_name("COM¹.txt") == "_COM¹.txt"
    assert safe_name("AUX .txt") == "_AUX .txt"
    assert safe_name("a\u200fb\u061cc\u2028d.txt") == "a_b_c_d.txt"
    start = time.process_time()
    long = safe_name("a" * 120000 + ".txt")
    assert long.endswith(".txt") and len(long.encode()) == 200
    assert time.process_time() - start < 1.0          # it was 5.6 s: quadratic


def test_marks_are_escaped_in_tables():
    from msnsniff.output.emit import safe_text
    assert safe_text("a\u200fb\u2028c") == "a\\u200fb\\u2028c"


def test_closed_stdin_and_usage_errors_are_one_line():
    r = subprocess.run([sys.executable, "-m", "msnsniff", "commands", "-"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True)
    assert r.returncode == 2 or "empty" in r.stderr
    closed = subprocess.run(f"{sys.executable} -m msnsniff commands - <&-", shell=True,
                            capture_output=True, text=True)
    assert closed.returncode == 2
    assert closed.stderr.strip() == "msnsniff: error: standard input is closed: nothing to read"
    usage = run("read", MAIN, "--table-format", "gridd")
    assert usage.returncode == 2 and len(usage.stderr.strip().splitlines()) == 1
    assert usage.stderr.startswith("msnsniff: error: Invalid value for '--table-format'")


def test_both_readers_report_unsupported_links_and_short_frames(tmp_path):
    def pcap(path, linktype, frames):
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
            for fr in frames:
                f.write(struct.pack("<IIII", 1, 0, len(fr), len(fr)) + fr)
        return str(path)
    wifi = pcap(tmp_path / "wifi.pcap", 105, [b"\x08\x02" + b"\x00" * 60] * 3)
    ip = bytes([0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2])
    short = pcap(tmp_path / "short.pcap", 1, [b"\x00" * 12 + b"\x08\x00" + ip + b"\x07\x47\x9c\x40"])
    # found by the hour-long fuzz run: a 60-byte IP header announced in a 54-byte frame
    # made the pre-filter read past the frame
    long_ihl = pcap(tmp_path / "ihl.pcap", 1, [b"\x00" * 12 + b"\x08\x00" + bytes([0x4F]) + ip[1:]
                                              + b"\x07\x47\x9c\x40" + b"\x00" * 16])
    for path, notice in ((wifi, "3 packet(s) of unsupported link type 105"),
                         (short, "1 packet(s) with damaged IP/TCP headers"),
                         (long_ihl, "1 packet(s) with damaged IP/TCP headers")):
        for reader in ("auto", "python"):
            r = subprocess.run([sys.executable, "-m", "msnsniff", "read", path, "--format", "json",
                                "--no-progress"], capture_output=True, text=True,
                               env=dict(os.environ, MSNSNIFF_READER=reader))
            assert json.loads(r.stdout)["summary"]["captures"][0]["notices"] == [notice], reader


def test_the_whole_path_fuzz_target_runs_briefly(tmp_path):
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("msnp8_session.pcap", "p2p_transfers.pcap.gz", "http_gateway.pcap"):
        (corpus / name).write_bytes(open(cap(name), "rb").read())
    res = subprocess.run([sys.executable, os.path.join(os.path.dirname(cap("")), "..", "fuzz",
                                                       "fuzz_capture.py"), "-runs=150",
                          "-max_len=65536", f"-artifact_prefix={tmp_path}/", str(corpus)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Done 150 runs" in res.stderr
