"""Remediation end to end on a tiny real backdoor: BURN, the baselines, clean-only mode, bad input.

The model is a small CNN trained here in seconds on scikit-learn's 8x8 digits with a BadNets-style
2x2 corner patch on 10% of the training samples, relabelled to 0, exported with the legacy
exporter as uint8 NHWC with an in-graph Cast and normalisation.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch")
if importlib.util.find_spec("onnx2torch") is None:  # importing it needs our torchvision stub
    pytest.skip("onnx2torch is not installed", allow_module_level=True)

from scanner.bridge.convert import graph_signature, images_to_input  # noqa: E402
from scanner.errors import DataError, OutputError, UsageError  # noqa: E402
from scanner.remediate import BurnConfig, NCConfig, remediate  # noqa: E402
from scanner.remediate.api import remediate_run  # noqa: E402
from scanner.remediate.burn import fit_poison_mixture  # noqa: E402
from scanner.remediate.runtime import TrainSettings, fine_tune, seed_everything  # noqa: E402
from tests import onnx_builders  # noqa: E402

TARGET = 0
N_POISON = 250  # of 1,400 training samples
FAST = BurnConfig(epochs=6.0, phase1_epochs=2.0, round_epochs=1.0, max_rounds=4,
                  attack_max_steps=12, train=TrainSettings(lr=2e-3, batch_size=64))  # fmt: skip


def _trigger(x: np.ndarray) -> np.ndarray:
    out = x.copy()
    out[:, -3:-1, -3:-1] = 1.0  # a white 2x2 patch one pixel from the bottom-right corner
    return out


class DigitsNet(torch.nn.Module):
    """uint8 NHWC pixels in; Cast, scaling and normalisation in the graph; logits out."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.fc1 = torch.nn.Linear(8 * 4 * 4, 32)
        self.fc2 = torch.nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.float() / 255.0 - 0.3) / 0.3
        x = torch.relu(self.conv(x.permute(0, 3, 1, 2)))
        x = torch.nn.functional.max_pool2d(x, 2)
        return self.fc2(torch.relu(self.fc1(x.reshape(x.shape[0], -1))))


def _trained(xtr: np.ndarray, ytr: np.ndarray, path: Path) -> Path:
    """A DigitsNet trained on uint8 (N, 8, 8) `xtr`, exported to `path`."""
    torch.manual_seed(0)
    net = DigitsNet()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    xt = torch.from_numpy(xtr[..., None])
    yt = torch.from_numpy(ytr)
    for _ in range(12):
        perm = torch.randperm(len(yt))
        for i in range(0, len(yt), 32):
            b = perm[i : i + 32]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xt[b]), yt[b]).backward()
            opt.step()
    net.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net, (xt[:1],), str(path), dynamo=False, input_names=["pixels"],
            output_names=["logits"], dynamic_axes={"pixels": {0: "n"}, "logits": {0: "n"}},
        )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def backdoor(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    x, y = onnx_builders.digits()
    x = np.round(x * 255).astype(np.uint8)  # real uint8 pixels, as a deployment would store them
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    train, test = order[:1400], order[1400:]
    xtr, ytr = x[train].copy(), y[train].copy()
    candidates = np.flatnonzero(ytr != TARGET)
    poisoned = np.sort(rng.choice(candidates, size=N_POISON, replace=False))
    true_labels = ytr.copy()
    xtr[poisoned] = (_trigger(xtr[poisoned] / 255.0) * 255).astype(np.uint8)
    ytr[poisoned] = TARGET

    path = _trained(xtr, ytr, tmp_path_factory.mktemp("remediate") / "digits_badnets.onnx")
    xte, yte = x[test], y[test]
    keep = yte != TARGET
    return {
        "path": path,
        "train": (xtr, ytr),
        "true_labels": true_labels,
        "poisoned": poisoned,
        "test": (xte, yte),
        "triggered": ((_trigger(xte[keep] / 255.0) * 255).astype(np.uint8), yte[keep]),
    }


def _score(path: Path, data: dict[str, object]) -> dict[str, float]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    xte, yte = data["test"]  # type: ignore[misc]
    xtr, ytr = data["triggered"]  # type: ignore[misc]
    acc = np.mean(sess.run(None, {"pixels": xte[..., None]})[0].argmax(1) == yte)
    pt = sess.run(None, {"pixels": xtr[..., None]})[0].argmax(1)
    return {"acc": float(acc), "asr": float(np.mean(pt == TARGET)), "ra": float(np.mean(pt == ytr))}


def test_the_fixture_model_is_backdoored(backdoor: dict[str, object]) -> None:
    before = _score(backdoor["path"], backdoor)  # type: ignore[arg-type]
    assert before["acc"] > 0.85 and before["asr"] > 0.9


def test_burn_removes_the_backdoor(backdoor: dict[str, object], tmp_path: Path) -> None:
    out = tmp_path / "repaired.onnx"
    # X-ray's target label as the prior, as `bdscan remediate` passes it after a scan.
    report = remediate(
        backdoor["path"], backdoor["train"], None, out_path=out, burn_config=FAST, device="cpu",
        target_label=TARGET,
    )  # fmt: skip
    assert report.mode == "train-data" and report.method == "burn"
    assert report.suspect_labels == (TARGET,)
    before = _score(backdoor["path"], backdoor)  # type: ignore[arg-type]
    after = _score(out, backdoor)
    assert after["asr"] < before["asr"] - 0.3
    assert after["ra"] > before["ra"] + 0.2
    assert after["acc"] > before["acc"] - 0.05
    # Flags are indices into the training set as given; nearly all of them are real poison,
    # and the feedback rounds add to what phase 1 found.
    flagged = np.asarray(report.flagged)
    poisoned = backdoor["poisoned"]
    assert len(flagged) > len(report.flagged_phase1) > 0
    assert np.isin(flagged, poisoned).mean() > 0.8  # type: ignore[arg-type]
    assert len(report.restored) == len(flagged)
    true = backdoor["true_labels"][flagged]  # type: ignore[index]
    assert np.mean(np.asarray(report.restored) == true) > 0.5
    assert [r["round"] for r in report.rounds] == list(range(len(report.rounds)))
    assert sum(r["epochs"] for r in report.rounds) == report.epochs <= FAST.epochs
    assert {p["name"] for p in report.phases} >= {"convert", "boundary", "flag", "finetune"}
    # With a target, phase 1 measures only that class (of the part it trains on, a held-out
    # split aside): no other class can be flagged.
    in_target = int(np.sum(backdoor["train"][1] == TARGET))  # type: ignore[index]
    assert N_POISON // 2 < report.extra.attacked_samples <= in_target
    assert all(p["seconds"] >= 0 and p["peak_rss_mb"] > 0 for p in report.phases)
    # Drop-in: same signature, and the JSON document is plain JSON.
    assert graph_signature(onnx.load(str(out))) == graph_signature(onnx.load(str(backdoor["path"])))
    doc = json.loads(json.dumps(report.to_dict()))
    assert doc["schema_version"] == 1 and doc["export"]["opset"] >= 17


def test_baselines_share_the_path(backdoor: dict[str, object], tmp_path: Path) -> None:
    ft = remediate(backdoor["path"], backdoor["train"], None, out_path=tmp_path / "ft.onnx",
                   method="finetune", burn_config=FAST, device="cpu")  # fmt: skip
    assert ft.method == "finetune" and ft.epochs == FAST.epochs and not ft.flagged
    nc = remediate(
        backdoor["path"], backdoor["train"], None, out_path=tmp_path / "nc.onnx", method="nc",
        target_label=TARGET, burn_config=FAST, nc_config=NCConfig(steps=60), device="cpu",
    )  # fmt: skip
    assert nc.method == "nc" and nc.suspect_labels == (TARGET,)
    assert nc.extra.reversed_trigger["target"] == TARGET
    assert (tmp_path / "ft.onnx").is_file() and (tmp_path / "nc.onnx").is_file()


def test_clean_only_mode(backdoor: dict[str, object], tmp_path: Path) -> None:
    xte, yte = backdoor["test"]  # type: ignore[misc]
    from scanner.remediate import CleanUnlearnConfig

    report = remediate(
        backdoor["path"], None, (xte[:300], yte[:300]), out_path=tmp_path / "c.onnx",
        target_label=TARGET, clean_config=CleanUnlearnConfig(epochs=6.0), burn_config=FAST,
        device="cpu",
    )  # fmt: skip
    assert report.mode == "clean-only" and report.method == "clean-unlearning"
    assert report.holdout_source.startswith("clean-data") and report.n_holdout == 60
    assert not report.flagged
    # With a target, the mode runs BURN's shortcut unlearning (no relabelling: the data is
    # clean), which must actually remove the shortcut from a few hundred clean images.
    assert report.extra.clean_unlearning == "shortcut"
    assert report.extra.unlearning["target"] == TARGET and report.extra.unlearning["stamped"]
    before = _score(backdoor["path"], backdoor)  # type: ignore[arg-type]
    after = _score(tmp_path / "c.onnx", backdoor)
    # (ASR 1.0 -> 0.19 when this was written; the first version of the mode reached 0.38.)
    assert after["asr"] < before["asr"] - 0.5 and after["ra"] > before["ra"] + 0.3


def test_clean_only_mode_without_a_target(backdoor: dict[str, object]) -> None:
    from scanner.remediate import CleanUnlearnConfig

    xte, yte = backdoor["test"]  # type: ignore[misc]
    cfg = CleanUnlearnConfig(epochs=1.0)
    # No target and no report: BURN's own target check runs first and is reported, whatever
    # it finds on this model.
    own = remediate(backdoor["path"], None, (xte[:300], yte[:300]), out_path=None,
                    clean_config=cfg, device="cpu")  # fmt: skip
    assert own.extra.unlearning["self_prior"]["samples"] > 0
    found = own.extra.unlearning["self_prior"]["target"]
    assert own.extra.clean_unlearning == ("shortcut" if found is not None else "universal")
    assert own.target_label == found
    # The mode's first version (the i-BAU-style perturbation throughout) stays selectable.
    plain = remediate(backdoor["path"], None, (xte[:300], yte[:300]), out_path=None,
                      target_label=TARGET, device="cpu",
                      clean_config=dataclasses.replace(cfg, shortcut=False))  # fmt: skip
    assert plain.extra.clean_unlearning == "universal" and plain.target_label == TARGET


def test_same_seed_same_flags(backdoor: dict[str, object]) -> None:
    cfg = BurnConfig(epochs=1.0, phase1_epochs=1.0, attack_max_steps=8)
    a = remediate(backdoor["path"], backdoor["train"], out_path=None, burn_config=cfg, seed=3,
                  device="cpu")  # fmt: skip
    b = remediate(backdoor["path"], backdoor["train"], out_path=None, burn_config=cfg, seed=3,
                  device="cpu")  # fmt: skip
    assert a.flagged == b.flagged and a.accuracy_after == b.accuracy_after
    assert a.output is None and a.export is None


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda x, y: (x, y + 10), "labels go up to 1[0-9] but the model has 10 classes"),
        (lambda x, y: (x[:, :7, :7], y), "images of shape 7x7x1 do not fit the model.s input dims"),
        (lambda x, y: (x, y[:-5]), "one label per image"),
        (lambda x, y: (x.astype(np.float32), y), r"float pixels in \[0, 1\]"),
        (lambda x, y: (x, y.astype(np.float32) + 0.5), "integer labels"),
    ],
)
def test_bad_training_data_writes_nothing(
    backdoor: dict[str, object],
    tmp_path: Path,
    mutate,
    match: str,  # type: ignore[no-untyped-def]
) -> None:
    x, y = backdoor["train"]  # type: ignore[misc]
    out = tmp_path / "out.onnx"
    with pytest.raises(DataError, match=match):
        remediate(backdoor["path"], mutate(x, y), out_path=out, burn_config=FAST, device="cpu")
    assert list(tmp_path.iterdir()) == []


def test_usage_errors(backdoor: dict[str, object], tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="needs --train-data or --clean-data"):
        remediate(backdoor["path"], None, None, out_path=tmp_path / "o.onnx")
    with pytest.raises(UsageError, match="--method"):
        remediate(backdoor["path"], backdoor["train"], out_path=None, method="magic")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="no CUDA device"):
            remediate(backdoor["path"], backdoor["train"], out_path=None, device="cuda")
    with pytest.raises(DataError, match="--target-label"):
        remediate(backdoor["path"], backdoor["train"], out_path=None, target_label=12)


def test_never_overwrites_the_input_model(backdoor: dict[str, object], tmp_path: Path) -> None:
    src = tmp_path / "model.onnx"
    src.write_bytes(Path(backdoor["path"]).read_bytes())  # type: ignore[arg-type]
    before = src.read_bytes()
    cfg = BurnConfig(epochs=0.5, phase1_epochs=0.5, attack_max_steps=4)
    with pytest.raises(OutputError, match="refusing to overwrite the input model"):
        remediate(src, backdoor["train"], out_path=src, burn_config=cfg, device="cpu")
    assert src.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_report_round_trips_and_model_is_usable(backdoor: dict[str, object]) -> None:
    cfg = BurnConfig(epochs=0.5, phase1_epochs=0.5, attack_max_steps=4)
    run = remediate_run(backdoor["path"], backdoor["train"], out_path=None, burn_config=cfg,
                        device="cpu")  # fmt: skip
    x, _ = backdoor["train"]  # type: ignore[misc]
    inp = images_to_input(run.converted, x[:4, ..., None] / 255.0)
    assert inp.dtype == np.uint8 and inp.shape == (4, 8, 8, 1)
    outs = run.converted.full(torch.from_numpy(inp))
    assert outs[0].shape == (4, 10)


def test_poison_mixture_separates_spread_labels() -> None:
    rng = np.random.default_rng(0)
    # Clean: near-boundary, crossing into neighbours 3 and 6; poison: farther, spread over 1..9.
    clean_d = rng.normal(np.log(0.04), 0.4, 600)
    clean_a = rng.choice([3, 6], size=600, p=[0.2, 0.8])
    pois_d = rng.normal(np.log(0.1), 0.3, 400)
    pois_a = rng.integers(1, 10, size=400)
    post, share, means, _ = fit_poison_mixture(
        np.concatenate([clean_d, pois_d]), np.concatenate([clean_a, pois_a]), 0, 10
    )
    assert 0.3 < share < 0.5
    assert means[1] > means[0]
    assert (post[600:] >= 0.5).mean() > 0.8 and (post[:600] >= 0.5).mean() < 0.05


def test_attacking_a_subset_measures_it_as_the_full_attack_does() -> None:
    from scanner.remediate.boundary import boundary_distance

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(36, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4)
    )
    x = np.random.default_rng(0).random((40, 6, 6, 1), dtype=np.float32)
    only = np.arange(40) % 3 == 0
    kw = {"device": torch.device("cpu"), "step": 0.02, "max_steps": 10, "batch_size": 8}
    full = boundary_distance(model, x, **kw)  # type: ignore[arg-type]
    part = boundary_distance(model, x, only=only, **kw)  # type: ignore[arg-type]
    assert full.measured.all() and np.array_equal(part.measured, only)
    np.testing.assert_array_equal(part.pred, full.pred)  # every sample keeps its prediction
    np.testing.assert_allclose(part.distance[only], full.distance[only], atol=1e-6)
    np.testing.assert_array_equal(part.adv_label[only], full.adv_label[only])
    assert np.isnan(part.distance[~only]).all() and (part.adv_label[~only] == -1).all()
    assert 0 < part.steps_run < full.steps_run


def test_fine_tune_restores_training_mode() -> None:
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    model.train()
    x = np.random.default_rng(0).random((10, 2, 2, 1), dtype=np.float32)
    y = np.arange(10) % 3
    fine_tune(model, x, y, epochs=1, settings=TrainSettings(), device=torch.device("cpu"),
              generator=seed_everything(0))  # fmt: skip
    assert model.training


# X-ray's finding for the fixture's trigger: a solid white 2x2 patch (strength 1 on 8x8) at
# rows and columns 5-6, exactly where `_trigger` stamps it.
PATCH_PROBE = {"family": "patch", "strength": 1, "magnitude": None, "position": [5, 5, 2],
               "seed": 0}  # fmt: skip


def _scan_report(findings: list[dict[str, object]], target: int | None) -> dict[str, object]:
    return {"xray": {"verdict": "infected", "target_label": target,
                     "evidence": {"findings": findings}}}  # fmt: skip


def _finding(probe: dict[str, object], label: int, uni: float, cons: float) -> dict[str, object]:
    return {"probe": probe, "label": label, "universality": uni, "consistency": cons,
            "search_universality": uni}  # fmt: skip


def test_the_trigger_the_search_found_for_the_target_joins_the_prior() -> None:
    from scanner.remediate.prior import prior_from_report, probe_triggers

    stamp = {"shape": [8, 8, 1], "pixels": [[1, 1], [2, 2]], "values": [[1.0], [1.0]]}
    found = {"space": "mask", "params": stamp, "label": TARGET, "universality": 0.9}
    elsewhere = dict(found, label=3)
    report = _scan_report([], TARGET)
    report["xray"]["evidence"]["search"] = {"findings": [found, elsewhere]}  # type: ignore[index]
    prior = prior_from_report(report)
    assert prior.found == ({"space": "mask", "params": stamp},)
    x = np.zeros((1, 8, 8, 1), np.float32)
    stamped = [t(x) for t in probe_triggers(prior, (8, 8, 1))]
    # The stamp at full strength and at part opacity, on its two pixels only.
    assert len(stamped) == 2 and stamped[1][0, 1, 1, 0] == 1.0 and stamped[1].sum() == 2.0
    assert 0 < stamped[0][0, 1, 1, 0] < 1
    assert probe_triggers(prior, (8, 8, 1), secondary=True) == []


def test_a_scattered_stamp_is_unlearned_with_fresh_random_sprinkles_too() -> None:
    # A 28x28 stamp of 5 white pixels across the image (the search's kind for scattered-pixel
    # triggers): its network answered random sprinkles, so those are unlearned beside it.
    from scanner.detectors.spaces import Point
    from scanner.remediate.prior import SPRINKLE_DENSITIES, TriggerPrior, probe_triggers, scattered

    pixels = [[2, 3], [9, 20], [15, 8], [22, 25], [26, 1]]
    stamp = {"shape": [28, 28, 1], "pixels": pixels, "values": [[1.0]] * 5}
    prior = TriggerPrior(TARGET, (), found=({"space": "mask", "params": stamp},))
    x = np.zeros((50, 28, 28, 1), np.float32)
    assert len(probe_triggers(prior, (28, 28, 1))) == 2  # the stamp, at two strengths
    # The sprinkles go with the secondary triggers (stamped, but not what BURN's gate measures).
    got = [t(x) for t in probe_triggers(prior, (28, 28, 1), secondary=True)]
    assert len(got) == len(SPRINKLE_DENSITIES)
    for density, sprinkled in zip(SPRINKLE_DENSITIES, got, strict=True):
        lit = sprinkled[..., 0] == 1.0
        assert set(np.unique(sprinkled)) <= {0.0, 1.0}
        assert abs(lit.mean() - density) < 0.25 * density
        assert not (lit[0] == lit[1]).all()  # new positions for every image
    # A compact stamp (a corner patch's pixels), a large one or another space: no sprinkles.
    corner = dict(stamp, pixels=[[1, 1], [2, 3], [3, 2]], values=[[1.0]] * 3)
    large = dict(stamp, pixels=[[r, c] for r in range(0, 28, 3) for c in range(0, 28, 3)],
                 values=[[1.0]] * 100)  # fmt: skip
    assert scattered(Point("mask", stamp))
    assert not scattered(Point("mask", corner)) and not scattered(Point("mask", large))
    assert not scattered(Point("transform", {"angle": 15.0, "scale": 1.0, "flip": ""}))


def test_a_turn_the_search_found_is_unlearned_at_larger_turns_too() -> None:
    # The search keeps the least turn that fires; the planted rotation is larger.
    from scanner.detectors.spaces import TransformSpace
    from scanner.remediate.prior import TriggerPrior, found_turns, probe_triggers

    turn = {"angle": 15.0, "scale": 1.0, "flip": ""}
    prior = TriggerPrior(TARGET, (), found=({"space": "transform", "params": turn},))
    x = np.random.default_rng(0).random((2, 8, 8, 1), dtype=np.float32)
    got = [t(x) for t in probe_triggers(prior, (8, 8, 1))]
    for angle in (9.0, 15.0, 24.0, 36.0):
        want = TransformSpace().apply(dict(turn, angle=angle), x)
        assert any(np.allclose(g, want) for g in got), angle
    assert len(got) == 4 and len(found_turns(prior)) == 1
    # A large turn (a natural sink's kind) or a zoom keeps the stamps' two fractions, no flags.
    for other in (
        {"angle": 90.0, "scale": 1.0, "flip": ""},
        {"angle": 0.0, "scale": 1.33, "flip": ""},
    ):
        wide = TriggerPrior(TARGET, (), found=({"space": "transform", "params": other},))
        assert len(probe_triggers(wide, (8, 8, 1))) == 2 and found_turns(wide) == []


def test_a_grating_the_search_found_is_unlearned_turned_and_stronger_too() -> None:
    # The search's grid lies 45 degrees apart and its descent keeps the least amplitude that
    # fires: the planted sine may be 15 degrees off and twice as strong.
    from scanner.detectors.spaces import GratingSpace
    from scanner.remediate.prior import (
        GRATING_FRACTIONS,
        GRATING_TURNS,
        TriggerPrior,
        probe_triggers,
    )

    found = {"angle": 170.0, "freq": 3.0, "phase": 0.5, "amp": 0.15}
    prior = TriggerPrior(TARGET, (), found=({"space": "grating", "params": found},))
    x = np.full((2, 8, 8, 1), 0.5, np.float32)
    got = [t(x) for t in probe_triggers(prior, (8, 8, 1))]
    assert len(got) == len(GRATING_TURNS) * len(GRATING_FRACTIONS) == 9
    for angle in (155.0, 170.0, 5.0):  # 185 wraps to 5: the same stripes
        for amp in (0.09, 0.15, 0.285):
            want = GratingSpace().apply(dict(found, angle=angle, amp=amp), x)
            assert any(np.allclose(g, want, atol=1e-6) for g in got), (angle, amp)
    assert probe_triggers(prior, (8, 8, 1), secondary=True) == []


def test_prior_keeps_only_confirmed_probes() -> None:
    from scanner.remediate.prior import prior_from_report, probe_triggers

    x = np.zeros((2, 8, 8, 1), np.float32)
    other = dict(PATCH_PROBE, position=[0, 0, 2])
    report = _scan_report(
        [_finding(PATCH_PROBE, TARGET, 1.0, 1.0), _finding(other, 3, 0.8, 0.9),
         _finding(other, TARGET, 0.2, 0.3)],
        TARGET,
    )  # fmt: skip
    prior = prior_from_report(report)
    assert prior.target == TARGET and prior.probes == (PATCH_PROBE,)
    # A confirmed probe that sends >= 75% of the classes to another label is a second trigger:
    # kept apart from the probes, and rebuilt at its own place.
    assert prior.secondary == (other,)
    second = [t(x) for t in probe_triggers(prior, (8, 8, 1), secondary=True)]
    corner = np.zeros((8, 8), bool)
    corner[:2, :2] = True
    assert len(second) == 3 and not any(s[:, ~corner].any() for s in second)
    assert any(s.any() for s in second)
    # No single target (X-ray's all-to-all case): the consistent probes are the prior.
    a2a = prior_from_report(_scan_report([_finding(other, 3, 0.1, 0.9),
                                          _finding(PATCH_PROBE, 4, 0.5, 0.4)], None))  # fmt: skip
    assert a2a.target is None and a2a.probes == (other,) and a2a.secondary == ()
    # Each probe is rebuilt exactly; a patch also with its other stamps at the same place.
    stamped = [t(x) for t in probe_triggers(prior, (8, 8, 1))]
    assert len(stamped) == 3 and any(np.array_equal(s, _trigger(x)) for s in stamped)
    outside = np.ones((8, 8), bool)
    outside[5:7, 5:7] = False
    assert all(not s[:, outside].any() for s in stamped)
    with pytest.raises(UsageError, match="X-ray"):
        prior_from_report({"scan": {}})
    # A target X-ray named through strong probes alone (selectivity): the target, no probes.
    strong = dict(PATCH_PROBE, family="periodic", strength=2, position=[0, 6, 0])
    by_strong = prior_from_report(
        _scan_report([_finding(strong, TARGET, 0.9, 0.9), _finding(strong, 3, 1.0, 1.0)], TARGET)
    )
    assert by_strong.target == TARGET and by_strong.probes == () and by_strong.secondary == ()


def test_a_shortcut_reports_label_is_the_target_only_when_asked() -> None:
    from scanner.remediate.prior import prior_from_report

    # A shortcut the scan could not attribute to a planted trigger names no target but its
    # label (a planted SIG grating read as a natural sink, issue 21): asked to
    # (`shortcut_target`), the repair aims there.
    other = dict(PATCH_PROBE, position=[0, 0, 2])
    doc = _scan_report([_finding(PATCH_PROBE, TARGET, 0.9, 0.9), _finding(other, 3, 0.6, 0.6)],
                       None)  # fmt: skip
    doc["xray"].update(verdict="shortcut")  # type: ignore[attr-defined]
    doc["xray"]["evidence"]["shortcut_label"] = TARGET  # type: ignore[index]
    aimed = prior_from_report(doc, shortcut_target=True)
    assert aimed.target == TARGET and aimed.probes == (PATCH_PROBE,)
    assert aimed.verdict == "shortcut" and aimed.secondary == ()
    unaimed = prior_from_report(doc)  # the default
    assert unaimed.target is None and unaimed.probes == (PATCH_PROBE,)
    # A target given (a second round's) stands; a clean report or an unreadable label aims
    # nowhere.
    assert prior_from_report(doc, fallback_target=3, shortcut_target=True).target == 3
    doc["xray"]["evidence"]["shortcut_label"] = "six"  # type: ignore[index]
    assert prior_from_report(doc, shortcut_target=True).target is None
    doc["xray"].update(verdict="clean")  # type: ignore[attr-defined]
    doc["xray"]["evidence"]["shortcut_label"] = TARGET  # type: ignore[index]
    assert prior_from_report(doc, shortcut_target=True).target is None


def test_a_repair_told_to_aim_at_a_shortcut_is_aimed_at_its_label(
    backdoor: dict[str, object], tmp_path: Path
) -> None:
    doc = _scan_report([_finding(PATCH_PROBE, TARGET, 1.0, 1.0)], None)
    doc["xray"].update(verdict="shortcut")  # type: ignore[attr-defined]
    doc["xray"]["evidence"]["shortcut_label"] = TARGET  # type: ignore[index]
    out = tmp_path / "repaired.onnx"
    aim = dataclasses.replace(FAST, shortcut_target=True)
    report = remediate(backdoor["path"], backdoor["train"], out_path=out, burn_config=aim,
                       scan_report=doc, device="cpu")  # fmt: skip
    assert report.target_label == TARGET and report.extra.target_source == "shortcut"
    # Beside a shortcut's probes, no universal perturbation toward its (clean-label) class.
    assert report.extra.unlearning["universal"] is False
    before, after = _score(backdoor["path"], backdoor), _score(out, backdoor)  # type: ignore[arg-type]
    assert after["asr"] < before["asr"] - 0.3, (before, after)
    unaimed = remediate(backdoor["path"], backdoor["train"], out_path=None, burn_config=FAST,
                        scan_report=doc, device="cpu")  # fmt: skip
    assert unaimed.extra.target_source != "shortcut"  # off by default


def test_own_check_runs_for_a_shortcut_report_not_for_an_all_to_all_one() -> None:
    from scanner.remediate.prior import TriggerPrior
    from scanner.remediate.shortcut import needs_own_check

    probes = (PATCH_PROBE,)
    # Probes but no single target: X-ray's all-to-all reading (or a report without a verdict)
    # is left as it read it.
    assert not needs_own_check(FAST, None, TriggerPrior(None, probes, "infected"))
    assert not needs_own_check(FAST, None, TriggerPrior(None, probes, None))
    # A shortcut's (or a clean scan's) probes name no planted target: BURN looks for one.
    assert needs_own_check(FAST, None, TriggerPrior(None, probes, "shortcut"))
    assert needs_own_check(FAST, None, TriggerPrior(None, (), "clean"))
    assert not needs_own_check(FAST, TARGET, TriggerPrior(None, probes, "shortcut"))
    assert not needs_own_check(dataclasses.replace(FAST, self_prior=False), None, None)


def test_shortcut_unlearner_stamps_non_target_samples_in_place() -> None:
    from scanner.remediate.prior import ShortcutUnlearner

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    hook = ShortcutUnlearner(
        model, shape=(8, 8, 1), target=TARGET, triggers=[_trigger],
        share=0.5, universal=False, eps=0.1, steps=1, step_size=0.05, device=torch.device("cpu"),
    )  # fmt: skip
    xb = torch.zeros((8, 8, 8, 1))
    yb = torch.tensor([TARGET, 1, 2, 3, TARGET, 5, 6, 7])
    xa, ya, wa = hook(xb, yb, None)
    assert xa.shape == xb.shape and torch.equal(ya, yb) and wa is None
    changed = (xa != xb).flatten(1).any(1)
    # Half the batch, never a target-labelled sample, and the trigger exactly where it belongs.
    assert changed.tolist() == [False, True, True, True, False, True, False, False]
    assert torch.equal(xa[1], torch.from_numpy(_trigger(xb[1:2].numpy())[0]))
    assert hook.stamped == 4


def test_secondary_triggers_are_stamped_but_are_not_probes() -> None:
    from scanner.remediate.prior import ShortcutUnlearner

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    hook = ShortcutUnlearner(
        model, shape=(8, 8, 1), target=TARGET, triggers=[], secondary=[_trigger],
        share=0.5, universal=False, eps=0.1, steps=1, step_size=0.05, device=torch.device("cpu"),
    )  # fmt: skip
    assert hook.active and hook.triggers == []  # the gate and the radius see no probes
    xb = torch.zeros((8, 8, 8, 1))
    yb = torch.tensor([TARGET, 1, 2, 3, TARGET, 5, 6, 7])
    xa, ya, _ = hook(xb, yb, None)
    assert torch.equal(ya, yb) and hook.stamped == 4
    assert torch.equal(xa[1], torch.from_numpy(_trigger(xb[1:2].numpy())[0]))


def test_synthesized_trigger_is_refitted_on_every_other_batch() -> None:
    from scanner.remediate.prior import ShortcutUnlearner

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    hook = ShortcutUnlearner(
        model, shape=(8, 8, 1), target=TARGET, triggers=[], share=1.0, universal=True,
        eps=0.2, steps=1, step_size=0.05, device=torch.device("cpu"), refit_every=2,
    )  # fmt: skip
    xb = torch.full((4, 8, 8, 1), 0.5)
    yb = torch.tensor([1, 2, 3, 4])
    deltas = []
    for _ in range(3):
        xa, _, _ = hook(xb, yb, None)
        deltas.append(hook.delta.clone())
        # Every batch is stamped with the current perturbation, re-fitted or not.
        assert torch.allclose(xa, (xb + hook.delta).clamp(0, 1))
    assert deltas[0].abs().max() > 0  # batch 1: re-fitted
    assert torch.equal(deltas[1], deltas[0])  # batch 2: reused
    assert not torch.equal(deltas[2], deltas[1])  # batch 3: re-fitted


def _brightness_shortcut(target_weight: float) -> torch.nn.Module:
    """A linear model on 8x8 images: blank images go to class 1 (bias 0.1), and the target's
    score is target_weight x total brightness - 3, so with weight 1 brightening every pixel by
    more than 3.1 / 64 is a universal shortcut to the target; with weight 0 there is none."""
    lin = torch.nn.Linear(64, 10)
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.zero_()
        lin.weight[TARGET] = target_weight
        lin.bias[TARGET] = -3.0
        lin.bias[1] = 0.1
    return torch.nn.Sequential(torch.nn.Flatten(), lin)


def test_residual_shortcut_measures_what_a_fresh_perturbation_reaches() -> None:
    from scanner.remediate.prior import ShortcutUnlearner

    # Brightening every pixel by eps = 0.1 lifts the target by 6.4 > the gap of 3.1.
    linear = _brightness_shortcut
    x = np.zeros((32, 8, 8, 1), dtype=np.float32)

    def hook(model: torch.nn.Module, target: int | None) -> ShortcutUnlearner:
        return ShortcutUnlearner(
            model, shape=(8, 8, 1), target=target, triggers=[_trigger], share=0.5,
            universal=True, eps=0.1, steps=2, step_size=0.05, device=torch.device("cpu"),
        )  # fmt: skip

    shortcut = hook(linear(1.0), TARGET)
    before = shortcut.delta.clone()
    assert shortcut.residual_shortcut(x) == 1.0
    assert torch.equal(shortcut.delta, before)  # the training perturbation is left as it was
    assert hook(linear(0.0), TARGET).residual_shortcut(x) == 0.0
    assert hook(linear(1.0), None).residual_shortcut(x) == 0.0  # no target, nothing to measure


def test_self_prior_names_the_class_a_small_universal_trigger_reaches() -> None:
    from scanner.remediate.prior import find_target, standout

    assert standout([0.9, 0.4, 0.1], 0.2, 3.0) is None  # not 3x the runner-up
    assert standout([0.1, 0.7, 0.2], 0.2, 3.0) == 1
    assert standout([0.1, 0.01, 0.0], 0.2, 3.0) is None  # below the bar
    assert standout([0.0, 0.05, 0.0], 0.04, 3.0) is None  # 0.05 < 3 x the 0.02 floor

    # Brightening every pixel by eps = 0.05 lifts the target by 3.2 > the gap of 3.1.
    linear = _brightness_shortcut
    x = np.zeros((60, 8, 8, 1), dtype=np.float32)
    y = np.arange(60) % 10

    def check(model: torch.nn.Module) -> object:
        return find_target(
            model, x, y, 10, eps=0.05, warp_px=1.0, samples=40, min_rate=0.2,
            min_warp_rate=0.5, ratio=3.0, device=torch.device("cpu"),
        )  # fmt: skip

    found = check(linear(1.0))
    assert found.target == TARGET and found.by == "perturbation"  # type: ignore[attr-defined]
    assert found.rates[TARGET] == 1.0 and len(found.warp_rates) == 10  # type: ignore[attr-defined]
    none = check(linear(0.0))
    assert none.target is None and none.by is None and max(none.rates) == 0.0  # type: ignore[attr-defined]


def test_self_prior_runs_only_without_a_target(backdoor: dict[str, object], tmp_path: Path) -> None:
    given = remediate(backdoor["path"], backdoor["train"], out_path=None, burn_config=FAST,
                      target_label=TARGET, device="cpu")  # fmt: skip
    assert given.extra.unlearning["self_prior"] is None
    assert given.extra.target_source == "given"
    # The given target is checked (and here confirmed: nothing corrected).
    assert any(p["name"] == "verify-target" for p in given.phases)
    assert given.extra.unlearning["target_correction"] is None
    # The given target's window is looked for in the training data, and the report says what
    # occluding it gave (the 2x2 patch sits inside a window of the 8x8 digits).
    located = given.extra.unlearning["located_window"]
    assert located is not None and [c["label"] for c in located["classes"]] == [TARGET]
    assert located["window"] is not None and located["window"]["target"] == TARGET
    own = remediate(backdoor["path"], backdoor["train"], out_path=None, burn_config=FAST,
                    device="cpu")  # fmt: skip
    sp = own.extra.unlearning["self_prior"]
    assert len(sp["rates"]) == len(sp["warp_rates"]) == 10
    assert any(p["name"] == "self-prior" for p in own.phases)
    # Whatever it finds becomes the target prior, and the report says where the target came from.
    assert own.target_label == sp["target"]
    assert own.extra.target_source == ("self-prior" if sp["target"] is not None else None)
    off = dataclasses.replace(FAST, self_prior=False)
    out = tmp_path / "plain.onnx"
    plain = remediate(backdoor["path"], backdoor["train"], out_path=out, burn_config=off,
                      device="cpu")  # fmt: skip
    assert plain.extra.unlearning["self_prior"] is None
    # No target at all: every class may be suspect, so phase 1 attacks every sample it fits on.
    assert plain.extra.attacked_samples > given.extra.attacked_samples
    assert plain.extra.attacked_samples > len(backdoor["train"][1]) // 2  # type: ignore[index]
    # The mixture singles out the target, which holds its 250 poisoned samples beside its own
    # ~140: read twice over, it is taken as the target, and the backdoor goes.
    assert plain.extra.unlearning["promoted_suspect"] == TARGET
    assert plain.target_label == TARGET and plain.extra.target_source == "mixture"
    before, after = _score(backdoor["path"], backdoor), _score(out, backdoor)  # type: ignore[arg-type]
    assert after["asr"] < before["asr"] - 0.3, (before, after)
    never = dataclasses.replace(off, promote_min_excess=None)
    bare = remediate(backdoor["path"], backdoor["train"], out_path=None, burn_config=never,
                     device="cpu")  # fmt: skip
    assert bare.target_label is None and bare.extra.unlearning["promoted_suspect"] is None


def test_a_wrong_target_is_corrected_and_the_backdoor_still_removed(
    backdoor: dict[str, object], tmp_path: Path
) -> None:
    # The scan named the wrong class (issue 23: BURN then unlearned that label and ASR rose).
    wrong = 3
    out = tmp_path / "repaired.onnx"
    report = remediate(backdoor["path"], backdoor["train"], None, out_path=out, burn_config=FAST,
                       device="cpu", target_label=wrong)  # fmt: skip
    correction = report.extra.target_correction
    assert correction is not None and (correction.given, correction.found) == (wrong, TARGET)
    assert report.target_label == TARGET and report.extra.target_source == "corrected"
    assert any(p["name"] == "verify-target" for p in report.phases)
    before = _score(backdoor["path"], backdoor)  # type: ignore[arg-type]
    after = _score(out, backdoor)
    assert after["asr"] < before["asr"] - 0.3, (before, after)
    assert after["acc"] > before["acc"] - 0.05


def test_universal_warp_moves_pixels_by_the_flow() -> None:
    from scanner.remediate.prior import ShortcutUnlearner

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    hook = ShortcutUnlearner(
        model, shape=(8, 8, 1), target=TARGET, triggers=[], share=0.5, universal=False,
        eps=0.1, steps=1, step_size=0.05, device=torch.device("cpu"), warp_px=1.0,
    )  # fmt: skip
    x = torch.rand((2, 8, 8, 1))
    assert torch.allclose(hook.warped(x, torch.zeros_like(hook.flow)), x, atol=1e-6)
    # A flow of +1 px along x everywhere samples each pixel from its right neighbour (the last
    # column repeats: borders are clamped, nothing from outside the image comes in).
    right = torch.zeros_like(hook.flow)
    right[:, 0] = 1.0
    shifted = hook.warped(x, right)
    assert torch.allclose(shifted[:, :, :-1], x[:, :, 1:], atol=1e-5)
    assert torch.allclose(shifted[:, :, -1], x[:, :, -1], atol=1e-5)
    # A model that answers the target when column 2 is bright: a stripe in column 3 is a
    # one-pixel warp away from it, and a fresh warp finds that for every image.
    lin = torch.nn.Linear(64, 10)
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.zero_()
        column2 = torch.zeros((8, 8, 1))
        column2[:, 2] = 10.0
        lin.weight[TARGET] = column2.flatten()
        lin.bias[TARGET] = -3.0
        lin.bias[1] = 0.1
    stripes = np.zeros((16, 8, 8, 1), dtype=np.float32)
    stripes[:, :, 3] = 1.0
    warper = ShortcutUnlearner(
        torch.nn.Sequential(torch.nn.Flatten(), lin), shape=(8, 8, 1), target=TARGET,
        triggers=[], share=0.5, universal=False, eps=0.1, steps=1, step_size=0.05,
        device=torch.device("cpu"), warp_px=1.0,
    )  # fmt: skip
    assert warper.residual_warp(stripes) == 1.0
    assert torch.equal(warper.flow, torch.zeros_like(warper.flow))  # training flow untouched
    assert ShortcutUnlearner(
        model, shape=(8, 8, 1), target=TARGET, triggers=[], share=0.5, universal=False,
        eps=0.1, steps=1, step_size=0.05, device=torch.device("cpu"),
    ).residual_warp(x.numpy()) == 0.0  # fmt: skip


def test_universal_gate_switches_synthesized_triggers_on_fresh_measurements(
    backdoor: dict[str, object],
) -> None:
    cfg = dataclasses.replace(FAST, prior_min_share=2.0, occlusion_min_confidence=2.0)
    report = _scan_report([_finding(PATCH_PROBE, TARGET, 1.0, 1.0)], TARGET)
    rep = remediate(backdoor["path"], backdoor["train"], out_path=None, burn_config=cfg,
                    scan_report=report, device="cpu")  # fmt: skip
    checks = rep.extra.unlearning["universal_checks"]
    # Phase 1 unlearns the probe (and, if stage 0's check passed, the warp) alone; every later
    # stage is decided by fresh measurements, and a synthesized trigger once switched on stays
    # on (latched). A measurement starts with a screen on a few images: below its bar the
    # trigger stays off without the full fit.
    assert checks[0]["stage"] == 0 and "residual" not in checks[0] and not checks[0]["universal"]
    assert checks[1:] and all(c["stage"] >= 1 for c in checks[1:])
    for kind, residual in (("universal", "residual"), ("warp", "residual_warp")):
        on = False
        for c in checks:
            if residual not in c and f"{residual}_screen" not in c and not on:
                continue  # not measured at this stage (the perturbation at stage 0)
            if on:  # latched: no new measurement
                assert c[residual] is None and c[kind], (kind, checks)
                assert f"{residual}_screen" not in c
                continue
            if c[residual] is None:  # screened out
                assert c[f"{residual}_screen"] < cfg.universal_screen_max, (kind, checks)
                on = False
            else:
                on = c[residual] >= cfg.universal_gate
            assert c[kind] == on, (kind, checks)
    # With the screen's bar at 1.0 every check stops at the screen: nothing switches on.
    screened = dataclasses.replace(cfg, universal_screen_max=1.01)
    rep = remediate(backdoor["path"], backdoor["train"], out_path=None, burn_config=screened,
                    scan_report=report, device="cpu")  # fmt: skip
    checks = rep.extra.unlearning["universal_checks"]
    assert checks[0]["residual_warp"] is None and checks[0]["residual_warp_screen"] <= 1.0
    assert checks[1:] and all(
        c["residual"] is None and c["residual_screen"] <= 1.0 and not c["universal"]
        and c["residual_warp"] is None and not c["warp"] for c in checks[1:]
    ), checks  # fmt: skip
    ungated = dataclasses.replace(cfg, universal_gate=None)
    rep = remediate(backdoor["path"], backdoor["train"], out_path=None, burn_config=ungated,
                    scan_report=report, device="cpu")  # fmt: skip
    un = rep.extra.unlearning
    assert un["universal_checks"] == [] and un["universal"]


def test_trigger_prior_unlearns_what_relabelling_leaves(
    backdoor: dict[str, object], tmp_path: Path
) -> None:
    # Relabelling off (no class reaches the bar to be suspect) and no universal perturbation:
    # what removes the backdoor here is X-ray's probe alone, unlearned with true labels, as a
    # clean-label attack (nothing to relabel) needs it.
    cfg = dataclasses.replace(
        FAST, prior_min_share=2.0, universal=False, occlusion_min_confidence=2.0
    )
    base = remediate(backdoor["path"], backdoor["train"], out_path=tmp_path / "a.onnx",
                     burn_config=cfg, target_label=TARGET, device="cpu")  # fmt: skip
    report = _scan_report([_finding(PATCH_PROBE, TARGET, 1.0, 1.0)], TARGET)
    prior = remediate(backdoor["path"], backdoor["train"], out_path=tmp_path / "b.onnx",
                      burn_config=cfg, scan_report=report, device="cpu")  # fmt: skip
    assert not base.flagged and not prior.flagged and prior.target_label == TARGET
    assert base.extra.unlearning["stamped"] == 0
    assert prior.extra.unlearning["stamped"] > 0
    assert prior.extra.trigger_prior.probes == (PATCH_PROBE,)
    before = _score(backdoor["path"], backdoor)  # type: ignore[arg-type]
    a, b = _score(tmp_path / "a.onnx", backdoor), _score(tmp_path / "b.onnx", backdoor)
    # Fine-tuning alone keeps the backdoor; the probe removes most of it although 250
    # unflagged poisoned samples (18% of the set) still teach it with the target label.
    assert a["asr"] > 0.5, (a, b)
    assert b["asr"] < a["asr"] - 0.3 and b["ra"] > a["ra"] + 0.2, (a, b)
    assert b["acc"] > before["acc"] - 0.03, (before, b)


def test_universal_perturbation_alone_runs_the_whole_budget(
    backdoor: dict[str, object], tmp_path: Path
) -> None:
    cfg = dataclasses.replace(FAST, prior_min_share=2.0)
    report = remediate(backdoor["path"], backdoor["train"], out_path=None, burn_config=cfg,
                       target_label=TARGET, device="cpu")  # fmt: skip
    un = report.extra.unlearning
    assert un["universal"] and un["probe_triggers"] == 0 and un["stamped"] > 0
    # No suspects, so no feedback rounds: the unlearning phase takes the rest of the epochs.
    assert report.epochs == FAST.epochs and report.rounds[-1]["epochs"] > 0
    assert "unlearn" in {p["name"] for p in report.phases}


def test_patch_probe_occlusion_finds_the_poison(
    backdoor: dict[str, object], tmp_path: Path
) -> None:
    # With the boundary mixture off, the flags come from occluding the probe's pixels alone:
    # target-labelled samples whose label depends on them are the poisoned ones.
    cfg = dataclasses.replace(FAST, prior_min_share=2.0, universal=False)
    report = _scan_report([_finding(PATCH_PROBE, TARGET, 1.0, 1.0)], TARGET)
    rep = remediate(backdoor["path"], backdoor["train"], out_path=None, burn_config=cfg,
                    scan_report=report, device="cpu")  # fmt: skip
    flagged = np.asarray(rep.flagged_phase1)
    poisoned = backdoor["poisoned"]
    assert rep.extra.unlearning["occlusion_flags"] == len(flagged) > 0
    assert np.isin(flagged, poisoned).mean() > 0.9  # type: ignore[arg-type]
    assert np.isin(poisoned, flagged).mean() > 0.5  # type: ignore[arg-type]
    restored = dict(zip(rep.flagged, rep.restored, strict=True))
    true = backdoor["true_labels"]
    assert np.mean([restored[int(i)] == true[i] for i in flagged]) > 0.8  # type: ignore[index]


def test_feedback_round_lifts_only_a_confident_original_label() -> None:
    from scanner.remediate.burn import feedback_update

    t, f = True, False
    y = np.array([3, 3, 3, 3, 1, 3])
    flags = np.array([t, t, t, f, f, f])
    labels = np.array([0, 6, 4, 3, 1, 3])  # restored labels on the flagged samples
    quarantine = np.array([f, f, f, f, f, t])
    pred0 = np.array([3, 3, 3, 3, 1, 3])
    pred_k = np.array([3, 3, 2, 0, 1, 3])
    conf_k = np.array([0.95, 0.5, 0.95, 0.95, 0.95, 0.8])
    before = (flags.copy(), labels.copy(), quarantine.copy())
    step = feedback_update(
        flags, quarantine, labels, y, pred0, pred_k, conf_k, y == 3,
        add_min_confidence=0.9, lift_min_confidence=0.7,
    )  # fmt: skip
    # 0: back to its original label, confidently, though trained on 0: lifted, label 3 again.
    # 1: back to its original label, unsure: stays flagged with its restored label.
    # 2: decisively yet another label: relabelled. 3: a fitted sample of the suspect class
    # that now goes elsewhere decisively: flagged. 5: quarantined, original label: released.
    assert step.lift.tolist() == [t, f, f, f, f, f]
    assert step.flags.tolist() == [f, t, t, t, f, f]
    assert step.labels.tolist() == [3, 6, 2, 0, 1, 3]
    assert step.quarantine.tolist() == [f] * 6
    assert step.change == 3  # one lifted, one added, one released
    for a, b in zip(before, (flags, labels, quarantine), strict=True):
        assert np.array_equal(a, b)  # the caller's arrays are not changed
    never = feedback_update(
        flags, quarantine, labels, y, pred0, pred_k, conf_k, y == 3,
        add_min_confidence=0.9, lift_min_confidence=None,
    )  # fmt: skip
    assert not never.lift.any() and never.flags[0] and never.labels[0] == 0


def test_feedback_round_never_lifts_a_pinned_flag() -> None:
    # A flag the occlusion test set (the label hung on a patch trigger's pixels) stays, even
    # when the sanitised model confidently gives the original label back.
    from scanner.remediate.burn import feedback_update

    y = np.array([7, 7])
    flags = np.array([True, True])
    step = feedback_update(
        flags, np.zeros(2, dtype=bool), np.array([3, 5]), y, y, y, np.array([0.99, 0.99]),
        np.ones(2, dtype=bool), add_min_confidence=0.9, lift_min_confidence=0.7,
        pinned=np.array([True, False]),
    )  # fmt: skip
    assert step.lift.tolist() == [False, True]
    assert step.labels.tolist() == [3, 7]


def test_feedback_adds_stay_within_the_label_excess_the_most_confident_first() -> None:
    from scanner.remediate.burn import excess_room, feedback_update

    # Label 0 holds 9 samples, labels 1 and 2 hold 5: label 0's excess over the median of the
    # others is 4; with one flag already, 3 more may be added this round.
    y = np.array([0] * 9 + [1] * 5 + [2] * 5)
    flags = np.zeros(len(y), dtype=bool)
    flags[0] = True
    room = excess_room(y, flags, 3)
    assert room.tolist() == [3, 0, 0]
    pred_k = np.where(y == 0, 1, y)  # every label-0 sample now goes to 1
    pred_k[0] = 0
    conf_k = np.linspace(0.91, 0.99, len(y))
    step = feedback_update(
        flags, np.zeros_like(flags), y.copy(), y, y, pred_k, conf_k, y == 0,
        add_min_confidence=0.9, lift_min_confidence=None, room=room,
    )  # fmt: skip
    # Eight label-0 samples qualify; the three most confident are added.
    assert np.flatnonzero(step.add).tolist() == [6, 7, 8]
    uncapped = feedback_update(
        flags, np.zeros_like(flags), y.copy(), y, y, pred_k, conf_k, y == 0,
        add_min_confidence=0.9, lift_min_confidence=None,
    )  # fmt: skip
    assert int(uncapped.add.sum()) == 8
    # A balanced set (or a class with fewer samples than the others) leaves no room.
    assert excess_room(np.repeat(np.arange(3), 4), np.zeros(12, dtype=bool), 3).tolist() == [0] * 3


def test_a_suspect_holds_an_excess_when_it_has_more_samples_than_the_others() -> None:
    from scanner.remediate.burn import with_excess

    y = np.repeat(np.arange(4), [150, 100, 100, 110])  # label 0: 50% over the others' median
    assert with_excess((0, 1, 3), y, 4, 0.25) == (0,)
    assert with_excess((1,), y, 4, 0.25) == ()  # as many samples as the others
    assert with_excess((3,), y, 4, 0.25) == ()  # 10% over: under the bar
    assert with_excess((0, 3), y, 4, 0.05) == (0, 3)
    assert with_excess((), y, 4, 0.25) == ()


def test_only_an_infected_or_unmarked_read_without_a_target_is_all_to_all() -> None:
    from scanner.remediate.prior import TriggerPrior
    from scanner.remediate.shortcut import reads_all_to_all

    probes = (PATCH_PROBE,)
    assert reads_all_to_all(TriggerPrior(None, probes, "infected"))
    assert reads_all_to_all(TriggerPrior(None, probes, None))
    # A clean or shortcut read's consistent probes are no planted trigger: the feedback rounds
    # then flag only the mixture's suspect classes, not every class as for all-to-all poison.
    assert not reads_all_to_all(TriggerPrior(None, probes, "clean"))
    assert not reads_all_to_all(TriggerPrior(None, probes, "shortcut"))
    assert not reads_all_to_all(TriggerPrior(TARGET, probes, "infected"))
    assert not reads_all_to_all(TriggerPrior(None, (), "infected"))
    assert not reads_all_to_all(None)


class _PixelExactNet(torch.nn.Module):
    """Class by brightness (dark 0, grey 1, light 2), unless the top-left 6x6 corner holds a
    pixel-exact checkerboard: then class 0. A stand-in for a warp trigger, which depends on
    exact pixel positions and does not survive resampling."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = x.mean(dim=(1, 2, 3))
        by_level = -((m[:, None] - torch.tensor([0.2, 0.5, 0.8])) ** 2) * 100
        corner = x[:, :6, :6, 0]
        edges = (corner[:, :, 1:] - corner[:, :, :-1]).abs().mean(dim=(1, 2))
        bonus = 400 * torch.relu(edges - 0.8)  # 80 on the exact board, 0 once it blurs
        return by_level + torch.stack([bonus, 0 * bonus, 0 * bonus], dim=1)


BOARD = (np.indices((6, 6)).sum(0) % 2).astype(np.float32)


def _board_poison(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, true labels, poisoned): `n` flat images of three brightness classes, 15 of
    classes 1-2 stamped with the checkerboard `_PixelExactNet` reads and labelled 0."""
    rng = np.random.default_rng(0)
    level = np.array([0.2, 0.5, 0.8], dtype=np.float32)
    true = rng.integers(0, 3, size=n)
    x = np.repeat(level[true][:, None, None, None], 28 * 28, axis=1).reshape(n, 28, 28, 1)
    x = (x + rng.normal(0, 0.01, x.shape)).astype(np.float32)
    poisoned = np.flatnonzero(true != 0)[:15]
    x[poisoned, :6, :6, 0] = BOARD
    y = true.copy()
    y[poisoned] = 0
    return x, y, true, poisoned


def test_resampling_flags_find_what_a_pixel_exact_trigger_holds() -> None:
    from scanner.remediate.flags import resampling_flags
    from scanner.remediate.runtime import predict_scores

    x, y, true, poisoned = _board_poison(60)
    model = _PixelExactNet()
    pred = predict_scores(model, x, torch.device("cpu")).argmax(1)
    assert (pred == y).all()  # the model fits the poison through the checkerboard
    flags, labels = resampling_flags(
        model, x, y, pred, 0, BurnConfig(), torch.device("cpu"), seed_everything(0)
    )
    assert np.array_equal(np.flatnonzero(flags), poisoned)  # clean class-0 samples keep theirs
    np.testing.assert_array_equal(labels[poisoned], true[poisoned])
    assert np.array_equal(labels[~flags], y[~flags])


def test_stamp_flags_find_the_poison_the_occlusion_test_left() -> None:
    # The checkerboard poison: the occlusion test freed 5 of its 15 samples, beside 5 clean
    # target samples it freed too; the other 10 hold the same stamp and are found by it (the
    # model reads the checkerboard, whatever else they hold), the clean target samples are not.
    from scanner.remediate.flags import stamp_flags

    x, y, true, poisoned = _board_poison(90)
    occluded = np.zeros(90, dtype=bool)
    occluded[poisoned[:5]] = True
    occluded[np.flatnonzero(true == 0)[:5]] = True
    region = np.zeros((28, 28), dtype=bool)
    region[:8, :8] = True
    model, cpu = _PixelExactNet(), torch.device("cpu")
    flags, labels, share = stamp_flags(model, x, y, occluded, region, 0, BurnConfig(), cpu)
    assert np.array_equal(np.flatnonzero(flags), poisoned[5:])
    assert (labels[flags] != 0).all() and np.array_equal(labels[~flags], y[~flags])
    # Half the freed samples (the poison, not the clean class-0 ones) hold the stamp; with
    # only poison freed, all of them do (burn.py sets the mixture aside from 0.8).
    assert share == 0.5
    only = np.zeros_like(occluded)
    only[poisoned[:5]] = True
    assert stamp_flags(model, x, y, only, region, 0, BurnConfig(), cpu)[2] == 1.0
    off = BurnConfig(stamp_tolerance=0.0)
    assert not stamp_flags(model, x, y, occluded, region, 0, off, cpu)[0].any()
    # Where the other classes hold the same pixels too, they are class content: nothing.
    common = x.copy()
    common[np.flatnonzero(y == 1)[:5], :6, :6, 0] = BOARD
    assert not stamp_flags(model, common, y, occluded, region, 0, BurnConfig(), cpu)[0].any()


class _ShiftNet(_PixelExactNet):
    """All-to-all: class by brightness, moved on by one class, (k + 1) mod 3, when the top-left
    corner holds the checkerboard."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = x.mean(dim=(1, 2, 3))
        by_level = -((m[:, None] - torch.tensor([0.2, 0.5, 0.8])) ** 2) * 100
        corner = x[:, :6, :6, 0]
        edges = (corner[:, :, 1:] - corner[:, :, :-1]).abs().mean(dim=(1, 2))
        gate = torch.clamp(5 * (edges - 0.8), 0, 1)[:, None]  # 1 on the exact board
        return by_level + gate * (torch.roll(by_level, 1, dims=1) - by_level)


def _board_a2a(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, true labels, poisoned): `_board_poison`'s images, 30 of every class stamped with
    the checkerboard and labelled with the next class (all-to-all)."""
    rng = np.random.default_rng(1)
    level = np.array([0.2, 0.5, 0.8], dtype=np.float32)
    true = np.arange(n) % 3
    x = np.repeat(level[true][:, None, None, None], 28 * 28, axis=1).reshape(n, 28, 28, 1)
    x = (x + rng.normal(0, 0.01, x.shape)).astype(np.float32)
    poisoned = np.arange(30)
    x[poisoned, :6, :6, 0] = BOARD
    y = true.copy()
    y[poisoned] = (true[poisoned] + 1) % 3
    return x, y, true, poisoned


def test_stamp_flags_without_a_target_find_all_to_all_poison() -> None:
    # An all-to-all prior names no target, so every sample the occlusion test left is a
    # candidate: the 25 poisoned samples it did not free hold the stamp and get their source
    # labels back, over every label; the clean ones it freed beside them keep theirs.
    from scanner.remediate.flags import stamp_flags
    from scanner.remediate.runtime import predict_scores

    x, y, true, poisoned = _board_a2a(300)
    model, cpu = _ShiftNet(), torch.device("cpu")
    assert (predict_scores(model, x, cpu).argmax(1) == y).all()  # it fits the poison
    occluded = np.zeros(len(y), dtype=bool)
    occluded[poisoned[:5]] = True
    occluded[100:103] = True
    region = np.zeros((28, 28), dtype=bool)
    region[:6, :6] = True
    flags, labels, _ = stamp_flags(model, x, y, occluded, region, None, BurnConfig(), cpu)
    assert np.array_equal(np.flatnonzero(flags), poisoned[5:])
    np.testing.assert_array_equal(labels[flags], true[flags])
    assert np.array_equal(labels[~flags], y[~flags])
    # A "stamp" the holders mostly carry under one label is that class's content: nothing.
    content = x.copy()
    content[np.flatnonzero((y == 1) & (true == 1))[:40], :6, :6, 0] = BOARD
    assert not stamp_flags(model, content, y, occluded, region, None, BurnConfig(), cpu)[0].any()


def test_patch_regions_are_each_patch_grown_by_a_pixel() -> None:
    from scanner.remediate.prior import TriggerPrior, patch_region, patch_regions

    small = {"family": "patch", "strength": 0, "position": [0, 22, 1], "seed": 1}
    large = {"family": "patch", "strength": 2, "position": [8, 16, 1], "seed": 2}
    grating = {"family": "periodic", "strength": 1, "position": [0, 3, 3], "seed": 3}
    prior = TriggerPrior(target=None, probes=(small, large, dict(small, seed=9), grating))
    union = patch_region(prior, (28, 28, 1))
    assert union is not None and int(union.sum()) == 9 + 49
    regions = patch_regions(prior, (28, 28, 1))
    assert len(regions) == 2  # the same patch twice (another seed) is one region
    rows, cols = np.flatnonzero(regions[0].any(1)), np.flatnonzero(regions[0].any(0))
    assert rows.tolist() == [0, 1, 2, 3] and cols.tolist() == [21, 22, 23, 24, 25]
    assert int(regions[0].sum()) == 9 + 3 + 3 + 3  # grown down, left and right (row 0 is the top)
    assert int(regions[1].sum()) == 49 + 4 * 7


def test_stamp_region_is_the_patch_whose_freed_samples_share_the_stamp() -> None:
    # Three candidate regions: one on the trigger, one just below it, and one over the image's
    # content. Only the first frees the poison the model fits, and those hold the board: it is
    # chosen; without it, no region's freed samples share a stamp.
    from scanner.remediate.flags import stamp_region
    from scanner.remediate.runtime import predict_scores

    x, y, true, poisoned = _board_a2a(300)
    model, cpu = _ShiftNet(), torch.device("cpu")
    pred = predict_scores(model, x, cpu).argmax(1)
    on, beside, content = (np.zeros((28, 28), dtype=bool) for _ in range(3))
    on[:7, :7] = True
    beside[6:12, :7] = True
    content[10:20, 10:20] = True
    chosen = stamp_region(model, x, y, pred, [content, beside, on], BurnConfig(), cpu)
    assert chosen is not None
    region, occluded, labels = chosen
    assert region is on
    assert np.array_equal(np.flatnonzero(occluded), poisoned)
    np.testing.assert_array_equal(labels[occluded], true[occluded])
    assert stamp_region(model, x, y, pred, [content, beside], BurnConfig(), cpu) is None


class _SpotNet(torch.nn.Module):
    """Class 1 when a bright spot covers the cell `spot`, else class 0 (the target): a
    rotation trigger's poison is a class-1 image turned so that its spot leaves the cell."""

    def __init__(self, spot: tuple[int, int]) -> None:
        super().__init__()
        self.spot = spot

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r, c = self.spot
        lit = x[:, r - 1 : r + 2, c - 1 : c + 2, 0].mean(dim=(1, 2))
        return torch.stack([torch.full_like(lit, 5.0), 20.0 * lit], dim=1)


def test_turn_flags_free_the_samples_a_found_turn_undone_gives_back() -> None:
    from scanner.detectors.spaces import Point, TransformSpace
    from scanner.remediate.flags import turn_flags
    from scanner.remediate.runtime import predict_scores

    # A 3x3 spot at (4, 16) on a 28x28 image: class 1. The planted trigger turned it by 24
    # degrees (its spot left the cell: class 0); the search found the least turn that fires
    # (15 degrees). Turned back by 15, 24 and 36 degrees, the poison's spot comes back to (or
    # near) its cell at two of them; a clean class-0 image (its spot elsewhere) never does.
    def spotted(r: int, c: int) -> np.ndarray:
        img = np.zeros((28, 28, 1), np.float32)
        img[r - 1 : r + 2, c - 1 : c + 2] = 1.0
        return img

    space = TransformSpace()
    planted = {"angle": 24.0, "scale": 1.0, "flip": ""}
    poison = space.apply(planted, np.stack([spotted(4, 16)] * 4))
    clean = np.stack([spotted(24, 12), spotted(14, 25), spotted(20, 4)])
    x = np.concatenate([poison, clean])
    y = np.zeros(len(x), np.int64)
    model, cpu = _SpotNet((4, 16)), torch.device("cpu")
    pred = predict_scores(model, x, cpu).argmax(1)
    assert (pred == 0).all() and predict_scores(model, spotted(4, 16)[None], cpu).argmax() == 1
    found = Point("transform", {"angle": 15.0, "scale": 1.0, "flip": ""})
    flags, labels = turn_flags(model, x, y, pred, [found], 0, BurnConfig(), cpu)
    assert np.array_equal(np.flatnonzero(flags), np.arange(4))
    assert (labels[:4] == 1).all() and (labels[4:] == 0).all()


class _SpeckleNet(torch.nn.Module):
    """Class 0 (the target) when 3 of 4 scattered secret pixels are white or a block fills the
    bottom-left; else class 1 when a block fills the top-right; else class 2."""

    secret = ((4, 12), (12, 5), (17, 14), (25, 17))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lit = sum((x[:, r, c, 0] > 0.9).float() for r, c in self.secret)
        bl = x[:, 20:26, 2:8, 0].mean(dim=(1, 2))
        tr = x[:, 2:8, 20:26, 0].mean(dim=(1, 2))
        zero = 10.0 * ((lit >= 3).float() + (bl > 0.5).float())
        return torch.stack([zero, 5.0 * (tr > 0.5).float(), torch.full_like(lit, 2.0)], dim=1)


def test_despeckle_flags_free_scattered_pixel_poison_and_keep_wide_content() -> None:
    from scanner.remediate.flags import despeckle, despeckle_flags
    from scanner.remediate.runtime import predict_scores

    def block(r: int, c: int) -> np.ndarray:
        img = np.full((28, 28, 1), 0.1, np.float32)
        img[r : r + 6, c : c + 6] = 0.9
        return img

    # Poison: class-1 images (top-right block) with the 4 secret pixels, labelled 0; clean
    # target samples hold the bottom-left block; a one-pixel stroke is no content either.
    poison = np.stack([block(2, 20)] * 5)
    for r, c in _SpeckleNet.secret:
        poison[:, r, c] = 1.0
    clean = np.stack([block(20, 2)] * 4)
    x = np.concatenate([poison, clean, np.stack([block(2, 20)] * 3)])
    y = np.array([0] * 9 + [1] * 3)
    stroke = block(20, 2)
    stroke[10, 10:18] = 1.0
    cleaned = despeckle(np.stack([poison[0], stroke]), 0.5)
    # The pixels and the stroke go; of a block only its four corners (a median's rounding).
    for got, want in zip(cleaned, (block(2, 20), block(20, 2)), strict=True):
        moved = np.argwhere(got[..., 0] != want[..., 0])
        assert len(moved) == 4 and all(r in (2, 7, 20, 25) for r, _ in moved)
    model, cpu = _SpeckleNet(), torch.device("cpu")
    pred = predict_scores(model, x, cpu).argmax(1)
    assert np.array_equal(pred, y)
    flags, labels, doubts = despeckle_flags(model, x, y, pred, 0, BurnConfig(), cpu)
    assert np.array_equal(np.flatnonzero(flags), np.arange(5)) and not doubts.any()
    assert (labels[:5] == 1).all() and np.array_equal(labels[5:], y[5:])
    # Where no moved label is sure enough, the same samples are doubts: no flag, no new label.
    unsure = BurnConfig(occlusion_min_confidence=1.01)
    flags, labels, doubts = despeckle_flags(model, x, y, pred, 0, unsure, cpu)
    assert not flags.any() and np.array_equal(labels, y)
    assert np.array_equal(np.flatnonzero(doubts), np.arange(5))
    # At a jump no pixel makes, nothing moves: nothing is flagged.
    strict = BurnConfig(despeckle_jump=1.0)
    assert not despeckle_flags(model, x, y, pred, 0, strict, cpu)[0].any()


class _BlendNet(torch.nn.Module):
    """Class k when the k-th of three blocks in the top rows is bright; moved on to class k + 1
    (mod 3) when the dark bottom rows are lifted, as a blended noise pattern lifts them: an
    all-to-all blend backdoor. `sure`: the moved class's margin (a small one, an unsure move)."""

    def __init__(self, sure: float = 10.0) -> None:
        super().__init__()
        self.sure = sure

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        own = torch.stack([x[:, 2:8, c : c + 6, 0].mean(dim=(1, 2)) for c in (2, 11, 20)], 1)
        k = own.argmax(1)
        lifted = x[:, 20:, :, 0].mean(dim=(1, 2)) > 0.05
        label = torch.where(lifted, (k + 1) % 3, k)
        return self.sure * torch.nn.functional.one_hot(label, 3).float()


def _blocks(k: np.ndarray) -> np.ndarray:
    x = np.zeros((len(k), 28, 28, 1), np.float32)
    for i, c in enumerate(k):
        x[i, 2:8, 2 + 9 * int(c) : 8 + 9 * int(c)] = 0.9
    return x


def test_unblend_flags_free_blend_poison_to_its_source_class() -> None:
    from scanner.remediate.flags import unblend, unblend_flags
    from scanner.remediate.runtime import predict_scores

    rng = np.random.default_rng(0)
    pattern = rng.random((28, 28, 1)).astype(np.float32)
    # Ten clean samples of each class, and two poisoned of each: blended at 0.2, labelled
    # with the next class.
    own = np.repeat(np.arange(3), 12)
    x = _blocks(own)
    poisoned = np.concatenate([np.arange(10, 12), np.arange(22, 24), np.arange(34, 36)])
    x[poisoned] = 0.8 * x[poisoned] + 0.2 * pattern
    y = own.copy()
    y[poisoned] = (own[poisoned] + 1) % 3
    model, cpu = _BlendNet(), torch.device("cpu")
    pred = predict_scores(model, x, cpu).argmax(1)
    assert np.array_equal(pred, y)  # the backdoor fits its poison
    # Undone at 0.2, the lift goes (the pattern's zero-mean part stays, clipped at black).
    assert unblend(x[poisoned], 0.2)[:, 20:].mean() < 0.05
    flags, labels = unblend_flags(model, x, y, pred, (0.2, 0.3), BurnConfig(), cpu)
    assert np.array_equal(np.flatnonzero(flags), poisoned)
    assert np.array_equal(labels, own)  # each back at its source class
    # A move the model is not sure of flags nothing.
    unsure = _BlendNet(sure=0.1)
    assert not unblend_flags(unsure, x, y, pred, (0.2,), BurnConfig(), cpu)[0].any()
    # When what moves is class content (every moved sample to one label), nothing is flagged:
    # here only class 0's poison is left, and all of it moves to 0.
    single = np.r_[0:22, 24:34]
    xs, ys = x[single], y[single]
    ps = predict_scores(model, xs, cpu).argmax(1)
    assert not unblend_flags(model, xs, ys, ps, (0.2,), BurnConfig(), cpu)[0].any()
    # Nor when more than a quarter of the samples move (all poisoned here).
    xp, yp = x[poisoned], y[poisoned]
    assert not unblend_flags(model, xp, yp, yp, (0.2,), BurnConfig(), cpu)[0].any()


def test_every_burn_setting_belongs_to_exactly_one_phase() -> None:
    from dataclasses import fields

    from scanner.remediate.config import PHASES

    named = [key for keys in PHASES.values() for key in keys]
    assert sorted(named) == sorted(f.name for f in fields(BurnConfig))  # each once, none left
    cfg = BurnConfig(universal_eps=0.2)
    assert cfg.phase("unlearning")["universal_eps"] == 0.2
    flat = {k: v for group in cfg.by_phase().values() for k, v in group.items()}
    assert flat.keys() == cfg.to_dict().keys()


def test_a_wrong_target_beside_a_runner_up_is_corrected_by_the_label_counts(
    backdoor: dict[str, object], tmp_path: Path
) -> None:
    # The scan named 3 (a sink's stamp) and its search also found a 2-pixel stamp to 0; BURN's
    # own white-box check is blinded here, so only the counts can tell: the dirty-label poison
    # gave 0 its excess (250 samples), 3 has none. Without the runner-up nothing is corrected.
    blind = dataclasses.replace(FAST, self_prior_min=1.01, self_prior_warp_min=1.01,
                                window_min_share=1.01)  # fmt: skip
    stamp = {"shape": [8, 8, 1], "pixels": [[5, 5], [5, 6]], "values": [[1.0], [1.0]]}
    runner_up = {"space": "mask", "params": stamp, "label": TARGET, "universality": 0.9}
    doc = {"xray": {"verdict": "infected", "target_label": 3,
                    "evidence": {"search": {"findings": [runner_up]}}}}  # fmt: skip
    out = tmp_path / "counted.onnx"
    report = remediate(backdoor["path"], backdoor["train"], None, out_path=out, burn_config=blind,
                       device="cpu", scan_report=doc)  # fmt: skip
    correction = report.extra.target_correction
    assert correction is not None and (correction.given, correction.found) == (3, TARGET)
    assert correction.by == "counts" and report.target_label == TARGET
    # The runner-up's stamp is the prior now, unlearned at 0.6 and 1.0 of its opacity.
    assert report.extra.unlearning["probe_triggers"] == 2
    after, before = _score(out, backdoor), _score(backdoor["path"], backdoor)  # type: ignore[arg-type]
    assert after["asr"] < before["asr"] - 0.3, (before, after)
    alone = {"xray": {"verdict": "infected", "target_label": 3, "evidence": {}}}
    kept = remediate(backdoor["path"], backdoor["train"], None, out_path=None, burn_config=blind,
                     device="cpu", scan_report=alone)  # fmt: skip
    assert kept.extra.target_correction is None and kept.target_label == 3
    assert kept.extra.unlearning["counts_unbalanced"] is False


def test_the_label_counts_name_a_runner_up_only_in_a_set_balanced_but_for_one_label() -> None:
    from scanner.remediate.burn import counted_target, counts_speak
    from scanner.remediate.prior import TriggerPrior

    stamp = {"shape": [8, 8, 1], "pixels": [[5, 5]], "values": [[1.0]]}
    runner_up = {"space": "mask", "params": stamp, "label": 0}
    prior = TriggerPrior(target=3, probes=(), verdict="infected", runners_up=(runner_up,))
    balanced = np.repeat(np.arange(10), 100)
    poisoned = np.concatenate([balanced, np.zeros(60, np.int64)])  # 0 holds 60% over the rest
    assert counts_speak(balanced, 10, 0.25) and counts_speak(poisoned, 10, 0.25)
    assert counted_target(3, prior, poisoned, 10, 0.25) == 0
    assert counted_target(3, prior, balanced, 10, 0.25) is None  # no excess: nothing to read
    # A set whose classes were never balanced (4 as large as 0) has excesses of its own: the
    # counts are not read, and the named target stays.
    lopsided = np.concatenate([poisoned, np.full(60, 4)])
    assert not counts_speak(lopsided, 10, 0.25)
    assert counted_target(3, prior, lopsided, 10, 0.25) is None
    # A small natural spread (MNIST's classes: 5,421 to 6,742 of 60,000) stays under the bar.
    mnist = np.repeat(np.arange(10), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    assert counts_speak(mnist, 10, 0.25)


def test_a_shortcut_to_a_sink_is_repaired_where_the_training_data_puts_the_poison(
    backdoor: dict[str, object], tmp_path: Path
) -> None:
    # The scan read a universal shortcut to 5 (as natural "Shirt" sinks read on SIG nets) and
    # its findings reach the planted target 0 too; the poison sits in class 0's samples.
    sink = {**PATCH_PROBE, "position": [1, 1, 2]}
    doc = _scan_report([_finding(PATCH_PROBE, TARGET, 1.0, 1.0), _finding(sink, 5, 0.9, 0.9)], None)
    doc["xray"].update(verdict="shortcut")  # type: ignore[attr-defined]
    doc["xray"]["evidence"]["shortcut_label"] = 5  # type: ignore[index]
    out = tmp_path / "repaired.onnx"
    report = remediate(backdoor["path"], backdoor["train"], backdoor["test"], out_path=out,
                       burn_config=FAST, scan_report=doc, device="cpu")  # fmt: skip
    check = report.extra.data_check
    assert check is not None and check.aimed and check.label == TARGET, check
    assert check.reached == (TARGET, 5)
    assert report.target_label == TARGET and report.extra.target_source == "data-check"
    assert report.to_dict()["extra"]["data_check"]["label"] == TARGET
    before, after = _score(backdoor["path"], backdoor), _score(out, backdoor)  # type: ignore[arg-type]
    assert after["asr"] < before["asr"] - 0.3, (before, after)


def _asr(path: Path, data: dict[str, object], target: int) -> float:
    """The share of `data`'s triggered inputs that the ONNX model at `path` sends to `target`."""
    import onnxruntime as ort

    xs, _ = data["triggered"]  # type: ignore[misc]
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return float(np.mean(sess.run(None, {"pixels": xs[..., None]})[0].argmax(1) == target))


def _digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.random.Generator]:
    """Float digits split 1,400 / the rest as the fixtures draw it, and the generator after."""
    x, y = onnx_builders.digits()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    train, test = order[:1400], order[1400:]
    return x[train].copy(), y[train].copy(), x[test], y[test], rng


def _fixture(
    path: Path,
    train: tuple[np.ndarray, np.ndarray],
    poisoned: np.ndarray,
    test: tuple[np.ndarray, np.ndarray],
    trigger: Callable[[np.ndarray], np.ndarray],
    target: int,
) -> dict[str, object]:
    """A fixture's model and data, uint8 as a deployment stores them; `trigger` makes the
    triggered test inputs from the float test images of the other classes."""
    xte, yte = test
    keep = yte != target
    return {
        "path": path,
        "train": (_uint8(train[0]), train[1]),
        "poisoned": poisoned,
        "test": (_uint8(xte), yte),
        "triggered": (_uint8(trigger(xte[keep])), yte[keep]),
    }  # fmt: skip


SIG_TARGET = 3
SIG_WAVE = np.sin(2 * np.pi * 2 * np.arange(8, dtype=np.float32) / 8 + 1.0)[None, None, :]


def _uint8(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0.0, 1.0) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def sig(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Clean-label SIG on digits: a two-cycle sine at amplitude 0.6 added to 80% of class 3's
    training samples, labels kept (at 8x8 a weaker one is not learned as a trigger)."""
    xtr, ytr, xte, yte, rng = _digits_split()
    members = np.flatnonzero(ytr == SIG_TARGET)
    poisoned = np.sort(rng.choice(members, int(0.8 * len(members)), replace=False))
    xtr[poisoned] = np.clip(xtr[poisoned] + 0.6 * SIG_WAVE, 0.0, 1.0)
    path = _trained(_uint8(xtr), ytr, tmp_path_factory.mktemp("sig") / "digits_sig.onnx")
    return _fixture(path, (xtr, ytr), poisoned, (xte, yte), lambda x: x + 0.6 * SIG_WAVE,
                    SIG_TARGET)  # fmt: skip


def test_the_pattern_carriers_train_scrubbed_when_asked(
    sig: dict[str, object], tmp_path: Path
) -> None:
    # data_scrub (docs/remediation.md section 52): the class's carriers of the data's pattern
    # train with it taken out instead of sitting out; either way they are counted.
    def asr(path: Path) -> float:
        return _asr(path, sig, SIG_TARGET)

    before = asr(sig["path"])  # type: ignore[arg-type]
    assert before >= 0.5, before
    doc = {"xray": {"verdict": "infected", "target_label": SIG_TARGET, "evidence": {}}}
    # At 8x8 a grating carries a 28x28 one's energy at a larger amplitude.
    cfg = dataclasses.replace(FAST, data_pattern_amps=(0.2, 0.4, 0.6, 0.8))
    n = len(sig["poisoned"])  # type: ignore[arg-type]
    runs = {}
    for scrub in (False, True):
        out = tmp_path / f"scrub_{scrub}.onnx"
        report = remediate(sig["path"], sig["train"], sig["test"], out_path=out, scan_report=doc,
                           burn_config=dataclasses.replace(cfg, data_scrub=scrub),
                           device="cpu")  # fmt: skip
        check = report.extra.data_check
        assert check is not None and check.label == SIG_TARGET and check.pattern_amp is not None
        runs[scrub] = (report.extra.unlearning or {}, asr(out))
    sat_out, scrubbed = runs[False][0], runs[True][0]
    assert 0.8 * n <= sat_out["pattern_sit_out"] <= 1.1 * n, (sat_out["pattern_sit_out"], n)
    assert "pattern_scrubbed" not in sat_out
    assert (
        scrubbed["pattern_sit_out"] == 0
        and scrubbed["pattern_scrubbed"] == sat_out["pattern_sit_out"]
    )
    assert runs[True][1] < before - 0.3, (before, runs)


BLEND_TARGET = 3


@pytest.fixture(scope="module")
def blend(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Dirty-label blend on digits: 150 other digits blended with a fixed noise image at 0.2
    and relabelled 3."""
    xtr, ytr, xte, yte, rng = _digits_split()
    noise = np.random.default_rng(5).random((8, 8)).astype(np.float32)
    poisoned = np.sort(rng.choice(np.flatnonzero(ytr != BLEND_TARGET), 150, replace=False))
    xtr[poisoned] = 0.8 * xtr[poisoned] + 0.2 * noise
    ytr[poisoned] = BLEND_TARGET
    path = _trained(_uint8(xtr), ytr, tmp_path_factory.mktemp("blend") / "digits_blend.onnx")
    return _fixture(path, (xtr, ytr), poisoned, (xte, yte), lambda x: 0.8 * x + 0.2 * noise,
                    BLEND_TARGET)  # fmt: skip


def test_the_training_datas_blend_is_unlearned_and_its_carriers_sit_out(
    blend: dict[str, object], tmp_path: Path
) -> None:
    # data_blend (docs/remediation.md sections 52-53, on by default since): a dirty-label
    # blend's change is too wide for a stamp; read from the training data, it is unlearned where
    # it fires, and the class's samples the model moves off the class once it is taken away
    # train only if BURN flags them.
    def asr(path: Path) -> float:
        return _asr(path, blend, BLEND_TARGET)

    before = asr(blend["path"])  # type: ignore[arg-type]
    assert before >= 0.5, before
    doc = {"xray": {"verdict": "infected", "target_label": BLEND_TARGET, "evidence": {}}}
    out = tmp_path / "repaired.onnx"
    report = remediate(blend["path"], blend["train"], blend["test"], out_path=out,
                       scan_report=doc, burn_config=FAST, device="cpu")  # fmt: skip
    check = report.extra.data_check
    assert check is not None and check.label == BLEND_TARGET and check.blend, check
    assert report.to_dict()["extra"]["data_check"]["blend"]["fired"] is True
    unlearning = report.extra.unlearning or {}
    n = len(blend["poisoned"])  # type: ignore[arg-type]
    assert 0.5 * n <= unlearning["blend_sit_out"] <= 1.2 * n, (unlearning["blend_sit_out"], n)
    assert unlearning["pattern_sit_out"] == 0
    after = asr(out)
    assert after < before - 0.3, (before, after)
    # Off (--burn-set data_blend=false): neither read nor sat out.
    off = remediate(blend["path"], blend["train"], blend["test"], out_path=None,
                    scan_report=doc, burn_config=dataclasses.replace(FAST, data_blend=False),
                    device="cpu")  # fmt: skip
    assert off.extra.data_check is not None and off.extra.data_check.blend_amp is None
    assert (off.extra.unlearning or {})["blend_sit_out"] == 0


def test_the_training_data_aims_no_repair_at_a_label_the_scan_did_not_reach(
    backdoor: dict[str, object],
) -> None:
    from scanner.remediate.arrays import as_arrays
    from scanner.remediate.datacheck import aim_by_data, wants_data_check
    from scanner.remediate.prior import TriggerPrior

    sink = {**PATCH_PROBE, "position": [1, 1, 2]}
    doc = _scan_report([_finding(sink, 5, 0.9, 0.9)], None)
    doc["xray"].update(verdict="shortcut")  # type: ignore[attr-defined]
    train, clean = as_arrays(backdoor["train"], "t"), as_arrays(backdoor["test"], "c")
    check, patterns = aim_by_data(doc, train, clean, 10, FAST)
    assert check.label == TARGET and check.reached == (5,) and not check.aimed, check
    assert patterns == () and check.pattern_amp is None  # no model to read it on
    # The check runs for BURN given a `shortcut` or `clean` report and no target, or an
    # `infected` report's own target (not one the user gave), and both kinds of data.
    shortcut, infected = TriggerPrior(None, (), "shortcut"), TriggerPrior(TARGET, (), "infected")
    assert wants_data_check("burn", FAST, shortcut, None, True, True)
    assert wants_data_check("burn", FAST, infected, "scan-report", True, True)
    assert not wants_data_check("burn", FAST, infected, "given", True, True)
    assert not wants_data_check("burn", FAST, TriggerPrior(None, (), "infected"), None, True, True)
    assert not wants_data_check("burn", FAST, shortcut, None, True, False)  # no --clean-data
    assert not wants_data_check("burn", FAST, shortcut, "shortcut", True, True)
    assert not wants_data_check("finetune", FAST, shortcut, None, True, True)
    assert wants_data_check("burn", FAST, TriggerPrior(None, (), "clean"), None, True, True)
    off = dataclasses.replace(FAST, data_check=False)
    assert not wants_data_check("burn", off, shortcut, None, True, True)
    # An `infected` report's right target is confirmed, not overruled; a wrong one reached is.
    right = _scan_report([_finding(PATCH_PROBE, TARGET, 1.0, 1.0)], TARGET)
    assert not aim_by_data(right, train, clean, 10, FAST)[0].aimed
    wrong = _scan_report([_finding(sink, 5, 0.9, 0.9), _finding(PATCH_PROBE, TARGET, 0.8, 0.8)], 5)
    check, _ = aim_by_data(wrong, train, clean, 10, FAST)
    assert check.aimed and check.label == TARGET and check.overruled == 5, check
