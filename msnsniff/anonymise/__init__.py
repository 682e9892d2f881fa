"""Capture anonymisation (`msnsniff anonymise`): same-length pseudonyms for every
identifying value, found by framing the streams as the decoder does.  Sans-IO: bytes
in, patches out; engine/anonymise.py reads and writes the files."""
