"""Builds the optional compiled core (msnsniff/core/_core.c; see msnsniff/core/__init__.py).

Everything else is in pyproject.toml.  ``optional=True``: where no C compiler or no
Python headers exist, the build skips the extension with a warning and msnsniff runs
on its Python path (``msnsniff --version`` says which core runs)."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("msnsniff.core._core", ["msnsniff/core/_core.c"], optional=True,
                             extra_compile_args=["-O2"])])
