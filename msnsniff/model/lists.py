"""Folding contact lists, presence and personal messages into the session, every
dialect (reference §2.2-§2.4, §5; docs/dialects.md).

Group ids are text in every dialect (decimal for MSNP2-9, GUIDs for MSNP10+).  MSNP10+
names contacts by GUID in some replies (``REM … FL <guid>``, ``ADC … C=<guid> <group>``):
the session maps GUIDs to passports from the LST/ADC lines that named both.  A list
longer than ``Limits.max_contacts`` is cut and the cut is reported.
"""

from __future__ import annotations

from ..protocol.clientid import decode_client_id
from ..protocol.dialects import NETWORKS
from ..protocol.numbers import is_num
from ..protocol.tables import LIST_BIT, STATUS_NAMES, list_names, raw_bytes
from ..protocol.xmlpayload import parse_msnobj
from .host import FoldBase
from .session import NsState, Session, contact, iso

CIRCLE_NETWORKS = (9, 13)


class ListsFold(FoldBase):
    # ------------------------------------------------------------ contacts
    def _contact(self, ns: NsState, passport):
        """The session's entry for a contact, created on first sight (None past the cap)."""
        c = ns.contacts.get(passport)
        if c is None:
            if len(ns.contacts) >= self.limits.max_contacts:
                ns.contacts_dropped += 1
                return None
            c = ns.contacts[passport] = contact(passport)
        return c

    @staticmethod
    def _by_id(ns: NsState, contact_id):
        return ns.contact_ids.get(contact_id) if contact_id else None

    def _list_rows(self, s: Session, ns: NsState, me: str | None) -> None:
        """A finished connection's groups and contacts rows (its list as it ended)."""
        for gid in sorted(ns.groups, key=_group_order):
            self.sink("groups", {"session": s.id, "capture": None, "owner": me, "group_id": gid,
                                 "name": ns.groups[gid]})
        for c in ns.contacts.values():
            self.sink("contacts", {
                "session": s.id, "capture": None, "owner": me, "passport": c["passport"],
                "friendly_name": c["friendly_name"],
                "friendly_name_raw": raw_bytes(c["friendly_name"]), "list_bits": c["list_bits"],
                "lists": list_names(c["list_bits"]), "groups": list(c["groups"]),
                # a group whose LSG was not captured is named by its id
                "group_names": [ns.groups.get(g) or f"#{g}" for g in c["groups"]],
                "phones": c["phones"] or None, "contact_id": c["contact_id"],
                "network": c["network"]})
        if ns.contacts_dropped:
            self.sink("anomalies", {
                "time": iso(s.end), "session": s.id, "capture": None, "direction": "s2c",
                "kind": "cap",
                "detail": f"{ns.contacts_dropped} contacts past the cap of "
                          f"{self.limits.max_contacts} per session were counted, not kept",
                "offset": None, "length": None})

    def on_list_sync(self, ev):
        ns = self._s(ev).ns
        ns.list_version = ev.version
        ns.contacts_source = "SYN"
        ns.syn = {"client_version": ev.client_version, "version": ev.version,
                  "contacts_declared": ev.contacts, "groups_declared": ev.groups}
        if ev.timestamps:
            ns.syn["timestamps"] = list(ev.timestamps)

    def on_setting(self, ev):
        self._s(ev).ns.settings[ev.name] = ev.value

    def on_phone(self, ev):
        ns = self._s(ev).ns
        if ev.passport is None:
            ns.phones[ev.key] = ev.value
        else:
            c = self._contact(ns, ev.passport)
            if c is not None:
                c["phones"][ev.key] = ev.value

    def on_group(self, ev):
        self._s(ev).ns.groups[ev.group_id] = ev.name

    def on_contact(self, ev):
        ns = self._s(ev).ns
        if ev.source == "ADL":
            ns.contacts_source = "ADL"
        if ev.network in CIRCLE_NETWORKS:
            # MSNP18 circles (group chats) are listed like contacts on network 9: shown
            # as groups; their members' presence names the circle (presence.via)
            ns.groups[f"{ev.network}:{ev.passport}"] = f"circle {ev.passport.split('@')[0]}"
            return
        c = self._contact(ns, ev.passport)
        if c is None:
            return
        if ev.friendly_name is not None:
            c["friendly_name"] = ev.friendly_name
        c["list_bits"] |= ev.list_bits
        if ev.contact_id:
            c["contact_id"] = ev.contact_id
            ns.contact_ids[ev.contact_id] = ev.passport
        if ev.network is not None:
            c["network"] = ev.network
        for g in ev.groups:
            if g not in c["groups"]:
                c["groups"].append(g)

    def on_own_name(self, ev):
        s = self._s(ev)
        ns = s.ns
        if ev.at_login and ns.friendly_name_at_login is None:
            ns.friendly_name_at_login = ev.name
        elif not ev.at_login:
            self._add(ev.conn, "list_changes", self._change_row(
                ev, "PRP", None, s.passport, ev.name, None, None, False))
        s.friendly_name = ev.name

    def on_contact_name(self, ev):
        ns = self._s(ev).ns
        passport = self._by_id(ns, ev.contact_id)
        self._add(ev.conn, "list_changes", self._change_row(
            ev, "SBP", None, passport, ev.name, None, None, False, ev.contact_id))
        if passport in ns.contacts:
            ns.contacts[passport]["friendly_name"] = ev.name

    @staticmethod
    def _change_row(ev, op, lst, passport, name, group_id, version, by_server,
                    contact_id=None, network=None, refused=None):
        return {"time": iso(ev.ts), "session": ev.conn, "capture": None, "owner": None, "op": op,
                "list": lst, "passport": passport, "friendly_name": name,
                "group_id": group_id, "version": version, "by_server": by_server,
                "contact_id": contact_id, "network": network, "refused": refused}

    def on_list_change(self, ev):
        s = self._s(ev)
        ns = s.ns
        if ev.version is not None:
            ns.list_version = ev.version
        passport = ev.passport or self._by_id(ns, ev.contact_id)
        lst = ev.list
        if ev.list_bits is not None:           # ADL/RML: several lists at once
            lst = ",".join(list_names(ev.list_bits)) or None
        self._add(ev.conn, "list_changes", self._change_row(
            ev, ev.op, lst, passport, ev.friendly_name, ev.group_id, ev.version,
            ev.by_server, ev.contact_id, ev.network, ev.refused))
        if ev.refused:
            return                              # the server said no: nothing changed
        if ev.op == "REA":
            if s.passport and passport == s.passport:
                s.friendly_name = ev.friendly_name
            elif passport in ns.contacts:
                ns.contacts[passport]["friendly_name"] = ev.friendly_name
            return
        bits = ev.list_bits if ev.list_bits is not None else LIST_BIT.get(ev.list or "", 0)
        if passport is None:
            return
        if ev.op in ("ADD", "ADC", "ADL"):
            c = self._contact(ns, passport)
            if c is None:
                return
            c["list_bits"] |= bits
            if ev.friendly_name:
                c["friendly_name"] = ev.friendly_name
            if ev.contact_id:
                c["contact_id"] = ev.contact_id
                ns.contact_ids[ev.contact_id] = passport
            if ev.network is not None:
                c["network"] = ev.network
            if ev.group_id is not None and ev.group_id not in c["groups"]:
                c["groups"].append(ev.group_id)
        elif ev.op in ("REM", "RML") and passport in ns.contacts:
            c = ns.contacts[passport]
            if ev.list == "FL" and ev.group_id is not None:
                if ev.group_id in c["groups"]:
                    c["groups"].remove(ev.group_id)
                if not c["groups"]:
                    c["list_bits"] &= ~bits
            else:
                c["list_bits"] &= ~bits
                if bits & LIST_BIT["FL"]:
                    c["groups"] = []

    def on_group_change(self, ev):
        ns = self._s(ev).ns
        if ev.version is not None:
            ns.list_version = ev.version
        self._add(ev.conn, "list_changes", self._change_row(
            ev, ev.op, None, None, ev.name, ev.group_id, ev.version, False))
        if ev.op in ("ADG", "REG") and ev.group_id is not None:
            ns.groups[ev.group_id] = ev.name
        elif ev.op == "RMG":
            ns.groups.pop(ev.group_id, None)
            for c in ns.contacts.values():
                if ev.group_id in c["groups"]:
                    c["groups"].remove(ev.group_id)

    # ------------------------------------------------------------ presence
    def on_presence(self, ev):
        ns = self._s(ev).ns
        msnc, caps = (decode_client_id(ev.client_id) if ev.client_id is not None
                      else (None, []))
        self._add(ev.conn, "presence", {
            "time": iso(ev.ts), "session": ev.conn, "capture": None, "owner": None,
            "command": ev.command, "passport": ev.passport, "status": ev.status,
            "status_name": STATUS_NAMES.get(ev.status, ev.status),
            "friendly_name": ev.friendly_name, "friendly_name_raw": raw_bytes(ev.friendly_name),
            "client_id": ev.client_id,
            "msnc_version": msnc, "capabilities": caps, "network": ev.network,
            "network_name": NETWORKS.get(ev.network) if ev.network is not None else None,
            "capabilities_ex": ev.caps_ex, "msnobj": parse_msnobj(ev.msnobj or ""),
            "via": ev.via, "confirmed_status": ev.confirmed_status,
            "confirmed_client_id": ev.confirmed_client_id,
            "confirmed_capabilities_ex": ev.confirmed_caps_ex,
            # the bits the server set that the client did not ask for
            "capabilities_added": (
                [c for c in decode_client_id(ev.confirmed_client_id)[1] if c not in caps]
                if ev.confirmed_client_id is not None else None)})
        if ev.passport and ev.friendly_name and ev.passport in ns.contacts:
            ns.contacts[ev.passport]["friendly_name"] = ev.friendly_name

    def on_personal(self, ev):
        s = self._s(ev)
        d = ev.data
        # objects, not display strings: JSON and SQLite keep the structure, the table
        # and CSV renderers join it (output/emit.py)
        eps = [{k: v for k, v in ep.items() if v is not None} for ep in d.endpoints]
        row = {"time": iso(ev.ts), "session": ev.conn, "capture": None, "owner": None,
               "command": ev.command, "passport": ev.passport, "network": ev.network,
               "personal_message": d.psm, "current_media": d.current_media,
               "current_media_raw": d.current_media_raw,
               "machine_guid": d.machine_guid, "endpoints": eps,
               "msnobj": d.msnobj}
        if ev.passport is None and d.document == "Data":
            # (a UUX of one endpoint's data alone says nothing of the personal message)
            s.ns.personal_message = d.psm
            if d.machine_guid:
                s.machine_guid = s.machine_guid or d.machine_guid
        self._add(ev.conn, "personal_messages", row)


def _group_order(gid: str):
    """Decimal ids (MSNP2-9) in numeric order, GUIDs after them."""
    return (0, int(gid), "") if is_num(gid) else (1, 0, gid)
