"""`msnsniff carve`: MSNP fragments of the sample captures hidden in generated images
(noise, page boundaries, split reads, UTF-16LE, truncated, repeated), exact values."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys

import pytest
from conftest import cap, one, raw_segments

from msnsniff.stream.carve import MIB, Carver, Grouper

PAGE = 4096


def _stream(name, src, dport):
    """One direction's bytes as sent (retransmissions dropped), from a sample capture."""
    seen, conns = set(), {}
    for s in raw_segments(name):
        if s.src == src and s.dport == dport and s.payload and (s.sport, s.seq) not in seen:
            seen.add((s.sport, s.seq))
            conns.setdefault(s.sport, bytearray()).extend(s.payload)
    return b"".join(bytes(c) for c in conns.values())


def _block(stream: bytes, needle: bytes) -> bytes:
    """The payload command around ``needle``: its line and the bytes it declares."""
    i = stream.find(needle)
    j = stream.rfind(b"MSG ", 0, i)
    eol = stream.find(b"\r\n", j)
    n = int(stream[j:eol].split(b" ")[-1])
    return stream[j:eol + 2 + n]


ALICE_SB = _stream("msnp8_session.pcap", "127.0.0.10", 1864)      # alice -> switchboard
HI = _block(ALICE_SB, b"Hi Bob, are you there?")
TYPING = _block(ALICE_SB, b"TypingUser")
P2P = _stream("p2p_transfers.pcap.gz", "127.0.0.30", 1864)
INVITE = _block(P2P, b"INVITE MSNMSGR:")


def _noise(n, seed):
    """Random bytes in which no MSNP can start (so every row must be ours)."""
    rnd = random.Random(seed)
    data = bytearray(rnd.randbytes(n))
    for i in range(0, n, 3 * PAGE):            # and zero pages, as memory has
        data[i:i + PAGE] = bytes(PAGE)
    return data


def _image():
    img = _noise(64 * PAGE, 7)
    placed = {}

    def put(name, off, data):
        img[off:off + len(data)] = data
        placed[name] = off
    put("hi", 3 * PAGE - 10, HI)                          # across a page boundary
    put("typing", 5 * PAGE - len(TYPING) // 2, TYPING)
    for k in range(3):                                    # the same message in 3 pages
        put(f"hi{k}", (10 + 7 * k) * PAGE + 100, HI)
    body = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHi Alice! ☕"
    u16 = (f"MSG carol@hotmail.com Carol {len(body.encode())}\r\n" + body).encode("utf-16-le")
    put("u16", 40 * PAGE - 6, u16 + b"\x00\x00")        # UTF-16LE, across a boundary
    put("invite", 44 * PAGE - 300, INVITE)
    put("nln", 50 * PAGE + 1, b"NLN AWY dave@hotmail.com Dave%20%E2%99%A5 1073856572\r\n")
    put("mime", 52 * PAGE, b"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\n"
        b"TypingUser: eve@hotmail.com\r\n\r\n\r\n\x00")
    put("obj", 54 * PAGE + 3, b'<msnobj Creator="bob@hotmail.com" Size="4125" Type="3" '
        b'Location="TFR2C2.tmp" Friendly="AAA=" SHA1D="OFNPn/p2RQhfUhKjbNI82DHgq1k="/>')
    cut = HI[:-7]                                         # the image ends inside it
    img += cut
    placed["cut"] = len(img) - len(cut)
    return bytes(img), placed


IMAGE, PLACED = _image()


def _carve(data, chunk, cap=4096):
    c, g = Carver(cap=cap), Grouper()
    for i in range(0, len(data), chunk):
        for r in c.feed(data[i:i + chunk]):
            g.add(r)
    for r in c.close():
        g.add(r)
    return g.result(), c


@pytest.mark.parametrize("chunk", [PAGE, 1000, 1 << 20])
def test_fragments_of_the_captures_in_noise(chunk):
    rows, _ = _carve(IMAGE, chunk)
    at = {r["offsets"][0]: r for r in rows}
    hi = at[PLACED["hi"]]
    assert (hi["kind"], hi["verb"], hi["encoding"], hi["text"], hi["complete"]) == (
        "text", "MSG", "ascii", "Hi Bob, are you there?", "complete")
    assert hi["offsets"] == [PLACED["hi"]] + [PLACED[f"hi{k}"] for k in range(3)]
    assert hi["count"] == 4 and hi["length"] == len(HI) and hi["declared"] == 153
    t = at[PLACED["typing"]]
    assert (t["kind"], t["sender"], t["text"]) == ("typing", "alice@hotmail.com",
                                                   "alice@hotmail.com")
    u = at[PLACED["u16"]]
    assert (u["encoding"], u["kind"], u["sender"], u["text"], u["complete"]) == (
        "utf-16le", "text", "carol@hotmail.com", "Hi Alice! ☕", "complete")
    inv = at[PLACED["invite"]]
    assert (inv["kind"], inv["sender"], inv["recipient"], inv["text"]) == (
        "p2p", "alice@example.com", "bob@example.com",
        "INVITE file Relevé été 2005.txt (9000 bytes)")
    nln = at[PLACED["nln"]]
    assert (nln["kind"], nln["verb"], nln["sender"]) == ("command", "NLN", "dave@hotmail.com")
    m = at[PLACED["mime"]]
    assert (m["kind"], m["verb"], m["sender"], m["complete"]) == (
        "typing", None, "eve@hotmail.com", "no length")
    o = at[PLACED["obj"]]
    assert (o["kind"], o["sender"], o["text"]) == (
        "msnobject", "bob@hotmail.com", "display picture TFR2C2.tmp 4125 OFNPn/p2RQhfUhKjbNI82DHgq1k=")
    c = at[PLACED["cut"]]
    assert (c["kind"], c["complete"], c["length"], c["declared"]) == (
        "text", "truncated", len(HI) - 7, 153)
    # nothing else: the noise yields no fragment
    assert sorted(at) == sorted(PLACED[k] for k in PLACED if not k.startswith("hi") or k == "hi")


def test_utf16_strings_that_run_on_into_noise_are_carved_whole():
    """In-memory strings without their two NULs run on into random bytes: a message
    longer than the first decode, a MIME block with no length (it runs to the string's
    end), one cut by the image's end, and a short one: each is carved as a full decode
    carves it."""
    rnd = random.Random(3)
    long_text = "x" * 1500 + " the end"
    body = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n" + long_text
    long_msg = (f"MSG bob@hotmail.com Bob {len(body)}\r\n" + body).encode("utf-16-le")
    mime = ("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\n"
            "TypingUser: eve@hotmail.com\r\n\r\n").encode("utf-16-le")
    short = "NLN AWY dave@hotmail.com Dave 1073856572\r\n".encode("utf-16-le")
    # odd high bytes, so that no two NULs end a string inside the noise
    noise = bytes(b | 1 for b in rnd.randbytes(6000))
    img = noise[:100] + long_msg + noise[:3000] + mime + noise + short + noise[:50] + \
        long_msg[:2600]
    at_long, at_mime = 100, 100 + len(long_msg) + 3000
    at_short = at_mime + len(mime) + len(noise)
    at_cut = at_short + len(short) + 50
    rows, _ = _carve(img, 1 << 20)
    at = {o: r for r in rows for o in r["offsets"]}
    assert sorted(at) == [at_long, at_mime, at_short, at_cut]
    m = at[at_long]
    assert (m["encoding"], m["kind"], m["sender"], m["text"], m["complete"]) == (
        "utf-16le", "text", "bob@hotmail.com", long_text, "complete")
    t = at[at_mime]
    assert (t["kind"], t["sender"], t["complete"]) == ("typing", "eve@hotmail.com", "no length")
    assert t["length"] > 3000      # a string with no end runs on: no length says where to stop
    assert (at[at_short]["verb"], at[at_short]["sender"]) == ("NLN", "dave@hotmail.com")
    c = at[at_cut]
    assert (c["complete"], c["declared"]) == ("truncated", len(body.encode()))
    # the same rows as a decode of every string in full
    import msnsniff.stream.carve as carve
    first, carve.UTF16_FIRST = carve.UTF16_FIRST, carve.UTF16_RUN
    try:
        assert _carve(img, 1 << 20)[0] == rows
    finally:
        carve.UTF16_FIRST = first


def test_a_fragment_flood_is_capped_and_reported():
    flood = b"MSG 1 N 3\r\nabc" * (3 * MIB // 14)
    rows, c = _carve(flood, 1 << 20, cap=100)
    assert c.fragments == 300                  # 100 in each of the 3 MiB
    (first, last, n), = c.capped_ranges()
    assert (first, last) == (0, 2) and n == 3 * MIB // 14 - 300
    assert one(rows, kind="mime")["count"] == 300


def _cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "msnsniff", "carve", *args],
                          capture_output=True, input=stdin)


def test_cli_json_grep_stdin_and_gzip(tmp_path):
    import gzip
    p = tmp_path / "mem.raw.gz"
    p.write_bytes(gzip.compress(IMAGE))
    res = _cli(str(p), "--format", "json", "--grep", "Hi (Bob|Alice)")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [(r["offset"], r["encoding"], r["count"], r["complete"]) for r in rows] == [
        (PLACED["hi"], "ascii", 4, "complete"), (PLACED["u16"], "utf-16le", 1, "complete"),
        (PLACED["cut"], "ascii", 1, "truncated")]
    assert f"{len(IMAGE)} bytes" in res.stderr.decode()
    res = _cli("-", "--format", "csv", "--kind", "p2p", "--columns", "offset,sender,text",
               stdin=IMAGE)
    assert res.stdout.decode().splitlines() == [
        "offset,sender,text", f"{PLACED['invite']},alice@example.com,"
        "INVITE file Relevé été 2005.txt (9000 bytes)"]


def test_cli_sqlite_has_full_text_search(tmp_path):
    p = tmp_path / "mem.raw"
    p.write_bytes(IMAGE)
    out = tmp_path / "frag.sqlite"
    res = _cli(str(p), "--format", "sqlite", "-o", str(out))
    assert res.returncode == 0, res.stderr
    db = sqlite3.connect(out)
    hits = db.execute("SELECT f.offset, f.count, f.offsets FROM fragments_fts "
                      "JOIN fragments f ON f.row_id = fragments_fts.rowid "
                      "WHERE fragments_fts MATCH 'Bob' AND f.kind = 'text'").fetchall()
    assert hits == [(PLACED["hi"], 4, json.dumps([PLACED["hi"]] + [PLACED[f"hi{k}"]
                                                                    for k in range(3)])),
                    (PLACED["cut"], 1, json.dumps([PLACED["cut"]]))]
    again = _cli(str(p), "--format", "sqlite", "-o", str(out))
    assert again.returncode == 2 and b"exists (use --force" in again.stderr


def test_cli_bad_input_is_one_line():
    for args, msg in (([cap("nope.raw")], b"no such file"), ([], b"give a file to carve"),
                      ([cap(".")], b"is a directory")):
        res = _cli(*args)
        assert res.returncode == 2 and msg in res.stderr, res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
