"""The `bdscan` command line. `main()` maps every expected failure to an exit code
(docs/usage.md#exit-codes)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from scanner import __version__
from scanner.errors import BdscanError, ExitCode, OutputError, UsageError

if TYPE_CHECKING:
    pass


def atomic_write_text(path: str | Path, text: str) -> None:
    """All-or-nothing text file (temp file in the same folder, then rename)."""
    from exporters.atomic import atomic_write

    with atomic_write(path) as f:
        f.write(text)


def _check_writable(path: str | None, option: str) -> None:
    """Fail before a long scan or repair, not after it, when an output cannot be written there.

    The folder must exist and take a new file (tried with a temp file, which also catches
    read-only and pseudo file systems such as /proc or /sys, where os.access says yes), and the
    path must not be a folder or a special file: outputs are written beside it and renamed
    over it, and renaming over /dev/null as root would replace the device.
    """
    if path is None:
        return
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise UsageError(f"{path}: {option} is a folder, expected a file path to write")
    if target.exists() and not target.is_file():
        raise UsageError(f"{path}: {option} exists and is not a regular file")
    if not folder.exists():
        raise UsageError(f"{path}: {option} folder {folder} does not exist")
    if not folder.is_dir():
        raise UsageError(f"{path}: {option} folder {folder} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=folder)
    except OSError as exc:
        raise UsageError(
            f"{path}: {option} folder {folder} does not take new files ({exc.strerror or exc})"
        ) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def _publish(
    staged: Path, out: Path, model: Path, json_path: str | None, doc: dict[str, Any]
) -> None:
    """Move the staged model onto `out` and write the JSON report: two renames, nothing else
    left to fail between them. Never over the input model (re-checked: it could have been
    linked to `out` while the repair ran)."""
    from exporters.atomic import atomic_write

    if out.exists() and model.exists() and os.path.samefile(out, model):
        raise UsageError(f"{out}: refusing to overwrite the input model; choose another -o")
    if json_path is None:
        os.replace(staged, out)
        return
    with atomic_write(json_path) as f:
        f.write(json.dumps(doc, indent=2, sort_keys=True))
        f.flush()
        # The report's rename is the atomic writer's last step; the model's goes just before.
        try:
            os.replace(staged, out)
        except OSError as exc:
            raise OutputError(f"{out}: cannot write: {exc.strerror or exc}") from None


def rescan_device(device: str) -> Literal["auto", "cpu"]:
    """onnxruntime's device for `remediate`'s re-scans, given the PyTorch device of the repair.

    Why not the same value: `--device cuda` asks for PyTorch's CUDA build, which says nothing of
    onnxruntime's. A GPU machine with CPU onnxruntime (the default install) would otherwise
    repair the model on the GPU and then fail its re-scan. "cpu" stays CPU for users who want
    no GPU touched; otherwise onnxruntime's CUDA provider is used where it is installed.
    """
    return "cpu" if device == "cpu" else "auto"


# Other distributions add commands through this entry-point group: the research lab's `zoo` and
# `bench` (lab/pyproject.toml). The product never imports the lab.
COMMAND_GROUP = "bdscan.commands"
LAB_COMMANDS = ("bench", "zoo")


class BdscanGroup(click.Group):
    """The command group whose `main` maps errors to the documented exit codes, so the script,
    `python -m scanner` and click's CliRunner all see the same codes and one-line messages; it
    also lists the commands other installed distributions register under COMMAND_GROUP."""

    def _added(self) -> dict[str, Any]:
        from importlib.metadata import entry_points

        return {
            ep.name: ep for ep in entry_points(group=COMMAND_GROUP) if ep.name not in self.commands
        }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._added()})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The product's commands, then the ones other distributions added, under their own
        heading: `bdscan --help` shows which is which."""
        added = self._added()
        for title, names in (
            ("Commands", [n for n in self.list_commands(ctx) if n not in added]),
            ("Added commands (research lab)", sorted(added)),
        ):
            commands = [(n, c) for n in names if (c := self.get_command(ctx, n)) and not c.hidden]
            if commands:
                limit = formatter.width - 6 - max(len(n) for n, _ in commands)
                rows = [(n, c.get_short_help_str(limit)) for n, c in commands]
                with formatter.section(title):
                    formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        entry = self._added().get(cmd_name)
        if entry is None:
            if cmd_name in LAB_COMMANDS:
                raise UsageError(
                    f"`bdscan {cmd_name}` is a research-lab command, not part of the product:"
                    " from a source checkout, pip install -e ./lab"
                )
            return None
        command = entry.load()
        if not isinstance(command, click.Command):
            raise UsageError(f"{entry.value}: registered as a bdscan command but is not one")
        return command

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        code = _run_mapped(super().main, argv, prog_name or "bdscan", extra)
        if standalone_mode:
            sys.exit(code)
        return code


def budget_options(command: Any) -> Any:
    """--max-queries and --profile, which `scan` and `bench xray` share."""
    from scanner.plan import PROFILES

    options = [
        click.option(
            "--max-queries",
            default=None,
            type=click.IntRange(min=1),
            help="Plan the scan within this many queries (fewer planes, samples, probes and"
            " search steps; the report lists what was given up); never spend more.",
        ),
        click.option(
            "--profile",
            type=click.Choice(sorted(PROFILES)),
            default=None,
            help="A preset budget: "
            + ", ".join(f"{k} = --max-queries {v}" for k, v in sorted(PROFILES.items()))
            + " (a hosted model that bills or rate-limits queries). --max-queries wins.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def query_budget(max_queries: int | None, profile: str | None) -> int | None:
    """The budget --max-queries and --profile ask for: an explicit number wins."""
    from scanner.plan import PROFILES

    if max_queries is not None:
        return max_queries
    return PROFILES[profile] if profile is not None else None


def xray_options(command: Any) -> Any:
    """The X-ray settings `scan` and `bench xray` share: --planes, --resolution, --extend,
    --seed, --repeats, --grid, --uint8-mode."""
    options = [
        click.option("--planes", default=20, show_default=True, type=click.IntRange(min=1)),
        click.option("--resolution", default=100, show_default=True, type=click.IntRange(min=3)),
        click.option(
            "--extend",
            default=5.0,
            show_default=True,
            type=click.FloatRange(min=0),
            help="Grid margin r, in triangle extents.",
        ),
        click.option(
            "--seed",
            default=0,
            show_default=True,
            type=int,
            help="Seeds the planes, the probes' random draws and their samples.",
        ),
        click.option(
            "--repeats",
            default=1,
            show_default=True,
            type=click.IntRange(min=1),
            help="Draw the probes, their samples and the search's starts this many times (seeds"
            " SEED, SEED+1, ...) and decide on the mean score; each draw costs the probes' and"
            " the search's queries again. Not with --max-queries.",
        ),
        click.option(
            "--grid",
            type=click.Choice(["dense", "adaptive"]),
            default="adaptive",
            show_default=True,
            help="dense queries every cell, as the official code does.",
        ),
        click.option(
            "--uint8-mode",
            type=click.Choice(["bypass", "clip"]),
            default="bypass",
            show_default=True,
            help="uint8-input models: query past the graph's Cast (bypass) or clip and round.",
        ),
        click.option(
            "--search/--no-search",
            "trigger_search",
            default=True,
            show_default=True,
            help="Run the trigger search after the probes (stamps, transforms, tone curves,"
            " gratings).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group(cls=BdscanGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bdscan")
def cli() -> None:
    """Scan ONNX image classifiers for backdoors from hard labels (Model X-ray), and repair them."""


def _model_argument(value: str) -> Path | str:
    # A URL stays a string: Path() would fold its "//".
    from scanner.backends.remote import is_endpoint

    return value if is_endpoint(value) else Path(value)


@cli.command()
@click.argument("model", nargs=-1, required=True, type=_model_argument)
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Clean labelled samples: .npz with x, y, or an image folder (one per class).",
)
@click.option("--mean", default=None, help="Normalisation mean, one value or one per channel.")
@click.option("--std", default=None, help="Normalisation std, one value or one per channel.")
@click.option(
    "--labels",
    "labels_path",
    default=None,
    type=click.Path(path_type=Path),
    help="Class names, one per line (line i names label i), or a JSON list. Default: the data's"
    " classes.txt, else the model file's metadata.",
)
@xray_options
@click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True
)
@budget_options
@click.option(
    "--timeout",
    default=300.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds one inference call may take before the worker is stopped.",
)
@click.option(
    "--rule",
    "rule_path",
    default=None,
    type=click.Path(dir_okay=False),
    help="Verdict rule written by `bdscan calibrate` (default: the shipped one).",
)
@click.option(
    "--baseline",
    "baseline_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A trusted .onnx model of the same architecture and task: findings that name its own"
    " natural shortcuts are set aside (differential scan; docs/verdict.md).",
)
@click.option(
    "--train-data",
    "train_data_path",
    default=None,
    type=click.Path(path_type=Path),
    help="The model's training data, or a part of it (.npz or image folder, as DATA): a"
    " shortcut whose class the training data shows poisoned, and that the model answers, is"
    " attributed to a planted trigger (docs/verdict.md, 'Training data').",
)
@click.option(
    "--policy",
    "policy_path",
    default=None,
    help="Deployment policy: a YAML file, or default / strict / permissive.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["low", "medium", "high", "critical"]),
    default=None,
    help="Lowest finding severity that fails the policy"
    " (default: the policy's fail_on, else medium).",
)
@click.option("--json", "json_path", default=None, help="Write the JSON report here.")
@click.option("--sarif", "sarif_path", default=None, help="Write a SARIF 2.1.0 log here.")
@click.option(
    "--html",
    "html_path",
    default=None,
    help="Write a self-contained HTML report with decision-region maps here.",
)
@click.option(
    "--plots",
    "plots_dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Write one PNG decision-region map per plane into this folder.",
)
@click.option(
    "--api-rate",
    default=None,
    type=click.FloatRange(min=0, min_open=True),
    help="Endpoints: at most this many requests per second.",
)
@click.option(
    "--api-timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Endpoints: seconds one request may take before it is retried.",
)
@click.option(
    "--api-batch",
    default=256,
    show_default=True,
    type=click.IntRange(min=1),
    help="Endpoints: samples per request.",
)
@click.option(
    "--resume/--no-resume",
    default=True,
    show_default=True,
    help="Endpoints: replay answers already paid for from the query journal (in the cache"
    " folder) instead of asking again.",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="ray: one Ray task per model (needs bdscan[ray]); the same summary, cache and exit code.",
)
@click.option(
    "--ray-address",
    default=None,
    help="Ray cluster to join (default: a local Ray runtime for this command).",
)
@click.option(
    "--ray-gpus-per-model",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="GPUs each model's task asks Ray for (fractions share a GPU).",
)
@click.option(
    "--ray-retries",
    default=1,
    show_default=True,
    type=click.IntRange(min=0),
    help="Times Ray re-runs a model whose worker or node died (a scan is idempotent).",
)
@click.option("--no-cache", is_flag=True, help="Scan again even if a cached result exists.")
@click.option(
    "--cache-dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Result cache folder (default: $BDSCAN_CACHE_DIR or ~/.cache/bdscan).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar, no summary.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def scan(
    model: tuple[Path | str, ...],
    data_path: Path,
    mean: str | None,
    std: str | None,
    labels_path: Path | None,
    planes: int,
    resolution: int,
    extend: float,
    seed: int,
    repeats: int,
    grid: str,
    device: str,
    uint8_mode: str,
    trigger_search: bool,
    max_queries: int | None,
    profile: str | None,
    timeout: float,
    rule_path: str | None,
    baseline_path: Path | None,
    train_data_path: Path | None,
    policy_path: str | None,
    fail_on: str | None,
    json_path: str | None,
    sarif_path: str | None,
    html_path: str | None,
    plots_dir: str | None,
    api_rate: float | None,
    api_timeout: float,
    api_batch: int,
    resume: bool,
    executor: str,
    ray_address: str | None,
    ray_gpus_per_model: float,
    ray_retries: int,
    no_cache: bool,
    cache_dir: Path | None,
    quiet: bool,
    debug: bool,
) -> None:
    """Scan MODEL for a backdoor, querying hard labels only.

    MODEL is an .onnx file, a folder of them, a list file (one path per line), or the URL of
    an Open Inference Protocol endpoint (http(s)://HOST/v2/models/NAME[/versions/V]; a bearer
    token from BDSCAN_API_TOKEN); several MODEL arguments are scanned together, with one summary.
    """
    from exporters.console import RichBatchProgress
    from exporters.console import write as console_write
    from policies import Severity, load_policy
    from scanner.app.scan import Displays, ScanRequest, run_scan, write_reports
    from scanner.backends.remote import ApiConfig
    from scanner.batch import default_cache_dir
    from scanner.data import load_dataset, parse_channel_values
    from scanner.detectors.probes import ProbeConfig
    from scanner.detectors.search import SearchConfig
    from scanner.detectors.verdict import VerdictRule, load_rule
    from scanner.detectors.xray import XrayConfig
    from scanner.labels import load_label_file
    from scanner.pipeline import ScanConfig, check_repeats
    from scanner.ray_executor import RayOptions
    from scanner.ui import baseline_notice, plane_progress, print_summary

    for path, option in ((json_path, "--json"), (sarif_path, "--sarif"), (html_path, "--html")):
        _check_writable(path, option)
    config = ScanConfig(
        xray=XrayConfig(planes=planes, resolution=resolution, extend=extend, seed=seed, grid=grid),  # type: ignore[arg-type]
        probes=ProbeConfig(seed=seed),
        search=SearchConfig(enabled=trigger_search, seed=seed),
        rule=load_rule(rule_path) if rule_path else VerdictRule(),
        class_names=load_label_file(labels_path) if labels_path else None,
        mean=parse_channel_values(mean, "mean"),
        std=parse_channel_values(std, "std"),
        device=device,  # type: ignore[arg-type]
        uint8_mode=uint8_mode,  # type: ignore[arg-type]
        max_queries=query_budget(max_queries, profile),
        timeout=timeout,
        api=ApiConfig(rate=api_rate, timeout=api_timeout, batch=api_batch, resume=resume),
        journal_root=cache_dir if cache_dir is not None else default_cache_dir(),
        repeats=repeats,
        train_data=load_dataset(train_data_path) if train_data_path is not None else None,
    )
    check_repeats(config)
    request = ScanRequest(
        targets=model,
        data=load_dataset(data_path),
        config=config,
        policy=load_policy(policy_path) if policy_path else None,
        fail_on=Severity.parse(fail_on) if fail_on else None,
        baseline=baseline_path,
        ray=(
            RayOptions(address=ray_address, gpus_per_model=ray_gpus_per_model, retries=ray_retries)
            if executor == "ray"
            else None
        ),
        cache_dir=cache_dir,
        no_cache=no_cache,
        debug=debug,
    )
    displays = Displays(
        single=lambda name: plane_progress(enabled=not quiet, label=name),
        batch=lambda: RichBatchProgress(disable=quiet),
        baseline_scanned=lambda b: baseline_notice(b, quiet=quiet),
    )
    run = run_scan(request, displays)
    if (failed := run.single_error) is not None:
        # One model that could not be scanned: its error is the whole story, on one line, and
        # no report stands in for a scan that did not happen.
        click.echo(f"bdscan: error: {failed.error}", err=True)
        raise SystemExit(run.exit_code)
    if run.single and run.outcomes[0].finding_error:
        # A finding without a verdict (NaN outputs): said on one line, and the reports carry it
        # in the summary form, which has room for a model without an X-ray result.
        click.echo(f"bdscan: finding BDS205: {run.outcomes[0].error}", err=True)
    write_reports(
        run, json_path=json_path, sarif_path=sarif_path, html_path=html_path, plots_dir=plots_dir
    )
    if not quiet:
        results = list(run.policy_results) if run.policy_results is not None else None
        if run.form == "single":
            print_summary(run.outcomes[0].report)  # type: ignore[arg-type]
            if results is not None:
                console_write(list(run.outcomes), sys.stdout, policy_results=results)
        else:
            console_write(list(run.outcomes), sys.stdout, policy_results=results)
    raise SystemExit(run.exit_code)


@cli.command("remediate")
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--train-data",
    type=click.Path(path_type=Path),
    default=None,
    help="The (possibly poisoned) training set or part of it: .npz or image folder.",
)
@click.option(
    "--clean-data",
    type=click.Path(path_type=Path),
    default=None,
    help=(
        "Clean labelled samples; alone, selects the clean-data-only mode; beside --train-data,"
        " the held-out set and the training data's check of the target (and its pattern)."
    ),
)
@click.option("--mean", default=None, help="Normalisation mean, one value or one per channel.")
@click.option("--std", default=None, help="Normalisation std, one value or one per channel.")
@click.option(
    "--target-label",
    type=int,
    default=None,
    help="Suspected target label (default: from --scan-report, else from the scan this command"
    " runs first, else BURN's own white-box check looks for one).",
)
@click.option(
    "--scan-report",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A `bdscan scan --json` report of MODEL: its target label and confirmed trigger-like"
    " probes are BURN's prior. Without one, MODEL is scanned first (unless --no-rescan).",
)
@click.option(
    "--no-trigger-prior",
    is_flag=True,
    help="Use only the scan report's target label, not its probes.",
)
@click.option(
    "--method",
    type=click.Choice(["burn", "finetune", "nc"]),
    default="burn",
    show_default=True,
    help="BURN, or a baseline: plain fine-tuning, NC unlearning.",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="PyTorch device for the repair. The re-scans use onnxruntime's CUDA provider when "
    "onnxruntime-gpu is installed (cpu: never).",
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Where to write the repaired .onnx (never MODEL itself).",
)
@click.option("--json", "json_path", default=None, help="Write the remediation report here.")
@click.option(
    "--no-rescan",
    is_flag=True,
    help="Skip the X-ray scans before and after (and so, without --scan-report, X-ray's prior).",
)
@click.option(
    "--rounds",
    default=2,
    show_default=True,
    type=click.IntRange(min=1, max=5),
    help="Repair again, aimed by the re-scan, while it still finds the trigger just repaired (at"
    " most this many repairs; a round that does not lower the score ends it; another target is"
    " reported, not repaired).",
)
@click.option(
    "--data-residual",
    is_flag=True,
    help="Stricter exit 1: also when the training data's own pattern of the repaired class (its"
    " plane sine, its stamp) still sends 10% of the other classes there after the repair (needs"
    " --clean-data; the blend form and the carriers too). On 49 zoo repairs it caught 7 of the 9"
    " left over 5% ASR and flagged 3 of the 40 under it (docs/remediation.md section 50).",
)
@click.option(
    "--carrier-residual/--no-carrier-residual",
    default=True,
    show_default=True,
    help="Exit 1 when 10% of the training images that carry the blend the repair unlearned (its"
    " poison, read with --train-data and --clean-data) are still given the class after the"
    " repair. Held out it flagged none of 33 repaired nets and caught 1 of the 5 blends the"
    " repair left at ASR >= 0.1; the others no longer held their own poison"
    " (docs/remediation.md sections 58-60).",
)
@click.option(
    "--blend-residual/--no-blend-residual",
    default=True,
    show_default=True,
    help="Exit 1 when the training data's blend that the repair unlearned, rebuilt in its blend"
    " form at its read opacity and above, still sends 10% of the other classes to the class"
    " after the repair (needs --train-data and --clean-data). Held out it caught 4 of the 5"
    " blends the repair left at ASR >= 0.1 and flagged 2 of 33 repaired nets"
    " (docs/remediation.md sections 59-60).",
)
@click.option("--quiet", "-q", is_flag=True)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def remediate_command(
    model: Path,
    train_data: Path | None,
    clean_data: Path | None,
    mean: str | None,
    std: str | None,
    target_label: int | None,
    scan_report: Path | None,
    no_trigger_prior: bool,
    method: str,
    device: str,
    seed: int,
    out: Path,
    json_path: str | None,
    no_rescan: bool,
    rounds: int,
    data_residual: bool,
    carrier_residual: bool,
    blend_residual: bool,
    quiet: bool,
    debug: bool,
) -> None:
    """Remove a backdoor from MODEL (BURN) and write a drop-in ONNX replacement."""
    from scanner.app.remediation import RemediateRequest, run_remediate
    from scanner.data import load_dataset, parse_channel_values
    from scanner.fileio import sha256_file
    from scanner.pipeline import ScanConfig
    from scanner.ui import print_remediation

    if train_data is None and clean_data is None:
        raise UsageError("remediate: expected --train-data, --clean-data, or both")
    if out.exists() and model.exists() and out.resolve() == model.resolve():
        raise UsageError(f"{out}: refusing to overwrite the input model; choose another -o")
    _check_writable(str(out), "-o")
    _check_writable(json_path, "--json")
    report_doc = None
    if scan_report is not None:
        # The report gives BURN its target label (unless --target-label overrides it) and the
        # trigger-like probes X-ray confirmed, which BURN unlearns as a trigger prior.
        try:
            report_doc = json.loads(scan_report.read_text())
            report_target = report_doc["xray"]["target_label"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UsageError(f"{scan_report}: not a bdscan scan report ({e})") from None
        # A report of another model would aim the unlearning at the wrong label and trigger.
        scanned = (report_doc.get("model") or {}).get("sha256")
        if scanned and model.is_file() and scanned != sha256_file(model):
            raise UsageError(
                f"{scan_report}: a scan of another model (sha256 {scanned[:12]}...), "
                f"not of {model}; scan it first (bdscan scan {model} --json ...)"
            )
        if target_label is None:
            target_label = report_target
    mean_v, std_v = parse_channel_values(mean, "mean"), parse_channel_values(std, "std")
    request = RemediateRequest(
        model=model,
        out=out,
        train=load_dataset(train_data) if train_data else None,
        clean=load_dataset(clean_data) if clean_data else None,
        config=ScanConfig(mean=mean_v, std=std_v, device=rescan_device(device)),
        target_label=target_label,
        report_doc=report_doc,
        use_prior=not no_trigger_prior,
        method=method,
        device=device,
        seed=seed,
        rescan=not no_rescan,
        rounds=rounds,
        data_residual=data_residual,
        carrier_residual=carrier_residual,
        blend_residual=blend_residual,
    )
    # The repaired model is staged beside -o and published only once everything else has
    # worked (re-scans, JSON report): a failed or interrupted run leaves no output at all.
    run = run_remediate(request)
    try:
        report = run.report
        export = {**report.export, "path": str(out)} if report.export else report.export
        report = replace(report, output=str(out), export=export)
        _publish(run.staged, out, model, json_path, report.to_dict())
    finally:
        with contextlib.suppress(OSError):
            run.staged.unlink()
    if not quiet:
        print_remediation(replace(run, report=report), out)
    if run.still_infected:
        click.echo(
            f"bdscan: the repaired model still looks infected: {run.left_reason}",
            err=True,
        )
    raise SystemExit(ExitCode.FINDINGS if run.still_infected else ExitCode.PASSED)


@cli.command()
@click.argument("reports", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--fpr",
    default=0.05,
    show_default=True,
    type=click.FloatRange(0, 1, max_open=True),
    help="Largest share of these known-clean models the rule may flag.",
)
@click.option("-o", "--output", "out", required=True, help="Rule file to write (JSON).")
def calibrate(reports: tuple[Path, ...], fpr: float, out: str) -> None:
    """Fit the verdict thresholds on scan reports of models you know are clean.

    Thresholds only ever rise above the shipped defaults. Pass the rule to `scan --rule`.
    """
    from scanner.detectors.verdict import VerdictRule, spread_figure
    from scanner.detectors.verdict import calibrate as fit
    from scanner.report import ScanReport

    _check_writable(out, "-o")
    stats: list[tuple[float, ...]] = []
    for path in reports:
        try:
            evidence = ScanReport.from_dict(json.loads(path.read_text())).xray.evidence
            spread = spread_figure(evidence.findings)
            stat = (
                evidence.universality,
                evidence.consistency,
                evidence.selectivity,
                0.0 if spread is None else spread,
            )
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UsageError(f"{path}: not a bdscan scan report ({e})") from None
        if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in stat):
            raise UsageError(
                f"{path}: expected universality, consistency, selectivity and spread in [0, 1],"
                " got"
                f" {', '.join(f'{v:g}' for v in stat)}"
            )
        stats.append(stat)
    shipped = VerdictRule()
    rule = fit(stats, fpr=fpr, base=shipped)
    doc = {
        "rule": rule.to_dict(),
        "fitted_on": [str(p) for p in reports],
        "fpr": fpr,
        "statistics": [list(s) for s in stats],
    }
    atomic_write_text(out, json.dumps(doc, indent=2))
    click.echo(
        f"thresholds: universality {rule.target_threshold} (shipped {shipped.target_threshold}),"
        f" consistency {rule.spread_threshold} (shipped {shipped.spread_threshold}),"
        f" selectivity {rule.selectivity_threshold} (shipped {shipped.selectivity_threshold}),"
        f" spread {rule.spread_consistency_min} (shipped {shipped.spread_consistency_min}) from"
        f" {len(stats)} clean reports; wrote {out}"
    )


@cli.group()
def policy() -> None:
    """Deployment policies: check saved reports, lint and start policy files."""


@policy.command("check")
@click.argument("report", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--policy",
    "policy_path",
    required=True,
    help="A YAML policy file, or default / strict / permissive.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["low", "medium", "high", "critical"]),
    default=None,
    help="Lowest finding severity that fails the policy.",
)
@click.option("--json", "json_path", default=None, help="Write the re-decided report here.")
def policy_check(
    report: Path, policy_path: str, fail_on: str | None, json_path: str | None
) -> None:
    """Re-decide a saved JSON report under a policy, without querying the model again."""
    from exporters import json_report, write_report
    from exporters.console import write as console_write
    from policies import Severity, evaluate_outcomes, load_policy
    from scanner.batch import exit_code

    _check_writable(json_path, "--json")
    rules = load_policy(policy_path)
    outcomes = json_report.read(report)
    results = evaluate_outcomes(
        rules, outcomes, fail_on=Severity.parse(fail_on) if fail_on else None
    )
    if json_path:
        write_report("json", json_path, outcomes, policy_results=results)
    console_write(outcomes, sys.stdout, policy_results=results)
    raise SystemExit(exit_code(outcomes, results))


@policy.command("lint")
@click.argument("policy_file")
def policy_lint(policy_file: str) -> None:
    """Check a policy file; exit 4 with one line per problem."""
    from policies import lint_policy

    problems = lint_policy(policy_file)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise SystemExit(ExitCode.USAGE_ERROR)
    click.echo(f"{policy_file}: ok")


@policy.command("init")
def policy_init() -> None:
    """Print a commented starter policy (bdscan policy init > my.yaml)."""
    from policies import init_policy_text

    click.echo(init_policy_text(), nl=False)


def _run_mapped(run: Any, args: list[str], prog_name: str, extra: dict[str, Any]) -> int:
    """Run click without its own exit handling and map every outcome to an exit code."""
    debug = "--debug" in args
    try:
        run(args=args, prog_name=prog_name, standalone_mode=False, **extra)
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else ExitCode.USAGE_ERROR
    except (click.exceptions.Abort, KeyboardInterrupt, Terminated) as e:
        # Finished models are already in the cache; reports are only ever written whole.
        terminated = isinstance(e, Terminated) or isinstance(e.__context__, Terminated)
        click.echo("bdscan: terminated" if terminated else "bdscan: interrupted", err=True)
        return ExitCode.TERMINATED if terminated else ExitCode.INTERRUPTED
    except click.ClickException as e:
        e.show()
        return ExitCode.USAGE_ERROR
    except BdscanError as e:
        if debug:
            traceback.print_exc()
        click.echo(f"bdscan: error: {e}", err=True)
        return int(e.exit_code)
    except MemoryError as e:
        if debug:
            traceback.print_exc()
        click.echo(f"bdscan: error: out of memory ({e or 'MemoryError'})", err=True)
        return ExitCode.SCAN_ERROR
    except RecursionError:
        if debug:
            traceback.print_exc()
        click.echo("bdscan: error: input nested too deeply to process", err=True)
        return ExitCode.SCAN_ERROR
    except Exception as e:  # a bug of ours: still one line, and the code for "could not scan"
        if debug:
            traceback.print_exc()
        click.echo(
            f"bdscan: internal error: {type(e).__name__}: {e} (rerun with --debug)", err=True
        )
        return ExitCode.SCAN_ERROR
    return ExitCode.PASSED


class Terminated(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C, so that workers stop and nothing is half-written."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `bdscan` script and `python -m scanner`: returns the exit code."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    return int(cli.main(args=argv, standalone_mode=False))
