"""`bdscan remediate`'s workflow, apart from the command line: scan before, repair, re-scan,
and repair again while the re-scan still finds a planted trigger; then publish.

1. Scan the model (unless told not to): its verdict is the "before", and without a
   --scan-report its target and trigger-like findings are BURN's prior.
2. Repair (BURN by default) into a staged file beside the output.
3. Re-scan the staged model with the same data and settings the user's next scan would use.
4. While a planted trigger is left and rounds are left, repair the staged model again with that
   re-scan as the prior, when it names the target the repair was aimed at (one the round only
   weakened); a re-scan that names another target is reported, not repaired (`elsewhere`). A
   trigger is left when the re-scan says `infected`, or when it reports a universal shortcut to
   the very label the repair was aimed at: a weakened trigger whose attribution no longer holds
   is still that backdoor, not a natural sink (hand-set; on the 29 backdoored wild models no
   re-scan showed it, docs/remediation.md). Stop rules: no trigger left; `rounds` rounds have
   run; or a round did not lower the score (another round would spend the same epochs for
   nothing). A round whose re-scan finds again a target an earlier round repaired is undone (its
   file dropped, the round before it published): fine-tuning on the poisoned training data aimed
   at another label let the earlier backdoor back in (two CNN WaNets of the eighth fresh set,
   each repaired to ASR 0.02 then back at 0.94 after a round aimed at a "Bag" stamp;
   docs/remediation.md). A later round trains on the labels the rounds before it restored
   (`sanitised`): the repaired model no longer flags that poison.
   Beside the re-scan, the triggers the scan before confirmed are re-measured on the same
   samples, model before against model after (`scanner.remediate.residual`): a repair can leave
   half a trigger that the re-scan's bars no longer call. Where the training data named the
   class a round repaired, the data's own pattern of it is re-measured the same way, with
   --data-residual (off by default), and with it the data's blend the round unlearned, in its
   blend form. A trigger that still holds is left too; the next round
   keeps the same prior, while each round loosens the hold (the training data's pattern earns
   no round, only the exit 1, and so does the hold of a trigger that sent under
   `ROUND_MIN_BEFORE` of its samples to the target before the repair).
5. Publish: the last staged model onto the output, then the JSON report; nothing is left behind
   when any step fails.
The caller (the CLI) validates arguments and prints; this module returns a typed run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from scanner.backends.base import LabelOracle
from scanner.backends.onnx_graph import parse_model
from scanner.backends.onnxruntime import OnnxRuntimeBackend
from scanner.data import Dataset, to_model_space
from scanner.detectors.datacheck import DataCheck
from scanner.pipeline import QUERY_BYTES_PER_CALL, ScanConfig, scan_model
from scanner.remediate import RemediationReport, remediate
from scanner.remediate.record import RepairRound, Rescan, VerdictSummary
from scanner.remediate.residual import (
    Labels,
    Residual,
    Trigger,
    blend_triggers,
    carrier_hold,
    checked_prior,
    data_triggers,
    measure_residual,
    measure_triggers,
)
from scanner.report import ScanReport, XrayResult

__all__ = ["RemediateRequest", "RemediateRun", "Round", "run_remediate"]

# Repair rounds by default: one repair, and one more when the re-scan still finds a trigger.
DEFAULT_ROUNDS = 2
# Whether the training data's blend carriers are re-measured after a round by default
# (`RemediateRequest.carrier_residual`). On by 784a83a's rule: held out (sixty-fifth set) it
# called left the one blend it could read that the repair left (ASR 0.333, hold 0.110) and none
# of five repaired (<= 0.093: a thin margin under `RESIDUAL_MAX`); on two later held-out sets
# it called 1 of 12 repaired nets left, an SE-ResNet whose kept carriers were half the class's
# own images (docs/remediation.md sections 55 and 57); read strictly since (none of a carrier's
# nearest clean images the class's own), none of 33 held-out repaired nets (sections 58-60).
CARRIER_RESIDUAL = True
# Whether the blend a round unlearned is re-measured in its blend form after it by default
# (`RemediateRequest.blend_residual`, residual.blend_triggers), apart from the pattern's
# `data_residual`. On by the sixty-ninth set's rule (809096d): over sets 65-70, built after the
# blend form was fixed, it called left 4 of the 5 blends the repair left at ASR >= 0.1 and 2 of
# 33 repaired nets (docs/remediation.md sections 59-60).
BLEND_RESIDUAL = True

Scan = Callable[[Path, Dataset, ScanConfig], ScanReport]
Repair = Callable[..., RemediationReport]
# A model file's hard labels on [0, 1] NHWC images, open for the duration of a `with`.
Opener = Callable[[Path, ScanConfig, Dataset], AbstractContextManager[Labels]]


@contextmanager
def onnx_labels(path: Path, config: ScanConfig, data: Dataset) -> Iterator[Labels]:
    """Hard labels of an ONNX file on [0, 1] NHWC images, queried as the scan queries it."""
    hwc = (int(data.x.shape[1]), int(data.x.shape[2]), int(data.x.shape[3]))
    parsed = parse_model(path)
    backend = OnnxRuntimeBackend(
        parsed.path,
        parsed=parsed,
        image_hwc=hwc,
        device=config.device,
        uint8_mode=config.uint8_mode,
        num_classes=None,
        classes_hint=int(np.asarray(data.y).max()) + 1,
        timeout=config.timeout,
    )
    with backend:
        spec = backend.input_spec
        per_point = 4 * spec.height * spec.width * spec.channels  # as the scan batches
        batch = max(1, min(config.batch_size, QUERY_BYTES_PER_CALL // per_point))
        oracle = LabelOracle(backend, batch_size=batch)

        def labels(images: np.ndarray) -> np.ndarray:
            return oracle(to_model_space(images, spec, config.mean, config.std, source=data.path))

        yield labels


@dataclass(frozen=True)
class RemediateRequest:
    model: Path
    out: Path
    train: Dataset | None
    clean: Dataset | None
    config: ScanConfig  # the re-scans' settings (normalisation, device)
    target_label: int | None = None
    report_doc: dict[str, Any] | None = None  # a --scan-report, already checked to be this model's
    use_prior: bool = True  # False: --no-trigger-prior (the target only)
    method: str = "burn"
    device: str = "auto"
    seed: int = 0
    rescan: bool = True
    rounds: int = DEFAULT_ROUNDS
    # Re-measure the training data's own pattern of the class a round repaired beside the
    # scan's triggers (needs --train-data and --clean-data; residual.data_triggers); off by
    # default: held out it flagged a repaired net (docs/remediation.md section 50). It asks for
    # the blend form and the carriers too.
    data_residual: bool = False
    # Re-measure the training data's blend carriers (the poison itself) on the repaired model
    # where a round unlearned the class's blend (needs --train-data and --clean-data;
    # residual.carrier_hold; docs/remediation.md section 55); `data_residual` asks for it too.
    carrier_residual: bool = CARRIER_RESIDUAL
    # Re-measure the blend the round unlearned in its blend form (residual.blend_triggers;
    # needs --train-data and --clean-data); `data_residual` asks for it too.
    blend_residual: bool = BLEND_RESIDUAL

    @property
    def scan_data(self) -> Dataset:
        """X-ray wants correctly labelled samples: the clean set when there is one."""
        data = self.clean if self.clean is not None else self.train
        assert data is not None, "expected train or clean data"
        return data


@dataclass(frozen=True)
class Round:
    """One repair and the re-scan after it."""

    target_label: int | None  # the target the repair was given (None: BURN's own check)
    prior: str  # as `RepairRound.prior`
    report: RemediationReport
    after: XrayResult | None
    undone: bool = False  # its re-scan found an earlier round's repaired target again
    # The scan before's triggers re-measured on this round's model (scanner.remediate.residual;
    # None: no re-scan, or no `infected` scan before with a trigger to re-measure).
    residual: Residual | None = None

    @property
    def left(self) -> bool:
        """A planted trigger is still there: the re-scan shows one, or the scan before's
        trigger (or the training data's own pattern of the class) still holds on the repaired
        model."""
        held = self.residual is not None and self.residual.left
        return held or trigger_left(self.after, self.target_label)

    @property
    def scan_residual(self) -> Residual | None:
        return None if self.residual is None else self.residual.of_scan()

    @property
    def earning_residual(self) -> Residual | None:
        """The scan's own checks whose trigger was near-universal before the repair: the
        training data's pattern aside (a second round of the same repair on the same poisoned
        data made the nets it held on worse; docs/remediation.md section 50), and a weaker
        trigger's hold too (one such round undid a first that had left the planted trigger at
        0.1%; section 53)."""
        own = self.scan_residual
        return None if own is None else own.earning()

    @property
    def repairable(self) -> bool:
        """What earns another round: a planted trigger on the re-scan, or a near-universal
        trigger of the scan before still holding (`earning_residual`)."""
        held = self.earning_residual is not None and self.earning_residual.left
        return held or trigger_left(self.after, self.target_label)

    def record(self) -> RepairRound:
        check = self.report.extra.data_check
        return RepairRound(
            target_label=self.target_label,
            prior=self.prior,
            repaired_target=self.report.target_label,
            accuracy_after=self.report.accuracy_after,
            seconds=self.report.seconds,
            after=None if self.after is None else VerdictSummary.of(self.after),
            undone=self.undone,
            residual=self.residual,
            data_named=None if check is None else check.label,
        )


def reopened(after: XrayResult | None, earlier: list[Round]) -> bool:
    """Does a re-scan find, `infected`, a target an earlier round repaired?"""
    repaired = {r.report.target_label for r in earlier} - {None}
    return after is not None and after.verdict == "infected" and after.target_label in repaired


def trigger_left(after: XrayResult | None, aimed_at: int | None) -> bool:
    """Does a re-scan still show a planted trigger? `infected`, or a universal shortcut to the
    label the repair was aimed at (step 4 of the module docstring)."""
    if after is None:
        return False
    if after.verdict == "infected":
        return True
    shortcut = after.evidence.shortcut_label
    return after.verdict == "shortcut" and aimed_at is not None and shortcut == aimed_at


def elsewhere(after: XrayResult | None, repaired: int | None) -> bool:
    """Does a re-scan name, `infected`, another target than the one the repair just removed?
    That is reported (exit 1), not repaired: on the zoo such a label was a natural sink the
    repair exposed (a "Bag" stamp), and a round aimed at it retrains on the poisoned data
    aimed elsewhere, which let the removed backdoor back in (docs/remediation.md section 27)."""
    return (
        after is not None
        and after.verdict == "infected"
        and repaired is not None
        and after.target_label != repaired
    )


@dataclass(frozen=True)
class RemediateRun:
    report: RemediationReport  # the last round's, with the whole run's before/after filled in
    rounds: tuple[Round, ...]
    before: ScanReport | None
    staged: Path  # the file `publish` moves onto the output

    @property
    def kept(self) -> Round:
        """The round whose model is published: the last one not undone."""
        return [r for r in self.rounds if not r.undone][-1]

    @property
    def still_infected(self) -> bool:
        """The published model still shows a planted trigger (exit 1): its re-scan, or the
        scan before's trigger re-measured on it."""
        return self.kept.left

    @property
    def left_reason(self) -> str | None:
        """Why the repaired model still looks infected, in one sentence (None when it does not)."""
        last = self.kept
        if not last.left:
            return None
        if last.after is not None and last.after.verdict == "infected":
            return last.after.target_note
        if last.residual is not None and last.residual.left:
            return last.residual.note
        assert last.after is not None
        return (
            f"a universal shortcut to label {last.target_label}, the label the repair was aimed"
            f" at, is still there ({last.after.target_note})"
        )


def sanitised(train: Dataset | None, report: RemediationReport) -> Dataset | None:
    """The training set with the labels a repair restored on the samples it flagged: what the
    next round trains on. The next round repairs the staged model, which no longer answers the
    trigger, so it cannot find that poison again, and trained on its target labels it learned
    the backdoor back (docs/remediation.md section 27)."""
    if train is None or not report.flagged:
        return train
    y = np.array(train.y, copy=True)
    y[np.asarray(report.flagged, dtype=np.int64)] = np.asarray(report.restored, dtype=y.dtype)
    return replace(train, y=y)


def _staged(out: Path, index: int) -> Path:
    return out.parent / f".{out.name}.{os.getpid()}.round{index}.staged.onnx"


def run_remediate(
    req: RemediateRequest,
    *,
    scan: Scan = scan_model,
    repair: Repair = remediate,
    labels: Opener = onnx_labels,
) -> RemediateRun:
    """Steps 1-4 of the module docstring; the caller publishes `run.staged` (and must delete
    it when it does not). Intermediate rounds' files are removed here."""
    data = req.scan_data
    before = scan(req.model, data, req.config) if req.rescan else None
    # Whose triggers are re-measured after each round: the --scan-report's, else the scan
    # before's (the repair's first prior either way).
    doc = req.report_doc if req.report_doc is not None else before
    checked = checked_prior(doc) if doc is not None and req.rescan else None

    def hold(repaired: Path, report: RemediationReport, overruled: bool) -> Residual | None:
        # The scan's triggers are re-measured only where the round repaired their target: a
        # target the training data overruled was a natural sink the report named wrong, and
        # a round aimed back at it retrained the planted class's poison into the model.
        scan_prior = None if overruled else checked
        found = data_found(report)
        carried = blend_check(report)
        if scan_prior is None and not found and carried is None:
            return None
        with (
            labels(req.model, req.config, data) as l0,
            labels(repaired, req.config, data) as l1,
        ):
            held = measure_residual(scan_prior, data, l0, l1) if scan_prior is not None else None
            by_data = measure_triggers(found, report.target_label, data, l0, l1)
            if carried is not None:
                assert req.train is not None and req.clean is not None
                by_carriers = carrier_hold(
                    carried, req.train, req.clean, l0, l1, skip=relabelled(report)
                )
                by_data = by_carriers if by_data is None else by_data.joined(by_carriers)
        return by_data if held is None else held.joined(by_data)

    def relabelled(report: RemediationReport) -> np.ndarray | None:
        # The training rows whose carriers the repair relabelled by their content (even rows,
        # `BurnConfig.data_blend_relabel_even`): they answer as taught, so the re-measure
        # reads the odd ones alone (docs/remediation.md section 57).
        done = report.extra.unlearning or {}
        if not done.get("blend_relabelled") or not done.get("blend_relabelled_even_only"):
            return None
        assert req.train is not None
        return np.arange(len(req.train.y)) % 2 == 0

    def blend_check(report: RemediationReport) -> DataCheck | None:
        # The round's training-data check where it unlearned the repaired class's blend: that
        # blend's carriers in the training set given are the planted poison itself, which a
        # repaired model reads by its content (residual.carrier_hold).
        check = report.extra.data_check
        wanted = req.carrier_residual or req.data_residual
        if not wanted or check is None or req.train is None or req.clean is None:
            return None
        if check.label is None or check.label != report.target_label or not check.blend:
            return None
        return check

    def data_found(report: RemediationReport) -> list[tuple[str, Trigger]]:
        # Where the training data named the class this round repaired, its own trigger estimate
        # (residual.data_triggers): one the scan only approximated can outlive the scan's; and
        # the blend the round unlearned, in its blend form (residual.blend_triggers): a repair
        # can unlearn the change it was shown and leave the planted blend firing. Both with
        # --data-residual: held out, each missed more than it caught (docs/remediation.md
        # sections 50 and 53); the blend form alone with --blend-residual (section 59).
        check = report.extra.data_check
        wanted = req.data_residual or req.blend_residual
        if not wanted or check is None or req.train is None or req.clean is None:
            return []
        if check.label is None or check.label != report.target_label:
            return []
        own = data_triggers(check, req.train, req.clean) if req.data_residual else []
        return own + blend_triggers(check, req.train, req.clean)

    prior_doc: ScanReport | dict[str, Any] | None = req.report_doc
    prior = "scan-report" if req.report_doc is not None else "none"
    target = req.target_label
    if prior_doc is None and before is not None:
        # The scan before is needed anyway, and its target and findings aim the repair better
        # than BURN's own check alone (docs/remediation-guide.md).
        prior_doc, prior = before, "scan before"
        if target is None:
            target = before.xray.target_label
    rounds: list[Round] = []
    current = req.model
    train = req.train
    staged: Path | None = None
    try:
        for index in range(max(1, req.rounds)):
            staged = _staged(req.out, index)
            report = repair(
                current,
                train,
                req.clean,
                mean=req.config.mean,
                std=req.config.std,
                target_label=target,
                scan_report=prior_doc if req.use_prior else None,
                device=req.device,
                out_path=staged,
                method=req.method,
                seed=req.seed + index,
            )
            rescanned = scan(staged, data, req.config) if req.rescan else None
            after = rescanned.xray if rescanned is not None else None
            if reopened(after, rounds):
                rounds.append(Round(target, prior, report, after, undone=True))
                with contextlib.suppress(OSError):
                    staged.unlink()
                staged = current
                break
            check = report.extra.data_check
            overruled = check is not None and check.overruled is not None
            this = Round(target, prior, report, after, residual=hold(staged, report, overruled))
            rounds.append(this)
            train = sanitised(train, report)
            if current != req.model:
                with contextlib.suppress(OSError):
                    current.unlink()
            current = staged
            last_round = index + 1 >= req.rounds
            if not this.repairable or last_round or elsewhere(after, report.target_label):
                break
            if not trigger_left(after, target):
                # Only the scan before's trigger still holds: again with the same prior, while
                # each round loosens its hold.
                earlier = rounds[-2].earning_residual if len(rounds) > 1 else None
                now = this.earning_residual.strongest if this.earning_residual else None
                gone = earlier.strongest if earlier is not None else None
                if now is not None and gone is not None and now.after >= gone.after:
                    break
                continue
            last_score = rounds[-2].after.score if len(rounds) > 1 and rounds[-2].after else None
            if last_score is not None and after is not None and after.score >= last_score:
                break
            # Again, aimed by the re-scan: its target and trigger-like findings (a shortcut to
            # the label aimed at keeps that label).
            assert rescanned is not None and after is not None
            prior_doc, prior = rescanned, "re-scan"
            if after.verdict == "infected":
                target = after.target_label
            else:  # the same target; the prior reads the shortcut's findings to it
                prior = "re-scan (shortcut to the label aimed at)"
    except BaseException:
        for r in range(len(rounds) + 1):
            with contextlib.suppress(OSError):
                _staged(req.out, r).unlink()
        raise
    assert staged is not None
    kept = [r for r in rounds if not r.undone][-1]
    first, last = rounds[0].report, kept.report
    rescan = None
    if before is not None and kept.after is not None:
        # The summary after says which evidence a repaired model still shows (decided_by,
        # note), so that an exit 1 says what failed.
        rescan = Rescan(
            data=data.path,
            before=VerdictSummary.of(before.xray),
            used_as_prior=req.report_doc is None,
            after=VerdictSummary.of(kept.after),
            residual=kept.residual,
        )
    # BURN's own rounds are `report.rounds`; these are the repairs this workflow ran.
    extra = replace(last.extra, repair_rounds=tuple(r.record() for r in rounds))
    final = replace(
        last,
        model=str(req.model),
        accuracy_before=first.accuracy_before,
        seconds=round(sum(r.report.seconds for r in rounds), 3),
        rescan=rescan,
        extra=extra,
    )
    return RemediateRun(final, tuple(rounds), before, staged)
