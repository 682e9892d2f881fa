#!/usr/bin/env python3
"""Deterministic generator of large benchmark captures (never committed: generated).

    python3 bench/gen.py OUT.pcap --packets 1000000 [--msnp-fraction 0.05] [--seed 1]

*mixed* (default fraction 0.05): several hundred concurrent MSNP8 connections (dispatch
logins, notification sessions with SYN bursts, presence, pings and challenges,
switchboard chats with typing; commands coalesced into segments and split across
segments) among other TCP (ports 80/443) and UDP (53) traffic.  *dense*: fraction 1.0.
A sidecar OUT.pcap.json records the packet count, bytes and the exact number of MSNP
commands written, so the benchmark can check that msnsniff decodes all of them.
"""

from __future__ import annotations

import argparse
import json
import random
import struct

ETH = b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00"
REC = struct.Struct("<IIII")
IP = struct.Struct(">BBHHHBBH4s4s")
TCP = struct.Struct(">HHIIBBHHH")
UDP = struct.Struct(">HHHH")


def ip4(n: int) -> bytes:
    return struct.pack(">I", n)


class Conn:
    """One scripted MSNP connection: a queue of (direction, bytes) segments."""

    def __init__(self, rng, cid, kind):
        self.cid = cid
        self.client = (0x0A000000 + rng.randrange(1, 60000), 20000 + (cid * 7) % 40000)
        self.server = (0xC6336400 + rng.randrange(1, 200), 1863 if kind != "sb" else
                       rng.choice((1863, 1864)))
        self.seq = [rng.randrange(1 << 32), rng.randrange(1 << 32)]
        self.segments = []          # (dir, payload, flags)
        self.commands = 0
        self.syn_done = False
        self.rng = rng
        getattr(self, "_" + kind)()

    # ------------------------------------------------------------ scripts
    def _send(self, d, lines, split=False):
        """Queue commands (each a complete line [+ payload]) as one segment, or as two
        cut at a random byte.  Each segment records how many commands end inside it, so
        the command count of a capture cut anywhere is exact."""
        data = b"".join(lines)
        ends, pos = [], 0
        for line in lines:
            pos += len(line)
            ends.append(pos)
        self.commands += len(lines)
        cuts = [0, self.rng.randrange(1, len(data)), len(data)] if split and len(data) > 8 \
            else [0, len(data)]
        for a, b in zip(cuts, cuts[1:]):
            self.segments.append((d, data[a:b], sum(1 for e in ends if a < e <= b)))

    def _msg(self, head: str, payload: bytes) -> bytes:
        return f"{head} {len(payload)}\r\n".encode() + payload

    def _ns(self):
        r = self.rng
        me = f"user{self.cid}@hotmail.com"
        self._send(0, [b"VER 1 MSNP8 CVR0\r\n"])
        self._send(1, [b"VER 1 MSNP8 CVR0\r\n"])
        self._send(0, [f"CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 5.0.0544 MSMSGS {me}\r\n".encode()])
        self._send(1, [b"CVR 2 5.0.0544 5.0.0544 1.0.0863 http://x http://y\r\n"])
        self._send(0, [f"USR 3 TWN I {me}\r\n".encode()])
        self._send(1, [b"USR 3 TWN S lc=1033,id=507,tw=40,fs=1,ct=1062764229,kpp=1,kv=5\r\n"])
        self._send(0, [b"USR 4 TWN S t=" + b"A" * 200 + b"&p=" + b"B" * 100 + b"\r\n"])
        self._send(1, [f"USR 4 OK {me} User%20{self.cid} 1 0\r\n".encode()])
        port = self.client[1]
        prof = ("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsprofile; charset=UTF-8\r\n"
                "LoginTime: 1062764229\r\nEmailEnabled: 1\r\nMemberIdHigh: 84736\r\n"
                "MemberIdLow: -1434251981\r\nlang_preference: 1033\r\nkv: 5\r\n"
                f"ClientIP: 10.0.0.1\r\nClientPort: {((port & 255) << 8) | (port >> 8)}\r\n\r\n")
        self._send(1, [self._msg("MSG Hotmail Hotmail", prof.encode())], split=True)
        n = r.randrange(10, 60)
        self._send(0, [b"SYN 5 0\r\n"])
        syn = [f"SYN 5 {n + 3} {n} 2\r\n".encode(), b"GTC A\r\n", b"BLP AL\r\n",
               b"LSG 0 Other%20Contacts 0\r\n", b"LSG 1 Friends 0\r\n"]
        syn += [f"LST c{i}@hotmail.com Contact%20{i} {r.choice((11, 10, 9, 3))} 0\r\n".encode()
                for i in range(n)]
        for i in range(0, len(syn), 12):     # a SYN burst over several segments
            self._send(1, syn[i:i + 12], split=r.random() < 0.3)
        self._send(0, [b"CHG 6 NLN 268435492\r\n"])
        self._send(1, [b"CHG 6 NLN 268435492\r\n"] + [
            f"ILN 6 NLN c{i}@hotmail.com Contact%20{i} 268435492\r\n".encode()
            for i in range(min(n, 8))])
        trid = 7
        for _ in range(r.randrange(20, 60)):
            x = r.random()
            if x < 0.5:
                st = r.choice(("NLN", "AWY", "BSY", "IDL", "BRB"))
                c = r.randrange(n)
                self._send(1, [f"NLN {st} c{c}@hotmail.com Contact%20{c} 268435492\r\n".encode()],
                           split=r.random() < 0.1)
            elif x < 0.7:
                self._send(0, [b"PNG\r\n"])
                self._send(1, [b"QNG\r\n"])
            elif x < 0.8:
                self._send(1, [b"CHL 0 15570131571988941333\r\n"])
                self._send(0, [f"QRY {trid} msmsgs@msnmsgr.com 32\r\n".encode()
                               + b"8f2f5a91b72102cd28355e9fc9000d6e"])
                self._send(1, [f"QRY {trid}\r\n".encode()])
                trid += 1
            elif x < 0.9:
                self._send(0, [f"XFR {trid} SB\r\n".encode()])
                self._send(1, [f"XFR {trid} SB 198.51.100.40:1864 CKI {trid}.{self.cid}\r\n".encode()])
                trid += 1
            else:
                self._send(1, [f"FLN c{r.randrange(n)}@hotmail.com\r\n".encode()])
        self._send(0, [b"OUT\r\n"])

    def _sb(self):
        r = self.rng
        me, peer = f"user{self.cid}@hotmail.com", f"peer{self.cid}@hotmail.com"
        self._send(0, [f"USR 1 {me} {self.cid}.1062764410.32308\r\n".encode()])
        self._send(1, [f"USR 1 OK {me} Me\r\n".encode()])
        self._send(0, [f"CAL 2 {peer}\r\n".encode()])
        self._send(1, [b"CAL 2 RINGING 11752013\r\n", f"JOI {peer} Peer\r\n".encode()])
        trid = 3
        for _ in range(r.randrange(10, 40)):
            typing = (f"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\n"
                      f"TypingUser: {me}\r\n\r\n\r\n").encode()
            text = ("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                    "X-MMS-IM-Format: FN=Arial; EF=B; CO=ff0000; CS=0; PF=22\r\n\r\n"
                    + "hello there " * r.randrange(1, 20)).encode()
            if r.random() < 0.5:
                self._send(0, [self._msg(f"MSG {trid} U", typing)])
                self._send(0, [self._msg(f"MSG {trid + 1} N", text)], split=r.random() < 0.3)
                trid += 2
            else:
                self._send(1, [self._msg(f"MSG {peer} Peer", text)], split=r.random() < 0.3)
        self._send(1, [f"BYE {peer}\r\n".encode()])
        self._send(0, [b"OUT\r\n"])

    def _ds(self):
        me = f"user{self.cid}@hotmail.com"
        self._send(0, [b"VER 1 MSNP8 CVR0\r\n"])
        self._send(1, [b"VER 1 MSNP8 CVR0\r\n"])
        self._send(0, [f"USR 2 TWN I {me}\r\n".encode()])
        self._send(1, [b"XFR 2 NS 198.51.100.20:1863 0 198.51.100.1:1863\r\n"])

    # ------------------------------------------------------------ packets
    def packets(self):
        """Yield (src ip, sport, dst ip, dport, seq, ack, flags, payload)."""
        c, s = self.client, self.server
        yield (c, s, self.seq[0], 0, 0x02, b""), 0
        yield (s, c, self.seq[1], self.seq[0] + 1, 0x12, b""), 0
        self.seq = [(self.seq[0] + 1) & 0xFFFFFFFF, (self.seq[1] + 1) & 0xFFFFFFFF]
        for d, data, n in self.segments:
            a, b = (c, s) if d == 0 else (s, c)
            yield (a, b, self.seq[d], self.seq[1 - d], 0x18, data), n
            self.seq[d] = (self.seq[d] + len(data)) & 0xFFFFFFFF
        yield (c, s, self.seq[0], self.seq[1], 0x11, b""), 0
        yield (s, c, self.seq[1], (self.seq[0] + 1) & 0xFFFFFFFF, 0x11, b""), 0


def tcp_packet(src, dst, seq, ack, flags, payload):
    (sip, sport), (dip, dport) = src, dst
    iph = IP.pack(0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0, ip4(sip), ip4(dip))
    return ETH + iph + TCP.pack(sport, dport, seq, ack, 0x50, flags, 65535, 0, 0) + payload


def generate(path, packets, fraction, seed=1, concurrent=300):
    rng = random.Random(seed)
    noise_payloads = [bytes(rng.randrange(256) for _ in range(n))
                      for n in (0, 64, 512, 1200, 1400, 1448)]
    active, cid = [], 0
    counts = {"packets": 0, "bytes": 0, "msnp_packets": 0, "commands": 0, "connections": 0}
    t = 1_100_000_000.0
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        while counts["packets"] < packets:
            t += 0.0002
            if rng.random() < fraction:
                while len(active) < concurrent:
                    cid += 1
                    kind = rng.choices(("ns", "sb", "ds"), (5, 4, 1))[0]
                    conn = Conn(rng, cid, kind)
                    counts["connections"] += 1
                    active.append(conn.packets())
                i = rng.randrange(len(active))
                item = next(active[i], None)
                if item is None:
                    active.pop(i)
                    continue
                pkt, ncmd = item
                frame = tcp_packet(*pkt)
                counts["msnp_packets"] += 1
                counts["commands"] += ncmd
            elif rng.random() < 0.8:
                src = (0x0B000000 + rng.randrange(1 << 16), rng.randrange(1024, 65535))
                dst = (0x5DB8D822 + rng.randrange(100), rng.choice((80, 443)))
                if rng.random() < 0.5:
                    src, dst = dst, src
                frame = tcp_packet(src, dst, rng.randrange(1 << 32), rng.randrange(1 << 32), 0x18,
                                   rng.choice(noise_payloads))
            else:
                pl = noise_payloads[1][:rng.randrange(20, 60)]
                frame = (ETH + IP.pack(0x45, 0, 28 + len(pl), 0, 0, 64, 17, 0, ip4(0x0B000001),
                                       ip4(0x08080808)) + UDP.pack(5353, 53, 8 + len(pl), 0) + pl)
            sec = int(t)
            f.write(REC.pack(sec, int((t - sec) * 1e6), len(frame), len(frame)))
            f.write(frame)
            counts["packets"] += 1
            counts["bytes"] += len(frame) + 16
    with open(path + ".json", "w") as f:
        json.dump(counts, f)
    return counts


def generate_short(path, connections, seed=1):
    """``connections`` connections of three packets each (a client's VER, the server's
    answer, the client's RST), a new client address each: the hostile case of a
    capture that is mostly connection set-ups (memory must not follow their number)."""
    counts = {"packets": 0, "bytes": 0, "msnp_packets": 0, "commands": 0,
              "connections": connections}
    t = 1_100_000_000.0
    ver = b"VER 1 MSNP8 CVR0\r\n"
    server = (0xC6336414, 1863)
    with open(path, "wb", buffering=1 << 20) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(connections):
            client = (0x0A000000 + (i >> 10), 1024 + (i & 1023))
            for frame in (tcp_packet(client, server, 1000, 5000, 0x18, ver),
                          tcp_packet(server, client, 5000, 1000 + len(ver), 0x18, ver),
                          tcp_packet(client, server, 1000 + len(ver), 0, 0x04, b"")):
                t += 0.0002
                sec = int(t)
                f.write(REC.pack(sec, int((t - sec) * 1e6), len(frame), len(frame)))
                f.write(frame)
                counts["bytes"] += len(frame) + 16
            counts["packets"] += 3
            counts["msnp_packets"] += 3
            counts["commands"] += 2
    with open(path + ".json", "w") as f:
        json.dump(counts, f)
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--packets", type=int, default=100_000)
    ap.add_argument("--msnp-fraction", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--concurrent", type=int, default=300)
    ap.add_argument("--short-connections", type=int, metavar="N",
                    help="instead: N connections of 3 packets each (VER, VER, RST)")
    a = ap.parse_args()
    if a.short_connections:
        print(json.dumps(generate_short(a.out, a.short_connections, a.seed)))
        return
    print(json.dumps(generate(a.out, a.packets, a.msnp_fraction, a.seed, a.concurrent)))


if __name__ == "__main__":
    main()
