"""P2P v1 (MSNC1-MSNC7, MSN Messenger 6.x-7.5 / MSNP9-MSNP15) framing, direct-connection
helpers shared by v1 and v2, and a few small deterministic test objects.

P2P v1 binary header: 48 bytes, every field little-endian (libpurple p2p.h `MsnP2PHeader`,
Miranda `P2P_Header`, MSNPSharp `P2Pv1Header`):

  off size field
    0  u32  SessionID      0 for MSNSLP signalling, the SLP SessionID for data
    4  u32  Identifier     one per message; all chunks of a message share it
    8  u64  Offset         of this chunk inside the message
   16  u64  TotalSize      of the whole message
   24  u32  MessageLength  of this chunk
   28  u32  Flags          0 / 0x02 ACK / 0x20 MSNObject data / 0x01000030 file data /
                           0x100 direct-connection handshake
   32  u32  AckSessionID   (AckIdentifier) a random "unique id" on ordinary messages; on an
                           ACK: the acknowledged message's Identifier
   36  u32  AckUniqueID    on an ACK: the acknowledged message's AckSessionID
   40  u64  AckDataSize    on an ACK: the acknowledged message's TotalSize
  ... payload (MessageLength bytes), then on the switchboard only the footer:
       u32 AppID big-endian (0 SLP, 1 MSNObject, 2 file, 11 custom emoticon).

Direct connection (v1 and v2): every frame is u32 little-endian length + bytes; first
frame `04 00 00 00 "foo\\0"`, then the handshake: v1 = a 48-byte header with Flags 0x100 and
the nonce GUID (bytes_le) in bytes 32-47 (libpurple directconn.c copies the nonce over
ack_id/ack_uid/ack_size), echoed by the listener; v2 = the 16 nonce bytes alone, echoed.
Data frames are the P2P packet without the switchboard footer.
"""
import base64
import hashlib
import math
import socket
import struct
import uuid
import zlib

HEADER = struct.Struct('<IIQQIIIIQ')
FLAG_NONE, FLAG_ACK, FLAG_MSNOBJ, FLAG_DC_HANDSHAKE, FLAG_FILE = 0, 0x02, 0x20, 0x100, 0x01000030
CHUNK = 1202          # largest payload per switchboard MSG (MSN 7.5, libpurple, MSNPSharp)
DC_CHUNK = 1352       # largest payload per direct-connection frame (libpurple DC_MAX_BODY_SIZE)


def header(session, ident, offset, total, length, flags, ack_id=0, ack_uid=0, ack_size=0):
    return HEADER.pack(session, ident, offset, total, length, flags, ack_id, ack_uid, ack_size)


def parse_header(b):
    return HEADER.unpack(b[:48])


def msg_payload(dest, p2p, appid):
    """MIME body of `MSG trid D len` with one v1 packet + footer (MSN 7.5 writes only P2P-Dest)."""
    mime = f'MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: {dest}\r\n\r\n'.encode()
    return mime + p2p + struct.pack('>I', appid)


# ---------------------------------------------------------------- direct connection

def frame(data):
    """One direct-connection frame: u32 LE length + data."""
    return struct.pack('<I', len(data)) + data


FOO = frame(b'foo\0')


def v1_handshake(ident, nonce_guid):
    """v1 DC handshake: 48-byte header, Flags 0x100, the nonce (GUID bytes_le) at offset 32."""
    return header(0, ident, 0, 0, 0, FLAG_DC_HANDSHAKE)[:32] + uuid.UUID(nonce_guid).bytes_le


def hashed_nonce(nonce_guid):
    """Hashed-Nonce of a v2 DC: SHA1 of the 16 nonce bytes (bytes_le), first 16 bytes of the
    digest read back as a GUID the same way (libpurple msn_dc_generate_nonce, MSNPSharp)."""
    digest = hashlib.sha1(uuid.UUID(nonce_guid).bytes_le).digest()
    return '{' + str(uuid.UUID(bytes_le=digest[:16])).upper() + '}'


def recv_exact(sock, n, timeout=5.0):
    sock.settimeout(timeout)
    buf = b''
    while len(buf) < n:
        d = sock.recv(n - len(buf))
        if not d:
            raise ConnectionError('direct connection closed')
        buf += d
    return buf


def recv_frame(sock):
    n = struct.unpack('<I', recv_exact(sock, 4))[0]
    return recv_exact(sock, n)


def listen(port):
    """The listening socket of the side that answered `Listening: true` (127.0.0.1:port)."""
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(('127.0.0.1', port))
    lst.listen(1)
    return lst


# ---------------------------------------------------------------- small deterministic objects

def prng_bytes(n, seed):
    x, out = seed, bytearray()
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out.append((x >> 16) & 0xFF)
    return bytes(out)


def tiny_cab(name, content):
    """A valid, uncompressed (type 0 = none) single-file Microsoft Cabinet, like a wink's .cab
    (real winks hold a .swf plus a .png; one small file keeps the capture small)."""
    name_b = name.encode() + b'\0'
    cfheader_len, cffolder_len = 36, 8
    cffile_len = 16 + len(name_b)
    coff_files = cfheader_len + cffolder_len
    coff_data = coff_files + cffile_len
    cfdata = struct.pack('<IHH', 0, len(content), len(content)) + content   # checksum 0 = none
    total = coff_data + len(cfdata)
    head = (b'MSCF' + struct.pack('<IIIIIBBHHHHH', 0, total, 0, coff_files, 0, 3, 1, 1, 1, 0, 0x1234, 0))
    folder = struct.pack('<IHH', coff_data, 1, 0)
    cffile = struct.pack('<IIHHHH', len(content), 0, 0, 0x3A21, 0x6000, 0x20) + name_b
    cab = head + folder + cffile + cfdata
    assert len(cab) == total
    return cab


def tiny_wav(samples, period):
    """A valid RIFF/WAVE, 8 kHz mono 8-bit PCM: a sine tone of `period` samples (real voice clips
    are SIREN-coded WAVs; a tone keeps the capture small)."""
    data = bytes(128 + int(100 * math.sin(2 * math.pi * i / period)) for i in range(samples))
    fmt = struct.pack('<HHIIHH', 1, 1, 8000, 8000, 1, 8)
    body = b'WAVE' + b'fmt ' + struct.pack('<I', len(fmt)) + fmt + b'data' + struct.pack('<I', len(data)) + data
    return b'RIFF' + struct.pack('<I', len(body)) + body


def png(width, height, seed):
    """Valid RGB PNG of pseudo-random (incompressible) pixels: about width*height*3 bytes."""
    rows = bytearray()
    raw = prng_bytes(width * height * 3, seed)
    for y in range(height):
        rows.append(0)
        rows += raw[y * width * 3:(y + 1) * width * 3]

    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(bytes(rows), 9)) + chunk(b'IEND', b''))


def msnobj(creator, data, typ, location='0', friendly='AAA='):
    """MSNObject XML (field order as MSN 7.5 / WLM write it), SHA1D of `data`, SHA1C over the fields."""
    sha1d = base64.b64encode(hashlib.sha1(data).digest()).decode()
    fields = [('Creator', creator), ('Size', str(len(data))), ('Type', str(typ)), ('Location', location),
              ('Friendly', friendly), ('SHA1D', sha1d)]
    sha1c = base64.b64encode(hashlib.sha1(''.join(k + v for k, v in fields).encode()).digest()).decode()
    return '<msnobj ' + ' '.join(f'{k}="{v}"' for k, v in fields) + f' SHA1C="{sha1c}"/>'


def friendly(name):
    """MSNObject Friendly attribute: base64 of the UTF-16LE name plus a NUL character."""
    return base64.b64encode((name + '\0').encode('utf-16-le')).decode()
