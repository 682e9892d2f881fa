"""P2P v2 (MSNP16+/WLM 2009) framing and MSNSLP text, built byte by byte.

Layout (all multi-byte integers big-endian, as MSNPSharp's P2Pv2Header and libpurple's
p2p.c write them):

  transport header   u8 HeaderLength (8 + TLVs, padded to a multiple of 4)
                     u8 OpCode (0x01 SYN, 0x02 RAK)
                     u16 MessageSize (data header + payload; 0 for a bare ACK)
                     u32 SequenceNumber (advances by MessageSize per message sent)
                     TLVs: 0x01 peer info (12 bytes), 0x02 ACK (u32: the acked message's
                     SequenceNumber + MessageSize), 0x03 NAK; zero padding
  data header        u8 DataHeaderLength (8 + TLVs, padded to 4)      } only when
  (MessageSize > 0)  u8 TF combination (0x01 First, 0x04 MSNObject,  } MessageSize > 0
                        0x06 file; 0x05 / 0x07 on a data object's first chunk)
                     u16 PackageNumber, u32 SessionID
                     TLV 0x01: u64 bytes of this package still to come after this chunk
  payload
  footer (SB only)   u32 AppID big-endian (0 for MSNSLP, 12 display picture, 2 file)

The MSG around it (switchboard, `MSG trid D len`):
  MIME-Version: 1.0 / Content-Type: application/x-msnmsgrp2p /
  P2P-Dest: bob@example.com;{GUID} / P2P-Src: alice@example.com;{GUID}
"""
import base64
import hashlib
import struct

OP_NONE, OP_SYN, OP_RAK = 0x00, 0x01, 0x02
TF_NONE, TF_FIRST, TF_MSNOBJ, TF_FILE = 0x00, 0x01, 0x04, 0x06

# Peer-info TLV value as MSNPSharp writes it (P2PConst: ProtocolVersion 0x0200,
# ImplementationID 0, PeerInfoVersion 0x0E00, reserved 0, Capabilities 0x0000010F), each
# field little-endian (BitUtility.GetBytes(x, true)).
PEER_INFO = struct.pack('<HHHHI', 0x0200, 0x0000, 0x0E00, 0x0000, 0x0000010F)

# Largest payload per SB chunk (WLM / MSNPSharp: 1202).
CHUNK = 1202


def _tlvs(items):
    raw = b''.join(bytes([t, len(v)]) + v for t, v in items)
    return raw + b'\0' * (-(8 + len(raw)) % 4)


def packet(seq, opcode=OP_NONE, tlvs=(), payload=None, tf=TF_NONE, package=0, session=0, remaining=0):
    """One P2Pv2 transport packet (no footer)."""
    head_tlv = _tlvs(tlvs)
    body = b''
    if payload is not None:
        data_tlv = _tlvs([(0x01, struct.pack('>Q', remaining))] if remaining else [])
        body = bytes([8 + len(data_tlv), tf]) + struct.pack('>HI', package, session) + data_tlv + payload
    return bytes([8 + len(head_tlv), opcode]) + struct.pack('>HI', len(body), seq) + head_tlv + body


def ack_tlv(seq_plus_size):
    return (0x02, struct.pack('>I', seq_plus_size))


def msg_payload(dest, src, p2p, appid):
    """The MIME body of `MSG trid D len` carrying one P2P packet plus its footer."""
    mime = ('MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\n'
            f'P2P-Dest: {dest}\r\nP2P-Src: {src}\r\n\r\n').encode()
    return mime + p2p + struct.pack('>I', appid)


def slp(first_line, to, frm, branch, cseq, call_id, ctype, body):
    """MSNSLP message; body gets the trailing NUL and Content-Length counts it."""
    body = body.encode() + b'\0'
    head = (f'{first_line}\r\n'
            f'To: <msnmsgr:{to}>\r\n'
            f'From: <msnmsgr:{frm}>\r\n'
            f'Via: MSNSLP/1.0/TLP ;branch={branch}\r\n'
            f'CSeq: {cseq} \r\n'
            f'Call-ID: {call_id}\r\n'
            'Max-Forwards: 0\r\n'
            f'Content-Type: {ctype}\r\n'
            f'Content-Length: {len(body)}\r\n\r\n')
    return head.encode() + body


def msnobj(creator, size, typ, sha1d_b64, location='0', friendly='AAA='):
    """MSNObject XML as WLM 2009 writes it, with SHA1C computed over the fields."""
    fields = [('Creator', creator), ('Size', str(size)), ('Type', str(typ)), ('Location', location),
              ('Friendly', friendly), ('SHA1D', sha1d_b64)]
    sha1c = base64.b64encode(hashlib.sha1(''.join(k + v for k, v in fields).encode()).digest()).decode()
    attrs = ' '.join(f'{k}="{v}"' for k, v in fields)
    return f'<msnobj {attrs} SHA1C="{sha1c}"/>'


def file_context(name, size, version=3, preview_flag=1):
    """The file-transfer Context: u32 length, u32 version, u64 size, u32 type (preview flag),
    520 bytes UTF-16LE name, 30 bytes unknown, u32 0xFFFFFFFF, and for version 3 (WLM 2009)
    64 more bytes: 638 in all (574 for version 2)."""
    fname = name.encode('utf-16-le')[:518].ljust(520, b'\0')
    length = 638 if version == 3 else 574
    ctx = struct.pack('<IIQI', length, version, size, preview_flag) + fname + b'\0' * 30 + b'\xff\xff\xff\xff'
    if version == 3:
        ctx += b'\0' * 64
    assert len(ctx) == length
    return ctx


def tiny_png(width, height, seed):
    """A valid RGB PNG of pseudo-random pixels (deterministic; incompressible, so its size is
    about width*height*3 bytes)."""
    import zlib
    x = seed
    rows = bytearray()
    for _ in range(height):
        rows.append(0)
        for _ in range(width * 3):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            rows.append((x >> 16) & 0xFF)

    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(bytes(rows), 9)) + chunk(b'IEND', b''))
