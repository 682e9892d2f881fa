"""Chunked switchboard messages (MSNP12+; docs/p2p.md): a message too long for one MSG
is sent as several, all carrying ``Message-ID: {guid}``; the first says ``Chunks: N``
and carries the Content-Type and the other headers, the continuations say ``Chunk: i``
(1 … N-1) and carry only body bytes.  They are joined before the content type is
interpreted, for every type (text, datacasts, emoticons).

Bounded: at most MAX_OPEN messages being joined per connection and direction, MAX_CHUNKS
chunks and MAX_BYTES bytes each; what is given up is reported (never silently dropped)."""

from __future__ import annotations

from collections import OrderedDict

from ..protocol.mime import header, split_payload
from ..protocol.numbers import net_int

MAX_OPEN = 16
MAX_CHUNKS = 64
MAX_BYTES = 256 * 1024


class ChunkJoin:
    def __init__(self):
        self.open: OrderedDict = OrderedDict()     # (dir, Message-ID) -> state

    def add(self, payload: bytes, d: int, ts: float):
        """The whole payload once the last chunk is in (bytes), None while it is being
        joined, a sentence when the chunk cannot be joined, or the payload itself when
        it is not a chunk after all."""
        headers, body = split_payload(payload)
        mid = header(headers, "Message-ID")
        chunks, chunk = header(headers, "Chunks"), header(headers, "Chunk")
        if not mid or not (chunks or chunk):
            return payload
        key = (d, mid)
        if chunks:
            n = net_int(chunks)
            if n is None or not 1 <= n <= MAX_CHUNKS:
                return f"message {mid} announces {chunks!r} chunks (at most {MAX_CHUNKS})"
            if n == 1:
                return payload
            # the first chunk's header block, the Chunks header dropped
            head = payload[:len(payload) - len(body)]
            head = b"".join(line for line in head.splitlines(keepends=True)
                            if not line.lower().startswith(b"chunks:"))
            self.open[key] = {"head": head, "parts": {0: body}, "n": n, "size": len(body)}
            if len(self.open) > MAX_OPEN:
                (_, omid), st = self.open.popitem(last=False)
                return (f"more than {MAX_OPEN} chunked messages open at once: message {omid} "
                        f"given up with {len(st['parts'])} of {st['n']} chunks")
            return None
        st = self.open.get(key)
        i = net_int(chunk)
        if st is None:
            return f"chunk {chunk} of message {mid} follows no first chunk seen"
        if i is None or not 1 <= i < st["n"]:
            return f"chunk {chunk!r} of message {mid} is not between 1 and {st['n'] - 1}"
        st["parts"][i] = body
        st["size"] += len(body)
        if st["size"] > MAX_BYTES:
            del self.open[key]
            return f"message {mid} grew past {MAX_BYTES} bytes: given up"
        if len(st["parts"]) < st["n"]:
            return None
        del self.open[key]
        return st["head"] + b"".join(st["parts"][k] for k in range(st["n"]))

    def unfinished(self):
        for (d, mid), st in self.open.items():
            yield d, (f"message {mid} ended with {len(st['parts'])} of {st['n']} chunks: "
                      "its text was never whole")
        self.open.clear()
