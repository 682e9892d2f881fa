"""Shared helpers for the Escargot capture clients (capture_msnp8.py, capture_msnp18_p2p.py).

A deliberately small, blocking MSNP client: one TCP connection per `Conn`, commands
written exactly as the real clients write them, replies read line by line (payload
commands read their byte count).  Everything talks to an Escargot server on 127.0.0.1:
NS 1863, SB 1864, HTTP (Passport / RST.srf stand-ins) 8081.
"""
import socket
import time
import urllib.request

HOST = '127.0.0.1'
NS_PORT = 1863
HTTP_PORT = 8081
PASSWORD = 'secret123'

# Server->client commands whose last argument is a payload length.
PAYLOAD_CMDS = {'MSG', 'NOT', 'UBX', 'GCF', 'IPG', 'UBM', 'NFY', 'SDG', 'UBN', 'UUN', 'ADL', 'RML', 'FQY'}
# (an acknowledgement like "ADL 5 OK" has none).


class Conn:
    """One MSNP connection (NS or SB) with TrID bookkeeping and a tiny reader."""

    def __init__(self, name, host, port, verbose=True):
        self.name = name
        self.s = socket.create_connection((host, port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b''
        self.trid = 0
        self.verbose = verbose

    def log(self, s):
        if self.verbose:
            print(f'{self.name:9} {s}')

    def send(self, cmd, *args, payload=None, trid=True):
        """Send `CMD [trid] args... [len]\\r\\n[payload]` in one write; returns the TrID."""
        parts = [cmd]
        if trid:
            self.trid += 1
            parts.append(str(self.trid))
        parts += [str(a) for a in args]
        if payload is not None:
            if isinstance(payload, str):
                payload = payload.encode('utf-8')
            parts.append(str(len(payload)))
        data = (' '.join(parts) + '\r\n').encode('utf-8') + (payload or b'')
        self.log(f'>>> {data[:300]!r}{" ..." if len(data) > 300 else ""}')
        self.s.sendall(data)
        return self.trid

    def _fill(self, timeout):
        self.s.settimeout(max(timeout, 0.01))
        try:
            d = self.s.recv(65536)
        except socket.timeout:
            return False
        if not d:
            raise ConnectionError(f'{self.name}: connection closed by server')
        self.buf += d
        return True

    def read_cmd(self, timeout=3.0):
        """Return (parts, payload) of the next command, or None on timeout."""
        end = time.time() + timeout
        while b'\r\n' not in self.buf:
            if end - time.time() <= 0 or not self._fill(end - time.time()):
                return None
        line, rest = self.buf.split(b'\r\n', 1)
        parts = line.decode('utf-8', 'replace').split(' ')
        payload = None
        if parts[0] in PAYLOAD_CMDS and len(parts) > 1 and parts[-1].isdigit() \
                and not (len(parts) == 3 and parts[2] == 'OK'):
            n = int(parts[-1])
            self.buf = rest
            while len(self.buf) < n:
                if not self._fill(5.0):
                    raise RuntimeError(f'{self.name}: payload of {parts[0]} not complete')
            payload, rest = self.buf[:n], self.buf[n:]
        self.buf = rest
        self.log(f'<<< {line!r}' + (f' + {len(payload)} bytes {payload[:200]!r}' if payload is not None else ''))
        return parts, payload

    def expect(self, cmd, timeout=5.0):
        """Read until a command `cmd` arrives (others are logged and skipped)."""
        end = time.time() + timeout
        while time.time() < end:
            r = self.read_cmd(end - time.time())
            if r is None:
                break
            if r[0][0] == cmd:
                return r
            if r[0][0].isdigit():
                raise RuntimeError(f'{self.name}: error {r[0]} while waiting for {cmd}')
        raise RuntimeError(f'{self.name}: did not get {cmd}')

    def drain(self, timeout=0.6):
        """Read and log whatever arrives until `timeout` seconds of silence."""
        got = []
        while True:
            r = self.read_cmd(timeout)
            if r is None:
                return got
            got.append(r)

    def close(self):
        self.s.close()


def http_get(path, headers):
    req = urllib.request.Request(f'http://{HOST}:{HTTP_PORT}{path}', headers=headers)
    with urllib.request.urlopen(req) as r:
        return r.status, r.headers, r.read()   # headers: case-insensitive HTTPMessage


def http_post(path, body, headers):
    req = urllib.request.Request(f'http://{HOST}:{HTTP_PORT}{path}', data=body, headers=headers, method='POST')
    with urllib.request.urlopen(req) as r:
        return r.status, r.headers, r.read()   # headers: case-insensitive HTTPMessage


def pause(t=0.25):
    """Space the steps out a little so the capture reads like a human session."""
    time.sleep(t)
