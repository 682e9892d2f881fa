"""The command line (click): one file per sub-command, shared options in common.py."""

from .app import cli, main

__all__ = ["cli", "main"]
