"""`remediate()`: convert, repair, re-export and report, for `bdscan remediate`.

Modes: "train-data" when a (possibly poisoned) training set is given (BURN, or a baseline run
through the same path); "clean-only" when only clean data is (BURN's shortcut unlearning without
the relabelling, `clean.py`). Clean accuracy is measured before and after on a held-out split that
no method trains on: the clean data when it is given alongside a training set, else a share of
the data given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from scanner.bridge.convert import ConvertedModel, convert_model, images_to_input
from scanner.detectors.datacheck import (
    DataCheck,
    blend_carriers,
    pattern_carriers,
    scrub_patterns,
)
from scanner.errors import DataError, UsageError
from scanner.remediate.arrays import as_arrays, check_fit, describe, split_holdout
from scanner.remediate.baselines import CleanUnlearnConfig, NCConfig
from scanner.remediate.burn import BurnConfig
from scanner.remediate.datacheck import aim_by_data, named_by_scan_data, wants_data_check
from scanner.remediate.methods import REMEDIATORS, RepairJob, base_config
from scanner.remediate.prior import DataPattern, TriggerPrior, prior_from_report
from scanner.remediate.record import OutsideSuspects, RepairNotes, Rescan
from scanner.remediate.residual import (
    STRICT_NEIGHBOURS,
    STRICT_OWN_MAX,
    carrier_content,
    nearest_votes,
)
from scanner.remediate.runtime import (
    PhaseClock,
    predict_labels,
    resolve_device,
    seed_everything,
)
from scanner.report import ScanReport

SCHEMA_VERSION = 1
Method = Literal["burn", "finetune", "nc"]
METHODS: tuple[str, ...] = ("burn", "finetune", "nc")
# Samples the converted model is checked on against onnxruntime before any training.
CHECK_SAMPLES = 256


@dataclass(frozen=True)
class RemediationReport:
    """Everything a remediation run did and measured (`to_dict` is the --json document).

    `flagged` are indices into the training set as given (held-out samples excluded), with
    `restored` their new labels, and `flagged_phase1` the flags before BURN's feedback rounds.
    `rescan` is left for the caller: the CLI re-scans the output with X-ray and fills it in
    with `dataclasses.replace`.
    """

    model: str
    output: str | None
    method: str
    mode: Literal["train-data", "clean-only"]
    device: str
    seed: int
    target_label: int | None
    suspect_labels: tuple[int, ...]
    n_train: int
    n_holdout: int
    holdout_source: str
    flagged: tuple[int, ...]
    restored: tuple[int, ...]
    flagged_phase1: tuple[int, ...]
    rounds: tuple[dict[str, Any], ...]
    classes: tuple[dict[str, Any], ...]
    accuracy_before: float | None  # None: no held-out samples
    accuracy_after: float | None
    agreement_with_original: float | None
    epochs: float
    phases: tuple[dict[str, Any], ...]
    seconds: float
    peak_rss_mb: float
    peak_device_mb: float | None
    conversion: dict[str, Any]
    export: dict[str, Any] | None
    config: dict[str, Any]
    extra: RepairNotes = field(default_factory=RepairNotes)
    rescan: Rescan | None = None
    # Held-out accuracy outside the suspected classes (`accuracy_outside`); None where the
    # held-out split is clean data, or no class is suspected.
    accuracy_outside_suspects: OutsideSuspects | None = None

    def to_dict(self) -> dict[str, Any]:
        # The plain fields as asdict copies them; the typed records write their own keys.
        d = asdict(replace(self, extra=RepairNotes(), rescan=None, accuracy_outside_suspects=None))
        d["extra"] = self.extra.to_dict()
        d["rescan"] = None if self.rescan is None else self.rescan.to_dict()
        outside = self.accuracy_outside_suspects
        d["accuracy_outside_suspects"] = None if outside is None else outside.to_dict()
        d["schema_version"] = SCHEMA_VERSION
        for key in (
            "flagged",
            "restored",
            "flagged_phase1",
            "suspect_labels",
            "rounds",
            "classes",
            "phases",
        ):
            d[key] = list(d[key])
        return d


@dataclass(frozen=True, eq=False)
class RemediationRun:
    """A report plus the repaired model, for callers that evaluate it further (benchmarks)."""

    report: RemediationReport
    converted: ConvertedModel


def accuracy_outside(
    y: np.ndarray,
    pred_before: np.ndarray,
    pred_after: np.ndarray,
    labels: list[int],
    num_classes: int,
) -> OutsideSuspects | None:
    """Held-out accuracy before and after on the samples whose given label is not in `labels`.

    Why: a held-out split of the training data keeps its given labels, and all-to-one poison
    is labelled with the target. A repair that works predicts those samples' true classes and
    so "loses" them (on the example BadNets model the held-out accuracy fell far more than
    test accuracy: docs/remediation.md). Outside the suspected classes there is no poison to
    lose, so that figure is the one a drop in accuracy should be judged by. None when no class
    is suspected, or every class is (nothing would be left).
    """
    if not labels or len(labels) >= num_classes:
        return None
    keep = ~np.isin(y, labels)
    if not keep.any():
        return None
    return OutsideSuspects(
        labels=tuple(int(v) for v in labels),
        n=int(keep.sum()),
        before=round(float(np.mean(pred_before[keep] == y[keep])), 5),
        after=round(float(np.mean(pred_after[keep] == y[keep])), 5),
    )


def remediate(
    model_path: str | Path,
    train_data: Any | None,
    clean_data: Any | None = None,
    *,
    mean: tuple[float, ...] | None = None,
    std: tuple[float, ...] | None = None,
    target_label: int | None = None,
    scan_report: ScanReport | dict[str, Any] | None = None,
    device: str = "auto",
    out_path: str | Path | None,
    method: str = "burn",
    burn_config: BurnConfig | None = None,
    nc_config: NCConfig | None = None,
    clean_config: CleanUnlearnConfig | None = None,
    holdout_fraction: float = 0.1,
    seed: int = 0,
) -> RemediationReport:
    """Remove a backdoor from the ONNX model at `model_path` and write the result to `out_path`.

    `train_data` / `clean_data`: (x, y) arrays (uint8 or [0, 1] float images, NHW or NHWC, and
    int labels) or objects with `.x`/`.y`. `out_path` None skips the export (dry run).
    `scan_report`: a scan of the model (the `ScanReport`, or a `bdscan scan --json` document);
    its target label is the default `target_label` and its confirmed trigger-like findings are
    BURN's trigger prior (read for `target_label` when the report names no target).
    Raises ModelLoadError, DataError, UsageError or OutputError (all exit code 2 or 4) with a
    message naming the problem; nothing is written unless everything succeeded.
    """
    return remediate_run(
        model_path,
        train_data,
        clean_data,
        mean=mean,
        std=std,
        target_label=target_label,
        scan_report=scan_report,
        device=device,
        out_path=out_path,
        method=method,
        burn_config=burn_config,
        nc_config=nc_config,
        clean_config=clean_config,
        holdout_fraction=holdout_fraction,
        seed=seed,
    ).report


def remediate_run(
    model_path: str | Path,
    train_data: Any | None,
    clean_data: Any | None = None,
    *,
    mean: tuple[float, ...] | None = None,
    std: tuple[float, ...] | None = None,
    target_label: int | None = None,
    scan_report: ScanReport | dict[str, Any] | None = None,
    device: str = "auto",
    out_path: str | Path | None,
    method: str = "burn",
    burn_config: BurnConfig | None = None,
    nc_config: NCConfig | None = None,
    clean_config: CleanUnlearnConfig | None = None,
    holdout_fraction: float = 0.1,
    seed: int = 0,
) -> RemediationRun:
    """`remediate`, also returning the converted (and repaired) model."""
    from scanner.bridge.export import export_onnx_model

    start = time.perf_counter()
    if method not in METHODS:
        raise UsageError(f"--method: expected one of {', '.join(METHODS)}, got {method!r}")
    if train_data is None and clean_data is None:
        raise UsageError("remediation needs --train-data or --clean-data (or both)")
    dev = resolve_device(device)
    burn_config = burn_config or BurnConfig()
    prior: TriggerPrior | None = None
    # Where the target prior came from (the report's extra.target_source): "scan-report",
    # "shortcut" (a `shortcut` report's label, `BurnConfig.shortcut_target`), "data-check"
    # (the class the training data's check named, `datacheck`), "given"
    # (--target-label, or a report's target passed without its probes), "self-prior" (BURN's
    # own check, `prior.find_target`), "mixture" (`burn.with_excess`), "corrected" or None.
    target_source: str | None = None
    if scan_report is not None:
        prior = prior_from_report(
            scan_report,
            fallback_target=target_label,
            shortcut_target=burn_config.shortcut_target,
        )
        if target_label is None and prior.target is not None:
            target_label = prior.target
            target_source = "shortcut" if prior.verdict == "shortcut" else "scan-report"
            aimed_by_data = target_source == "scan-report" and named_by_scan_data(scan_report)
            aimed = target_source == "shortcut" or aimed_by_data
            if aimed and not burn_config.shortcut_universal:
                burn_config = replace(burn_config, universal=False)
    if target_label is not None and target_source is None:
        from_report = prior is not None and prior.target == target_label
        target_source = "scan-report" if from_report else "given"
    nc_config = nc_config or NCConfig()
    clean_config = clean_config or CleanUnlearnConfig()
    generator = seed_everything(seed)
    rng = np.random.default_rng(seed)
    clock = PhaseClock(dev)

    train_what, clean_what = (
        describe(train_data, "--train-data"),
        describe(clean_data, "--clean-data"),
    )
    xt, yt = as_arrays(train_data, train_what) if train_data is not None else (None, None)
    xc, yc = as_arrays(clean_data, clean_what) if clean_data is not None else (None, None)
    mode: Literal["train-data", "clean-only"] = "train-data" if xt is not None else "clean-only"
    first = xt if xt is not None else xc
    assert first is not None
    with clock.phase("convert"):
        converted = convert_model(model_path, first[:CHECK_SAMPLES], mean=mean, std=std)
    k = converted.num_classes
    hwc = tuple(first.shape[1:])
    if target_label is not None and not 0 <= target_label < k:
        raise DataError(f"--target-label: expected a class in [0, {k}), got {target_label}")

    if xt is not None and yt is not None:
        check_fit(xt, yt, k, hwc, train_what)  # type: ignore[arg-type]
        if xc is not None and yc is not None:
            check_fit(xc, yc, k, hwc, clean_what)  # type: ignore[arg-type]
            x_fit, y_fit, x_hold, y_hold = xt, yt, xc, yc
            keep_idx = np.arange(len(yt))
            holdout_source = "clean-data"
        else:
            keep_idx, hold_idx = split_holdout(len(yt), holdout_fraction, rng)
            x_fit, y_fit, x_hold, y_hold = xt[keep_idx], yt[keep_idx], xt[hold_idx], yt[hold_idx]
            holdout_source = f"train-data ({holdout_fraction:.0%}, given labels)"
    else:
        assert xc is not None and yc is not None
        check_fit(xc, yc, k, hwc, clean_what)  # type: ignore[arg-type]
        frac = max(holdout_fraction, 0.2)
        keep_idx, hold_idx = split_holdout(len(yc), frac, rng)
        x_fit, y_fit, x_hold, y_hold = xc[keep_idx], yc[keep_idx], xc[hold_idx], yc[hold_idx]
        holdout_source = f"clean-data ({frac:.0%})"
    if len(y_fit) == 0:
        raise DataError("no samples left to train on after the held-out split")

    model = converted.image_model.to(dev)
    data_check: DataCheck | None = None
    sit_out: np.ndarray | None = None  # training samples that never train (data_sit_out)
    blend_out: np.ndarray | None = None  # ... that train only while flagged (data_blend)
    scrubbed = 0  # training samples trained with the pattern taken out (data_scrub)
    relabelled = 0  # blend carriers trained under their content's label (data_blend_relabel)
    has_train, has_clean = xt is not None, xc is not None
    if wants_data_check(method, burn_config, prior, target_source, has_train, has_clean):
        # A `shortcut` report names no target, and its label may be a natural sink; a `clean`
        # one can have missed a planted grating; an `infected` one can name the wrong label:
        # the training data says which class the poison sits in, if any (`datacheck`), and
        # what its pattern is.
        assert scan_report is not None and xt is not None and yt is not None
        assert xc is not None and yc is not None
        with clock.phase("data-check"):
            data_check, patterns = aim_by_data(
                scan_report, (xt, yt), (xc, yc), k, burn_config,
                labels_of=lambda imgs: predict_labels(model, imgs, dev),
            )  # fmt: skip
        if data_check.aimed:
            # Aimed where the scan named no target: as a shortcut's aim, without the universal
            # perturbation toward a (perhaps clean-label) class (section 45).
            named_none = data_check.overruled is None
            target_label, target_source = data_check.label, "data-check"
            prior = prior_from_report(scan_report, aim=target_label)
            if named_none and not burn_config.shortcut_universal:
                burn_config = replace(burn_config, universal=False)
        if patterns and prior is not None and prior.target == data_check.label:
            prior = replace(prior, patterns=patterns)
            if burn_config.data_sit_out and data_check.label is not None:
                # The class's samples that carry the pattern sit out the fine-tuning: under
                # their own (clean) label they would teach the grating back (section 51); a
                # blend's carry other classes' images under the class's label (section 52).
                sit_out, blend_out = _carriers(
                    lambda imgs: predict_labels(model, imgs, dev), x_fit, y_fit, (xc, yc),
                    data_check.label, patterns, burn_config.data_sit_out_z,
                )  # fmt: skip
                if blend_out is not None and burn_config.data_blend_sit_out_class:
                    blend_out = blend_out | _unlike_class(
                        x_fit, y_fit, data_check.label, (xc, yc),
                        burn_config.data_check_max_samples,
                    )  # fmt: skip
                if burn_config.data_blend_relabel and blend_out is not None:
                    # They train under their own content, against the trigger (section 56).
                    odd = np.arange(len(blend_out)) % 2 == 1
                    keep_out = odd if burn_config.data_blend_relabel_even else None
                    y_fit, blend_out, relabelled = _relabel_carriers(
                        lambda imgs: predict_labels(model, imgs, dev), x_fit, y_fit,
                        blend_out, patterns, (xc, yc), burn_config.data_check_max_samples,
                        keep_out=keep_out,
                    )  # fmt: skip
                graded = [p.signal for p in patterns if p.kind != "blend"]
                if burn_config.data_scrub and graded:
                    # They train, the grating taken out (section 52).
                    mask = pattern_carriers(
                        x_fit, y_fit, xc, yc, data_check.label, graded[0],
                        z=burn_config.data_sit_out_z,
                    )  # fmt: skip
                    x_fit = scrub_patterns(x_fit, mask, xc[yc == data_check.label], graded)
                    scrubbed, sit_out = int(mask.sum()), sit_out & ~mask
        stamp = data_check.stamp
        if stamp is not None and prior is not None and prior.target == data_check.label:
            # The training data's stamp, unlearned as a stamp the search found.
            prior = replace(prior, found=(*prior.found, stamp))
    with clock.phase("evaluate-before"):
        pred_before = predict_labels(model, x_hold, dev)
        acc_before = round(float(np.mean(pred_before == y_hold)), 5) if len(y_hold) else None

    job = RepairJob(
        model=model,
        x_fit=x_fit,
        y_fit=y_fit,
        keep_idx=keep_idx,
        num_classes=k,
        mode=mode,
        target_label=target_label,
        prior=prior,
        burn=burn_config,
        nc=nc_config,
        clean=clean_config,
        device=dev,
        generator=generator,
        clock=clock,
        sit_out=sit_out,
        sit_out_unflagged=blend_out,
    )
    outcome = REMEDIATORS[(method, mode)].run(job)
    if outcome.target is not None:
        target_label, target_source = outcome.target
    suspects = outcome.suspects

    with clock.phase("evaluate-after"):
        pred_after = predict_labels(model, x_hold, dev)
        acc_after = round(float(np.mean(pred_after == y_hold)), 5) if len(y_hold) else None
        agreement = round(float(np.mean(pred_after == pred_before)), 5) if len(y_hold) else None
    outside = None
    if holdout_source.startswith("train-data"):
        suspected = set(suspects) | ({target_label} if target_label is not None else set())
        outside = accuracy_outside(y_hold, pred_before, pred_after, sorted(suspected), k)

    export: dict[str, Any] | None = None
    if out_path is not None:
        model.to("cpu")
        check = x_hold if len(x_hold) >= 2 else x_fit
        with clock.phase("export"):
            result_export = export_onnx_model(
                converted.full,
                converted.source,
                out_path,
                check_inputs=images_to_input(converted, check[:CHECK_SAMPLES]),
                source_path=model_path,
                metadata={"bdscan.remediation": outcome.name, "bdscan.mode": mode},
            )
        export = result_export.to_dict()

    phases = tuple(p.to_dict() for p in clock.phases)
    device_peaks = [p.peak_device_mb for p in clock.phases if p.peak_device_mb is not None]
    report = RemediationReport(
        model=str(model_path),
        output=str(out_path) if out_path is not None else None,
        method=outcome.name,
        mode=mode,
        device=str(dev),
        seed=seed,
        target_label=target_label,
        suspect_labels=tuple(int(s) for s in suspects),
        n_train=len(y_fit),
        n_holdout=len(y_hold),
        holdout_source=holdout_source,
        flagged=tuple(int(i) for i in outcome.flagged),
        restored=tuple(int(v) for v in outcome.restored),
        flagged_phase1=tuple(int(i) for i in outcome.flagged_phase1),
        rounds=outcome.rounds,
        classes=outcome.classes,
        accuracy_before=acc_before,
        accuracy_after=acc_after,
        accuracy_outside_suspects=outside,
        agreement_with_original=agreement,
        epochs=float(outcome.epochs),
        phases=phases,
        seconds=round(time.perf_counter() - start, 3),
        peak_rss_mb=round(max(p.peak_rss_mb for p in clock.phases), 1),
        peak_device_mb=max(device_peaks) if device_peaks else None,
        conversion=converted.check.to_dict(),
        export=export,
        config={**base_config(burn_config), **outcome.config},
        extra=replace(
            outcome.extra,
            target_source=target_source,
            data_check=data_check,
            unlearning=_with_scrubbed(
                outcome.extra.unlearning, scrubbed, relabelled, burn_config.data_blend_relabel_even
            ),
        ),
    )
    return RemediationRun(report=report, converted=converted)


def _carriers(
    labels_of: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    clean: tuple[np.ndarray, np.ndarray],
    label: int,
    patterns: tuple[DataPattern, ...],
    z: float,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The class's training samples that carry the data's fired changes: (above the clean
    spread of the pattern's or sine's projection, `pattern_carriers`; moved off the class by
    the model once the blend is taken away, `blend_carriers`, None without a blend). A blend's
    carriers are other classes' images under the class's label, which BURN's flags may give
    back their own; a grating's are the class's own images, which its flags cannot."""
    graded = [p for p in patterns if p.kind != "blend"]
    out = np.zeros(len(y), dtype=bool)
    if graded:
        out = pattern_carriers(x, y, *clean, label, graded[0].signal, z=z)
    blends = [p for p in patterns if p.kind == "blend"]
    if not blends:
        return out, None
    moved = np.zeros(len(y), dtype=bool)
    for p in blends:
        moved |= blend_carriers(labels_of, x, y, label, p.amp * p.signal)
    return out, moved


def _unlike_class(
    x: np.ndarray, y: np.ndarray, label: int, clean: tuple[np.ndarray, np.ndarray], max_ref: int
) -> np.ndarray:
    """A mask over the samples: those labelled `label` none of whose `STRICT_NEIGHBOURS`
    nearest clean images is of that class (`residual.nearest_votes`; at most
    `STRICT_OWN_MAX`): a dirty-label poison's content, whether or not the model moves it off
    the class once the blend's change is taken away. The majority of 5 sat out too many of a
    confusable class's own images (docs/remediation.md section 60)."""
    out = np.zeros(len(y), dtype=bool)
    rows = np.flatnonzero(y == label)
    if len(rows) == 0:
        return out
    votes = nearest_votes(*clean, np.asarray(x[rows], np.float32), STRICT_NEIGHBOURS, max_ref)
    own = votes[:, label] if label < votes.shape[1] else np.zeros(len(rows), dtype=np.int64)
    out[rows] = own <= STRICT_OWN_MAX
    return out


def _relabel_carriers(
    labels_of: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    carriers: np.ndarray,
    patterns: tuple[DataPattern, ...],
    clean: tuple[np.ndarray, np.ndarray],
    max_ref: int,
    *,
    keep_out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """(labels, carriers left to sit out until flagged, count relabelled): the blend carriers
    whose content the clean data's nearest images confirm (`residual.carrier_content`, each
    fired blend's change in turn) get that content's label, in a copy of `y`; those in
    `keep_out` (a mask) are left as they are."""
    y = np.array(y, copy=True)
    left = np.array(carriers, dtype=bool, copy=True)
    candidates = left if keep_out is None else left & ~keep_out
    for p in (p for p in patterns if p.kind == "blend"):
        rows = np.flatnonzero(left & candidates)
        if len(rows) == 0:
            break
        content, confirmed = carrier_content(labels_of, x[rows], p.amp * p.signal, *clean, max_ref)
        y[rows[confirmed]] = content[confirmed]
        left[rows[confirmed]] = False
    return y, left, int(np.count_nonzero(carriers & ~left))


def _with_scrubbed(
    unlearning: dict[str, Any] | None, scrubbed: int, relabelled: int = 0, even: bool = False
) -> dict[str, Any] | None:
    """BURN's own record with the counts of carriers trained scrubbed (`data_scrub`) and
    relabelled (`data_blend_relabel`), if any."""
    if unlearning is None or not (scrubbed or relabelled):
        return unlearning
    out = dict(unlearning)
    if scrubbed:
        out["pattern_scrubbed"] = scrubbed
    if relabelled:
        out["blend_relabelled"] = relabelled
        out["blend_relabelled_even_only"] = even
    return out


__all__ = [
    "METHODS",
    "RemediationReport",
    "RemediationRun",
    "accuracy_outside",
    "remediate",
    "remediate_run",
]
