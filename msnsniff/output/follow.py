"""`msnsniff follow`: one connection's conversation as the protocol has it — both
directions in order, each command on its line, payloads shown with their boundaries
(text decoded, binary as a hex dump), gaps and undecodable bytes where they are.
Lines from the network are escaped (``safe_text``) before any colour is added."""

from __future__ import annotations

from ..model.timefmt import iso
from ..protocol.mime import split_payload
from ..protocol.tables import MIME_PAYLOAD_VERBS
from ..stream.framing import FileAbort, FileData, RawCommand, Undecodable
from .emit import safe_text

ARROWS = {0: "→", 1: "←"}
COLOURS = {0: "\x1b[36m", 1: "\x1b[33m", "damage": "\x1b[31m"}
RESET = "\x1b[0m"


_MIME_PAYLOADS = MIME_PAYLOAD_VERBS


def hexdump(data: bytes, indent: str = "      ") -> list[str]:
    out = []
    for i in range(0, len(data), 16):
        chunk = data[i:i + 16]
        hexs = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        out.append(f"{indent}{i:06x}  {hexs:<47}  {text}")
    return out


def _printable(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\r\n\t" for c in text)


class FollowPrinter:
    """Lines for one connection's framed items (``raw``: the bytes as captured)."""

    def __init__(self, colour=False, raw=False):
        self.colour = colour
        self.raw = raw

    def _paint(self, key, text):
        return f"{COLOURS[key]}{text}{RESET}" if self.colour else text

    def item(self, ts, d, item) -> list[str]:
        t = iso(ts)[11:] if ts else "?"
        arrow = ARROWS.get(d, "·")
        if isinstance(item, RawCommand):
            line = " ".join([item.verb, *item.params])
            head = self._paint(d, f"{t} {arrow} {safe_text(line)}")
            out = [head]
            if item.payload is not None:
                out += self._payload(item)
            if self.raw:
                wire = line.encode("utf-8", "replace") + b"\r\n" + (item.payload or b"")
                out += hexdump(wire)
            return out
        if isinstance(item, Undecodable):
            return [self._paint("damage", f"{t} {arrow} !! {item.length} bytes undecodable at "
                                          f"offset {item.offset} ({safe_text(item.reason)})")]
        if isinstance(item, FileData):
            out = [self._paint(d, f"{t} {arrow} [file data: {len(item.data)} bytes at offset "
                                  f"{item.offset}]")]
            return out + (hexdump(item.data[:64]) if self.raw else [])
        if isinstance(item, FileAbort):
            return [self._paint(d, f"{t} {arrow} [file transfer aborted by the sender]")]
        return []

    def gap(self, ts, d, length, offset) -> list[str]:
        return [self._paint("damage", f"{iso(ts)[11:]} {ARROWS.get(d, '·')} !! {length} bytes "
                                      f"never captured (gap at offset {offset})")]

    def _payload(self, cmd) -> list[str]:
        data = cmd.payload
        out = [f"      ┌ payload {len(data)} bytes"
               + (f" ({cmd.missing} missing)" if cmd.missing else "")]
        # MIME only where the payload is MIME: NOT, UBX, UUX (and ADL, GCF …) carry XML,
        # whose lines are not "Header: value"
        headers, body = split_payload(data) if cmd.verb in _MIME_PAYLOADS else ({}, data)
        if headers:
            for k, v in headers.items():
                out.append(f"      │ {safe_text(k)}: {safe_text(str(v))}")
            out.append("      │")
        if _printable(body):
            for ln in body.decode("utf-8").splitlines() or [""]:
                out.append(f"      │ {safe_text(ln)}")
        else:
            out += [f"      │{x[5:]}" for x in hexdump(body[:512])]
            if len(body) > 512:
                out.append(f"      │ … {len(body) - 512} more bytes")
        out.append("      └")
        return out
