"""msnsniff: a packet-capture analyser for the MSN Messenger protocol MSNP8."""

__version__ = "0.1.0"
