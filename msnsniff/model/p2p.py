"""Folding MSN P2P parts into MSNSLP calls and carved transfers (docs/p2p.md).

A P2P message crosses the switchboard twice in a capture that holds both clients:
once on the sender's connection and once, relayed, on the receiver's.  So P2P state
is kept per pair of accounts, not per connection, and every byte is placed once:
MSNSLP messages (SessionID 0) are joined by (from, to, Identifier) and handled when
whole; data parts are placed by offset (v1) or after the bytes already seen of their
session (v2, which has no offsets; duplicates are recognised by sequence number).

A transfer ends ``complete`` (all TotalSize bytes and the receiver's ACK or BYE),
``declined`` (603), ``cancelled`` (a BYE before the end; by whom is kept) or
``incomplete`` (missing byte ranges when the capture ends).  Memory is capped by
``Limits.max_file_bytes`` per transfer and ``Limits.max_links`` transfers.
"""

from __future__ import annotations

import base64
import hashlib
from collections import OrderedDict

from ..protocol import p2p as P
from ..protocol.xmlpayload import parse_msnobj
from .session import iso

MAX_SLP_BYTES = 64 * 1024      # an MSNSLP message is a few hundred bytes to a few KB
KINDS = {"file": "p2p-file", "msnobject": "display-picture"}


def _add_range(ranges: list, start: int, end: int) -> int:
    """Merge [start, end) into sorted disjoint ``ranges``; returns the new bytes."""
    new = end - start
    out = []
    placed = False
    for a, b in ranges:
        if b < start or a > end:
            if a > end and not placed:
                out.append([start, end])
                placed = True
            out.append([a, b])
            continue
        new -= max(0, min(b, end) - max(a, start))
        start, end = min(a, start), max(b, end)
    if not placed:
        out.append([start, end])
    out.sort()
    ranges[:] = out
    return new


def _missing(ranges, total) -> list[str]:
    out, pos = [], 0
    for a, b in ranges:
        if a > pos:
            out.append(f"{pos}-{a - 1}")
        pos = max(pos, b)
    if total is not None and pos < total:
        out.append(f"{pos}-{total - 1}")
    return out


class P2PFold:
    def _p2p_init(self):
        self.p2p_slp: OrderedDict = OrderedDict()     # (from, to, ident) -> partial SLP
        self.p2p_done: OrderedDict = OrderedDict()    # SLP / v2 chunk keys already handled
        self.p2p_calls: OrderedDict = OrderedDict()   # Call-ID -> transfer
        self.p2p_by_sid: OrderedDict = OrderedDict()  # (pair, SessionID) -> transfer

    # ------------------------------------------------------------ parts
    def on_p2p(self, ev):
        s = self._s(ev)
        if ev.error:
            self.sink("anomalies", {"time": iso(ev.ts), "session": ev.conn,
                                    "direction": "c2s" if ev.dir == 0 else "s2c",
                                    "kind": "malformed p2p", "detail": ev.error,
                                    "offset": None, "length": ev.length})
            return
        sender = ev.sender or s.passport
        pair = frozenset((sender, ev.dest))
        if ev.session_id == 0 and ev.data and not (ev.version == 1 and ev.flags & P.FLAG_ACK):
            self._slp_part(ev, s, sender)
            return
        t = self.p2p_by_sid.get((pair, ev.session_id))
        if t is None:
            return                      # acks and data of a call whose INVITE was not seen
        if ev.version == 1 and ev.flags == P.FLAG_ACK:
            if t["total"] is not None and ev.ack_size == t["total"] and t["received"] == t["total"]:
                t["acknowledged"] = True
                self._p2p_final(t, ev, "complete")
            return
        if ev.version == 1 and ev.flags & (P.FLAG_CLOSE | P.FLAG_TLP_ERROR) and not ev.data:
            return
        if ev.data:
            self._p2p_data(t, ev, s, sender)

    def _slp_part(self, ev, s, sender):
        key = (sender, ev.dest, ev.identifier)
        if key in self.p2p_done:
            return                      # the relayed copy of a message already handled
        if ev.version == 2:
            if not ev.first and key not in self.p2p_slp:
                return
            buf = self.p2p_slp.get(key)
            if buf is None:
                buf = self.p2p_slp[key] = {"total": ev.total, "data": bytearray(), "ranges": []}
            buf["data"] += ev.data
            whole = len(buf["data"]) >= (buf["total"] or 0)
            raw = bytes(buf["data"])
        else:
            total = ev.total or 0
            if total > MAX_SLP_BYTES:
                self._p2p_anomaly(ev, "cap", f"an MSNSLP message of {total} bytes (more than "
                                  f"{MAX_SLP_BYTES}) was not joined")
                self._remember(self.p2p_done, key, None)
                return
            buf = self.p2p_slp.get(key)
            if buf is None:
                buf = self.p2p_slp[key] = {"total": total, "data": bytearray(total), "ranges": []}
                self._bound(self.p2p_slp)
            buf["data"][ev.offset:ev.offset + len(ev.data)] = ev.data
            _add_range(buf["ranges"], ev.offset, ev.offset + len(ev.data))
            whole = buf["ranges"] == [[0, total]]
            raw = bytes(buf["data"])
        if not whole:
            return
        del self.p2p_slp[key]
        self._remember(self.p2p_done, key, None)
        try:
            slp = P.parse_slp(raw)
        except P.P2PError as e:
            self._p2p_anomaly(ev, "malformed p2p", str(e))
            return
        self._slp(ev, s, slp)

    def _bound(self, table):
        while len(table) > self.limits.max_links:
            table.popitem(last=False)

    def _p2p_anomaly(self, ev, kind, detail):
        self.sink("anomalies", {"time": iso(ev.ts), "session": ev.conn,
                                "direction": "c2s" if ev.dir == 0 else "s2c", "kind": kind,
                                "detail": detail, "offset": None, "length": None})

    # ------------------------------------------------------------ MSNSLP
    def _slp(self, ev, s, slp):
        call_id = slp["call_id"]
        t = self.p2p_calls.get(call_id)
        ctype = slp["content_type"]
        if slp["method"] == "INVITE" and ctype == "application/x-msnmsgr-sessionreqbody":
            if t is None:
                t = self._p2p_invite(ev, s, slp)
            return
        if t is None:
            return
        if slp["method"] == "INVITE":               # transreq: direct connection offered
            t["direct_connection"] = "offered"
            t["invitation"]["commands"].append("INVITE (direct connection)")
            return
        if slp["method"] == "RESPONSE":
            code = slp["code"]
            t["invitation"]["commands"].append(f"{code} {slp['reason']}".strip())
            if ctype == "application/x-msnmsgr-transrespbody":
                listening = slp["fields"].get("Listening", "").lower() == "true"
                t["direct_connection"] = "listening" if listening else "refused"
                return
            if code == 200:
                t["status"] = t["invitation"]["status"] = "accepted"
                self._p2p_line(ev, s, slp["from"], "accepted" if t["kind"] == "p2p-file"
                               else "accepted the request", t)
            elif code == 603:
                t["invitation"]["status"] = "declined"
                self._p2p_line(ev, s, slp["from"], "declined", t)
                self._p2p_final(t, ev, "declined")
            return
        if slp["method"] == "BYE":
            t["invitation"]["commands"].append("BYE")
            if t["received"] == t["total"] and t["total"]:
                t["acknowledged"] = True
                self._p2p_final(t, ev, "complete")
            elif t["final"] is None:
                t["cancelled_by"] = slp["from"]
                t["invitation"]["status"] = "cancelled"
                self._p2p_line(ev, s, slp["from"], f"cancelled after {t['received']:,} of "
                               f"{(t['total'] or t['size'] or 0):,} bytes", t)
                self._p2p_final(t, ev, "cancelled")

    def _p2p_invite(self, ev, s, slp):
        f = slp["fields"]
        guid = f.get("EUF-GUID", "").upper()
        what = P.EUF_GUIDS.get(guid)
        sid = f.get("SessionID", "")
        app = f.get("AppID", "")
        t = {"call_id": slp["call_id"], "kind": KINDS.get(what, what or "unknown"),
             "euf_guid": guid or None, "app_id": int(app) if app.isdigit() else None,
             "session": ev.conn, "inviter": slp["from"], "invitee": slp["to"],
             "p2p_session_id": int(sid) if sid.isdigit() and len(sid) <= 10 else None,
             "name": None, "size": None, "total": None, "msnobj": None, "received": 0,
             "ranges": [], "data": None, "overflow": False, "conflicts": 0, "status": "invited",
             "final": None, "cancelled_by": None, "acknowledged": False,
             "direct_connection": None, "started": iso(ev.ts), "finished": None,
             "v2_offsets": {}, "seen": set()}
        context = f.get("Context", "")
        if what == "file":
            t["sender"], t["receiver"] = slp["from"], slp["to"]
            try:
                fc = P.file_context(P.b64(context))
                t["name"], t["size"] = fc["name"], fc["size"]
                self._p2p_name_checks(ev, fc["name"], P.b64(context))
            except P.P2PError as e:
                self._p2p_anomaly(ev, "malformed p2p", f"INVITE {slp['call_id']}: {e}")
            line = (f"offers {t['name'] or 'a file'}"
                    + (f" ({t['size']:,} bytes)" if t["size"] is not None else ""))
        else:
            # the invitee owns the object (display picture, emoticon) and sends it
            t["sender"], t["receiver"] = slp["to"], slp["from"]
            obj = None
            try:
                obj = parse_msnobj(P.b64(context).rstrip(b"\x00").decode("utf-8", "replace"))
            except P.P2PError as e:
                self._p2p_anomaly(ev, "malformed p2p", f"INVITE {slp['call_id']}: {e}")
            if obj:
                t["msnobj"] = obj
                t["size"] = obj.get("size")
                t["name"] = obj.get("friendly_text") or obj.get("location")
                if obj.get("type") == "2":
                    t["kind"] = "emoticon"
            line = f"asks for {t['sender']}'s " + (t["kind"].replace("-", " ")
                                                   if what else f"object {guid}")
        t["invitation"] = inv = {
            "time": iso(ev.ts), "session": ev.conn, "owner": None, "cookie": slp["call_id"],
            "application": t["kind"], "guid": guid or None, "inviter": slp["from"],
            "invitee": slp["to"], "file_name": t["name"], "file_size": t["size"],
            "connectivity": None, "status": "invited", "ip_address": None,
            "ip_address_internal": None, "port": None, "port_x": None, "auth_cookie": None,
            "sender_connect": None, "cancel_code": None, "commands": ["INVITE"]}
        self._add(ev.conn, "invitations", inv)
        self._remember(self.p2p_calls, slp["call_id"], t)
        if t["p2p_session_id"] is not None:
            self._remember(self.p2p_by_sid, (frozenset((slp["from"], slp["to"])),
                                             t["p2p_session_id"]), t)
        self._p2p_line(ev, s, slp["from"], line, t)
        return t

    def _p2p_name_checks(self, ev, name, raw):
        units = raw[20:20 + 2 * P.MAX_FILE_NAME_CHARS]
        cut = units.decode("utf-16-le", "replace").split("\x00", 1)
        if len(cut) > 1 and cut[1].strip("\x00"):
            self._p2p_anomaly(ev, "hostile name", f"file name {name!r} hides text after a "
                              f"NUL: {cut[1].strip(chr(0))[:60]!r}")
        if "/" in name or "\\" in name:
            self._p2p_anomaly(ev, "hostile name", f"file name {name!r} has path separators "
                              "(only its last component is used on extraction)")

    def _p2p_line(self, ev, s, who, text, t):
        row = self._msg_row(ev, s, sender=who, recipients=None,
                            ctype="application/x-msnmsgrp2p", kind="transfer",
                            text=f"{text}", ack=None)
        row["p4_context"] = None
        self._add(ev.conn, "messages", row)

    # ------------------------------------------------------------ data
    def _p2p_data(self, t, ev, s, sender):
        if t["final"] is not None:
            return                      # reported (and its bytes released) already
        if (t["kind"] != "p2p-file" and ev.version == 1 and ev.total == 4
                and len(ev.data) == 4 and ev.flags == 0):
            return                      # the data-preparation message of a picture
        if ev.version == 2:
            seen_key = (sender, ev.identifier)
            if seen_key in t["seen"]:
                return
            if len(t["seen"]) < self.limits.max_links:
                t["seen"].add(seen_key)
            if ev.first and t["total"] is None:
                t["total"] = ev.total
            offset = t["v2_offsets"].get(sender, 0)
            t["v2_offsets"][sender] = offset + len(ev.data)
        else:
            offset = ev.offset
            if t["total"] is None:
                t["total"] = ev.total
            elif ev.total != t["total"]:
                self._p2p_anomaly(ev, "malformed p2p", f"TotalSize {ev.total} differs from "
                                  f"{t['total']} earlier in session {ev.session_id}")
                return
        total = t["total"] or 0
        end = offset + len(ev.data)
        if end > total:
            self._p2p_anomaly(ev, "malformed p2p", f"bytes {offset}-{end} lie past "
                              f"TotalSize {total}")
            return
        if t["data"] is None and not t["overflow"]:
            if total > self.limits.max_file_bytes:
                t["overflow"] = True
                self._p2p_anomaly(ev, "cap", f"P2P session {ev.session_id}: {total} bytes "
                                  f"is more than the {self.limits.max_file_bytes}-byte cap; "
                                  "bytes are counted, not kept")
            else:
                t["data"] = bytearray(total)
        new_before = _add_range(list(t["ranges"]), offset, end)
        if new_before < len(ev.data) and t["data"] is not None:
            # an overlap: the relayed copy (same bytes) or a conflict (different bytes)
            if not self._same_where_covered(t, offset, ev.data):
                t["conflicts"] += 1
                self._p2p_anomaly(ev, "p2p conflict", f"session {ev.session_id}: bytes at "
                                  f"{offset} differ from those seen before; the first kept")
                return
        added = _add_range(t["ranges"], offset, end)
        if t["data"] is not None and added:
            t["data"][offset:end] = ev.data
        t["received"] += added
        t["finished"] = iso(ev.ts)
        if t["received"] == total and added:
            what = t["name"] or t["kind"].replace("-", " ")
            check = ""
            if t["msnobj"] and t["msnobj"].get("sha1d"):
                check = ", SHA1D " + ("ok" if self._sha1d_ok(t) else "does not match")
            self._p2p_line(ev, s, t["sender"], f"sent all of {what}: {total:,} bytes, sha256 "
                           f"{self._p2p_sha(t)}{check}", t)

    @staticmethod
    def _same_where_covered(t, offset, data) -> bool:
        for a, b in t["ranges"]:
            lo, hi = max(a, offset), min(b, offset + len(data))
            if lo < hi and t["data"][lo:hi] != data[lo - offset:hi - offset]:
                return False
        return True

    @staticmethod
    def _sha1d_ok(t):
        """The MSNObject's SHA1D (base64 of the data's SHA-1) against the bytes."""
        obj, data, total = t["msnobj"], t["data"], t["total"]
        if not obj or not obj.get("sha1d") or data is None or not total \
                or t["received"] != total:
            return None
        return base64.b64encode(hashlib.sha1(bytes(data[:total])).digest()).decode() \
            == obj["sha1d"]

    @staticmethod
    def _p2p_sha(t):
        """sha256 of the bytes up to the last one seen (the extracted file, holes
        zero-filled and listed in missing_ranges)."""
        if t["data"] is None or not t["received"]:
            return None
        return hashlib.sha256(bytes(t["data"][:t["ranges"][-1][1]])).hexdigest()

    # ------------------------------------------------------------ results
    def _p2p_final(self, t, ev, status):
        if t["final"] is not None:
            return
        t["final"] = status
        t["finished"] = iso(ev.ts) if ev is not None else t["finished"]
        self.sink("transfers", self._p2p_row(t))
        # the row holds the bytes (for files --extract); the call keeps only its state
        t["data"] = None
        t["seen"] = set()

    def _p2p_row(self, t) -> dict:
        total = t["total"] if t["total"] is not None else t["size"]
        status = t["final"]
        if status is None:                      # the capture ended first
            if total and t["received"] == total:
                status = "complete, unacknowledged"
            elif t["status"] == "invited":
                status = "no answer"
            else:
                status = "incomplete"
        data = t["data"]
        sha = self._p2p_sha(t) if t["received"] else None
        sha1d_ok = self._sha1d_ok(t)
        return {
            "session": t["session"], "invitation_cookie": t["call_id"],
            "invitation_session": t["session"], "sender": t["sender"],
            "receiver": t["receiver"], "name": t["name"], "size": total,
            "announced_size": t["size"], "received": t["received"],
            "missing_bytes": max(0, (total or 0) - t["received"]), "status": status,
            "end": "BYE" if "BYE" in t["invitation"]["commands"] else None,
            "bye_code": None, "bye_meaning": None,
            "size_matches_invitation": (None if t["size"] is None or t["total"] is None
                                        else t["size"] == t["total"]),
            "sha256": sha, "started": t["started"], "finished": t["finished"],
            "extracted_to": None, "method": "p2p", "kind": t["kind"],
            "p2p_session_id": t["p2p_session_id"], "missing_ranges":
                _missing(t["ranges"], total) if t["final"] != "declined" else [],
            "cancelled_by": t["cancelled_by"], "acknowledged": t["acknowledged"],
            "sha1d_ok": sha1d_ok, "direct_connection": t["direct_connection"],
            "conflicts": t["conflicts"],
            "_data": data if t["received"] else None, "_overflow": t["overflow"],
            "_extent": t["ranges"][-1][1] if t["ranges"] else 0}

    def _p2p_finish(self):
        for t in list(self.p2p_calls.values()):
            if t["final"] is None:
                self.sink("transfers", self._p2p_row(t))
                t["final"] = "reported"
