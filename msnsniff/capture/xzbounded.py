"""An xz reader whose decoder memory is bounded.  ``lzma.LZMAFile`` takes no memory
limit: an xz header may ask for a dictionary of up to 1.5 GiB, and the decoder
allocates it before reading a byte of the capture.  No I/O of its own (reads the file
object it is given)."""

from __future__ import annotations

import io
import lzma


class XzMemoryError(ValueError):
    """The stream needs more decoder memory than the limit."""


class BoundedXz(io.RawIOBase):
    """Concatenated xz streams, decoded with ``memlimit`` bytes at most."""

    def __init__(self, f, memlimit: int):
        self.f, self.memlimit = f, memlimit
        self.dec = lzma.LZMADecompressor(lzma.FORMAT_AUTO, memlimit=memlimit)
        self.done = False

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self.done:
            if self.dec.eof:                # the next stream of a concatenation
                rest = self.dec.unused_data
                self.dec = lzma.LZMADecompressor(lzma.FORMAT_AUTO, memlimit=self.memlimit)
                if not rest and not (rest := self.f.read(65536)):
                    self.done = True
                    break
            else:
                rest = b"" if not self.dec.needs_input else self.f.read(65536)
                if not rest and self.dec.needs_input:
                    raise EOFError("compressed file ended before the end-of-stream marker")
            try:
                data = self.dec.decompress(rest, len(b))
            except lzma.LZMAError as e:
                if "memory" in str(e).lower():
                    raise XzMemoryError(f"the xz stream needs more than "
                                        f"{self.memlimit >> 20} MiB to decompress "
                                        "(its dictionary size): not read") from None
                raise ValueError(str(e)) from None
            if data:
                b[:len(data)] = data
                return len(data)
        return 0
