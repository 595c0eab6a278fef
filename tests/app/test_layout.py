"""The structure the project keeps (DESIGN.md §3), checked: imports point down only, the pure layers write no
file, and no module outgrows one job."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("redband", "simulation", "benchmarks", "actors", "engine", "protocols")
MAX_LINES = 350
FILE_WRITES = re.compile(r"\.write_text\(|\.write_bytes\(|\bchmod\(|\bmkdir\(|\bmakedirs\(|\bunlink\(|os\.replace\("
                         r"|shutil\.|\bopen\([^)]*['\"][wax]b?\+?['\"]")


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(package: str) -> set[str]:
    found = set()
    for file in _modules(package):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", ["simulation", "actors", "engine", "protocols"])
def test_no_lower_layer_imports_the_application(package):
    assert "redband" not in _imports(package)


@pytest.mark.parametrize("package, forbidden", [
    ("actors", {"simulation", "benchmarks"}),
    ("engine", {"ray", "actors", "simulation", "aiomqtt", "websockets"}),
    ("protocols", {"ray", "actors", "engine", "simulation", "aiomqtt", "websockets"}),
])
def test_imports_point_down_only(package, forbidden):
    assert not _imports(package) & forbidden


@pytest.mark.parametrize("package", ["engine", "protocols"])
def test_the_pure_layers_write_no_file(package):
    writes = [f"{file.relative_to(ROOT)}:{n}: {line.strip()}" for file in _modules(package)
              for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1) if FILE_WRITES.search(line)]
    assert not writes


def test_no_module_outside_the_tests_is_over_350_lines():
    long = {str(f.relative_to(ROOT)): n for package in PACKAGES for f in _modules(package)
            if (n := len(f.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"split by job: {long}"
