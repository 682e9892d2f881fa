import functools
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURES = os.path.join(os.path.dirname(HERE), "captures")


def cap(name: str) -> str:
    return os.path.join(CAPTURES, name)


@functools.lru_cache(maxsize=None)
def _doc(name):
    from msnsniff.analyze import analyse
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


def raw_segments(name):
    from msnsniff.capture import read_segments
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
