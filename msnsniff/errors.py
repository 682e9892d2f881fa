"""Errors meant for people: one line, no traceback (the CLI turns them into exit code 2)."""


class MsnsniffError(Exception):
    """A user-facing problem: bad input file, bad option value, unwritable output."""
