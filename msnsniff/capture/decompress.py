"""zstd and lz4 captures (tshark reads both; Wireshark writes .pcapng.zst and .lz4):
opened through the zstandard and lz4 packages, with their errors turned into OSError so
that a damaged stream is reported as damage like a damaged gzip (files.STREAM_ERRORS)."""

from __future__ import annotations

import io

from ..errors import MsnsniffError


class _Translated(io.RawIOBase):
    """A raw stream whose library-specific errors become OSError."""

    def __init__(self, inner, errors: tuple):
        self.inner, self.errors = inner, errors

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        try:
            data = self.inner.read(len(b))
        except self.errors as e:
            raise OSError(str(e) or type(e).__name__) from None
        n = len(data)
        b[:n] = data
        return n


def open_zstd(f, max_window: int):
    """A buffered reader of a zstd stream; a window over ``max_window`` bytes is refused
    by the decompressor (bounded memory, as for xz)."""
    try:
        import zstandard
    except ImportError:
        raise MsnsniffError("a zstd-compressed capture: install the zstandard package "
                            "(pip install zstandard) or decompress it first") from None
    reader = zstandard.ZstdDecompressor(max_window_size=max_window).stream_reader(
        f, read_across_frames=True)
    return io.BufferedReader(_Translated(reader, (zstandard.ZstdError,)))


def open_lz4(f):
    """A buffered reader of an lz4 frame stream (blocks of at most 4 MB)."""
    try:
        import lz4.frame
    except ImportError:
        raise MsnsniffError("an lz4-compressed capture: install the lz4 package "
                            "(pip install lz4) or decompress it first") from None
    # lz4.frame reports damage as RuntimeError
    return io.BufferedReader(_Translated(lz4.frame.LZ4FrameFile(f, "rb"), (RuntimeError,)))
