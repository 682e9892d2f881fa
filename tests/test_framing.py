"""Framing: the same commands whatever the segmentation; byte accounting; resync."""

from hypothesis import given, settings
from hypothesis import strategies as st

from msnsniff.config import Limits
from msnsniff.stream.framing import FileAbort, FileData, Framer, RawCommand, Undecodable

# A real server->client NS stream: taken from the §11 worked session (payload lengths
# computed from the bytes themselves).
PROFILE = (b"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsprofile; charset=UTF-8\r\n"
           b"ClientIP: 203.0.113.7\r\nClientPort: 20237\r\n\r\n")
TEXT = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nYes! Café at 5?".encode()
STREAM = (b"VER 1 MSNP8 CVR0\r\n"
          b"USR 7 OK alice@hotmail.com Alice%20L 1 0\r\n"
          + b"MSG Hotmail Hotmail %d\r\n" % len(PROFILE) + PROFILE
          + b"SYN 8 42 1 1\r\nGTC A\nLSG 0 Other%20Contacts 0\r\nLST bob@hotmail.com Bob 11 0\r\n"
          + b"QRY 10 msmsgs@msnmsgr.com 32\r\n8f2f5a91b72102cd28355e9fc9000d6e"
          + b"QRY 10\r\n"
          + b"MSG bob@hotmail.com Bob %d\r\n" % len(TEXT) + TEXT
          + b"911 12\r\nOUT OTH\r\n")

EXPECTED = [("VER", 1, None), ("USR", 7, None), ("MSG", None, len(PROFILE)),
            ("SYN", 8, None), ("GTC", None, None), ("LSG", None, None), ("LST", None, None),
            ("QRY", 10, 32), ("QRY", 10, None), ("MSG", None, len(TEXT)), ("911", 12, None),
            ("OUT", None, None)]


def summary(items):
    return [(c.verb, c.trid, c.declared) for c in items if isinstance(c, RawCommand)]


def feed_chunks(data, cuts):
    f = Framer()
    out = []
    pos = 0
    for c in sorted(set(cuts)) + [len(data)]:
        if c > pos:
            out += f.feed(data[pos:c])
            pos = c
    out += f.close()
    return f, out


def test_whole_stream():
    f, out = feed_chunks(STREAM, [])
    assert summary(out) == EXPECTED
    qry = [c for c in out if isinstance(c, RawCommand) and c.verb == "QRY"][0]
    assert qry.payload == b"8f2f5a91b72102cd28355e9fc9000d6e"
    msg = [c for c in out if isinstance(c, RawCommand) and c.verb == "MSG"][1]
    assert msg.payload.endswith("Café at 5?".encode())
    assert f.decoded == len(STREAM) and f.undecodable == 0


def test_byte_by_byte():
    f, out = feed_chunks(STREAM, range(len(STREAM)))
    assert summary(out) == EXPECTED


def test_every_split_point():
    for i in range(1, len(STREAM)):
        _, out = feed_chunks(STREAM, [i])
        assert summary(out) == EXPECTED, i


@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=12))
@settings(max_examples=200, deadline=None)
def test_any_segmentation(cuts):
    _, out = feed_chunks(STREAM, cuts)
    assert summary(out) == EXPECTED


def test_gap_inside_payload_keeps_sync():
    f = Framer()
    start = STREAM.index(b"MSG Hotmail")
    head = STREAM[:start + 40]
    rest = STREAM[start + 60:]
    out = f.feed(head) + f.gap(20) + f.feed(rest) + f.close()
    assert summary(out) == EXPECTED            # nothing lost but the 20 payload bytes
    msg = [c for c in out if isinstance(c, RawCommand) and c.verb == "MSG"][0]
    assert msg.missing == 20 and len(msg.payload) == len(PROFILE) - 20
    kept = 40 - (STREAM.index(b"\r\n", start) + 2 - start)
    assert msg.payload == PROFILE[:kept] + PROFILE[kept + 20:]     # no zero-filling
    assert f.decoded + f.undecodable + f.gap_bytes == len(STREAM)


def test_gap_across_lines_resyncs_at_next_command():
    f = Framer()
    i = STREAM.index(b"SYN 8")
    out = f.feed(STREAM[:i + 3]) + f.gap(11) + f.feed(STREAM[i + 14:]) + f.close()
    verbs = [c.verb for c in out if isinstance(c, RawCommand)]
    # the SYN line is cut: the framer skips to the next line that parses (GTC)
    assert verbs == ["VER", "USR", "MSG", "GTC", "LSG", "LST", "QRY", "QRY", "MSG", "911", "OUT"]
    bad = [u for u in out if isinstance(u, Undecodable)]
    assert [(u.length, u.reason) for u in bad] == [(3, "cut by a capture gap")]
    assert f.decoded + f.undecodable + f.gap_bytes == len(STREAM)


def test_payload_claim_over_cap_is_reported_and_resynced():
    f = Framer(Limits(max_payload=4096))
    data = b"MSG 5 N 999999999\r\nJUNKJUNK\r\nMSG 6 U 2\r\nhiOUT\r\n"
    out = f.feed(data) + f.close()
    cmds = [c for c in out if isinstance(c, RawCommand)]
    assert [(c.verb, c.trid, c.missing) for c in cmds] == [("MSG", 5, 999999999), ("MSG", 6, 0),
                                                            ("OUT", None, 0)]
    assert cmds[1].payload == b"hi"
    assert [u.length for u in out if isinstance(u, Undecodable)] == [10]
    assert f.decoded + f.undecodable == len(data)


def test_long_line_without_crlf_is_capped():
    f = Framer(Limits(max_line=1024))
    out = f.feed(b"A" * 5000) + f.feed(b"\r\nPNG\r\n") + f.close()
    assert [c.verb for c in out if isinstance(c, RawCommand)] == ["PNG"]
    assert sum(u.length for u in out if isinstance(u, Undecodable)) == 5002
    assert len(f.buf) == 0


def test_msnftp_blocks():
    data = bytes(range(256)) * 12            # 3072 bytes
    blocks = (b"\x00\xfd\x07" + data[:2045] + b"\x00" + bytes([(3072 - 2045) & 0xFF,
                                                             (3072 - 2045) >> 8]) + data[2045:])
    sender = b"VER MSNFTP\r\nFIL 3072\r\n" + blocks
    for cut in (1, 5, 24, 25, 2070, 2071, 2072, len(sender) - 1):
        f = Framer()
        out = f.feed(sender[:cut]) + f.feed(sender[cut:]) + f.close()
        got = b"".join(x.data for x in out if isinstance(x, FileData))
        assert got == data, cut
        assert [c.verb for c in out if isinstance(c, RawCommand)] == ["VER", "FIL"]
        assert f.decoded == len(sender)


def test_msnftp_abort_block():
    f = Framer()
    out = f.feed(b"VER MSNFTP\r\nFIL 5000\r\n\x00\x03\x00abc\x01\x00\x00") + f.close()
    assert b"".join(x.data for x in out if isinstance(x, FileData)) == b"abc"
    assert any(isinstance(x, FileAbort) for x in out)


def test_bare_lf_and_garbage_lines():
    f = Framer()
    out = f.feed(b"PNG\n\x00\x01garbage\r\nQNG 45\r\n") + f.close()
    assert [(c.verb, c.params) for c in out if isinstance(c, RawCommand)] == [
        ("PNG", []), ("QNG", ["45"])]
    bad = [u for u in out if isinstance(u, Undecodable)]
    assert [(u.length, u.reason) for u in bad] == [(11, "not an MSNP command line")]


def test_real_streams_whole_byte_by_byte_and_every_split():
    """Every reassembled stream of the main capture frames the same at any split."""
    from conftest import cap
    from test_against_tshark import our_streams
    streams = [s for pair in our_streams(cap("msnp8_session.pcap")).values() for s in pair if s]
    assert len(streams) == 18
    for data in streams:
        whole = summary(feed_chunks(data, [])[1])
        assert whole and summary(feed_chunks(data, range(len(data)))[1]) == whole
        step = max(1, len(data) // 400)        # every split point of the small streams
        for i in range(1, len(data), step):
            assert summary(feed_chunks(data, [i])[1]) == whole
