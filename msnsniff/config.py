"""Every cap in one place, with the reason for its default (docs/robustness.md lists them).

A cap that is hit never drops data silently: the stage that enforces it emits an anomaly
saying what was discarded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# Strict mode (MSNSNIFF_STRICT=1, or set to True by the tests and fuzz harnesses): the
# decoder's and the model's catch-alls re-raise instead of turning a bug into a
# "decoder error" / "model error" row, so that property tests and fuzzers can fail.
# Users never want it: remote garbage must not stop an analysis.
STRICT = os.environ.get("MSNSNIFF_STRICT") == "1"


@dataclass(frozen=True)
class Limits:
    # Out-of-order bytes held per direction while waiting for a hole to fill.  A TCP
    # receive window of the era was 64 KiB; four windows is plenty for reordering.
    # Past it the hole is declared a gap and decoding moves on.
    max_pending_bytes: int = 256 * 1024
    # Open connections tracked at once.  Past it the least recently active one is
    # closed (its buffered bytes flushed, reported as evicted).
    max_connections: int = 20000
    # A connection silent this long (capture time, seconds) is closed and flushed.
    idle_timeout: float = 3600.0
    # Longest command line.  MSNP8 lines are short; the longest real ones are
    # `USR … TWN S t=…&p=…` tickets (~1–2 KB).  A longer "line" is garbage.
    max_line: int = 16 * 1024
    # Largest payload a payload command may declare.  MSG is limited to 1664 bytes by
    # the servers (reference §1.2); NOT/UBX/GCF bodies of later versions run to tens of
    # KB.  A larger claim is treated as a lie: the line is reported and framing
    # resynchronises on the following bytes.
    max_payload: int = 256 * 1024
    # File bytes kept in memory per MSNFTP transfer (for the sha256 and --extract).
    # Past it the hash still covers every byte but extraction is refused and reported.
    max_file_bytes: int = 64 * 1024 * 1024
    # SYN states remembered for not-yet-classified flows (to know the client of a flow
    # recognised later by its content).
    max_candidate_flows: int = 65536
    # Endpoints announced in traffic (XFR/RNG/invitations) remembered for following.
    max_announced: int = 65536
    # Switchboard cookies (XFR SB / RNG), invitation offers and dispatch redirects kept
    # to tie connections together; the oldest is forgotten first.
    max_links: int = 65536
    # Rows of a connection waiting for its owner (the local account) to be known; past
    # it the owner is looked up by client address and the rows leave anyway.
    max_waiting_rows: int = 10_000
    # Contacts kept per session.  Real lists stopped at a few hundred (the FL limit was
    # 150-600, later 1,000 plus the reverse list); a list longer than this is hostile
    # or broken: later contacts are counted in an anomaly, not kept.
    max_contacts: int = 20_000
    # live: rows kept per table for the closing report and --export (the rest are
    # printed as they happen and counted in the summary's rows_not_kept).
    max_report_rows: int = 100_000
    # Decoder memory an xz capture may ask for.  `xz -9` needs 65 MiB (a 64 MiB
    # dictionary); a header asking for more (up to 1.5 GiB) is refused, not allocated.
    max_xz_memory: int = 72 * 1024 * 1024


DEFAULT_LIMITS = Limits()
