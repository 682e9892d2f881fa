"""Hostile input, round three (issue 31): numbers from the network, memory that follows
a claim, full disks, several captures at once.  Every input is generated here; each
test failed before its fix."""

import json
import subprocess
import sys

from conftest import conversation, msnsniff, write_pcap

run = msnsniff


def read_json(path, *extra):
    r = run("read", path, "--format", "json", "--no-progress", *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


LOGIN_C = [b"VER 1 MSNP8 CVR0\r\n", b"CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 5.0.0540 MSMSGS "
           b"eve@hotmail.com\r\n", b"USR 3 TWN I eve@hotmail.com\r\n"]
LOGIN_S = [b"VER 1 MSNP8 CVR0\r\n", b"CVR 2 5.0.0540 5.0.0540 1.0.0000 x x\r\n",
           b"USR 3 OK eve@hotmail.com Eve 1 0\r\n"]


def ns_capture(tmp_path, s2c_extra, name="ns.pcap", c2s_extra=()):
    return write_pcap(tmp_path / name, conversation(
        c2s=LOGIN_C + list(c2s_extra), s2c=LOGIN_S + list(s2c_extra)))


def sb_capture(tmp_path, c2s, s2c=(), name="sb.pcap"):
    return write_pcap(tmp_path / name, conversation(
        server=("10.0.0.3", 1863), c2s=[b"USR 1 eve@hotmail.com 1.2.3\r\n", *c2s],
        s2c=[b"USR 1 OK eve@hotmail.com Eve\r\n", *s2c]))


# ------------------------------------------------------------ numbers (the High items)

def test_numbers_parser_takes_ascii_digits_only():
    from msnsniff.protocol.numbers import is_num, net_int, net_port
    assert net_int("1863") == 1863 and net_int("²") is None and net_int("١٢") is None
    assert net_int("9" * 5000) is None and net_int("9" * 18) == 10 ** 18 - 1
    assert net_port("70000") is None and net_port("0") is None and net_port("65535") == 65535
    assert is_num(b"12") and not is_num("") and not is_num("1 2") and not is_num("+1")


def test_a_unicode_digit_as_a_msg_length_or_trid_ends_nothing(tmp_path):
    text = b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhello"
    path = sb_capture(tmp_path, [
        "MSG 2 N ²\r\n".encode(), "MSG ² N 5\r\n".encode() + b"abcde",
        b"MSG 4 N %d\r\n" % len(text) + text])
    for extra in ([], ["--jobs", "2"]):
        d = read_json(path, *extra)
        # the '²' length is damage; the '²' trid is no trid; the session goes on
        assert [(m["text"], m["sender"]) for m in d["messages"]] == [
            ("", "eve@hotmail.com"), ("hello", "eve@hotmail.com")]
        assert [(a["kind"], a["detail"]) for a in d["anomalies"]] == [
            ("undecodable", "12 bytes payload length is not an ASCII number: "
                            "b'MSG 2 N \\xc2\\xb2\\r\\n'")]
    r = run("follow", path, "1")
    assert r.returncode == 0, r.stderr
    assert "(payload length is not an ASCII number)" in r.stdout and "│ hello" in r.stdout


def test_a_5000_digit_xfr_port_and_port_70000_are_anomalies(tmp_path):
    path = ns_capture(tmp_path, [
        b"XFR 4 SB 10.0.0.9:" + b"9" * 5000 + b" CKI 1.2.3.4\r\n",
        b"XFR 5 SB 10.0.0.9:70000 CKI 1.2.3.5\r\n",
        b"XFR 6 SB 10.0.0.9:1864 CKI 1.2.3.6\r\n"],
        c2s_extra=[b"XFR 4 SB\r\n", b"XFR 5 SB\r\n", b"XFR 6 SB\r\n"])
    d = read_json(path)
    bad = [a["detail"] for a in d["anomalies"] if a["kind"] == "bad number"]
    assert bad == ["switchboard endpoint with port '99999999999999999999… (5000 characters)' "
                   "cannot be followed",
                   "switchboard endpoint with port '70000' cannot be followed"]
    assert [n["command"] for n in d["notifications"]].count("XFR") == 3


def invitation(cookie, port):
    body = ("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinvite; charset=UTF-8\r\n\r\n"
            f"Invitation-Command: ACCEPT\r\nInvitation-Cookie: {cookie}\r\n"
            f"IP-Address: 10.0.0.7\r\nPort: {port}\r\nAuthCookie: 77\r\n"
            "Launch-Application: FALSE\r\nRequest-Data: IP-Address:\r\n\r\n").encode()
    return b"MSG 3 N %d\r\n" % len(body) + body


def test_an_invitation_announcing_port_70000_is_an_anomaly_not_a_filter_error(tmp_path):
    path = sb_capture(tmp_path, [invitation(11, 70000), invitation(12, "6891")])
    for extra in ([], ["--jobs", "2"]):
        d = read_json(path, *extra)
        assert [a["detail"] for a in d["anomalies"] if a["kind"] == "bad number"] == [
            "file-transfer endpoint with port '70000' cannot be followed"]


def test_a_unicode_digit_in_one_lsg_drops_that_group_only(tmp_path):
    path = ns_capture(tmp_path, [
        b"SYN 4 7 1 2\r\n", b"GTC A\r\n", b"BLP AL\r\n",
        "LSG ² Bad 0\r\n".encode(), b"LSG 1 Friends 0\r\n",
        b"LST bob@hotmail.com Bob 11 1\r\n"], c2s_extra=[b"SYN 4 0\r\n"])
    d = read_json(path)
    assert [s["passport"] for s in d["sessions"]] == ["eve@hotmail.com"]
    assert [(g["group_id"], g["name"]) for g in d["groups"]] == [("1", "Friends")]
    assert [(c["passport"], c["group_names"]) for c in d["contacts"]] == [
        ("bob@hotmail.com", ["Friends"])]
    assert [(a["kind"], a["detail"]) for a in d["anomalies"]] == [
        ("malformed command", "LSG ² Bad 0: unexpected arguments")]


def test_a_network_integer_of_2_64_fits_the_sqlite_export(tmp_path):
    """P2P headers carry uint64 sizes and offsets: SQLite's INTEGER is signed 64-bit
    (it stores a larger one as REAL; before, the export ended with an OverflowError)."""
    import sqlite3

    from conftest import cap

    from msnsniff.engine.analyze import analyse
    from msnsniff.output.export import write_document
    doc = analyse([cap("msnp8_session.pcap")])
    doc["sessions"][0].update(bytes_c2s=2 ** 64 - 1, bytes_s2c=2 ** 63)
    write_document(doc, "sqlite", str(tmp_path / "x.sqlite"), False)
    db = sqlite3.connect(tmp_path / "x.sqlite")
    assert db.execute("select bytes_c2s, bytes_s2c from sessions limit 1").fetchall() == [
        (1.8446744073709552e19, 9.223372036854776e18)]     # REAL: the JSON keeps it exact


# ------------------------------------------------------------ memory that follows a claim

LOGIN11_C = [b"VER 1 MSNP11 CVR0\r\n", b"CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 7.0.0816 MSMSGS "
             b"eve@hotmail.com\r\n", b"USR 3 TWN I eve@hotmail.com\r\n"]
LOGIN11_S = [b"VER 1 MSNP11 CVR0\r\n", b"CVR 2 7.0.0816 7.0.0816 1.0.0000 x x\r\n",
             b"USR 3 OK eve@hotmail.com Eve 1 0\r\n"]


def chunks(data: bytes, size=1400):
    return [data[i:i + size] for i in range(0, len(data), size)]


def uux(tmp_path, data: bytes, name="uux.pcap", verb=b"UUX"):
    return write_pcap(tmp_path / name, conversation(
        c2s=LOGIN11_C + chunks(verb + b" 4 %d\r\n" % len(data) + data),
        s2c=LOGIN11_S + [verb + b" 4 0\r\n"]))


def gen_current_media(tmp_path):
    """{0} -> {1}{1} -> {2}{2}{2}{2} …: 2^30 characters once each value is formatted."""
    values = "".join("\\0" + "{%d}{%d}" % (i + 1, i + 1) for i in range(30)) + "\\0end"
    media = "\\0Music\\01\\0{0}" + values + "\\0"
    return uux(tmp_path, f"<Data><PSM>hi</PSM><CurrentMedia>{media}</CurrentMedia></Data>"
               .encode(), "media.pcap")


def gen_utf16_dtd(tmp_path):
    """A billion laughs in UTF-16: the ASCII-only DTD check let it through."""
    ents = "".join(f'<!ENTITY e{i} "{("&e%d;" % (i - 1)) * 10}">' for i in range(1, 9))
    doc = (f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE Data [<!ENTITY e0 "lol">{ents}]>'
           "<Data><PSM>&e8;</PSM></Data>")
    return uux(tmp_path, doc.encode("utf-16"), "dtd16.pcap")


def test_current_media_is_formatted_once_and_bounded(tmp_path):
    from msnsniff.protocol.xmlpayload import MAX_MEDIA_CHARS, decode_current_media
    assert decode_current_media("\\0Music\\01\\0{0}{1}\\0{1}{1}\\0{2}\\0") == "Music: {1}{1}{2}"
    d = read_json(gen_current_media(tmp_path))
    (row,) = d["personal_messages"]
    assert row["personal_message"] == "hi"
    assert row["current_media"] == "Music: {1}{1}"
    shown = decode_current_media("\\0Music\\01\\0" + "{0}" * 5000 + "\\0abc\\0")
    assert len(shown) == len("Music: ") + MAX_MEDIA_CHARS + 1 and shown.endswith("bca…")


def test_a_utf16_document_with_entities_is_refused(tmp_path):
    d = read_json(gen_utf16_dtd(tmp_path))
    assert [r["personal_message"] for r in d["personal_messages"]] == []
    assert [(a["kind"], a["detail"]) for a in d["anomalies"]] == [
        ("malformed payload", "UUX: XML with a DTD or entity declaration (refused, not parsed)")]


def gen_xz_huge_dictionary(tmp_path):
    """A real capture in an xz stream whose header asks for a 1.5 GiB dictionary (the
    one byte of the LZMA2 filter properties, with the block header's CRC32 redone)."""
    import lzma
    import struct
    import zlib

    from conftest import cap
    raw = bytearray(lzma.compress(open(cap("msnp8_session.pcap"), "rb").read(),
                                  format=lzma.FORMAT_XZ))
    size = (raw[12] + 1) * 4                    # the block header after the stream header
    at = raw.index(b"\x21\x01", 14, 12 + size)  # filter id LZMA2, 1 property byte
    raw[at + 2] = 37                            # dictionary 3 << 29 = 1.5 GiB
    raw[12 + size - 4:12 + size] = struct.pack("<I", zlib.crc32(raw[12:12 + size - 4]))
    path = tmp_path / "bigdict.pcap.xz"
    path.write_bytes(raw)
    return str(path)


def gen_gzip_section_header(tmp_path):
    """A pcapng section header claiming 2 GiB, then 64 MiB of zeros, gzipped (64 KB)."""
    import gzip
    import struct
    shb = struct.pack("<III", 0x0A0D0D0A, 0x7FFFFFFC, 0x1A2B3C4D) + struct.pack("<HHq", 1, 0, -1)
    path = tmp_path / "shb.pcapng.gz"
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(shb)
        zeros = bytes(1 << 20)
        for _ in range(64):
            f.write(zeros)
    return str(path)


def test_an_xz_header_asking_for_a_huge_dictionary_is_refused(tmp_path):
    d = read_json(gen_xz_huge_dictionary(tmp_path))
    assert d["sessions"] == []
    assert [a["detail"] for a in d["anomalies"] if a["kind"] == "capture"] == [
        "capture truncated: xz stream broken: the xz stream needs more than 72 MiB to "
        "decompress (its dictionary size): not read"]


def test_a_section_header_claiming_2_gib_stops_reading(tmp_path):
    d = read_json(gen_gzip_section_header(tmp_path))
    assert [a["detail"] for a in d["anomalies"] if a["kind"] == "capture"] == [
        "capture truncated: section header at byte 0 has an impossible length 2147483644; "
        "reading stopped"]


def gen_nested_xml(tmp_path):
    n = 30000
    return uux(tmp_path, b"<Data><PSM>" + b"<a>" * n + b"</a>" * n + b"</PSM></Data>",
               "nested.pcap")


def test_nested_xml_is_refused_at_32_levels(tmp_path):
    d = read_json(gen_nested_xml(tmp_path))
    assert d["personal_messages"] == []
    assert [(a["kind"], a["detail"]) for a in d["anomalies"]] == [
        ("malformed payload", "UUX: XML nested deeper than 32 or with more than 100000 "
                              "elements (refused)")]


def gen_unanswered_gateway(tmp_path, n=9000):
    """An HTTP gateway client whose server sent nothing back: 1.4 MB of requests (h11
    held them all, waiting for responses)."""
    def post(query, body):
        return (b"POST http://gateway.messenger.hotmail.com/gateway/gateway.dll?%s HTTP/1.1\r\n"
                b"Host: gateway.messenger.hotmail.com\r\nContent-Length: %d\r\n\r\n%s"
                % (query, len(body), body))
    reqs = [post(b"Action=open&Server=NS&IP=messenger.hotmail.com", b"VER 1 MSNP8 CVR0\r\n")]
    reqs += [post(b"SessionID=1000.1", b"PNG\r\n") for _ in range(n)]
    return write_pcap(tmp_path / "gw.pcap", conversation(server=("10.0.0.5", 80),
                                                         c2s=reqs))


def test_an_unanswered_gateway_client_is_read_whole(tmp_path):
    d = read_json(gen_unanswered_gateway(tmp_path))
    assert d["summary"]["commands"] == 9001          # before: 1 (the rest held, unread)
    details = [a["detail"] for a in d["anomalies"]]
    assert "1048648 bytes of requests waited for responses and the server sent nothing: " \
           "requests are read without responses" in details


# ------------------------------------------------------------ every generator, memory-bound

_LIMITED = """
import resource, runpy, sys
lim = int(sys.argv.pop(1))
resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
sys.argv[0] = "msnsniff"
runpy.run_module("msnsniff", run_name="__main__")
"""

GENERATORS = {   # generator -> (anomaly kind, start of its detail)
    gen_current_media: (None, None),
    gen_utf16_dtd: ("malformed payload", "UUX: XML with a DTD or entity declaration"),
    gen_nested_xml: ("malformed payload", "UUX: XML nested deeper than 32"),
    gen_xz_huge_dictionary: ("capture", "capture truncated: xz stream broken: the xz stream "
                                        "needs more than 72 MiB"),
    gen_gzip_section_header: ("capture", "capture truncated: section header at byte 0"),
    gen_unanswered_gateway: ("http", "1048648 bytes of requests waited for responses"),
}


def test_hostile_generators_finish_under_a_memory_limit(tmp_path):
    """Each hostile input, read with 200 MB of address space (the interpreter and its
    libraries take ~120 MB of it): the analysis ends normally, with its anomaly."""
    for gen, (kind, start) in GENERATORS.items():
        path = gen(tmp_path)
        for extra in ([], ["--jobs", "2"]) if gen is gen_unanswered_gateway else ([],):
            r = subprocess.run([sys.executable, "-c", _LIMITED, str(200 << 20), "read", path,
                                "--format", "json", "--no-progress", *extra],
                               capture_output=True, text=True)
            assert r.returncode == 0, (gen.__name__, r.stderr[-500:])
            d = json.loads(r.stdout)
            if kind is None:
                assert d["personal_messages"][0]["current_media"] == "Music: {1}{1}"
            else:
                assert any(a["kind"] == kind and a["detail"].startswith(start)
                           for a in d["anomalies"]), (gen.__name__, d["anomalies"][:3])


# ------------------------------------------------------------ time: doubling an input

def _cost(fn, n):
    import time
    best = float("inf")
    for _ in range(5):                   # best of five: the machine is shared
        t = time.perf_counter()
        fn(n)
        best = min(best, time.perf_counter() - t)
    return best


def _one_sided_gateway(n):
    from msnsniff.stream.http import HttpDemux
    h = HttpDemux(max_held=16 * 1024)
    poll = (b"POST /gateway/gateway.dll?SessionID=1 HTTP/1.1\r\nHost: gw\r\n"
            b"Content-Length: 5\r\n\r\nPNG\r\n")
    for i in range(n):
        h.feed(0, poll, 0.0)
    assert h.requests == n


def _unicode_lengths(n):
    from msnsniff.stream.framing import Framer
    f = Framer()
    for _ in range(n):
        f.feed("MSG 1 N ²\r\nxx".encode())
    f.close(0.0)
    assert f.undecodable == f.base and f.lines == 0


def _bounded_xml(n):
    from msnsniff.protocol.xmlpayload import parse_ml
    doc = b'<ml l="1">' + b'<d n="example.com"><c n="u" l="3" t="1"/></d>' * n + b"</ml>"
    assert len(parse_ml(doc)[1]) == n


def _digit_fields(n):
    from msnsniff.protocol.numbers import net_int
    s = "9" * n
    assert net_int(s) is None and net_int("²" * n) is None


def test_adversarial_inputs_cost_linear_time():
    for fn, n in ((_one_sided_gateway, 300), (_unicode_lengths, 800), (_bounded_xml, 2500),
                  (_digit_fields, 100000)):
        # growth, not speed: four times the input costs 4x when linear, 16x when
        # quadratic.  The bound sits at 8x, halfway in ratio, so a busy machine's noise
        # (a 2x input once measured 2.8x on CI while linear here) cannot fail it.
        one = _cost(fn, n)
        four = _cost(fn, 4 * n)
        assert four <= 8 * one + 0.02, (fn.__name__, one, four)


# ------------------------------------------------------------ full disks

def _many_contacts(tmp_path, n=25000):
    lines = b"".join(b"LST c%d@x.com C%d 11 0\r\n" % (i, i) for i in range(n))
    reply = b"SYN 4 1 %d 0\r\n" % n + lines
    return ns_capture(tmp_path, chunks(reply, 60000), "many.pcap", [b"SYN 4 0\r\n"])


def test_full_disks_are_one_line_and_leave_nothing(tmp_path):
    import os

    import pytest
    from conftest import cap
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "msnsniff", "timeline",
                            cap("msnp8_session.pcap"), "--format", "csv", "--no-progress"],
                           stdout=full, stderr=subprocess.PIPE, text=True)
    assert (r.returncode, r.stderr) == (2, "msnsniff: error: the output: no space left on "
                                           "the device (free some space and run again)\n")
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(small)]).returncode:
        pytest.skip("tmpfs cannot be mounted here")
    try:
        many = _many_contacts(tmp_path)
        r = run("export", many, "--format", "sqlite", "-o", str(small / "x.sqlite"),
                "--no-progress")
        assert r.returncode == 2 and r.stderr.startswith(
            f"msnsniff: error: {small / 'x.sqlite'}: no space left on the device after "), \
            r.stderr
        assert len(r.stderr.splitlines()) == 1 and os.listdir(small) == []   # no -journal
        env = dict(os.environ, TMPDIR=str(small))
        r = run("export", many, "--format", "json", "-o", str(tmp_path / "x.json"),
                "--no-progress", env=env)
        assert (r.returncode, r.stderr) == (2, f"msnsniff: error: temporary folder {small} "
                                               "(TMPDIR): no space left on the device (free "
                                               "some space and run again)\n")
        assert not os.path.exists(tmp_path / "x.json")
        assert not [n for n in os.listdir(tmp_path) if ".msnsniff-" in n]
    finally:
        subprocess.run(["umount", str(small)])


# ------------------------------------------------------------ several captures at once

def test_per_capture_exports_every_good_capture_and_reports_every_bad_one(tmp_path):
    import os
    import shutil

    from conftest import cap
    paths = []
    for name in ("a", "bad1", "b", "bad2", "c"):
        p = tmp_path / f"{name}.pcap"
        if name.startswith("bad"):
            p.write_bytes(b"not a capture at all")
        else:
            shutil.copy(cap("msnp8_session.pcap"), p)
        paths.append(str(p))
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}"
        r = run("export", *paths, "--per-capture", "--format", "json", "-o", str(out),
                "-j", jobs, "--no-progress")
        assert r.returncode == 2
        assert r.stderr.splitlines() == [
            f"wrote 3 file(s) for 3 of 5 capture(s) in {out}",
            f"msnsniff: error: {paths[1]}: not a pcap or pcapng capture file (starts with "
            "6e6f7420)",
            f"msnsniff: error: {paths[3]}: not a pcap or pcapng capture file (starts with "
            "6e6f7420)"]
        assert sorted(os.listdir(out)) == ["a.json", "b.json", "c.json"]
        d = json.loads((out / "c.json").read_text())
        assert d["summary"]["accounts"] == json.loads((out / "a.json").read_text())[
            "summary"]["accounts"] != []


def test_sigint_stops_per_capture_workers_within_a_second(tmp_path):
    import os
    import shutil
    import signal
    import time

    from conftest import cap
    big = tmp_path / "big1.pcap"
    gen = subprocess.run([sys.executable, os.path.join(os.path.dirname(cap("")), "..", "bench",
                                                       "gen.py"), str(big), "--packets",
                          "100000", "--msnp-fraction", "1.0"], capture_output=True)
    assert gen.returncode == 0
    shutil.copy(big, tmp_path / "big2.pcap")
    out = tmp_path / "out"
    p = subprocess.Popen([sys.executable, "-m", "msnsniff", "export", str(big),
                          str(tmp_path / "big2.pcap"), "--per-capture", "--format", "jsonl",
                          "-o", str(out), "-j", "2", "--no-progress"], stderr=subprocess.PIPE)
    time.sleep(1.5)
    children = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True,
                              text=True).stdout.split()
    assert children                          # the workers were running
    t = time.monotonic()
    p.send_signal(signal.SIGINT)             # the parent only (kill -INT), not the group
    p.wait(30)
    assert time.monotonic() - t < 1.0 and p.returncode == 130     # (was 14 s)
    assert os.listdir(out) == []             # no export half written, no temporary file
    for c in children:
        assert not os.path.exists(f"/proc/{c}") or \
            open(f"/proc/{c}/stat").read().split()[2] == "Z"
    # read --jobs 2 of two captures: the same pool (was 10 s)
    p = subprocess.Popen([sys.executable, "-m", "msnsniff", "read", str(big),
                          str(tmp_path / "big2.pcap"), "--jobs", "2", "--no-progress"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.5)
    t = time.monotonic()
    p.send_signal(signal.SIGINT)
    p.wait(30)
    assert time.monotonic() - t < 1.0 and p.returncode == 130


# ------------------------------------------------------------ output memory

def test_a_long_timeline_table_is_printed_in_blocks_and_json_streams(monkeypatch):
    from click.testing import CliRunner
    from conftest import cap

    import msnsniff.cli.timeline as T
    main = cap("msnp8_session.pcap")
    whole = CliRunner().invoke(T.timeline, [main, "--no-progress", "--format", "csv"]).output
    monkeypatch.setattr(T, "TABLE_BLOCK", 10)
    out = CliRunner().invoke(T.timeline, [main, "--no-progress", "--columns", "time,kind"])
    lines = out.output.splitlines()
    heads = [i for i, line in enumerate(lines) if line.startswith("time ")]
    rows = whole.count("\n") - 1
    # 47 rows: 61 entries with each message's copies folded into one (issue 30)
    assert rows == 47 and len(heads) == 5                  # 4 blocks of 10, then 7
    times = [line.split()[0] for line in lines if line[:2] == "20"]
    assert times == sorted(times) and len(times) == rows
    js = CliRunner().invoke(T.timeline, [main, "--no-progress", "--format", "json"]).output
    assert len(json.loads(js)) == 47 and js.startswith('[{"time": ')


def test_markup_table_formats_keep_html_from_the_network_as_text(tmp_path):
    text = (b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n"
            b"<img src=x onerror=alert(1)> a|b")
    path = sb_capture(tmp_path, [b"MSG 2 N %d\r\n" % len(text) + text])
    for style, bar in (("github", "\\|"), ("mediawiki", "&#124;"), ("textile", "&#124;")):
        r = run("timeline", path, "--table-format", style, "--columns", "kind,description",
                "--no-progress")
        assert r.returncode == 0, r.stderr
        assert "<img" not in r.stdout
        assert f"&lt;img src=x onerror=alert(1)&gt; a{bar}b" in r.stdout, r.stdout


def test_json_to_a_terminal_escapes_c1_and_bidi_controls(tmp_path):
    import os
    import pty

    from conftest import read_pty
    path = sb_capture(tmp_path, [b"MSG 2 N 5\r\nhello"], s2c=[
        "JOI evil\u202e\u009b@hotmail.com Evil\u202e 0\r\n".encode()])
    for cmd in (["read", path, "--format", "json"], ["export", path, "-o", "-", "--format",
                                                     "json"],
                ["export", path, "-o", "-", "--format", "jsonl"]):
        master, slave = pty.openpty()
        res = subprocess.run([sys.executable, "-m", "msnsniff", *cmd, "--no-progress"],
                             stdout=slave, stderr=subprocess.PIPE, timeout=60)
        os.close(slave)
        out = read_pty(master)
        assert res.returncode == 0, res.stderr
        assert "\u202e".encode() not in out and "\u009b".encode() not in out, cmd
        assert b"evil\\u202e\\u009b@hotmail.com" in out, cmd


def test_records_shorter_than_their_link_header_are_damage_in_both_readers(tmp_path):
    import struct

    from msnsniff.capture.files import read_segments
    from msnsniff.capture.follow import Follow
    from msnsniff.capture.packet import CaptureStats
    path = tmp_path / "short.pcap"
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for n, frame in ((10, b"\x00" * 10), (0, b""), (14, b"\x00" * 12 + b"\x08\x00")):
            f.write(struct.pack("<IIII", 1, 0, n, n) + frame)
    readers = []
    for follow in (None, Follow()):             # the Python reader, then libpcap's BPF
        st = CaptureStats()
        assert list(read_segments(str(path), st, follow)) == []
        readers.append((st.reader, st.packets, st.bad_headers, st.non_ip))
    assert readers == [("python", 3, 3, 0), ("libpcap", 3, 3, 0)]


def test_both_readers_agree_on_tsoffset_and_blocks_over_1_mib(tmp_path):
    import struct

    from conftest import write_pcap

    from msnsniff.capture.files import read_segments
    from msnsniff.capture.follow import Follow
    from msnsniff.capture.packet import CaptureStats

    def block(btype, body):
        body += b"\x00" * (-len(body) % 4)
        return struct.pack("<II", btype, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))
    # the frames of a real little conversation, re-wrapped
    pcap = open(write_pcap(tmp_path / "c.pcap", conversation(c2s=LOGIN_C, s2c=LOGIN_S)),
                "rb").read()
    frames, pos = [], 24
    while pos < len(pcap):
        sec, usec, incl, _ = struct.unpack_from("<IIII", pcap, pos)
        frames.append((sec * 10 ** 6 + usec, pcap[pos + 16:pos + 16 + incl]))
        pos += 16 + incl
    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    # if_tsoffset (14): the interface's clock was 1,000,000,000 s behind
    out += block(1, struct.pack("<HHI", 1, 0, 65535) + struct.pack("<HHq", 14, 8, 10 ** 9)
                 + struct.pack("<HH", 0, 0))
    out += block(0x00000BAD, struct.pack("<I", 32473) + bytes(2 * 2 ** 20))  # custom, 2 MiB
    for ticks, frame in frames:
        out += block(6, struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(frame),
                                    len(frame)) + frame)
    path = tmp_path / "x.pcapng"
    path.write_bytes(out)
    seen = []
    for follow in (None, Follow()):
        st = CaptureStats()
        segs = list(read_segments(str(path), st, follow))
        seen.append((st.reader, st.truncated, [(round(s.ts, 6), s.payload) for s in segs]))
    assert seen[0][0] == "python" and seen[1][0] == "libpcap"
    assert seen[0][1:] == seen[1][1:]
    assert seen[0][2][2] == (1000000001.01, LOGIN_C[0])


def test_a_gateway_capture_of_the_server_side_only_is_said_per_connection(tmp_path):
    """Only the gateway's responses were captured (a span port on one direction): the
    connections are found by their responses and each says why nothing is decoded —
    the bytes were silently dropped before.  Both readers agree."""
    import os

    from conftest import cap
    from scapy.all import TCP, rdpcap, wrpcap
    pkts = [p for p in rdpcap(cap("http_gateway.pcap")) if TCP in p and p[TCP].sport == 80]
    path = str(tmp_path / "server_only.pcap")
    wrpcap(path, pkts)
    for reader in ("libpcap", "python"):
        env = dict(os.environ, MSNSNIFF_READER=reader)
        r = run("read", path, "--format", "json", "--no-progress", env=env)
        assert r.returncode == 0, r.stderr
        d = json.loads(r.stdout)
        assert d["summary"]["sessions_by_kind"] == {"http": 4}
        assert [(a["kind"], a["direction"], a["length"]) for a in d["anomalies"]] == [
            ("http", "s2c", 3112), ("http", "s2c", 3840), ("http", "s2c", 2020),
            ("http", "s2c", 1103)]
        assert all("no request captured (only the server's side" in a["detail"]
                   for a in d["anomalies"])
    # the whole capture still decodes as before: one http anomaly, its sessions
    d = read_json(cap("http_gateway.pcap"))
    assert d["summary"]["sessions_by_kind"] == {"http": 4, "notification": 2, "switchboard": 2}
