import functools
import os

import pytest
from hypothesis import settings

# CI runs the property tests on a fixed sequence of examples so a run is repeatable;
# developers get fresh random examples every time (and .hypothesis/ keeps failures).
settings.register_profile("ci", derandomize=True, database=None, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURES = os.path.join(os.path.dirname(HERE), "captures")


def cap(name: str) -> str:
    return os.path.join(CAPTURES, name)


@functools.lru_cache(maxsize=None)
def _doc(name):
    from msnsniff.engine.analyze import analyse
    return analyse([cap(name)])


@pytest.fixture
def doc():
    """doc("file.pcap") -> the analysis document (cached; do not mutate)."""
    return _doc


def by(rows, **kw):
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items())]


def one(rows, **kw):
    found = by(rows, **kw)
    assert len(found) == 1, (kw, found)
    return found[0]


def cut_after(tmp_path, marker: bytes, name="msnp8_session.pcap") -> str:
    """A copy of a sample pcap cut right after the first record containing ``marker``
    (a capture that stopped there)."""
    import gzip
    import struct
    data = open(cap(name), "rb").read()
    if name.endswith(".gz"):            # the P2P samples are committed gzipped
        data = gzip.decompress(data)
        name = name[:-3]
    off = 24
    while off < len(data):
        n = struct.unpack_from("<I", data, off + 8)[0]
        rec = data[off + 16:off + 16 + n]
        off += 16 + n
        if marker in rec:
            break
    out = tmp_path / f"cut-{name}"
    out.write_bytes(data[:off])
    return str(out)


def raw_segments(name):
    from msnsniff.capture.files import read_segments
    return list(read_segments(cap(name)))


def stream_bytes(name, server_port, client_ip=None, direction=1):
    """The TCP payload bytes of one direction of one connection, in capture order,
    as (seq, payload, flags) triples, read with the raw reader (no reassembly)."""
    out = []
    for s in raw_segments(name):
        if direction == 1 and s.sport == server_port and (client_ip is None or s.dst == client_ip):
            out.append(s)
        elif direction == 0 and s.dport == server_port and (client_ip is None or s.src == client_ip):
            out.append(s)
    return out


def write_pcap(path, packets, linktype=1, snaplen=262144):
    """A pcap of synthetic Ethernet/IPv4/TCP packets (for adversarial inputs that no
    real program sends).  packets: (ts, src, sport, dst, dport, seq, ack, flags, payload)."""
    import socket
    import struct
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
        for ts, src, sport, dst, dport, seq, ack, flags, payload in packets:
            ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0,
                             socket.inet_aton(src), socket.inet_aton(dst))
            tcp = struct.pack(">HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack, 0x50, flags,
                              65535, 0, 0)
            frame = b"\x00" * 12 + b"\x08\x00" + ip + tcp + payload
            sec = int(ts)
            f.write(struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(frame), len(frame)))
            f.write(frame)
    return str(path)


def conversation(client=("10.0.0.1", 40000), server=("10.0.0.2", 1863), c2s=(), s2c=(), t0=1.0):
    """Packets of one connection: SYN, SYN-ACK, then the c2s / s2c payloads interleaved."""
    cseq, sseq = 1000, 5000
    out = [(t0, *client, *server, cseq - 1, 0, 0x02, b""),
           (t0, *server, *client, sseq - 1, cseq, 0x12, b"")]
    t = t0
    for a, b in zip(list(c2s) + [None] * max(0, len(s2c) - len(c2s)),
                    list(s2c) + [None] * max(0, len(c2s) - len(s2c))):
        t += 0.01
        if a:
            out.append((t, *client, *server, cseq, sseq, 0x18, a))
            cseq += len(a)
        if b:
            out.append((t, *server, *client, sseq, cseq, 0x18, b))
            sseq += len(b)
    return out


def private_network(test):
    """Run a real-socket test in a network namespace of its own (`unshare -n`, with only
    its own loopback up): a developer's MSN server or any other traffic on this machine's
    `lo` can neither answer it nor be counted by its sniffer."""
    import shutil
    import subprocess
    import sys

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        if os.environ.get("MSNSNIFF_IN_NETNS") == "1":
            return test(*args, **kwargs)
        if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
            pytest.skip("a private network namespace needs root, unshare and ip")
        nodeid = os.environ["PYTEST_CURRENT_TEST"].rsplit(" ", 1)[0]
        root = os.path.dirname(HERE)
        r = subprocess.run(["unshare", "--net", "sh", "-c", 'ip link set lo up && '
                            f'MSNSNIFF_IN_NETNS=1 exec "{sys.executable}" -m pytest -q '
                            f'-p no:cacheprovider "$0"', nodeid], cwd=root,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, (r.stdout[-4000:] + r.stderr[-2000:])
        assert " passed" in r.stdout
    return wrapper


def read_pty(master: int) -> bytes:
    """Everything written to a pseudo-terminal until its other side closes (Linux reports
    the close as EIO)."""
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return out


# ---------------------------------------------------------------- running msnsniff
def msnsniff(*args, **kw):
    """msnsniff in a process of its own, as a person runs it (text output)."""
    import subprocess
    import sys
    kw.setdefault("timeout", 300)
    return subprocess.run([sys.executable, "-m", "msnsniff", *args], capture_output=True,
                          text=True, **kw)


def invoke(*args, input=None):
    """msnsniff's command line in this process (click's runner): faster than a process,
    for tests of options and output, not of terminals or signals."""
    from click.testing import CliRunner

    from msnsniff.cli import cli
    return CliRunner().invoke(cli, list(args), input=input)


def on_terminal(*args, cols=None) -> bytes:
    """stdout and stderr of msnsniff on a pseudo-terminal (``cols`` wide), as a person
    sees them."""
    import pty
    import subprocess
    import sys
    master, slave = pty.openpty()
    if cols:
        import fcntl
        import struct
        import termios
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    p = subprocess.Popen([sys.executable, "-m", "msnsniff", *args], stdout=slave,
                         stderr=slave, close_fds=True)
    os.close(slave)
    out = read_pty(master)
    p.wait(30)
    return out
