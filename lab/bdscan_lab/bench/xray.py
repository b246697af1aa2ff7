"""`bdscan bench xray`: scan every zoo model, then score detection against the zoo's ground truth.

Per-model reports are kept under OUT/reports/, so a verdict rule can be re-evaluated on the same
label maps without querying again (`summarise`).
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bdscan_lab.bench.metrics import auroc
from scanner.backends.onnxruntime import to_model_input
from scanner.data import load_dataset, to_model_space
from scanner.detectors.evidence import Evidence
from scanner.detectors.verdict import VerdictRule, decide
from scanner.errors import BdscanError, DataError
from scanner.pipeline import ScanConfig, scan_model
from scanner.report import ScanReport


def load_index(zoo_dir: Path) -> list[dict[str, Any]]:
    index = zoo_dir / "index.json"
    if not index.is_file():
        raise DataError(f"{index}: no zoo index (build one: bdscan zoo build --out {zoo_dir})")
    d = json.loads(index.read_text())
    records = d["models"] if isinstance(d, dict) else d
    return [r for r in records if (zoo_dir / f"{r['name']}.onnx").is_file()]


def data_path(zoo_dir: Path, record: dict[str, Any]) -> Path:
    return zoo_dir / "data" / f"{record['dataset']}_test.npz"


def is_backdoored(record: dict[str, Any]) -> bool:
    return record.get("attack", "clean") != "clean"


def raw_queries_per_second(
    model: Path, points: np.ndarray, n: int = 8192, device: str = "cpu"
) -> float:
    """onnxruntime in-process, no scanner around it: the reference for the scan's overhead, on
    the scan's device (`cuda` or `auto` take the CUDA provider where there is one). `points`
    are in the model's own input layout and dtype."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    providers = ["CPUExecutionProvider"]
    if device != "cpu" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    sess = ort.InferenceSession(str(model), opts, providers=providers)
    name = sess.get_inputs()[0].name
    fixed = sess.get_inputs()[0].shape[0]
    batch = fixed if isinstance(fixed, int) and fixed > 0 else 4096
    reps = int(np.ceil(n / len(points)))
    pts = np.concatenate([points] * reps)[:n]
    sess.run(None, {name: pts[:batch]})  # warm-up
    start = time.perf_counter()
    for i in range(0, n - batch + 1, batch):
        sess.run(None, {name: pts[i : i + batch]})
    done = (n // batch) * batch
    return done / (time.perf_counter() - start)


@dataclass(frozen=True)
class Row:
    name: str
    dataset: str
    arch: str
    attack: str
    all_to_all: bool
    target: int | None
    convention: str
    report: ScanReport
    raw_qps: float

    def to_dict(self) -> dict[str, Any]:
        x = self.report.xray
        return {
            "name": self.name,
            "dataset": self.dataset,
            "arch": self.arch,
            "attack": self.attack,
            "all_to_all": self.all_to_all,
            "target": self.target,
            "convention": self.convention,
            "verdict": x.verdict,
            "score": x.score,
            "found_target": x.target_label,
            # The published reading: the label with the largest total area over the planes.
            "largest_area_label": int(np.argmax(np.sum([p.label_counts for p in x.planes], 0))),
            "universality": x.evidence.universality,
            "consistency": x.evidence.consistency,
            "selectivity": x.evidence.selectivity,
            "plane_anomaly": x.evidence.plane_share_anomaly.anomaly_index,
            "plane_anomaly_label": x.evidence.plane_share_anomaly.label,
            "re_mean": x.re_mean,
            "ats_mean": x.ats_mean,
            "queries": x.queries,
            "seconds": x.seconds,
            "raw_qps": round(self.raw_qps, 1),
            "raw_seconds": round(x.queries / self.raw_qps, 3) if self.raw_qps else None,
        }


def _model_points(report: ScanReport, dataset_path: str, mean: Any, std: Any) -> np.ndarray:
    from scanner.backends.base import InputSpec

    spec = InputSpec.from_dict(report.model.input)
    ds = load_dataset(dataset_path)
    x = to_model_space(ds.x[:256], spec, mean, std)
    # The raw session runs the original graph, so a uint8 input gets real pixels.
    return to_model_input(x, spec.layout, spec.dtype, clip=spec.dtype == "uint8")


def run(
    zoo_dir: Path,
    out_dir: Path,
    config_for: Callable[[dict[str, Any]], ScanConfig],
    *,
    names: Sequence[str] | None = None,
    reuse: bool = False,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Scan each zoo model (or, with `reuse`, take the row a previous run left in OUT/rows)."""
    records = load_index(zoo_dir)
    if names:
        records = [r for r in records if r["name"] in set(names)]
    for sub in ("reports", "rows"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    rows = []
    for k, rec in enumerate(records, 1):
        saved = out_dir / "rows" / f"{rec['name']}.json"
        report_file = out_dir / "reports" / f"{rec['name']}.json"
        if reuse and saved.is_file() and report_file.is_file():
            # Re-decide the saved evidence under the current rule: a rule change needs no rescan.
            row = json.loads(saved.read_text())
            x = json.loads(report_file.read_text())["xray"]
            row["recipe"] = rec.get("recipe", "default")
            if x["evidence"].get("draws"):
                # A scan of several draws keeps one draw's evidence: re-deciding that one alone
                # would not be the scan's verdict, so the saved row stands.
                rows.append(row)
                continue
            ev = Evidence.from_dict(x["evidence"])
            d = decide(
                ev.probe_result(),
                (),
                len(x["planes"][0]["label_counts"]) if x["planes"] else 10,
                config_for(rec).rule,
                ev.attribution,
                ev.search,
            )
            row.update(
                verdict=d.verdict,
                score=d.score,
                found_target=d.target_label,
                universality=d.evidence.universality,
                consistency=d.evidence.consistency,
                selectivity=d.evidence.selectivity,
            )
            row["recipe"] = rec.get("recipe", "default")
            rows.append(row)
            continue
        model = zoo_dir / f"{rec['name']}.onnx"
        config = config_for(rec)
        try:
            dataset = load_dataset(data_path(zoo_dir, rec))
            report = scan_model(model, dataset, config)
            raw = raw_queries_per_second(
                model,
                _model_points(report, dataset.path, config.mean, config.std),
                device=config.device,
            )
        except BdscanError as e:
            log(f"[{k}/{len(records)}] {rec['name']}: error: {e}")
            continue
        (out_dir / "reports" / f"{rec['name']}.json").write_text(
            json.dumps(report.to_dict(), sort_keys=True)
        )
        row = Row(
            rec["name"],
            rec["dataset"],
            rec["arch"],
            rec.get("attack", "clean"),
            bool(rec.get("all_to_all")),
            rec.get("target"),
            rec.get("convention", ""),
            report,
            raw,
        ).to_dict()
        row["recipe"] = rec.get("recipe", "default")
        saved.write_text(json.dumps(row, sort_keys=True))
        rows.append(row)
        log(
            f"[{k}/{len(records)}] {rec['name']}: {row['verdict']} score {row['score']:.2f}"
            f" target {row['found_target']} (true {row['target']}), RE {row['re_mean']:.2f}"
            f" ATS {row['ats_mean']:.2f}, {row['queries']} q in {row['seconds']:.1f} s"
        )
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Detection figures over a set of rows (see docs/results.md)."""
    one = [r for r in rows if r["attack"] != "clean" and not r["all_to_all"]]
    a2a = [r for r in rows if r["all_to_all"]]
    clean = [r for r in rows if r["attack"] == "clean"]
    pair = one + clean
    positive = [r["attack"] != "clean" for r in pair]

    def frac(xs: list[bool]) -> float | None:
        return round(float(np.mean(xs)), 4) if xs else None

    return {
        "models": len(rows),
        "all_to_one": len(one),
        "all_to_all": len(a2a),
        "clean": len(clean),
        "auroc_score": round(auroc([r["score"] for r in pair], positive), 4),
        # The published metrics: low RE and low ATS are the suspicious direction.
        "auroc_re": round(auroc([-r["re_mean"] for r in pair], positive), 4),
        "auroc_ats": round(auroc([-r["ats_mean"] for r in pair], positive), 4),
        "auroc_plane_anomaly": round(
            auroc(
                [r["plane_anomaly"] if r["plane_anomaly"] is not None else -1e9 for r in pair],
                positive,
            ),
            4,
        ),
        "plane_anomaly_label_is_target": frac(
            [r["plane_anomaly_label"] == r["target"] for r in one]
        ),
        "tpr_all_to_one": frac([r["verdict"] == "infected" for r in one]),
        "fpr_clean": frac([r["verdict"] == "infected" for r in clean]),
        "target_accuracy": frac([r["found_target"] == r["target"] for r in one]),
        "largest_area_is_target": frac([r["largest_area_label"] == r["target"] for r in one]),
        "all_to_all_flagged": frac([r["verdict"] == "infected" for r in a2a]),
        "all_to_all_no_single_target": frac(
            [r["verdict"] == "infected" and r["found_target"] is None for r in a2a]
        ),
        # Clean models flagged, per architecture: "k/n" (the false positives were all
        # BatchNorm nets, which a pooled FPR hides).
        "fpr_by_arch": {
            arch: f"{sum(r['verdict'] == 'infected' for r in group)}/{len(group)}"
            for arch in sorted({r["arch"] for r in clean})
            for group in [[r for r in clean if r["arch"] == arch]]
        },
        # The three-valued verdict: clean models called "shortcut" (BDS104, a warning under the
        # default policy), and backdoored all-to-one models the attribution let off as one.
        "shortcut_clean": frac([r["verdict"] == "shortcut" for r in clean]),
        "shortcut_all_to_one": frac([r["verdict"] == "shortcut" for r in one]),
        "shortcut_by_arch": {
            arch: f"{sum(r['verdict'] == 'shortcut' for r in group)}/{len(group)}"
            for arch in sorted({r["arch"] for r in clean})
            for group in [[r for r in clean if r["arch"] == arch]]
        },
        "queries_mean": round(float(np.mean([r["queries"] for r in rows])), 1) if rows else None,
        "seconds_mean": round(float(np.mean([r["seconds"] for r in rows])), 2) if rows else None,
        "raw_seconds_mean": round(float(np.mean([r["raw_seconds"] for r in rows])), 2)
        if rows
        else None,
    }


def environment() -> dict[str, Any]:
    import os

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


def summary_line(name: str, s: dict[str, Any]) -> str:
    return (
        f"| {name} | {s['auroc_score']} | {s['tpr_all_to_one']} | {s['target_accuracy']} |"
        f" {s['fpr_clean']} | {s['shortcut_clean']} | {s['shortcut_all_to_one']} |"
        f" {s['all_to_all_flagged']} | {s['all_to_all_no_single_target']} |"
    )


SUMMARY_HEAD = (
    "| evaluation | AUROC (all-to-one vs clean) | flagged all-to-one | target right |"
    " clean flagged (FPR) | clean called shortcut | all-to-one called shortcut |"
    " all-to-all flagged | ...with no single target |\n"
    "|---|---|---|---|---|---|---|---|---|\n"
)


def markdown(rows: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    head = (
        "| model | attack | arch | verdict | score | target (true) | RE | ATS | queries |"
        " s | raw ORT s |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {r['name']} | {r['attack']}{' (all-to-all)' if r['all_to_all'] else ''} |"
        f" {r['arch']} | {r['verdict']} | {r['score']:.2f} | {r['found_target']}"
        f" ({r['target']}) | {r['re_mean']:.2f} | {r['ats_mean']:.2f} | {r['queries']} |"
        f" {r['seconds']:.1f} | {r['raw_seconds']:.1f} |\n"
        for r in rows
    )
    s = summary
    tail = (
        f"\nAUROC (all-to-one vs clean): score {s['auroc_score']}, mean RE {s['auroc_re']},"
        f" mean ATS {s['auroc_ats']}. Flagged: {s['tpr_all_to_one']} of all-to-one,"
        f" {s['fpr_clean']} of clean (false positives), {s['all_to_all_flagged']} of"
        f" all-to-all. Target right: {s['target_accuracy']} (published reading, label of"
        f" largest area: {s['largest_area_is_target']}). Mean {s['queries_mean']} queries,"
        f" {s['seconds_mean']} s per scan; onnxruntime alone {s['raw_seconds_mean']} s.\n"
    )
    return head + body + tail


# The floor a held-out fit starts from: lower than the shipped rule, so the fitted thresholds come
# from the training fold's clean models, not from the shipped defaults.
FIT_FLOOR = VerdictRule(target_threshold=0.5, spread_threshold=0.5)


def fit_threshold(clean: list[float], backdoored: list[float], floor: float) -> float:
    """The threshold that maximises TPR - FPR on a training fold (Youden's J), placed midway
    between the highest clean figure below it and the value it admits; without backdoored
    models to separate from, just above the highest clean figure. Never below `floor`."""
    if not clean:
        return floor
    if not backdoored:
        return max(floor, min(max(clean) + 0.05, 1.0))
    best_j, best_t = -2.0, 1.0
    for v in sorted({*clean, *backdoored, 1.01}):
        j = np.mean([b >= v for b in backdoored]) - np.mean([c >= v for c in clean])
        if j > best_j + 1e-12:
            below = max((c for c in clean if c < v), default=0.0)
            best_j, best_t = j, (below + v) / 2
    return round(max(floor, min(best_t, 1.0)), 4)


def fit_rule(rows: list[dict[str, Any]]) -> VerdictRule:
    """A rule fitted on these models' scan rows: the target threshold separates clean from
    all-to-one backdoored models; the spread threshold separates the clean models the target
    test passes from the all-to-all ones."""
    clean = [r for r in rows if r["attack"] == "clean"]
    one = [r for r in rows if r["attack"] != "clean" and not r["all_to_all"]]
    a2a = [r for r in rows if r["all_to_all"]]
    target = fit_threshold(
        [r["universality"] for r in clean],
        [r["universality"] for r in one],
        FIT_FLOOR.target_threshold,
    )
    spread = fit_threshold(
        [r["consistency"] for r in clean if r["universality"] < target],
        [r["consistency"] for r in a2a],
        FIT_FLOOR.spread_threshold,
    )
    # The selectivity threshold is the rule's constant, not fitted: only about 3 backdoored and
    # 20 clean models reach that test, and a fitted threshold followed single models (leaving
    # one clean CNN out put it at 0.3, under that CNN's own 0.33). docs/verdict.md.
    return VerdictRule(target_threshold=target, spread_threshold=spread)


def held_out(
    rows: list[dict[str, Any]], reports_dir: Path, group_by: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Re-decide every model with thresholds fitted without its group.

    `group_by="attack"`: a backdoored model's group is its attack family; each clean model is its
    own group (leave-one-out), so it is never in its own fit. `group_by="arch"` or `"recipe"`:
    the architecture or training recipe, for clean and backdoored models alike. The fit
    (`fit_rule`) sees only the training fold.
    """
    evidence = {
        r["name"]: json.loads((reports_dir / f"{r['name']}.json").read_text())["xray"] for r in rows
    }

    def group(r: dict[str, Any]) -> str:
        if group_by == "attack":
            return r["attack"] if r["attack"] != "clean" else f"clean:{r['name']}"
        return str(r.get(group_by, "default"))

    out = []
    for r in rows:
        g = group(r)
        rule = fit_rule([o for o in rows if group(o) != g])
        x = evidence[r["name"]]
        ev = Evidence.from_dict(x["evidence"])
        d = decide(
            ev.probe_result(),
            (),
            len(x["planes"][0]["label_counts"]) if x["planes"] else 10,
            rule,
            ev.attribution,
            ev.search,
        )
        out.append(
            {
                **r,
                "verdict": d.verdict,
                "score": d.score,
                "found_target": d.target_label,
                "fold": g,
                "fold_rule": rule.to_dict(),
            }
        )
    return out, summarise(out)
