"""The one place the version is written (every stage may import it)."""

__version__ = "0.2.0"
