"""Research tool: every probe's raw flip matrix on every zoo model, for designing the verdict
offline without rescanning.

For each model it stores F_search[i, s, t] and F_confirm[i, s, t] (share of class-s samples that
probe i sends to label t) on disjoint correctly-classified samples, over a probe set wider than
the shipped one (more magnitudes per family), so that a candidate rule can be evaluated against
held-out folds in seconds. The shipped verdict is then re-implemented in `scanner/detectors` and
measured again end to end with `bdscan bench xray`; figures in docs/results.md come from that.

    python benchmarks/probe_dump.py --zoo zoo-out --out bench-out/probes [--jobs 2]
    # the strong strengths were explored with (same samples, other probes):
    python benchmarks/probe_dump.py --out bench-out/probes-x --levels patch=0.36,0.5 \
        --levels periodic=0.3,0.35
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from zoo_oracle import zoo_oracle

from bdscan_lab.bench.xray import load_index
from scanner.detectors.probes import Probe, flip_rates, patch_positions, patch_size

# family -> magnitudes dumped (shipped strengths 0/1 are among them)
LEVELS: dict[str, tuple[float, ...]] = {
    "patch": (0.11, 0.18, 0.25),
    "blend": (0.05, 0.1, 0.2, 0.3),
    "lowfreq": (0.04, 0.08, 0.15),
    "periodic": (0.05, 0.1, 0.25),
    "warp": (0.5, 1.0),
}
INSTANCES = 24


def dump_probes(h: int, w: int) -> list[Probe]:
    rng = np.random.default_rng(12345)
    out = []
    for family, levels in LEVELS.items():
        for mag in levels:
            if family == "patch":
                size = patch_size(h, w, 0, mag)
                positions: list[Any] = [
                    (r, c, k) for r, c in patch_positions(h, w, size) for k in range(3)
                ]
            elif family == "periodic":
                positions = [
                    (o, f, p) for o in range(4) for f in (2, 3, 4, 6, 8, 11) for p in range(4)
                ]
            else:
                positions = [None] * INSTANCES
            out.extend(Probe(family, 0, pos, int(rng.integers(2**31)), mag) for pos in positions)
    return out


def one(zoo: str, rec: dict[str, Any], out: str) -> str:
    t0 = time.perf_counter()
    name = rec["name"]
    target = Path(out) / f"{name}.npz"
    if target.is_file():
        return f"{name}: kept"
    with zoo_oracle(Path(zoo), rec) as z:
        oracle, to_model, ds, nc = z.oracle, z.to_model, z.data, z.num_classes
        pred = oracle(to_model(ds.x))
        rng = np.random.default_rng(7)
        search, confirm = [], []
        for label in range(nc):
            ok = rng.permutation(np.flatnonzero((ds.y == label) & (pred == label)))
            search.append(ok[:6])
            confirm.append(ok[6:26])
        si, ci = np.sort(np.concatenate(search)), np.sort(np.concatenate(confirm))
        probes = dump_probes(ds.x.shape[1], ds.x.shape[2])
        fs = flip_rates(oracle, probes, ds.x[si], ds.y[si], to_model, nc)  # type: ignore[arg-type]
        fc = flip_rates(oracle, probes, ds.x[ci], ds.y[ci], to_model, nc)  # type: ignore[arg-type]
    meta = [
        {"family": p.family, "magnitude": p.magnitude, "position": p.position, "seed": p.seed}
        for p in probes
    ]
    tmp = target.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp,
        f_search=fs.astype(np.float32),
        f_confirm=fc.astype(np.float32),
        meta=np.array(json.dumps(meta)),
        record=np.array(json.dumps(rec)),
        clean_acc=np.array(float(np.mean(pred == ds.y))),
    )
    tmp.rename(target)
    return (
        f"{name}: {len(probes)} probes, {oracle.queries} queries, {time.perf_counter() - t0:.0f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zoo", default="zoo-out")
    ap.add_argument("--out", default="bench-out/probes")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument(
        "--levels",
        action="append",
        default=[],
        metavar="FAMILY=M1,M2",
        help="dump only these families at these magnitudes instead of LEVELS (repeatable)",
    )
    a = ap.parse_args()
    if a.levels:
        chosen = {}
        for item in a.levels:
            family, _, mags = item.partition("=")
            if family not in LEVELS or not mags:
                ap.error(f"--levels {item!r}: expected FAMILY=M1,M2 with FAMILY in {list(LEVELS)}")
            chosen[family] = tuple(float(m) for m in mags.split(","))
        LEVELS.clear()
        LEVELS.update(chosen)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    records = load_index(Path(a.zoo))
    with ProcessPoolExecutor(a.jobs) as ex:
        for line in ex.map(one, [a.zoo] * len(records), records, [a.out] * len(records)):
            print(line, flush=True)
            sys.stdout.flush()


if __name__ == "__main__":
    main()
