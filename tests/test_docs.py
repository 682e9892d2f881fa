"""The documentation says what exists: README names every command and every table, and
every repository path that README or docs/ mention is there."""

import os
import re

from conftest import CAPTURES

from msnsniff.cli import cli
from msnsniff.model.schema import TABLE_NAMES

ROOT = os.path.dirname(CAPTURES)


def _read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def test_readme_names_every_command():
    readme = _read("README.md")
    missing = [c for c in sorted(cli.commands) if f"msnsniff {c}" not in readme]
    assert not missing, missing


def test_the_schema_doc_names_every_table_and_readme_points_to_it():
    schema_doc = _read("docs/schema.md")
    assert not [t for t in TABLE_NAMES if f"`{t}`" not in schema_doc and f"## {t}" not in
                schema_doc]
    assert "docs/schema.md" in _read("README.md")


# `path/like/this.py` in backquotes or a markdown link target, under a top-level folder
# of the repository
_PATH = re.compile(r"(?:`|\]\()((?:msnsniff|docs|tests|bench|fuzz|captures|\.ci|capture|stream|"
                   r"decoder|model|output|engine|protocol|cli)/[A-Za-z0-9_./-]+?)[`)]")


def test_every_path_the_docs_name_exists():
    docs = ["README.md", "captures/README.md"] + [
        f"docs/{n}" for n in sorted(os.listdir(os.path.join(ROOT, "docs"))) if n.endswith(".md")]
    missing = []
    for rel in docs:
        for path in _PATH.findall(_read(rel)):
            path = path.rstrip(".").split("#")[0]
            if "*" in path or "<" in path:
                continue
            if not os.path.exists(os.path.join(ROOT, path)) and \
                    not os.path.exists(os.path.join(ROOT, "msnsniff", path)):
                missing.append((rel, path))
    assert not missing, missing
