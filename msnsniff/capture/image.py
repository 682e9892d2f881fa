"""Any file as a stream of byte chunks, for ``carve`` (memory images, pagefiles, disk
images; ``-`` for standard input; gzip/bzip2/xz as for captures).  Only this module
reads the image: the carver (stream/carve.py) takes the chunks as values."""

from __future__ import annotations

import sys
from typing import Iterator

from ..errors import MsnsniffError
from .files import STREAM_ERRORS, _decompressing, _open, file_size

CHUNK = 8 << 20          # large reads: the carver's per-chunk cost is a few C passes


class ImageStats:
    """What was read: ``position`` bytes of the file itself (for the progress bar),
    ``read`` bytes handed out (after decompression)."""

    def __init__(self, path: str):
        self.path = path
        self.size = file_size(path)
        self.position = 0
        self.read = 0
        self.compression = None
        self.broken = None       # a damaged compressed stream: what was read is kept


def read_chunks(path: str, stats: ImageStats | None = None,
                chunk: int = CHUNK) -> Iterator[bytes]:
    stats = stats if stats is not None else ImageStats(path)
    raw = _open(path)
    f = raw
    try:
        f, stats.compression = _decompressing(raw)
        while True:
            try:
                data = f.read(chunk)
            except STREAM_ERRORS as e:
                if stats.compression is None:
                    raise MsnsniffError(f"{path}: cannot read: {e}") from None
                stats.broken = f"{stats.compression} stream broken: {e}"
                return
            if not data:
                return
            stats.read += len(data)
            try:
                stats.position = raw.tell() if raw is not sys.stdin.buffer else stats.read
            except OSError:
                stats.position = stats.read
            yield data
    finally:
        if f is not raw:
            f.close()
        if raw is not sys.stdin.buffer:
            raw.close()


def read_range(path: str, start: int, stop: int, chunk: int = CHUNK) -> Iterator[bytes]:
    """Bytes start..stop of a regular, uncompressed file (one task of a parallel carve)."""
    try:
        f = open(path, "rb", buffering=0)
    except OSError as e:
        raise MsnsniffError(f"{path}: cannot open: {e.strerror or e}") from None
    with f:
        f.seek(start)
        left = stop - start
        while left > 0:
            data = f.read(min(chunk, left))
            if not data:
                return
            left -= len(data)
            yield data


def splittable(path: str) -> bool:
    """A regular file that is not compressed: it can be read in ranges."""
    import os
    import stat
    if path == "-":
        return False
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError:
        return False
    return not (head.startswith(b"\x1f\x8b") or head.startswith(b"BZh")
                or head.startswith(b"\xfd7zXZ\x00"))
