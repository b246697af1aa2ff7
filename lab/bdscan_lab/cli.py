"""`bdscan zoo` and `bdscan bench`: the lab's commands, added to bdscan's CLI through the
`bdscan.commands` entry-point group (lab/pyproject.toml) when the lab is installed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from scanner.cli import atomic_write_text, budget_options, query_budget, xray_options
from scanner.errors import UsageError

__all__ = ["bench", "zoo"]

# The zoo folder every bench command reads.
zoo_option = click.option(
    "--zoo",
    "zoo_dir",
    default="zoo-out",
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
)


@click.group()
def zoo() -> None:
    """Train the model zoo: clean and backdoored classifiers on real data (needs torch)."""


@zoo.command("build", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def zoo_build(args: tuple[str, ...]) -> None:
    """Build zoo models (options: see `bdscan zoo build --help`)."""
    try:
        from bdscan_lab.zoo.__main__ import main as zoo_main
    except ImportError as e:
        raise UsageError(f"the zoo needs torch: pip install torch==2.13.0 ({e})") from None
    raise SystemExit(zoo_main(["build", *args]))


@click.group()
def bench() -> None:
    """Benchmarks over the zoo that print the tables of docs/results.md."""


@bench.command("xray")
@zoo_option
@click.option(
    "--out",
    "out_dir",
    default="bench-out/xray",
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
)
@xray_options
@budget_options
@click.option("--only", multiple=True, help="Model names to run (repeatable).")
@click.option("--reuse", is_flag=True, help="Keep results a previous run left in --out.")
@click.option(
    "--device",
    type=click.Choice(["cpu", "cuda"]),
    default="cpu",
    show_default=True,
    help="Where the scans and the raw onnxruntime reference run.",
)
def bench_xray(
    zoo_dir: Path,
    out_dir: Path,
    planes: int,
    resolution: int,
    extend: float,
    grid: str,
    uint8_mode: str,
    trigger_search: bool,
    seed: int,
    repeats: int,
    max_queries: int | None,
    profile: str | None,
    only: tuple[str, ...],
    reuse: bool,
    device: str,
) -> None:
    """Scan every zoo model and print detection AUROC, target accuracy, FPR and cost, at the
    shipped thresholds and with thresholds fitted leaving each attack / architecture out."""
    from bdscan_lab.bench import xray as bx
    from scanner.detectors.probes import ProbeConfig
    from scanner.detectors.search import SearchConfig
    from scanner.detectors.xray import XrayConfig
    from scanner.pipeline import ScanConfig, check_repeats

    settings = dict(planes=planes, resolution=resolution, extend=extend, grid=grid, seed=seed)

    def config_for(rec: dict[str, Any]) -> ScanConfig:
        def tup(v: Any) -> tuple[float, ...] | None:
            return None if v is None else tuple(float(a) for a in v)

        return ScanConfig(
            xray=XrayConfig(**settings),  # type: ignore[arg-type]
            probes=ProbeConfig(seed=seed),
            search=SearchConfig(enabled=trigger_search, seed=seed),
            mean=tup(rec.get("mean")),
            std=tup(rec.get("std")),
            uint8_mode=uint8_mode,  # type: ignore[arg-type]
            device=device,  # type: ignore[arg-type]
            max_queries=budget,
            repeats=repeats,
        )

    budget = query_budget(max_queries, profile)
    check_repeats(ScanConfig(max_queries=budget, repeats=repeats))
    rows = bx.run(
        zoo_dir,
        out_dir,
        config_for,
        names=only or None,
        reuse=reuse,
        log=lambda m: click.echo(m, err=True),
    )
    summary = bx.summarise(rows)
    by_attack, loao = bx.held_out(rows, out_dir / "reports", "attack")
    by_arch, loarch = bx.held_out(rows, out_dir / "reports", "arch")
    by_recipe, lorecipe = bx.held_out(rows, out_dir / "reports", "recipe")
    whole_zoo = bx.fit_rule(rows).to_dict()
    result = {
        "environment": bx.environment(),
        "settings": {
            **settings,
            "uint8_mode": uint8_mode,
            "max_queries": budget,
            "repeats": repeats,
        },
        "summary": summary,
        "leave_one_attack_out": loao,
        "leave_one_architecture_out": loarch,
        "leave_one_recipe_out": lorecipe,
        "rows": rows,
        "held_out_rows": {"attack": by_attack, "arch": by_arch, "recipe": by_recipe},
        "rule_fitted_on_all_rows": whole_zoo,
    }
    atomic_write_text(out_dir / "results.json", json.dumps(result, indent=2, sort_keys=True))
    table = (
        bx.markdown(rows, summary)
        + "\n"
        + bx.SUMMARY_HEAD
        + bx.summary_line("shipped thresholds", summary)
        + "\n"
        + bx.summary_line("leave one attack out", loao)
        + "\n"
        + bx.summary_line("leave one architecture out", loarch)
        + "\n"
        + bx.summary_line("leave one recipe out", lorecipe)
        + "\n\nClean models flagged per architecture (shipped / leave one architecture out): "
        + ", ".join(
            f"{arch} {summary['fpr_by_arch'][arch]} / {loarch['fpr_by_arch'][arch]}"
            for arch in summary["fpr_by_arch"]
        )
        + "\n\nClean models called shortcut per architecture (shipped / leave one architecture"
        + " out): "
        + ", ".join(
            f"{arch} {summary['shortcut_by_arch'][arch]} / {loarch['shortcut_by_arch'][arch]}"
            for arch in summary["shortcut_by_arch"]
        )
        + f"\n\nRule fitted on all {len(rows)} models (the shipped default's source): {whole_zoo}\n"
    )
    atomic_write_text(out_dir / "results.md", table)
    click.echo(table)


@bench.command("grid")
@zoo_option
@click.option("--out", "out_path", default="bench-out/grid.json", show_default=True)
@click.option("--planes", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--resolution", default=100, show_default=True, type=click.IntRange(min=3))
@click.option("--only", multiple=True, help="Model names to run (repeatable).")
def bench_grid(
    zoo_dir: Path, out_path: str, planes: int, resolution: int, only: tuple[str, ...]
) -> None:
    """Compare adaptive and dense label maps cell by cell on zoo models."""
    from bdscan_lab.bench import grid as bg
    from bdscan_lab.bench.xray import environment
    from scanner.detectors.xray import XrayConfig

    rows = bg.compare(
        zoo_dir,
        XrayConfig(planes=planes, resolution=resolution),
        names=only or None,
        log=lambda m: click.echo(m, err=True),
    )
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_path, json.dumps({"environment": environment(), "rows": rows}, indent=2))
    click.echo(bg.summary(rows))


@bench.command("throughput")
@click.argument("models", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--queries", default=65536, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--batch",
    default=None,
    type=click.IntRange(min=1),
    help="Batch size instead of the scanner's own (4,096 points, at most 64 MB).",
)
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--out", "out_path", default="bench-out/throughput.json", show_default=True)
def bench_throughput(
    models: tuple[Path, ...],
    device: str,
    queries: int,
    batch: int | None,
    rounds: int,
    out_path: str,
) -> None:
    """Queries per second of the scanner's worker (through its pipe, through shared memory)
    against onnxruntime alone, on random points of each model's input size; on CUDA also
    onnxruntime with the batch bound on the GPU, plain and as a CUDA graph."""
    from bdscan_lab.bench import throughput as bt
    from bdscan_lab.bench.xray import environment

    rows = []
    for model in models:
        row = bt.measure(model, queries, device, rounds=rounds, batch=batch)  # type: ignore[arg-type]
        click.echo(
            f"{row.model}: raw {row.raw_qps:.0f} q/s ({row.provider}, batch {row.batch}),"
            f" pipe {row.pipe_ratio:.2f}x, shared memory {row.shared_ratio:.2f}x of raw time"
            + (f"; bound {row.bound_qps:.0f} q/s" if row.bound_qps else "")
            + (f", CUDA graph {row.graph_qps:.0f} q/s" if row.graph_qps else "")
            + (f" ({row.notes})" if row.notes else ""),
            err=True,
        )
        rows.append(row)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        out_path,
        json.dumps({"environment": environment(), "rows": [r.to_dict() for r in rows]}, indent=2),
    )
    click.echo(bt.table(rows))


@bench.command("models")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--sizes", default="32,64,224", show_default=True, help="ResNet-18/MobileNetV2 px.")
@click.option("--classes", default="10,100", show_default=True)
@click.option("--no-zoo", is_flag=True, help="Leave out the zoo's architectures at 28x28x1.")
def bench_models(out_dir: Path, sizes: str, classes: str, no_zoo: bool) -> None:
    """Write ONNX classifiers with random weights for `bench throughput`: the zoo's
    architectures at 28x28x1 and ResNet-18 / MobileNetV2 at realistic sizes (no verdicts:
    random weights)."""
    from bdscan_lab.bench import sized

    def ints(text: str, what: str, least: int) -> tuple[int, ...]:
        try:
            values = tuple(int(v) for v in text.split(",") if v.strip())
        except ValueError:
            values = ()
        if not values or min(values) < least:
            raise click.BadParameter(
                f"expected comma-separated integers of at least {least}, got {text!r}",
                param_hint=what,
            )
        return values

    chosen_sizes, chosen_classes = ints(sizes, "--sizes", 8), ints(classes, "--classes", 2)
    out_dir.mkdir(parents=True, exist_ok=True)
    for m in sized.sized_models(chosen_sizes, chosen_classes, zoo=not no_zoo):
        path = out_dir / f"{m.name}.onnx"
        sized.export(m, path)
        click.echo(f"{path}: {m.parameters:,} parameters, {path.stat().st_size / 2**20:.1f} MiB")
