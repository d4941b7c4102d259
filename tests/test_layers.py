"""The layers, checked from the imports (AST; function-level and TYPE_CHECKING imports included): imports only run
downward. See docs/architecture.md for the drawing and the rule of each arrow."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
APPS = ("legion_misp.cli", "legion_misp.demo", "legion_misp.mispmod", "legion_misp.sections", "legion_misp.__main__")
WHEEL_PACKAGES = ("legion_misp", "connectors", "misp_modules")
OPTIONAL = ("sklearn", "scipy", "dp_accounting", "prv_accountant", "matplotlib", "medallion", "flwr", "misp_modules")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[tuple[str, int]]:
    """Every module ``path`` imports (relative imports resolved), with its line."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target, node.lineno
            yield from ((f"{target}.{alias.name}", node.lineno) for alias in node.names)  # `from . import x`


def _modules(*roots: str) -> Iterator[tuple[str, Path]]:
    for root in roots:
        for path in sorted((REPO / root).rglob("*.py")):
            yield _module_name(path), path


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _violations(importers: tuple[str, ...], forbidden: tuple[str, ...], *, roots: tuple[str, ...] = ("legion_misp",),
                exempt: tuple[str, ...] = ()) -> list[str]:
    found = []
    for module, path in _modules(*roots):
        if not _within(module, importers) or _within(module, exempt):
            continue
        for target, line in _imports(path):
            if _within(target, forbidden):
                found.append(f"{path.relative_to(REPO)}:{line} imports {target}")
    return found


def test_core_never_imports_connectors_or_apps():
    assert _violations(("legion_misp",), ("connectors", *APPS, "tests", "benchmarks"), exempt=APPS) == []


def test_connectors_never_import_apps():
    assert _violations(("connectors",), (*APPS, "tests", "benchmarks"), roots=("connectors",)) == []


def test_config_knows_no_subsystem():
    subsystems = ("legion_misp.stores", "legion_misp.stix", "legion_misp.privacy", "legion_misp.trust",
                  "legion_misp.learning", "connectors")
    foundation = ("legion_misp.config", "legion_misp.schema", "legion_misp.errors", "legion_misp.secrets",
                  "legion_misp.timeutil", "legion_misp.log")
    assert _violations(foundation, subsystems) == []
    assert "import_module" not in (REPO / "legion_misp" / "config.py").read_text(encoding="utf-8")  # no string imports


def test_trust_never_imports_stores():
    assert _violations(("legion_misp.trust",), ("legion_misp.stores",)) == []


def test_learning_never_imports_the_demo_or_trust():
    assert _violations(("legion_misp.learning",), ("legion_misp.demo", "legion_misp.trust")) == []


def test_misp_modules_do_not_know_the_sync_job():
    assert _violations(("legion_misp.mispmod", "misp_modules"), ("connectors",),
                       roots=("legion_misp", "misp_modules")) == []


def test_nothing_in_the_wheel_imports_tests_or_benchmarks():
    assert _violations(WHEEL_PACKAGES, ("tests", "benchmarks"), roots=WHEEL_PACKAGES) == []


def test_benchmarks_call_the_library_not_the_cli():
    assert _violations(("benchmarks",), ("legion_misp.cli", "click"), roots=("benchmarks",)) == []


def test_no_test_harness_ships_in_the_wheel():
    shipped = [p.relative_to(REPO) for root in WHEEL_PACKAGES for p in (REPO / root).rglob("*.py")
               if "testing" in p.parts or p.stem in {"medallion_backend", "opentaxii_env", "servers"}]
    assert shipped == []


def test_the_checker_sees_an_upward_import():
    """The AST walk resolves relative and function-level imports: planted upward arrows are caught."""
    planted = REPO / "legion_misp" / "trust" / "_planted_for_test_layers.py"
    planted.write_text("def f():\n    from ..stores import FeedStore\n    from .. import demo\n", encoding="utf-8")
    try:
        found = _violations(("legion_misp.trust",), ("legion_misp.stores", "legion_misp.demo"))
    finally:
        planted.unlink()
    where = "legion_misp/trust/_planted_for_test_layers.py"
    assert f"{where}:2 imports legion_misp.stores" in found and f"{where}:3 imports legion_misp.demo" in found


ENTRY_POINTS = ["legion_misp.cli", "legion_misp.sections", "legion_misp.demo.stages", "legion_misp.mispmod.dp_export",
                "legion_misp.mispmod.federation_import", "legion_misp.mispmod.classify",
                "legion_misp.mispmod.publish_gate", "connectors.job"]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_importing_needs_no_optional_extra(entry):
    """Flower, matplotlib, scikit-learn, the accountants, medallion and misp-modules are imported only where used
    (for the CLI: every subcommand, as `legion --help` loads them)."""
    blocked = "; ".join(f"sys.modules[{name!r}] = None" for name in OPTIONAL)
    code = f"import sys; {blocked}; import {entry}"
    if entry == "legion_misp.cli":
        code += "; from legion_misp.cli import cli, subcommands; assert len(subcommands(cli)) >= 9"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-2000:]


def test_one_error_hierarchy():
    """Every exception class the wheel defines derives from legion_misp.errors.LegionError (private helpers
    excepted), so callers catch one base and the CLI prints one located message with its exit code."""
    import importlib
    import inspect

    from legion_misp.errors import LegionError

    outside = []
    for module_name, _path in _modules("legion_misp", "connectors"):
        if module_name.endswith("__main__") or "flower_app" in module_name or "estimator" in module_name:
            continue  # flower_app needs Flower, estimator scikit-learn: both define no exception
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module_name
                    and not name.startswith("_") and not issubclass(value, LegionError)):
                outside.append(f"{module_name}.{name}")
    assert outside == []


def test_one_rfc3339_parser():
    """Timestamps are parsed in legion_misp/timeutil.py only (STIX, TAXII cursors, MISP first_seen alike)."""
    callers = [str(p.relative_to(REPO)) for root in ("legion_misp", "connectors") for p in (REPO / root).rglob("*.py")
               if "fromisoformat(" in p.read_text(encoding="utf-8")]
    assert callers == ["legion_misp/timeutil.py"]
