"""Scenarios for MSNP10-18 (captures/msnp_dialects.pcap), played over real loopback
sockets by make_captures.py and captured by tcpdump.

Every server line is shaped as a revival server writes it for that dialect (read from
subpurple/escargot, front/msn/msnp_ns.py, msnp_sb.py and misc.py): arguments a dialect
drops are left out (so MSNP10+ replies carry no list version), an empty group field
leaves a trailing space, friendly names are %-escaped UTF-8, MSNObjects are URL-encoded.
Clients: alice10 (MSNP10, 127.0.0.20), alice11 (MSNP11, .21), alice12 and bob12 (MSNP12
with a switchboard chat, .22/.26), alice15 (MSNP15, SSO, ADL, .23) and alice18 on two
machines (MSNP18, MPOP, .24/.25) with a switchboard of two endpoints of bob.
captures/README.md lists what a decoder must find.
"""

from __future__ import annotations

import base64

from make_captures import NS, SB, connect, listen, mime, msg, talk, typing

TS = "2000-01-01T00:00:00.0-00:00"          # the SYN timestamps revival servers send
G_AMIS = "6a2b14c0-5b7e-4b2e-9a51-0d3f5e1a2b01"
G_TRAVAIL = "6a2b14c0-5b7e-4b2e-9a51-0d3f5e1a2b02"
G_FAMILLE = "6a2b14c0-5b7e-4b2e-9a51-0d3f5e1a2b03"
C_BOB = "00000000-0000-0000-0002-000000000b0b"
C_CAROL = "00000000-0000-0000-0002-0000000ca201"
C_FRANK = "00000000-0000-0000-0002-00000000f4a4"
MG_A1 = "{8F3C5A31-2B7E-4A1C-9E5D-1A2B3C4D5E61}"    # alice18's two machines
MG_A2 = "{8F3C5A31-2B7E-4A1C-9E5D-1A2B3C4D5E62}"
MG_B1 = "{1B0B0B0B-1111-4A1C-9E5D-0000000000B1}"    # bob's two machines
MG_B2 = "{1B0B0B0B-2222-4A1C-9E5D-0000000000B2}"
CIRCLE = "9:00000000-0000-0000-0009-000000000001@live.com"
MSNOBJ = ('<msnobj Creator="bob@example.com" Size="4908" Type="3" Location="TFR2C2.tmp" '
          'Friendly="AAA=" SHA1D="trC8SlFx2sWQxZMIBAWSEnXc8oQ=" '
          'SHA1C="U32o6bosZzluJq82eAtMpx5dIEI="/>')


def q(s: str) -> str:
    """As the server writes an argument: % and space escaped, UTF-8 kept."""
    return s.replace("%", "%25").replace(" ", "%20")


def urlenc(s: str) -> str:
    from urllib.parse import quote
    return quote(s, safe="")


def pay(src, dst, head: str, payload: bytes):
    """A payload command: ``head len`` CRLF payload."""
    msg(src, dst, head, payload)


def profile(c, s, passport, mpop=None):
    fields = [("LoginTime", "1062764229"), ("EmailEnabled", "0"), ("MemberIdHigh", "3"),
              ("MemberIdLow", "1234"), ("lang_preference", "1033"), ("preferredEmail", ""),
              ("country", ""), ("Kid", "0"), ("Flags", "536872513"), ("sid", "507"),
              ("MSPAuth", "Y6+H31sTUOFkqjNTDYqAAFLr5Ote7BMrMnUIzpg860jh084QMgs5djRQLLQP0TVOFkKdWDwAJdE"
                          "WcfsI9YL8otN9kSfhTaPHR1njHmG0H98O2NE$$"),
              ("ClientIP", c.s.getsockname()[0]), ("ClientPort", str(c.port)),
              ("ABCHMigrated", "1")]
    if mpop is not None:
        fields.append(("MPOPEnabled", mpop))
    msg(s, c, "MSG Hotmail Hotmail", mime("text/x-msmsgsprofile; charset=UTF-8", fields))


def cvr(c, s, trid, passport, version):
    talk(c, s, f"CVR {trid} 0x0409 winnt 5.1 i386 MSNMSGR {version} MSMSGS {passport}")
    talk(s, c, f"CVR {trid} {version} {version} {version} https://example.invalid "
               "https://example.invalid")


def twn_login(c, s, passport, dialect, version):
    talk(c, s, f"VER 1 MSNP{dialect} MSNP{dialect - 1} CVR0")
    talk(s, c, f"VER 1 MSNP{dialect}")
    cvr(c, s, 2, passport, version)
    talk(c, s, f"USR 3 TWN I {passport}")
    talk(s, c, "USR 3 TWN S ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1")
    talk(c, s, "USR 4 TWN S t=1Xr0HuQ7wjK9aF3e2bZtY8mQ&p=Pk9LmN2oPq")
    talk(s, c, f"USR 4 OK {passport} 1 0")


def sso_login(c, s, passport, dialect, machine_guid=None):
    talk(c, s, f"VER 1 MSNP{dialect} CVR0")
    talk(s, c, f"VER 1 MSNP{dialect}")
    cvr(c, s, 2, passport, "14.0.8117.0416" if dialect >= 18 else "8.5.1302")
    talk(c, s, f"USR 3 SSO I {passport}")
    policy = (b'<Policies><Policy type="SHIELDS" checksum="D9705A71BA841CB38955822E048970C3">'
              b'<config><shield><cli maj="7" min="0" minbld="0" maxbld="9999" deny=" " />'
              b'</shield><block></block></config></Policy><Policy type="ABCH" '
              b'checksum="03DC55910A9CB79133F1576221A80346"><policy /></Policy></Policies>')
    pay(s, c, "GCF 0", policy)
    nonce = "Nc6hQ3vY0pPzLwHnUjBk5RmTqXaE2sDfGiOl8J7Kc9Vb1ZxYw4Ut3Sr6Qp0OnMiL"
    talk(s, c, f"USR 3 SSO S MBI_KEY_OLD {nonce}")
    response = base64.b64encode(b"\x1c\x00\x00\x00\x01\x00\x00\x00\x03f\x00\x00"
                                + bytes(range(60))).decode()
    extra = f" {machine_guid}" if machine_guid else ""
    talk(c, s, f"USR 4 SSO S t=EwCoARAnAAAUWkziSC7kN5fyvl3Dk3Sl0wkbEB&p= {response}{extra}")
    talk(s, c, f"USR 4 OK {passport} 1 0")
    talk(s, c, "SBS 0 null")


def data_xml(psm, media="", extra=""):
    return (f"<Data><PSM>{psm}</PSM><CurrentMedia>{media}</CurrentMedia>{extra}</Data>"
            ).encode("utf-8")


# ---------------------------------------------------------------- MSNP10
def msnp10(ns_l):
    c, s = connect(ns_l, "127.0.0.20", "p10")
    twn_login(c, s, "alice10@example.com", 10, "6.2.0208")
    profile(c, s, "alice10@example.com")
    talk(c, s, f"SYN 5 {TS} {TS}")
    for line in [f"SYN 5 {TS} {TS} 3 2", "GTC A", "BLP AL", f"PRP MFN {q('Alice Été')}",
                 "PRP PHH 555%201234", f"LSG {q('Amis Été')} {G_AMIS}",
                 f"LSG Travail {G_TRAVAIL}",
                 f"LST N=bob@example.com F={q('Bob Ñandú')} C={C_BOB} 19 {G_AMIS}",
                 "BPR PHM 555%209876",
                 f"LST N=carol@example.com F=Carol C={C_CAROL} 11 {G_AMIS},{G_TRAVAIL}",
                 "LST N=dave@example.com F=dave@example.com 10 "]:
        talk(s, c, line)
    talk(c, s, "CHG 6 NLN 1342177280")
    talk(s, c, "CHG 6 NLN 1342177280")
    talk(s, c, f"ILN 6 NLN bob@example.com {q('Bob Ñandú')} 1342177280 %3Cmsnobj%2F%3E")
    talk(c, s, "ADC 7 FL N=frank@example.com F=frank@example.com")
    talk(s, c, f"ADC 7 FL N=frank@example.com F=frank@example.com C={C_FRANK}")
    talk(c, s, f"ADC 8 FL C={C_FRANK} {G_TRAVAIL}")
    talk(s, c, f"ADC 8 FL C={C_FRANK} {G_TRAVAIL}")
    talk(c, s, "ADC 9 AL N=frank@example.com")
    talk(s, c, "ADC 9 AL N=frank@example.com")
    talk(c, s, f"REM 10 FL {C_CAROL} {G_TRAVAIL}")
    talk(s, c, f"REM 10 FL {C_CAROL} {G_TRAVAIL}")
    talk(c, s, "ADG 11 Famille")
    talk(s, c, f"ADG 11 Famille {G_FAMILLE} 0")
    talk(c, s, f"REG 12 {G_FAMILLE} Famille%20Proche")
    talk(s, c, f"REG 12 1 Famille%20Proche {G_FAMILLE} 0")
    talk(c, s, f"RMG 13 {G_FAMILLE}")
    talk(s, c, f"RMG 13 1 {G_FAMILLE}")
    talk(c, s, "BLP 14 BL")
    talk(s, c, "BLP 14 BL")
    talk(c, s, f"PRP 15 MFN {q('Alice in Wonderland')}")
    talk(s, c, f"PRP 15 MFN {q('Alice in Wonderland')}")
    talk(c, s, f"SBP 16 {C_BOB} MFN {q('Bobby')}")
    talk(s, c, f"SBP 16 {C_BOB} MFN {q('Bobby')}")
    talk(s, c, "ADC 0 RL N=gina@example.com F=Gina")
    talk(s, c, f"NLN AWY bob@example.com {q('Bob Ñandú')} 1342177280 %3Cmsnobj%2F%3E")
    talk(s, c, "FLN bob@example.com")
    talk(c, s, "OUT")
    c.close(); s.close()


# ---------------------------------------------------------------- MSNP11
def msnp11(ns_l):
    c, s = connect(ns_l, "127.0.0.21", "p11")
    twn_login(c, s, "alice11@example.com", 11, "7.0.0813")
    talk(s, c, "SBS 0 null")
    profile(c, s, "alice11@example.com")
    talk(c, s, f"SYN 5 {TS} {TS}")
    for line in [f"SYN 5 {TS} {TS} 1 0", "GTC A", "BLP AL", "PRP MFN Alice%20Onze",
                 f"LST N=bob@example.com F=Bob C={C_BOB} 11 "]:
        talk(s, c, line)
    talk(c, s, "GCF 6 Shields.xml")
    shields = (b'<?xml version="1.0" encoding="utf-8" ?><config><shield><cli maj="7" '
               b'min="0" minbld="0" maxbld="9999" deny=" " /></shield><block></block></config>')
    pay(s, c, "GCF 6 Shields.xml", shields)
    media = "\\0Music\\01\\0{0} - {1}\\0Seven Nation Army\\0The White Stripes\\0Elephant\\0\\0"
    pay(c, s, "UUX 7", data_xml("En réunion ☕ ça", media))
    talk(s, c, "UUX 7 0")
    talk(c, s, "CHG 8 NLN 1342177280")
    talk(s, c, "CHG 8 NLN 1342177280")
    talk(s, c, "ILN 8 NLN bob@example.com Bob 1342177280 %3Cmsnobj%2F%3E")
    pay(s, c, "UBX bob@example.com", data_xml("Parti &amp; revenu &lt;3"))
    from msnsniff.protocol.challenge import msnp11_answer
    chl = "22210219642164014968"
    talk(s, c, f"CHL 0 {chl}")
    good = msnp11_answer(chl, "PROD0090YUAUV{2B", "YMM8C_H7KCQ2S_KL").encode()
    talk(c, s, "", raw=b"QRY 9 PROD0090YUAUV{2B 32\r\n" + good)
    talk(s, c, "QRY 9")
    chl2 = "51246793108421367522"
    talk(s, c, f"CHL 0 {chl2}")
    talk(c, s, "", raw=b"QRY 10 PROD0090YUAUV{2B 32\r\n" + b"0123456789abcdef" * 2)
    talk(s, c, "540 10")
    talk(c, s, "OUT")
    c.close(); s.close()


# ---------------------------------------------------------------- MSNP12 + switchboard
def msnp12(ns_l, sb_l):
    a, an = connect(ns_l, "127.0.0.22", "p12a")
    twn_login(a, an, "alice12@example.com", 12, "7.5.0324")
    talk(an, a, "SBS 0 null")
    profile(a, an, "alice12@example.com")
    talk(a, an, f"SYN 5 {TS} {TS}")
    for line in [f"SYN 5 {TS} {TS} 2 1", "GTC A", "BLP AL", "PRP MFN Alice%20Douze",
                 f"LSG Amis {G_AMIS}",
                 f"LST N=bob@example.com F={q('Bob Ñandú')} C={C_BOB} 11 1 {G_AMIS}",
                 "LST N=erin@yahoo.com F=Erin 2 32 "]:
        talk(an, a, line)
    talk(a, an, "CHG 6 NLN 1342177312")
    talk(an, a, "CHG 6 NLN 1342177312")
    b, bn = connect(ns_l, "127.0.0.26", "p12b")
    twn_login(b, bn, "bob@example.com", 12, "7.5.0324")
    talk(b, bn, "CHG 5 NLN 1342177312")
    talk(bn, b, "CHG 5 NLN 1342177312")
    talk(a, an, "XFR 7 SB")
    talk(an, a, f"XFR 7 SB {SB[0]}:{SB[1]} CKI 1043721593.84512.12")
    sa, ss = connect(sb_l, "127.0.0.22", "p12sb-a")
    talk(sa, ss, "USR 1 alice12@example.com 1043721593.84512.12")
    talk(ss, sa, "USR 1 OK alice12@example.com Alice%20Douze")
    talk(sa, ss, "CAL 2 bob@example.com")
    talk(ss, sa, "CAL 2 RINGING 12120001")
    talk(bn, b, f"RNG 12120001 {SB[0]}:{SB[1]} CKI 887766.1212 alice12@example.com "
                "Alice%20Douze")
    sb_, ssb = connect(sb_l, "127.0.0.26", "p12sb-b")
    talk(sb_, ssb, "ANS 1 bob@example.com 887766.1212 12120001")
    talk(ssb, sb_, "IRO 1 1 1 alice12@example.com Alice%20Douze 1342177312")
    talk(ssb, sb_, "ANS 1 OK")
    talk(ss, sa, f"JOI bob@example.com {q('Bob Ñandú')} 1342177312")

    def say(src, srv, trid, payload, dst, dsrv, sender, name):
        msg(src, srv, f"MSG {trid} N", payload)
        msg(dsrv, dst, f"MSG {sender} {name}", payload)

    say(sa, ss, 3, typing("alice12@example.com"), sb_, ssb, "alice12@example.com",
        "Alice%20Douze")
    hello = mime("text/plain; charset=UTF-8", [("X-MMS-IM-Format",
                 "FN=Segoe%20UI; EF=; CO=0; CS=0; PF=0"), ("P4-Context", "Alice au bureau")],
                 "Ça va ? 😀 Überraschung")
    say(sa, ss, 4, hello, sb_, ssb, "alice12@example.com", "Alice%20Douze")
    nudge = mime("text/x-msnmsgr-datacast", body="ID: 1\r\n\r\n")
    say(sb_, ssb, 2, nudge, sa, ss, "bob@example.com", q("Bob Ñandú"))
    emo = mime("text/x-mms-emoticon", body="(cafe)\t" + urlenc(MSNOBJ) + "\t")
    say(sb_, ssb, 3, emo, sa, ss, "bob@example.com", q("Bob Ñandú"))
    reply = mime("text/plain; charset=UTF-8", [("X-MMS-IM-Format", "FN=Arial; EF=B; CO=ff; CS=0; PF=0")],
                 "Très bien (cafe) — et toi ?")
    say(sb_, ssb, 4, reply, sa, ss, "bob@example.com", q("Bob Ñandú"))
    talk(sb_, ssb, "OUT")
    sb_.close(); ssb.close()
    talk(ss, sa, "BYE bob@example.com")
    talk(sa, ss, "OUT")
    sa.close(); ss.close()
    talk(a, an, "OUT")
    talk(b, bn, "OUT")
    for x in (a, an, b, bn):
        x.close()


# ---------------------------------------------------------------- MSNP15
def msnp15(ns_l):
    c, s = connect(ns_l, "127.0.0.23", "p15")
    sso_login(c, s, "alice15@example.com", 15)
    profile(c, s, "alice15@example.com")
    talk(c, s, "BLP 5 AL")
    talk(s, c, "BLP 5 AL")
    adl = (b'<ml l="1"><d n="example.com"><c n="bob" l="3" t="1"/><c n="carol" l="11" t="1"/>'
           b'</d><d n="yahoo.com"><c n="erin" l="1" t="32"/></d></ml>')
    pay(c, s, "ADL 6", adl)
    talk(s, c, "ADL 6 OK")
    talk(c, s, "PRP 7 MFN Alice%20Quinze")
    talk(s, c, "PRP 7 MFN Alice%20Quinze")
    talk(c, s, f"CHG 8 NLN 2789003324 {urlenc(MSNOBJ.replace('bob@', 'alice15@'))}")
    talk(s, c, f"CHG 8 NLN 2789003324 {urlenc(MSNOBJ.replace('bob@', 'alice15@'))}")
    talk(s, c, f"ILN 8 NLN bob@example.com 1 {q('Bob Ñandú')} 2789003324 {urlenc(MSNOBJ)}")
    talk(s, c, "ILN 8 AWY erin@yahoo.com 32 Erin 0 %3Cmsnobj%2F%3E")
    pay(s, c, "UBX bob@example.com 1", data_xml("Quinze &amp; demi",
                                               extra="<MachineGuid>{B0B}</MachineGuid>"))
    pay(c, s, "UUX 9", data_xml("Disponible"))
    talk(s, c, "UUX 9 0")
    pay(s, c, "ADL 0", b'<ml><d n="example.com"><c n="gina" t="1" l="8" f="Gina%20G"/></d></ml>')
    pay(c, s, "RML 10", b'<ml><d n="example.com"><c n="carol" l="2" t="1"/></d></ml>')
    talk(s, c, "RML 10 OK")
    fqy = b'<ml><d n="yahoo.com"><c n="erin"/></d></ml>'
    pay(c, s, "FQY 11", fqy)
    pay(s, c, "FQY 11", b'<ml><d n="yahoo.com"><c n="erin" t="32"/></d></ml>')
    talk(c, s, "XFR 12 SB")
    talk(s, c, f"XFR 12 SB {SB[0]}:{SB[1]} CKI 15151515.1515 U messenger.msn.com 1")
    talk(s, c, f"RNG 15000001 {SB[0]}:{SB[1]} CKI 99887766.15 bob@example.com "
               f"{q('Bob Ñandú')} U messenger.hotmail.com 1")
    from msnsniff.protocol.challenge import msnp11_answer
    chl = "11533365622852247127"
    talk(s, c, f"CHL 0 {chl}")
    ans = msnp11_answer(chl, "PROD0118R6%2WYOS", "YIXPX@5I2P0UT*LK").encode()
    talk(c, s, "", raw=b"QRY 13 PROD0118R6%2WYOS 32\r\n" + ans)
    talk(s, c, "QRY 13")
    talk(s, c, "NLN BSY bob@example.com 1 Bob 2789003324 0")
    talk(s, c, "FLN erin@yahoo.com 32 0")
    talk(c, s, "OUT")
    c.close(); s.close()


# ---------------------------------------------------------------- MSNP18, two machines
def msnp18(ns_l, sb_l):
    conns = []
    for ip, guid, ep in (("127.0.0.24", MG_A1, "HOME-PC"), ("127.0.0.25", MG_A2, "LAPTOP")):
        c, s = connect(ns_l, ip, "p18")
        conns += [c, s]
        sso_login(c, s, "alice18@example.com", 18, guid)
        profile(c, s, "alice18@example.com", mpop="1")
        pay(s, c, "UBX 1:alice18@example.com", b"")
        adl = (b'<ml l="1"><d n="example.com"><c n="bob" l="3" t="1"/></d>'
               b'<d n="live.com"><c n="00000000-0000-0000-0009-000000000001" l="1" t="9"/></d></ml>')
        pay(c, s, "ADL 5", adl)
        talk(s, c, "ADL 5 OK")
        uux = data_xml("", extra=f'<PrivateEndpointData id="{guid}"><EpName>{ep}</EpName>'
                                 "<Idle>false</Idle><ClientType>1</ClientType>"
                                 "<State>NLN</State></PrivateEndpointData>")
        pay(c, s, "UUX 6", uux)
        talk(s, c, "UUX 6 0")
        talk(c, s, "CHG 7 NLN 2789003324:48 0")
        talk(s, c, "CHG 7 NLN 2789003324:48 0")
        talk(s, c, "NLN NLN 1:bob@example.com Bob 2789003324:48 %3Cmsnobj%2F%3E")
        ubx = data_xml("Deux machines", extra=(
            f'<EndpointData id="{MG_B1}"><Capabilities>2789003324:48</Capabilities></EndpointData>'
            f'<EndpointData id="{MG_B2}"><Capabilities>2789003324:48</Capabilities></EndpointData>'))
        pay(s, c, "UBX 1:bob@example.com", ubx)
        talk(s, c, f"NLN NLN 1:carol@example.com;via={CIRCLE} Carol 2789003324:48 0")
    c, s = conns[0], conns[1]
    talk(c, s, "XFR 8 SB")
    talk(s, c, f"XFR 8 SB {SB[0]}:{SB[1]} CKI 1818.1818 U messenger.msn.com 1")
    sa, ss = connect(sb_l, "127.0.0.24", "p18sb")
    talk(sa, ss, f"USR 1 alice18@example.com;{MG_A1} 1818.1818")
    talk(ss, sa, f"USR 1 OK alice18@example.com;{MG_A1} Alice%20Dix-huit")
    talk(sa, ss, "CAL 2 bob@example.com")
    talk(ss, sa, "CAL 2 RINGING 18180001")
    talk(ss, sa, f"JOI bob@example.com;{MG_B1} Bob 2789003324:48")
    talk(ss, sa, "JOI bob@example.com Bob 2789003324:48")
    talk(ss, sa, f"JOI bob@example.com;{MG_B2} Bob 2789003324:48")
    hi = mime("text/plain; charset=UTF-8", [("X-MMS-IM-Format", "FN=Segoe%20UI; EF=; CO=0; CS=0; PF=0")],
              "Salut Bob, sur quelle machine es-tu ?")
    msg(sa, ss, "MSG 3 A", hi)
    talk(ss, sa, "ACK 3")
    ans = mime("text/plain; charset=UTF-8", [("X-MMS-IM-Format", "FN=Segoe%20UI; EF=; CO=0; CS=0; PF=0")],
               "Les deux à la fois 🙂")
    msg(ss, sa, "MSG bob@example.com Bob", ans)
    talk(ss, sa, f"BYE bob@example.com;{MG_B2}")
    talk(ss, sa, f"BYE bob@example.com;{MG_B1}")
    talk(ss, sa, "BYE bob@example.com")
    talk(sa, ss, "OUT")
    sa.close(); ss.close()
    for i in (0, 2):
        talk(conns[i], conns[i + 1], "OUT")
    for x in conns:
        x.close()


def scenario_dialects():
    ns_l, sb_l = listen(NS), listen(SB)
    msnp10(ns_l)
    msnp11(ns_l)
    msnp12(ns_l, sb_l)
    msnp15(ns_l)
    msnp18(ns_l, sb_l)
    ns_l.close(); sb_l.close()
