#!/usr/bin/env python3
"""MSNP18 (WLM 2009) with alice signed in on two machines (MPOP) and P2P v2 transfers through a
real Escargot server on 127.0.0.1, plus one file over a real v2 direct connection, for
escargot_msnp18_mpop.pcap.

  1. SSO logins (capture_msnp18_p2p.sso_login): alice on ALICE-PC {8C2B...}, bob on
     BOB-LAPTOP {F529...}; both go online and add each other (ADL l=3); then alice signs in
     a second time on ALICE-LAPTOP {3E7A...} (Escargot: LoginOption.NotifyOthers, both
     alice NS connections stay up) and sends her initial ADL with bob in it.
  2. bob: XFR SB, USR bob;{guid}, CAL alice -> RNG on *both* alice NS connections; both
     answer (ANS alice;{guid}); Escargot sends JOI/IRO per endpoint and per user.
  3. texts from bob, alice@PC and alice@LAPTOP.  Escargot relays every MSG to every other
     SB connection, so each P2P packet addressed to one endpoint (P2P-Dest user;{guid}) is
     also delivered to alice's other endpoint; the client checks every copy.
  4. P2P v2 (p2pv2.py), one link per endpoint pair with its own sequence numbers, each
     opened with SYN+RAK and peer info:
       a. bob announces a custom emoticon (text/x-mms-emoticon); alice@PC fetches it (AppID 11)
       b. bob sends a wink (datacast ID: 2, Type 8); alice@PC fetches it (AppID 12)
       c. alice@LAPTOP sends a voice clip (datacast ID: 3, Type 11); bob fetches it (AppID 12)
       d. bob sends alice@PC a file; alice@PC cancels after two of four chunks (BYE from the receiver)
       e. alice@LAPTOP sends bob a file: INVITE, 200 OK, transreqbody INVITE (same Call-ID,
          Hashed-Nonce), transrespbody 200 OK (Listening: true, 127.0.0.1:DC_PORT); alice@LAPTOP
          connects to bob: foo frame, 16-byte nonce frame echoed, then footer-less v2 packets
          (data TF 0x07/0x06, bob's ACK, bob's BYE, alice's ACK).
  5. OUT everywhere.

Run with Escargot's venv python (cryptography for the MBI answer), fresh database:
    /tmp/escvenv/bin/python capture_msnp18_mpop.py
"""
import base64
import hashlib
import socket
import struct
import sys
import uuid

import p2pv1
import p2pv2 as p2p
from capture_msnp18_p2p import (
    ALICE,
    ALICE_GUID,
    ALICE_NAME,
    BOB,
    BOB_GUID,
    BOB_NAME,
    TYPING,
    go_online,
    ml,
    sso_login,
    text_msg,
)
from esc_common import Conn, pause

ALICE2_GUID = '{3E7A9C15-2B4D-4F60-8A1B-9C2D3E4F5061}'     # alice's second machine
DC_PORT = 31864                                           # bob's direct-connection listening port

EMO_DATA = p2pv1.png(14, 14, seed=2009001)
EMO_SHORTCUT = ':star:'
WINK_DATA = p2pv1.tiny_cab('wave.txt', b''.join(b'wave frame %04d\r\n' % i for i in range(1, 120)))
VOICE_DATA = p2pv1.tiny_wav(2300, 32)
CANCEL_NAME = 'big photo.jpg'
CANCEL_DATA = (b'\xff\xd8\xff\xe0\x00\x10JFIF\x00' + b''.join(b'%05d' % i for i in range(800)))[:4000]  # 2404 sent
DC_NAME = 'laptop log.txt'
DC_DATA = b''.join(b'Entry %03d: P2P v2 over a direct TCP connection from the laptop.\r\n' % i
                   for i in range(1, 51))[:3300]

EMO_OBJ = p2pv1.msnobj(BOB, EMO_DATA, 2, location='TFR7B.dat', friendly=p2pv1.friendly('star'))
WINK_OBJ = p2pv1.msnobj(BOB, WINK_DATA, 8, location='TFR8C.tmp', friendly=p2pv1.friendly('Wave'))
VOICE_OBJ = p2pv1.msnobj(ALICE, VOICE_DATA, 11, location='{5A6B7C8D-9E0F-4A1B-8C2D-3E4F5A6B7C8D}.wav')

EUF_MSNOBJ = '{A4268EEC-FEC5-49E5-95C3-F126696BDBF6}'
EUF_FILE = '{5D3E02AB-6190-11D3-BBBB-00C04F795683}'
APPID = {'emo': 11, 'wink': 12, 'voice': 12, 'cancel': 2, 'dc': 2}
# (SessionID, Call-ID, INVITE branch, BYE branch)
SESS = {
    'emo': (2009101, '{A1000001-0B0C-4D0E-8F10-111213141516}', '{A2000001-0B0C-4D0E-8F10-111213141516}',
            '{A3000001-0B0C-4D0E-8F10-111213141516}'),
    'wink': (2009102, '{A1000002-0B0C-4D0E-8F10-111213141516}', '{A2000002-0B0C-4D0E-8F10-111213141516}',
             '{A3000002-0B0C-4D0E-8F10-111213141516}'),
    'voice': (2009103, '{A1000003-0B0C-4D0E-8F10-111213141516}', '{A2000003-0B0C-4D0E-8F10-111213141516}',
              '{A3000003-0B0C-4D0E-8F10-111213141516}'),
    'cancel': (2009104, '{A1000004-0B0C-4D0E-8F10-111213141516}', '{A2000004-0B0C-4D0E-8F10-111213141516}',
               '{A3000004-0B0C-4D0E-8F10-111213141516}'),
    'dc': (2009105, '{A1000005-0B0C-4D0E-8F10-111213141516}', '{A2000005-0B0C-4D0E-8F10-111213141516}',
           '{A3000005-0B0C-4D0E-8F10-111213141516}'),
}
DC_BRANCH = '{A4000005-0B0C-4D0E-8F10-111213141516}'
DC_NONCE = '{C0FFEE11-2233-4455-8677-8899AABBCCDD}'


def datacast(ident, data):
    return f'MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n\r\nID: {ident}\r\nData: {data}\r\n\r\n'


class Endpoint:
    def __init__(self, name, sb, email, guid):
        self.name, self.sb, self.email, self.guid = name, sb, email, guid
        self.ep = f'{email};{guid}'                 # P2P-Src / P2P-Dest (upper-case GUID)
        self.slp_ep = f'{email};{guid.lower()}'     # MSNSLP To / From (lower case)


class Link:
    """My side of a P2P v2 link to one remote endpoint: sequence number, package counter, and the
    direct connection once there.  `listeners` = every other SB connection (all get each MSG)."""

    def __init__(self, me, remote, seq, listeners):
        self.me, self.remote, self.seq, self.listeners = me, remote, seq, listeners
        self.package = 0
        self.peer = None
        self.dc = None

    def send_packet(self, pkt, appid):
        size = struct.unpack('>H', pkt[2:4])[0]
        if self.dc is not None:
            self.dc.sendall(p2pv1.frame(pkt))
            assert p2pv1.recv_frame(self.peer.dc) == pkt, 'direct connection frame mismatch'
        else:
            payload = p2p.msg_payload(self.remote.ep, self.me.ep, pkt, appid)
            assert len(payload) <= 1664, len(payload)
            self.me.sb.send('MSG', 'D', payload=payload)
            for c in self.listeners:
                _, got = c.expect('MSG')
                assert got == payload, f'switchboard changed the P2P payload for {c.name}'
            self.me.sb.drain(0.05)
        seq = self.seq
        self.seq += size
        return seq, size

    def send_message(self, data, opcode, tf, session, appid, rak_last=True, syn=False, chunk=p2p.CHUNK,
                     stop_after=None):
        """`data` as one package in chunks (TF First on the first only); returns (seq, size) of the
        last chunk sent.  stop_after=n: send only n chunks (a transfer that gets cancelled)."""
        self.package += 1
        off, last, n = 0, None, 0
        while True:
            part = data[off:off + chunk]
            remaining = len(data) - off - len(part)
            first = off == 0
            op = opcode if first else p2p.OP_NONE
            if rak_last and not remaining:
                op |= p2p.OP_RAK
            tlvs = [(0x01, p2p.PEER_INFO)] if (first and syn) else []
            pkt = p2p.packet(self.seq, op, tlvs, part, tf if first else tf & ~p2p.TF_FIRST, self.package, session,
                             remaining)
            last = self.send_packet(pkt, appid)
            off += len(part)
            n += 1
            if not remaining or n == stop_after:
                return last

    def ack(self, acked, syn_reply=False):
        seq, size = acked
        tlvs = ([(0x01, p2p.PEER_INFO)] if syn_reply else []) + [p2p.ack_tlv(seq + size)]
        op = (p2p.OP_SYN | p2p.OP_RAK) if syn_reply else p2p.OP_NONE
        return self.send_packet(p2p.packet(self.seq, op, tlvs), 0)

    def slp(self, data, syn=False):
        """An MSNSLP message (SessionID 0, AppID 0) and the peer's ACK; a link's first message
        carries SYN+peer info and is answered with SYN+RAK+peer info, then ACKed back."""
        if syn:
            m = self.send_message(data, p2p.OP_SYN | p2p.OP_RAK, p2p.TF_FIRST, 0, 0, rak_last=False, syn=True)
            m = self.peer.ack(m, syn_reply=True)
            self.ack(m)
        else:
            m = self.send_message(data, p2p.OP_RAK, p2p.TF_FIRST, 0, 0)
            self.peer.ack(m)


def invite(frm, to, kind, euf, ctx, extra=''):
    session, call_id, branch, _ = SESS[kind]
    body = f'EUF-GUID: {euf}\r\nSessionID: {session}\r\n{extra}AppID: {APPID[kind]}\r\nContext: {ctx}\r\n\r\n'
    return p2p.slp(f'INVITE MSNMSGR:{to.slp_ep} MSNSLP/1.0', to.slp_ep, frm.slp_ep, branch, 0, call_id,
                   'application/x-msnmsgr-sessionreqbody', body)


def ok(frm, to, kind, extra=''):
    session, call_id, branch, _ = SESS[kind]
    return p2p.slp('MSNSLP/1.0 200 OK', to.slp_ep, frm.slp_ep, branch, 1, call_id,
                   'application/x-msnmsgr-sessionreqbody', f'SessionID: {session}\r\n{extra}\r\n')


def bye(frm, to, kind):
    session, call_id, _, branch = SESS[kind]
    return p2p.slp(f'BYE MSNMSGR:{to.slp_ep} MSNSLP/1.0', to.slp_ep, frm.slp_ep, branch, 0, call_id,
                   'application/x-msnmsgr-sessionclosebody', f'SessionID: {session}\r\n\r\n')


def fetch_object(rcv, snd, kind, obj, data, syn=False):
    """rcv (Link) asks snd (Link, its peer) for an MSNObject."""
    session = SESS[kind][0]
    ctx = base64.b64encode(obj.encode() + b'\0').decode()
    rcv.slp(invite(rcv.me, snd.me, kind, EUF_MSNOBJ, ctx), syn=syn)
    pause(0.15)
    snd.slp(ok(snd.me, rcv.me, kind))
    m = snd.send_message(b'\0\0\0\0', p2p.OP_RAK, p2p.TF_FIRST, session, APPID[kind])    # data preparation
    rcv.ack(m)
    m = snd.send_message(data, p2p.OP_NONE, p2p.TF_MSNOBJ | p2p.TF_FIRST, session, APPID[kind])
    rcv.ack(m)
    pause(0.15)
    rcv.slp(bye(rcv.me, snd.me, kind))


FT_EXTRA = 'SChannelState: 0\r\nCapabilities-Flags: 1\r\n'


def cancelled_file(snd, rcv):
    """snd offers CANCEL_DATA; rcv accepts and, after two data chunks, closes with BYE."""
    session = SESS['cancel'][0]
    ctx = base64.b64encode(p2p.file_context(CANCEL_NAME, len(CANCEL_DATA))).decode()
    snd.slp(invite(snd.me, rcv.me, 'cancel', EUF_FILE, ctx, extra=FT_EXTRA))
    pause(0.3)
    rcv.slp(ok(rcv.me, snd.me, 'cancel', extra=FT_EXTRA))
    snd.send_message(CANCEL_DATA, p2p.OP_NONE, p2p.TF_FILE | p2p.TF_FIRST, session, APPID['cancel'], stop_after=2)
    pause(0.2)
    rcv.slp(bye(rcv.me, snd.me, 'cancel'))


def direct_file(snd, rcv):
    """snd sends DC_DATA to rcv; the data goes over a v2 direct connection rcv listens for."""
    session, call_id, _, _ = SESS['dc']
    ctx = base64.b64encode(p2p.file_context(DC_NAME, len(DC_DATA))).decode()
    snd.slp(invite(snd.me, rcv.me, 'dc', EUF_FILE, ctx, extra=FT_EXTRA))
    pause(0.3)
    rcv.slp(ok(rcv.me, snd.me, 'dc', extra=FT_EXTRA))
    hashed = p2pv1.hashed_nonce(DC_NONCE)
    req = ('Bridges: TCPv1 SBBridge\r\nNetID: 0\r\nConn-Type: Direct-Connect\r\nTCP-Conn-Type: Direct-Connect\r\n'
           f'UPnPNat: false\r\nICF: false\r\nHashed-Nonce: {hashed}\r\nSessionID: {session}\r\n'
           'SChannelState: 0\r\nCapabilities-Flags: 1\r\n\r\n')
    snd.slp(p2p.slp(f'INVITE MSNMSGR:{rcv.me.slp_ep} MSNSLP/1.0', rcv.me.slp_ep, snd.me.slp_ep, DC_BRANCH, 0,
                    call_id, 'application/x-msnmsgr-transreqbody', req))
    listener = p2pv1.listen(DC_PORT)
    resp = ('Bridge: TCPv1\r\nListening: true\r\nConn-Type: Direct-Connect\r\nTCP-Conn-Type: Direct-Connect\r\n'
            'UPnPNat: false\r\nCapabilities-Flags: 1\r\nIPv4Internal-Addrs: 127.0.0.1\r\n'
            f'IPv4Internal-Port: {DC_PORT}\r\nHashed-Nonce: {hashed}\r\nSessionID: {session}\r\n'
            'SChannelState: 0\r\n\r\n')
    rcv.slp(p2p.slp('MSNSLP/1.0 200 OK', snd.me.slp_ep, rcv.me.slp_ep, DC_BRANCH, 1, call_id,
                    'application/x-msnmsgr-transrespbody', resp))
    pause(0.2)
    s_sock = socket.create_connection(('127.0.0.1', DC_PORT))
    s_sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    r_sock, _ = listener.accept()
    r_sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.close()
    s_sock.sendall(p2pv1.FOO)
    assert p2pv1.recv_frame(r_sock) == b'foo\0'
    nonce = uuid.UUID(DC_NONCE).bytes_le
    s_sock.sendall(p2pv1.frame(nonce))
    got = p2pv1.recv_frame(r_sock)
    assert got == nonce and p2pv1.hashed_nonce(str(uuid.UUID(bytes_le=got))) == hashed
    r_sock.sendall(p2pv1.frame(nonce))                  # the listener echoes the nonce
    assert p2pv1.recv_frame(s_sock) == nonce
    print('v2 DC handshake ok, nonce', DC_NONCE, 'hashed', hashed)
    snd.dc, rcv.dc = s_sock, r_sock
    m = snd.send_message(DC_DATA, p2p.OP_NONE, p2p.TF_FILE | p2p.TF_FIRST, session, APPID['dc'],
                         chunk=p2pv1.DC_CHUNK)
    rcv.ack(m)
    pause(0.2)
    rcv.slp(bye(rcv.me, snd.me, 'dc'))
    pause(0.2)
    snd.dc = rcv.dc = None
    s_sock.close()
    r_sock.close()


def main():
    a1 = sso_login('alice1', ALICE, ALICE_GUID, iv=bytes.fromhex('0102030405060708'))
    b = sso_login('bob', BOB, BOB_GUID, iv=bytes.fromhex('1112131415161718'))
    go_online(a1, ALICE, ALICE_NAME, 'Two machines, one Alice', ALICE_GUID, 'ALICE-PC', None)
    go_online(b, BOB, BOB_NAME, 'Building things', BOB_GUID, 'BOB-LAPTOP', None)
    a1.drain(0.3)
    a1.send('ADL', payload=ml([(BOB, 3)]))
    a1.drain(0.5)
    b.drain(0.5)
    b.send('ADL', payload=ml([(ALICE, 3)]))
    b.drain(0.5)
    a1.drain(0.5)

    # alice's second machine: same account, another MachineGuid
    a2 = sso_login('alice2', ALICE, ALICE2_GUID, iv=bytes.fromhex('2122232425262728'))
    a1.drain(0.4)
    b.drain(0.4)
    a2.send('BLP', 'AL')
    a2.drain(0.3)
    a2.send('ADL', payload=ml([(BOB, 3)], l=1))
    a2.drain(0.4)
    a1.drain(0.3)
    b.drain(0.3)
    a2.send('PRP', 'MFN', 'Alice%20Liddell')
    a2.drain(0.3)
    a1.drain(0.2)
    a2.send('CHG', 'NLN', '2789003324:48', '0')
    a2.drain(0.4)
    a1.drain(0.3)
    b.drain(0.3)
    a2.send('UUX', payload=f'<Data><PSM>Two machines, one Alice</PSM><CurrentMedia></CurrentMedia>'
                           f'<MachineGuid>{ALICE2_GUID}</MachineGuid><DDP></DDP><SignatureSound></SignatureSound>'
                           '<Scene></Scene><ColorScheme>-3</ColorScheme></Data>')
    a2.drain(0.3)
    a1.drain(0.3)
    b.drain(0.3)
    a2.send('UUX', payload='<PrivateEndpointData><EpName>ALICE-LAPTOP</EpName><Idle>false</Idle>'
                           '<ClientType>1</ClientType><State>NLN</State></PrivateEndpointData>')
    a2.drain(0.3)
    a1.drain(0.3)
    b.drain(0.3)

    # bob opens a switchboard and invites alice: both of her endpoints ring
    b.send('XFR', 'SB')
    parts, _ = b.expect('XFR')
    h, p = parts[3].split(':')
    bsb = Conn('bob-sb', h, int(p))
    bsb.send('USR', f'{BOB};{BOB_GUID}', parts[5])
    bsb.expect('USR')
    bsb.send('CAL', ALICE)
    bsb.expect('CAL')
    sbs = {}
    for name, ns, guid in (('alice1-sb', a1, ALICE_GUID), ('alice2-sb', a2, ALICE2_GUID)):
        parts, _ = ns.expect('RNG')
        h, p = parts[2].split(':')
        c = Conn(name, h, int(p))
        c.send('ANS', f'{ALICE};{guid}', parts[4], parts[1])
        c.expect('ANS')
        c.drain(0.3)
        sbs[name] = c
        bsb.drain(0.3)
    a1sb, a2sb = sbs['alice1-sb'], sbs['alice2-sb']
    a1sb.drain(0.3)

    def say(sender, others, ack, payload):
        sender.send('MSG', ack, payload=payload)
        for o in others:
            o.expect('MSG')
        sender.drain(0.1)
        pause(0.3)

    say(bsb, [a1sb, a2sb], 'U', TYPING.format(BOB))
    say(bsb, [a1sb, a2sb], 'A', text_msg('Hi Alice, are you on both machines?', font='Calibri'))
    say(a1sb, [bsb, a2sb], 'A', text_msg('Yes, this is the PC.'))
    say(a2sb, [bsb, a1sb], 'A', text_msg('And this is the laptop.', font='Verdana', co='800080'))

    alice1 = Endpoint('alice1', a1sb, ALICE, ALICE_GUID)
    alice2 = Endpoint('alice2', a2sb, ALICE, ALICE2_GUID)
    bob = Endpoint('bob', bsb, BOB, BOB_GUID)
    b_a1 = Link(bob, alice1, 0x5E6F7000, [a1sb, a2sb])
    a1_b = Link(alice1, bob, 0x1A2B3C00, [bsb, a2sb])
    b_a2 = Link(bob, alice2, 0x6C7D8000, [a1sb, a2sb])
    a2_b = Link(alice2, bob, 0x2B3C4D00, [bsb, a1sb])
    b_a1.peer, a1_b.peer, b_a2.peer, a2_b.peer = a1_b, b_a1, a2_b, b_a2

    say(bsb, [a1sb, a2sb], 'N', 'MIME-Version: 1.0\r\nContent-Type: text/x-mms-emoticon\r\n\r\n'
                               f'{EMO_SHORTCUT}\t{EMO_OBJ}\t')
    say(bsb, [a1sb, a2sb], 'A', text_msg(f'You are a {EMO_SHORTCUT}', font='Calibri'))
    fetch_object(a1_b, b_a1, 'emo', EMO_OBJ, EMO_DATA, syn=True)
    pause(0.3)
    say(bsb, [a1sb, a2sb], 'N', datacast(2, WINK_OBJ))
    fetch_object(a1_b, b_a1, 'wink', WINK_OBJ, WINK_DATA)
    pause(0.3)
    say(a2sb, [bsb, a1sb], 'N', datacast(3, VOICE_OBJ))
    fetch_object(b_a2, a2_b, 'voice', VOICE_OBJ, VOICE_DATA, syn=True)
    pause(0.3)
    cancelled_file(b_a1, a1_b)
    pause(0.3)
    say(a1sb, [bsb, a2sb], 'A', text_msg('Too big, cancelled it. Send the log from the laptop instead?'))
    direct_file(a2_b, b_a2)
    pause(0.3)
    say(bsb, [a1sb, a2sb], 'A', text_msg('Got the log. Bye both of you!', font='Calibri'))

    a2sb.send('OUT', trid=False)
    bsb.drain(0.4)
    a1sb.drain(0.4)
    bsb.send('OUT', trid=False)
    a1sb.drain(0.4)
    a1sb.send('OUT', trid=False)
    pause(0.3)
    a2.send('OUT', trid=False)
    a1.drain(0.4)
    b.drain(0.4)
    a1.send('OUT', trid=False)
    b.drain(0.5)
    b.send('OUT', trid=False)
    pause(0.3)
    for c in (a1sb, a2sb, bsb, a1, a2, b):
        c.close()
    for label, data in (('EMOTICON', EMO_DATA), ('WINK', WINK_DATA), ('VOICE', VOICE_DATA),
                        ('CANCEL', CANCEL_DATA), ('CANCEL-SENT', CANCEL_DATA[:2404]), ('DCFILE', DC_DATA)):
        print(f'{label:11} size {len(data):5} sha1 {hashlib.sha1(data).hexdigest()} '
              f'sha256 {hashlib.sha256(data).hexdigest()}')
    for label, obj in (('EMOTICON', EMO_OBJ), ('WINK', WINK_OBJ), ('VOICE', VOICE_OBJ)):
        print(f'{label:11} {obj}')
    print('DONE')


if __name__ == '__main__':
    sys.exit(main())
