"""Facts about MSNP with no state: verb tables, error and status names, MIME parsing,
client-id bits, the challenge algorithm.  Every stage may import it; it imports nothing
of msnsniff but ``errors``."""
