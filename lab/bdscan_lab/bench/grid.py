"""`bdscan bench grid`: the adaptive grid against the dense one, plane for plane, on zoo models:
cells that differ, and queries spent by each."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bdscan_lab.bench.xray import data_path, load_index
from scanner.backends.base import LabelOracle
from scanner.backends.onnxruntime import OnnxRuntimeBackend
from scanner.data import load_dataset, to_model_space
from scanner.detectors.xray import XrayConfig, run_planes
from scanner.report import decode_label_map


def compare(
    zoo_dir: Path,
    config: XrayConfig,
    *,
    names: Sequence[str] | None = None,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    rows = []
    for rec in load_index(zoo_dir):
        if names and rec["name"] not in names:
            continue
        ds = load_dataset(data_path(zoo_dir, rec))
        with OnnxRuntimeBackend(
            zoo_dir / f"{rec['name']}.onnx",
            image_hwc=ds.x.shape[1:],
            classes_hint=int(ds.y.max()) + 1,
            device="cpu",
        ) as backend:
            x = to_model_space(ds.x, backend.input_spec, rec.get("mean"), rec.get("std"))
            result = {}
            for grid in ("dense", "adaptive"):
                oracle = LabelOracle(backend)
                start = time.perf_counter()
                planes = run_planes(
                    oracle, x, ds.y, XrayConfig(**{**config.to_dict(), "grid": grid})
                )
                result[grid] = (planes, oracle.queries, time.perf_counter() - start)
        maps = {
            g: [decode_label_map(p.label_map) for p in r[0].planes]  # type: ignore[arg-type]
            for g, r in result.items()
        }
        differing = int(
            sum((a != b).sum() for a, b in zip(maps["dense"], maps["adaptive"], strict=True))
        )
        row = {
            "name": rec["name"],
            "arch": rec["arch"],
            "cells": int(sum(m.size for m in maps["dense"])),
            "differing_cells": differing,
            "dense_queries": result["dense"][1],
            "adaptive_queries": result["adaptive"][1],
            "dense_seconds": round(result["dense"][2], 2),
            "adaptive_seconds": round(result["adaptive"][2], 2),
        }
        log(
            f"{row['name']}: {differing} differing cells of {row['cells']};"
            f" queries {row['adaptive_queries']} adaptive vs {row['dense_queries']} dense"
        )
        rows.append(row)
    return rows


def summary(rows: list[dict[str, Any]]) -> str:
    cells = sum(r["cells"] for r in rows)
    diff = sum(r["differing_cells"] for r in rows)
    ratio = np.mean([r["adaptive_queries"] / r["dense_queries"] for r in rows]) if rows else 0
    return (
        f"{len(rows)} models: {diff} of {cells} cells differ between adaptive and dense maps;"
        f" adaptive spends {ratio:.0%} of the dense grid's queries on average"
    )
