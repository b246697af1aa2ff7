"""Class names (scanner.labels): where they come from, how hostile metadata is read, and that
every report shows them beside the numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from scanner.errors import DataError
from scanner.labels import label_text, load_label_file, names_from_metadata, parse_names
from tests.conftest import bdscan
from tests.onnx_builders import build, save_npz

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(list(DIGITS)),
        "{" + ", ".join(f"{i}: '{n}'" for i, n in enumerate(DIGITS)) + "}",  # Ultralytics-style
        json.dumps({str(i): n for i, n in enumerate(DIGITS)}),
        ",".join(DIGITS),
        "\n".join(DIGITS),
    ],
)
def test_names_parse_from_every_form_exporters_write(text: str) -> None:
    assert parse_names(text) == DIGITS


def test_hostile_names_are_read_not_run_and_trimmed() -> None:
    # A Python-literal mapping is matched by a pattern, never evaluated.
    assert parse_names("{0: __import__('os').system('x')}") is None
    assert parse_names("{0: 'a\x1b[31mred', 1: '" + "x" * 500 + "'}") == ("a[31mred", "x" * 80)
    assert parse_names("{99999999: 'far'}") is None
    assert names_from_metadata({"author": "me"}) is None
    assert names_from_metadata({"Names": '["a", "b"]'}) == ("a", "b")


def test_label_text_keeps_the_number_beside_the_name() -> None:
    assert label_text(3, DIGITS) == "label 3 (three)"
    assert label_text(3, None) == "label 3" and label_text(12, DIGITS) == "label 12"
    assert label_text(None, DIGITS) == "no label"


def test_a_label_file_is_one_name_per_line_and_a_bad_one_is_one_line(tmp_path: Path) -> None:
    f = tmp_path / "labels.txt"
    f.write_text("\n".join(DIGITS) + "\n")
    assert load_label_file(f) == DIGITS
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(DataError, match="no class names"):
        load_label_file(tmp_path / "empty.txt")
    with pytest.raises(DataError, match="no such file"):
        load_label_file(tmp_path / "missing.txt")


def _scan(tmp_path: Path, model: Path, data: Path, *extra: str) -> tuple[int, dict, str]:
    out = tmp_path / "r.json"
    r = bdscan("scan", model, "--data", data, "--planes", "2", "--no-cache", "--no-search",
               "--json", out, *extra)  # fmt: skip
    return r.exit_code, json.loads(out.read_text()), r.stderr


def test_names_come_from_labels_then_classes_txt_then_model_metadata(tmp_path: Path) -> None:
    model = build(tmp_path / "digits.onnx")
    proto = onnx.load(str(model))
    meta = proto.metadata_props.add()
    meta.key, meta.value = "names", str({i: n.upper() for i, n in enumerate(DIGITS)})
    onnx.save(proto, str(model))
    npz = save_npz(tmp_path / "d.npz")
    _, report, _ = _scan(tmp_path, model, npz)
    assert report["model"]["class_names"][3] == "THREE"
    assert report["model"]["class_names_source"] == "metadata"
    # An image folder with classes.txt names its classes.
    from PIL import Image

    folder = tmp_path / "folder"
    data = np.load(npz)
    for i, name in enumerate(DIGITS):
        (folder / name).mkdir(parents=True)
        for k, img in enumerate(data["x"][data["y"] == i][:5]):
            Image.fromarray(img).save(folder / name / f"{k}.png")
    (folder / "classes.txt").write_text("\n".join(DIGITS) + "\n")
    _, report, _ = _scan(tmp_path, model, folder)
    assert report["model"]["class_names_source"] == "data"
    assert report["model"]["class_names"][3] == "three"
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(f"digit {i}" for i in range(10)))
    _, report, _ = _scan(tmp_path, model, npz, "--labels", str(labels))
    assert report["model"]["class_names_source"] == "--labels"
    assert isinstance(report["xray"]["target_label"], int | None)


def test_a_missing_label_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    model = build(tmp_path / "digits.onnx")
    r = bdscan("scan", model, "--data", save_npz(tmp_path / "d.npz"), "--labels",
               tmp_path / "nope.txt")  # fmt: skip
    err = r.stderr.strip().splitlines()
    assert r.exit_code == 2 and len(err) == 1 and "nope.txt" in err[0] and "Traceback" not in err[0]
