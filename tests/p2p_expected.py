"""What a correct decoder must find in captures/p2p_wlm.pcap.gz and captures/p2p_msnp12.pcap.gz,
computed from the scenario constants that made them (captures/p2p_wlm_scenarios.py,
p2p_dc_scenarios.py), never from decoder output.  ``EXPECTED[capture]`` is a plain dict:
``transfers`` (one per MSNSLP call, however many endpoints saw copies), ``emoticons``
(announcements, fetched or not), ``winks``, ``voice_clips``, ``nudges``, ``chunked``
(joined switchboard messages).  Endpoint GUIDs are given upper-case; the captures write
them in both cases (P2P-Dest/P2P-Src upper, MSNSLP To/From lower)."""

from __future__ import annotations

import base64
import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "captures"))

import p2p_dc_scenarios as D  # noqa: E402
import p2p_wlm_scenarios as W  # noqa: E402


def _h(data: bytes) -> dict:
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "sha1d": base64.b64encode(hashlib.sha1(data).digest()).decode()}


def _t(calls, name, kind, fname, sender, s_ep, receiver, r_ep, data, status, closed_by,
       transport="switchboard", received=None, app_id=None, msnobj_type=None, size=None):
    call_id, sid = calls[name][0], calls[name][1]
    row = {"kind": kind, "name": fname, "call_id": call_id, "session_id": sid,
           "sender": sender, "sender_endpoint": s_ep, "receiver": receiver,
           "receiver_endpoint": r_ep, "status": status, "closed_by": closed_by,
           "transport": transport, "app_id": app_id, "msnobj_type": msnobj_type}
    if isinstance(data, bytes):
        got = data if received is None else data[:received]
        row.update(_h(data), received=len(got))
        if received is not None:
            row["received_sha256"] = hashlib.sha256(got).hexdigest()
    else:
        row.update(size=data, received=0, sha256=None, sha1d=None)
    return row


A, B, A1, A2, MB = W.A, W.B, W.MG_A1, W.MG_A2, W.MG_B
WLM = {
    "dialect": "MSNP18", "p2p_version": 2, "switchboard": "127.0.0.3:1864",
    "sb_session": W.SB_SESSION,
    "endpoints": {A: [A1, A2], B: [MB]},          # A2 (127.0.0.41) sees every message, answers none
    "client_ips": {A1: W.A1_IP, A2: W.A2_IP, MB: W.B_IP},
    "transfers": [
        _t(W.CALLS, "file_ok", "file", W.FILE_OK[0], A, A1, B, MB, W.FILE_OK[1], "complete", A, app_id=2),
        _t(W.CALLS, "file_no", "file", W.FILE_NO[0], A, A1, B, MB, W.FILE_NO[1], "declined", B, app_id=2),
        _t(W.CALLS, "file_cancel", "file", W.FILE_CANCEL[0], A, A1, B, MB, W.FILE_CANCEL[1],
           "cancelled", B, received=W.CANCEL_PARTS * W.DATA_CHUNK, app_id=2),
        _t(W.CALLS, "dp", "display-picture", None, B, MB, A, A1, W.PICTURE, "complete", A,
           app_id=12, msnobj_type=3),
        _t(W.CALLS, "fleur", "emoticon", ":fleur:", A, A1, B, MB, W.FLEUR, "complete", B,
           app_id=11, msnobj_type=2),
        _t(W.CALLS, "danse", "emoticon", ":danse:", A, A1, B, MB, W.DANSE, "complete", B,
           app_id=11, msnobj_type=2),
        _t(W.CALLS, "wink", "wink", "Bisou", A, A1, B, MB, W.WINK, "complete", B,
           app_id=11, msnobj_type=8),
        _t(W.CALLS, "voice", "voice-clip", "VC1B.tmp", A, A1, B, MB, W.VOICE, "complete", B,
           app_id=11, msnobj_type=11),
        _t(W.CALLS, "file_dc", "file", W.FILE_DC[0], A, A1, B, MB, W.FILE_DC[1], "complete", A,
           transport="direct", app_id=2),
    ],
    "direct": {"listener": f"{W.B_IP}:{W.DC_PORT}", "connector_ip": W.A1_IP, "nonce": W.DC_NONCE,
               "hashed_nonce": W.hashed_nonce(W.DC_NONCE), "call_id": W.CALLS["file_dc"][0],
               "data_frames": -(-len(W.FILE_DC[1]) // W.DATA_CHUNK)},
    "file_ok_invite_chunks": 2,           # its INVITE is split: 2 sequence numbers, TF First on the first
    "emoticons": [
        {"from": A, "shortcut": ":fleur:", "animated": False, "fetched": True, "sha1d": W.FLEUR_SHA1D},
        {"from": A, "shortcut": ":soleil:", "animated": False, "fetched": False, "sha1d": W.SOLEIL_SHA1D},
        {"from": A, "shortcut": ":danse:", "animated": True, "fetched": True, "sha1d": W.DANSE_SHA1D},
    ],
    "winks": [{"from": A, "friendly": "Bisou", "sha1d": W.WINK_SHA1D, "message_id": W.WINK_MSG_ID,
               "chunks": 3}],
    "voice_clips": [{"from": A, "location": "VC1B.tmp", "sha1d": W.VOICE_SHA1D}],
    "nudges": [{"from": B}],
    "chunked": [{"from": A, "message_id": W.TEXT_MSG_ID, "chunks": 2, "text": W.LONG_TEXT},
                {"from": A, "message_id": W.WINK_MSG_ID, "chunks": 3, "content_type": "text/x-msnmsgr-datacast"}],
    "texts": ["Salut Bob ! Je t'envoie le rapport.", "Regarde :fleur: et :soleil: !", "Et :danse: !",
              W.LONG_TEXT, "Bien reçu, merci Alice 🙂"],
}

P12 = {
    "dialect": "MSNP12", "p2p_version": 1, "switchboard": "127.0.0.3:1864", "sb_session": "12125050",
    "client_ips": {D.A: D.A_IP, D.B: D.B_IP},
    "transfers": [
        _t(D.CALLS, "dp", "display-picture", None, D.B, None, D.A, None, D.PICTURE, "complete", D.A,
           app_id=1, msnobj_type=3),
        _t(D.CALLS, "chat", "emoticon", ":chat:", D.A, None, D.B, None, D.CHAT, "complete", D.B,
           app_id=11, msnobj_type=2),
        _t(D.CALLS, "saut", "emoticon", ":saut:", D.A, None, D.B, None, D.SAUT, "complete", D.B,
           app_id=11, msnobj_type=2),
        _t(D.CALLS, "wink", "wink", "Coucou", D.A, None, D.B, None, D.WINK, "complete", D.B,
           app_id=11, msnobj_type=8),
        _t(D.CALLS, "voice", "voice-clip", "VC7.tmp", D.A, None, D.B, None, D.VOICE, "complete", D.B,
           app_id=11, msnobj_type=11),
        _t(D.CALLS, "file_dc", "file", D.FILE_DC[0], D.A, None, D.B, None, D.FILE_DC[1], "complete", D.B,
           transport="direct", app_id=2),
        _t(D.CALLS, "file_sb", "file", D.FILE_SB[0], D.A, None, D.B, None, D.FILE_SB[1], "complete", D.B,
           app_id=2),
    ],
    "direct": {"listener": f"{D.B_IP}:{D.DC_PORT}", "connector_ip": D.A_IP, "nonce": D.NONCE,
               "listening_false_nonce": D.NONCE2, "call_id": D.CALLS["file_dc"][0],
               "data_frames": -(-len(D.FILE_DC[1]) // 1202)},
    "emoticons": [
        {"from": D.A, "shortcut": ":chat:", "animated": False, "fetched": True, "sha1d": D.CHAT_SHA1D},
        {"from": D.A, "shortcut": ":saut:", "animated": True, "fetched": True, "sha1d": D.SAUT_SHA1D},
    ],
    "winks": [{"from": D.A, "friendly": "Coucou", "sha1d": D.WINK_SHA1D, "message_id": D.WINK_MSG_ID,
               "chunks": 3}],
    "voice_clips": [{"from": D.A, "location": "VC7.tmp", "sha1d": D.VOICE_SHA1D}],
    "nudges": [],
    "chunked": [{"from": D.A, "message_id": D.WINK_MSG_ID, "chunks": 3,
                 "content_type": "text/x-msnmsgr-datacast"}],
    "texts": ["Mes émoticônes :chat: :saut:"],
}

EXPECTED = {"p2p_wlm.pcap.gz": WLM, "p2p_msnp12.pcap.gz": P12}
