"""The package's layout is a rule, not a habit: one folder per stage, each importing only
the stages below it, no import circle, no module over 500 lines (docs/architecture.md)."""

from __future__ import annotations

import ast
import os

import pytest

PKG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "msnsniff")

# lowest first: a module may import its own layer and the layers before it
# pipeline (sans-IO: reassembly -> framing -> decoders, the HTTP gateway) sits right above
# the decoders it runs; engine sits above output: it drives every stage and writes (the
# Python API, exports per capture, spooling), while output only renders rows
LAYERS = ["version", "errors", "config", "protocol", "events", "capture", "stream", "core",
          "decoder",
          "pipeline", "anonymise",
          "model", "output", "engine", "cli"]
STAGE_FOLDERS = {"capture", "stream", "core", "decoder", "pipeline", "anonymise", "model", "engine",
                 "output", "cli", "protocol"}


def _modules() -> dict[str, str]:
    """dotted module name -> file path, for every module of the package"""
    out = {}
    for folder, _dirs, names in os.walk(PKG):
        for n in names:
            if n.endswith(".py"):
                path = os.path.join(folder, n)
                rel = os.path.relpath(path, os.path.dirname(PKG))[:-3].replace(os.sep, ".")
                out[rel.removesuffix(".__init__")] = path
    return out


MODULES = _modules()


def _imports(name: str, path: str) -> set[str]:
    """Modules of the package that ``name`` imports anywhere (lazy imports included)."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            subs = [f"{target}.{a.name}" for a in node.names]
            # `from .. import events` imports the module events, not the package
            candidates = [c for c in subs if c in MODULES] or [target]
        elif isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        else:
            continue
        for c in candidates:
            if c in MODULES and c != name:
                found.add(c)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(name: str) -> int:
    parts = name.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        # the package itself is the public face (msnsniff.analyse …), like the CLI
        return LAYERS.index("cli")
    return LAYERS.index(parts[1])


def test_every_module_is_in_a_known_layer():
    for name in MODULES:
        _layer(name)        # raises ValueError for a folder or loose module not in LAYERS


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_import_from_a_higher_stage(name):
    upward = sorted(t for t in GRAPH[name] if _layer(t) > _layer(name))
    assert upward == [], f"{name} imports stages above its own: {upward}"


def test_no_import_circle():
    # Tarjan's strongly connected components over every import, lazy ones included
    index, low, stack, on, circles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            # a package importing its own submodules is not a circle unless they import it back
            if len(comp) > 1:
                circles.append(sorted(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert circles == []


def test_small_modules_and_few_loose_ones():
    sizes = {n: sum(1 for _ in open(p, encoding="utf-8")) for n, p in MODULES.items()}
    assert {n: s for n, s in sizes.items() if s > 500} == {}
    loose = sorted(n for n, p in MODULES.items()
                   if os.path.dirname(p) == PKG)
    assert len(loose) <= 6, loose
    folders = {d for d in os.listdir(PKG) if os.path.isdir(os.path.join(PKG, d))
               and not d.startswith("__")}
    assert STAGE_FOLDERS <= folders


def test_the_linter_finds_nothing():
    """ruff with the project's rules ([tool.ruff] in pyproject.toml: pycodestyle errors,
    pyflakes, import order) over the package, the tests, the capture scripts, the
    fuzzers and the benchmarks: unused imports and undefined names fail the suite."""
    import shutil
    import subprocess
    import sys
    ruff = shutil.which("ruff", path=os.path.dirname(sys.executable)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]' installs it)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run([ruff, "check", "msnsniff", "tests", "captures", "fuzz", "bench"],
                       cwd=root, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:]


def test_the_type_checker_finds_nothing():
    """mypy with the project's settings ([tool.mypy] in pyproject.toml) over the package:
    a wrong argument, a None not narrowed or a missing attribute fails the suite."""
    import importlib.util
    import subprocess
    import sys
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install -e '.[test]' installs it)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # (its cache, .mypy_cache, makes a second run take a second instead of ~15)
    r = subprocess.run([sys.executable, "-m", "mypy", "msnsniff"],
                       cwd=root, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
