"""BURN against plain fine-tuning and Neural Cleanse unlearning on the zoo's backdoored models.

For each model in `zoo-out/index.json` (or the .json records beside it while the index is being
written) the script rebuilds the exact poisoned training set (`scanner.zoo.build.
poisoned_training_set`), takes a random `--train-size` subset of it, runs every method through
`scanner.remediate.remediate` (same data, same epochs, same optimiser), and scores the exported
ONNX files with onnxruntime on the Fashion-MNIST test set: ACC (clean test accuracy), ASR
(triggered inputs classified as the backdoor label), RA (triggered inputs classified as their
true label), and the poison-detection TPR/FPR of the flagged set against the real poisoned
indices (after phase 1 and after the feedback rounds). The zoo's held-out scan data is the
clean held-out split. Time and peak memory per phase come from the remediation report.

    python benchmarks/bench_burn.py --zoo zoo-out [--models cnn_badnets_t0,...] \
        [--methods burn,finetune,nc] [--train-size 10000] [--prior] [--json bench-out/burn.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scanner.errors import BdscanError
from scanner.remediate.api import remediate_run
from scanner.remediate.burn import BurnConfig
from scanner.remediate.convert import images_to_input
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


def _rates(flagged: np.ndarray, poisoned: np.ndarray, n: int) -> tuple[float, float]:
    f = np.zeros(n, dtype=bool)
    f[flagged] = True
    p = np.zeros(n, dtype=bool)
    p[poisoned] = True
    tpr = float(f[p].mean()) if p.any() else float("nan")
    fpr = float(f[~p].mean()) if (~p).any() else float("nan")
    return tpr, fpr


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    from scanner.zoo.build import poisoned_training_set
    from scanner.zoo.datasets import load_dataset

    zoo = Path(args.zoo)
    names = args.models.split(",") if args.models else None
    records = _records(zoo, names)
    if not records:
        raise SystemExit(f"{zoo}: no backdoored zoo models found")
    rows = []
    out_dir = Path(args.out_dir or tempfile.mkdtemp(prefix="bench-burn-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    burn_config = BurnConfig(epochs=args.epochs, train=TrainSettings(lr=args.lr))
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
        y_bd = (
            (y_trig + 1) % rec["num_classes"] if rec["all_to_all"] else np.full_like(y_trig, target)
        )
        mean = tuple(rec["mean"]) if rec.get("mean") else None
        std = tuple(rec["std"]) if rec.get("std") else None
        before: dict[str, float] | None = None
        for method in args.methods.split(","):
            out = out_dir / f"{rec['name']}.{method}.onnx"
            t0 = time.perf_counter()
            try:
                run_ = remediate_run(
                    zoo / rec["onnx"],
                    (x_sub, y_sub),
                    clean,
                    mean=mean,
                    std=std,
                    target_label=target if args.prior else None,
                    device=args.device,
                    out_path=out,
                    method=method,
                    burn_config=burn_config,
                    seed=args.seed,
                )
            except BdscanError as e:  # e.g. a label-only model: nothing to fine-tune
                print(f"{rec['name']:22s} {method:9s} not remediable: {e}", flush=True)
                break
            wall = time.perf_counter() - t0
            rep, conv = run_.report, run_.converted
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
                "attack": rec["attack"],
                "all_to_all": rec["all_to_all"],
                "target": target,
                "method": rep.method,
                "n_train": len(y_sub),
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
                "peak_device_mb": rep.peak_device_mb,
                "device": rep.device,
            }
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
        f"{r['seconds']:.0f}s",
        flush=True,
    )


def print_table(rows: list[dict[str, Any]]) -> None:
    """One Markdown table per attack: methods side by side, time and peak memory per phase."""
    for attack in dict.fromkeys(r["attack"] for r in rows):
        print(f"\n### {attack}\n")
        print(
            "| model | method | ACC before/after | ASR before/after | RA before/after |"
            " TPR p1/final | FPR p1/final | time s | phases s (peak RSS MB) |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for r in (r for r in rows if r["attack"] == attack):
            b, a = r["before"], r["after"]
            phases = ", ".join(
                f"{k} {v} ({r['peak_rss_mb'][k]})"
                for k, v in r["phases"].items()
                if k not in ("convert", "evaluate-before", "evaluate-after")
            )
            det = (f"{r['tpr_phase1']:.3f}/{r['tpr']:.3f}", f"{r['fpr_phase1']:.4f}/{r['fpr']:.4f}")
            if r["method"] != "burn":
                det = ("-", "-")
            print(
                f"| {r['model']} | {r['method']} | {b['acc']:.3f}/{a['acc']:.3f} |"
                f" {b['asr']:.3f}/{a['asr']:.3f} | {b['ra']:.3f}/{a['ra']:.3f} | {det[0]} |"
                f" {det[1]} | {r['seconds']:.0f} | {phases} |"
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
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--out-dir", default=None, help="where repaired models go (default: a temp dir)"
    )
    ap.add_argument("--json", default=None, help="also write the rows as JSON here")
    args = ap.parse_args(argv)
    rows = run(args)
    print_table(rows)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
