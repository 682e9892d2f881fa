"""Switchboard conversations and MSNFTP transfers: exact transcripts and file bytes."""

import hashlib
import os

from conftest import by, cap, one

MAIN = "msnp8_session.pcap"
NOTES = bytes((i * 7 + 3) % 256 for i in range(3000))        # what make_captures sent
PLAN = (bytes(range(256)) * 20)[:2045]


def sb(d, passport):
    return one(d["sessions"], kind="switchboard", passport=passport)


def texts(d, session):
    return [(m["direction"], m["sender"], m["recipients"], m["text"])
            for m in by(d["messages"], session=session, kind="text")]


def test_switchboards_are_tied_to_accounts(doc):
    d = doc(MAIN)
    a, b, c = (sb(d, p) for p in ("alice@hotmail.com", "bob@hotmail.com", "carol@hotmail.com"))
    ns = {s["passport"]: s["id"] for s in by(d["sessions"], kind="notification")}
    assert (a["sb_role"], a["sb_cookie"], a["linked_session"]) == (
        "caller", "17262740.1062764410.32308", ns["alice@hotmail.com"])
    assert (b["sb_role"], b["sb_cookie"], b["sb_session_id"], b["linked_session"]) == (
        "invitee", "849102291.520491113", "11752013", ns["bob@hotmail.com"])
    assert (c["sb_role"], c["linked_session"]) == ("invitee", ns["carol@hotmail.com"])
    assert a["sb_session_id"] == "11752013"          # from CAL … RINGING
    assert a["server"] == "127.0.0.3:1864"           # followed on a port other than 1863
    assert a["participants"] == ["alice@hotmail.com", "bob@hotmail.com", "carol@hotmail.com"]


def test_three_party_transcript_from_alice(doc):
    d = doc(MAIN)
    a = sb(d, "alice@hotmail.com")
    assert texts(d, a["id"]) == [
        ("out", "alice@hotmail.com", ["bob@hotmail.com"], "Hi Bob, are you there?"),
        ("in", "bob@hotmail.com", ["alice@hotmail.com"], "Yes! Café at 5?"),
        ("in", "carol@hotmail.com", ["alice@hotmail.com", "bob@hotmail.com"],
         "こんにちは 👋 everyone")]
    events = [(m["passport"], m["event"]) for m in by(d["participants"], session=a["id"])]
    assert events == [("bob@hotmail.com", "joined"), ("carol@hotmail.com", "joined"),
                      ("carol@hotmail.com", "left"), ("bob@hotmail.com", "left")]
    carol = sb(d, "carol@hotmail.com")
    assert [(m["passport"], m["event"]) for m in by(d["participants"], session=carol["id"])] == [
        ("alice@hotmail.com", "was there"), ("bob@hotmail.com", "was there")]
    err = one(d["errors"], session=a["id"])
    assert (err["code"], err["name"], err["request"]) == (217, "User not online", "CAL")


def test_message_formatting(doc):
    d = doc(MAIN)
    hi = one(d["messages"], session=sb(d, "alice@hotmail.com")["id"], text="Hi Bob, are you there?")
    assert (hi["font"], hi["effects"], hi["color"], hi["charset"], hi["pitch_family"], hi["ack"]) == (
        "MS Sans Serif", ["bold"], "#0000ff", "ANSI", "swiss/variable", "N")   # CO=ff0000 is BGR
    jp = one(d["messages"], session=sb(d, "carol@hotmail.com")["id"], kind="text")
    assert (jp["font"], jp["effects"], jp["color"], jp["charset"], jp["pitch_family"]) == (
        "MS Gothic", ["italic", "underline"], "#bb1ac8", "SHIFTJIS", "modern/fixed")


def test_message_split_across_segments(doc):
    """Bob's reply was written in three pieces (inside the MSG line and the payload)."""
    d = doc(MAIN)
    reply = one(d["messages"], session=sb(d, "bob@hotmail.com")["id"], direction="out",
                kind="text")
    assert (reply["text"], reply["ack"], reply["missing_bytes"]) == ("Yes! Café at 5?", "A", 0)


def test_typing_and_invitations(doc):
    d = doc(MAIN)
    b = sb(d, "bob@hotmail.com")
    typing = one(d["messages"], session=b["id"], kind="typing")
    assert typing["sender"] == "alice@hotmail.com"
    invs = by(d["invitations"], session=b["id"])
    assert [(i["cookie"], i["file_name"], i["file_size"], i["status"], i["inviter"], i["invitee"],
             i["ip_address"], i["port"], i["auth_cookie"], i["commands"]) for i in invs] == [
        ("90135", "notes.txt", 3000, "accepted", "alice@hotmail.com", "bob@hotmail.com",
         "127.0.0.10", 6891, "1735283", ["INVITE", "ACCEPT", "ACCEPT"]),
        ("90136", "../secret plan.txt", 5120, "accepted", "alice@hotmail.com", "bob@hotmail.com",
         "127.0.0.10", 6891, "1735284", ["INVITE", "ACCEPT", "ACCEPT"])]
    assert invs[0]["application"] == "File Transfer"
    assert invs[0]["guid"] == "{5D3E02AB-6190-11d3-BBBB-00C04F795683}"


def test_transfers_complete_and_cancelled(doc):
    t1, t2 = doc(MAIN)["transfers"]
    assert (t1["name"], t1["sender"], t1["receiver"], t1["size"], t1["received"], t1["status"],
            t1["bye_code"], t1["bye_meaning"]) == (
        "notes.txt", "alice@hotmail.com", "bob@hotmail.com", 3000, 3000, "complete", 16777989,
        "received successfully")
    assert t1["sha256"] == hashlib.sha256(NOTES).hexdigest() and bytes(t1["_data"]) == NOTES
    assert (t2["name"], t2["size"], t2["received"], t2["missing_bytes"], t2["status"], t2["end"]) == (
        "../secret plan.txt", 5120, 2045, 3075, "cancelled", "CCL")
    assert bytes(t2["_data"]) == PLAN


def test_one_direction_switchboard(doc):
    """Only alice's side of her switchboard was captured: her messages are there, the
    recipients come from her CAL targets and say so."""
    d = doc("sb_one_direction.pcap")
    a = sb(d, "alice@hotmail.com")
    rows = by(d["messages"], session=a["id"], kind="text")
    assert [(m["sender"], m["text"], m["recipients_source"]) for m in rows] == [
        ("alice@hotmail.com", "Hi Bob, are you there?", "invited (CAL); roster not captured")]
    assert rows[0]["recipients"] == ["bob@hotmail.com"]
    assert not by(d["messages"], session=a["id"], direction="in")


def test_unknown_owner_is_not_guessed():
    """A switchboard whose USR/ANS was not captured and whose client address belongs to
    no known account: outgoing messages have sender None (shown as unknown)."""
    from msnsniff.capture.packet import ACK, Segment
    from msnsniff.model import Analysis
    from msnsniff.pipeline import Pipeline
    p, a = Pipeline(), Analysis()
    payload = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhello".encode()
    data = b"MSG 7 N %d\r\n" % len(payload) + payload
    for ev in p.run([Segment(1.0, "10.9.9.9", 40000, "10.1.1.1", 1863, 5000, 1, ACK, data)]):
        a.apply(ev)
    m = one(a.document()["messages"], kind="text")
    assert (m["sender"], m["text"], m["owner"]) == (None, "hello", None)


def test_extract_files_safely(tmp_path):
    from click.testing import CliRunner

    from msnsniff.cli import cli
    out = tmp_path / "files"
    out.mkdir()
    (out / "notes.txt").write_bytes(b"already here")             # never overwritten
    os.symlink("/etc/passwd", out / "secret plan.txt")           # never followed
    r = CliRunner().invoke(cli, ["files", cap(MAIN), "--extract", str(out), "--format", "json"])
    assert r.exit_code == 0, r.output
    import json
    rows = json.loads(r.stdout)
    # the cancelled transfer is written as NAME.partial (what was received)
    assert [os.path.basename(x["extracted_to"]) for x in rows] == ["notes-1.txt",
                                                                  "secret plan.txt.partial"]
    assert (out / "notes.txt").read_bytes() == b"already here"
    assert (out / "notes-1.txt").read_bytes() == NOTES
    assert (out / "secret plan.txt.partial").read_bytes() == PLAN
    assert os.readlink(out / "secret plan.txt") == "/etc/passwd"    # untouched
    assert sorted(os.listdir(out)) == ["SHA256SUMS", "notes-1.txt", "notes.txt",
                                       "secret plan.txt", "secret plan.txt.partial"]


def test_hostile_file_names():
    from msnsniff.output.extract import safe_name
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("..\\..\\boot.ini") == "boot.ini"
    assert safe_name("/abs/path.txt") == "path.txt"
    assert safe_name("..") == "unnamed" and safe_name("") == "unnamed"
    assert safe_name("evil\x1b[31mred\x07.txt") == "evil_[31mred_.txt"
    assert safe_name("CON.txt") == "_CON.txt" and safe_name("lpt1") == "_lpt1"
    assert safe_name("a\u202eexe.txt") == "a_exe.txt"
    long = safe_name("é" * 300 + ".txt")
    assert long.endswith(".txt") and len(long.encode()) <= 200


def test_transfer_cut_by_the_end_of_the_capture_is_incomplete(tmp_path):
    from conftest import cut_after

    from msnsniff.engine.analyze import analyse
    p = cut_after(tmp_path, b"\x00\xfd\x07")      # right after the first 2045-byte block
    t = one(analyse([str(p)])["transfers"])
    assert (t["name"], t["status"], t["received"], t["missing_bytes"], t["end"]) == (
        "notes.txt", "incomplete", 2045, 955, None)
    assert t["sha256"] == hashlib.sha256(NOTES[:2045]).hexdigest()


def _pipeline_doc(segments, ports=()):
    from msnsniff.model import Analysis
    from msnsniff.pipeline import Pipeline
    p, a = Pipeline(ports), Analysis()
    for ev in p.run(segments):
        a.apply(ev)
    return a.document()


def _conversation(port, lines_c2s, lines_s2c):
    from msnsniff.capture.packet import ACK, PSH, SYN, Segment
    c, s = ("10.0.0.5", 40001), ("10.0.0.9", port)
    segs = [Segment(1.0, *c, *s, 100, 0, SYN, b""), Segment(1.0, *s, *c, 500, 101, SYN | ACK, b"")]
    cs, ss, t = 101, 501, 1.0
    for a, b in zip(lines_c2s, lines_s2c):
        t += 0.1
        if a:
            segs.append(Segment(t, *c, *s, cs, ss, PSH | ACK, a))
            cs += len(a)
        if b:
            segs.append(Segment(t + 0.01, *s, *c, ss, cs, PSH | ACK, b))
            ss += len(b)
    return segs


def test_switchboard_recognised_by_content_on_any_port_and_bye_timeout():
    segs = _conversation(4444, [b"USR 1 zed@hotmail.com 123.456\r\n", None],
                         [b"USR 1 OK zed@hotmail.com Zed\r\nJOI amy@hotmail.com Amy\r\n",
                          b"BYE amy@hotmail.com 1\r\n"])
    d = _pipeline_doc(segs)
    s = one(d["sessions"])
    assert (s["kind"], s["passport"], s["server"]) == ("switchboard", "zed@hotmail.com",
                                                       "10.0.0.9:4444")
    assert [(e["passport"], e["event"]) for e in d["participants"]] == [
        ("amy@hotmail.com", "joined"), ("amy@hotmail.com", "left (idle timeout)")]


def test_extra_port_option():
    # a server that answers first on an unusual port is only followed when asked
    segs = _conversation(7777, [None], [b"NLN NLN amy@hotmail.com Amy 0\r\n"])
    assert _pipeline_doc(segs)["sessions"] == []
    d = _pipeline_doc(segs, ports=(7777,))
    assert one(d["presence"])["passport"] == "amy@hotmail.com"


def test_message_cut_by_the_capture_end_stays_in_its_session(tmp_path):
    """A capture that ends inside a server's MSG: the cut message and its 'truncated
    payload' anomaly belong to that switchboard session (they used to come after the
    session was closed and open a phantom 'unknown ?:0' session)."""
    from scapy.all import IP, TCP, rdpcap, wrpcap

    from msnsniff.engine.analyze import analyse
    pkts = rdpcap(cap("msnp8_session.pcap"))
    i = next(i for i, p in enumerate(pkts) if TCP in p and p[TCP].sport == 1864
             and bytes(p[TCP].payload).startswith(b"MSG ") and len(p[TCP].payload) > 100)
    cut = pkts[i].copy()
    data = bytes(cut[TCP].payload)
    cut[TCP].remove_payload()
    cut[TCP].add_payload(data[:len(data) // 2])
    del cut[IP].len, cut[IP].chksum, cut[TCP].chksum
    path = tmp_path / "cut.pcap"
    wrpcap(str(path), list(pkts[:i]) + [cut])
    doc = analyse([str(path)])
    ids = [s["id"] for s in doc["sessions"]]
    assert len(ids) == len(set(ids))
    assert not [s for s in doc["sessions"] if s["client"] == "?:0"]
    sb = {s["id"]: s for s in doc["sessions"] if s["kind"] == "switchboard"}
    trunc = one(doc["anomalies"], kind="truncated payload")
    assert trunc["session"] in sb and trunc["direction"] == "s2c"
    missing = len(data) - len(data) // 2
    assert f"{missing} missing" in trunc["detail"]
    last = [m for m in doc["messages"] if m["session"] == trunc["session"]][-1]
    assert last["missing_bytes"] == missing and last["direction"] == "in"


def test_each_message_is_counted_once_however_many_connections_saw_it(doc):
    """The switchboard relays every message to each participant's connection: the
    sample holds 7 rows of 3 messages; the copies name the row that counts."""
    d = doc("msnp8_session.pcap")
    texts = [(m["session"], m["sender"], m["text"], m["copy_of_session"])
             for m in d["messages"] if m["kind"] == "text"]
    assert len(texts) == 7 and d["summary"]["messages"] == 3
    counted = sorted((s, who) for s, who, _, copy in texts if copy is None)
    assert counted == [(5, "alice@hotmail.com"), (6, "bob@hotmail.com"), (7, "carol@hotmail.com")]
    for s, who, text, copy in texts:
        if copy is not None:        # the copy points at the row that is counted
            assert (copy, who, text) in {(s2, w2, t2) for s2, w2, t2, c2 in texts if c2 is None}
