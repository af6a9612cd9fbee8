"""Every third-party module the product imports comes from a declared dependency.

A module installed by hand into a developer's environment works there and fails on a clean
machine: the perceptual hashes' `imagehash` did exactly that (every image of an import failed on
a fresh `.venv`, while the shared development one had it). This test reads every import of
engine/, workbench/ and ui/, maps each third-party module to the distribution that provides it, and
requires that distribution to be in pyproject.toml, or to be required (at any depth) by one that is.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = {"engine", "workbench", "ui", "bench", "tests", "scripts"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _req_name(req: str) -> str:
    m = re.match(r"[A-Za-z0-9_.\-]+", req)
    assert m, req
    return _norm(m.group(0))


def imported_modules() -> dict[str, set[str]]:
    mods: dict[str, set[str]] = {}
    for pkg in ("engine", "workbench", "ui"):
        for path in (ROOT / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for n in names:
                    mods.setdefault(n.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return mods


def declared_closure() -> set[str]:
    """pyproject's dependencies (extras included) and, through installed metadata, what they require."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    todo = [_req_name(r) for r in reqs]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo.extend(_req_name(r) for r in requires if "extra ==" not in r)
    return seen


def test_every_third_party_import_is_a_declared_dependency() -> None:
    providers = metadata.packages_distributions()
    closure = declared_closure()
    missing = []
    for module, files in sorted(imported_modules().items()):
        if module in FIRST_PARTY or module in sys.stdlib_module_names or module == "__future__":
            continue
        dists = {_norm(d) for d in providers.get(module, [])}
        if not dists:  # not installed at all: on a clean `.venv` that is the bug this test is for
            missing.append(f"{module} (not installed), imported by {sorted(files)[:3]}")
        elif not dists & closure:
            missing.append(f"{module} (from {sorted(dists)}), imported by {sorted(files)[:3]}")
    assert missing == [], "imported but not declared in pyproject.toml: " + "; ".join(missing)
