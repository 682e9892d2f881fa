"""What the folds (ns.py, lists.py, sb.py, ftp.py, p2p.py) use of the ``Analysis`` they
are mixed into, for the type checkers: each fold's base is ``FoldBase``, which the
checkers read as the ``FoldHost`` protocol and which is a plain ``object`` at run time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections import OrderedDict
    from collections.abc import Callable

    from ..config import Limits
    from .session import Session


class FoldHost(Protocol):
    limits: Limits
    brief_messages: bool
    sink: Callable[[str, dict], Any]
    sessions: dict[int, Session]
    grants: OrderedDict        # XFR SB cookie -> NS session id
    rings: OrderedDict         # RNG cookie -> (NS id, SB session id)
    offers: OrderedDict        # ("auth", cookie) / ("port", p) -> invitation
    p2p_shortcuts: OrderedDict
    made: tuple[str, dict] | None   # the row the event being applied made (live reads it)

    def _s(self, ev: Any) -> Session: ...
    def _add(self, conn: int, table: str, row: dict) -> None: ...
    def _rows(self, conn: int, table: str) -> list: ...
    def _learn(self, s: Session, passport: str | None) -> None: ...
    def _remember(self, table: OrderedDict, key: Any, value: Any) -> None: ...
    def _offer(self, inv: dict) -> None: ...
    def note_redirect(self, s: Session) -> None: ...
    def _seen_before(self, s: Session, sender: str | None, ctype: str | None,
                     content: Any, ts: float) -> int | None: ...
    def _msg_row(self, ev: Any, s: Session, sender: str | None, recipients: Any,
                 ctype: str | None, kind: str | None, text: str | None, ack: Any,
                 sender_name: str | None = None) -> dict: ...


if TYPE_CHECKING:
    FoldBase = FoldHost
else:
    FoldBase = object
