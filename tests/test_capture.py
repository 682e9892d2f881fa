"""Capture input: formats, link types, damaged and wrong files, stdin."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import cap

from msnsniff.capture.files import CaptureStats, read_segments
from msnsniff.engine.analyze import Run
from msnsniff.errors import MsnsniffError
from msnsniff.events import ConnectionOpened, Framed
from msnsniff.stream.framing import RawCommand


def commands(path, **kw):
    run = Run([path], trace=True, **kw)
    out = [(ev.conn, ev.dir, ev.item.verb, tuple(ev.item.params)) for ev in run.events()
           if isinstance(ev, Framed) and isinstance(ev.item, RawCommand)]
    return out, run.stats[0][1]


def test_ethernet_pcap_microseconds():
    cmds, st = commands(cap("msnp8_session.pcap"))
    assert st.format == "pcap" and st.packets == 245 and st.tcp_segments == 245
    assert len(cmds) == 142
    assert cmds[0] == (1, 0, "VER", ("1", "MSNP8", "CVR0"))


def test_vlan_stacked_gives_the_same_commands():
    assert commands(cap("vlan.pcap"))[0] == commands(cap("msnp8_session.pcap"))[0]


def test_reordered_and_retransmitted_gives_the_same_commands():
    # per connection and direction the commands are the same; only their interleaving
    # across connections follows the (changed) packet order
    a, b = commands(cap("reordered.pcap"))[0], commands(cap("msnp8_session.pcap"))[0]
    key = lambda c: (c[0], c[1])
    assert sorted(a, key=key) == sorted(b, key=key)


def test_linux_cooked_v1_and_nanosecond_pcap_agree():
    # the same scenario captured twice: -i lo (ns timestamps) and -i any as LINUX_SLL
    a, sa = commands(cap("compat_failures.pcap"))
    b, sb = commands(cap("cooked_any.pcap"))
    assert sa.format == "pcap (ns)" and sb.format == "pcap"
    strip = lambda cs: [(d, v, p) for _, d, v, p in cs if v not in ("USR", "MSG", "QRY")]
    assert strip(a) == strip(b)
    assert len(a) == len(b) == 31


def test_pcapng_ipv6_and_cooked_v2_agree():
    a, sa = commands(cap("ipv6.pcapng"))
    b, sb = commands(cap("cooked2_any.pcap"))
    assert sa.format == "pcapng"
    assert [c[2] for c in a] == [c[2] for c in b]
    assert ("SYN", ("5", "3", "1", "1")) in [(c[2], c[3]) for c in a]
    segs = list(read_segments(cap("ipv6.pcapng")))
    assert segs[0].src == "::1" and segs[0].dport == 1863


def test_nanosecond_timestamps_are_kept():
    segs = list(read_segments(cap("compat_failures.pcap")))
    # tcpdump --time-stamp-precision=nano: sub-microsecond digits survive
    assert any(round(s.ts * 1e9) % 1000 for s in segs)


def test_not_a_capture(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello, this is not a pcap file\n")
    with pytest.raises(MsnsniffError, match="not a pcap or pcapng capture file"):
        list(read_segments(str(p)))


def test_empty_file(tmp_path):
    p = tmp_path / "empty.pcap"
    p.write_bytes(b"")
    with pytest.raises(MsnsniffError, match="empty or too short"):
        list(read_segments(str(p)))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(MsnsniffError, match="no such file"):
        list(read_segments(str(tmp_path / "nope.pcap")))
    with pytest.raises(MsnsniffError, match="is a directory"):
        list(read_segments(str(tmp_path)))


def test_truncated_inside_a_record(tmp_path):
    data = open(cap("msnp8_session.pcap"), "rb").read()
    p = tmp_path / "cut.pcap"
    p.write_bytes(data[:len(data) // 2])
    st = CaptureStats()
    segs = list(read_segments(str(p), st))
    assert 100 < len(segs) < 245
    assert st.truncated and "file ends inside" in st.truncated
    assert st.notices()[0].startswith("capture truncated")


def test_truncated_inside_a_record_header(tmp_path):
    data = open(cap("msnp8_session.pcap"), "rb").read()
    # find the end of the 10th record, cut 7 bytes into the 11th header
    import struct
    off = 24
    for _ in range(10):
        off += 16 + struct.unpack_from("<I", data, off + 8)[0]
    p = tmp_path / "cut.pcap"
    p.write_bytes(data[:off + 7])
    st = CaptureStats()
    assert len(list(read_segments(str(p), st))) == 10
    assert "inside the header of record 11" in st.truncated


def test_damaged_record_length(tmp_path):
    import struct
    data = bytearray(open(cap("msnp8_session.pcap"), "rb").read())
    off = 24
    for _ in range(5):
        off += 16 + struct.unpack_from("<I", data, off + 8)[0]
    struct.pack_into("<I", data, off + 8, 999999999)
    p = tmp_path / "bad.pcap"
    p.write_bytes(bytes(data))
    st = CaptureStats()
    assert len(list(read_segments(str(p), st))) == 5
    assert "claims 999999999 bytes" in st.truncated


def test_truncated_pcapng(tmp_path):
    data = open(cap("ipv6.pcapng"), "rb").read()
    p = tmp_path / "cut.pcapng"
    p.write_bytes(data[:len(data) - 600])
    st = CaptureStats()
    segs = list(read_segments(str(p), st))
    assert 20 < len(segs) < 29 and st.truncated


def test_snaplen_cut_packets_become_gaps(tmp_path):
    if not shutil.which("editcap"):
        pytest.skip("editcap (tshark) not installed")
    out = tmp_path / "snap.pcap"
    subprocess.run(["editcap", "-s", "150", cap("msnp8_session.pcap"), str(out)], check=True,
                   capture_output=True)
    from msnsniff.engine.analyze import analyse
    doc = analyse([str(out)])
    assert doc["summary"]["captures"][0]["snapped"] > 0
    gaps = [a for a in doc["anomalies"] if a["kind"] == "gap"]
    assert gaps and all("snaplen" in a["detail"] for a in gaps)
    # the login survives: those lines are short
    alice = [s for s in doc["sessions"] if s["passport"] == "alice@hotmail.com"
             and s["kind"] == "notification"][0]
    assert alice["login"] == "ok"


def test_stdin_through_tcpdump():
    if not shutil.which("tcpdump"):
        pytest.skip("tcpdump not installed")
    td = subprocess.Popen(["tcpdump", "-r", cap("msnp8_session.pcap"), "-w", "-"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    res = subprocess.run([sys.executable, "-m", "msnsniff", "commands", "-", "--format", "jsonl",
                          "--verb", "USR"], stdin=td.stdout, capture_output=True, text=True)
    td.wait()
    assert res.returncode == 0, res.stderr
    import json
    rows = [json.loads(ln) for ln in res.stdout.splitlines()]
    assert [r["params"][:2] for r in rows if r["direction"] == "s2c" and r["params"][0] == "OK"] == [
        ["OK", "alice@hotmail.com"], ["OK", "bob@hotmail.com"], ["OK", "carol@hotmail.com"],
        ["OK", "alice@hotmail.com"]]


def _rewrite(tmp_path, name, linktype, frame):
    """Re-frame the real packets of the main capture for another link type."""
    import struct

    from scapy.all import Ether, rdpcap
    out = tmp_path / name
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
        for p in rdpcap(cap("msnp8_session.pcap")):
            raw = frame(bytes(p[Ether].payload))
            t = float(p.time)
            f.write(struct.pack("<IIII", int(t), int(round((t % 1) * 1e6)), len(raw), len(raw)))
            f.write(raw)
    return str(out)


def test_raw_ip_and_bsd_loopback_link_types(tmp_path):
    base = commands(cap("msnp8_session.pcap"))[0]
    raw = _rewrite(tmp_path, "raw.pcap", 101, lambda ip: ip)
    null_le = _rewrite(tmp_path, "null.pcap", 0, lambda ip: b"\x02\x00\x00\x00" + ip)
    loop_be = _rewrite(tmp_path, "loop.pcap", 108, lambda ip: b"\x00\x00\x00\x02" + ip)
    for p in (raw, null_le, loop_be):
        assert commands(p)[0] == base, p


def test_ip_fragments_are_counted(tmp_path):
    from scapy.all import IP, TCP, Ether, fragment, wrpcap
    pkt = Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=4000, dport=1863, flags="PA") / (
        b"MSG 1 N 3000\r\n" + b"x" * 3000)
    frags = [Ether() / f for f in fragment(pkt[IP], fragsize=1000)]
    p = tmp_path / "frag.pcap"
    wrpcap(str(p), frags)
    st = CaptureStats()
    assert list(read_segments(str(p), st)) == []
    assert st.ip_fragments == len(frags) == 4
    assert st.notices() == ["4 IP fragment(s) ignored (not reassembled)"]


@pytest.mark.parametrize("name", ["msnp8_session.pcap", "vlan.pcap", "reordered.pcap",
                                  "compat_failures.pcap", "ipv6.pcapng", "cooked_any.pcap",
                                  "mid_session.pcap", "hostile.pcap"])
def test_every_reader_gives_the_same_analysis(name, monkeypatch):
    """libpcap with BPF (pcapy-ng), the pure-Python reader with its cheap check, and the
    compiled core where it is built, agree."""
    pytest.importorskip("pcapy")
    from msnsniff import core
    from msnsniff.engine.analyze import analyse
    docs = {}
    for reader in ("libpcap", "python", "auto"):
        monkeypatch.setenv("MSNSNIFF_READER", reader)
        docs[reader] = analyse([cap(name)])
    fast, slow = docs["libpcap"], docs["python"]
    assert fast["summary"]["captures"][0]["reader"] == ("python" if name == "compat_failures.pcap"
                                                      else "libpcap")
    assert slow["summary"]["captures"][0]["reader"] == "python"
    assert docs["auto"]["summary"]["captures"][0]["reader"] == (
        "compiled" if core.name() == "compiled" else fast["summary"]["captures"][0]["reader"])
    for t in fast:
        if t != "summary":
            assert fast[t] == slow[t] == docs["auto"][t], t
    assert fast["summary"]["commands"] == slow["summary"]["commands"] == \
        docs["auto"]["summary"]["commands"] > 0


def test_header_snaplen_smaller_than_the_records(tmp_path):
    """A pcap whose file header claims snaplen 64 while its records are longer: the
    records' own lengths are what counts (the header field is often wrong)."""
    import struct
    data = bytearray(open(cap("msnp8_session.pcap"), "rb").read())
    struct.pack_into("<I", data, 16, 64)
    p = tmp_path / "snap.pcap"
    p.write_bytes(bytes(data))
    assert commands(str(p))[0] == commands(cap("msnp8_session.pcap"))[0]


def _pcapng_big_endian(data: bytes) -> bytes:
    """The SHB, IDB and EPB blocks of a little-endian pcapng re-encoded big-endian (the
    other byte order a second section may use; options other than if_tsresol dropped)."""
    import struct

    def blk(t, body):
        body += b"\0" * (-len(body) % 4)
        return struct.pack(">II", t, len(body) + 12) + body + struct.pack(">I", len(body) + 12)
    out, off = b"", 0
    while off < len(data):
        t, ln = struct.unpack_from("<II", data, off)
        body = data[off + 8:off + ln - 4]
        if t == 0x0A0D0D0A:
            out += blk(t, struct.pack(">IHHq", 0x1A2B3C4D, 1, 0, -1))
        elif t == 1:
            lt, _, snap = struct.unpack_from("<HHI", body)
            res, opt = 6, 8
            while opt + 4 <= len(body):
                code, olen = struct.unpack_from("<HH", body, opt)
                if code == 0:
                    break
                if code == 9:
                    res = body[opt + 4]
                opt += 4 + ((olen + 3) & ~3)
            out += blk(t, struct.pack(">HHIHH", lt, 0, snap, 9, 1) + bytes([res]) + b"\0" * 3
                       + struct.pack(">HH", 0, 0))
        elif t == 6:
            fields = struct.unpack_from("<IIIII", body)
            out += blk(t, struct.pack(">IIIII", *fields) + body[20:20 + fields[3]])
        off += ln
    return out


def test_a_second_pcapng_section_in_the_other_byte_order_is_read_by_both_readers(tmp_path):
    # valid pcapng that libpcap refuses mid-file: such a file goes to the Python reader,
    # so the default and MSNSNIFF_READER=python give the same 2 × 29 segments, no damage
    import subprocess
    import sys
    src = open(cap("ipv6.pcapng"), "rb").read()
    path = tmp_path / "two-sections.pcapng"
    path.write_bytes(src + _pcapng_big_endian(src))
    one = json.loads(subprocess.run([sys.executable, "-m", "msnsniff", "read", cap("ipv6.pcapng"),
                                     "--format", "json"], capture_output=True, text=True,
                                    check=True).stdout)
    for env in ({}, {"MSNSNIFF_READER": "python"}):
        r = subprocess.run([sys.executable, "-m", "msnsniff", "read", str(path), "--format",
                            "json"], capture_output=True, text=True,
                           env=dict(os.environ, **env))
        assert r.returncode == 0, r.stderr
        d = json.loads(r.stdout)
        c = d["summary"]["captures"][0]
        assert (c["tcp_segments"], c["notices"]) == (58, []), (env, c)
        assert len(d["sessions"]) == 2 * len(one["sessions"])
        assert [m["text"] for m in d["messages"]] == 2 * [m["text"] for m in one["messages"]]


def test_a_gzip_whose_deflate_data_is_damaged_is_reported_not_a_crash(tmp_path):
    """Found by the capture fuzzer: a flipped byte inside the deflate data raises
    zlib.error (not an OSError), which ended read with an internal error."""
    import gzip
    import subprocess
    import sys
    import zlib
    good = open(cap("p2p_transfers.pcap.gz"), "rb").read()
    for off in range(200, 2000):
        bad = bytearray(good)
        bad[off] ^= 0xFF
        try:
            gzip.decompress(bytes(bad))
        except zlib.error:
            break
        except (OSError, EOFError):     # a bad CRC or length: the other errors
            continue
    else:
        raise AssertionError("no flipped byte gives a zlib error")
    path = tmp_path / "damaged.pcap.gz"
    path.write_bytes(bad)
    r = subprocess.run([sys.executable, "-m", "msnsniff", "read", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "capture truncated: gzip stream broken: Error -3 while decompressing" in r.stdout


@pytest.mark.slow          # over 5 s: CI runs it (plain pytest); -m 'not slow' skips it
@pytest.mark.parametrize("v6", [False, True])
def test_tcp_checksums_agree_with_scapy(v6):
    """checksum_ok against the sums Scapy computes, IPv4 and IPv6, odd and even
    lengths (an odd segment is padded): right ones pass, any changed one fails."""
    from scapy.all import IP, TCP, Ether, IPv6

    from msnsniff.capture.packet import checksum_ok
    for n in range(0, 9):
        ip = IPv6(src="2001:db8::1", dst="2001:db8::2") if v6 else IP(src="10.0.0.1", dst="10.0.0.2")
        pkt = Ether() / ip / TCP(sport=1863, dport=40000 + n, seq=n) / bytes(range(7, 7 + n))
        buf = bytes(pkt)
        t = 14 + (40 if v6 else 20)
        assert checksum_ok(buf, 14, t, len(buf), v6), n
        bad = bytearray(buf)
        bad[t + 16] ^= 0x01               # the checksum field
        assert not checksum_ok(bytes(bad), 14, t, len(buf), v6), n


@pytest.mark.parametrize("kind", ["zstd", "lz4"])
def test_zstd_and_lz4_captures_are_read_as_tshark_reads_them(tmp_path, kind, doc):
    import shutil
    import subprocess
    import sys

    import lz4.frame
    import zstandard
    plain = open(cap("msnp8_session.pcap"), "rb").read()
    # with the content checksums the zstd and lz4 command-line tools write by default
    # (without one, a changed byte inside the data is undetectable by any reader)
    packed = (zstandard.ZstdCompressor(level=3, write_checksum=True).compress(plain)
              if kind == "zstd" else lz4.frame.compress(plain, content_checksum=True))
    path = tmp_path / f"session.pcap.{'zst' if kind == 'zstd' else 'lz4'}"
    path.write_bytes(packed)
    from msnsniff.engine.analyze import analyse
    d, ref = analyse([str(path)]), doc("msnp8_session.pcap")
    assert d["summary"]["captures"][0]["format"] == f"pcap ({kind})"
    for t in ("messages", "contacts", "presence", "transfers"):
        assert [dict(r, capture=None) for r in d[t]] == [dict(r, capture=None) for r in ref[t]]
    if shutil.which("tshark"):
        frames = subprocess.run(["tshark", "-r", str(path)], capture_output=True, text=True)
        assert len(frames.stdout.splitlines()) == 245 == d["summary"]["captures"][0]["packets"]
    bad = bytearray(packed)
    bad[len(bad) // 3] ^= 0xFF                 # damage a third of the way in
    path.write_bytes(bad)
    r = subprocess.run([sys.executable, "-m", "msnsniff", "read", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "capture truncated" in r.stdout, r.stderr


# one connection per way an MSN connection may open on any port (protocol/tables.py
# CLIENT_OPENINGS), none on a followed port and none with its SYN captured: only the
# content selects them, through the capture filter's first words and then the pipeline
_OPENINGS = [
    (b"VER 1 MSNP8 CVR0\r\n", "VER"),
    (b"VER MSNFTP\r\n", "VER"),
    (b"USR 1 alice@example.com 17262740.1050826919.32308\r\n", "USR"),
    (b"ANS 1 bob@example.com 849102291.520491113 11752013\r\n", "ANS"),
]


@pytest.mark.parametrize("reader", ["libpcap", "python", "compiled"])
def test_every_opening_is_followed_on_any_port_by_both_readers(tmp_path, monkeypatch, reader):
    from scapy.all import IP, TCP, Ether, wrpcap

    from msnsniff import core
    from msnsniff.protocol.p2pdc import DC_START
    from msnsniff.protocol.tables import CLIENT_OPENINGS, CLIENT_START
    if reader == "libpcap":
        pytest.importorskip("pcapy")
        monkeypatch.setenv("MSNSNIFF_READER", "libpcap")
    elif reader == "compiled":
        if core.name() != "compiled":
            pytest.skip("the compiled core is not built")
    else:
        monkeypatch.setenv("MSNSNIFF_READER", "python")
    from msnsniff.protocol.tables import GATEWAY_OPENINGS
    openings = [*_OPENINGS, (DC_START, None)]
    # every opening the pipeline knows has a case here, and its first word is filtered on
    assert {w for w, _ in CLIENT_OPENINGS} == {o[:4] for o, _ in openings}
    pkts = []
    for i, (payload, _verb) in enumerate(openings):
        assert CLIENT_START.match(payload)
        pkts.append(Ether() / IP(src="10.0.0.1", dst="10.0.0.2")
                    / TCP(sport=40000 + i, dport=7000 + i, flags="PA", seq=1000) / payload)
    # a gateway POST on an odd port (a proxy's): followed by its four-tuple, its body MSNP
    body = b"VER 1 MSNP8 CVR0\r\n"
    post = (b"POST /gateway/gateway.dll?Action=open&Server=NS&IP=10.0.0.9 HTTP/1.1\r\n"
            b"Host: gateway.messenger.hotmail.com\r\n"
            b"Content-Type: application/x-msn-messenger\r\nContent-Length: %d\r\n\r\n"
            % len(body) + body)
    answer = b"VER 1 MSNP8\r\n"
    resp = (b"HTTP/1.1 200 OK\r\nX-MSN-Messenger: SessionID=1.2; GW-IP=10.0.0.2\r\n"
            b"Content-Type: application/x-msn-messenger\r\nContent-Length: %d\r\n\r\n"
            % len(answer) + answer)
    assert {post[:4]} < set(GATEWAY_OPENINGS)
    pkts += [Ether() / IP(src="10.0.0.1", dst="10.0.0.2")
             / TCP(sport=40005, dport=7005, flags="PA", seq=1000) / post,
             Ether() / IP(src="10.0.0.2", dst="10.0.0.1")
             / TCP(sport=7005, dport=40005, flags="PA", seq=5000, ack=1000 + len(post)) / resp]
    # and a look-alike that must stay out: no MSN opening, odd port
    pkts.append(Ether() / IP(src="10.0.0.1", dst="10.0.0.2")
                / TCP(sport=45000, dport=7999, flags="PA", seq=1) / b"VERY long text\r\n")
    p = tmp_path / "openings.pcap"
    wrpcap(str(p), pkts)
    run = Run([str(p)], trace=True)
    framed, ends = {}, {}
    for ev in run.events():
        if isinstance(ev, ConnectionOpened):
            ends[ev.conn] = (ev.client, ev.server)
        if isinstance(ev, Framed) and isinstance(ev.item, RawCommand):
            framed.setdefault(ev.conn, ev.item.verb)
    assert run.stats[0][1].reader == reader
    # each MSNP opening framed as its command on its port, the client the sender
    assert {ends[c]: v for c, v in framed.items()} == {
        ("10.0.0.1:40000", "10.0.0.2:7000"): "VER", ("10.0.0.1:40001", "10.0.0.2:7001"): "VER",
        ("10.0.0.1:40002", "10.0.0.2:7002"): "USR", ("10.0.0.1:40003", "10.0.0.2:7003"): "ANS",
        # the gateway session's body: client and server as the gateway names them
        ("10.0.0.1:40005", "10.0.0.9"): "VER"}
    from msnsniff.engine.analyze import analyse
    doc = analyse([str(p)])
    kinds = sorted((int(s["server"].rsplit(":", 1)[1]) if s["transport"] == "tcp" else 0,
                    s["kind"]) for s in doc["sessions"])
    assert kinds == [(0, "notification"), (7000, "notification"), (7001, "file-transfer"),
                     (7002, "switchboard"), (7003, "switchboard"), (7004, "p2p-direct"),
                     (7005, "http")]
