#!/usr/bin/env python3
"""MSNP12 (MSN Messenger 7.5) session with P2P v1 transfers through a real Escargot server on
127.0.0.1, plus one file over a real direct TCP connection, for escargot_msnp12_p2p.pcap.

  1. alice and bob: VER MSNP12 MSNP11 MSNP10 CVR0, CVR (MSNMSGR 7.5.0324), USR TWN I ->
     the Passport nexus + login over Escargot's plain HTTP :8081 (as capture_msnp8.py) ->
     USR TWN S <ticket> -> USR OK, SBS, MSG Hotmail (profile).
  2. SYN 0 0, CHG NLN <client id> <msnobj> (bob advertises his display picture), UUX (PSM,
     MachineGuid), ADC FL/AL each other, PRP MFN (friendly names).
  3. alice: XFR SB, CAL bob; bob: RNG -> ANS.  Typing + texts.
  4. P2P v1 over the switchboard (each SLP message / data chunk in `MSG n D`, 48-byte LE
     header + BE AppID footer, ACKs with AckSessionID/AckUniqueID/AckDataSize):
       a. alice fetches bob's display picture (MSNObject Type 3, AppID 1)
       b. alice announces a custom emoticon (text/x-mms-emoticon, Type 2); bob fetches it (AppID 11)
       c. bob sends a wink (datacast ID: 2, Type 8 .cab); alice fetches it (AppID 1)
       d. alice sends a voice clip (datacast ID: 3, Type 11 .wav); bob fetches it (AppID 1)
       e. bob offers a file to alice; alice answers 603 Decline
       f. alice sends a file to bob: INVITE, 200 OK, then the direct-connection negotiation
          (transreqbody INVITE, same Call-ID, Bridges TCPv1, Nonce; transrespbody 200 OK,
          Listening true, IPv4Internal-Addrs/Port); bob listens on 127.0.0.1:DC_PORT, alice
          connects: foo, v1 handshake (Flags 0x100, nonce) echoed, then footer-less v1 frames:
          the file data (Flags 0x01000030), bob's ACK, bob's BYE, alice's ACK.
  5. OUT on the switchboards and the NS.

Run with any Python 3.8+ (stdlib only) on a fresh Escargot database (reset_db.py):
    python3 capture_msnp12_p2p.py
"""
import base64
import hashlib
import socket
import sys
import urllib.parse
import uuid

import p2pv1 as v1
from capture_msnp8 import passport_login
from esc_common import HOST, NS_PORT, Conn, pause
from p2pv2 import file_context, slp

ALICE, BOB = 'alice@example.com', 'bob@example.com'
ALICE_NAME, BOB_NAME = 'Alice Liddell', 'Bob the Builder'
ALICE_GUID = '{4D3C2B1A-6F5E-4A7B-8C9D-0E1F2A3B4C5D}'   # UUX MachineGuid (MSNP12 has no MPOP)
BOB_GUID = '{9A8B7C6D-5E4F-4031-8213-141516171819}'
CLIENT_ID = 0x4004C024     # MSNC4 | voice clips | winks | DirectIM | multi-packet | ink GIF
DC_PORT = 31863            # bob's direct-connection listening port

TYPING = 'MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: {}\r\n\r\n\r\n'

# ---- the objects (deterministic)
DP_DATA = v1.png(20, 20, seed=75001)                                # bob's display picture
EMO_DATA = v1.png(12, 12, seed=75002)                               # alice's custom emoticon
EMO_SHORTCUT = '(cake)'
WINK_DATA = v1.tiny_cab('wink.txt', v1.prng_bytes(2100, 75003))     # bob's wink (.cab)
VOICE_DATA = v1.tiny_wav(2500, 40)                               # alice's voice clip (.wav)
DECLINED_NAME = 'holiday plan.doc'
DECLINED_SIZE = 3000                                                # never sent
FILE_NAME = 'dc notes.txt'
FILE_DATA = b''.join(b'Row %03d: P2P v1 file data over a direct TCP connection.\r\n' % i
                     for i in range(1, 61))[:3100]

DP_OBJ = v1.msnobj(BOB, DP_DATA, 3)
EMO_OBJ = v1.msnobj(ALICE, EMO_DATA, 2, location='TFR3A.dat', friendly=v1.friendly('cake'))
WINK_OBJ = v1.msnobj(BOB, WINK_DATA, 8, location='TFR5C.tmp', friendly=v1.friendly('Bow'))
VOICE_OBJ = v1.msnobj(ALICE, VOICE_DATA, 11, location='{7B1C2D3E-4F50-4617-8829-3A4B5C6D7E8F}.wav')

EUF_MSNOBJ = '{A4268EEC-FEC5-49E5-95C3-F126696BDBF6}'
EUF_FILE = '{5D3E02AB-6190-11D3-BBBB-00C04F795683}'

# (SessionID, Call-ID, INVITE branch, BYE branch) per P2P session; AppID per object kind
SESS = {
    'dp': (75101, '{11A0B1C2-D3E4-4F50-8162-738495A6B7C8}', '{21A0B1C2-D3E4-4F50-8162-738495A6B7C8}',
           '{31A0B1C2-D3E4-4F50-8162-738495A6B7C8}'),
    'emo': (75102, '{12A0B1C2-D3E4-4F50-8162-738495A6B7C8}', '{22A0B1C2-D3E4-4F50-8162-738495A6B7C8}',
            '{32A0B1C2-D3E4-4F50-8162-738495A6B7C8}'),
    'wink': (75103, '{13A0B1C2-D3E4-4F50-8162-738495A6B7C8}', '{23A0B1C2-D3E4-4F50-8162-738495A6B7C8}',
             '{33A0B1C2-D3E4-4F50-8162-738495A6B7C8}'),
    'voice': (75104, '{14A0B1C2-D3E4-4F50-8162-738495A6B7C8}', '{24A0B1C2-D3E4-4F50-8162-738495A6B7C8}',
              '{34A0B1C2-D3E4-4F50-8162-738495A6B7C8}'),
    'decl': (75105, '{15A0B1C2-D3E4-4F50-8162-738495A6B7C8}', '{25A0B1C2-D3E4-4F50-8162-738495A6B7C8}', None),
    'file': (75106, '{16A0B1C2-D3E4-4F50-8162-738495A6B7C8}', '{26A0B1C2-D3E4-4F50-8162-738495A6B7C8}',
             '{36A0B1C2-D3E4-4F50-8162-738495A6B7C8}'),
}
DC_BRANCH = '{46A0B1C2-D3E4-4F50-8162-738495A6B7C8}'
DC_NONCE = '{E5D4C3B2-A190-4F8E-9D7C-6B5A49382716}'
APPID = {'dp': 1, 'emo': 11, 'wink': 1, 'voice': 1, 'decl': 2, 'file': 2}


def text_msg(text, font='Tahoma', ef='', co='0', pf='22'):
    return ('MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n'
            f'X-MMS-IM-Format: FN={font}; EF={ef}; CO={co}; CS=0; PF={pf}\r\n\r\n{text}')


def datacast(ident, data):
    return f'MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n\r\nID: {ident}\r\nData: {data}\r\n\r\n'


# ---------------------------------------------------------------- login and presence

def login(name, email):
    c = Conn(name, HOST, NS_PORT)
    c.send('VER', 'MSNP12', 'MSNP11', 'MSNP10', 'CVR0')
    c.expect('VER')
    c.send('CVR', '0x0409', 'winnt', '5.1', 'i386', 'MSNMSGR', '7.5.0324', 'msmsgs', email)
    c.expect('CVR')
    c.send('USR', 'TWN', 'I', email)
    parts, _ = c.expect('USR')               # USR n TWN S <policy>
    ticket = passport_login(email, parts[4])
    c.send('USR', 'TWN', 'S', ticket)
    parts, _ = c.expect('USR')
    assert parts[2] == 'OK', parts
    c.drain(0.5)                             # SBS 0 null, MSG Hotmail (profile)
    return c


def go_online(c, name, psm, guid, msnobj_xml):
    c.send('SYN', '0', '0')
    c.drain(0.5)
    c.send('CHG', 'NLN', CLIENT_ID, *([urllib.parse.quote(msnobj_xml, safe='')] if msnobj_xml else []))
    c.drain(0.4)
    c.send('UUX', payload=f'<Data><PSM>{psm}</PSM><CurrentMedia></CurrentMedia>'
                          f'<MachineGuid>{guid}</MachineGuid></Data>')
    c.drain(0.3)
    c.send('PRP', 'MFN', urllib.parse.quote(name))
    c.drain(0.3)


# ---------------------------------------------------------------- P2P v1

class Msg:
    """What a sent v1 message's ACK needs: SessionID, Identifier, TotalSize, AckSessionID."""

    def __init__(self, session, ident, total, ack_uid):
        self.session, self.ident, self.total, self.ack_uid = session, ident, total, ack_uid


class Link:
    """One side of a P2P v1 link (me -> peer): its SB connection, its Identifier counter, and
    (once established) the direct connection.  Every packet is checked on the far side."""

    def __init__(self, sb, me, peer_email, base_id, uid_seed):
        self.sb, self.me, self.peer_email = sb, me, peer_email
        self.ident = base_id
        self.uid = uid_seed
        self.peer = None          # the other Link
        self.dc = None            # my direct-connection socket

    def next_id(self):
        i = self.ident
        self.ident += 1
        return i

    def next_uid(self):
        self.uid = (self.uid * 69069 + 1) & 0xFFFFFFFF
        return self.uid & 0x7FFFFFFF

    def send_packet(self, pkt, appid):
        if self.dc is not None:                 # direct connection: frame, no footer
            self.dc.sendall(v1.frame(pkt))
            got = v1.recv_frame(self.peer.dc)
            assert got == pkt, 'direct connection frame mismatch'
            return
        payload = v1.msg_payload(self.peer_email, pkt, appid)
        assert len(payload) <= 1664, len(payload)     # Escargot's SB closes on larger MSGs
        self.sb.send('MSG', 'D', payload=payload)
        _, got = self.peer.sb.expect('MSG')
        assert got == payload, 'switchboard changed the P2P payload'
        self.sb.drain(0.05)                           # Escargot's ACK for MSG D

    def send_message(self, data, session=0, flags=v1.FLAG_NONE, appid=0, chunk=v1.CHUNK):
        ident, uid, off = self.next_id(), self.next_uid(), 0
        while True:
            part = data[off:off + chunk]
            self.send_packet(v1.header(session, ident, off, len(data), len(part), flags, uid) + part, appid)
            off += len(part)
            if off >= len(data):
                return Msg(session, ident, len(data), uid)

    def ack(self, m):
        hdr = v1.header(m.session, self.next_id(), 0, m.total, 0, v1.FLAG_ACK, m.ident, m.ack_uid, m.total)
        self.send_packet(hdr, 0)

    def slp(self, m):
        """Send an MSNSLP message (SessionID 0, footer 0); the peer ACKs it."""
        msg = self.send_message(m)
        self.peer.ack(msg)


def invite(frm, to, kind, euf, context_b64, extra=''):
    session, call_id, branch, _ = SESS[kind]
    body = f'EUF-GUID: {euf}\r\nSessionID: {session}\r\n{extra}AppID: {APPID[kind]}\r\nContext: {context_b64}\r\n\r\n'
    return slp(f'INVITE MSNMSGR:{to} MSNSLP/1.0', to, frm, branch, 0, call_id,
               'application/x-msnmsgr-sessionreqbody', body)


def answer(frm, to, kind, status='200 OK'):
    session, call_id, branch, _ = SESS[kind]
    return slp(f'MSNSLP/1.0 {status}', to, frm, branch, 1, call_id, 'application/x-msnmsgr-sessionreqbody',
               f'SessionID: {session}\r\n\r\n')


def bye(frm, to, kind):
    _, call_id, _, branch = SESS[kind]
    return slp(f'BYE MSNMSGR:{to} MSNSLP/1.0', to, frm, branch, 0, call_id,
               'application/x-msnmsgr-sessionclosebody', '\r\n')


def fetch_object(receiver, sender, kind, obj_xml, data):
    """`receiver` asks `sender` for an MSNObject: INVITE, 200 OK, data preparation, data, BYE."""
    session = SESS[kind][0]
    ctx = base64.b64encode(obj_xml.encode() + b'\0').decode()
    receiver.slp(invite(receiver.me, sender.me, kind, EUF_MSNOBJ, ctx))
    pause(0.15)
    sender.slp(answer(sender.me, receiver.me, kind))
    # data preparation: 4 zero bytes in the session, flags 0, footer = the AppID
    m = sender.send_message(b'\0\0\0\0', session, v1.FLAG_NONE, APPID[kind])
    receiver.ack(m)
    m = sender.send_message(data, session, v1.FLAG_MSNOBJ, APPID[kind])
    receiver.ack(m)
    pause(0.15)
    receiver.slp(bye(receiver.me, sender.me, kind))


def declined_file(alice, bob):
    """bob offers DECLINED_NAME; alice answers 603 Decline."""
    ctx = base64.b64encode(file_context(DECLINED_NAME, DECLINED_SIZE, version=2)).decode()
    bob.slp(invite(bob.me, alice.me, 'decl', EUF_FILE, ctx))
    pause(0.4)
    alice.slp(answer(alice.me, bob.me, 'decl', '603 Decline'))


def direct_file(alice, bob):
    """alice sends FILE_DATA to bob; the data goes over a direct TCP connection bob listens for."""
    session, call_id, _, _ = SESS['file']
    ctx = base64.b64encode(file_context(FILE_NAME, len(FILE_DATA), version=2)).decode()
    alice.slp(invite(alice.me, bob.me, 'file', EUF_FILE, ctx))
    pause(0.3)
    bob.slp(answer(bob.me, alice.me, 'file'))
    # direct-connection negotiation: alice's transreqbody INVITE in the same call
    req = (f'Bridges: TCPv1\r\nNetID: 0\r\nConn-Type: Direct-Connect\r\nUPnPNat: false\r\nICF: false\r\n'
           f'Nonce: {DC_NONCE}\r\n\r\n')
    alice.slp(slp(f'INVITE MSNMSGR:{bob.me} MSNSLP/1.0', bob.me, alice.me, DC_BRANCH, 0, call_id,
                  'application/x-msnmsgr-transreqbody', req))
    listener = v1.listen(DC_PORT)
    resp = (f'Bridge: TCPv1\r\nListening: true\r\nNonce: {DC_NONCE}\r\nIPv4Internal-Addrs: 127.0.0.1\r\n'
            f'IPv4Internal-Port: {DC_PORT}\r\n\r\n')
    bob.slp(slp('MSNSLP/1.0 200 OK', alice.me, bob.me, DC_BRANCH, 1, call_id,
                'application/x-msnmsgr-transrespbody', resp))
    pause(0.2)
    # the direct connection: alice connects to bob
    a_sock = socket.create_connection(('127.0.0.1', DC_PORT))
    a_sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    b_sock, _ = listener.accept()
    b_sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.close()
    a_sock.sendall(v1.FOO)
    assert v1.recv_frame(b_sock) == b'foo\0'
    hs = v1.v1_handshake(alice.next_id(), DC_NONCE)
    a_sock.sendall(v1.frame(hs))
    got = v1.recv_frame(b_sock)
    assert got == hs and got[32:48] == uuid.UUID(DC_NONCE).bytes_le
    echo = v1.v1_handshake(bob.next_id(), DC_NONCE)
    b_sock.sendall(v1.frame(echo))
    assert v1.recv_frame(a_sock) == echo
    print('DC handshake ok, nonce', DC_NONCE)
    alice.dc, bob.dc = a_sock, b_sock
    m = alice.send_message(FILE_DATA, session, v1.FLAG_FILE, APPID['file'], chunk=v1.DC_CHUNK)
    bob.ack(m)
    pause(0.2)
    bob.slp(bye(bob.me, alice.me, 'file'))          # the receiver closes the session (over the DC)
    pause(0.2)
    alice.dc = bob.dc = None
    a_sock.close()
    b_sock.close()


# ---------------------------------------------------------------- the session

def main():
    a = login('alice', ALICE)
    b = login('bob', BOB)
    go_online(a, ALICE_NAME, 'Trying MSN 7.5 on Escargot', ALICE_GUID, None)
    go_online(b, BOB_NAME, 'Winks and voice clips', BOB_GUID, DP_OBJ)
    a.send('ADC', 'FL', f'N={BOB}', f'F={BOB}')
    a.drain(0.4)
    b.drain(0.4)
    a.send('ADC', 'AL', f'N={BOB}')
    a.drain(0.4)
    b.drain(0.4)
    b.send('ADC', 'FL', f'N={ALICE}', f'F={ALICE}')
    b.drain(0.4)
    a.drain(0.4)
    b.send('ADC', 'AL', f'N={ALICE}')
    b.drain(0.4)
    a.drain(0.4)
    a.send('PNG', trid=False)
    a.drain(0.3)

    a.send('XFR', 'SB')
    parts, _ = a.expect('XFR')                      # XFR n SB host:port CKI cookie
    h, p = parts[3].split(':')
    asb = Conn('alice-sb', h, int(p))
    asb.send('USR', ALICE, parts[5])
    asb.expect('USR')
    asb.send('CAL', BOB)
    asb.expect('CAL')
    parts, _ = b.expect('RNG')
    h, p = parts[2].split(':')
    bsb = Conn('bob-sb', h, int(p))
    bsb.send('ANS', BOB, parts[4], parts[1])
    bsb.expect('ANS')
    asb.expect('JOI')
    pause(0.3)

    asb.send('MSG', 'U', payload=TYPING.format(ALICE))
    bsb.expect('MSG')
    pause(0.3)
    asb.send('MSG', 'A', payload=text_msg('Hi Bob, MSN 7.5 here. Nice picture!'))
    asb.expect('ACK')
    bsb.expect('MSG')
    pause(0.3)

    alice = Link(asb, ALICE, BOB, base_id=0x0A11CE00, uid_seed=7501)
    bob = Link(bsb, BOB, ALICE, base_id=0x0B0B0000, uid_seed=7502)
    alice.peer, bob.peer = bob, alice

    fetch_object(alice, bob, 'dp', DP_OBJ, DP_DATA)
    pause(0.3)
    # custom emoticon: announced before the text that uses it
    asb.send('MSG', 'N', payload=f'MIME-Version: 1.0\r\nContent-Type: text/x-mms-emoticon\r\n\r\n'
                                 f'{EMO_SHORTCUT}\t{EMO_OBJ}\t')
    bsb.expect('MSG')
    asb.send('MSG', 'A', payload=text_msg(f'Happy birthday {EMO_SHORTCUT}'))
    asb.expect('ACK')
    bsb.expect('MSG')
    fetch_object(bob, alice, 'emo', EMO_OBJ, EMO_DATA)
    pause(0.3)
    bsb.send('MSG', 'N', payload=datacast(2, WINK_OBJ))
    asb.expect('MSG')
    fetch_object(alice, bob, 'wink', WINK_OBJ, WINK_DATA)
    pause(0.3)
    asb.send('MSG', 'N', payload=datacast(3, VOICE_OBJ))
    bsb.expect('MSG')
    fetch_object(bob, alice, 'voice', VOICE_OBJ, VOICE_DATA)
    pause(0.3)
    declined_file(alice, bob)
    pause(0.3)
    bsb.send('MSG', 'N', payload=text_msg('No thanks for the plan, but send me the notes.', font='Arial', co='ff0000'))
    asb.expect('MSG')
    direct_file(alice, bob)
    pause(0.3)
    bsb.send('MSG', 'N', payload=text_msg('Got the notes directly. Bye!', font='Arial', co='ff0000'))
    asb.expect('MSG')
    pause(0.3)

    bsb.send('OUT', trid=False)
    asb.expect('BYE')
    asb.send('OUT', trid=False)
    pause(0.3)
    a.send('OUT', trid=False)
    b.drain(0.6)
    b.send('OUT', trid=False)
    pause(0.3)
    for c in (asb, bsb, a, b):
        c.close()
    for label, data in (('DP', DP_DATA), ('EMOTICON', EMO_DATA), ('WINK', WINK_DATA), ('VOICE', VOICE_DATA),
                        ('FILE', FILE_DATA)):
        print(f'{label:9} size {len(data):5} sha1 {hashlib.sha1(data).hexdigest()} '
              f'sha256 {hashlib.sha256(data).hexdigest()}')
    for label, obj in (('DP', DP_OBJ), ('EMOTICON', EMO_OBJ), ('WINK', WINK_OBJ), ('VOICE', VOICE_OBJ)):
        print(f'{label:9} {obj}')
    print('DONE')


if __name__ == '__main__':
    sys.exit(main())
