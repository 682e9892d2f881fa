"""`msnsniff anonymise` (issue 33): the anonymised capture reads as the same sessions,
lists, conversations, transfers and anomalies, field by field, with every identifying
value replaced by a pseudonym of the same length, and none of the originals left in
the file."""

import base64
import hashlib
import json
import os
import subprocess
import sys

import pytest
from conftest import cap

from msnsniff.anonymise.pseudonyms import Pseudonyms
from msnsniff.engine.anonymise import anonymise
from msnsniff.engine.api import analyse

KEY = bytes(range(32))
CAPTURES = ["msnp8_session.pcap", "msnp_dialects.pcap", "http_gateway.pcap", "p2p_wlm.pcap.gz",
            "p2p_msnp12.pcap.gz", "p2p_transfers.pcap.gz", "ipv6.pcapng", "fidelity.pcap",
            "p2p_hostile.pcap", "mid_session.pcap", "bad_checksums.pcap", "escargot_msnp8.pcap",
            "escargot_msnp18_p2p.pcap.gz"]
# fields that are about the file, not the traffic
FILE_FIELDS = {"capture", "file", "command_line", "sha256_file", "size_bytes", "format",
               "extracted_to", "captures", "tool"}


def _clean(doc):
    """The document without bytes-valued private fields (the API keeps transfer data)."""
    for t in doc["transfers"]:
        for k in [k for k in t if k.startswith("_")]:
            del t[k]
    return doc


def same_shape(a, b, path, problems):
    """Same structure; equal numbers and flags; strings equal or of the same length; a
    dict's keys (shortcuts, passports) and a list of strings compared by their lengths
    (pseudonyms sort differently)."""
    if type(a) is not type(b):
        problems.append(f"{path}: {a!r} / {b!r}")
    elif isinstance(a, dict):
        if sorted(map(len, a)) != sorted(map(len, b)):
            problems.append(f"{path}: keys {sorted(a)} / {sorted(b)}")
        elif set(a) == set(b):
            for k in a:
                if k not in FILE_FIELDS:
                    same_shape(a[k], b[k], f"{path}.{k}", problems)
    elif isinstance(a, list):
        if len(a) != len(b):
            problems.append(f"{path}: {len(a)} items / {len(b)}")
        elif a and all(isinstance(x, str) for x in a + b):
            if sorted(map(len, a)) != sorted(map(len, b)):
                problems.append(f"{path}: {a} / {b}")
        else:
            for i, (x, y) in enumerate(zip(a, b)):
                same_shape(x, y, f"{path}[{i}]", problems)
    elif isinstance(a, str):
        if len(a) != len(b):
            problems.append(f"{path}: {a!r} / {b!r}")
    elif a != b:
        problems.append(f"{path}: {a!r} / {b!r}")


def _private(doc) -> set[str]:
    """What a capture's owner would not hand over, as the original read shows it."""
    out = set(doc["summary"]["accounts"])
    for s in doc["sessions"]:
        out.update(v for v in (s.get("friendly_name"), s.get("ticket"), s.get("sb_cookie"),
                               s.get("personal_message")) if v)
    for m in doc["messages"]:
        if m["content_type"] == "text/plain" and len(m["text"] or "") >= 6:
            out.add(m["text"])
    out.update(t["name"] for t in doc["transfers"] if t.get("name") and len(t["name"]) >= 6)
    out.update(c["passport"] for c in doc["contacts"] if c.get("passport"))
    return {v for v in out if len(v) >= 6}


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    d = tmp_path_factory.mktemp("anon")
    out = {}
    for name in CAPTURES:
        target = str(d / (name.split(".")[0] + ".anon.pcap"))
        res = anonymise(cap(name), target, key=KEY)
        out[name] = (_clean(analyse(cap(name))), _clean(analyse(target)), target, res)
    return out


@pytest.mark.parametrize("name", CAPTURES)
def test_the_anonymised_capture_reads_as_the_same_traffic(pairs, name):
    orig, anon, target, res = pairs[name]
    problems: list[str] = []
    same_shape(orig, anon, "", problems)
    assert problems == []
    # every MSN packet kept; the Escargot captures' HTTP logins (port 8081: a password,
    # the tickets' issuer) are not MSN traffic and are left out
    from msnsniff.capture.files import read_segments
    ports = lambda p: {port for s in read_segments(p) for port in (s.sport, s.dport)}
    assert res.written + res.left_out == res.packets >= 29
    if name.startswith("escargot"):
        assert res.left_out > 0 and 8081 in ports(cap(name)) and 8081 not in ports(target)
    else:
        assert res.left_out == 0


@pytest.mark.parametrize("name", CAPTURES)
def test_no_identifying_value_is_left_in_the_file(pairs, name):
    orig, anon, target, _ = pairs[name]
    data = open(target, "rb").read()
    private = _private(orig)
    assert private, "the sample names someone"
    left = [v for v in private if v.encode() in data or v.encode("utf-16-le") in data]
    assert left == []
    # and the pseudonyms took their place: the accounts differ one for one
    assert not set(orig["summary"]["accounts"]) & set(anon["summary"]["accounts"])


def test_pseudonyms_are_the_ones_the_key_gives(pairs):
    orig, anon, _, res = pairs["msnp8_session.pcap"]
    ps = Pseudonyms(KEY)
    # passports, account by account (the domain is a public one: kept)
    assert sorted(anon["summary"]["accounts"]) == sorted(
        ps.passport(a.encode()).decode() for a in orig["summary"]["accounts"])
    alice = ps.passport(b"alice@hotmail.com").decode()
    assert alice.endswith("@hotmail.com") and len(alice) == len("alice@hotmail.com")
    assert res.map["account"]["alice"] == alice.split("@")[0]
    # message text: word for word the keyed pseudo-words, spaces and punctuation kept
    texts = [m["text"] for m in orig["messages"] if m["content_type"] == "text/plain"]
    assert [m["text"] for m in anon["messages"] if m["content_type"] == "text/plain"] == [
        ps.text(t.encode()).decode() for t in texts]
    hello = next(t for t in texts if " " in t)
    assert [len(w) for w in hello.split(" ")] == [
        len(w) for w in ps.text(hello.encode()).decode().split(" ")]
    # the friendly name, decoded from its URL encoding, is the pseudonym text of the original
    login = next(s for s in orig["sessions"] if s["kind"] == "notification" and s["login"])
    alogin = next(s for s in anon["sessions"] if s["id"] == login["id"])
    assert alogin["friendly_name"] == ps.text(login["friendly_name"].encode()).decode()
    # credentials: the ticket keeps its shape (t=…&p=…), not its value
    assert alogin["ticket"] != login["ticket"] and len(alogin["ticket"]) == len(login["ticket"])
    assert alogin["ticket"].count("&") == login["ticket"].count("&")
    assert alogin["ticket"] == ps.token(login["ticket"].encode(), "ticket").decode()
    # a switchboard cookie: digits for digits, the dots kept, one pseudonym per cookie
    for o in orig["sessions"]:
        if o["sb_cookie"]:
            a = next(s for s in anon["sessions"] if s["id"] == o["id"])
            assert a["sb_cookie"] == ps.token(o["sb_cookie"].encode(), "cookie").decode()
            assert [len(p) for p in a["sb_cookie"].split(".")] == [
                len(p) for p in o["sb_cookie"].split(".")]


def test_switchboards_still_join_their_invitations(pairs):
    """The cookie of XFR, USR, RNG and ANS maps to one pseudonym: sessions stay linked."""
    orig, anon, _, _ = pairs["msnp8_session.pcap"]
    links = [(s["id"], s["linked_session"]) for s in orig["sessions"] if s["linked_session"]]
    assert links and links == [(s["id"], s["linked_session"]) for s in anon["sessions"]
                               if s["linked_session"]]
    cookies = {s["sb_cookie"] for s in anon["sessions"] if s["sb_cookie"]}
    assert cookies and not cookies & {s["sb_cookie"] for s in orig["sessions"]}


def test_p2p_objects_get_filler_whose_sha1d_is_recomputed(pairs):
    orig, anon, _, _ = pairs["p2p_msnp12.pcap.gz"]
    objs = [(t, a) for t, a in zip(orig["transfers"], anon["transfers"]) if t["sha1d"]]
    assert objs
    for t, a in objs:
        assert t["sha1d_ok"] is True and a["sha1d_ok"] is True     # it still verifies
        assert a["sha1d"] != t["sha1d"] and a["sha256"] != t["sha256"]
        assert (a["size"], a["received"], a["status"]) == (t["size"], t["received"], t["status"])
    ps = Pseudonyms(KEY)
    t, a = objs[0]
    filler = ps.objects.filler(t["sha1d"], t["size"])
    data = filler.bytes(0, t["size"])
    assert a["sha1d"] == base64.b64encode(hashlib.sha1(data).digest()).decode()
    assert a["sha256"] == hashlib.sha256(data).hexdigest()


def test_file_names_and_content_are_replaced(pairs):
    orig, anon, target, _ = pairs["p2p_wlm.pcap.gz"]
    ps = Pseudonyms(KEY)
    files = [(t, a) for t, a in zip(orig["transfers"], anon["transfers"]) if t["kind"] == "file"]
    assert [a["name"] for _, a in files] == [ps.text(t["name"].encode()).decode()
                                             for t, _ in files]
    assert any(t["name"] == "Rapport annuel 2009.pdf" for t, _ in files)
    done = [(t, a) for t, a in files if t["status"] == "complete"]
    assert done and all(a["sha256"] != t["sha256"] and a["received"] == t["received"]
                        for t, a in done)


def test_addresses_are_mapped_in_headers_and_text(tmp_path):
    target = str(tmp_path / "a.pcap")
    res = anonymise(cap("msnp8_session.pcap"), target, addresses=True, key=KEY)
    orig, anon = analyse(cap("msnp8_session.pcap")), analyse(target)
    ps = Pseudonyms(KEY, addresses=True)
    o = [s for s in orig["sessions"] if s["redirected_to"]][0]
    a = [s for s in anon["sessions"] if s["id"] == o["id"]][0]
    host, port = o["redirected_to"].rsplit(":", 1)
    assert a["redirected_to"] == f"{ps.ipv4(host.encode()).decode()}:{port}"
    assert a["client"] != o["client"] and a["client"].split(":")[1] == o["client"].split(":")[1]
    # the profile's reported address is mapped as the packets' one: NAT still reads "no"
    op, ap = next(s["profile"] for s in orig["sessions"] if s.get("profile")), \
        next(s["profile"] for s in anon["sessions"] if s.get("profile"))
    assert (op["nat"], ap["nat"]) == (False, False)
    assert res.map["ipv4"] and all(k not in open(target, "rb").read().decode("latin-1")
                                   for k in res.map["ipv4"] if len(k) > 8)
    problems: list[str] = []
    same_shape(_clean(orig), _clean(anon), "", problems)
    assert problems == []


def test_checksums_are_recomputed_and_wrong_ones_stay_wrong(pairs):
    """tshark agrees: the segments whose checksum was right still are, the 64 sent with
    offload still are not."""
    _, _, target, _ = pairs["bad_checksums.pcap"]
    counts = []
    for p in (cap("bad_checksums.pcap"), target):
        r = subprocess.run(["tshark", "-r", p, "-o", "tcp.check_checksum:TRUE", "-T", "fields",
                            "-e", "tcp.checksum.status"], capture_output=True, text=True)
        counts.append(sorted(r.stdout.split()))
    assert counts[0] == counts[1] and counts[0].count("0") == 64


def test_cli_writes_the_map_and_refuses_its_input(tmp_path):
    out, mp = tmp_path / "out.pcap", tmp_path / "map.json"
    r = subprocess.run([sys.executable, "-m", "msnsniff", "anonymise", cap("msnp8_session.pcap"),
                        "-o", str(out), "--keep-map", str(mp)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith(f"{out}: 245 of 245 packets written (9 MSN connections;")
    m = json.loads(mp.read_text())
    assert set(m["account"]) >= {"alice", "bob", "carol"} and "hotmail.com" not in m.get("domain", {})
    # never over its input, never over an existing file without --force
    src = tmp_path / "in.pcap"
    src.write_bytes(open(cap("msnp8_session.pcap"), "rb").read())
    for args, msg in (([str(src), "-o", str(src)], "is the input capture"),
                      ([str(src), "-o", str(out)], "exists (use --force"),
                      (["-", "-o", str(tmp_path / "x.pcap")], "give a file, not standard input"),
                      ([str(tmp_path / "nope.pcap"), "-o", str(tmp_path / "y.pcap")],
                       "no such file")):
        r = subprocess.run([sys.executable, "-m", "msnsniff", "anonymise", *args],
                           capture_output=True, text=True)
        assert r.returncode != 0 and msg in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert src.read_bytes() == open(cap("msnp8_session.pcap"), "rb").read()
    assert not os.path.exists(tmp_path / "x.pcap")


def test_other_traffic_is_left_out_unless_kept(tmp_path):
    from scapy.all import IP, TCP, UDP, Ether, Raw, wrpcap
    from scapy.utils import rdpcap
    pkts = rdpcap(cap("msnp8_session.pcap"))[:12]
    dns = Ether() / IP(src="10.9.9.9", dst="10.9.9.1") / UDP(sport=5353, dport=53) / Raw(
        b"secret.example.org")
    web = Ether() / IP(src="10.9.9.9", dst="10.9.9.2") / TCP(sport=40000, dport=80, flags="PA") \
        / Raw(b"GET /carol-holiday.jpg HTTP/1.1\r\n\r\n")
    src = str(tmp_path / "mixed.pcap")
    wrpcap(src, [dns, *pkts, web])
    a, b = str(tmp_path / "a.pcap"), str(tmp_path / "b.pcap")
    res = anonymise(src, a, key=KEY)
    assert (res.packets, res.written, res.left_out) == (14, 12, 2)
    assert b"secret.example.org" not in open(a, "rb").read()
    res = anonymise(src, b, keep_other=True, key=KEY)
    assert (res.written, res.left_out) == (14, 0)


def test_a_damaged_stream_is_overwritten_and_reported_per_connection(tmp_path):
    """A message whose first half was never captured: what is left of it cannot be
    framed, so it is written back as pseudonym text, and the connection says so."""
    from scapy.all import TCP, Raw, wrpcap
    from scapy.utils import rdpcap
    pkts = list(rdpcap(cap("msnp8_session.pcap")))
    i = next(i for i, p in enumerate(pkts) if Raw in p and b"text/plain" in bytes(p[Raw]))
    pay = bytes(pkts[i][Raw])
    text = pay[pay.index(b"\r\n\r\n") + 4:]
    second = pkts[i].copy()
    second[TCP].seq += len(pay) // 2
    second[Raw].load = pay[len(pay) // 2:]
    del second["IP"].len, second["IP"].chksum, second[TCP].chksum
    src = str(tmp_path / "cut.pcap")
    wrpcap(src, pkts[:i] + [second] + pkts[i + 1:])
    out = str(tmp_path / "out.pcap")
    r = subprocess.run([sys.executable, "-m", "msnsniff", "anonymise", src, "-o", out],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    conn = [line for line in r.stderr.splitlines() if line.startswith("connection ")]
    assert len(conn) == 1 and "undecodable bytes written back as pseudonym text" in conn[0]
    assert len(text) >= 8 and text not in open(out, "rb").read()
    # and read sees the same damage in both
    assert len(analyse(src)["anomalies"]) == len(analyse(out)["anomalies"]) >= 1


def test_chunked_wink_objects_are_rewritten_whole_and_still_verify(pairs):
    """The wink's MSNObject spans three chunked MSGs: joined, rewritten once, put back;
    the announcement's SHA1D is the filler's, which the fetched object verifies."""
    orig, anon, _, _ = pairs["p2p_wlm.pcap.gz"]
    ps = Pseudonyms(KEY)
    objs = [(t, a) for t, a in zip(orig["transfers"], anon["transfers"])
            if t["kind"] in ("wink", "voice-clip", "emoticon", "display-picture")]
    assert {t["kind"] for t, _ in objs} == {"wink", "voice-clip", "emoticon", "display-picture"}
    for t, a in objs:
        assert (a["status"], a["sha1d_ok"], a["size"]) == (t["status"], t["sha1d_ok"], t["size"])
        if t["sha1d_ok"]:
            assert a["sha1d"] == ps.objects.sha1d(t["sha1d"], t["size"]) != t["sha1d"]
    wink = next(a for _, a in objs if a["kind"] == "wink")
    assert wink["name"] == ps.text(b"Bisou").decode()
    said = [m for m in anon["messages"] if m["kind"] == "wink"]
    assert said and all(m["msnobj"]["sha1d"] == wink["sha1d"] for m in said)


# ------------------------------------------------------------------ a second reader's finds

def _sb(tmp_path, texts, name="sb.pcap"):
    from conftest import conversation, write_pcap
    c2s = [b"USR 1 marie@example.com 1726.3\r\n"]
    for t in texts:
        body = b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n" + t.encode()
        c2s.append(b"MSG %d N %d\r\n" % (len(c2s) + 1, len(body)) + body)
    return write_pcap(tmp_path / name, conversation(
        server=("10.0.0.3", 1863), c2s=c2s, s2c=[b"USR 1 OK marie@example.com Marie%20Curie\r\n"]))


def test_text_with_fullwidth_digits_keeps_its_length_and_nothing_of_it(tmp_path):
    """'１' is 3 bytes: a pseudonym that made it an ASCII digit shortened the payload and
    left the original's tail in the file."""
    text = "会議は１５時から。Pierre, bring the radium sample. ²³ 𝟏"
    src = _sb(tmp_path, [text])
    out = str(tmp_path / "out.pcap")
    anonymise(src, out, key=KEY)
    got = [m["text"] for m in analyse(out)["messages"]]
    assert got == [Pseudonyms(KEY).text(text.encode()).decode()]
    assert len(got[0]) == len(text) and len(got[0].encode()) == len(text.encode())
    data = open(out, "rb").read()
    assert not any(w.encode() in data for w in ("会議", "１５", "Pierre", "radium", "Marie", "Curie"))


def test_xml_values_the_decoder_reads_are_all_rewritten():
    """A PSM with '&lt;3' or CDATA, ADL's f= name, the MSNP18 DDP MSNObject escaped in
    its element, a NOT's account ids: each rewritten, lengths and entities kept."""
    from msnsniff.anonymise.payloads import xml
    from msnsniff.anonymise.pseudonyms import url_recode
    ps = Pseudonyms(KEY)
    psm = b"<Data><PSM>Parti &amp; revenu &lt;3</PSM><CurrentMedia></CurrentMedia></Data>"
    assert xml(ps, psm) == (b"<Data><PSM>" + ps.text(b"Parti ") + b"&amp;" + ps.text(b" revenu ")
                            + b"&lt;" + ps.text(b"3") + b"</PSM><CurrentMedia></CurrentMedia></Data>")
    cdata = b"<Data><PSM><![CDATA[en r\xc3\xa9union]]></PSM></Data>"
    assert xml(ps, cdata) == b"<Data><PSM><![CDATA[" + ps.text(b"en r\xc3\xa9union") + b"]]></PSM></Data>"
    adl = b'<ml l="1"><d n="example.com"><c n="gina" t="1" l="8" f="Gina%20G" /></d></ml>'
    assert xml(ps, adl) == (b'<ml l="1"><d n="example.com"><c n="' + ps.local("gina").encode()
                            + b'" t="1" l="8" f="' + url_recode(b"Gina%20G", ps.text) + b'" /></d></ml>')
    q = b"&quot;"
    ddp = (b"<Data><DDP>&lt;msnobj Creator=" + q + b"bob@example.com" + q + b" Size=" + q + b"10" + q
           + b" Type=" + q + b"7" + q + b" Location=" + q + b"TFR1.dat" + q + b" SHA1D=" + q
           + b"SbpbF/JLtcDlgx4icfTHFQCg2xU=" + q + b"/&gt;</DDP></Data>")
    new = xml(ps, ddp)
    assert len(new) == len(ddp) and b"bob@example.com" not in new and b"TFR1.dat" not in new
    assert ps.passport(b"bob@example.com") in new and q + b"10" + q in new
    assert ps.objects.sha1d("SbpbF/JLtcDlgx4icfTHFQCg2xU=", 10).encode() in new
    note = (b'<NOTIFICATION id="0"><TO pid="0x2ecb64d6:0x16293156" name="yuki@example.com"></TO>'
            b"<BODY>&lt;NotificationData&gt;&lt;Service&gt;ABCHInternal&lt;/Service&gt;&lt;CID&gt;"
            b"-2118238208812345678&lt;/CID&gt;&lt;/NotificationData&gt;</BODY></NOTIFICATION>")
    new = xml(ps, note)
    assert len(new) == len(note) and b"ABCHInternal" in new
    assert b"0x2ecb64d6:0x16293156" not in new and b"-2118238208812345678" not in new
    assert ps.token(b"-2118238208812345678", "cid") in new


def test_damaged_ip_headers_are_left_out_and_trailing_bytes_cleared(tmp_path):
    """A segment whose IP total length cannot hold its TCP header (the reader skips it
    as damage) is not copied as it was; bytes after a packet's IP length are zeroed."""
    from scapy.all import IP, TCP, Ether, Raw, wrpcap
    from scapy.utils import rdpcap
    pkts = list(rdpcap(_sb(tmp_path, ["bonjour tout le monde"])))
    lying = pkts[2].copy()
    lying[IP].len = 10                      # shorter than its own header
    padded = Ether(bytes(pkts[3]) + b"HIDDEN PRIVATE gossip")
    src = str(tmp_path / "damaged.pcap")
    wrpcap(src, pkts[:2] + [lying, padded] + pkts[3:])
    out = str(tmp_path / "out.pcap")
    r = subprocess.run([sys.executable, "-m", "msnsniff", "anonymise", src, "-o", out],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "left out: 1 packets of MSN connections whose IP lengths cannot hold" in r.stderr
    assert "not MSN traffic" not in r.stderr
    data = open(out, "rb").read()
    assert b"HIDDEN" not in data and b"gossip" not in data and b"bonjour" not in data
    assert len(rdpcap(out)) == len(pkts)       # (the lying copy out, the padded one in)
    del IP, TCP, Raw


def test_a_damaged_gzip_capture_is_copied_as_far_as_it_reads(tmp_path):
    import gzip
    raw = gzip.compress(open(cap("msnp8_session.pcap"), "rb").read())
    src = tmp_path / "bad.pcap.gz"
    src.write_bytes(raw[:len(raw) // 2])        # the stream ends before its end marker
    out = tmp_path / "out.pcap"
    r = subprocess.run([sys.executable, "-m", "msnsniff", "anonymise", str(src), "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "internal error" not in r.stderr, r.stderr
    assert "truncated: gzip stream broken" in r.stderr
    assert out.exists() and b"Alice in Wonderland" not in out.read_bytes()


def test_flags_and_circle_credentials():
    from msnsniff.anonymise.lines import rewrite_line
    ps = Pseudonyms(KEY)
    assert rewrite_line("BPR", ["MOB", "Y"], False, 1, 13, ps) == b"MOB Y"
    assert rewrite_line("PRP", ["7", "MBE", "N"], False, 1, 13, ps) == b"7 MBE N"
    assert rewrite_line("USR", ["9", "SHA", "A", "c2VjcmV0dG9rZW4="], False, 0, 18, ps) == (
        b"9 SHA A " + ps.token(b"c2VjcmV0dG9rZW4=", "ticket"))


def test_msnobject_attributes_in_any_case():
    """WLM 2009 writes `stamp=` and `avatarid=` in lower case: rewritten as Stamp is."""
    from msnsniff.anonymise.payloads import msnobj
    ps = Pseudonyms(KEY)
    o = (b'<msnobj Creator="bob@example.com" Size="10" Type="3" Location="0" Friendly="AAA=" '
         b'SHA1D="SbpbF/JLtcDlgx4icfTHFQCg2xU=" stamp="QWxpY2VTaWduZWQ=" avatarid="Zm9vYmFy"/>')
    n = msnobj(o, ps)
    assert len(n) == len(o) and b"QWxpY2VTaWduZWQ=" not in n and b"Zm9vYmFy" not in n
    assert ps.token(b"QWxpY2VTaWduZWQ=", "stamp") in n and ps.token(b"Zm9vYmFy", "avatarid") in n


def test_pcapng_metadata_that_names_the_machine_is_overwritten(pairs):
    """The section's hardware/OS/application and the interface's name and filter say
    whose machine made the capture; the timing options stay (tshark reads the same)."""
    _, anon, target, _ = pairs["ipv6.pcapng"]
    orig_bytes, data = open(cap("ipv6.pcapng"), "rb").read(), open(target, "rb").read()
    assert b"Dumpcap" in orig_bytes and b"Dumpcap" not in data and b"EPYC" not in data
    assert len(data) == len(orig_bytes)
    r = subprocess.run(["capinfos", "-M", target], capture_output=True, text=True)
    assert "Capture application: " + "x" * 10 in r.stdout and "Name = xx" in r.stdout
    assert "nanoseconds (9)" in r.stdout           # if_tsresol kept: the same times
    t = [subprocess.run(["tshark", "-r", p, "-T", "fields", "-e", "frame.time_epoch"],
                        capture_output=True, text=True).stdout for p in (cap("ipv6.pcapng"), target)]
    assert t[0] == t[1] and t[0].count("\n") == 29


def test_one_key_gives_one_output_byte_for_byte(tmp_path):
    """The same capture and key give the same anonymised file (MSNFTP file bytes were
    seeded by an object's address and differed from run to run)."""
    a, b = str(tmp_path / "a.pcap"), str(tmp_path / "b.pcap")
    anonymise(cap("msnp8_session.pcap"), a, key=KEY)
    import subprocess
    import sys
    # the second run in a process of its own: nothing in this one's memory is shared
    subprocess.run([sys.executable, "-c", "import sys; from msnsniff.engine.anonymise import "
                    "anonymise; anonymise(sys.argv[1], sys.argv[2], key=bytes.fromhex(sys.argv[3]))",
                    cap("msnp8_session.pcap"), b, KEY.hex()], check=True)
    assert open(a, "rb").read() == open(b, "rb").read()
