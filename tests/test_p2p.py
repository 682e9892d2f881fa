"""MSN P2P / MSNSLP over the switchboard (captures/p2p_transfers.pcap.gz, p2p_hostile.pcap:
real sockets, a relaying switchboard, tcpdump; p2p_scenarios.py writes the layout
libpurple puts on the wire).  Exact values: kinds, names, sizes, statuses, sha256 of the
extracted bytes equal to the bytes sent, the split INVITE, a cut capture, hostile parts."""

import hashlib
import json
import os
import struct
import subprocess
import sys

import pytest
from conftest import cap, cut_after, one

from msnsniff.protocol import p2p as P

TRANSFERS = "p2p_transfers.pcap.gz"
HOSTILE = "p2p_hostile.pcap"
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "captures"))
import p2p_scenarios as S  # noqa: E402  (the bytes the capture's sender sent)


def transfers(d):
    return {t["name"]: t for t in d["transfers"] if t["method"] == "p2p"}


def test_every_transfer_with_kind_sender_receiver_status(doc):
    d = doc(TRANSFERS)
    rows = [(t["kind"], t["name"], t["sender"], t["receiver"], t["size"], t["received"],
             t["status"]) for t in d["transfers"]]
    assert rows == [
        ("file", "Relevé été 2005.txt", S.A, S.B, 9000, 9000, "complete"),
        ("file", "Budget 2006.xls", S.A, S.B, 30000, 0, "declined"),
        ("file", "Vacances.zip", S.A, S.B, 12000, 3606, "cancelled"),
        ("display-picture", "TFR2C2.tmp", S.B, S.A, len(S.PICTURE), len(S.PICTURE), "complete"),
        ("emoticon", "(cafe)", S.A, S.B, len(S.EMOTICON), len(S.EMOTICON), "complete"),
        ("file", "Photo Noël.jpg", S.A, S.B, 3000, 3000, "complete")]     # P2P v2 (MSNP18)
    t = transfers(d)
    assert t["Relevé été 2005.txt"]["sha256"] == hashlib.sha256(S.file_data(9000, 7)).hexdigest()
    assert t["Relevé été 2005.txt"]["p2p_session_id"] == 82413
    assert t["Relevé été 2005.txt"]["acknowledged"] is True
    assert t["Photo Noël.jpg"]["sha256"] == hashlib.sha256(S.file_data(3000, 42)).hexdigest()
    cancelled = t["Vacances.zip"]
    assert (cancelled["cancelled_by"], cancelled["missing_ranges"]) == (S.A, ["3606-11999"])
    assert cancelled["sha256"] == hashlib.sha256(S.file_data(12000, 99)[:3606]).hexdigest()
    pic = t["TFR2C2.tmp"]
    assert (pic["sha1d_ok"], pic["sha256"]) == (True, hashlib.sha256(S.PICTURE).hexdigest())
    assert t["(cafe)"]["sha1d_ok"] is True
    assert not d["anomalies"]
    # the emoticon message names its MSNObject, decoded
    emo = [m for m in d["messages"] if m["kind"] == "emoticon"][0]
    assert emo["text"] == "(cafe)"
    assert (emo["msnobj"]["(cafe)"]["type_name"], emo["msnobj"]["(cafe)"]["friendly_text"],
            emo["msnobj"]["(cafe)"]["size"]) == ("emoticon", "(cafe)", len(S.EMOTICON))


def test_invitations_and_the_split_invite(doc):
    d = doc(TRANSFERS)
    inv = {i["cookie"]: i for i in d["invitations"]}
    first = inv["{8A1C4B2E-5D6F-4A1B-9C2D-3E4F5A6B7C01}"]
    assert (first["application"], first["guid"], first["file_name"], first["file_size"]) == (
        "file", "{5D3E02AB-6190-11D3-BBBB-00C04F795683}", "Relevé été 2005.txt", 9000)
    assert first["commands"] == ["INVITE", "200 OK", "BYE"] and first["status"] == "accepted"
    assert inv["{8A1C4B2E-5D6F-4A1B-9C2D-3E4F5A6B7C02}"]["status"] == "declined"
    assert inv["{8A1C4B2E-5D6F-4A1B-9C2D-3E4F5A6B7C03}"]["status"] == "cancelled"
    # the 1,204-byte INVITE travelled as 1,202 + 2 bytes (two P2P parts)
    trace = subprocess.run([sys.executable, "-m", "msnsniff", "commands", cap(TRANSFERS),
                            "--verb", "MSG", "--format", "json", "--no-progress"],
                           capture_output=True, text=True).stdout
    sizes = [r["payload_length"] for r in json.loads(trace)
             if r["direction"] == "c2s" and r["connection"] == 3
             and "msnmsgrp2p" in r["summary"]][:2]
    head = len(S.mime("application/x-msnmsgrp2p", [("P2P-Dest", S.B)]))
    assert [s - head - 52 for s in sizes[:2]] == [1202, 2]


def test_transcript_lines_not_hex(doc):
    out = subprocess.run([sys.executable, "-m", "msnsniff", "chats", cap(TRANSFERS),
                          "--no-progress"], capture_output=True, text=True).stdout
    assert "x-msnmsgrp2p" not in out
    for line in ["* alice@example.com offers Relevé été 2005.txt (9,000 bytes)",
                 "* bob@example.com declined",
                 "* alice@example.com cancelled (the sender) after 3,606 of 12,000 bytes",
                 "* alice@example.com asks bob@example.com for the display picture",
                 "* bob@example.com sent the display picture in full: 4,125 bytes, sha256 "
                 + hashlib.sha256(S.PICTURE).hexdigest() + ", SHA1D ok"]:
        assert line in out
    assert out.count("offers Relevé été 2005.txt") == 1      # seen on two connections, once
    assert "* bob@example.com asks alice@example.com for the custom emoticon (cafe)" in out


def test_extract_is_byte_exact_and_safe(tmp_path):
    r = subprocess.run([sys.executable, "-m", "msnsniff", "files", cap(TRANSFERS), "--extract",
                        str(tmp_path), "--format", "json", "--no-progress"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    written = {t["name"]: t["extracted_to"] for t in json.loads(r.stdout)}
    assert written["Budget 2006.xls"] is None                    # declined: nothing written
    # files keep their names; MSN objects are named by kind, label and content type
    assert sorted(os.listdir(tmp_path)) == ["Photo Noël.jpg", "Relevé été 2005.txt",
                                            "SHA256SUMS", "Vacances.zip.partial",
                                            "display-picture TFR2C2.png", "emoticon (cafe).png"]
    # the manifest checks out with sha256sum, and each file's mtime is its transfer's end
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path,
                           capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.count(": OK") == 5
    from datetime import datetime
    rows = {t["name"]: t for t in json.loads(r.stdout)}
    end = datetime.fromisoformat(rows["Photo Noël.jpg"]["finished"].replace("Z", "+00:00"))
    assert abs(os.path.getmtime(tmp_path / "Photo Noël.jpg") - end.timestamp()) < 1e-3
    assert (tmp_path / "Relevé été 2005.txt").read_bytes() == S.file_data(9000, 7)
    assert (tmp_path / "display-picture TFR2C2.png").read_bytes() == S.PICTURE
    assert (tmp_path / "Photo Noël.jpg").read_bytes() == S.file_data(3000, 42)
    assert (tmp_path / "Vacances.zip.partial").read_bytes() == S.file_data(12000, 99)[:3606]


def test_capture_cut_mid_transfer(tmp_path, doc):
    # the capture stops after the fourth data part of the 9,000-byte file reached bob
    path = cut_after(tmp_path, struct.pack("<Q", 3 * 1202) + struct.pack("<Q", 9000),
                     name=TRANSFERS)
    from msnsniff.engine.analyze import analyse
    d = analyse([path])
    t = one(d["transfers"], name="Relevé été 2005.txt")
    assert (t["status"], t["received"], t["missing_ranges"]) == ("incomplete", 4808,
                                                                 ["4808-8999"])


def test_hostile_parts_are_anomalies_not_crashes(doc):
    d = doc(HOSTILE)
    kinds = sorted({(a["kind"], a["detail"]) for a in d["anomalies"]})
    assert kinds == [
        ("cap", "an MSNSLP message of 9223372036854775808 bytes (more than 65536) was not joined"),
        ("hostile name", "file name '..\\\\..\\\\Windows\\\\system32\\\\evil.exe' has path separators "
                         "(only its last component is used on extraction)"),
        ("hostile name", "file name '..\\\\..\\\\Windows\\\\system32\\\\evil.exe' hides text after a NUL: "
                         "'hidden.txt'"),
        ("malformed p2p", "3 bytes: shorter than the 48-byte P2P header"),
        ("malformed p2p", "INVITE {BAD0BAD0-0000-4000-8000-000000000002}: Context is not valid base64"),
        ("malformed p2p", "MessageSize 5000 but 104 bytes follow the header"),
        ("malformed p2p", "TotalSize 9223372036854775808 differs from 4000 earlier in session 666"),
        ("malformed p2p", "bytes 3990-4090 lie past TotalSize 4000"),
        ("p2p conflict", "session 666: bytes at 500 differ from those seen before; the first kept")]
    evil = one(d["transfers"], p2p_session_id=666)
    assert (evil["received"], evil["conflicts"], evil["missing_ranges"]) == (1000, 2, ["1000-3999"])
    assert evil["name"] == "..\\..\\Windows\\system32\\evil.exe"


def test_extract_of_a_hostile_name_stays_inside(tmp_path):
    r = subprocess.run([sys.executable, "-m", "msnsniff", "files", cap(HOSTILE), "--extract",
                        str(tmp_path), "--no-progress"], capture_output=True, text=True)
    assert r.returncode == 0
    assert sorted(os.listdir(tmp_path)) == ["SHA256SUMS", "evil.exe.partial"]
    assert (tmp_path / "evil.exe.partial").read_bytes() == S.file_data(4000, 3)[:1000]


@pytest.mark.parametrize("body, why", [
    (b"", "shorter than the 48-byte P2P header"),
    (S.v1(1, 1, 10, 5, b"abc"), "lie past TotalSize"),
    (struct.pack("<IIQQIIIIQ", 1, 1, 0, 10, 99, 0, 0, 0, 0) + b"x", "MessageSize 99"),
])
def test_v1_parser_refuses_lies(body, why):
    with pytest.raises(P.P2PError, match=why):
        P.parse_v1(body)


def test_v2_parser_reads_the_remaining_tlv():
    part = P.parse_v2(S.v2(70000, 92001, b"hello", 0x07, remaining=95, app=2))
    assert (part.session_id, part.identifier, part.first, part.total, part.data, part.app_id) \
        == (92001, 70000, True, 100, b"hello", 2)
    with pytest.raises(P.P2PError):
        P.parse_v2(b"\x08\x00\xff\xff\x00\x00\x00\x01")        # message length past the end
