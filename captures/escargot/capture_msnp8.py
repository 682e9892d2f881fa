#!/usr/bin/env python3
"""MSNP8 session against a real Escargot server (127.0.0.1), for escargot_msnp8.pcap.

What it does, as MSN Messenger 5.0 would:
  1. alice and bob each: VER MSNP8 CVR0, CVR, USR TWN I -> the Passport nexus
     (GET /rdr/pprdr.asp) and login (GET /login with "Authorization: Passport1.4 ...")
     over Escargot's plain-HTTP stand-in on :8081 -> USR TWN S <ticket> -> USR OK,
     then Hotmail's profile MSG arrives.
  2. SYN 0, CHG NLN, ADD FL/AL each other, REA (friendly names), PNG.
  3. alice: XFR SB -> USR on the switchboard -> CAL bob; bob gets RNG -> ANS.
  4. chat: typing notification, MSG with X-MMS-IM-Format, reply, a second line each.
  5. both leave the switchboard (OUT), CHG AWY, OUT on the NS.

Usage (any Python 3.8+; no third-party packages):  python3 capture_msnp8.py
Expects a freshly reset Escargot database (reset_db.py): no contacts yet.
"""
import sys
import urllib.parse

from esc_common import HOST, NS_PORT, PASSWORD, Conn, http_get, pause

ALICE = 'alice@example.com'
BOB = 'bob@example.com'
ALICE_NAME = 'Alice Liddell'
BOB_NAME = 'Bob the Builder'

TYPING = 'MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: {}\r\n\r\n\r\n'


def text_msg(text, font='MS%20Sans%20Serif', ef='', co='0', pf='0'):
    return ('MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n'
            f'X-MMS-IM-Format: FN={font}; EF={ef}; CO={co}; CS=0; PF={pf}\r\n\r\n{text}')


def passport_login(email, challenge):
    """The two HTTP requests of a Passport 1.4 (TWN) login, Escargot's plain-HTTP variant."""
    # Nexus: tells the client where DALogin is (Escargot answers with its own host).
    _, hdrs, _ = http_get('/rdr/pprdr.asp', {'User-Agent': 'MSN Messenger'})
    print('nexus PassportURLs:', hdrs.get('PassportURLs'))
    auth = ('Passport1.4 OrgVerb=GET,OrgURL=http%3A%2F%2Fmessenger%2Emsn%2Ecom,'
            f'sign-in={urllib.parse.quote(email)},pwd={PASSWORD},{challenge}')
    _, hdrs, _ = http_get('/login', {'Authorization': auth, 'User-Agent': 'MSN Messenger'})
    info = hdrs['Authentication-Info']
    print('login Authentication-Info:', info)
    return info.split("from-PP='", 1)[1].rstrip("'")


def login(name, email):
    c = Conn(name, HOST, NS_PORT)
    c.send('VER', 'MSNP8', 'CVR0')
    c.expect('VER')
    c.send('CVR', '0x0409', 'winnt', '5.1', 'i386', 'MSNMSGR', '5.0.0544', 'MSMSGS', email)
    c.expect('CVR')
    c.send('USR', 'TWN', 'I', email)
    parts, _ = c.expect('USR')          # USR n TWN S <policy/challenge string>
    ticket = passport_login(email, parts[4])
    c.send('USR', 'TWN', 'S', ticket)
    parts, _ = c.expect('USR')
    assert parts[2] == 'OK', parts
    c.expect('MSG')                     # MSG Hotmail Hotmail n: text/x-msmsgsprofile
    c.drain(0.5)
    return c


def main():
    a = login('alice', ALICE)
    b = login('bob', BOB)
    for c in (a, b):
        c.send('SYN', '0')
        c.drain(0.8)
    for c in (a, b):
        c.send('CHG', 'NLN', '268435492')   # 0x10000024: MSNC1 | multi-packet | ink
        c.drain()
    # Contact lists: each adds the other to FL and AL (RL comes from the server).
    a.send('ADD', 'FL', BOB, BOB); a.drain(); b.drain()
    a.send('ADD', 'AL', BOB, BOB); a.drain(); b.drain()
    b.send('ADD', 'FL', ALICE, ALICE); b.drain(); a.drain()
    b.send('ADD', 'AL', ALICE, ALICE); b.drain(); a.drain()
    a.send('REA', ALICE, urllib.parse.quote(ALICE_NAME)); a.drain(); b.drain()
    b.send('REA', BOB, urllib.parse.quote(BOB_NAME)); b.drain(); a.drain()
    a.send('PNG', trid=False); a.drain(0.4)

    # Switchboard: alice invites bob.
    a.send('XFR', 'SB')
    parts, _ = a.expect('XFR')          # XFR n SB host:port CKI cookie
    sbhost, sbport = parts[3].split(':')
    asb = Conn('alice-sb', sbhost, int(sbport))
    asb.send('USR', ALICE, parts[5])
    asb.expect('USR')
    asb.send('CAL', BOB)
    asb.expect('CAL')
    parts, _ = b.expect('RNG')          # RNG sessid host:port CKI cookie inviter name
    h, p = parts[2].split(':')
    bsb = Conn('bob-sb', h, int(p))
    bsb.send('ANS', BOB, parts[4], parts[1])
    bsb.expect('ANS')
    asb.expect('JOI')
    pause()

    asb.send('MSG', 'U', payload=TYPING.format(ALICE)); bsb.expect('MSG'); pause(0.5)
    asb.send('MSG', 'A', payload=text_msg('Hello Bob, this is Alice on Escargot!'))
    asb.expect('ACK'); bsb.expect('MSG'); pause(0.5)
    bsb.send('MSG', 'U', payload=TYPING.format(BOB)); asb.expect('MSG'); pause(0.5)
    bsb.send('MSG', 'N', payload=text_msg('Hi Alice! Bob here. \u00e7a va? \u263a', font='Arial', ef='B', co='ff', pf='22'))
    asb.expect('MSG'); pause(0.5)
    asb.send('MSG', 'A', payload=text_msg('Fine, thanks. Bye for now.', font='Comic%20Sans%20MS', ef='I', co='8000'))
    asb.expect('ACK'); bsb.expect('MSG'); pause(0.5)

    bsb.send('OUT', trid=False)
    asb.expect('BYE')
    asb.send('OUT', trid=False)
    pause(0.3)
    for c in (a, b):
        c.send('CHG', 'AWY', '268435492')
        c.drain(0.5)
    a.send('OUT', trid=False); b.drain(0.5)
    b.send('OUT', trid=False)
    pause(0.3)
    for c in (asb, bsb, a, b):
        c.close()
    print('DONE')


if __name__ == '__main__':
    sys.exit(main())
