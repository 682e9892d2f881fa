"""The sans-IO pipeline: segments in, events out (reassembly -> framing -> decoders),
the HTTP gateway's logical sessions included.  No I/O: engine/ drives it over captures."""

from .pipeline import Pipeline

__all__ = ["Pipeline"]
