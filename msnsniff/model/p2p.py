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

from collections import OrderedDict

from ..protocol import p2p as P
from ..protocol.xmlpayload import parse_msnobj
from . import p2pdata as D
from .p2pdirect import DirectFold
from .session import Session, iso

MAX_SLP_BYTES = 64 * 1024      # an MSNSLP message is a few hundred bytes to a few KB
KINDS: dict[str | None, str] = {"file": "file", "msnobject": "display-picture"}


class P2PFold(DirectFold):
    def _p2p_init(self):
        self.p2p_slp: OrderedDict[tuple, dict] = OrderedDict()   # join key -> partial SLP message
        self.p2p_done: OrderedDict = OrderedDict()    # SLP / v2 chunk keys already handled
        self.p2p_calls: OrderedDict = OrderedDict()   # Call-ID -> transfer
        self.p2p_by_sid: OrderedDict = OrderedDict()  # (pair, SessionID) -> transfer
        self.p2p_direct: OrderedDict = OrderedDict()  # direct connection id -> its state
        self.p2p_listen: OrderedDict = OrderedDict()  # (ip, port) a peer listens on -> call
        # (creator, SHA1D) -> (shortcut, MSNObject, announcing event); fetched objects
        self.p2p_shortcuts: OrderedDict = OrderedDict()
        self.p2p_fetched: OrderedDict = OrderedDict()

    # ------------------------------------------------------------ parts
    def on_p2p(self, ev):
        s = self._s(ev)
        if ev.error:
            self.sink("anomalies", {"time": iso(ev.ts), "session": ev.conn,
                                    "direction": "c2s" if ev.dir == 0 else "s2c",
                                    "kind": "malformed p2p", "detail": ev.error,
                                    "offset": None, "length": ev.length})
            return
        part = ev.part
        if ev.transport == "direct":
            dc = self.p2p_direct.get(ev.conn)
            if dc is None:
                self._p2p_anomaly(ev, "p2p direct", "P2P data on a direct connection whose "
                                  "negotiation was not captured: not placed")
                return
            sender, dest = dc["sides"][ev.dir], dc["sides"][1 - ev.dir]
        else:
            sender = (ev.sender or s.passport or "").lower() or None
            dest = (ev.dest or "").lower() or None
        pair = frozenset((sender, dest))
        if part.session_id == 0 and part.data and not part.is_ack:
            self._slp_part(ev, s, sender, dest)
            return
        t = self.p2p_by_sid.get((pair, part.session_id))
        if t is None:
            return                      # acks and data of a call whose INVITE was not seen
        if ev.transport == "direct":
            t["transport"] = "direct"
        if part.version == 1 and part.flags == P.FLAG_ACK:
            if t["total"] is not None and part.ack_size == t["total"] \
                    and t["received"] == t["total"]:
                # complete; the row waits for the BYE, which says who closed the call
                t["acknowledged"] = True
            return
        if part.version == 1 and part.flags & (P.FLAG_CLOSE | P.FLAG_TLP_ERROR) \
                and not part.data:
            return
        if part.data:
            self._p2p_data(t, ev, s, sender)

    def _slp_part(self, ev, s: Session, sender, dest):
        """Join an MSNSLP message's chunks.  v1 chunks share the Identifier and carry an
        Offset.  v2 chunks each have their own SequenceNumber: the next chunk's is this
        one's plus its MessageSize (data header included; MSNPSharp SplitMessage) — the
        payload-only rule is accepted too — and the bytes-remaining TLV says when the
        message is whole."""
        part = ev.part
        if part.version == 2:
            seen = (sender, dest, part.identifier)
            if seen in self.p2p_done:
                return                  # a copy (relayed, or to another endpoint)
            self._remember(self.p2p_done, seen, None)
            buf: dict | None
            if part.first:
                if part.remaining == 0:
                    return self._slp_whole(ev, s, bytes(part.data))
                if part.total > MAX_SLP_BYTES:
                    self._p2p_anomaly(ev, "cap", f"an MSNSLP message of {part.total} bytes "
                                      f"(more than {MAX_SLP_BYTES}) was not joined")
                    return
                buf = {"data": bytearray(part.data), "left": part.remaining, "ts": ev.ts}
            else:
                buf = self.p2p_slp.pop((sender, dest, part.identifier), None)
                if buf is None:
                    self._p2p_anomaly(ev, "p2p join", f"an MSNSLP continuation (sequence "
                                      f"{part.identifier}, {len(part.data)} bytes) follows no "
                                      "first chunk seen: not joined")
                    return
                for k in buf.get("keys", ()):
                    self.p2p_slp.pop(k, None)
                if buf["left"] - len(part.data) != part.remaining or part.remaining < 0:
                    self._p2p_anomaly(ev, "p2p join", f"an MSNSLP continuation says "
                                      f"{part.remaining} bytes remain, {buf['left']} were "
                                      f"expected less its {len(part.data)}: not joined")
                    return
                buf["data"] += part.data
                buf["left"] = part.remaining
                if part.remaining == 0:
                    return self._slp_whole(ev, s, bytes(buf["data"]))
            nxt = part.identifier + part.message_size
            buf["keys"] = [(sender, dest, nxt & 0xFFFFFFFF),
                           (sender, dest, (part.identifier + len(part.data)) & 0xFFFFFFFF)]
            for k in buf["keys"]:
                self.p2p_slp[k] = buf
            self._bound_slp(ev)
            return
        key = (sender, dest, part.identifier)
        if key in self.p2p_done:
            return                      # the relayed copy of a message already handled
        total = part.total or 0
        if total > MAX_SLP_BYTES:
            self._p2p_anomaly(ev, "cap", f"an MSNSLP message of {total} bytes (more than "
                              f"{MAX_SLP_BYTES}) was not joined")
            self._remember(self.p2p_done, key, None)
            return
        buf = self.p2p_slp.get(key)
        if buf is None:
            buf = self.p2p_slp[key] = {"total": total, "data": bytearray(), "ranges": [],
                                       "ts": ev.ts, "keys": [key]}
            self._bound_slp(ev)
        D.place(buf["data"], part.offset, part.data)
        D.add_range(buf["ranges"], part.offset, part.offset + len(part.data))
        if buf["ranges"] != [[0, total]]:
            return
        del self.p2p_slp[key]
        self._remember(self.p2p_done, key, None)
        self._slp_whole(ev, s, bytes(buf["data"]))

    def _slp_whole(self, ev, s: Session, raw):
        try:
            slp = P.parse_slp(raw)
        except P.P2PError as e:
            self._p2p_anomaly(ev, "malformed p2p", str(e))
            return
        self._slp(ev, s, slp)

    def _bound_slp(self, ev):
        """At most ``max_links`` partial MSNSLP messages; one pushed out is reported."""
        while len(self.p2p_slp) > self.limits.max_links:
            _, buf = self.p2p_slp.popitem(last=False)
            for k in buf.get("keys", ()):
                self.p2p_slp.pop(k, None)
            self._p2p_anomaly(ev, "cap", f"more than {self.limits.max_links} MSNSLP messages "
                              "were being joined at once: the oldest was given up")

    def _bound(self, table):
        while len(table) > self.limits.max_links:
            table.popitem(last=False)

    def _p2p_anomaly(self, ev, kind, detail):
        self.sink("anomalies", {"time": iso(ev.ts), "session": ev.conn,
                                "direction": "c2s" if ev.dir == 0 else "s2c", "kind": kind,
                                "detail": detail, "offset": None, "length": None})

    # ------------------------------------------------------------ MSNSLP
    def _slp(self, ev, s: Session, slp):
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
            t["dc_nonce"] = slp["fields"].get("Nonce") or slp["fields"].get("Hashed-Nonce")
            return
        if slp["method"] == "RESPONSE":
            code = slp["code"]
            t["invitation"]["commands"].append(f"{code} {slp['reason']}".strip())
            if ctype == "application/x-msnmsgr-transrespbody":
                self._p2p_direct_answer(ev, t, slp)
                return
            if code == 200:
                t["status"] = t["invitation"]["status"] = "accepted"
                if slp["from_endpoint"]:
                    # MPOP: the endpoint that answered is the one taking part
                    t["invitee_ep"] = slp["from_endpoint"]
                self._p2p_line(ev, s, slp["from"], "accepted" if t["kind"] == "file"
                               else "accepted the request", t)
            elif code == 603:
                t["invitation"]["status"] = "declined"
                t["closed_by"] = slp["from"]
                self._p2p_line(ev, s, slp["from"], "declined", t)
                self._p2p_final(t, ev, "declined")
            return
        if slp["method"] == "BYE":
            t["invitation"]["commands"].append("BYE")
            if t["closed_by"] is None:
                t["closed_by"] = slp["from"]
            if t["final"] is not None:
                return                  # a BYE after 603 (or after the ACK) changes nothing
            if t["received"] == t["total"] and t["total"]:
                t["acknowledged"] = True
                self._p2p_final(t, ev, "complete")
            else:
                t["cancelled_by"] = slp["from"]
                t["invitation"]["status"] = "cancelled"
                who = "the receiver" if slp["from"] == t["receiver"] else "the sender"
                self._p2p_line(ev, s, slp["from"], f"cancelled ({who}) after "
                               f"{t['received']:,} of {(t['total'] or t['size'] or 0):,} "
                               "bytes", t)
                self._p2p_final(t, ev, "cancelled")

    def _p2p_invite(self, ev, s: Session, slp):
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
             "version": ev.part.version, "transport": "switchboard", "closed_by": None,
             "inviter_ep": slp["from_endpoint"], "invitee_ep": slp["to_endpoint"],
             "dc_nonce": None, "dc_nonce_ok": None}
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
                # the Type decides what the object is (protocol/p2p.py OBJECT_KINDS)
                t["kind"] = P.OBJECT_KINDS.get(obj.get("type"), t["kind"])
                # an emoticon is named by the shortcut its announcement gave it
                key = (obj.get("creator", "").lower(), obj.get("sha1d"))
                shortcut = (self.p2p_shortcuts.get(key) or (None,))[0]
                self._remember(self.p2p_fetched, key, None)
                loc = obj.get("location") if obj.get("location") != "0" else None
                t["name"] = shortcut or (loc if t["kind"] == "display-picture"
                                         else obj.get("friendly_text") or loc)
            line = f"asks {t['sender']} for " + (D.object_phrase(t) if what
                                                 else f"object {guid}")
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

    def _p2p_line(self, ev, s: Session, who, text, t):
        conn = ev.conn
        sb = t.get("session") if t else None
        if sb is not None and sb != conn and sb in self.sessions:
            # a direct connection's line (its data, its BYE) belongs to the conversation
            # that negotiated it, while that switchboard is open: the transcript shows
            # the transfer end where it showed the offer
            s, conn = self.sessions[sb], sb
        row = self._msg_row(ev, s, sender=who, recipients=None,
                            ctype="application/x-msnmsgrp2p", kind="transfer",
                            text=f"{text}", ack=None)
        if conn != ev.conn:
            row["session"] = conn
            row["direction"] = "out" if who and s.passport and \
                who.lower() == s.passport.lower() else "in"
        row["p4_context"] = None
        self._add(conn, "messages", row)

    # ------------------------------------------------------------ data
    def _p2p_data(self, t, ev, s, sender):
        if t["final"] is not None:
            return                      # reported (and its bytes released) already
        part = ev.part
        if part.is_data_preparation:
            return                      # the 4 bytes before an object's data
        if part.version == 2:
            # v2 has no offsets: the bytes-remaining TLV counts down to the end of the
            # object, so offset = size - remaining - len(data) (MSNPSharp WriteBytes)
            if t["total"] is None:
                t["total"] = part.total if part.first else t["size"]
            if t["total"] is None:
                self._p2p_anomaly(ev, "p2p placement", f"session {part.session_id}: a "
                                  "chunk before any size is known: not placed")
                return
            offset = t["total"] - part.remaining - len(part.data)
            if offset < 0:
                self._p2p_anomaly(ev, "malformed p2p", f"session {part.session_id}: "
                                  f"{len(part.data)} bytes with {part.remaining} remaining "
                                  f"do not fit its {t['total']} bytes")
                return
        else:
            offset = part.offset
            if t["total"] is None:
                t["total"] = part.total
            elif part.total != t["total"]:
                self._p2p_anomaly(ev, "malformed p2p", f"TotalSize {part.total} differs "
                                  f"from {t['total']} earlier in session {part.session_id}")
                return
        total = t["total"] or 0
        end = offset + len(part.data)
        if end > total:
            self._p2p_anomaly(ev, "malformed p2p", f"bytes {offset}-{end} lie past "
                              f"TotalSize {total}")
            return
        if t["data"] is None and not t["overflow"]:
            if total > self.limits.max_file_bytes:
                t["overflow"] = True
                self._p2p_anomaly(ev, "cap", f"P2P session {part.session_id}: {total} bytes "
                                  f"is more than the {self.limits.max_file_bytes}-byte cap; "
                                  "bytes are counted, not kept")
            else:
                t["data"] = bytearray()     # grows with the bytes seen, not the claim
        if t["data"] is not None and D.new_bytes(t["ranges"], offset, end) < len(part.data):
            # an overlap: a copy (relayed, or to another endpoint) or a conflict
            if not D.same_where_covered(t, offset, part.data):
                t["conflicts"] += 1
                self._p2p_anomaly(ev, "p2p conflict", f"session {part.session_id}: bytes at "
                                  f"{offset} differ from those seen before; the first kept")
                return
        added = D.add_range(t["ranges"], offset, end)
        if t["data"] is not None and added:
            D.place(t["data"], offset, part.data)
        t["received"] += added
        t["finished"] = iso(ev.ts)
        if t["received"] == total and added:
            check = ""
            if t["msnobj"] and t["msnobj"].get("sha1d"):
                check = ", SHA1D " + ("ok" if D.sha1d_ok(t) else "does not match")
            what = f"all of {t['name']}" if t["kind"] == "file" and t["name"] else \
                D.object_phrase(t) + " in full"
            self._p2p_line(ev, s, t["sender"], f"sent {what}: {total:,} bytes, sha256 "
                           f"{D.sha256(t)}{check}", t)

    # ------------------------------------------------------------ results
    def _p2p_final(self, t, ev, status):
        if t["final"] is not None:
            return
        t["final"] = status
        t["finished"] = iso(ev.ts) if ev is not None else t["finished"]
        self.sink("transfers", self._p2p_row(t))
        # the row holds the bytes (for files --extract); the call keeps only its state
        t["data"] = None

    def _p2p_row(self, t) -> dict:
        total = t["total"] if t["total"] is not None else t["size"]
        status = t["final"]
        if status is None:                      # the capture ended first
            if total and t["received"] == total:
                status = "complete" if t["acknowledged"] else "complete, unacknowledged"
            elif t["status"] == "invited":
                status = "no answer"
            else:
                status = "incomplete"
        data = t["data"]
        sha = D.sha256(t) if t["received"] else None
        sha1d_ok = D.sha1d_ok(t)
        # the object's owner sends it: for an MSNObject the invitee, for a file the inviter
        if t["sender"] == t["inviter"]:
            sender_ep, receiver_ep = t["inviter_ep"], t["invitee_ep"]
        else:
            sender_ep, receiver_ep = t["invitee_ep"], t["inviter_ep"]
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
                D.missing(t["ranges"], total) if t["final"] != "declined" else [],
            "cancelled_by": t["cancelled_by"], "acknowledged": t["acknowledged"],
            "sha1d_ok": sha1d_ok, "direct_connection": t["direct_connection"],
            "conflicts": t["conflicts"], "p2p_version": t["version"],
            "transport": t["transport"], "sender_endpoint": sender_ep,
            "receiver_endpoint": receiver_ep, "closed_by": t["closed_by"],
            "sha1d": (t["msnobj"] or {}).get("sha1d"),
            "direct_nonce_ok": t["dc_nonce_ok"],
            "_data": data if t["received"] else None, "_overflow": t["overflow"],
            "_extent": t["ranges"][-1][1] if t["ranges"] else 0}

    def _p2p_finish(self):
        for t in list(self.p2p_calls.values()):
            if t["final"] is None:
                self.sink("transfers", self._p2p_row(t))
                t["final"] = "reported"
        # custom emoticons announced in a message but never fetched are still listed
        for (creator, sha1d), (shortcut, obj, ev) in self.p2p_shortcuts.items():
            if (creator, sha1d) not in self.p2p_fetched:
                self.sink("transfers", D.not_fetched_row(ev, creator, shortcut, obj))
        done = set()
        for buf in self.p2p_slp.values():
            if id(buf) in done:
                continue
            done.add(id(buf))
            self.sink("anomalies", {
                "time": iso(buf["ts"]), "session": None, "direction": None,
                "kind": "p2p join", "detail": f"an MSNSLP message was never whole: "
                f"{len(buf['data'])} bytes joined when the capture ended", "offset": None,
                "length": len(buf["data"])})

