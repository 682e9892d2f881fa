"""The optional compiled core (_core.c): capture records -> Segments, or MSNP commands
framed in C for the connections the pipeline hands it.

Where it sits: between the capture files and the pipeline (docs/architecture.md).  The
Python path (capture/ -> stream/ -> pipeline/) stays the one definition of the analysis:
the core reads and parses packets as capture/packet.py does and frames the common case
(a connection's next bytes in order, whole command lines and payloads) as
stream/framing.py does; anything else it hands back to the Python path before touching
it (see the comment at the top of _core.c).  So the outputs are the same with either
core, and ``pip install .`` on a machine without a C compiler installs the Python path
alone.

``MSNSNIFF_CORE=python`` forces the Python path; ``MSNSNIFF_READER=python|libpcap``
picks that reader (and so the Python path) too.
"""

from __future__ import annotations

import os

from ..capture.files import _PCAP_MAGICS, _PCAPNG_SHB, _open, _regular, pcapng_time
from ..capture.follow import FIRST_WORDS
from ..capture.packet import CaptureStats, Segment, _fmt_ip6
from ..config import Limits
from ..protocol.tables import NO_TRID, PAYLOAD_MIN_ARGS
from ..stream.framing import RawCommand


def _module():
    if os.environ.get("MSNSNIFF_CORE", "auto") == "python":
        return None
    import importlib
    try:
        return importlib.import_module("msnsniff.core._core")
    except ImportError:
        return None


def name() -> str:
    """Which core runs: "compiled" or "python" (``msnsniff --version`` says it)."""
    return "compiled" if _module() is not None else "python"


class CoreReader:
    """A capture file read by the compiled core; ``core`` is the iterator of its items
    (see _core.c).  Closes the file on ``close`` or at the end of a ``with``."""

    def __init__(self, core, f):
        self.core = core
        self._file = f

    def close(self):
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_capture(path: str, stats: CaptureStats, limits: Limits) -> CoreReader | None:
    """The compiled core reading ``path``, or None where the Python path reads it: no
    compiled core, a reader asked for by name, standard input, a compressed or unknown
    file (read_segments then says what is wrong with it)."""
    mod = _module()
    if mod is None or os.environ.get("MSNSNIFF_READER", "auto") not in ("", "auto") or path == "-" \
            or not _regular(path):
        return None
    f = _open(path)
    try:
        magic = os.pread(f.fileno(), 4, 0)      # (the core reads the fd from its start)
        if magic not in _PCAP_MAGICS and magic != _PCAPNG_SHB:
            f.close()
            return None
        core = mod.Core(f.fileno(), stats, Segment, RawCommand, _fmt_ip6, pcapng_time,
                        limits.max_line, limits.max_payload, PAYLOAD_MIN_ARGS, NO_TRID,
                        FIRST_WORDS)
    except BaseException:
        f.close()
        raise
    return CoreReader(core, f)
