"""Notification-server sessions: exact values from the real-socket captures."""

from conftest import by, one

MAIN = "msnp8_session.pcap"


def alice_ns(d):
    return one(d["sessions"], kind="notification", passport="alice@hotmail.com")


def test_dispatch_redirect_is_linked(doc):
    d = doc(MAIN)
    ds = one(d["sessions"], kind="dispatch")
    ns = alice_ns(d)
    assert ds["passport"] == "alice@hotmail.com"
    assert ds["redirected_to"] == "127.0.0.2:1863" == ns["server"]
    assert ds["redirected_to_session"] == ns["id"] and ns["redirected_from_session"] == ds["id"]
    assert ds["client"].split(":")[0] == ns["client"].split(":")[0] == "127.0.0.10"


def test_login(doc):
    ns = alice_ns(doc(MAIN))
    assert ns["protocol"] == "MSNP8" and ns["versions_offered"] == ["MSNP8", "CVR0"]
    assert (ns["client_name"], ns["client_version"], ns["locale"], ns["os"]) == (
        "MSNMSGR", "5.0.0544", "0x0409", "winnt 5.1 i386")
    assert ns["login"] == "ok" and ns["auth_method"] == "TWN"
    assert ns["verified"] == "1" and ns["extra_flag"] == "0"
    assert ns["policy"].startswith("lc=1033,id=507,tw=40")
    assert ns["ticket"].startswith("t=5QZGIz7mc8aa2Bbl0aPpmB3YnnJ1DEOTdvSJ2Nu0q")
    # friendly name at login was "Alice Liddell ✿" (URL-encoded UTF-8); REA changed it later
    assert ns["friendly_name"] == "Alice in Wonderland"
    assert ns["logout"]["by"] == "client"


def test_friendly_name_at_login_is_utf8(doc):
    from conftest import cap

    from msnsniff.engine.analyze import Run
    from msnsniff.events import LoginOk
    names = [e.friendly_name for e in Run([cap(MAIN)]).events() if isinstance(e, LoginOk)]
    assert names == ["Alice Liddell ✿", "Bob", "Carol ♥"]


def test_profile_corrected_port_matches_observed_source_port(doc):
    for s in by(doc(MAIN)["sessions"], kind="notification"):
        p = s["profile"]
        observed = int(s["client"].rsplit(":", 1)[1])
        assert p["client_port"] == observed
        assert p["client_port_reported"] == ((observed & 0xFF) << 8) | (observed >> 8)
        assert p["port_byteswapped"] is True and p["nat"] is False
        assert p["client_ip_reported"] == s["client"].rsplit(":", 1)[0]
        assert p["headers"]["MemberIdLow"] == "-1434251981"
        assert p["headers"]["preferredEmail"] == s["passport"]
    alice = alice_ns(doc(MAIN))
    assert alice["profile"]["client_port"] == 52677
    assert alice["profile"]["client_port_reported"] == 50637


def test_revival_server_plain_port(doc):
    dave = one(doc("compat_failures.pcap")["sessions"], passport="dave@hotmail.com")
    p = dave["profile"]
    assert p["client_port_reported"] == p["client_port"] == int(dave["client"].rsplit(":", 1)[1])
    assert p["port_byteswapped"] is False and p["nat"] is False


def test_contact_list(doc):
    d = doc(MAIN)
    ns = alice_ns(d)
    assert ns["syn"] == {"client_version": 0, "version": 42, "contacts_declared": 4,
                         "groups_declared": 3}
    assert ns["list_version"] == 47            # after ADD/ADG/REM/REA/ADD 0 RL
    assert ns["settings"] == {"GTC": "A", "BLP": "AL"}
    assert ns["phones"] == {"PHH": "555 1234", "MOB": "Y"}
    contacts = {c["passport"]: c for c in by(d["contacts"], session=ns["id"])}
    assert sorted(contacts) == ["bob@hotmail.com", "carol@hotmail.com", "dave@hotmail.com",
                                "eve@hotmail.com", "frank@hotmail.com", "gina@hotmail.com"]
    bob, carol = contacts["bob@hotmail.com"], contacts["carol@hotmail.com"]
    assert (bob["list_bits"], bob["lists"], bob["groups"]) == (11, ["FL", "AL", "RL"], ["1"])
    assert bob["phones"] == {"PHM": "555 9876", "MOB": "Y"}          # BPR after its LST
    assert carol["friendly_name"] == "Carol ♥"
    assert (carol["groups"], carol["group_names"]) == (["1", "2"], ["Friends", "Família"])
    assert contacts["dave@hotmail.com"]["lists"] == ["AL", "RL"]
    assert contacts["eve@hotmail.com"]["list_bits"] == 8             # REM BL took 4 off 12
    assert contacts["frank@hotmail.com"]["lists"] == ["FL"]          # ADD FL
    assert contacts["gina@hotmail.com"]["lists"] == ["RL"]           # ADD 0 RL (by server)
    groups = {g["group_id"]: g["name"] for g in by(d["groups"], session=ns["id"])}
    assert groups == {"0": "Other Contacts", "1": "Friends", "2": "Família",
                      "3": "Work"}     # group ids are text in every dialect
    changes = [(c["op"], c["list"], c["passport"], c["version"], c["by_server"])
               for c in by(d["list_changes"], session=ns["id"])]
    assert changes == [("ADD", "FL", "frank@hotmail.com", 43, False),
                       ("ADG", None, None, 44, False),
                       ("REM", "BL", "eve@hotmail.com", 45, False),
                       ("REA", None, "alice@hotmail.com", 46, False),
                       ("ADD", "RL", "gina@hotmail.com", 47, True)]


def test_presence_and_client_ids(doc):
    d = doc(MAIN)
    ns = alice_ns(d)
    rows = [(p["command"], p["passport"], p["status"], p["client_id"], p["msnc_version"])
            for p in by(d["presence"], session=ns["id"])]
    assert rows == [("CHG", "alice@hotmail.com", "NLN", 0, 0),
                    ("ILN", "bob@hotmail.com", "NLN", 268435492, 1),
                    ("ILN", "carol@hotmail.com", "AWY", 1073856572, 4),
                    ("NLN", "bob@hotmail.com", "BSY", 268435492, 1),
                    ("FLN", "carol@hotmail.com", "FLN", None, None)]
    carol = one(d["presence"], session=ns["id"], command="ILN", passport="carol@hotmail.com")
    assert carol["capabilities"] == ["ink (GIF)", "ink (ISF)", "webcam", "multi-packet messaging",
                                     "direct-connect IM", "winks", "shared search"]
    assert carol["status_name"] == "Away" and carol["friendly_name"] == "Carol ♥"


def test_challenges_valid_and_invalid(doc):
    ok = one(doc(MAIN)["challenges"])
    assert (ok["challenge"], ok["product_id"], ok["response"], ok["valid"], ok["accepted"]) == (
        "15570131571988941333", "msmsgs@msnmsgr.com", "8f2f5a91b72102cd28355e9fc9000d6e", True, True)
    bad = one(doc("compat_failures.pcap")["challenges"])
    assert (bad["challenge"], bad["product_id"], bad["valid"], bad["accepted"]) == (
        "22210219642164014968", "PROD0038W!61ZTF9", False, False)


def test_unknown_product_id_gives_null():
    from msnsniff.protocol.challenge import verify
    assert verify("123", "PROD9999XXXXXXXX", "abc") is None
    assert verify("15570131571988941333", "PROD0038W!61ZTF9",
                  "ca90e6a7c94a14aae7b3ae0f6018433e") is True


def test_errors_and_failed_login(doc):
    d = doc("compat_failures.pcap")
    errs = [(e["owner"], e["code"], e["name"], e["trid"], e["request"]) for e in d["errors"]]
    assert errs == [("mallory@hotmail.com", 911, "Authentication failed", 4, "USR"),
                    ("dave@hotmail.com", 540, "Challenge response failed", 5, "QRY")]
    mallory = one(d["sessions"], passport="mallory@hotmail.com")
    assert mallory["login"] == "failed" and mallory["login_error"] == "911 Authentication failed"


def test_msnp7_md5_login_and_later_extras(doc):
    d = doc("compat_failures.pcap")
    old = one(d["sessions"], passport="old@hotmail.com")
    assert old["protocol"] == "MSNP7" and old["auth_method"] == "MD5" and old["login"] == "ok"
    assert old["versions_offered"] == ["MSNP9", "MSNP8", "MSNP7", "CVR0"]
    assert old["friendly_name"] == "Old Timer"
    assert old["logout"] == {"by": "server", "reason": "OTH", "meaning": "signed in elsewhere",
                             "time": old["logout"]["time"]}
    # UBX's payload did not desynchronise the stream: the NLN after it is decoded
    nln = one(d["presence"], session=old["id"])
    assert (nln["passport"], nln["status"], nln["msnc_version"]) == ("bob@hotmail.com", "AWY", 5)
    assert not [a for a in d["anomalies"] if a["session"] == old["id"]]


def test_hotmail_and_other_notifications(doc):
    d = doc(MAIN)
    ns = alice_ns(d)
    rows = [(n["command"], n["what"]) for n in by(d["notifications"], session=ns["id"])]
    assert rows == [("MSG", "initial e-mail status"), ("PNG", "ping"), ("QNG", "ping reply"),
                    ("URL", "service URL"), ("URL", "service URL"),
                    ("XFR", "switchboard granted")]
    mail = one(d["notifications"], session=ns["id"], command="MSG")
    assert mail["fields"]["Inbox-Unread"] == "3" and mail["owner"] == "alice@hotmail.com"
    xfr = one(d["notifications"], session=ns["id"], command="XFR")
    assert xfr["fields"] == {"address": "127.0.0.3:1864", "cookie": "17262740.1062764410.32308"}
    bob_ns = one(d["sessions"], kind="notification", passport="bob@hotmail.com")
    rng = one(d["notifications"], session=bob_ns["id"], command="RNG")
    assert rng["summary"] == ("alice@hotmail.com (Alice in Wonderland) invites to switchboard "
                              "session 11752013 at 127.0.0.3:1864")
    assert ns["server_versions"]["recommended"] == "5.0.0544"
    assert ns["server_versions"]["minimum"] == "1.0.0863"


def test_mid_session_capture_still_has_list_and_presence(doc):
    d = doc("mid_session.pcap")
    ns = [s for s in d["sessions"] if s["kind"] == "notification" and s["client"].startswith("127.0.0.10:")]
    assert len(ns) == 1 and ns[0]["login"] is None
    assert ns[0]["passport"] == "alice@hotmail.com" and ns[0]["owner_from"] == "client address"
    contacts = {c["passport"]: c["lists"] for c in by(d["contacts"], session=ns[0]["id"])}
    assert contacts == {"dave@hotmail.com": ["AL", "RL"], "eve@hotmail.com": ["RL"],
                        "frank@hotmail.com": ["FL"], "gina@hotmail.com": ["RL"]}
    pres = [(p["command"], p["passport"]) for p in by(d["presence"], session=ns[0]["id"])]
    assert ("ILN", "bob@hotmail.com") in pres and ("FLN", "carol@hotmail.com") in pres
    # the cut line at the start is reported, not dropped
    und = one(d["anomalies"], kind="undecodable")
    assert und["session"] == ns[0]["id"] and und["length"] == 41


def test_syn_shortfall_in_a_truncated_capture_is_reported(tmp_path):
    """Cut the real capture right after the packet holding the first half of the SYN
    reply: 4 contacts announced, 1 received (and the cut line reported)."""
    from conftest import cut_after

    from msnsniff.engine.analyze import analyse
    p = cut_after(tmp_path, b"SYN 8 42 4 3")
    d = analyse([str(p)])
    mism = one(d["anomalies"], kind="count mismatch")
    assert mism["detail"] == "SYN announced 4 contacts and 3 groups; received 1 and 3"
    assert [c["passport"] for c in d["contacts"]] == ["bob@hotmail.com"]
    assert one(d["anomalies"], kind="undecodable")["detail"] == (
        "7 bytes incomplete at end of stream: b'LST car'")


def test_profile_port_readings_edge_cases():
    """A port whose two bytes are equal reads the same both ways (cannot tell); a
    different address is NAT whatever the port (real servers sent ClientPort 0 over plain
    TCP); the same address with ClientPort 0 cannot tell."""
    from msnsniff import events as E
    from msnsniff.events import ConnectionOpened
    from msnsniff.model import Analysis

    def profile(client, ip, port):
        a = Analysis()
        a.apply(ConnectionOpened(0.0, 1, -1, client, "10.0.0.2:1863", 0.0))
        a.apply(E.Profile(1.0, 1, 1, {"ClientIP": ip, "ClientPort": str(port)}))
        return a.sessions[1].ns.profile
    p = profile("10.0.0.1:23130", "10.0.0.1", 23130)                 # 0x5A5A
    assert (p["port_byteswapped"], p["client_port"], p["nat"]) == (None, 23130, False)
    p = profile("192.168.1.5:3407", "203.0.113.7", 20237)            # reference §11.2
    assert (p["port_byteswapped"], p["client_port"], p["nat"]) == (True, 3407, True)
    p = profile("192.168.1.5:50000", "203.0.113.7", 1234)
    assert (p["port_byteswapped"], p["client_port"], p["nat"]) == (None, 53764, True)
    p = profile("10.0.0.1:40000", "10.0.0.1", 0)
    assert (p["port_byteswapped"], p["nat"]) == (None, None)
    p = profile("192.168.1.5:40000", "203.0.113.7", 0)
    assert (p["port_byteswapped"], p["client_port"], p["nat"]) == (None, 0, True)


def test_rows_leave_before_a_long_connection_closes():
    """A notification session lasts as long as the user is signed in (hours in a live
    run): its presence rows must not wait for the close."""
    import msnsniff.model as M
    from msnsniff import events as E
    from msnsniff.events import ConnectionOpened
    got = []
    a = M.Analysis(sink=lambda t, r: got.append((t, r.get("passport"), r.get("owner"))))
    a.apply(ConnectionOpened(0.0, 1, -1, "10.0.0.1:4000", "10.0.0.2:1863", 0.0))
    a.apply(E.Presence(1.0, 1, 1, "NLN", "bob@x.com", "AWY", "Bob", 0))      # owner not yet known
    assert got == []
    a.apply(E.LoginOk(2.0, 1, 1, "al@x.com", "Al", "1", "0"))
    a.apply(E.Presence(3.0, 1, 1, "NLN", "eve@x.com", "NLN", "Eve", 0))
    assert got == [("presence", "bob@x.com", "al@x.com"), ("presence", "eve@x.com", "al@x.com")]
    # before an owner is known at most max_waiting_rows wait; then they leave anyway
    from msnsniff.config import Limits
    a.limits = Limits(max_waiting_rows=3)
    got.clear()
    a.apply(ConnectionOpened(0.0, 2, -1, "10.0.0.9:4000", "10.0.0.2:1863", 0.0))
    for i in range(4):
        a.apply(E.Presence(4.0, 2, 1, "NLN", f"c{i}@x.com", "NLN", None, None))
    assert [r[1] for r in got] == ["c0@x.com", "c1@x.com", "c2@x.com", "c3@x.com"]


def test_every_handler_is_in_the_written_out_tables_and_every_verb_is_a_known_ns_verb():
    """decoder/ns.py lists its handlers by verb (no dir() scan): a c_/s_ method left out
    of the table would never run, and a verb the table has but protocol/tables.NS_VERBS
    lacks would never reach it (framing and classification read NS_VERBS)."""
    from msnsniff.decoder.ns import _CLIENT, _SERVER, NsDecoder
    from msnsniff.protocol.tables import NS_VERBS
    for prefix, table in (("c_", _CLIENT), ("s_", _SERVER)):
        methods = {n[2:] for n in dir(NsDecoder) if n.startswith(prefix)}
        assert set(table) == methods, prefix
        assert all(table[v] is getattr(NsDecoder, prefix + v) for v in table)
    assert set(_CLIENT) | set(_SERVER) <= NS_VERBS
