"""The floor plan holds: the import contracts in pyproject.toml, no import cycle, files a
reader can hold in mind, one formatting, the type checker, and no silenced type error
left unexplained (docs/architecture.md describes what these protect)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PRODUCT = ("gateway", "resolvers", "models")
MAX_LINES = 500


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT)


def _product_files() -> list[Path]:
    return [
        path
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def test_every_import_contract_is_kept() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    result = _run(str(BIN / "lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(contracts)} kept, 0 broken" in result.stdout
    assert len(contracts) >= 7  # layers, forbidden imports, acyclic siblings, domain order, pure rules


def test_no_module_is_part_of_an_import_cycle() -> None:
    graph = grimp.build_graph(*PRODUCT, cache_dir=None)
    cycles = sorted(
        (module, imported)
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        if imported in graph.modules and graph.chain_exists(importer=imported, imported=module)
    )
    assert cycles == [], f"modules importing each other (directly or through others): {cycles[:5]}"


def test_no_product_file_is_over_500_lines() -> None:
    too_long = {
        str(path.relative_to(ROOT)): n
        for path in _product_files()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert too_long == {}


def test_the_tree_is_formatted_and_lint_clean() -> None:
    formatted = _run(str(BIN / "ruff"), "format", "--check", ".")
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    linted = _run(str(BIN / "ruff"), "check", ".")
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_type_checker_passes_strict_on_the_kernel_and_every_rules_module() -> None:
    checked = _run(str(BIN / "mypy"))  # its files and strictness: [tool.mypy] in pyproject.toml
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Success" in checked.stdout


def test_every_silenced_type_error_says_why() -> None:
    unexplained = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in _product_files()
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "type: ignore" in line and not re.search(r"type: ignore\[[\w-]+(, [\w-]+)*\]  # \S", line)
    ]
    assert unexplained == []
