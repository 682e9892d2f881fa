"""Drives the stages over captures: the sans-IO pipeline (msnsniff/pipeline/) in one
process or two stage processes, several captures side by side, spooling, the Python API."""
