"""The compiled core (msnsniff/core/_core.c) against the Python path it stands in for:
the same segments and counts from the reader, the same commands from the framer, the
same analysis — on every sample capture and on generated streams cut, reordered and
damaged in every way the core must hand back to Python."""

from __future__ import annotations

import glob
import os
import shutil
import struct
import subprocess
import sys

import pytest
from conftest import cap, conversation, invoke, write_pcap
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msnsniff import core
from msnsniff.capture.files import CaptureStats
from msnsniff.config import Limits
from msnsniff.engine.analyze import analyse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "fuzz"))
import core_harness  # noqa: E402  (fuzz/: the comparison the fuzz target makes)

needs_core = pytest.mark.skipif(core._module() is None, reason="the compiled core is not built")

UNCOMPRESSED = sorted(os.path.basename(p) for p in glob.glob(cap("*.pcap*"))
                      if not p.endswith(".gz"))
# the P2P and Escargot samples are gzipped (read by the Python path as they are): the
# tests below also run them decompressed, so that the core reads them
GZIPPED = sorted(os.path.basename(p) for p in glob.glob(cap("*.pcap*.gz")))


def _sample(name, tmp_path):
    if not name.endswith(".gz"):
        return cap(name)
    import gzip
    out = tmp_path / name[:-3]
    out.write_bytes(gzip.open(cap(name)).read())
    return str(out)


def test_the_compiled_core_is_built_where_a_compiler_is():
    if shutil.which(os.environ.get("CC", "cc")) is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler here")
    assert core.name() == "compiled"
    out = invoke("--version").output
    assert out == "msnsniff, version 0.2.0 (core: compiled)\n"


def test_msnsniff_core_python_forces_the_python_path(monkeypatch):
    monkeypatch.setenv("MSNSNIFF_CORE", "python")
    assert core.name() == "python"
    assert core.open_capture(cap("msnp8_session.pcap"), CaptureStats(), Limits()) is None
    doc = analyse([cap("msnp8_session.pcap")])
    assert doc["summary"]["captures"][0]["reader"] == "libpcap"


def _python(monkeypatch):
    monkeypatch.setenv("MSNSNIFF_CORE", "python")
    monkeypatch.setenv("MSNSNIFF_READER", "python")


def _both(monkeypatch, fn):
    monkeypatch.delenv("MSNSNIFF_CORE", raising=False)
    monkeypatch.delenv("MSNSNIFF_READER", raising=False)
    a = fn()
    _python(monkeypatch)
    b = fn()
    monkeypatch.delenv("MSNSNIFF_CORE")
    monkeypatch.delenv("MSNSNIFF_READER")
    return a, b


@needs_core
@pytest.mark.parametrize("name", UNCOMPRESSED + GZIPPED)
def test_every_sample_gives_the_same_analysis_with_both_cores(name, monkeypatch, tmp_path):
    path = _sample(name, tmp_path)
    fast, slow = _both(monkeypatch, lambda: analyse([path]))
    for t in fast:
        if t != "summary":
            assert fast[t] == slow[t], t
    a, b = fast["summary"], slow["summary"]
    assert [c.pop("reader") for c in a["captures"]] == ["compiled"]
    assert [c.pop("reader") for c in b["captures"]] == ["python"]
    assert a == b
    # and the trace, command by command (offsets, lengths, payloads, TrIDs)
    fast, slow = _both(monkeypatch, lambda: invoke("commands", path, "--format", "jsonl",
                                                   "--no-progress").output)
    assert fast.replace('"compiled"', '"python"') == slow
    assert fast.count("\n") > 3


def _items(path, limits=Limits()):
    """(commands the core framed, commands the Python path framed, connections given back)"""
    from msnsniff.pipeline import Pipeline
    stats = CaptureStats()
    reader = core.open_capture(path, stats, limits)
    assert reader is not None
    counts = {"core": 0, "released": 0, "segments": 0}

    def watch(items):
        for it in items:
            if type(it) is tuple and len(it) == 4:
                counts["core"] += len(it[3] or ())
            elif type(it) is tuple:
                counts["released"] += 1
            else:
                counts["segments"] += 1
            yield it
    pipe = Pipeline(limits=limits)
    with reader:
        for _ in pipe.run_core(watch(reader.core), reader.core):
            pass
        assert reader.core.held() == 0          # every connection came back at the end
    return counts, pipe.commands


@needs_core
def test_the_core_frames_most_commands_and_gives_connections_back():
    counts, total = _items(cap("msnp8_session.pcap"))
    assert total == 142
    # the opening lines go through Python (roles, kinds); then the core takes over
    assert counts["core"] >= 100
    assert counts["released"] >= 5             # FINs: each handed back before its close


@needs_core
def test_reader_counts_and_segments_match_the_python_reader():
    for name in UNCOMPRESSED:
        got = core_harness.reading(cap(name), compiled=True)
        assert got is not None and got[0], name
        assert got == core_harness.reading(cap(name), compiled=False), name


# ------------------------------------------------------------ generated streams

_LINES = [b"VER 1 MSNP8 CVR0\r\n", b"CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 5.0.0540 MSMSGS a@b.c\r\n",
          b"MSG 5 N 19\r\nMIME-Version: 1.0\r\n", b"MSG a@b.c Alice 4\r\nhi!\n",
          b"QRY 9 msmsgs@msnmsgr.com 32\r\n" + b"0" * 32, b"PNG\r\n", b"QNG 45\n",
          b"NLN NLN a@b.c Al%20ice\r\n", b"UUX 3 0\r\n", b"CHG 4 NLN 0\r\n",
          b"ILN 7 NLN \xc3\xa9@x.y n\xff\xfe 0\r\n",            # not UTF-8: kept as \xNN
          b"MSG 1 U \xc2\xb2\r\n",                              # Unicode digit: not a length
          b"MSG 1 U 99999999999999999999\r\n", b"MSG 2 U 5000\r\n",   # impossible lengths
          b"\r\n", b"hello there\r\n", b"VER MSNFTP\r\n", b"LSG 1 name 0\r\n", b"LSG 1 g\r\n",
          b"ADC 12 FL N=x@y.z F=x\r\n", b"X" * 50 + b"\r\n", b"USR 6 OK a@b.c Al 1 0\r\n",
          b"911 3\r\n", b"GCF 1 20\r\n<xml>" + b"y" * 15, b"MSG 3 A 4\r\n\r\n\r\n"]


@st.composite
def _stream(draw):
    parts = draw(st.lists(st.sampled_from(_LINES), min_size=1, max_size=14))
    data = b"".join(parts)
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(data)))
        data = data[:cut]                       # the stream ends inside a line or payload
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=10))))
    segs, prev = [], 0
    for c in cuts + [len(data)]:
        if c > prev:
            segs.append((prev, data[prev:c]))
        prev = c
    # a few retransmissions and swapped neighbours: the core hands these back
    for _ in range(draw(st.integers(0, 2))):
        if segs:
            i = draw(st.integers(0, len(segs) - 1))
            if draw(st.booleans()):
                segs.insert(i, segs[i])
            elif i + 1 < len(segs):
                segs[i], segs[i + 1] = segs[i + 1], segs[i]
    return segs


def _conn_packets(c2s, s2c, fin):
    client, server = ("10.0.0.1", 40000), ("10.0.0.2", 1863)
    # the first line of each side goes through Python; the rest is the core's
    out = conversation(client, server, c2s=[b"VER 1 MSNP8 CVR0\r\n"], s2c=[b"VER 1 MSNP8\r\n"])
    cseq, sseq, t = 1000 + 18, 5000 + 13, 2.0
    for (off_c, a), (off_s, b) in zip(c2s + [(None, None)] * len(s2c),
                                      s2c + [(None, None)] * len(c2s)):
        t += 0.001
        if a is not None:
            out.append((t, *client, *server, cseq + off_c, sseq, 0x18, a))
        if b is not None:
            out.append((t, *server, *client, sseq + off_s, cseq, 0x18, b))
    if fin:
        out.append((t + 1, *client, *server, cseq + sum(len(x) for _, x in c2s), sseq, 0x11, b""))
    return out


@needs_core
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(c2s=_stream(), s2c=_stream(), fin=st.booleans(), max_line=st.sampled_from([24, 40, 16384]))
def test_generated_streams_frame_alike_in_both_cores(tmp_path_factory, monkeypatch, c2s, s2c,
                                                       fin, max_line):
    path = write_pcap(tmp_path_factory.mktemp("g") / "g.pcap", _conn_packets(c2s, s2c, fin))
    limits = Limits(max_line=max_line)
    fast = core_harness.events(path, limits, compiled=True)
    assert fast == core_harness.events(path, limits, compiled=False)


@needs_core
def test_a_payload_cut_at_every_byte_frames_alike(tmp_path, monkeypatch):
    body = b"MSG 5 N 30\r\nMIME-Version: 1.0\r\nX: 12345\r\n\r\n" + b"CHG 4 NLN 0\r\n"
    for cut in range(1, len(body)):
        segs = [(0, body[:cut]), (cut, body[cut:])]
        path = write_pcap(tmp_path / f"c{cut}.pcap", _conn_packets(segs, [], True))
        fast = core_harness.events(path, Limits(), compiled=True)
        assert fast == core_harness.events(path, Limits(), compiled=False), cut
        assert sum(1 for e in fast if e[0] == "Framed" and e[4][0] == "RawCommand") == 4


# ------------------------------------------------------------ capture formats


def _pcapng(blocks_big=False, tsresol=None, tsoffset=None, spb=False, opb=False):
    e = ">" if blocks_big else "<"
    frame = open(cap("msnp8_session.pcap"), "rb").read()[24 + 16:]
    incl = struct.unpack("<I", open(cap("msnp8_session.pcap"), "rb").read()[32:36])[0]
    pkt = frame[:incl]

    def block(btype, body):
        return _block(btype, body, e)
    shb = block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    opts = b""
    if tsresol is not None:
        opts += struct.pack(e + "HH", 9, 1) + bytes([tsresol]) + b"\0\0\0"
    if tsoffset is not None:
        opts += struct.pack(e + "HHq", 14, 8, tsoffset)
    idb = block(1, struct.pack(e + "HHI", 1, 0, 0) + opts + (struct.pack(e + "HH", 0, 0) if opts else b""))
    ticks = 1764000000123456789 if tsresol == 9 else 1764000000123456
    epb = block(6, struct.pack(e + "IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(pkt), len(pkt)) + pkt)
    out = shb + idb + epb
    if spb:
        out += block(3, struct.pack(e + "I", len(pkt)) + pkt)
    if opb:
        out += block(2, struct.pack(e + "HHIIII", 0, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(pkt),
                                    len(pkt)) + pkt)
    return out


@needs_core
@pytest.mark.parametrize("variant", [
    {}, {"blocks_big": True}, {"tsresol": 9}, {"tsresol": 9, "blocks_big": True},
    {"tsresol": 0x80 | 20}, {"tsresol": 100}, {"tsoffset": 3600}, {"tsoffset": -10 ** 12},
    {"spb": True}, {"opb": True}, {"spb": True, "opb": True, "blocks_big": True}])
def test_pcapng_variants_read_alike(tmp_path, variant):
    data = _pcapng(**variant)
    for cut in (None, len(data) - 3, len(data) - 30, 30, 7):
        p = tmp_path / "v.pcapng"
        p.write_bytes(data if cut is None else data[:cut])
        _same_reading(str(p))


@needs_core
def test_many_unsupported_link_types_are_each_counted(tmp_path):
    """80 interfaces of 80 link types msnsniff does not decode, one packet each: every
    type is counted, as the Python reader counts them (the core once kept 64)."""
    p = tmp_path / "links.pcapng"
    _many_links_pcapng(p)
    _same_reading(str(p))
    st_ = CaptureStats()
    with core.open_capture(str(p), st_, Limits()) as r:
        list(r.core)
        r.core.sync()
    # (228 and 229 are raw IPv4 / IPv6, 276 Linux cooked v2: decoded, so not counted here)
    assert st_.unsupported_link == {lt: 1 for lt in range(200, 280) if lt not in (228, 229, 276)}


@needs_core
def test_a_core_frees_what_it_took(tmp_path):
    """Memory the core allocates (the link-type counts, the gateway pairs' set) goes with
    it: twenty cores on a capture that needs both leave nothing behind (tracemalloc sees
    the core's PyMem allocations).  The link counts were once freed where the pairs' set
    grew, not with the core: a leak per capture and a use after free."""
    import tracemalloc

    from msnsniff.capture.follow import Follow
    p = tmp_path / "links.pcapng"
    _many_links_pcapng(p)
    pairs = [(40000 + i, 80) for i in range(100)]

    def one():
        with core.open_capture(str(p), CaptureStats(), Limits()) as r:
            r.core.follow(Follow().port_set, pairs)
            list(r.core)
            r.core.sync()
    one()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(20):
            one()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 256 * 1024, grown


def _block(btype, body, e="<"):
    """One pcapng block in byte order ``e``, padded to 32 bits."""
    body += b"\x00" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def _many_links_pcapng(p):
    """80 interfaces of link types 200..279, one 40-byte packet on each."""
    block = _block
    data = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    data += b"".join(block(1, struct.pack("<HHI", lt, 0, 0)) for lt in range(200, 280))
    data += b"".join(block(6, struct.pack("<IIIII", i, 0, 1000000, 40, 40) + b"x" * 40)
                     for i in range(80))
    p.write_bytes(data)


@needs_core
def test_a_core_used_before_it_is_made_says_so(tmp_path):
    """Misuse from Python is an exception, never a crash."""
    mod = core._module()
    bare = mod.Core.__new__(mod.Core)
    for call in (lambda: next(bare), lambda: bare.sync(), lambda: bare.follow([], []),
                 lambda: bare.release("10.0.0.1", 1, "10.0.0.2", 2),
                 lambda: bare.adopt(1, "10.0.0.1", 1, "10.0.0.2", 2, (), ())):
        with pytest.raises(RuntimeError, match="not initialised"):
            call()
    with core.open_capture(cap("msnp8_session.pcap"), CaptureStats(), Limits()) as r:
        half = (None, 0, 0, 0, 0, b"", 1, "not a command", 5, [], 0, 0, 0)
        line = (None, 0, 0, 0, 0, b"", 0, None, 0, [], 0, 0, 0)
        with pytest.raises(ValueError, match="RawCommand"):
            r.core.adopt(1, "10.0.0.1", 1, "10.0.0.2", 2, half, line)
        assert r.core.held() == 0


@needs_core
def test_a_tiny_max_line_is_the_same_on_both_cores(tmp_path):
    path = write_pcap(tmp_path / "t.pcap", _conn_packets([(0, b"CHG 4 NLN 0\r\nPNG\r\n")],
                                                         [(0, b"QNG 45\r\n")], True))
    for max_line in (0, 3, 10):
        fast = core_harness.events(path, Limits(max_line=max_line), compiled=True)
        assert fast == core_harness.events(path, Limits(max_line=max_line), compiled=False)


@needs_core
def test_damaged_pcap_records_read_alike(tmp_path):
    data = open(cap("hostile.pcap"), "rb").read()
    for cut in (23, 24, 30, 40, 41, 500, len(data) - 1):
        p = tmp_path / "d.pcap"
        p.write_bytes(data[:cut])
        _same_reading(str(p))
    bad = bytearray(data)
    struct.pack_into("<I", bad, 24 + 8, 5_000_000)       # an impossible record length
    p = tmp_path / "len.pcap"
    p.write_bytes(bytes(bad))
    _same_reading(str(p))


def _same_reading(path):
    got = core_harness.reading(path, compiled=True)
    if got is not None:
        assert got == core_harness.reading(path, compiled=False), path


def test_a_build_without_a_compiler_installs_the_python_path(tmp_path):
    """README's first command must work on a machine without gcc: the extension is
    optional, so the build goes on without it (and msnsniff runs its Python path)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for f in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(os.path.join(root, f), tmp_path)
    shutil.copytree(os.path.join(root, "msnsniff"), tmp_path / "msnsniff",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    env = dict(os.environ, CC="/bin/false", LDSHARED="/bin/false")
    p = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], capture_output=True,
                       text=True, env=env, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    assert 'building extension "msnsniff.core._core" failed' in p.stderr
    assert not glob.glob(str(tmp_path / "msnsniff" / "core" / "*.so"))
    p = subprocess.run([sys.executable, "-c", "from msnsniff import core; print(core.name())"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert p.stdout == "python\n", p.stderr


FUZZ = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fuzz",
                    "fuzz_core.py")


def _seeds(tmp_path):
    d = tmp_path / "seeds"
    d.mkdir()
    for name in UNCOMPRESSED:
        shutil.copy(cap(name), d)
    return d


@needs_core
def test_differential_fuzz_target_runs_briefly(tmp_path):
    pytest.importorskip("atheris")
    res = subprocess.run([sys.executable, FUZZ, "-runs=400", "-max_len=65536",
                          f"-artifact_prefix={tmp_path}/", str(_seeds(tmp_path))],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Done 400 runs" in res.stderr


@needs_core
def test_sanitized_core_fuzz_runs_briefly(tmp_path):
    cc = shutil.which("gcc")
    if cc is None:
        pytest.skip("no gcc for the ASan build")
    lib = subprocess.run([cc, "-print-file-name=libasan.so"], capture_output=True, text=True).stdout
    if not os.path.isabs(lib.strip()):
        pytest.skip("gcc has no ASan runtime here")
    res = subprocess.run([sys.executable, FUZZ, "--asan", "5", str(_seeds(tmp_path))],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "runs under ASan+UBSan (%d seeds)" % len(UNCOMPRESSED) in res.stderr
