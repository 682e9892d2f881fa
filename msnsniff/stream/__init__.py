"""Stage 2, stream: Segments -> in-order bytes per direction (reassembly) -> framed
commands, payloads and damage (framing).  No I/O."""
