"""Policies through the CLI on the committed example models: exit codes, allow-list, SARIF and
JSON schema validity, lint of the shipped policies (issue: deployment policies)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, REPO, bdscan, schema_validator

DATA = EXAMPLES / "data" / "fmnist_clean.npz"
FAST = ["--planes", "2", "--quiet"]


def run(*args: object) -> tuple[int, str, str]:
    result = bdscan(*args)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each example model scanned once; the tests re-decide these saved reports."""
    out = tmp_path_factory.mktemp("reports")
    paths = {}
    for name in ("badnets_cnn", "clean_cnn"):
        paths[name] = out / f"{name}.json"
        model = EXAMPLES / "models" / f"{name}.onnx"
        bdscan("scan", model, "--data", DATA, *FAST, "--no-cache", "--json", paths[name])
    return paths


def policy_with(tmp_path: Path, allowlist: str) -> Path:
    text = (REPO / "policies" / "default.yaml").read_text()
    path = tmp_path / "allow.yaml"
    path.write_text(text.replace("allowlist: []", allowlist))
    return path


def test_clean_passes_and_backdoored_fails_the_default_policy(reports: dict[str, Path]) -> None:
    assert run("policy", "check", reports["clean_cnn"], "--policy", "default")[0] == 0
    code, out, _ = run("policy", "check", reports["badnets_cnn"], "--policy", "default")
    assert code == 1
    assert "BDS101" in out or "BDS103" in out


def test_scan_with_policy_exit_codes_and_report(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    code, _, _ = run(
        "scan",
        EXAMPLES / "models" / "badnets_cnn.onnx",
        "--data",
        DATA,
        *FAST,
        "--policy",
        "default",
        "--json",
        out,
    )
    assert code == 1
    report = json.loads(out.read_text())
    assert report["policy"]["name"] == "default" and report["policy"]["passed"] is False
    assert report["policy"]["violations"]
    schema_validator("report").validate(report)


def test_allow_listed_hash_passes_with_its_reason(tmp_path: Path, reports: dict[str, Path]) -> None:
    sha = json.loads(reports["badnets_cnn"].read_text())["model"]["sha256"]
    policy = policy_with(
        tmp_path,
        f"""allowlist:
  - sha256: {sha}
    reason: vetted by the red team, ticket SEC-42
    expires: 2099-12-31""",
    )
    decided = tmp_path / "decided.json"
    code, _, _ = run(
        "policy", "check", reports["badnets_cnn"], "--policy", policy, "--json", decided
    )
    assert code == 0
    assert "SEC-42" in decided.read_text()


def test_expired_allow_list_entry_does_not_apply(tmp_path: Path, reports: dict[str, Path]) -> None:
    sha = json.loads(reports["badnets_cnn"].read_text())["model"]["sha256"]
    policy = policy_with(
        tmp_path,
        f"""allowlist:
  - sha256: {sha}
    reason: vetted once
    expires: 2020-01-01""",
    )
    code, _, _ = run("policy", "check", reports["badnets_cnn"], "--policy", policy)
    assert code == 1


def test_malformed_policy_is_a_usage_error_naming_file_and_key(
    tmp_path: Path, reports: dict[str, Path]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nname: bad\nxray:\n  flag_infectd: true\n")
    code, _, err = run("policy", "check", reports["clean_cnn"], "--policy", bad)
    assert code == 4
    assert "bad.yaml" in err and "flag_infectd" in err and ":4" in err
    assert "Traceback" not in err
    code, _, err = run("policy", "lint", bad)
    assert code == 4 and "flag_infectd" in err


@pytest.mark.parametrize("name", ["default", "strict", "permissive"])
def test_shipped_policies_lint_clean(name: str) -> None:
    path = REPO / "policies" / f"{name}.yaml"
    assert run("policy", "lint", path)[0] == 0


def test_policy_init_is_a_valid_policy(tmp_path: Path) -> None:
    code, out, _ = run("policy", "init")
    assert code == 0
    path = tmp_path / "mine.yaml"
    path.write_text(out)
    assert run("policy", "lint", path)[0] == 0


def test_folder_scan_with_a_corrupt_model_sarif_and_summary(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    for name in ("badnets_cnn", "clean_cnn"):
        shutil.copy(EXAMPLES / "models" / f"{name}.onnx", models / f"{name}.onnx")
    (models / "corrupt.onnx").write_bytes(b"\x08\x07garbage")
    sarif, summary = tmp_path / "out.sarif", tmp_path / "summary.json"
    code, _, _ = run(
        "scan",
        models,
        "--data",
        DATA,
        *FAST,
        "--policy",
        "default",
        "--sarif",
        sarif,
        "--json",
        summary,
    )
    assert code == 1  # the backdoored model violates the policy; that decides the run
    doc = json.loads(summary.read_text())
    schema_validator("summary").validate(doc)
    entries = {Path(m["path"]).name: m for m in doc["models"]}
    assert set(entries) == {"badnets_cnn.onnx", "clean_cnn.onnx", "corrupt.onnx"}
    assert "error" in entries["corrupt.onnx"]
    log = json.loads(sarif.read_text())
    schema_validator("sarif-2.1.0").validate(log)
    assert log["runs"][0]["results"]


def test_folder_where_the_only_problem_is_a_corrupt_model_exits_2(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(EXAMPLES / "models" / "clean_cnn.onnx", models / "clean_cnn.onnx")
    (models / "corrupt.onnx").write_bytes(b"\x08\x07garbage")
    assert run("scan", models, "--data", DATA, *FAST, "--policy", "default")[0] == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run("scan", empty, "--data", DATA, *FAST)[0] == 3


def test_several_model_arguments_give_one_summary(tmp_path: Path) -> None:
    summary = tmp_path / "s.json"
    code, _, _ = run(
        "scan",
        EXAMPLES / "models" / "clean_cnn.onnx",
        EXAMPLES / "models" / "badnets_cnn.onnx",
        "--data",
        DATA,
        *FAST,
        "--json",
        summary,
    )
    assert code == 1
    assert len(json.loads(summary.read_text())["models"]) == 2
