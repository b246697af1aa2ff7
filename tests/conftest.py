from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests import onnx_builders

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


@pytest.fixture(scope="session")
def digits_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return onnx_builders.save_npz(tmp_path_factory.mktemp("data") / "digits.npz")


@pytest.fixture(scope="session")
def digits_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return onnx_builders.build(tmp_path_factory.mktemp("models") / "digits.onnx")


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reads or writes the user's result cache."""
    monkeypatch.setenv("BDSCAN_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


def schema_validator(name: str):
    """A validator for a committed schema, with the report schema registered for `$ref`s."""
    import jsonschema
    from referencing import Registry, Resource

    from exporters import load_schema

    report = load_schema("report")
    registry = Registry().with_resource(report["$id"], Resource.from_contents(report))
    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=registry)


def bdscan(*args: object) -> Result:
    """`bdscan ARGS` run in-process through click's CliRunner: `exit_code`, and `stdout` and
    `stderr` apart. The one way CLI tests call the command line."""
    from scanner.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


def benchmark_module(name: str) -> Any:
    """`benchmarks/NAME.py` imported as a module (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
