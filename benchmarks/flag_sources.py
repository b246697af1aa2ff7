"""Research tool: where BURN's phase-1 flags come from on all-to-one zoo models, against the
zoo's ground truth, without training anything.

For every all-to-one model of each zoo whose scan report names a target, BURN runs as
`bench_burn.py` runs it (same training subset, the report as the prior) up to the end of its
flag phase: this script wraps `burn.flag_samples`, `burn.occlusion_flags`, `burn.stamp_flags`
and `flags.read_stamp` for the run to record what they return, and stops when the unlearning
would start. Printed per model: the poisoned samples, what the boundary mixture, the occlusion
test and the stamp flag (true and false positives), the mixture's flags beside the stamp's
holders, and the share of the occlusion-freed samples that hold the stamp (`stamp_flags`'
freed share, which `BurnConfig.mixture_set_aside_share` gates on); then the totals over the
models the gate sets the mixture aside on and the others.

    python benchmarks/flag_sources.py --run zoo-fresh25=bench-out/o25-fresh25-s0/reports \\
        [--run ZOO=REPORTS ...] [--json FILE]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from bench_burn import repair_zoo_model, write_rows, zoo_reports

from bdscan_lab.zoo.build import poisoned_training_set
from scanner.remediate import burn
from scanner.remediate import flags as flag_module
from scanner.remediate.burn import BurnConfig


class _FlagsDone(Exception):
    """Raised where BURN would build its unlearner: the flags are all recorded by then."""


def _recording(seen: dict[str, Any]) -> list[tuple[Any, str, Any]]:
    """Wrap the flag functions so that their results land in `seen`; the originals, to put
    back."""
    originals: list[tuple[Any, str, Any]] = [
        (burn, "flag_samples", burn.flag_samples),
        (burn, "occlusion_flags", burn.occlusion_flags),
        (burn, "stamp_flags", burn.stamp_flags),
        (burn, "make_unlearner", burn.make_unlearner),
        (flag_module, "read_stamp", flag_module.read_stamp),
    ]
    fns: dict[str, Callable[..., Any]] = {name: fn for _, name, fn in originals}

    def keep(name: str) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            out = fns[name](*args, **kwargs)
            # Copies: run_burn clears the mixture's flags in place where it sets them aside.
            seen[name] = tuple(v.copy() if isinstance(v, np.ndarray) else v for v in out)
            return out

        return wrapped

    def read_stamp(x: np.ndarray, occluded: np.ndarray, region: np.ndarray, *rest: Any) -> Any:
        stamp = fns["read_stamp"](x, occluded, region, *rest)
        if stamp is not None:
            seen["stamp_pixels"] = int(stamp.pixels.sum())
            seen["region_pixels"] = int(region.sum())
        return stamp

    def stop(*args: Any, **kwargs: Any) -> Any:
        raise _FlagsDone

    for name in ("flag_samples", "occlusion_flags", "stamp_flags"):
        setattr(burn, name, keep(name))
    burn.make_unlearner = stop  # type: ignore[assignment]
    flag_module.read_stamp = read_stamp  # type: ignore[assignment]
    return originals


def _count(mask: np.ndarray | None, truth: np.ndarray) -> dict[str, int] | None:
    if mask is None:
        return None
    return {"n": int(mask.sum()), "tp": int((mask & truth).sum()), "fp": int((mask & ~truth).sum())}


def _pair(counts: dict[str, int] | None) -> str:
    """ "poisoned/clean" of a count, "-" where the source did not run."""
    return "-" if counts is None else f"{counts['tp']}/{counts['fp']}"


def model_flags(rec: dict[str, Any], zoo: Path, report: dict[str, Any]) -> dict[str, Any]:
    """One model's flag sources (the dict printed per model)."""
    x, y, poisoned, _, _ = poisoned_training_set(rec)
    # The training subset `bench_burn.py` takes (seed 0, 10,000 samples).
    rng = np.random.default_rng(0)
    sub = np.sort(rng.choice(len(y), size=min(10000, len(y)), replace=False))
    pos = np.full(len(y), -1)
    pos[sub] = np.arange(len(sub))
    truth = np.zeros(len(sub), dtype=bool)
    truth[pos[poisoned][pos[poisoned] >= 0]] = True
    seen: dict[str, Any] = {}
    originals = _recording(seen)
    try:
        # The target check only re-targets; these models' scans named the right target.
        repair_zoo_model(rec, zoo, (x[sub], y[sub]), report, BurnConfig(verify_target=False), None)
    except _FlagsDone:
        pass
    finally:
        for module, name, fn in originals:
            setattr(module, name, fn)
    mix = seen["flag_samples"][0] if "flag_samples" in seen else None
    occ = seen["occlusion_flags"][0] if "occlusion_flags" in seen else None
    stamped, share = None, None
    if "stamp_flags" in seen:
        stamped, _, share = seen["stamp_flags"]
    hold = None if occ is None else occ | (stamped if stamped is not None else False)
    gate = BurnConfig().mixture_set_aside_share
    aside = bool(
        gate is not None and stamped is not None and stamped.any() and share is not None
        and share >= gate
    )  # fmt: skip
    return {
        "model": rec["name"],
        "attack": rec["attack"],
        "target": rec["target"],
        "prior": report["xray"]["target_label"],
        "poisoned": int(truth.sum()),
        "mixture": _count(mix, truth),
        "occlusion": _count(occ, truth),
        "stamp": _count(stamped, truth),
        "holders": _count(hold, truth),
        "mixture_only": None if hold is None or mix is None else _count(mix & ~hold, truth),
        "freed_share": None if share is None else round(float(share), 4),
        "stamp_pixels": seen.get("stamp_pixels"),
        "region_pixels": seen.get("region_pixels"),
        "set_aside": aside,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="append", required=True, metavar="ZOO=REPORTS")
    parser.add_argument("--json", help="write every model's row here (JSON lines)")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    for zoo, rec, report in zoo_reports(args.run):
        if not rec["backdoored"] or rec["all_to_all"] or report["xray"]["target_label"] is None:
            continue
        row = model_flags(rec, zoo, report)
        rows.append(row)
        print(
            f"{row['model']:30s} {row['attack']:10s} poisoned {row['poisoned']:5d}"
            f"  holders {_pair(row['holders']):>9s}"
            f"  mixture only {_pair(row['mixture_only']):>9s}"
            f"  freed share {row['freed_share']}  set aside {row['set_aside']}",
            flush=True,
        )
    write_rows(args.json, rows)
    for aside in (True, False):
        part = [r for r in rows if r["set_aside"] is aside and r["holders"] is not None]
        if not part:
            continue

        def total(key: str, field: str, part: list[dict[str, Any]] = part) -> int:
            return sum(r[key][field] for r in part if r[key] is not None)

        print(
            f"set aside {aside}: {len(part)} models with a stamp region; holders "
            f"{total('holders', 'tp')} of {sum(r['poisoned'] for r in part)} poisoned "
            f"(+{total('holders', 'fp')} clean); mixture beside them "
            f"{total('mixture_only', 'tp')} poisoned, {total('mixture_only', 'fp')} clean"
        )


if __name__ == "__main__":
    main()
