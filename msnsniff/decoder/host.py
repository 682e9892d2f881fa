"""What the notification decoder's mixins (ns_lists.py, ns_extras.py) use of the
``NsDecoder`` they are mixed into, for the type checkers: each mixin's base is
``NsBase``, which the checkers read as the ``NsHost`` protocol and which is a plain
``object`` at run time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..protocol.dialects import Dialect


class NsHost(Protocol):
    conn: int
    logged_in_named: bool           # USR … OK carried the friendly name (MSNP2-9)
    dialect: Dialect
    # (the optional ones with a value: without one mypy takes a mixin's assignment for
    # the attribute's definition, typed as what it assigns)
    syn: list[int] | None = None    # [expected contacts, expected groups, got c, got g]
    last_contact: str | None = None     # BPR inside a SYN applies to the preceding LST
    syn_request: int | None = None      # list version the client asked to sync from

    def _bad(self, cmd: Any, ts: float, d: int, why: str = ...) -> list: ...
    def _infer(self, version: int) -> None: ...
    def _hold(self, trid: int | None, verb: str, evs: list) -> list: ...
    def _answered(self, trid: int | None, verb: str | None) -> list | None: ...


if TYPE_CHECKING:
    NsBase = NsHost
else:
    NsBase = object
