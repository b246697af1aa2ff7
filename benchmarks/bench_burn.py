"""BURN against plain fine-tuning and Neural Cleanse unlearning on the zoo's backdoored models.

For each model in `zoo-out/index.json` (or the .json records beside it while the index is being
written) the script rebuilds the exact poisoned training set (`bdscan_lab.zoo.build.
poisoned_training_set`), takes a random `--train-size` subset of it, runs every method through
`scanner.remediate.remediate` (same data, same epochs, same optimiser), and scores the exported
ONNX files with onnxruntime on the Fashion-MNIST test set: ACC (clean test accuracy), ASR
(triggered inputs classified as the backdoor label), RA (triggered inputs classified as their
true label), and the poison-detection TPR/FPR of the flagged set against the real poisoned
indices (after phase 1 and after the feedback rounds). The zoo's held-out scan data is the
clean held-out split. Time and memory per phase come from the remediation report: wall time,
and the process's resident set (/proc/self/statm, sampled every 10 ms): its peak during the
phase and its growth over the phase's start ("RSS +MB"), so BURN's phases sit beside plain
fine-tuning's at the same epochs.

The target prior, as a deployment would have it: `--scan-reports DIR` reads X-ray's report of
each model from DIR/NAME.json (`bdscan scan --json`; with `--scan-missing` the script runs the
scan for models that have none yet): its target label and its confirmed trigger-like probes
(BURN's trigger prior). `--prior` instead gives the zoo's true target and no probes. Without
either, BURN looks for a target itself (`prior.find_target`). `--clean-only N` runs the
clean-data-only mode instead, on N clean training samples. The zoo's ground truth (poisoned
indices, triggers) is used only to score and to pick those clean samples.

    python benchmarks/bench_burn.py --zoo zoo-out [--models cnn_badnets_t0,...] \
        [--methods burn,finetune,nc] [--train-size 10000] [--scan-reports DIR | --prior] \
        [--clean-only N] [--json bench-out/burn.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from exporters.atomic import atomic_write_json
from scanner.bridge.convert import images_to_input
from scanner.errors import BdscanError
from scanner.remediate.api import remediate_run
from scanner.remediate.baselines import CleanUnlearnConfig
from scanner.remediate.burn import BurnConfig
from scanner.remediate.config import PHASES
from scanner.remediate.runtime import TrainSettings


def _records(zoo: Path, names: list[str] | None) -> list[dict[str, Any]]:
    index = zoo / "index.json"
    if index.is_file():
        records = json.loads(index.read_text())["models"]
    else:  # the index is written last; read the records that exist so far
        records = [json.loads(p.read_text()) for p in sorted(zoo.glob("*.json"))]
    out = []
    for r in records:
        if not r.get("backdoored") or r.get("status") == "dropped" or not r.get("onnx"):
            continue
        if names and r["name"] not in names:
            continue
        if (zoo / r["onnx"]).is_file():
            out.append(r)
    return out


def repair_zoo_model(
    rec: dict[str, Any],
    zoo: Path,
    train: tuple[np.ndarray, np.ndarray],
    report: dict[str, Any],
    config: BurnConfig,
    out: Path | None,
    seed: int = 0,
) -> Any:
    """`remediate_run` with BURN on zoo model `rec`: `train` as the training data, its zoo
    scan data as the clean data, the normalisation its record gives, and `report`'s target
    and findings as the prior (the research tools' shared call)."""
    scan = np.load(zoo / rec["scan_data"])
    return remediate_run(
        zoo / rec["onnx"],
        train,
        (scan["x"], scan["y"]),
        mean=tuple(rec["mean"]) if rec.get("mean") else None,
        std=tuple(rec["std"]) if rec.get("std") else None,
        target_label=report["xray"]["target_label"],
        scan_report=report,
        device="cpu",
        out_path=out,
        method="burn",
        burn_config=config,
        seed=seed,
    )


def zoo_reports(runs: list[str]) -> Iterator[tuple[Path, dict[str, Any], dict[str, Any]]]:
    """(zoo, record, scan report) for every model of each `ZOO=REPORTS` item (the research
    tools' `--run`) that has a report `REPORTS/NAME.json`."""
    for item in runs:
        zoo_text, sep, reports_text = item.partition("=")
        if not sep:
            raise SystemExit(f"--run: expected ZOO=REPORTS, got {item!r}")
        zoo, reports = Path(zoo_text), Path(reports_text)
        for rec in json.loads((zoo / "index.json").read_text())["models"]:
            path = reports / f"{rec['name']}.json"
            if rec.get("onnx") and path.is_file():
                yield zoo, rec, json.loads(path.read_text())


def write_rows(path: str | None, rows: list[dict[str, Any]]) -> None:
    """The rows as JSON lines at `path` (None: nowhere)."""
    if path:
        Path(path).write_text("".join(json.dumps(r) + "\n" for r in rows))


def _ort_labels(path: Path, x_in: np.ndarray, batch: int | None) -> np.ndarray:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0].name
    outs = sess.get_outputs()
    step = batch or 1000
    labels = []
    for i in range(0, len(x_in), step):
        part = x_in[i : i + step]
        n = len(part)
        if batch is not None and n < batch:
            part = np.concatenate([part, np.repeat(part[-1:], batch - n, 0)])
        res = sess.run(None, {inp: part})
        # The float class-score output decides; an int label output would agree with it.
        scores = next(r for r, o in zip(res, outs, strict=True) if "float" in o.type)
        labels.append(scores.reshape(len(part), -1).argmax(1)[:n])
    return np.concatenate(labels)


def _scan_report(
    rec: dict[str, Any], zoo: Path, out: Path, run_missing: bool, data: Path | None = None
) -> dict | None:
    """X-ray's report of one zoo model, from `out`/NAME.json, scanning it first if asked (on
    `data`, else the zoo's clean scan data)."""
    path = out / f"{rec['name']}.json"
    if not path.is_file() and run_missing:
        out.mkdir(parents=True, exist_ok=True)
        cmd = [str(Path(sys.executable).with_name("bdscan")), "scan", str(zoo / rec["onnx"])]
        cmd += ["--data", str(data or zoo / rec["scan_data"]), "--json", str(path), "-q"]
        for key in ("mean", "std"):
            if rec.get(key):
                cmd += [f"--{key}", ",".join(str(v) for v in rec[key])]
        subprocess.run(cmd, check=False)  # exit 1 means "infected", not a failure
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def _rescan(rec: dict[str, Any], zoo: Path, model: Path) -> dict[str, Any]:
    """`bdscan scan` of a repaired model on the zoo's scan data: X-ray's verdict after repair."""
    out = model.with_suffix(".scan.json")
    cmd = [str(Path(sys.executable).with_name("bdscan")), "scan", str(model)]
    cmd += ["--data", str(zoo / rec["scan_data"]), "--json", str(out), "-q"]
    for key in ("mean", "std"):
        if rec.get(key):
            cmd += [f"--{key}", ",".join(str(v) for v in rec[key])]
    subprocess.run(cmd, check=False)
    if not out.is_file():
        return {"verdict": "error"}
    xray = json.loads(out.read_text())["xray"]
    return {"verdict": xray["verdict"], "score": xray["score"], "target": xray["target_label"]}


def _workflow(
    rec: dict[str, Any],
    zoo: Path,
    out: Path,
    train: tuple[np.ndarray, np.ndarray] | None,
    clean: tuple[np.ndarray, np.ndarray],
    report: dict[str, Any] | None,
    prior_target: int | None,
    args: argparse.Namespace,
    burn_config: BurnConfig,
    score: Any,
) -> tuple[Any, Any, list[dict[str, Any]]]:
    """BURN through `scanner.app.remediation.run_remediate` (the command's rounds and re-scans),
    on the zoo's clean scan data; the published model is written to `out`. `score(path, conv)`
    measures each round's model (ACC, ASR, RA) before the next round replaces it. Returns the
    final report, the first round's converted model (for the input layout) and the rounds."""
    import os

    from scanner.app.remediation import RemediateRequest, run_remediate
    from scanner.data import Dataset, load_dataset
    from scanner.pipeline import ScanConfig

    converted: list[Any] = []
    scores: list[dict[str, float]] = []

    def repair(model: Path, train_data: Any, clean_data: Any, **kw: Any) -> Any:
        run_ = remediate_run(model, train_data, clean_data, burn_config=burn_config, **kw)
        converted.append(run_.converted)
        scores.append(score(Path(kw["out_path"]), run_.converted))
        return run_.report

    mean = tuple(rec["mean"]) if rec.get("mean") else None
    std = tuple(rec["std"]) if rec.get("std") else None
    train_ds = None
    if train is not None:
        x = train[0] if train[0].ndim == 4 else train[0][..., None]
        train_ds = Dataset(x.astype(np.float32) / 255.0, train[1].astype(np.int64), "train", "")
    req = RemediateRequest(
        model=zoo / rec["onnx"],
        out=out,
        train=train_ds,
        clean=load_dataset(zoo / rec["scan_data"]),
        config=ScanConfig(mean=mean, std=std),
        target_label=prior_target,
        report_doc=report,
        device=args.device,
        seed=args.seed,
        rounds=args.rounds,
        data_residual=args.data_residual,
    )
    run = run_remediate(req, repair=repair)
    os.replace(run.staged, out)
    rounds = [
        {
            **r.record().to_dict(),
            "measured": m,
            # The training samples the round trained with a flag's label (indices into the
            # training subset), for re-measures that must leave them out.
            "flagged_any": sorted({*r.report.flagged, *r.report.flagged_phase1}),
        }
        for r, m in zip(run.rounds, scores, strict=True)
    ]
    return run.report, converted[0], rounds


def _measure(
    path: Path,
    conv: Any,
    x_test: np.ndarray,
    y_test: np.ndarray,
    x_trig: np.ndarray,
    y_trig: np.ndarray,
    y_bd: np.ndarray,
) -> dict[str, float]:
    """ACC on the test set, ASR and RA on the triggered test images, of the ONNX file `path`."""

    def to_in(imgs: np.ndarray) -> np.ndarray:
        imgs = imgs[..., None] if imgs.ndim == 3 else imgs
        return images_to_input(conv, imgs.astype(np.float32) / 255.0)

    batch = conv.signature.batch
    p_te = _ort_labels(path, to_in(x_test), batch)
    p_tr = _ort_labels(path, to_in(x_trig), batch)
    return {
        "acc": float(np.mean(p_te == y_test)),
        "asr": float(np.mean(p_tr == y_bd)),
        "ra": float(np.mean(p_tr == y_trig)),
    }


def _same_signature(a: Path, b: Path) -> bool:
    """Drop-in check: same input/output names, dtypes, layout and batch dims."""
    import onnx

    from scanner.bridge.convert import graph_signature

    return bool(graph_signature(onnx.load(str(a))) == graph_signature(onnx.load(str(b))))


def _rates(flagged: np.ndarray, poisoned: np.ndarray, n: int) -> tuple[float, float]:
    f = np.zeros(n, dtype=bool)
    f[flagged] = True
    p = np.zeros(n, dtype=bool)
    p[poisoned] = True
    tpr = float(f[p].mean()) if p.any() else float("nan")
    fpr = float(f[~p].mean()) if (~p).any() else float("nan")
    return tpr, fpr


def _config_value(config: Any, item: str) -> dict[str, Any]:
    """`--burn-set`/`--clean-set KEY=VALUE` as a replace() argument for `config` (a config
    dataclass), VALUE read as the field's type."""
    key, sep, text = item.partition("=")
    # BurnConfig's settings may be named by phase too ("unlearning.universal_eps").
    phase, dot, name = key.partition(".")
    if dot and isinstance(config, BurnConfig) and name in PHASES.get(phase, ()):
        key = name
    fields = {f.name for f in dataclasses.fields(config)}
    if not sep or key not in fields:
        name = type(config).__name__
        raise SystemExit(f"expected KEY=VALUE with KEY a {name} field, got {item!r}")
    current = getattr(config, key)
    if text.lower() == "none":
        return {key: None}
    if isinstance(current, bool):
        return {key: text.lower() in ("1", "true", "yes", "on")}
    if isinstance(current, int):
        return {key: int(text)}
    return {key: float(text)}


def _warm_up(
    rec: dict[str, Any], zoo: Path, out_dir: Path, device: str, config: BurnConfig
) -> None:
    """An untimed, short fine-tune of the first model before any row is timed.

    Why: a process pays once for CUDA's context and cuDNN's set-up (4 to 6 s on an H100) and
    for the ONNX exporter's first call; without this the first row's method carries all of it.
    """
    from bdscan_lab.zoo.build import poisoned_training_set

    x, y, *_ = poisoned_training_set(rec)
    scan = np.load(zoo / rec["scan_data"])
    remediate_run(
        zoo / rec["onnx"],
        (x[:512], y[:512]),
        (scan["x"], scan["y"]),
        mean=tuple(rec["mean"]) if rec.get("mean") else None,
        std=tuple(rec["std"]) if rec.get("std") else None,
        device=device,
        out_path=out_dir / "warmup.onnx",
        method="finetune",
        burn_config=dataclasses.replace(config, epochs=1.0),
    )


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    from bdscan_lab.zoo.build import poisoned_training_set
    from bdscan_lab.zoo.datasets import load_dataset

    zoo = Path(args.zoo)
    names = args.models.split(",") if args.models else None
    records = _records(zoo, names)
    if not records:
        raise SystemExit(f"{zoo}: no backdoored zoo models found")
    rows = []
    out_dir = Path(args.out_dir or tempfile.mkdtemp(prefix="bench-burn-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    burn_config = BurnConfig(epochs=args.epochs, train=TrainSettings(lr=args.lr))
    if args.unlearn_share is not None:
        burn_config = dataclasses.replace(burn_config, unlearn_share=args.unlearn_share)
    if args.universal_with_probes is not None:
        eps = args.universal_with_probes or None
        burn_config = dataclasses.replace(burn_config, universal_eps_with_probes=eps)
    if args.universal_gate is not None:
        gate = args.universal_gate if args.universal_gate >= 0 else None
        burn_config = dataclasses.replace(burn_config, universal_gate=gate)
    if args.no_universal:
        burn_config = dataclasses.replace(burn_config, universal=False)
    for item in args.burn_set:
        burn_config = dataclasses.replace(burn_config, **_config_value(burn_config, item))
    clean_config = CleanUnlearnConfig()
    for item in args.clean_set:
        clean_config = dataclasses.replace(clean_config, **_config_value(clean_config, item))
    if args.warmup:
        _warm_up(records[0], zoo, out_dir, args.device, burn_config)
    for rec in records:
        x, y, poisoned, x_trig, y_trig = poisoned_training_set(rec)
        rng = np.random.default_rng(args.seed)
        sub = np.sort(rng.choice(len(y), size=min(args.train_size, len(y)), replace=False))
        pos = np.full(len(y), -1)
        pos[sub] = np.arange(len(sub))
        pois_sub = pos[poisoned][pos[poisoned] >= 0]
        x_sub, y_sub = x[sub], y[sub]
        x_test, y_test = load_dataset(rec["dataset"], "test")
        scan = np.load(zoo / rec["scan_data"])
        clean = (scan["x"], scan["y"])
        target = rec["target"]
        report = None
        prior_target = target if args.prior else None
        if args.scan_reports:
            scan_on = None
            if args.scan_on == "train":
                # What `bdscan remediate --train-data` alone scans first: the training set.
                scan_on = out_dir / f"{rec['name']}.train.npz"
                np.savez(scan_on, x=x_sub, y=y_sub)
            report = _scan_report(rec, zoo, Path(args.scan_reports), args.scan_missing, scan_on)
            if report is None:
                print(f"{rec['name']:22s} no scan report in {args.scan_reports}", flush=True)
                continue
            prior_target = report["xray"]["target_label"]
        y_bd = (
            (y_trig + 1) % rec["num_classes"] if rec["all_to_all"] else np.full_like(y_trig, target)
        )
        mean = tuple(rec["mean"]) if rec.get("mean") else None
        std = tuple(rec["std"]) if rec.get("std") else None
        train_arg: tuple[np.ndarray, np.ndarray] | None = (x_sub, y_sub)
        clean_arg = clean
        if args.clean_only:
            # The clean-data-only mode: a few clean training samples (poison left out by the
            # zoo's ground truth), no training set; its held-out split comes from them too.
            ok = np.setdiff1d(np.arange(len(y_sub)), pois_sub)
            pick = np.sort(rng.choice(ok, size=min(args.clean_only, len(ok)), replace=False))
            train_arg, clean_arg = None, (x_sub[pick], y_sub[pick])
        before: dict[str, float] | None = None
        for method in args.methods.split(","):
            out = out_dir / f"{rec['name']}.{method}.onnx"
            t0 = time.perf_counter()
            repair_rounds: list[dict[str, Any]] | None = None
            try:
                if method == "burn" and args.rounds > 1:
                    # `bdscan remediate`'s own workflow: repair, re-scan, repair again aimed by
                    # the re-scan while it still says infected.
                    rep, conv, repair_rounds = _workflow(
                        rec, zoo, out, train_arg, clean_arg, report, prior_target, args,
                        burn_config, functools.partial(_measure, x_test=x_test, y_test=y_test,
                                                       x_trig=x_trig, y_trig=y_trig, y_bd=y_bd),
                    )  # fmt: skip
                else:
                    run_ = remediate_run(
                        zoo / rec["onnx"],
                        train_arg,
                        clean_arg,
                        mean=mean,
                        std=std,
                        target_label=prior_target,
                        scan_report=report if method == "burn" else None,
                        device=args.device,
                        out_path=out,
                        method=method,
                        burn_config=burn_config,
                        clean_config=clean_config,
                        seed=args.seed,
                    )
                    rep, conv = run_.report, run_.converted
            except BdscanError as e:  # e.g. a label-only model: nothing to fine-tune
                print(f"{rec['name']:22s} {method:9s} not remediable: {e}", flush=True)
                break
            wall = time.perf_counter() - t0
            batch = conv.signature.batch

            def to_in(imgs: np.ndarray, conv: Any = conv) -> np.ndarray:
                return images_to_input(conv, imgs.astype(np.float32) / 255.0)

            xt_in = to_in(x_test[..., None] if x_test.ndim == 3 else x_test)
            xtr_in = to_in(x_trig[..., None] if x_trig.ndim == 3 else x_trig)
            if before is None:
                p_te = _ort_labels(zoo / rec["onnx"], xt_in, batch)
                p_tr = _ort_labels(zoo / rec["onnx"], xtr_in, batch)
                before = {
                    "acc": float(np.mean(p_te == y_test)),
                    "asr": float(np.mean(p_tr == y_bd)),
                    "ra": float(np.mean(p_tr == y_trig)),
                }
            p_te = _ort_labels(out, xt_in, batch)
            p_tr = _ort_labels(out, xtr_in, batch)
            tpr1, fpr1 = _rates(
                np.asarray(rep.flagged_phase1, dtype=np.int64), pois_sub, len(y_sub)
            )
            tpr, fpr = _rates(np.asarray(rep.flagged, dtype=np.int64), pois_sub, len(y_sub))
            row = {
                "model": rec["name"],
                "arch": rec["arch"],
                "attack": rec["attack"],
                "all_to_all": rec["all_to_all"],
                "target": target,
                "prior_target": prior_target,
                "prior_source": "scan-report" if report else ("zoo" if args.prior else None),
                "xray_verdict": report["xray"]["verdict"] if report else None,
                "unlearning": rep.extra.unlearning,
                "target_source": rep.extra.target_source,
                "repaired_target": rep.target_label,
                "data_check": (
                    rep.extra.data_check.to_dict() if rep.extra.data_check is not None else None
                ),
                "method": rep.method,
                "n_train": len(y_sub) if train_arg is not None else 0,
                "n_clean": len(clean_arg[1]) if args.clean_only else 0,
                "mode": rep.mode,
                "n_poisoned": len(pois_sub),
                "before": before,
                "after": {
                    "acc": float(np.mean(p_te == y_test)),
                    "asr": float(np.mean(p_tr == y_bd)),
                    "ra": float(np.mean(p_tr == y_trig)),
                },
                "tpr_phase1": tpr1,
                "fpr_phase1": fpr1,
                "tpr": tpr,
                "fpr": fpr,
                "suspects": list(rep.suspect_labels),
                "epochs": rep.epochs,
                "seconds": round(wall, 1),
                "phases": {p["name"]: round(p["seconds"], 1) for p in rep.phases},
                "peak_rss_mb": {p["name"]: round(p["peak_rss_mb"]) for p in rep.phases},
                "rss_growth_mb": {p["name"]: round(p["rss_growth_mb"]) for p in rep.phases},
                "peak_device_mb": rep.peak_device_mb,
                "device": rep.device,
                "signature_kept": _same_signature(zoo / rec["onnx"], out),
            }
            if repair_rounds is not None:
                row["repair_rounds"] = repair_rounds
                # The published model is the last round not undone (scanner.app.remediation).
                last = [r for r in repair_rounds if not r.get("undone")][-1]["after"]
                row["rescan"] = {
                    "verdict": last["verdict"],
                    "score": last["score"],
                    "target": last["target_label"],
                }
            elif args.rescan and method == "burn":
                row["rescan"] = _rescan(rec, zoo, out)
            rows.append(row)
            _print_row(row)
    return rows


def _print_row(r: dict[str, Any]) -> None:
    b, a = r["before"], r["after"]
    detect = (
        ""
        if r["method"] != "burn"
        else (
            f" TPR {r['tpr_phase1']:.3f}->{r['tpr']:.3f} FPR {r['fpr_phase1']:.4f}->{r['fpr']:.4f}"
        )
    )
    print(
        f"{r['model']:22s} {r['method']:9s} ACC {b['acc']:.3f}->{a['acc']:.3f} "
        f"ASR {b['asr']:.3f}->{a['asr']:.3f} RA {b['ra']:.3f}->{a['ra']:.3f}{detect} "
        f"{r['seconds']:.0f}s" + (f" rescan {r['rescan']['verdict']}" if r.get("rescan") else ""),
        flush=True,
    )


# Phases that are the same for every method (conversion, scoring, export) are not the repair.
_COMMON = ("convert", "evaluate-before", "evaluate-after", "export")


def _phase_groups(r: dict[str, Any]) -> dict[str, tuple[float, int, int]]:
    """Repair phases grouped as boundary / training / analysis: (seconds, peak RSS MB, growth)."""
    groups: dict[str, tuple[float, int, int]] = {}
    for name, sec in r["phases"].items():
        if name in _COMMON:
            continue
        if name == "boundary" or name == "reverse-trigger":
            g = "search"
        elif name.startswith(("finetune", "unlearn", "clean-unlearning")):
            g = "train"
        else:
            g = "analysis"
        s0, p0, d0 = groups.get(g, (0.0, 0, 0))
        groups[g] = (
            s0 + sec,
            max(p0, r["peak_rss_mb"][name]),
            max(d0, r.get("rss_growth_mb", {}).get(name, 0)),
        )
    return groups


def repair_seconds(r: dict[str, Any]) -> float:
    return sum(v[0] for v in _phase_groups(r).values())


def print_table(rows: list[dict[str, Any]]) -> None:
    """One Markdown table per attack: methods side by side, time and memory per phase group.

    Phase groups: search (BURN's boundary attack, NC's trigger reversal), analysis (flagging,
    feedback comparisons), train (every fine-tuning epoch, unlearning included). Each cell is
    seconds / peak RSS MB / RSS growth MB; "x FT" is the repair time over plain fine-tuning's
    for the same model and epochs.
    """
    ft = {r["model"]: repair_seconds(r) for r in rows if r["method"] == "finetune"}
    for attack in dict.fromkeys(r["attack"] for r in rows):
        print(f"\n### {attack}\n")
        print(
            "| model | method | ACC before/after | ASR before/after | RA before/after |"
            " TPR p1/final | FPR p1/final | search s/MB/+MB | analysis s/MB/+MB |"
            " train s/MB/+MB | repair s | x FT |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in (r for r in rows if r["attack"] == attack):
            b, a = r["before"], r["after"]
            g = _phase_groups(r)
            cells = [
                f"{g[k][0]:.1f}/{g[k][1]}/+{g[k][2]}" if k in g else "-"
                for k in ("search", "analysis", "train")
            ]
            det = (f"{r['tpr_phase1']:.3f}/{r['tpr']:.3f}", f"{r['fpr_phase1']:.4f}/{r['fpr']:.4f}")
            if r["method"] != "burn":
                det = ("-", "-")
            rep = repair_seconds(r)
            ratio = f"{rep / ft[r['model']]:.2f}" if ft.get(r["model"]) else "-"
            print(
                f"| {r['model']} | {r['method']} | {b['acc']:.3f}/{a['acc']:.3f} |"
                f" {b['asr']:.3f}/{a['asr']:.3f} | {b['ra']:.3f}/{a['ra']:.3f} | {det[0]} |"
                f" {det[1]} | {' | '.join(cells)} | {rep:.0f} | {ratio} |"
            )


# The remediation issue's bar on an all-to-one model: ASR under 5%, clean accuracy within 2
# points of the backdoored model's, RA above 70%.
BAR_ASR, BAR_ACC_DROP, BAR_RA = 0.05, 0.02, 0.70


def meets_bar(r: dict[str, Any]) -> bool:
    b, a = r["before"], r["after"]
    return a["asr"] < BAR_ASR and a["acc"] >= b["acc"] - BAR_ACC_DROP and a["ra"] > BAR_RA


def _ran_own(r: dict[str, Any] | None) -> bool:
    return bool(r and (r.get("unlearning") or {}).get("self_prior"))


def _own_target(r: dict[str, Any] | None) -> int | None:
    """The target BURN's own check (`prior.find_target`) found, if it ran and found one."""
    if not _ran_own(r):
        return None
    return r["unlearning"]["self_prior"]["target"]  # type: ignore[index]


def print_summary(rows: list[dict[str, Any]]) -> None:
    """One Markdown row per model (BURN's ACC, ASR and RA beside the baselines' ASR and RA),
    then how many all-to-one models each method brings to the issue's bar (marked ✓)."""
    by: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by.setdefault(r["model"], {})[r["method"]] = r
    others = [m for m in dict.fromkeys(r["method"] for r in rows) if m != "burn"]
    head = ["model", "attack", "X-ray (target)", "ACC before → BURN", "BURN ASR", "BURN RA"]
    head += [f"{m} {k}" for m in others for k in ("ASR", "RA")] + ["re-scan", "BURN s", "× FT"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, per in by.items():
        first = next(iter(per.values()))
        b = first["before"]
        xray = first.get("xray_verdict") or "-"
        if first.get("prior_target") is not None:
            xray += f" ({first['prior_target']})"
        burn = per.get("burn")
        own = _own_target(burn)
        if own is not None:
            xray += f"; own check → {own}"
        cells = [name, first["attack"], xray]
        if burn:
            a = burn["after"]
            mark = " ✓" if not burn["all_to_all"] and meets_bar(burn) else ""
            cells += [f"{b['acc']:.3f} → {a['acc']:.3f}", f"{b['asr']:.3f} → {a['asr']:.3f}{mark}",
                      f"{a['ra']:.3f}"]  # fmt: skip
        else:
            cells += [f"{b['acc']:.3f}", "-", "-"]
        for m in others:
            r = per.get(m)
            cells += [f"{r['after']['asr']:.3f}", f"{r['after']['ra']:.3f}"] if r else ["-", "-"]
        ft = per.get("finetune")
        if burn:
            cells += [burn.get("rescan", {}).get("verdict", "-"), f"{repair_seconds(burn):.0f}"]
            ok = ft and repair_seconds(ft)
            cells.append(f"{repair_seconds(burn) / repair_seconds(ft):.2f}" if ok else "-")
        else:
            cells += ["-"] * 3
        print("| " + " | ".join(cells) + " |")
    a2o = [n for n, per in by.items() if not next(iter(per.values()))["all_to_all"]]
    print()
    for m in ["burn", *others]:
        n = sum(1 for name in a2o if m in by[name] and meets_bar(by[name][m]))
        done = sum(1 for name in a2o if m in by[name])
        print(f"{m}: meets the bar (ASR < 5%, ACC within 2 points, RA > 70%) on {n}/{done} "
              "all-to-one models")  # fmt: skip
    burns = [r for r in rows if r["method"] == "burn"]
    own = [r for r in burns if _own_target(r) is not None]
    if burns:
        right = sum(1 for r in own if _own_target(r) == r["target"])
        ran = sum(1 for r in burns if _ran_own(r))
        print(f"burn: BURN's own target check ran on {ran}/{len(burns)} models, found a target"
              f" on {len(own)}, the right one on {right}")  # fmt: skip
        kept = sum(1 for r in burns if r.get("signature_kept"))
        clean = sum(1 for r in burns if r.get("rescan", {}).get("verdict") == "clean")
        ratios = sorted(
            repair_seconds(by[r["model"]]["burn"]) / repair_seconds(by[r["model"]]["finetune"])
            for r in burns
            if "finetune" in by[r["model"]] and repair_seconds(by[r["model"]]["finetune"])
        )
        peak = max(max(r["peak_rss_mb"].values(), default=0) for r in burns)
        print(
            f"burn: same I/O signature {kept}/{len(burns)}; re-scanned clean {clean}/{len(burns)}"
        )
        if ratios:
            print(f"burn: repair time x fine-tuning's: median {ratios[len(ratios) // 2]:.2f}, "
                  f"max {ratios[-1]:.2f}; peak RSS {peak} MB")  # fmt: skip


def _group_of(rows: list[dict[str, Any]], zoo: Path) -> dict[str, str]:
    """Model name -> architecture, from the rows or else the zoo's records."""
    arch = {r["model"]: r["arch"] for r in rows if r.get("arch")}
    missing = {r["model"] for r in rows} - set(arch)
    if missing and zoo.is_dir():
        arch.update({rec["name"]: rec["arch"] for rec in _records(zoo, sorted(missing))})
    return arch


def print_groups(rows: list[dict[str, Any]], zoo: Path) -> None:
    """BURN per attack family and per architecture: models at the bar (ASR < 5%, ACC within 2
    points, RA > 70%), models at ASR < 5% whatever the rest, median ASR and accuracy drop, and
    how many took a second repair round."""
    burns = [r for r in rows if r["method"] == "burn"]
    if not burns:
        return
    arch = _group_of(burns, zoo)
    for title, key in (("attack", lambda r: r["attack"]), ("architecture", lambda r: arch.get(
            r["model"], "?"))):  # fmt: skip
        print(f"\n| {title} | models | at the bar | ASR < 5% | median ASR after |"
              " median ACC drop | second round |")  # fmt: skip
        print("|---|---|---|---|---|---|---|")
        groups: dict[str, list[dict[str, Any]]] = {}
        for r in burns:
            groups.setdefault(key(r), []).append(r)
        for name in sorted(groups):
            g = groups[name]
            asr = sorted(r["after"]["asr"] for r in g)
            drop = sorted(r["before"]["acc"] - r["after"]["acc"] for r in g)
            second = sum(1 for r in g if len(r.get("repair_rounds") or []) > 1)
            print(
                f"| {name} | {len(g)} | {sum(meets_bar(r) for r in g)} |"
                f" {sum(a < BAR_ASR for a in asr)} | {asr[len(asr) // 2]:.3f} |"
                f" {drop[len(drop) // 2]:+.3f} | {second} |"
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zoo", default="zoo-out")
    ap.add_argument("--models", default=None, help="comma-separated zoo model names")
    ap.add_argument("--methods", default="burn,finetune,nc")
    ap.add_argument("--train-size", type=int, default=10000)
    ap.add_argument("--epochs", type=float, default=BurnConfig().epochs)
    ap.add_argument("--lr", type=float, default=TrainSettings().lr)
    ap.add_argument("--prior", action="store_true", help="give the zoo's target as X-ray's label")
    ap.add_argument(
        "--scan-reports",
        default=None,
        metavar="DIR",
        help="X-ray reports DIR/NAME.json (bdscan scan --json): target and trigger prior",
    )
    ap.add_argument(
        "--scan-missing", action="store_true", help="scan models with no report in DIR first"
    )
    ap.add_argument(
        "--scan-on",
        choices=("scan-data", "train"),
        default="scan-data",
        help="what --scan-missing scans on: the zoo's clean scan data, or the (poisoned) training"
        " subset, as `bdscan remediate --train-data` alone does",
    )
    ap.add_argument(
        "--unlearn-share",
        type=float,
        default=None,
        help="BURN's shortcut-unlearning share (0: relabelling only)",
    )
    ap.add_argument(
        "--no-universal", action="store_true", help="BURN without the universal perturbation"
    )
    ap.add_argument(
        "--clean-only",
        type=int,
        default=None,
        metavar="N",
        help="remediate from N clean training samples alone (the clean-data-only mode)",
    )
    ap.add_argument(
        "--rescan", action="store_true", help="scan every repaired model with bdscan scan"
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="BURN through bdscan remediate's workflow with up to N repair rounds (needs"
        " --scan-reports; re-scans every round)",
    )
    ap.add_argument(
        "--data-residual",
        action="store_true",
        help="--rounds: re-measure the training data's pattern of the repaired class after a"
        " round (bdscan remediate --data-residual; scanner.remediate.residual.data_triggers)",
    )
    ap.add_argument(
        "--universal-with-probes",
        type=float,
        default=None,
        metavar="EPS",
        help="BURN: radius of the universal perturbation beside X-ray's probes (0: off)",
    )
    ap.add_argument(
        "--universal-gate",
        type=float,
        default=None,
        metavar="RATE",
        help="BURN: residual-shortcut rate that switches the universal perturbation on beside "
        "probes (negative: always on)",
    )
    ap.add_argument(
        "--burn-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a BurnConfig field for this run (repeatable), e.g. gate_latch=false",
    )
    ap.add_argument(
        "--clean-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a CleanUnlearnConfig field (the clean-data-only mode) for this run",
    )
    ap.add_argument(
        "--from-json",
        default=None,
        metavar="PATH",
        help="print the tables of an earlier run's --json instead of running",
    )
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--device", default="auto")
    ap.add_argument(
        "--no-warmup",
        dest="warmup",
        action="store_false",
        help="time the first model cold (CUDA and exporter start-up in its first row)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--out-dir", default=None, help="where repaired models go (default: a temp dir)"
    )
    ap.add_argument("--json", default=None, help="also write the rows as JSON here")
    args = ap.parse_args(argv)
    if args.prior and args.scan_reports:
        ap.error("--prior and --scan-reports are alternatives")
    if args.rounds > 1 and (not args.scan_reports or args.clean_only):
        ap.error("--rounds needs --scan-reports and training data")
    if args.from_json:
        rows = json.loads(Path(args.from_json).read_text())
        print_table(rows)
        print()
        print_summary(rows)
        print_groups(rows, Path(args.zoo))
        return 0
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rows = run(args)
    print_table(rows)
    print()
    print_summary(rows)
    print_groups(rows, Path(args.zoo))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
