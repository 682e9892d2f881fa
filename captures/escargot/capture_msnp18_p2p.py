#!/usr/bin/env python3
"""MSNP18 (WLM 2009) session with a P2P v2 display-picture and file transfer through a real
Escargot server on 127.0.0.1, for escargot_msnp18_p2p.pcap.

  1. alice and bob each: VER MSNP18 MSNP17 CVR0, CVR (WLM 14.0.8117), USR SSO I ->
     GCF + USR SSO S MBI_KEY_OLD <nonce>; POST /RST.srf (Escargot's plain-HTTP stand-in
     for login.live.com, :8081) -> compact ticket + BinarySecret for messengerclear.live.com;
     USR SSO S t=<ticket> <base64 MBI response> {machine-guid}  (MPOP) -> USR OK, SBS,
     MSG Hotmail (profile), UBX.
     The MBI response is the MSNP15+ one: key2/key3 derived from the BinarySecret,
     HMAC-SHA1(key2, nonce) and 3DES-CBC(key3, iv, nonce), in the 28-byte-header blob.
  2. BLP, initial ADL, PRP MFN, CHG NLN <caps> <msnobj> (bob's has his display picture),
     UUX (PSM + MachineGuid), UUX PrivateEndpointData; then ADL each other (l=3: FL+AL).
  3. alice: XFR SB, USR alice@example.com;{guid}, CAL bob; bob: RNG -> ANS bob@...;{guid}.
  4. chat: typing + two text messages.
  5. P2P v2, session 1 (display picture, alice fetches bob's): INVITE (EUF-GUID
     {A4268EEC-...}, AppID 12, Context = base64 MSNObject) with SYN+RAK and peer info;
     ACK (SYN+RAK, peer info) and ACK back; 200 OK; data preparation (4 zero bytes,
     TF First); the PNG in 1202-byte chunks (TF 0x05 then 0x04, bytes-remaining TLV);
     ACKs; BYE from alice.
  6. P2P v2, session 2 (file, alice sends bob a text file): INVITE (EUF-GUID {5D3E02AB-...},
     AppID 2, 638-byte file context, split over two chunks as its SLP is > 1202 bytes),
     200 OK, data (TF 0x07 then 0x06), BYE from bob.
  7. OUT on the switchboards and the NS.

Run with Escargot's venv python (it has `cryptography` for 3DES), on a fresh database:
    /tmp/escvenv/bin/python capture_msnp18_p2p.py
"""
import base64
import hashlib
import hmac
import re
import struct
import sys
import urllib.parse

import p2pv2 as p2p
from esc_common import HOST, NS_PORT, PASSWORD, Conn, http_post, pause

ALICE = 'alice@example.com'
BOB = 'bob@example.com'
ALICE_NAME = 'Alice Liddell'
BOB_NAME = 'Bob the Builder'
ALICE_GUID = '{8C2B5D47-1E3F-4A6B-9C0D-2E4F6A8B0C1D}'
BOB_GUID = '{F52973B6-C926-4BAD-9BA8-7C1E840E4AB0}'
CAPS = '2789003324:48'        # WLM 2009 14.0.8117: MSNC9 + P2Pv2 etc. (CapabilitiesEx 48)
ALICE_PSM = 'Testing Escargot with WLM 2009 framing'
BOB_PSM = 'Building things'

# Objects transferred (deterministic, so tests can assert them).
DP_DATA = p2p.tiny_png(32, 32, seed=20091)              # bob's display picture
FILE_NAME = 'escargot notes.txt'
FILE_DATA = b''.join(b'Line %03d: P2P v2 file transfer through the Escargot switchboard.\r\n' % i
                     for i in range(1, 41))[:2600]        # alice sends this to bob

DP_SESSION = 1337001
FILE_SESSION = 1337002
DP_CALL_ID = '{2B1E6A3C-4D5F-4E60-8A71-9B2C3D4E5F60}'
DP_BRANCH = '{A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D}'
DP_BYE_BRANCH = '{B2C3D4E5-F6A7-4B8C-9D0E-1F2A3B4C5D6E}'
FT_CALL_ID = '{3C2F7B4D-5E60-4F71-9B82-AC3D4E5F6071}'
FT_BRANCH = '{C3D4E5F6-A7B8-4C9D-0E1F-2A3B4C5D6E7F}'
FT_BYE_BRANCH = '{D4E5F6A7-B8C9-4D0E-1F2A-3B4C5D6E7F80}'

EUF_MSNOBJ = '{A4268EEC-FEC5-49E5-95C3-F126696BDBF6}'
EUF_FILE = '{5D3E02AB-6190-11D3-BBBB-00C04F795683}'
APPID_DP, APPID_FILE = 12, 2

TYPING = 'MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: {}\r\n\r\n\r\n'


def text_msg(text, font='Segoe%20UI', ef='', co='0', pf='0'):
    return ('MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n'
            f'X-MMS-IM-Format: FN={font}; EF={ef}; CO={co}; CS=0; PF={pf}\r\n\r\n{text}')


# ---------------------------------------------------------------- SSO login (RST + MBI)

RST_TEMPLATE = '''<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsse="http://schemas.xmlsoap.org/ws/2003/06/secext" xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" xmlns:wsp="http://schemas.xmlsoap.org/ws/2002/12/policy" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/03/addressing" xmlns:wssc="http://schemas.xmlsoap.org/ws/2004/04/sc" xmlns:wst="http://schemas.xmlsoap.org/ws/2004/04/trust"><Header><ps:AuthInfo xmlns:ps="http://schemas.microsoft.com/Passport/SoapServices/PPCRL" Id="PPAuthInfo"><ps:HostingApp>{{7108E71A-9926-4FCB-BCC9-9A9D3F32E423}}</ps:HostingApp><ps:BinaryVersion>4</ps:BinaryVersion><ps:UIVersion>1</ps:UIVersion><ps:Cookies></ps:Cookies><ps:RequestParams>AQAAAAIAAABsYwQAAAAxMDMz</ps:RequestParams></ps:AuthInfo><wsse:Security><wsse:UsernameToken Id="user"><wsse:Username>{email}</wsse:Username><wsse:Password>{password}</wsse:Password></wsse:UsernameToken></wsse:Security></Header><Body><ps:RequestMultipleSecurityTokens xmlns:ps="http://schemas.microsoft.com/Passport/SoapServices/PPCRL" Id="RSTS"><wst:RequestSecurityToken Id="RST0"><wst:RequestType>http://schemas.xmlsoap.org/ws/2004/04/security/trust/Issue</wst:RequestType><wsp:AppliesTo><wsa:EndpointReference><wsa:Address>http://Passport.NET/tb</wsa:Address></wsa:EndpointReference></wsp:AppliesTo></wst:RequestSecurityToken><wst:RequestSecurityToken Id="RST1"><wst:RequestType>http://schemas.xmlsoap.org/ws/2004/04/security/trust/Issue</wst:RequestType><wsp:AppliesTo><wsa:EndpointReference><wsa:Address>messengerclear.live.com</wsa:Address></wsa:EndpointReference></wsp:AppliesTo><wsse:PolicyReference URI="{policy}"></wsse:PolicyReference></wst:RequestSecurityToken><wst:RequestSecurityToken Id="RST2"><wst:RequestType>http://schemas.xmlsoap.org/ws/2004/04/security/trust/Issue</wst:RequestType><wsp:AppliesTo><wsa:EndpointReference><wsa:Address>contacts.msn.com</wsa:Address></wsa:EndpointReference></wsp:AppliesTo><wsse:PolicyReference URI="MBI"></wsse:PolicyReference></wst:RequestSecurityToken></ps:RequestMultipleSecurityTokens></Body></Envelope>'''


def rps_key(key, magic):
    h1 = hmac.new(key, magic, hashlib.sha1).digest()
    h2 = hmac.new(key, h1 + magic, hashlib.sha1).digest()
    h3 = hmac.new(key, h1, hashlib.sha1).digest()
    h4 = hmac.new(key, h3 + magic, hashlib.sha1).digest()
    return h2 + h4[:4]


def mbi_response(binary_secret_b64, nonce, iv):
    """MSNP15+ SSO answer to `USR SSO S MBI_KEY_OLD <nonce>`."""
    try:
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    except ImportError:
        from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers import Cipher, modes
    key1 = base64.b64decode(binary_secret_b64)
    key2 = rps_key(key1, b'WS-SecureConversationSESSION KEY HASH')
    key3 = rps_key(key1, b'WS-SecureConversationSESSION KEY ENCRYPTION')
    digest = hmac.new(key2, nonce, hashlib.sha1).digest()
    padded = nonce + bytes([8]) * 8          # nonce is a multiple of 8 bytes: one full pad block
    enc = Cipher(TripleDES(key3), modes.CBC(iv)).encryptor()
    cipher = enc.update(padded) + enc.finalize()
    blob = struct.pack('<IIIIIII', 28, 1, 0x6603, 0x8004, 8, 20, len(cipher)) + iv + digest + cipher
    return base64.b64encode(blob).decode()


def sso_login(name, email, guid, iv):
    c = Conn(name, HOST, NS_PORT)
    c.send('VER', 'MSNP18', 'MSNP17', 'CVR0')
    c.expect('VER')
    c.send('CVR', '0x0409', 'winnt', '6.1.0', 'i386', 'MSNMSGR', '14.0.8117.0416', 'msmsgs', email)
    c.expect('CVR')
    c.send('USR', 'SSO', 'I', email)
    parts, _ = c.expect('USR')                     # USR n SSO S MBI_KEY_OLD <nonce>
    policy, nonce = parts[4], parts[5]
    body = RST_TEMPLATE.format(email=email, password=PASSWORD, policy=policy).encode()
    _, _, xml = http_post('/RST.srf', body, {'Content-Type': 'text/xml; charset=utf-8',
                                               'User-Agent': 'MSN Explorer/9.0 (MSN 8.0; TmstmpExt)'})
    xml = xml.decode()
    m = re.search(r'<wsa:Address>messengerclear\.live\.com</wsa:Address>.*?'
                  r'<wsse:BinarySecurityToken Id="Compact\d+">(.*?)</wsse:BinarySecurityToken>.*?'
                  r'<wst:BinarySecret>(.*?)</wst:BinarySecret>', xml, re.S)
    assert m, 'no messengerclear.live.com token in the RST response'
    ticket = m.group(1).replace('&amp;', '&')
    c.send('USR', 'SSO', 'S', ticket, mbi_response(m.group(2), nonce.encode(), iv), guid)
    parts, _ = c.expect('USR')
    assert parts[2] == 'OK', parts
    c.drain(0.6)                                   # SBS, MSG Hotmail, UBX
    return c


def ml(users, l=None):
    """ADL/RML XML, grouped by domain."""
    doms = {}
    for email, lst in users:
        u, d = email.split('@')
        doms.setdefault(d, []).append(f'<c n="{u}" l="{lst}" t="1" />')
    head = f'<ml l="{l}">' if l is not None else '<ml>'
    return head + ''.join(f'<d n="{d}">{"".join(cs)}</d>' for d, cs in doms.items()) + '</ml>'


def go_online(c, email, name, psm, guid, epname, msnobj_xml):
    c.send('BLP', 'AL'); c.drain(0.3)
    c.send('ADL', payload=ml([], l=1)); c.drain(0.3)
    c.send('PRP', 'MFN', urllib.parse.quote(name)); c.drain(0.3)
    c.send('CHG', 'NLN', CAPS, urllib.parse.quote(msnobj_xml, safe='') if msnobj_xml else '0'); c.drain(0.4)
    c.send('UUX', payload=f'<Data><PSM>{psm}</PSM><CurrentMedia></CurrentMedia>'
                          f'<MachineGuid>{guid}</MachineGuid><DDP></DDP><SignatureSound></SignatureSound>'
                          f'<Scene></Scene><ColorScheme>-3</ColorScheme></Data>'); c.drain(0.3)
    c.send('UUX', payload=f'<PrivateEndpointData><EpName>{epname}</EpName><Idle>false</Idle>'
                          f'<ClientType>1</ClientType><State>NLN</State></PrivateEndpointData>'); c.drain(0.3)


# ---------------------------------------------------------------- P2P v2 over the SB

class Peer:
    """One P2P endpoint: its SB connection, identity and P2Pv2 sequence counter."""

    def __init__(self, sb, email, guid, seq):
        self.sb, self.email, self.guid, self.seq = sb, email, guid, seq
        self.package = 0
        self.ep = f'{email};{guid}'                 # P2P-Src/P2P-Dest form (GUID upper case)
        self.slp_ep = f'{email};{guid.lower()}'     # MSNSLP To/From form (lower case)

    def send_packet(self, other, pkt, appid):
        """Send one P2Pv2 packet as MSG D; check the other side receives it unchanged."""
        payload = p2p.msg_payload(other.ep, self.ep, pkt, appid)
        assert len(payload) <= 1664, len(payload)   # Escargot's SB closes on larger MSGs
        self.sb.send('MSG', 'D', payload=payload)
        parts, got = other.sb.expect('MSG')
        assert got == payload, 'switchboard changed the P2P payload'
        self.sb.drain(0.05)
        size = struct.unpack('>H', pkt[2:4])[0]
        seq = self.seq
        self.seq += size
        return seq, size

    def send_message(self, other, data, opcode, tf, session, appid, rak_last=True, syn=False):
        """Send `data` as one package split into CHUNK-byte chunks (TF First on the first).

        Returns (seq, size) of the last chunk (what the peer acknowledges)."""
        self.package += 1
        off, last = 0, None
        while off < len(data) or off == 0:
            part = data[off:off + p2p.CHUNK]
            remaining = len(data) - off - len(part)
            first = off == 0
            op = opcode if first else p2p.OP_NONE
            if rak_last and not remaining:
                op |= p2p.OP_RAK
            tlvs = [(0x01, p2p.PEER_INFO)] if (first and syn) else []
            chunk_tf = tf if first else (tf & ~p2p.TF_FIRST)
            pkt = p2p.packet(self.seq, op, tlvs, part, chunk_tf, self.package, session, remaining)
            last = self.send_packet(other, pkt, appid)
            off += len(part)
            if not remaining:
                break
        return last

    def ack(self, other, acked, syn_reply=False):
        """ACK TLV for (seq, size); WLM answers a SYN with SYN+RAK and its own peer info."""
        seq, size = acked
        tlvs = ([(0x01, p2p.PEER_INFO)] if syn_reply else []) + [p2p.ack_tlv(seq + size)]
        op = (p2p.OP_SYN | p2p.OP_RAK) if syn_reply else p2p.OP_NONE
        return self.send_packet(other, p2p.packet(self.seq, op, tlvs), 0)


def invite(frm, to, euf, session, appid, context_b64, call_id, branch, extra=''):
    body = (f'EUF-GUID: {euf}\r\nSessionID: {session}\r\n{extra}AppID: {appid}\r\n'
            f'Context: {context_b64}\r\n\r\n')
    return p2p.slp(f'INVITE MSNMSGR:{to.slp_ep} MSNSLP/1.0', to.slp_ep, frm.slp_ep, branch, 0, call_id,
                   'application/x-msnmsgr-sessionreqbody', body)


def ok_200(frm, to, session, call_id, branch, extra=''):
    return p2p.slp('MSNSLP/1.0 200 OK', to.slp_ep, frm.slp_ep, branch, 1, call_id,
                   'application/x-msnmsgr-sessionreqbody', f'SessionID: {session}\r\n{extra}\r\n')


def bye(frm, to, session, call_id, branch):
    return p2p.slp(f'BYE MSNMSGR:{to.slp_ep} MSNSLP/1.0', to.slp_ep, frm.slp_ep, branch, 0, call_id,
                   'application/x-msnmsgr-sessionclosebody', f'SessionID: {session}\r\n\r\n')


def display_picture(alice, bob, bob_msnobj):
    """alice fetches bob's display picture (bob is the data sender)."""
    ctx = base64.b64encode(bob_msnobj.encode() + b'\0').decode()
    inv = invite(alice, bob, EUF_MSNOBJ, DP_SESSION, APPID_DP, ctx, DP_CALL_ID, DP_BRANCH)
    m = alice.send_message(bob, inv, p2p.OP_SYN | p2p.OP_RAK, p2p.TF_FIRST, 0, 0, rak_last=False, syn=True)
    m = bob.ack(alice, m, syn_reply=True)
    alice.ack(bob, m)
    pause(0.2)
    m = bob.send_message(alice, ok_200(bob, alice, DP_SESSION, DP_CALL_ID, DP_BRANCH),
                         p2p.OP_RAK, p2p.TF_FIRST, 0, 0)
    alice.ack(bob, m)
    # data preparation: 4 zero bytes, TF First, the session's id, footer AppID 12
    m = bob.send_message(alice, b'\0\0\0\0', p2p.OP_RAK, p2p.TF_FIRST, DP_SESSION, APPID_DP)
    alice.ack(bob, m)
    m = bob.send_message(alice, DP_DATA, p2p.OP_NONE, p2p.TF_MSNOBJ | p2p.TF_FIRST, DP_SESSION, APPID_DP)
    alice.ack(bob, m)
    pause(0.2)
    m = alice.send_message(bob, bye(alice, bob, DP_SESSION, DP_CALL_ID, DP_BYE_BRANCH),
                           p2p.OP_RAK, p2p.TF_FIRST, 0, 0)
    bob.ack(alice, m)


def file_transfer(alice, bob):
    """alice sends bob FILE_DATA as FILE_NAME (through the switchboard, no direct connection)."""
    ctx = base64.b64encode(p2p.file_context(FILE_NAME, len(FILE_DATA))).decode()
    inv = invite(alice, bob, EUF_FILE, FILE_SESSION, APPID_FILE, ctx, FT_CALL_ID, FT_BRANCH,
                 extra='SChannelState: 0\r\nCapabilities-Flags: 1\r\n')
    m = alice.send_message(bob, inv, p2p.OP_RAK, p2p.TF_FIRST, 0, 0)
    bob.ack(alice, m)
    pause(0.3)
    m = bob.send_message(alice, ok_200(bob, alice, FILE_SESSION, FT_CALL_ID, FT_BRANCH,
                                       extra='SChannelState: 0\r\nCapabilities-Flags: 1\r\n'),
                         p2p.OP_RAK, p2p.TF_FIRST, 0, 0)
    alice.ack(bob, m)
    m = alice.send_message(bob, FILE_DATA, p2p.OP_NONE, p2p.TF_FILE | p2p.TF_FIRST, FILE_SESSION, APPID_FILE)
    bob.ack(alice, m)
    pause(0.2)
    m = bob.send_message(alice, bye(bob, alice, FILE_SESSION, FT_CALL_ID, FT_BYE_BRANCH),
                         p2p.OP_RAK, p2p.TF_FIRST, 0, 0)
    alice.ack(bob, m)


# ---------------------------------------------------------------- the session

def main():
    bob_msnobj = p2p.msnobj(BOB, len(DP_DATA), 3, base64.b64encode(hashlib.sha1(DP_DATA).digest()).decode())
    a = sso_login('alice', ALICE, ALICE_GUID, iv=bytes.fromhex('0102030405060708'))
    b = sso_login('bob', BOB, BOB_GUID, iv=bytes.fromhex('1112131415161718'))
    go_online(a, ALICE, ALICE_NAME, ALICE_PSM, ALICE_GUID, 'ALICE-PC', None)
    go_online(b, BOB, BOB_NAME, BOB_PSM, BOB_GUID, 'BOB-LAPTOP', bob_msnobj)
    a.drain(0.3)
    a.send('ADL', payload=ml([(BOB, 3)])); a.drain(0.5); b.drain(0.5)
    b.send('ADL', payload=ml([(ALICE, 3)])); b.drain(0.5); a.drain(0.5)

    a.send('XFR', 'SB')
    parts, _ = a.expect('XFR')                  # XFR n SB host:port CKI cookie U messenger.msn.com 1
    h, p = parts[3].split(':')
    asb = Conn('alice-sb', h, int(p))
    asb.send('USR', f'{ALICE};{ALICE_GUID}', parts[5])
    asb.expect('USR')
    asb.send('CAL', BOB)
    asb.expect('CAL')
    parts, _ = b.expect('RNG')                  # RNG sessid host:port CKI cookie inviter name U host 1
    h, p = parts[2].split(':')
    bsb = Conn('bob-sb', h, int(p))
    bsb.send('ANS', f'{BOB};{BOB_GUID}', parts[4], parts[1])
    bsb.expect('ANS')
    bsb.drain(0.3)
    asb.expect('JOI')
    asb.drain(0.3)

    asb.send('MSG', 'U', payload=TYPING.format(ALICE)); bsb.expect('MSG'); pause(0.4)
    asb.send('MSG', 'A', payload=text_msg('Hi Bob! Can I see your new picture?'))
    asb.expect('ACK'); bsb.expect('MSG'); pause(0.4)
    bsb.send('MSG', 'U', payload=TYPING.format(BOB)); asb.expect('MSG'); pause(0.4)
    bsb.send('MSG', 'N', payload=text_msg('Sure, and send me those notes.', font='Calibri', co='800000'))
    asb.expect('MSG'); pause(0.4)

    alice = Peer(asb, ALICE, ALICE_GUID, seq=0x1A2B3C00)
    bob = Peer(bsb, BOB, BOB_GUID, seq=0x5E6F7000)
    display_picture(alice, bob, bob_msnobj)
    pause(0.4)
    file_transfer(alice, bob)
    pause(0.4)
    asb.send('MSG', 'A', payload=text_msg('Got it, thanks!')); asb.expect('ACK'); bsb.expect('MSG')
    pause(0.3)

    bsb.send('OUT', trid=False)
    asb.expect('BYE')
    asb.drain(0.3)
    asb.send('OUT', trid=False)
    pause(0.3)
    a.send('OUT', trid=False); b.drain(0.6)
    b.send('OUT', trid=False)
    pause(0.3)
    for c in (asb, bsb, a, b):
        c.close()
    print('DP   size', len(DP_DATA), 'sha1', hashlib.sha1(DP_DATA).hexdigest(), 'msnobj', bob_msnobj)
    print('FILE', FILE_NAME, 'size', len(FILE_DATA), 'sha1', hashlib.sha1(FILE_DATA).hexdigest())
    print('DONE')


if __name__ == '__main__':
    sys.exit(main())
