#!/bin/bash
# Make one capture of a real Escargot server:  run_capture.sh OUT.pcap CLIENT.py [DC_PORT]
#   DC_PORT: a direct-connection port the client uses between its two peers (added to the filter).
#   1. fresh Escargot database (reset_db.py), 2. start Escargot (run_all.py, non-dev mode:
#   plain HTTP on 127.0.0.1:8081, NS 1863, SB 1864), 3. tcpdump on lo, 4. run the client,
#   5. stop tcpdump and the server (by their PIDs).
# Needs root (tcpdump).  ESCARGOT (default /tmp/escargot) and ESCVENV (default /tmp/escvenv).
set -eu
OUT=$(realpath "$1"); CLIENT=$(realpath "$2"); DC_PORT=${3:-}
FILTER='tcp port 1863 or tcp port 1864 or tcp port 8081'
[ -n "$DC_PORT" ] && FILTER="$FILTER or tcp port $DC_PORT"
HERE=$(dirname "$(realpath "$0")")
ESCARGOT=${ESCARGOT:-/tmp/escargot}
ESCVENV=${ESCVENV:-/tmp/escvenv}

cd "$ESCARGOT"
"$ESCVENV/bin/python" "$HERE/reset_db.py"
"$ESCVENV/bin/python" -u run_all.py > "$HERE/server_$(basename "$OUT" .pcap).log" 2>&1 &
SERVER=$!
for i in $(seq 50); do
  (echo > /dev/tcp/127.0.0.1/1863) 2>/dev/null && break || sleep 0.2
done
sleep 2   # run_all.py opens 8081, 1863, 1864 within a second or so

tcpdump -i lo -U -w "$OUT" "$FILTER" 2> "$HERE/tcpdump.err" &
DUMP=$!
sleep 1.5
cd "$HERE"
"$ESCVENV/bin/python" "$CLIENT" > "$HERE/client_$(basename "$OUT" .pcap).log" 2>&1 || { echo "client failed, see client_$(basename "$OUT" .pcap).log"; }
sleep 1
kill -INT $DUMP; wait $DUMP 2>/dev/null || true
kill $SERVER; wait $SERVER 2>/dev/null || true
cat "$HERE/tcpdump.err"; rm -f "$HERE/tcpdump.err"
ls -l "$OUT"
