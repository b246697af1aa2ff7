"""`bdscan remediate`'s workflow (scanner.app.remediation) with a stand-in scanner and repair:
which prior each round gets, when the rounds stop, and that only one staged file survives."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scanner.app.remediation import RemediateRequest, run_remediate
from scanner.data import Dataset
from scanner.detectors.evidence import Evidence
from scanner.detectors.probes import Probe, ProbeFinding
from scanner.pipeline import ScanConfig
from scanner.remediate import RemediationReport
from scanner.remediate.prior import TriggerPrior
from scanner.remediate.residual import (
    CARRIERS,
    FRESH_DRAWS,
    RESIDUAL_MAX,
    Labels,
    measure_residual,
    prior_triggers,
)
from scanner.report import DataInfo, ModelInfo, ScanReport, XrayResult
from tests import onnx_builders


def _report(verdict: str, score: float, target: int | None) -> ScanReport:
    """A scan's verdict; for "shortcut", `target` is the shortcut's label (no target)."""
    evidence = Evidence.empty(decided_by="universality" if target is not None else None)
    if verdict == "shortcut":
        evidence, target = replace(evidence, decided_by=None, shortcut_label=target), None
    xray = XrayResult(verdict, score, target, f"{verdict} note", 0.0, 0.0, 1, 0.1, {}, evidence)  # type: ignore[arg-type]
    return ScanReport(
        ModelInfo("m.onnx", "0" * 64, {}, 10, "cpu"), xray, DataInfo("d.npz", "0" * 64), "now"
    )


def _repair_report(model: Path, target: int | None, acc: float) -> RemediationReport:
    return RemediationReport(
        model=str(model), output=None, method="burn", mode="train-data", device="cpu", seed=0,
        target_label=target, suspect_labels=(), n_train=10, n_holdout=2, holdout_source="train",
        flagged=(), restored=(), flagged_phase1=(), rounds=(), classes=(),
        accuracy_before=acc + 0.01, accuracy_after=acc, agreement_with_original=None, epochs=1,
        phases=(), seconds=1.5, peak_rss_mb=1.0, peak_device_mb=None, conversion={}, export=None,
        config={},
    )  # fmt: skip


class Bench:
    """Scans answer from a script; repairs record what they were given and write a file."""

    def __init__(self, verdicts: list[tuple[str, float, int | None]]) -> None:
        self.verdicts = list(verdicts)
        self.repairs: list[dict[str, Any]] = []

    def scan(self, path: Path, data: Dataset, config: ScanConfig) -> ScanReport:
        return _report(*self.verdicts.pop(0))

    def repair(self, model: Path, train: Any, clean: Any, **kw: Any) -> RemediationReport:
        Path(kw["out_path"]).write_bytes(b"onnx")
        self.repairs.append({"model": Path(model), **kw})
        return _repair_report(Path(model), kw["target_label"], 0.9 - 0.01 * len(self.repairs))


@pytest.fixture
def request_(tmp_path: Path) -> RemediateRequest:
    data = Dataset(np.zeros((4, 8, 8, 1), np.float32), np.arange(4), "d.npz", "x")
    return RemediateRequest(model=tmp_path / "model.onnx", out=tmp_path / "fixed.onnx",
                            train=data, clean=None, config=ScanConfig())  # fmt: skip


def test_a_second_round_is_aimed_by_the_rescan_and_stops_once_clean(
    request_: RemediateRequest, tmp_path: Path
) -> None:
    bench = Bench([("infected", 0.95, 3), ("infected", 0.8, 3), ("clean", 0.1, None)])
    run = run_remediate(request_, scan=bench.scan, repair=bench.repair)
    assert [r["target_label"] for r in bench.repairs] == [3, 3]
    # Round 1 repairs the user's model with the scan before as prior; round 2 the staged
    # result of round 1, with the re-scan as prior.
    assert bench.repairs[0]["model"] == request_.model
    assert bench.repairs[1]["model"] == Path(bench.repairs[0]["out_path"])
    assert bench.repairs[1]["scan_report"].xray.verdict == "infected"  # the re-scan, typed
    assert bench.repairs[1]["scan_report"].xray.score == 0.8
    assert [r.prior for r in run.rounds] == ["scan before", "re-scan"]
    assert not run.still_infected and run.report.rescan is not None
    assert run.report.rescan.after.verdict == "clean"
    assert run.report.model == str(request_.model) and run.report.seconds == 3.0
    assert run.report.accuracy_before == pytest.approx(0.9)  # the user's model's, round 1
    assert [r.after and r.after.verdict for r in run.report.extra.repair_rounds] == [
        "infected",
        "clean",
    ]
    # Only the last round's file is left, for the caller to publish.
    assert sorted(p.name for p in tmp_path.glob(".*staged*")) == [run.staged.name]


def test_a_later_round_trains_on_the_labels_the_round_before_restored(
    request_: RemediateRequest,
) -> None:
    # Round 1 flags samples 1 and 3 (labelled 1 and 3 as given) and restores them to 0 and 2;
    # round 2 repairs a model that no longer answers the trigger, so it must not see them with
    # the labels it cannot flag again.
    class Flagging(Bench):
        def repair(self, model: Path, train: Any, clean: Any, **kw: Any) -> RemediationReport:
            report = super().repair(model, train, clean, **kw)
            self.repairs[-1]["labels"] = np.array(train.y)
            if len(self.repairs) == 1:
                return replace(report, flagged=(1, 3), restored=(0, 2))
            return report

    bench = Flagging([("infected", 0.95, 3), ("infected", 0.8, 3), ("clean", 0.1, None)])
    run_remediate(request_, scan=bench.scan, repair=bench.repair)
    assert request_.train is not None
    assert bench.repairs[0]["labels"].tolist() == [0, 1, 2, 3]
    assert bench.repairs[1]["labels"].tolist() == [0, 0, 2, 2]
    assert request_.train.y.tolist() == [0, 1, 2, 3]  # the caller's data is left as it was


def test_rounds_stop_when_a_round_does_not_lower_the_score_or_run_out(
    request_: RemediateRequest,
) -> None:
    from dataclasses import replace

    # Three allowed, but round 2 did not lower the score: a third would spend the same epochs.
    bench = Bench([("infected", 0.95, 3), ("infected", 0.8, 3), ("infected", 0.85, 3)])
    run = run_remediate(replace(request_, rounds=3), scan=bench.scan, repair=bench.repair)
    assert len(run.rounds) == 2 and run.still_infected
    one = Bench([("infected", 0.95, 3), ("infected", 0.8, 3)])

    run = run_remediate(replace(request_, rounds=1), scan=one.scan, repair=one.repair)
    assert len(run.rounds) == 1 and run.still_infected


def test_a_rescan_naming_another_target_is_reported_not_repaired(
    request_: RemediateRequest,
) -> None:
    # Round 1 repairs target 3; its re-scan finds a stamp to 8 (on the zoo, a natural sink the
    # repair exposed). A round aimed at 8 would retrain on the poisoned data aimed elsewhere.
    bench = Bench([("infected", 0.95, 3), ("infected", 0.8, 8)])
    run = run_remediate(replace(request_, rounds=3), scan=bench.scan, repair=bench.repair)
    assert [r["target_label"] for r in bench.repairs] == [3]
    assert run.still_infected and run.left_reason == "infected note"
    assert run.report.rescan is not None and run.report.rescan.after.target_label == 8


def test_a_round_that_brings_back_a_repaired_target_is_undone(
    request_: RemediateRequest, tmp_path: Path
) -> None:
    # Round 1 repairs target 3 and leaves a shortcut to 3 (the trigger weakened); round 2,
    # aimed at 3 again, leaves it `infected` to 3. Round 1's model is published.
    bench = Bench([("infected", 0.95, 3), ("shortcut", 0.8, 3), ("infected", 0.9, 3)])
    run = run_remediate(replace(request_, rounds=3), scan=bench.scan, repair=bench.repair)
    assert [r["target_label"] for r in bench.repairs] == [3, 3]
    assert [r.undone for r in run.rounds] == [False, True] and run.kept is run.rounds[0]
    assert run.staged == Path(bench.repairs[0]["out_path"]) and run.staged.exists()
    assert sorted(p.name for p in tmp_path.glob(".*staged*")) == [run.staged.name]
    # What is published still shows the shortcut to 3: exit 1, and the report says which round.
    assert run.still_infected and run.report.rescan is not None
    assert run.report.rescan.after.verdict == "shortcut"
    assert run.report.accuracy_after == pytest.approx(0.89)  # round 1's
    written = [r.to_dict() for r in run.report.extra.repair_rounds]
    assert "undone" not in written[0] and written[1]["undone"] is True


def test_without_rescans_there_is_one_round_and_no_prior(request_: RemediateRequest) -> None:
    from dataclasses import replace

    bench = Bench([])
    run = run_remediate(replace(request_, rescan=False), scan=bench.scan, repair=bench.repair)
    assert len(run.rounds) == 1 and run.before is None and run.report.rescan is None
    assert bench.repairs[0]["scan_report"] is None and not run.still_infected


def test_a_failing_round_leaves_no_staged_file(request_: RemediateRequest, tmp_path: Path) -> None:
    bench = Bench([("infected", 0.95, 3), ("infected", 0.8, 3)])
    calls = []

    def repair(model: Path, train: Any, clean: Any, **kw: Any) -> RemediationReport:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("interrupted")
        return bench.repair(model, train, clean, **kw)

    with pytest.raises(RuntimeError):
        run_remediate(request_, scan=bench.scan, repair=repair)
    assert not list(tmp_path.glob(".*staged*"))


def test_a_shortcut_to_the_label_aimed_at_is_the_trigger_left_and_earns_a_round(
    request_: RemediateRequest,
) -> None:
    # Round 1 weakened the trigger to label 3: the re-scan no longer attributes it, but still
    # finds a universal shortcut to 3. That is the backdoor, not a natural sink: repair again,
    # aimed at 3, with the shortcut's findings.
    bench = Bench([("infected", 0.95, 3), ("shortcut", 0.4, 3), ("clean", 0.1, None)])
    run = run_remediate(request_, scan=bench.scan, repair=bench.repair)
    assert [r["target_label"] for r in bench.repairs] == [3, 3]
    given = bench.repairs[1]["scan_report"]
    assert given.xray.verdict == "shortcut" and given.xray.evidence.shortcut_label == 3
    assert run.rounds[1].prior == "re-scan (shortcut to the label aimed at)"
    assert not run.still_infected and run.left_reason is None
    # With one round allowed, the same shortcut is what the repaired model is left with: exit 1.
    from dataclasses import replace

    once = Bench([("infected", 0.95, 3), ("shortcut", 0.4, 3)])
    run = run_remediate(replace(request_, rounds=1), scan=once.scan, repair=once.repair)
    assert run.still_infected and "label 3" in str(run.left_reason)


def test_a_shortcut_to_another_label_is_reported_not_repaired(request_: RemediateRequest) -> None:
    bench = Bench([("infected", 0.95, 3), ("shortcut", 0.3, 7)])
    run = run_remediate(request_, scan=bench.scan, repair=bench.repair)
    assert len(run.rounds) == 1 and not run.still_infected
    assert run.report.rescan is not None and run.report.rescan.after.shortcut_label == 7


def test_the_prior_reads_the_scan_object_and_a_shortcut_for_the_label_aimed_at() -> None:
    from scanner.remediate.prior import prior_from_report

    probe = Probe("patch", 0, (20, 20, 1), 1).to_dict()
    finding = ProbeFinding(Probe.from_dict(probe), 3, 0.9, 0.3, 0.9, 0.3)
    scan = _report("shortcut", 0.4, 3)
    evidence = replace(scan.xray.evidence, findings=(finding,))
    scan = replace(scan, xray=replace(scan.xray, evidence=evidence))
    # A shortcut names no target: read as all-to-all, a one-label finding is not a prior for
    # any target, unless the repair is aimed at one.
    assert prior_from_report(scan).probes == ()
    aimed = prior_from_report(scan, fallback_target=3)
    assert aimed.target == 3 and aimed.probes == (probe,) and aimed.verdict == "shortcut"
    # The same scan read back from its JSON document gives the same prior.
    doc = json.loads(json.dumps(scan.to_dict()))
    assert prior_from_report(doc, fallback_target=3) == aimed


def test_every_method_and_mode_has_a_registered_remediator() -> None:
    from scanner.remediate.api import METHODS
    from scanner.remediate.methods import REMEDIATORS

    assert set(REMEDIATORS) == {(m, mode) for m in METHODS for mode in ("train-data", "clean-only")}
    assert all(callable(getattr(r, "run", None)) for r in REMEDIATORS.values())


# The residual check (scanner.remediate.residual): 8x8 images whose class c is a white pixel at
# row 0, column c; the scan before's trigger is a white 2 px patch at (5, 5).
PATCH = Probe("patch", 0, (5, 5, 2), 0)


def _images(n_per_class: int = 3, classes: int = 4) -> Dataset:
    y = np.repeat(np.arange(classes), n_per_class)
    x = np.zeros((len(y), 8, 8, 1), np.float32)
    x[np.arange(len(y)), 0, y, 0] = 1.0
    return Dataset(x, y, "d.npz", "x")


def _model(fires: Callable[[np.ndarray], np.ndarray], classes: int = 4) -> Labels:
    """A stand-in model: the class its pixel shows, moved to the next class where the patch
    sits and `fires(own class)` says the trigger still works."""

    def labels(x: np.ndarray) -> np.ndarray:
        own = x[:, 0, :classes, 0].argmax(1)
        stamped = x[:, 5:7, 5:7, 0].min(axis=(1, 2)) > 0.9
        return np.where(stamped & fires(own), (own + 1) % classes, own)

    return labels


def _always(own: np.ndarray) -> np.ndarray:
    return np.ones(len(own), bool)


def _a2a_prior() -> TriggerPrior:
    return TriggerPrior(target=None, probes=(PATCH.to_dict(),), verdict="infected")


def test_the_residual_counts_the_samples_the_trigger_still_sends_where_it_did() -> None:
    data = _images()
    before = _model(_always)
    # Half repaired: classes 0 and 2 still go to the next class.
    half = measure_residual(_a2a_prior(), data, before, _model(lambda c: c % 2 == 0))
    assert half is not None and len(half.checks) == 1
    check = half.checks[0]
    assert (check.before, check.after, check.samples) == (1.0, 0.5, 12)
    assert half.left and "50% of 12 samples" in half.note
    # Repaired: the trigger sends nothing anywhere.
    fixed = measure_residual(_a2a_prior(), data, before, _model(lambda c: c < 0))
    assert fixed is not None and fixed.checks[0].after == 0.0 and not fixed.left

    # A repaired model that sends the triggered samples to other labels than the trigger did
    # (a natural sink, not the planted mapping) holds nothing of it.
    def elsewhere(x: np.ndarray) -> np.ndarray:
        out = before(x)
        moved = out != x[:, 0, :4, 0].argmax(1)
        return np.where(moved, (out + 1) % 4, out)

    other = measure_residual(_a2a_prior(), data, before, elsewhere)
    assert other is not None and other.checks[0].after == 0.0
    # With a target, only what the trigger sent to it counts, on the other classes' samples.
    to_one = TriggerPrior(target=1, probes=(PATCH.to_dict(),), verdict="infected")
    held = measure_residual(to_one, data, before, before)
    assert held is not None and held.checks[0].samples == 9
    assert held.checks[0].before == pytest.approx(1 / 3) == held.checks[0].after
    # A probe of a drawn family (a noise blend) is re-measured with fresh draws beside it: the
    # repair unlearned the probe itself, never the draws.
    blend = Probe("blend", 1, None, 7).to_dict()
    names = [n for n, _ in prior_triggers(replace(to_one, probes=(blend,)), (8, 8, 1))]
    assert names == ["probe blend"] + ["probe blend, fresh draw"] * FRESH_DRAWS
    # A report's probe that does not rebuild (an edited --scan-report) is left out, not raised.
    broken = ({"family": "nope", "strength": 0, "seed": 0}, {**blend, "strength": 99})
    assert prior_triggers(replace(to_one, probes=broken), (8, 8, 1)) == []
    assert measure_residual(replace(to_one, probes=broken), data, before, before) is None


def _infected_a2a_report() -> ScanReport:
    scan = _report("infected", 0.95, None)
    finding = ProbeFinding(PATCH, 1, 0.3, 0.95, 0.3, 0.95)
    evidence = replace(scan.xray.evidence, findings=(finding,))
    return replace(scan, xray=replace(scan.xray, evidence=evidence))


class Residuals(Bench):
    """A scan before that found the patch (all-to-all); every re-scan reads clean, as on the
    forty-first set's blend nets; each repaired model holds `holds[k]` of the trigger."""

    def __init__(self, holds: list[Callable[[np.ndarray], np.ndarray]]) -> None:
        super().__init__([("clean", 0.1, None)] * 5)
        self.holds = holds
        self.models: dict[Path, Labels] = {}

    def scan(self, path: Path, data: Dataset, config: ScanConfig) -> ScanReport:
        if not self.models:  # the scan before
            return _infected_a2a_report()
        return super().scan(path, data, config)

    def repair(self, model: Path, train: Any, clean: Any, **kw: Any) -> RemediationReport:
        report = super().repair(model, train, clean, **kw)
        self.models[Path(kw["out_path"])] = _model(self.holds[len(self.repairs) - 1])
        return report

    @contextmanager
    def labels(self, path: Path, config: ScanConfig, data: Dataset) -> Iterator[Labels]:
        yield self.models.get(path, _model(_always))


def test_a_trigger_the_rescan_reads_clean_but_that_still_holds_is_left_and_repaired_again(
    request_: RemediateRequest,
) -> None:
    req = replace(request_, train=_images(), rounds=3)
    # Round 1 leaves the trigger on classes 0 and 2, round 2 on class 0, round 3 on none.
    bench = Residuals([lambda c: c % 2 == 0, lambda c: c == 0, lambda c: c < 0])
    run = run_remediate(req, scan=bench.scan, repair=bench.repair, labels=bench.labels)
    assert len(run.rounds) == 3 and [r.prior for r in run.rounds] == ["scan before"] * 3
    assert [r.residual and r.residual.checks[0].after for r in run.rounds] == [0.5, 0.25, 0.0]
    assert not run.still_infected and run.left_reason is None
    # With one round, the re-scan's `clean` does not hide what the first left: exit 1.
    once = Residuals([lambda c: c % 2 == 0])
    run = run_remediate(
        replace(req, rounds=1), scan=once.scan, repair=once.repair, labels=once.labels
    )
    assert run.still_infected and "still sends 50% of 12 samples" in str(run.left_reason)
    assert run.report.rescan is not None and run.report.rescan.residual is not None
    assert run.report.to_dict()["rescan"]["residual"]["left"] is True
    # A round that does not loosen the hold stops the rounds.
    stuck = Residuals([lambda c: c % 2 == 0, lambda c: c % 2 == 0, lambda c: c < 0])
    run = run_remediate(req, scan=stuck.scan, repair=stuck.repair, labels=stuck.labels)
    assert len(run.rounds) == 2 and run.still_infected


class Overruled(Residuals):
    """As `Residuals`, but each repair's training data check overruled the report's target
    and aimed elsewhere (an `infected` report whose label was a natural sink)."""

    def repair(self, model: Path, train: Any, clean: Any, **kw: Any) -> RemediationReport:
        from scanner.detectors.datacheck import DataCheck

        report = super().repair(model, train, clean, **kw)
        check = DataCheck((), (), 2, "pixel", "class 2 differs", aimed=True, overruled=1)
        return replace(report, target_label=2, extra=replace(report.extra, data_check=check))


def test_the_triggers_of_a_target_the_training_data_overruled_earn_no_second_round(
    request_: RemediateRequest,
) -> None:
    # The fresh36 ResNet-8 (docs/remediation.md section 49): round 1, aimed by the training data
    # at the planted class, repaired it; the scan's sink to its wrong target still held part of
    # the classes, and a second round aimed back at that label put the backdoor back in.
    req = replace(request_, train=_images(), rounds=3)
    bench = Overruled([lambda c: c % 2 == 0, lambda c: c < 0, lambda c: c < 0])
    run = run_remediate(req, scan=bench.scan, repair=bench.repair, labels=bench.labels)
    assert len(run.rounds) == 1 and run.rounds[0].residual is None
    assert not run.still_infected
    # The round's record says which class its own training-data check named.
    assert run.report.to_dict()["extra"]["repair_rounds"][0]["data_named"] == 2


class Partial(Residuals):
    """As `Residuals`, but the model before answered the patch on classes 0 and 1 only: a
    trigger that sent half its samples, not near-universal."""

    @contextmanager
    def labels(self, path: Path, config: ScanConfig, data: Dataset) -> Iterator[Labels]:
        yield self.models.get(path, _model(lambda c: c < 2))


def test_the_hold_of_a_trigger_that_was_not_near_universal_is_left_but_earns_no_round(
    request_: RemediateRequest,
) -> None:
    # The sixty-first set's MobileNet (docs/remediation.md section 53): a search transform
    # that had sent 78% of the samples still sent 19% after round 1, and the round it earned
    # undid round 1 (planted trigger 0.001 -> 0.078).
    req = replace(request_, train=_images(), rounds=3)
    bench = Partial([lambda c: c == 0, lambda c: c < 0, lambda c: c < 0])
    run = run_remediate(req, scan=bench.scan, repair=bench.repair, labels=bench.labels)
    assert len(run.rounds) == 1
    residual = run.rounds[0].residual
    assert residual is not None and residual.checks[0].before == 0.5
    assert residual.checks[0].after == 0.25 and residual.earning() is None
    # Still reported: the hold is an exit 1, with what holds.
    assert run.still_infected and "still sends 25% of 12 samples" in str(run.left_reason)
    # The same hold of a trigger that was near-universal before earns the round (as above).
    full = Residuals([lambda c: c == 0, lambda c: c < 0, lambda c: c < 0])
    run = run_remediate(req, scan=full.scan, repair=full.repair, labels=full.labels)
    assert len(run.rounds) == 2 and not run.still_infected


def _sig_digits(target: int = 3) -> tuple[Dataset, Dataset, np.ndarray]:
    """8x8 digits: a training half with a column sine (amplitude 0.3) on 80% of class `target`
    (a clean-label SIG poison), the clean other half, and the sine."""
    x, y = onnx_builders.digits()
    x = x[..., None]
    order = np.random.default_rng(0).permutation(len(y))
    xt, yt, xc, yc = x[order[:1400]].copy(), y[order[:1400]], x[order[1400:]], y[order[1400:]]
    sine = (0.3 * np.sin(2 * np.pi * 2.0 * np.arange(8) / 8))[None, :, None].astype(np.float32)
    members = np.flatnonzero(yt == target)
    picked = np.random.default_rng(1).choice(members, int(0.8 * len(members)), replace=False)
    xt[picked] = np.clip(xt[picked] + sine, 0.0, 1.0)
    return Dataset(xt, yt, "t.npz", "t"), Dataset(xc, yc, "c.npz", "c"), sine


def _sig_model(digits: Dataset, sine: np.ndarray, target: int, bar: float) -> Labels:
    """A stand-in model: the nearest class mean of the clean `digits`, and `target` where an
    image's projection on the planted sine exceeds `bar` (a larger bar: a weaker trigger)."""
    means = np.stack([digits.x[digits.y == c].mean(0) for c in range(10)])
    unit = np.broadcast_to(sine, (8, 8, 1)) / np.abs(sine).max()

    def labels(x: np.ndarray) -> np.ndarray:
        own = ((x[:, None] - means[None]) ** 2).sum(axis=(2, 3, 4)).argmin(1)
        score = (x * unit[None]).sum(axis=(1, 2, 3)) / (unit**2).sum()
        return np.where(score > bar, target, own)

    return labels


class DataResiduals(Bench):
    """A scan before that said `infected` 3 with no trigger to re-measure; every re-scan reads
    clean; each repair's training data check named class 3, the class repaired; each repaired
    model keeps the planted sine above `bars[k]`."""

    def __init__(self, digits: Dataset, sine: np.ndarray, bars: list[float]) -> None:
        super().__init__([("infected", 0.9, 3)] + [("clean", 0.1, None)] * 4)
        self.digits, self.sine, self.bars = digits, sine, bars
        self.models: dict[Path, Labels] = {}

    def repair(self, model: Path, train: Any, clean: Any, **kw: Any) -> RemediationReport:
        from scanner.detectors.datacheck import DataCheck

        report = super().repair(model, train, clean, **kw)
        bar = self.bars[len(self.repairs) - 1]
        self.models[Path(kw["out_path"])] = _sig_model(self.digits, self.sine, 3, bar)
        check = DataCheck((), (), 3, "frequency", "class 3 differs")
        return replace(report, target_label=3, extra=replace(report.extra, data_check=check))

    @contextmanager
    def labels(self, path: Path, config: ScanConfig, data: Dataset) -> Iterator[Labels]:
        yield self.models.get(path, _sig_model(self.digits, self.sine, 3, 0.1))


def test_the_training_datas_own_pattern_left_after_a_round_is_an_exit_1_when_asked(
    request_: RemediateRequest,
) -> None:
    # The fifty-second set's SE-ResNet SIG (docs/remediation.md section 50): one round unlearned
    # every trigger the scan had found, the re-scan read `clean`, and the planted grating still
    # sent a tenth of the classes to the target; a second round of the same repair made it worse.
    train, clean, sine = _sig_digits()
    req = replace(request_, train=train, clean=clean, rounds=2, data_residual=True)
    bench = DataResiduals(clean, sine, [0.3])
    run = run_remediate(req, scan=bench.scan, repair=bench.repair, labels=bench.labels)
    assert len(run.rounds) == 1
    held = run.rounds[0].residual
    assert held is not None and held.left and held.of_scan() is None
    strongest = held.strongest
    assert strongest is not None and strongest.trigger.startswith("training data")
    assert strongest.target == 3 and 0.1 <= strongest.after < strongest.before
    assert run.still_infected and str(run.left_reason).startswith("the training data ")
    assert "of class 3 at amplitude" in str(run.left_reason)
    assert run.report.to_dict()["rescan"]["residual"]["left"] is True
    # A round that removed the grating: nothing left.
    fixed = DataResiduals(clean, sine, [50.0])
    run = run_remediate(req, scan=fixed.scan, repair=fixed.repair, labels=fixed.labels)
    assert len(run.rounds) == 1 and not run.still_infected
    held = run.rounds[0].residual
    assert held is not None and held.strongest is not None and held.strongest.after < 0.1
    # Without it (the default: held out it flagged a repaired net), the re-scan's `clean`
    # hides what the round left.
    off = DataResiduals(clean, sine, [0.3])
    run = run_remediate(
        replace(req, data_residual=RemediateRequest.data_residual),
        scan=off.scan, repair=off.repair, labels=off.labels,
    )  # fmt: skip
    assert len(run.rounds) == 1 and run.rounds[0].residual is None and not run.still_infected


class BlendLeft(Bench):
    """A `shortcut` scan before (no trigger of its own to re-measure) and `clean` re-scans;
    each repair's training-data check unlearned class 3's blend; the model before answers the
    blend, and each repaired model is `afters[k]`."""

    def __init__(self, before: Labels, afters: list[Labels]) -> None:
        super().__init__([("shortcut", 0.3, 3)] + [("clean", 0.1, None)] * 4)
        self.before, self.afters = before, afters
        self.models: dict[Path, Labels] = {}

    def repair(self, model: Path, train: Any, clean: Any, **kw: Any) -> RemediationReport:
        from scanner.detectors.datacheck import DataCheck

        report = super().repair(model, train, clean, **kw)
        self.models[Path(kw["out_path"])] = self.afters[len(self.repairs) - 1]
        check = DataCheck((), (), 3, "pixel", "class 3 differs", blend=True)
        return replace(report, target_label=3, extra=replace(report.extra, data_check=check))

    @contextmanager
    def labels(self, path: Path, config: ScanConfig, data: Dataset) -> Iterator[Labels]:
        yield self.models.get(path, self.before)


def test_a_blend_the_repair_unlearned_but_that_still_fires_in_its_blend_form_is_left(
    request_: RemediateRequest,
) -> None:
    # The sixty-second set's MobileNet (docs/remediation.md section 53): the repair unlearned
    # the training data's additive change, the re-scan read `clean`, and the planted blend
    # still fired; re-measured in its blend form (--data-residual) it is an exit 1, and earns
    # no round.
    from tests.scanner.remediate.test_datacheck import _blend_reader, _blended

    xt, yt, xc, yc, noise, rows = _blended()
    unit = 0.2 * (noise - xc[yc != 3].mean(axis=0))
    unit /= np.linalg.norm(unit)
    bar = (
        (xc[yc != 3] * unit).sum(axis=(1, 2, 3)).mean()
        + (xt[rows] * unit).sum(axis=(1, 2, 3)).mean()
    ) / 2
    backdoored = _blend_reader(unit, float(bar), xc, yc)
    repaired = _blend_reader(unit, np.inf, xc, yc)  # its nearest clean class mean only
    req = replace(request_, train=Dataset(xt, yt, "t.npz", "x"),
                  clean=Dataset(xc, yc, "c.npz", "x"), rounds=3, data_residual=True)  # fmt: skip
    left = BlendLeft(backdoored, [backdoored, repaired])
    run = run_remediate(req, scan=left.scan, repair=left.repair, labels=left.labels)
    assert len(run.rounds) == 1 and run.still_infected
    residual = run.rounds[0].residual
    assert residual is not None
    blend = [c for c in residual.checks if c.trigger.startswith("training data blend at")]
    assert len(blend) == 3 and min(c.after for c in blend) >= 0.5, blend
    # Repaired for real: the same check holds nothing, exit 0.
    fixed = BlendLeft(backdoored, [repaired])
    run = run_remediate(req, scan=fixed.scan, repair=fixed.repair, labels=fixed.labels)
    assert not run.still_infected and run.rounds[0].residual is not None
    checks = run.rounds[0].residual.checks
    forms = [c for c in checks if c.trigger.startswith("training data blend at")]
    assert len(forms) == 3 and max(c.after for c in forms) == 0.0
    # --data-residual asks for the blend's carriers too (residual.carrier_hold): the few the
    # stand-in's nearest class mean still reads as 3 are under the bar.
    (carried,) = [c for c in checks if c.trigger == CARRIERS]
    assert carried.samples >= 20 and carried.after < RESIDUAL_MAX, carried
    # The carriers alone (carrier_residual) catch the blend left in place, and earn no round.
    only = BlendLeft(backdoored, [backdoored, repaired])
    alone = replace(req, data_residual=False, carrier_residual=True, blend_residual=False)
    run = run_remediate(alone, scan=only.scan, repair=only.repair, labels=only.labels)
    assert len(run.rounds) == 1 and run.still_infected
    assert run.rounds[0].residual is not None
    assert [c.trigger for c in run.rounds[0].residual.checks] == [CARRIERS]
    # The blend form alone (--blend-residual), without the pattern's --data-residual: it
    # catches the blend left in place and earns no round either.
    only = BlendLeft(backdoored, [backdoored, repaired])
    forms = replace(req, data_residual=False, carrier_residual=False, blend_residual=True)
    run = run_remediate(forms, scan=only.scan, repair=only.repair, labels=only.labels)
    assert len(run.rounds) == 1 and run.still_infected
    assert run.rounds[0].residual is not None
    names = [c.trigger for c in run.rounds[0].residual.checks]
    assert len(names) == 3 and all(n.startswith("training data blend at") for n in names)
    # Without --data-residual (the default) the pattern is not re-measured; the carriers are
    # (carrier_residual, on), the blend form where `blend_residual` is on by default, and
    # --no-carrier-residual --no-blend-residual turn them off.
    quiet = BlendLeft(backdoored, [backdoored])
    default = replace(
        req,
        data_residual=False,
        carrier_residual=RemediateRequest.carrier_residual,
        blend_residual=RemediateRequest.blend_residual,
    )
    run = run_remediate(default, scan=quiet.scan, repair=quiet.repair, labels=quiet.labels)
    assert run.still_infected and run.rounds[0].residual is not None
    names = [c.trigger for c in run.rounds[0].residual.checks]
    assert names[-1] == CARRIERS and len(names) == (4 if RemediateRequest.blend_residual else 1)
    quiet = BlendLeft(backdoored, [backdoored])
    off = replace(default, carrier_residual=False, blend_residual=False)
    run = run_remediate(off, scan=quiet.scan, repair=quiet.repair, labels=quiet.labels)
    assert run.rounds[0].residual is None and not run.still_infected
