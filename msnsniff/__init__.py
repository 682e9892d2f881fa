"""msnsniff: a packet-capture analyser for the MSN Messenger protocol (MSNP2-18, P2P, the
HTTP gateway).  From Python::

    import msnsniff
    doc = msnsniff.analyse("capture.pcap")                 # the analysis document
    for table, row in msnsniff.iter_rows(["a.pcap"], tables={"messages"}):
        ...

(engine/api.py; imported on first use so that `import msnsniff` stays light).
"""

from .version import __version__

__all__ = ["__version__", "analyse", "iter_rows", "export_capture"]


def __getattr__(name):
    if name in ("analyse", "iter_rows", "export_capture"):
        from .engine import api
        return getattr(api, name)
    raise AttributeError(f"module 'msnsniff' has no attribute {name!r}")
