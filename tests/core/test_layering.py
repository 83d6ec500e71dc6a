"""Imports flow one way (DESIGN.md §2, STYLE.md): the foundation apps (core, crypto, audit, jobs) import no
domain app, and accounts does not import sso (sso builds on accounts; accounts reaches it by signals)."""

from __future__ import annotations

import ast
from pathlib import Path

import tongban

ROOT = Path(tongban.__file__).parent
FOUNDATION = ("core", "crypto", "audit", "jobs")
# The demo (tongban.demo) is the composition root of `tongban demo`: it seeds every app by design, and no
# app imports it.
COMPOSITION_ROOT = "demo"


def _imported_apps(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name.split(".")[1] for name in names if name.startswith("tongban.") and name.count(".") >= 1}


def _violations(app: str, allowed: set[str]) -> list[str]:
    found = []
    for path in sorted((ROOT / app).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for other in sorted(_imported_apps(path) - allowed - {app}):
            found.append(f"{path.relative_to(ROOT)} imports tongban.{other}")
    return found


def test_the_foundation_imports_no_domain_app():
    problems = [v for app in FOUNDATION for v in _violations(app, set(FOUNDATION))]
    assert problems == []


def test_no_app_imports_the_demo():
    apps = sorted(p.name for p in ROOT.iterdir() if (p / "apps.py").exists() and p.name != COMPOSITION_ROOT)
    problems = [v for app in apps for v in _violations(app, set(apps)) if v.endswith(f"tongban.{COMPOSITION_ROOT}")]
    assert apps and problems == []


def test_accounts_does_not_import_sso():
    problems = [v for v in _violations("accounts", set(FOUNDATION) | {"notifications", "partners", "verification"})
                if v.endswith("tongban.sso")]
    assert problems == []


def test_the_scan_sees_imports(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    from tongban.sso.models import Client\nimport tongban.accounts.roles\n")
    assert _imported_apps(sample) == {"sso", "accounts"}
