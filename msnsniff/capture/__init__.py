"""Stage 1, capture: pcap/pcapng files, stdin and live sockets -> Segments.

The only stage that reads packets from the outside world (files, sockets)."""
