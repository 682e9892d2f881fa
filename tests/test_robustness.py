"""Hostile and broken input: property-based fuzzing of every sans-IO stage, adversarial
captures (generated here), caps that report what they drop, bounded memory."""

import json
import os
import subprocess
import sys

import pytest
from conftest import CAPTURES, cap, conversation, write_pcap
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.join(os.path.dirname(CAPTURES), "fuzz"))
from harness import run_chunks  # noqa: E402

from msnsniff import config  # noqa: E402
from msnsniff.capture.packet import ACK, FIN, PSH, RST, SYN, Segment  # noqa: E402
from msnsniff.config import Limits  # noqa: E402
from msnsniff.decoder import ConnectionDecoder  # noqa: E402
from msnsniff.protocol.clientid import decode_client_id  # noqa: E402
from msnsniff.protocol.mime import decode_text, media_type, parse_fields, parse_format, split_payload  # noqa: E402
from msnsniff.protocol.tables import KNOWN_VERBS, url_decode  # noqa: E402
from msnsniff.stream.framing import Framer, RawCommand  # noqa: E402
from msnsniff.stream.reassembly import Data, Gap, Reassembler  # noqa: E402


class strict_mode:
    """The decoders' and the model's catch-alls re-raise (config.STRICT): a property
    test whose body only "never raises" can then fail."""
    def __enter__(self):
        self.old, config.STRICT = config.STRICT, True

    def __exit__(self, *exc):
        config.STRICT = self.old


@pytest.mark.parametrize("where", ["ns", "sb", "model"])
def test_the_never_raises_properties_fail_when_a_stage_is_broken(monkeypatch, where):
    # broken on purpose: every NS or SB command, or every model event, raises.  Without
    # strict mode the catch-alls would turn that into anomaly rows and both properties
    # below would still pass; with it they fail.
    def boom(*a, **k):
        raise RuntimeError("broken on purpose")
    if where == "ns":
        from msnsniff.decoder.ns import NsDecoder
        monkeypatch.setattr(NsDecoder, "client", boom)
    elif where == "sb":
        from msnsniff.decoder.sb import SbDecoder
        monkeypatch.setattr(SbDecoder, "client", boom)
    else:
        import msnsniff.model as model
        from msnsniff.events import ConnectionOpened
        monkeypatch.setitem(model._HANDLERS, ConnectionOpened, boom)
    first = {"ns": b"VER 1 MSNP8 CVR0\r\n", "sb": b"USR 1 a@b.c 1.2\r\n",
             "model": b"VER 1 MSNP8 CVR0\r\n"}[where]
    with pytest.raises(RuntimeError, match="broken on purpose"):
        test_whole_pipeline_never_raises_and_accounts_for_every_byte.hypothesis.inner_test(
            [(0, first), (0, b"CHG 2 NLN 0\r\n")], set())
    if where != "model":
        with pytest.raises(RuntimeError, match="broken on purpose"):
            test_decoders_take_any_command.hypothesis.inner_test("CHG", ["NLN", "0"], None, 0)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MSNP_WORDS = [b"VER ", b"USR ", b"MSG ", b"SYN ", b"LST ", b"QRY ", b"CHL 0 ", b"MSNFTP",
              b"FIL ", b"\r\n", b"\n", b" ", b"%", b"%FF", b"@", b"1863 ", b"32\r\n", b"\x00",
              b"\x01\x00\x00", b"TWN S ", b"OK ", b"999999999"]
msnp_bytes = st.lists(st.one_of(st.sampled_from(MSNP_WORDS), st.binary(max_size=40)),
                      max_size=40).map(b"".join)


# ---------------------------------------------------------------- property-based fuzzing
@given(st.lists(st.tuples(st.integers(0, 1), msnp_bytes), max_size=25),
       st.sets(st.integers(0, 25), max_size=4))
@FUZZ
def test_whole_pipeline_never_raises_and_accounts_for_every_byte(chunks, gaps):
    run_chunks([c for c in chunks if c[1]], gaps)


@given(msnp_bytes, st.lists(st.integers(1, 200), max_size=10), st.lists(st.integers(1, 50),
                                                                       max_size=3))
@FUZZ
def test_framing_any_bytes_any_split_any_gap(data, cuts, gaps):
    f = Framer(Limits(max_line=64, max_payload=128))
    pos, gap_total = 0, 0
    for c in sorted(set(cuts)):
        f.feed(data[pos:c])
        pos = max(pos, c)
        if gaps:
            g = gaps.pop()
            f.gap(g)
            gap_total += g
    f.feed(data[pos:])
    f.close()
    assert f.decoded + f.undecodable == len(data)
    assert f.gap_bytes == gap_total
    assert len(f.buf) == 0


@given(st.lists(st.tuples(st.integers(0, 3000), st.binary(min_size=1, max_size=300),
                          st.sampled_from([ACK, ACK | PSH, FIN | ACK, RST, SYN])),
                max_size=30))
@FUZZ
def test_reassembly_arbitrary_segments_tile_the_stream(segs):
    r = Reassembler(Limits(max_pending_bytes=2000))
    ev = []
    conn = r.open(Segment(0, "1.1.1.1", 1, "2.2.2.2", 1863, 0, 0, SYN, b""), True, ev)
    for i, (rel, data, flags) in enumerate(segs):
        r.feed(conn, Segment(float(i), "1.1.1.1", 1, "2.2.2.2", 1863, 0xFFFFFF00 + rel, 0,
                             flags, data if not flags & (SYN | RST) else b""), ev)
    r.flush(ev)
    pos = 0
    for e in ev:
        if isinstance(e, (Data, Gap)) and e.dir == 0:
            assert e.offset == pos
            pos += len(e.data) if isinstance(e, Data) else e.length
    assert pos == conn.halves[0].offset
    assert conn.halves[0].pending_bytes == 0


@given(st.sampled_from(sorted(KNOWN_VERBS) + ["911", "XYZ"]),
       st.lists(st.text(max_size=12), max_size=8), st.one_of(st.none(), st.binary(max_size=300)),
       st.integers(0, 1))
@FUZZ
def test_decoders_take_any_command(verb, params, payload, d):
    with strict_mode():
        _any_command(verb, params, payload, d)


def _any_command(verb, params, payload, d):
    for first in ("VER", "USR", "ANS", "FIL", None):
        dec = ConnectionDecoder(1)
        if first:
            dec.handle(RawCommand(first, None, ["MSNFTP"] if first == "VER" else [], None, 0, 5), 0)
        dec.handle(RawCommand(verb, 1, params, payload, 0, 10), d)
        dec.close(0.0)


@given(st.binary(max_size=500))
@FUZZ
def test_mime_parsing_never_raises(body):
    headers, rest = split_payload(body)
    media_type(headers)
    parse_fields(rest)
    for cs in (None, "utf-8", "x-unknown", "shift_jis"):
        decode_text(rest, cs)
    parse_format(body.decode("latin-1"))


@given(st.text(max_size=60))
def test_url_decoding_never_raises(s):
    out = url_decode(s)
    assert isinstance(out, str)
    if "%" not in s:
        assert out == s


_FRAME = bytes.fromhex(
    "0011223344550066778899aa0800"                      # Ethernet, IPv4
    "45000035123440004006b1e60a000001c6336414"          # IPv4: 20 bytes, TCP, 53 total
    "c350074712345678000000015018faf000000000"          # TCP 50000 -> 1863, PSH|ACK
    + b"VER 1 MSNP8\r\n".hex()                          # 13 payload bytes
    + "0000")                                           # and 2 bytes of link padding


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(_FRAME) - 1), st.integers(0, 255)), max_size=4),
       st.integers(14, len(_FRAME)))
def test_ethernet_ipv4_fast_path_equals_the_general_parser(flips, cut):
    """packet.parse_frame's Ethernet+IPv4 shortcut gives exactly what the general parser
    gives for the same IP packet (raw-IP link type), damaged headers included."""
    from msnsniff.capture.packet import CaptureStats, parse_frame
    buf = bytearray(_FRAME)
    for i, v in flips:
        if i >= 12:                                     # keep the Ethernet addresses
            buf[i] = v
    buf = bytes(buf[:cut])
    s1, s2 = CaptureStats(), CaptureStats()
    a = parse_frame(1, buf, 1.5, s1, 7)
    if buf[12:14] != b"\x08\x00":
        return
    b = parse_frame(101, buf[14:], 1.5, s2, 7)
    fields = ("ts", "src", "sport", "dst", "dport", "seq", "ack", "flags", "payload",
              "frame", "missing")
    assert (a is None) == (b is None)
    if a is not None:
        assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
    assert s1 == s2


def test_ethernet_ipv4_fast_path_reads_the_sample_frame():
    from msnsniff.capture.packet import CaptureStats, parse_frame
    st_ = CaptureStats()
    seg = parse_frame(1, _FRAME, 2.0, st_)
    assert (seg.src, seg.sport, seg.dst, seg.dport) == ("10.0.0.1", 50000, "198.51.100.20", 1863)
    assert (seg.seq, seg.ack, seg.flags) == (0x12345678, 1, 0x18)
    assert seg.payload == b"VER 1 MSNP8\r\n" and st_.tcp_segments == 1  # padding is not payload


@given(st.integers(0, 2**32 - 1))
def test_client_id_decoding(v):
    version, caps = decode_client_id(v)
    assert version == v >> 28 and all(isinstance(c, str) for c in caps)


def test_atheris_target_runs_briefly(tmp_path):
    pytest.importorskip("atheris")
    res = subprocess.run([sys.executable, os.path.join(os.path.dirname(CAPTURES), "fuzz",
                                                       "fuzz_msnp.py"), "-runs=3000",
                          "-max_len=2048", f"-artifact_prefix={tmp_path}/"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Done 3000 runs" in res.stderr


# ---------------------------------------------------------------- adversarial captures
def analyse_file(path):
    from msnsniff.engine.analyze import analyse
    return analyse([str(path)])


def kinds(doc):
    return {a["kind"] for a in doc["anomalies"]}


def test_payload_claim_of_999999999(tmp_path):
    p = write_pcap(tmp_path / "claim.pcap", conversation(
        c2s=[b"USR 1 eve@hotmail.com 1.2.3\r\n",
             b"MSG 2 N 999999999\r\nMIME-Version: 1.0\r\n\r\nhello\r\n", b"OUT\r\n"],
        s2c=[b"USR 1 OK eve@hotmail.com Eve\r\n"]))
    d = analyse_file(p)
    assert "truncated payload" in kinds(d)
    claim = [a for a in d["anomalies"] if a["kind"] == "truncated payload"][0]
    assert claim["detail"] == "MSG declared 999999999 payload bytes; 999999999 missing"
    und = [a for a in d["anomalies"] if a["kind"] == "undecodable"]
    assert und and und[0]["length"] == len(b"MIME-Version: 1.0\r\n\r\nhello\r\n")
    sb = d["sessions"][0]
    assert sb["kind"] == "switchboard" and sb["logout"]["by"] == "client"   # OUT still decoded


def test_megabyte_line_without_crlf(tmp_path):
    big = b"A" * 2_000_000
    chunks = [big[i:i + 60000] for i in range(0, len(big), 60000)]
    p = write_pcap(tmp_path / "long.pcap", conversation(
        c2s=[b"VER 1 MSNP8 CVR0\r\n"] + chunks + [b"\r\nOUT\r\n"],
        s2c=[b"VER 1 MSNP8 CVR0\r\n"]))
    d = analyse_file(p)
    und = [a for a in d["anomalies"] if a["kind"] == "undecodable"]
    assert sum(a["length"] for a in und) == 2_000_002
    assert any("without a line end" in a["detail"] for a in und)
    assert d["sessions"][0]["logout"]["by"] == "client"


def test_gap_every_few_bytes(tmp_path):
    """Every other 5-byte piece of a real stream is lost: all of it is reported."""
    stream = b"".join(b"NLN NLN c%d@hotmail.com Contact%%20%d 0\r\n" % (i, i) for i in range(200))
    pieces = [stream[i:i + 5] for i in range(0, len(stream), 5)]
    pk = conversation(c2s=[b"SYN 1 0\r\n"], s2c=[b"SYN 1 5\r\n"])
    seq, t = 5000 + len(b"SYN 1 5\r\n"), 2.0
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            pk.append((t, "10.0.0.2", 1863, "10.0.0.1", 40000, seq, 0, 0x18, piece))
        seq += len(piece)
        t += 0.001
    p = write_pcap(tmp_path / "gaps.pcap", pk)
    d = analyse_file(p)
    gaps = [a for a in d["anomalies"] if a["kind"] == "gap"]
    # every lost piece is a gap (the last one is never seen, so not known to be lost)
    assert sum(a["length"] for a in gaps) == sum(len(x) for i, x in enumerate(pieces)
                                                if i % 2 and i != len(pieces) - 1)
    assert d["sessions"][0]["gap_bytes"] == sum(a["length"] for a in gaps)


def test_invalid_utf8_bad_escapes_and_nul_bytes(tmp_path):
    p = write_pcap(tmp_path / "names.pcap", conversation(
        c2s=[b"VER 1 MSNP8 CVR0\r\n", b"SYN 2 0\r\n"],
        s2c=[b"VER 1 MSNP8 CVR0\r\n",
             b"SYN 2 1 2 0\r\nLST a@x.com Bad%FF%zz%E2%28name 11 0\r\n"
             b"LST b@x.com raw\xff\xfebytes\x00nul 11 0\r\n"]))
    d = analyse_file(p)
    names = {c["passport"]: c["friendly_name"] for c in d["contacts"]}
    # the bytes that are not UTF-8 are escaped, not replaced: the raw column has them
    assert names == {"a@x.com": "Bad\\xff%zz\\xe2(name",
                     "b@x.com": "raw\\xff\\xfebytes\x00nul"}
    raw = {c["passport"]: c["friendly_name_raw"] for c in d["contacts"]}
    assert raw == {"a@x.com": b"Bad\xff%zz\xe2(name".hex(),
                   "b@x.com": b"raw\xff\xfebytes\x00nul".hex()}
    assert "invalid UTF-8" in kinds(d)


def test_garbage_on_1863_and_a_connection_that_changes_role(tmp_path):
    garbage = bytes(range(256)) * 8
    p = write_pcap(tmp_path / "garbage.pcap",
                   conversation(c2s=[garbage], s2c=[b"\x16\x03\x01\x02\x00" * 40]) +
                   conversation(client=("10.0.0.3", 40001), c2s=[
                       b"VER 1 MSNP8 CVR0\r\n", b"USR 2 a@b.com 1.2.3\r\n",
                       b"MSG 3 N 5\r\nhello", b"FIL 100\r\n"],
                       s2c=[b"VER 1 MSNP8 CVR0\r\n", b"IRO 2 1 1 c@d.com C\r\n"]))
    d = analyse_file(p)
    g = [a for a in d["anomalies"] if a["session"] == 1]
    assert sum(a["length"] for a in g) == len(garbage) + 200
    assert d["sessions"][0]["kind"] == "unknown"
    s2 = d["sessions"][1]
    assert s2["kind"] == "notification"           # decided by its first line
    # what the connection says afterwards as a switchboard or MSNFTP peer is reported
    # or kept, never dropped
    assert [(a["kind"], a["detail"]) for a in d["anomalies"] if a["session"] == 2] == [
        ("malformed command", "USR 2 a@b.com 1.2.3: unexpected arguments"),
        ("protocol", "client sent MSG to the NS (real servers close the connection)")]
    assert [(n["direction"], n["command"], n["summary"]) for n in d["notifications"]
            if n["session"] == 2] == [("s2c", "IRO", "2 1 1 c@d.com C"), ("c2s", "FIL", "100")]


@pytest.mark.slow          # over 5 s: CI runs it (plain pytest); -m 'not slow' skips it
def test_hundred_thousand_connections_bounded_memory(tmp_path):
    """100,000 concurrent connections: the connection cap closes the oldest, says so,
    and memory stays bounded (measured in a child process)."""
    pk = []
    for i in range(100_000):
        ip = f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}"
        pk.append((1.0 + i * 1e-5, ip, 30000 + i % 30000, "10.9.9.9", 1863, 100, 0, 0x02, b""))
        pk.append((1.0 + i * 1e-5, ip, 30000 + i % 30000, "10.9.9.9", 1863, 101, 0, 0x18,
                   b"VER 1 MSNP8 CVR0\r\n"))
    p = write_pcap(tmp_path / "many.pcap", pk)
    code = ("import json, resource; from msnsniff.engine.analyze import analyse; "
            f"d = analyse([{p!r}]); "
            "print(json.dumps([d['summary']['sessions'], d['summary']['anomalies'], "
            "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    sessions, anomalies, rss_mb = json.loads(out.stdout)
    assert sessions == 100_000
    assert anomalies["connection cap"] == 100_000 - Limits().max_connections
    assert rss_mb < 1500, rss_mb        # generous: the real bound is in bench/RESULTS.md


def test_file_cap_is_reported(tmp_path):
    from msnsniff.engine.analyze import analyse
    d = analyse([cap("msnp8_session.pcap")], limits=Limits(max_file_bytes=1000))
    caps = [a for a in d["anomalies"] if a["kind"] == "file cap"]
    assert len(caps) == 2 and "will not be extracted" in caps[0]["detail"]
    assert [t["received"] for t in d["transfers"]] == [3000, 2045]   # still counted and hashed


def test_every_cap_reports_what_it_dropped():
    """Line, payload and buffer caps, straight from the stages."""
    f = Framer(Limits(max_line=100))
    out = f.feed(b"X" * 500) + f.close()
    assert [u.reason for u in out][0].startswith("line longer than 100")
    r = Reassembler(Limits(max_pending_bytes=10))
    ev = []
    c = r.open(Segment(0, "1.1.1.1", 1, "2.2.2.2", 1863, 0, 0, SYN, b""), True, ev)
    r.feed(c, Segment(0, "1.1.1.1", 1, "2.2.2.2", 1863, 0, 0, SYN, b""), ev)
    r.feed(c, Segment(0, "1.1.1.1", 1, "2.2.2.2", 1863, 50, 0, ACK, b"x" * 20), ev)
    assert [(g.reason, g.length) for g in ev if isinstance(g, Gap)] == [("buffer cap", 49)]


# ---------------------------------------------------------------- errors for people
@pytest.mark.parametrize("args, message", [
    (["export", cap("msnp8_session.pcap"), "--format", "json", "-o", "/etc/passwd/x.json"],
     "no such directory"),
    (["read", cap("msnp8_session.pcap"), "--jobs", "0"], "Invalid value for '--jobs'"),
    (["files", cap("msnp8_session.pcap"), "--extract", "/etc/passwd"], "cannot create directory"),
    (["nosuchcommand"], "No such command"),
])
def test_user_mistakes_one_line(args, message):
    res = subprocess.run([sys.executable, "-m", "msnsniff", *args], capture_output=True, text=True)
    assert res.returncode == 2, res.stderr
    assert message in res.stderr and "Traceback" not in res.stderr


def test_internal_error_points_to_debug(monkeypatch, capsys):
    import msnsniff.engine.analyze
    from msnsniff import cli

    def boom(*a, **k):
        raise RuntimeError("something unexpected")
    monkeypatch.setattr(msnsniff.engine.analyze, "analyse", boom)
    monkeypatch.setattr(msnsniff.engine.analyze, "stream", boom)
    with pytest.raises(SystemExit) as e:
        cli.main(["read", cap("msnp8_session.pcap")])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert err.strip() == ("msnsniff: internal error: RuntimeError: something unexpected "
                           "(run again with --debug for the traceback)")
    with pytest.raises(RuntimeError):
        cli.main(["--debug", "read", cap("msnp8_session.pcap")])


@pytest.mark.slow          # ~10 s: CI runs it (plain pytest); -m 'not slow' skips it
def test_a_long_run_keeps_nothing_per_finished_connection():
    """What `live` runs: 3,000 switchboard conversations through the pipeline and a
    streaming model.  Afterwards nothing per connection is left but bounded caches."""
    from msnsniff.model import Analysis
    from msnsniff.pipeline import Pipeline
    emitted = []
    p = Pipeline()
    a = Analysis(sink=lambda t, r: emitted.append(t), stream_sessions=True)
    t = 0.0
    for i in range(3000):
        ip = f"10.1.{i >> 8}.{i & 255}"
        pay = b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhi"
        c2s = [b"USR 1 u%d@x.com 1.2.3\r\n" % i, b"MSG 2 N %d\r\n" % len(pay) + pay, b"OUT\r\n"]
        s2c = [b"USR 1 OK u%d@x.com U\r\n" % i, b"JOI v@x.com V\r\n"]
        for pk in conversation(client=(ip, 40000), server=("10.9.9.9", 1864), t0=t, c2s=c2s,
                               s2c=s2c):
            for ev in p.feed(Segment(*pk)):
                a.apply(ev)
        # and the connection ends (FIN both ways, right after the last byte)
        cfin, sfin = 1000 + sum(map(len, c2s)), 5000 + sum(map(len, s2c))
        for seg in (Segment(t + 1, ip, 40000, "10.9.9.9", 1864, cfin, 0, FIN | ACK, b""),
                    Segment(t + 1, "10.9.9.9", 1864, ip, 40000, sfin, 0, FIN | ACK, b"")):
            for ev in p.feed(seg):
                a.apply(ev)
        t += 2
    assert emitted.count("sessions") == 3000 and emitted.count("messages") == 3000
    assert len(a.sessions) == 0 and len(a.session_rows) == 0 and len(p.reasm.conns) == 0
    assert p.states == {}          # the pipeline's own state goes with the connection
    assert len(a.by_ip) == 3000 <= Limits().max_links
    assert len(p.closed) <= Limits().max_connections


def test_the_harness_accounts_for_bytes_that_begin_like_a_gateway_post():
    """Fuzz input that starts like an HTTP gateway POST makes port 1863 a gateway carrier:
    the harness checks the HTTP side's byte count then (it asked a framer's counters of
    the HTTP side before, and raised on its own)."""
    body = b"VER 1 MSNP8 CVR0\r\n"
    req = (b"POST /gateway/gateway.dll?Action=open&Server=NS&IP=1.2.3.4 HTTP/1.1\r\n"
           b"Content-Type: application/x-msn-messenger\r\nContent-Length: %d\r\n\r\n"
           % len(body) + body)
    doc = run_chunks([(0, req), (1, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")])
    assert [s["kind"] for s in doc["sessions"]] == ["http"]
    assert doc["sessions"][0]["bytes_c2s"] == len(req)


def test_an_evicted_connection_goes_on_as_a_new_one():
    """Past the connection cap the least active connection is closed early; its later
    segments are decoded as a new connection (they were dropped as "late segments" of a
    closed flow, against what the anomaly and docs/robustness.md say)."""
    import dataclasses

    from msnsniff.config import DEFAULT_LIMITS
    from msnsniff.events import ConnectionClosed, ConnectionOpened, Framed
    from msnsniff.pipeline import Pipeline
    p = Pipeline(limits=dataclasses.replace(DEFAULT_LIMITS, max_connections=2), trace=True)
    evs = []
    for i in range(3):                      # the third open evicts the first
        ip = f"10.0.0.{i + 1}"
        evs += p.feed(Segment(float(i), ip, 40000, "10.9.9.9", 1863, 999, 0, SYN, b""))
        evs += p.feed(Segment(float(i) + 0.1, ip, 40000, "10.9.9.9", 1863, 1000, 0,
                              PSH | ACK, b"VER 1 MSNP8 CVR0\r\n"))
    evs += p.feed(Segment(5.0, "10.0.0.1", 40000, "10.9.9.9", 1863, 1018, 0, PSH | ACK,
                          b"CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 5.0.0544 MSMSGS a@b.c\r\n"))
    closed = [(e.conn, e.reason) for e in evs if type(e) is ConnectionClosed]
    # (the flow coming back is an open connection again: it evicts the next least active)
    assert closed == [(1, "evicted (connection cap)"), (2, "evicted (connection cap)")]
    opened = [(e.conn, e.client) for e in evs if type(e) is ConnectionOpened]
    assert opened[-1] == (4, "10.0.0.1:40000")
    framed = [(e.conn, e.item.verb) for e in evs if type(e) is Framed]
    assert framed[-1] == (4, "CVR") and p.late_segments == 0
