"""MSNP10-18 (docs/dialects.md) on captures/msnp_dialects.pcap: real loopback sockets,
tcpdump, server lines shaped as a revival server writes each dialect (make_captures.py,
dialect_scenarios.py).  Exact values: contacts with GUIDs, list bits with PL, GUID
groups, the own name at login and after PRP MFN, personal messages, network ids, SSO,
MPOP endpoints folded into one account, MSNP11 challenges."""

import glob
import json
import os
import subprocess
import sys

import pytest
from conftest import by, cap, one

from msnsniff.protocol.challenge import expected_answer, msnp11_answer, verify
from msnsniff.protocol.xmlpayload import decode_current_media, parse_msnobj

DIALECTS = "msnp_dialects.pcap"
G_AMIS = "6a2b14c0-5b7e-4b2e-9a51-0d3f5e1a2b01"
G_TRAVAIL = "6a2b14c0-5b7e-4b2e-9a51-0d3f5e1a2b02"
G_FAMILLE = "6a2b14c0-5b7e-4b2e-9a51-0d3f5e1a2b03"
C_BOB = "00000000-0000-0000-0002-000000000b0b"
C_CAROL = "00000000-0000-0000-0002-0000000ca201"
C_FRANK = "00000000-0000-0000-0002-00000000f4a4"


def ns_of(d, passport, n=0):
    return [s for s in d["sessions"] if s["passport"] == passport
            and s["kind"] == "notification"][n]


def contacts_of(d, s):
    return {c["passport"]: c for c in by(d["contacts"], session=s["id"])}


# ---------------------------------------------------------------- the MSNP11 challenge
@pytest.mark.parametrize("challenge,product,answer", [
    # worked examples from a public Ruby MSN client's challenge spec (found through the
    # search tool's code index: "replies to challenge for MSNP11 / MSNP15"); its MSNP15
    # default product id is PROD0113H11T8$X_
    ("22210219642164014968", "PROD0090YUAUV{2B", "85ecb0db8f32113df79ce0892b9a102c"),
    ("11533365622852247127", "PROD0113H11T8$X_", "f086d1ded067186deca8dba2231602cf"),
    ("237191752526424888127371168", "PROD0113H11T8$X_", "65b6b623c649c25629af048d34066040"),
])
def test_msnp11_challenge_worked_examples(challenge, product, answer):
    assert expected_answer(challenge, product) == answer
    assert verify(challenge, product, answer.upper()) is True
    assert verify(challenge, product, "0" * 32) is False
    assert verify(challenge, "PROD9999UNKNOWN!", answer) is None      # unknown product id


def test_msnp8_challenge_unchanged():
    # the reference's MSNP8 algorithm still applies to the MSNP8 product ids (§6)
    import hashlib
    assert expected_answer("15570131571988941333", "msmsgs@msnmsgr.com") == \
        hashlib.md5(b"15570131571988941333Q1P7W2E4J9R8U3S5").hexdigest()
    assert msnp11_answer("x", "PROD0090YUAUV{2B", "k") != expected_answer("x", "msmsgs@msnmsgr.com")


def test_challenges_in_the_capture(doc):
    d = doc(DIALECTS)
    rows = [(r["challenge"], r["product_id"], r["valid"], r["accepted"])
            for r in d["challenges"]]
    assert rows == [("22210219642164014968", "PROD0090YUAUV{2B", True, True),
                    ("51246793108421367522", "PROD0090YUAUV{2B", False, False),
                    ("11533365622852247127", "PROD0118R6%2WYOS", True, True)]


# ---------------------------------------------------------------- MSNP10
def test_msnp10_login_names_and_sync(doc):
    d = doc(DIALECTS)
    s = ns_of(d, "alice10@example.com")
    assert (s["protocol"], s["protocol_source"]) == ("MSNP10", "VER")
    # USR OK carries no name in MSNP10 ("1" is the verified flag, not a name)
    assert s["verified"] == "1" and s["extra_flag"] == "0"
    assert s["friendly_name_at_login"] == "Alice Été"            # PRP MFN in the SYN reply
    assert s["friendly_name"] == "Alice in Wonderland"           # PRP 15 MFN (rename)
    assert s["syn"] == {"client_version": None, "version": None, "contacts_declared": 3,
                        "groups_declared": 2, "timestamps": ["2000-01-01T00:00:00.0-00:00",
                                                              "2000-01-01T00:00:00.0-00:00"]}
    assert s["list_version"] is None and s["contacts_source"] == "SYN"
    assert s["settings"] == {"GTC": "A", "BLP": "BL"}            # BLP 14 BL: reply without serial
    assert s["phones"] == {"PHH": "555 1234"}
    assert not by(d["anomalies"], session=s["id"])               # no false count mismatch


def test_msnp10_contacts_groups_and_changes(doc):
    d = doc(DIALECTS)
    s = ns_of(d, "alice10@example.com")
    groups = {g["group_id"]: g["name"] for g in by(d["groups"], session=s["id"])}
    assert groups == {G_AMIS: "Amis Été", G_TRAVAIL: "Travail"}  # Famille: added then removed
    c = contacts_of(d, s)
    assert sorted(c) == ["bob@example.com", "carol@example.com", "dave@example.com",
                         "frank@example.com", "gina@example.com"]
    bob = c["bob@example.com"]
    assert (bob["contact_id"], bob["list_bits"], bob["lists"]) == (C_BOB, 19, ["FL", "AL", "PL"])
    assert (bob["groups"], bob["group_names"]) == ([G_AMIS], ["Amis Été"])
    assert bob["phones"] == {"PHM": "555 9876"}
    assert bob["friendly_name"] == "Bob Ñandú"     # SBP renamed him, NLN named him again
    carol = c["carol@example.com"]                 # REM 10 FL <guid> <group>: out of Travail
    assert (carol["contact_id"], carol["groups"]) == (C_CAROL, [G_AMIS])
    assert carol["list_bits"] == 11
    dave = c["dave@example.com"]                   # no C=, empty group field (trailing space)
    assert (dave["contact_id"], dave["list_bits"], dave["groups"]) == (None, 10, [])
    frank = c["frank@example.com"]                 # ADC FL N= … / ADC FL C= group / ADC AL
    assert (frank["contact_id"], frank["lists"], frank["groups"]) == (C_FRANK, ["FL", "AL"],
                                                                     [G_TRAVAIL])
    assert c["gina@example.com"]["lists"] == ["RL"]
    changes = [(r["op"], r["list"], r["passport"], r["friendly_name"], r["group_id"],
                r["contact_id"], r["by_server"]) for r in by(d["list_changes"], session=s["id"])]
    assert changes == [
        ("ADC", "FL", "frank@example.com", "frank@example.com", None, C_FRANK, False),
        ("ADC", "FL", "frank@example.com", None, G_TRAVAIL, C_FRANK, False),
        ("ADC", "AL", "frank@example.com", None, None, None, False),
        ("REM", "FL", "carol@example.com", None, G_TRAVAIL, C_CAROL, False),
        ("ADG", None, None, "Famille", G_FAMILLE, None, False),
        ("REG", None, None, "Famille Proche", G_FAMILLE, None, False),
        ("RMG", None, None, None, G_FAMILLE, None, False),
        ("PRP", None, "alice10@example.com", "Alice in Wonderland", None, None, False),
        ("SBP", None, "bob@example.com", "Bobby", None, C_BOB, False),
        ("ADC", "RL", "gina@example.com", "Gina", None, None, True)]


# ---------------------------------------------------------------- MSNP11 / 12
def test_msnp11_personal_messages(doc):
    d = doc(DIALECTS)
    s = ns_of(d, "alice11@example.com")
    assert (s["protocol"], s["friendly_name_at_login"]) == ("MSNP11", "Alice Onze")
    rows = [(r["command"], r["passport"], r["personal_message"], r["current_media"])
            for r in by(d["personal_messages"], session=s["id"])]
    assert rows == [("UUX", "alice11@example.com", "En réunion ☕ ça",
                     "Music: Seven Nation Army - The White Stripes"),
                    ("UBX", "bob@example.com", "Parti & revenu <3", None)]
    assert s["personal_message"] == "En réunion ☕ ça"
    gcf = one(d["notifications"], session=s["id"], command="GCF", what="config file")
    assert gcf["fields"]["file"] == "Shields.xml"
    assert any(n["command"] == "SBS" for n in by(d["notifications"], session=s["id"]))


def test_current_media_follows_the_format_string():
    assert decode_current_media("\\0Music\\01\\0{0} - {1}\\0Song\\0Artist\\0") == "Music: Song - Artist"
    assert decode_current_media("\\0Music\\01\\0{1}: {0}\\0Song\\0Artist\\0") == "Music: Artist: Song"
    assert decode_current_media("\\0Music\\00\\0{0}\\0Song\\0") is None      # disabled
    assert decode_current_media("") is None


def test_msnp12_network_field_and_switchboard(doc):
    d = doc(DIALECTS)
    s = ns_of(d, "alice12@example.com")
    c = contacts_of(d, s)
    assert (c["bob@example.com"]["network"], c["bob@example.com"]["groups"]) == (1, [G_AMIS])
    assert (c["erin@yahoo.com"]["network"], c["erin@yahoo.com"]["list_bits"]) == (32, 2)
    sb = [x for x in d["sessions"] if x["kind"] == "switchboard" and x["sb_session_id"] == "12120001"]
    assert [x["passport"] for x in sb] == ["alice12@example.com", "bob@example.com"]
    mine = sb[0]["id"]
    msgs = [(m["kind"], m["sender"], m["text"], m["p4_context"])
            for m in by(d["messages"], session=mine)]
    assert msgs == [("typing", "alice12@example.com", None, None),
                    ("text", "alice12@example.com", "Ça va ? 😀 Überraschung", "Alice au bureau"),
                    ("nudge", "bob@example.com", "nudge", None),
                    ("emoticon", "bob@example.com", "(cafe)", None),
                    ("text", "bob@example.com", "Très bien (cafe) — et toi ?", None)]
    joi = one(d["participants"], session=mine, command="JOI")
    assert (joi["passport"], joi["friendly_name"], joi["client_id"]) == (
        "bob@example.com", "Bob Ñandú", 1342177312)


# ---------------------------------------------------------------- MSNP15
def test_msnp15_sso_adl_and_network_ids(doc):
    d = doc(DIALECTS)
    s = ns_of(d, "alice15@example.com")
    assert (s["protocol"], s["auth_method"], s["policy"]) == ("MSNP15", "SSO", "MBI_KEY_OLD")
    assert s["auth_nonce"].startswith("Nc6hQ3vY") and s["ticket"].startswith("t=EwCoARAn")
    assert s["auth_response"].startswith("HAAAAAEAAAADZgAA")
    assert s["contacts_source"] == "ADL" and s["friendly_name"] == "Alice Quinze"
    assert s["settings"] == {"BLP": "AL"}                         # BLP 5 AL: no serial
    c = contacts_of(d, s)
    got = {p: (x["list_bits"], x["network"]) for p, x in c.items()}
    assert got == {"bob@example.com": (3, 1), "carol@example.com": (9, 1),   # RML took AL off
                   "erin@yahoo.com": (1, 32), "gina@example.com": (8, 1)}    # ADL 0: added you
    assert c["gina@example.com"]["friendly_name"] == "Gina G"
    pres = [(p["command"], p["passport"], p["network"], p["status"], p["friendly_name"],
             p["client_id"]) for p in by(d["presence"], session=s["id"])]
    assert pres == [("CHG", "alice15@example.com", None, "NLN", None, 2789003324),
                    ("ILN", "bob@example.com", 1, "NLN", "Bob Ñandú", 2789003324),
                    ("ILN", "erin@yahoo.com", 32, "AWY", "Erin", 0),
                    ("NLN", "bob@example.com", 1, "BSY", "Bob", 2789003324),
                    ("FLN", "erin@yahoo.com", 32, "FLN", None, None)]
    dp = one(d["presence"], session=s["id"], command="ILN", passport="bob@example.com")["msnobj"]
    assert (dp["creator"], dp["size"], dp["type_name"], dp["sha1d"]) == (
        "bob@example.com", 4908, "display picture", "trC8SlFx2sWQxZMIBAWSEnXc8oQ=")
    ubx = one(d["personal_messages"], session=s["id"], command="UBX")
    assert (ubx["passport"], ubx["network"], ubx["personal_message"], ubx["machine_guid"]) == (
        "bob@example.com", 1, "Quinze & demi", "{B0B}")
    assert not by(d["anomalies"], session=s["id"])


def test_msnp15_redact_masks_sso_credentials(tmp_path):
    out = subprocess.run([sys.executable, "-m", "msnsniff", "read", cap(DIALECTS), "--format",
                          "json", "--redact", "--no-progress"], capture_output=True, text=True)
    d = json.loads(out.stdout)
    s = ns_of(d, "alice15@example.com")
    assert s["ticket"] == "[redacted]" and s["auth_response"] == "[redacted]"
    assert s["auth_nonce"].startswith("Nc6hQ3vY")                 # a challenge, not a secret
    trace = subprocess.run([sys.executable, "-m", "msnsniff", "commands", cap(DIALECTS),
                            "--verb", "USR", "--format", "json", "--redact", "--no-progress"],
                           capture_output=True, text=True).stdout
    assert "EwCoARAn" not in trace and "HAAAAAEAAAADZgAA" not in trace
    assert "MBI_KEY_OLD" in trace


def test_mid_session_dialect_is_inferred(doc):
    d = doc("msnp15_mid_session.pcap")
    s = d["sessions"][0]
    assert (s["protocol"], s["protocol_source"]) == ("MSNP14", "inferred")
    pres = [(p["passport"], p["network"], p["friendly_name"], p["client_id"])
            for p in by(d["presence"], session=s["id"]) if p["command"] == "ILN"]
    assert pres == [("bob@example.com", 1, "Bob Ñandú", 2789003324),
                    ("erin@yahoo.com", 32, "Erin", 0)]


# ---------------------------------------------------------------- MSNP18
def test_msnp18_mpop_endpoints_fold_into_one_account(doc):
    d = doc(DIALECTS)
    a1, a2 = ns_of(d, "alice18@example.com", 0), ns_of(d, "alice18@example.com", 1)
    assert (a1["machine_guid"], a2["machine_guid"]) == (
        "{8F3C5A31-2B7E-4A1C-9E5D-1A2B3C4D5E61}", "{8F3C5A31-2B7E-4A1C-9E5D-1A2B3C4D5E62}")
    assert a1["protocol"] == "MSNP18"
    nln = by(d["presence"], session=a1["id"], command="NLN")
    assert [(p["passport"], p["network"], p["client_id"], p["capabilities_ex"], p["via"])
            for p in nln] == [
        ("bob@example.com", 1, 2789003324, 48, None),
        ("carol@example.com", 1, 2789003324, 48,
         "via=9:00000000-0000-0000-0009-000000000001@live.com")]
    groups = {g["group_id"]: g["name"] for g in by(d["groups"], session=a1["id"])}
    assert groups == {"9:00000000-0000-0000-0009-000000000001@live.com":
                      "circle 00000000-0000-0000-0009-000000000001"}
    ubx = one(d["personal_messages"], session=a1["id"], passport="bob@example.com")
    # endpoints are objects in the rows (JSON, SQLite); table and CSV cells join them
    assert ubx["endpoints"] == [
        {"id": "{1B0B0B0B-1111-4A1C-9E5D-0000000000B1}", "capabilities": "2789003324:48"},
        {"id": "{1B0B0B0B-2222-4A1C-9E5D-0000000000B2}", "capabilities": "2789003324:48"}]
    uux = one(d["personal_messages"], session=a1["id"], command="UUX")
    assert uux["endpoints"] == [{"id": "{8F3C5A31-2B7E-4A1C-9E5D-1A2B3C4D5E61}", "name": "HOME-PC",
                                 "client_type": "1", "state": "NLN", "idle": "false"}]
    from msnsniff.output.emit import cell, csv_cell
    assert cell(ubx["endpoints"]) == (
        "id={1B0B0B0B-1111-4A1C-9E5D-0000000000B1}; capabilities=2789003324:48; "
        "id={1B0B0B0B-2222-4A1C-9E5D-0000000000B2}; capabilities=2789003324:48")
    # CSV: one list item per endpoint, its own separators escaped (split_list reads it back)
    assert csv_cell(uux["endpoints"]) == ("id={8F3C5A31-2B7E-4A1C-9E5D-1A2B3C4D5E61}\\; "
                                          "name=HOME-PC\\; client_type=1\\; state=NLN\\; idle=false")
    sb = one(d["sessions"], kind="switchboard", sb_session_id="18180001")
    assert sb["passport"] == "alice18@example.com"
    assert sb["machine_guid"] == "{8F3C5A31-2B7E-4A1C-9E5D-1A2B3C4D5E61}"
    assert sb["participants"] == ["alice18@example.com", "bob@example.com"]
    assert sb["endpoints"] == {"bob@example.com": ["{1B0B0B0B-1111-4A1C-9E5D-0000000000B1}",
                                                   "{1B0B0B0B-2222-4A1C-9E5D-0000000000B2}"]}
    events = [(p["command"], p["passport"], p["event"]) for p in by(d["participants"], session=sb["id"])]
    assert events == [("JOI", "bob@example.com", "joined"),
                      ("JOI", "bob@example.com", "another endpoint joined"),
                      ("BYE", "bob@example.com", "left")]
    assert [(m["sender"], m["text"]) for m in by(d["messages"], session=sb["id"])] == [
        ("alice18@example.com", "Salut Bob, sur quelle machine es-tu ?"),
        ("bob@example.com", "Les deux à la fois 🙂")]


def test_every_dialect_session_is_clean(doc):
    d = doc(DIALECTS)
    assert d["anomalies"] == []
    protocols = sorted({s["protocol"] for s in d["sessions"] if s["kind"] == "notification"})
    assert protocols == ["MSNP10", "MSNP11", "MSNP12", "MSNP15", "MSNP18"]


def test_msnobj_parsing_is_safe():
    assert parse_msnobj("0") is None
    assert parse_msnobj('<!DOCTYPE x [<!ENTITY a "b">]><msnobj Creator="&a;"/>') is None
    o = parse_msnobj('<msnobj Creator="x@y" Type="2" Friendly="VABlAHMAdAAAAA=="/>')
    assert (o["type_name"], o["friendly_text"]) == ("emoticon", "Test")


def test_msnp18_ddp_msnobject_in_personal_data():
    from msnsniff.protocol.xmlpayload import parse_data
    d = parse_data(b'<Data><PSM>x</PSM><CurrentMedia></CurrentMedia><DDP>&lt;msnobj '
                   b'Creator="a@b.c" Size="10" Type="7" Location="0" Friendly="AAA=" '
                   b'SHA1D="abc="/&gt;</DDP></Data>')
    assert d.msnobj is not None
    assert (d.msnobj["ddp"]["type_name"], d.msnobj["ddp"]["creator"],
            d.msnobj["ddp"]["size"]) == ("dynamic picture", "a@b.c", 10)


def test_name_positions_of_group_and_contact_commands_in_every_dialect():
    """Where `commands`, `follow` and `anonymise` find a name (they were off for MSNP10+
    LSG/ADG/REG, the client's ADD and a BPR with no value: a GUID was taken for a name)."""
    from msnsniff.protocol.tables import display_params, text_arg_indexes
    guid = "6a2b14c0-5b7e-4b2e-9a51-0d3f5e1a2b03"
    cases = [("LSG", ["Amis%20Été", guid], (0,)), ("LSG", ["0", "Work", "0"], (1,)),
             ("ADG", ["11", "Famille", guid, "0"], (1,)), ("ADG", ["11", "Famille", "0"], (1,)),
             ("ADG", ["11", "5", "Famille", "12", "0"], (2,)),
             ("REG", ["12", "1", "Famille%20Proche", guid, "0"], (2,)),
             ("REG", ["12", "5", "3", "New%20Name", "0"], (3,)),
             ("ADD", ["10", "FL", "nobody@hotmail.com", "nobody", "0"], (3,)),
             ("ADD", ["10", "FL", "12", "bob@hotmail.com", "Bob"], (4,)),
             ("BPR", ["dave@example.com", "PHH"], ()),
             ("BPR", ["dave@example.com", "PHH", "555%201234"], (2,)), ("BPR", ["PHH", "5"], (1,))]
    for verb, params, want in cases:
        assert text_arg_indexes(verb, params, 13) == want, (verb, params)
    assert display_params("LSG", ["Amis%20Été", guid]) == ["Amis Été", guid]


# events that are not the decoder's reading of the command just framed
_NOT_DECODED = ("P2PPart", "Anomaly", "GatewayExchange")


def _decoded_strings(evs) -> set:
    import dataclasses
    return {v for e in evs if type(e).__name__ not in _NOT_DECODED
            for v in (getattr(e, f.name) for f in dataclasses.fields(e)) if isinstance(v, str)}


@pytest.mark.parametrize("name", sorted(os.path.basename(p) for p in glob.glob(cap("*.pcap*"))))
def test_the_trace_decodes_the_arguments_the_decoder_decodes(name):
    """`commands`, `follow` and `anonymise` take names from protocol/tables.text_arg_indexes;
    the decoder reads each command by its own shape.  On every sample capture, every
    URL-encoded argument is decoded by both or by neither: an argument the decoder's
    events hold decoded is one the table names, and a name the table decodes is in the
    events the decoder made of that command (when it made any)."""
    from msnsniff.engine.analyze import Run
    from msnsniff.events import DialectKnown, Framed
    from msnsniff.protocol.tables import text_arg_indexes, url_decode
    from msnsniff.stream.framing import RawCommand
    versions: dict = {}
    cur: dict = {}          # connection -> (command, dialect, events after it)
    disagree, checked = [], 0

    def settle(conn):
        nonlocal checked
        if conn not in cur:
            return
        cmd, ver, evs = cur.pop(conn)
        vals = _decoded_strings(evs)
        idx = text_arg_indexes(cmd.verb, cmd.params, ver)
        for i, p in enumerate(cmd.params):
            raw = p[2:] if p[:2] == "F=" else p         # MSNP10+ keyed: the name after F=
            d = url_decode(raw)
            if d == raw:
                continue
            checked += 1
            if (i in idx) != (d in vals) and (i not in idx or vals):
                disagree.append((cmd.verb, cmd.params, i, ver, i in idx))

    for ev in Run([cap(name)], trace=True).events():
        if type(ev) is DialectKnown:
            versions[ev.conn] = ev.version
        if type(ev) is Framed:
            settle(ev.conn)
            if isinstance(ev.item, RawCommand):
                cur[ev.conn] = (ev.item, versions.get(ev.conn), [])
        elif getattr(ev, "conn", None) in cur:
            cur[ev.conn][2].append(ev)
    for conn in list(cur):
        settle(conn)
    assert disagree == []
    if name in ("msnp_dialects.pcap", "msnp8_session.pcap", "fidelity.pcap"):
        assert checked > 0          # (these hold escaped names: the check ran)
