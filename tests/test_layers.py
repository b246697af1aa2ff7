"""The repository's layering, checked on the source: the product (scanner, exporters, policies)
never imports the research lab (lab/bdscan_lab), no layer imports one above it (the report
exporters and the ONNX<->PyTorch bridge never import remediation), the lab's scripts never edit
sys.path, and the lab's commands reach the CLI only through the entry-point registry."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import COMMAND_GROUP, LAB_COMMANDS, BdscanGroup, cli
from scanner.errors import ExitCode
from tests.conftest import REPO

ROOT = REPO
PRODUCT = ("scanner", "exporters", "policies")


def _imports(path: Path) -> set[str]:
    """Every module name an `import` or `from ... import` in `path` names (lazy ones too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_product_never_imports_the_lab() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in _imports(path)
        if name.split(".")[0] == "bdscan_lab"
    ]
    assert offenders == []
    # And the wheel's package list leaves the lab out.
    assert (
        'include = ["scanner*", "exporters*", "policies*"]' in (ROOT / "pyproject.toml").read_text()
    )


# package -> the packages above it, which it must not import (lazily or not).
ABOVE = {
    "exporters": ("scanner.remediate", "scanner.app", "scanner.cli", "scanner.bridge"),
    "scanner/bridge": ("scanner.remediate", "scanner.app", "scanner.cli", "exporters"),
    "scanner/detectors": ("scanner.remediate", "scanner.app", "scanner.cli", "scanner.pipeline"),
    "scanner/backends": ("scanner.remediate", "scanner.app", "scanner.detectors", "exporters"),
    "scanner/remediate": ("scanner.app", "scanner.cli"),
}


@pytest.mark.parametrize("package", sorted(ABOVE))
def test_no_package_imports_one_above_it(package: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in _imports(path)
        if any(name == up or name.startswith(up + ".") for up in ABOVE[package])
    ]
    assert offenders == []


def test_no_script_edits_sys_path() -> None:
    scripts = sorted((ROOT / "benchmarks").glob("*.py")) + sorted((ROOT / "lab").rglob("*.py"))
    assert scripts
    offenders = [p.name for p in scripts if "sys.path.insert" in p.read_text()]
    assert offenders == []


def test_the_lab_commands_come_from_the_registry() -> None:
    from importlib.metadata import entry_points

    registered = {ep.name: ep.value for ep in entry_points(group=COMMAND_GROUP)}
    assert registered == {"bench": "bdscan_lab.cli:bench", "zoo": "bdscan_lab.cli:zoo"}
    assert not set(LAB_COMMANDS) & set(cli.commands)  # none declared by the product itself
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    product, _, added = result.output.partition("Added commands (research lab):")
    assert "scan " in product and "remediate " in product and "zoo " not in product
    assert "bench " in added and "zoo " in added


def test_without_the_lab_its_commands_say_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(BdscanGroup, "_added", lambda self: {})
    result = CliRunner().invoke(cli, ["zoo", "build", "--help"])
    assert result.exit_code == ExitCode.USAGE_ERROR
    assert "pip install -e ./lab" in result.output
    assert "Added commands" not in CliRunner().invoke(cli, ["--help"]).output
