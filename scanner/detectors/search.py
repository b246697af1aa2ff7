"""The trigger search: after the probes, optimise a universal change per candidate target, from
hard labels only, in the spaces of `scanner.detectors.spaces`.

The probes sample fixed families; a trigger of another kind (scattered pixels, a rotation, a
colour curve) or of a covered kind at another size is found by them only by accident. The
search starts where the probes point (the labels their sweep ranked first, and their patches as
starting stamps; the mask space adds up to `SearchConfig.screened` labels its own salt-noise
and corner-stroke starts already reach, for triggers no probe resembles) and works on a
disjoint draw of samples:
1. search: each space looks for the change that sends the most samples of the other classes to
   each candidate label (`Space.search`); the mask space shrinks a firing stamp to the fewest
   pixels that still fire;
2. confirm: the best change per space and label is applied to fresh samples, at full strength
   and mixed in at 1/4, 1/2 and 3/4 (the dose-response of `scanner.detectors.attribution`),
   and its universality is measured as the probes' is (the lower quartile over the other
   classes), so that the verdict reads both with the same thresholds;
3. under a budget, which screens nothing in step 1, what the stage has left goes to one more
   mask search that screens labels of its own (`_leftover`).
Cost: about (candidates x (start stamps + shrink evaluations) + grids) x search samples, plus
the confirmation; planned against what --max-queries leaves, skipped (and said so) when it
does not fit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from scanner.backends.base import LabelOracle
from scanner.detectors.attribution import DOSE_FRACTIONS
from scanner.detectors.probes import Probe, ProbeResult, universality
from scanner.detectors.spaces import (
    BACKOFF_STEPS,
    BUDGET_SPACES,
    GRATING_BUDGET_LABELS,
    MASK_EVALS,
    SPACES,
    Outcome,
    Point,
    grating_budget_queries,
    grating_evals,
    sparse_evals,
    start_count,
)

# Hand-set: a change is confirmed only when it sent this mean share of the other classes' search
# samples to its label; below it, universality (a lower quartile) cannot reach any threshold
# the verdict uses, and the confirmation would cost 4 passes over the fresh samples.
CONFIRM_MIN = 0.5
# Hand-set. A found change whose universality on the fresh samples falls under BACKOFF_MIN is
# confirmed again at the larger sizes its search passed through (`Outcome.fallbacks`, the nearest
# first), and the first that reaches BACKOFF_MIN there replaces it. Above the verdict's
# `target_threshold` (0.725): the best of up to four tries on the same fresh samples reads high.
BACKOFF_MIN = 0.8

# The order the stage's generators are spawned in (`run_search`): the registry's first three
# spaces, the budget's leftover screen (`_leftover`), then spaces added since, so that adding
# one keeps every earlier stream (a spawned child depends only on its index).
STREAMS: tuple[str, ...] = ("mask", "transform", "curve", "leftover", "grating")

__all__ = [
    "SearchConfig",
    "SearchFinding",
    "SearchResult",
    "candidate_labels",
    "run_search",
]


@dataclass(frozen=True)
class SearchConfig:
    enabled: bool = True
    targets: int = 3  # candidate labels searched, the probes' top-ranked ones
    # Labels beyond the candidates the mask space searches too when one of its start stamps
    # already reaches them (spaces.screened_labels). Hand-set, before the third fresh set.
    screened: int = 2
    samples_per_class: int = 6  # search samples
    confirm_per_class: int = 20  # fresh samples the found change is confirmed on
    spaces: tuple[str, ...] = tuple(SPACES)
    seed: int = 0
    # A query budget's cap on the whole stage (scanner.plan): the spaces search until it is
    # spent, keeping what they found; None: each space runs to its own end.
    max_queries: int | None = None
    # Confirm a stamp that falls short on fresh samples again at the larger sizes its shrink
    # passed through (BACKOFF_MIN). Under a budget (max_queries set) the plan reserves nothing
    # for it: it spends only what the stage has left once every finding is confirmed.
    backoff: bool = True
    # Under a budget (max_queries set, `screened` 0): labels the mask space screens for last,
    # beyond the candidates it shrank a stamp for, with what the stage has left after the
    # back-off (its starts with the strokes and sparse draws, growth and shrink capped by that
    # room; `_leftover`). The plan reserves nothing for it. Hand-set, before the fourteenth
    # fresh set.
    leftover: int = 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SearchFinding:
    """The best change one space found for one label, confirmed on fresh samples."""

    point: Point
    label: int
    search_rate: float  # mean flip rate to the label over the other classes, search samples
    dose: tuple[tuple[float, float], ...]  # (strength, universality to the label), confirmed
    cost: float  # the change's size as a share (mask: pixels stamped / pixels)
    evaluations: int  # changes the space evaluated for this label (each one pass)
    # Steps the confirmation backed off along the search's path (0: the point it ended at).
    backed_off: int = 0

    @property
    def universality(self) -> float:
        return self.dose[-1][1]

    def at(self, fraction: float) -> float:
        """Universality to the label with the change applied at `fraction` of its strength."""
        return next(u for f, u in self.dose if abs(f - fraction) < 1e-9)

    @property
    def retention(self) -> float:
        """Universality at half strength over that at full strength (0 when it reaches none)."""
        full = self.universality
        return self.at(0.5) / full if full > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        # The retention written is the one the written dose gives, so that a report read back
        # (from_dict) writes out unchanged.
        stored = replace(self, dose=tuple((f, round(u, 4)) for f, u in self.dose))
        return {
            **self.point.to_dict(),
            "label": self.label,
            "search_rate": round(self.search_rate, 4),
            "universality": round(self.universality, 4),
            "dose": [[f, u] for f, u in stored.dose],
            "retention": round(stored.retention, 4),
            "cost": round(self.cost, 5),
            "evaluations": self.evaluations,
            "backed_off": self.backed_off,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SearchFinding:
        return cls(
            point=Point.from_dict(d),
            label=int(d["label"]),
            search_rate=float(d["search_rate"]),
            dose=tuple((float(f), float(u)) for f, u in d["dose"]),
            cost=float(d["cost"]),
            evaluations=int(d["evaluations"]),
            backed_off=int(d.get("backed_off", 0)),
        )


@dataclass(frozen=True)
class SearchResult:
    findings: tuple[SearchFinding, ...]
    targets: tuple[int, ...]
    search_samples: int
    confirm_samples: int
    queries: int
    skipped: str | None = None  # why the stage did not run (budget), None when it ran
    seconds: float = 0.0
    screened: tuple[int, ...] = ()  # labels the mask space searched beyond `targets`

    def to_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.to_dict() for f in self.findings],
            "targets": list(self.targets),
            "search_samples": self.search_samples,
            "confirm_samples": self.confirm_samples,
            "queries": self.queries,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
            "screened": list(self.screened),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SearchResult:
        return cls(
            findings=tuple(SearchFinding.from_dict(f) for f in d.get("findings", ())),
            targets=tuple(int(t) for t in d.get("targets", ())),
            search_samples=int(d.get("search_samples", 0)),
            confirm_samples=int(d.get("confirm_samples", 0)),
            queries=int(d.get("queries", 0)),
            skipped=d.get("skipped"),
            seconds=float(d.get("seconds", 0.0)),
            screened=tuple(int(t) for t in d.get("screened", ())),
        )


def candidate_labels(probes: ProbeResult, count: int) -> list[int]:
    """The labels the probes' sweep ranked first (best search universality, subtle, visible or
    strong), then those of their confirmed findings; `count` of them."""
    n = len(probes.per_label_search)
    strong = probes.per_label_search_strong or (0.0,) * n
    score = [max(probes.per_label_search[t], strong[t]) for t in range(n)]
    ranked = sorted(range(n), key=lambda t: (-score[t], -probes.per_label_hits[t], t))
    found = [f.label for f in probes.findings]
    return list(dict.fromkeys([*ranked[:count], *found]))[:count]


class _Evaluator:
    """Flip rates of changes on fixed samples; several changes per oracle call."""

    def __init__(
        self,
        oracle: LabelOracle,
        xs: np.ndarray,
        ys: np.ndarray,
        to_model: Callable[[np.ndarray], np.ndarray],
        num_classes: int,
        allowance: int | None = None,
    ) -> None:
        self.oracle, self.xs, self.to_model, self.num_classes = oracle, xs, to_model, num_classes
        self.ys = ys
        self.allowance = allowance  # queries the search may spend here; None: no cap
        self.spent = 0
        self.parent: _Evaluator | None = None  # a subset's: what it spends, the parent spends
        self.shape: tuple[int, int, int] = tuple(xs.shape[1:])  # type: ignore[assignment]
        self.sources, self.row = np.unique(ys, return_inverse=True)
        self.counts = np.maximum(np.bincount(self.row, minlength=len(self.sources)), 1)

    def by_class(self, changes: Sequence[Callable[[np.ndarray], np.ndarray]]) -> np.ndarray:
        """F[i, k, t]: share of class-`sources[k]` samples change i sends to label t."""
        per_call = max(1, self.oracle.batch_size // max(len(self.xs), 1))
        out = np.zeros((len(changes), len(self.sources), self.num_classes))
        for start in range(0, len(changes), per_call):
            chunk = changes[start : start + per_call]
            imgs = np.concatenate([np.clip(c(self.xs), 0, 1) for c in chunk]).astype(np.float32)
            pred = np.clip(self.oracle(self.to_model(imgs)), 0, self.num_classes - 1)
            self.spent += len(imgs)
            up = self.parent
            while up is not None:
                up.spent += len(imgs)
                up = up.parent
            pred = pred.reshape(len(chunk), len(self.xs))
            for k in range(len(chunk)):
                np.add.at(out[start + k], (self.row, pred[k]), 1.0)
        return out / self.counts[None, :, None]

    def remaining_evals(self) -> int:
        return self._remaining() // max(len(self.xs), 1)

    def _remaining(self) -> int:
        if self.parent is not None:
            return self.parent._remaining()
        if self.allowance is None:
            return 1 << 62
        return max(0, self.allowance - self.spent)

    def subset(self, per_class: int) -> _Evaluator:
        keep = np.sort(
            np.concatenate(
                [np.flatnonzero(self.ys == c)[:per_class] for c in self.sources]
                or [np.zeros(0, dtype=np.int64)]
            )
        )
        sub = _Evaluator(self.oracle, self.xs[keep], self.ys[keep], self.to_model, self.num_classes)
        sub.parent = self
        return sub

    def rates(self, changes: Sequence[Callable[[np.ndarray], np.ndarray]]) -> np.ndarray:
        if len(changes) > self.remaining_evals():  # a space must check before it asks
            raise RuntimeError("the search asked for more than its allowance")
        f = self.by_class(changes)
        out = np.zeros((len(changes), self.num_classes))
        for t in range(self.num_classes):
            others = self.sources != t
            if others.any():
                out[:, t] = f[:, others, t].mean(axis=1)
        return out


def _samples(
    oracle: LabelOracle,
    x01: np.ndarray,
    y: np.ndarray,
    to_model: Callable[[np.ndarray], np.ndarray],
    per_class: tuple[int, int],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint (search, confirm) indices of correctly classified samples of each class."""
    want = sum(per_class)
    search, confirm = [], []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))[: 2 * want]
        ok = idx[oracle(to_model(x01[idx])) == label]
        if len(ok) < 2:
            continue
        n_search = min(per_class[0], len(ok) // 2)
        search.append(ok[:n_search])
        confirm.append(ok[n_search : n_search + per_class[1]])
    empty = np.zeros(0, dtype=np.int64)
    return (
        np.sort(np.concatenate(search)) if search else empty,
        np.sort(np.concatenate(confirm)) if confirm else empty,
    )


def confirms_per_space(config: SearchConfig, space: str) -> int:
    """How many of a space's outcomes are confirmed at most (the plan counts on it): the mask
    space's screened labels on top of the candidates; the budget's grating space's one label."""
    if space == "grating" and config.max_queries is not None:
        return GRATING_BUDGET_LABELS  # the budget's grating refines one label
    extra = config.screened if space == "mask" else 0
    return max(config.targets, 2) + extra


def _to_confirm(outcomes: list[Outcome], config: SearchConfig) -> list[Outcome]:
    """The outcomes worth confirming: at least CONFIRM_MIN on the search samples, the best
    `confirms_per_space` of each space."""
    kept: list[Outcome] = []
    for name in dict.fromkeys(o.point.space for o in outcomes):
        mine = [o for o in outcomes if o.point.space == name and o.search_rate >= CONFIRM_MIN]
        kept += sorted(mine, key=lambda o: -o.search_rate)[: confirms_per_space(config, name)]
    return kept


def planned_queries(config: SearchConfig, classes: int, probe_starts: int) -> int:
    """An upper bound on the stage's queries, to plan against --max-queries."""
    n_search = config.samples_per_class * classes
    evals = 0
    for name in config.spaces:
        if name == "mask":
            shrinks = (config.targets + config.screened) * (MASK_EVALS + 1)
            evals += start_count(probe_starts, strokes=config.screened > 0) + shrinks
            evals += sparse_evals() if config.screened > 0 else 0
        elif name == "grating":
            evals += grating_evals()
        else:
            evals += 30 + 20 * classes
    return fixed_queries(config, classes) + evals * n_search


def fixed_queries(config: SearchConfig, classes: int) -> int:
    """The stage's queries besides the search itself: picking the samples, and confirming
    every outcome that may be confirmed."""
    n_confirm = config.confirm_per_class * classes
    picking = 2 * (config.samples_per_class + config.confirm_per_class) * classes
    confirms = sum(confirms_per_space(config, space) for space in config.spaces)
    confirm = confirms * len(DOSE_FRACTIONS) * n_confirm
    if config.backoff and config.max_queries is None:
        # Each fallback at full strength, and the one kept at the other strengths: the spaces
        # whose search leaves fallbacks (the stamp's shrink, the grating's descent).
        per_outcome = BACKOFF_STEPS + len(DOSE_FRACTIONS) - 1
        for space in ("mask", "grating"):
            if space in config.spaces:
                confirm += confirms_per_space(config, space) * per_outcome * n_confirm
    return picking + confirm


def _confirm(
    confirm: _Evaluator, point: Point, label: int, fractions: Sequence[float]
) -> tuple[tuple[float, float], ...]:
    """(strength, universality to `label`) of `point` at each of `fractions` on the fresh
    samples."""
    changes = [(lambda x, f=f, p=point: p.apply(x, f)) for f in fractions]
    f = confirm.by_class(changes)
    return tuple(
        (frac, float(universality(f[i], confirm.sources)[label]))
        for i, frac in enumerate(fractions)
    )


def _back_off(
    confirm: _Evaluator, o: Outcome, found: SearchFinding, room: int | None = None
) -> SearchFinding:
    """The first of the outcome's fallbacks (the nearest first) whose universality on the fresh
    samples reaches BACKOFF_MIN, confirmed at every strength; `found` when none does. `room`:
    the queries it may spend (None: no cap); it stops before a try it could not finish."""
    start, try_cost = confirm.spent, len(DOSE_FRACTIONS) * len(confirm.xs)
    for step, (point, rate) in enumerate(o.fallbacks, start=1):
        if room is not None and confirm.spent - start + try_cost > room:
            break
        full = _confirm(confirm, point, o.label, DOSE_FRACTIONS[-1:])
        if full[0][1] >= BACKOFF_MIN:
            dose = _confirm(confirm, point, o.label, DOSE_FRACTIONS[:-1]) + full
            return replace(
                found, point=point, search_rate=rate, dose=dose, cost=point.cost, backed_off=step
            )
    return found


def held_queries(config: SearchConfig, classes: int) -> int:
    """Queries a budgeted search's spaces before the budget's grating space leave it, and the
    most it may spend (`run_search`): its screened grid and its descent's GRATING_BUDGET_ROUNDS
    (`grating_budget_queries`). 0 without a budget or a grating space."""
    if config.max_queries is None or "grating" not in config.spaces:
        return 0
    return grating_budget_queries(config.samples_per_class, classes)


def _room(oracle: LabelOracle, config: SearchConfig, spent: int, reserve: int) -> int | None:
    """Queries the stage may still spend: under its cap, and leaving `reserve` of the scan's
    budget to the stages after it. None: no cap."""
    caps = []
    if config.max_queries is not None:
        caps.append(config.max_queries - spent)
    if oracle.budget is not None:
        caps.append(oracle.budget - oracle.queries - reserve)
    return max(0, min(caps)) if caps else None


def _leftover(
    ev: _Evaluator,
    confirm: _Evaluator,
    config: SearchConfig,
    labels: Sequence[int],
    patches: Sequence[Probe],
    rng: np.random.Generator,
    before: int,
    reserve: int,
) -> tuple[list[Outcome], list[SearchFinding]]:
    """A budgeted search's last step: with what its stage has left, the mask space screens up
    to `config.leftover` labels other than `labels` (those it shrank a stamp for already) from
    every confirmed patch probe, salt noise, strokes and sparse draws on the search samples,
    and confirms (and backs off) the best it shrinks for each. Under a budget the probes rank
    few labels, often on nothing (every label at 0, ties broken by index); this spends the
    queries the stage would leave unspent on the start stamps that reach a label by themselves.
    Returns the outcomes shrunk and the findings confirmed; nothing when the starts do not
    fit."""
    room = _room(ev.oracle, config, ev.oracle.queries - before, reserve)
    if config.leftover <= 0 or room is None:
        return [], []
    per_confirm = len(DOSE_FRACTIONS) * len(confirm.xs)
    allowance = room - config.leftover * per_confirm
    if start_count(len(patches), strokes=True) * len(ev.xs) > allowance:
        return [], []
    search = _Evaluator(ev.oracle, ev.xs, ev.ys, ev.to_model, ev.num_classes, allowance)
    outcomes = SPACES["mask"].search(search, [], patches, rng, config.leftover, exclude=labels)
    kept = sorted(
        (o for o in outcomes if o.search_rate >= CONFIRM_MIN), key=lambda o: -o.search_rate
    )[: config.leftover]
    out: list[SearchFinding] = []
    for o in kept:
        # The confirmation was reserved above; the back-off takes only what is left after it.
        dose = _confirm(confirm, o.point, o.label, DOSE_FRACTIONS)
        found = SearchFinding(o.point, o.label, o.search_rate, dose, o.point.cost, o.evaluations)
        if config.backoff and found.universality < BACKOFF_MIN:
            left = _room(ev.oracle, config, ev.oracle.queries - before, reserve)
            reserved = per_confirm * (len(kept) - len(out) - 1)
            found = _back_off(confirm, o, found, None if left is None else left - reserved)
        out.append(found)
    return outcomes, out


def run_search(
    oracle: LabelOracle,
    x01: np.ndarray,
    y: np.ndarray,
    to_model: Callable[[np.ndarray], np.ndarray],
    num_classes: int,
    probes: ProbeResult,
    config: SearchConfig,
    *,
    reserve: int = 0,
) -> SearchResult:
    """Search every space for each candidate label, then confirm on fresh samples. `reserve`:
    queries the stages after this one need; the search is skipped when it would leave them
    less under --max-queries."""
    labels = candidate_labels(probes, config.targets)
    # Starting stamps: the patch probes the probe stage confirmed for a candidate label.
    starts = [f.probe for f in probes.findings if f.probe.family == "patch" and f.label in labels]
    classes = len(np.unique(y))
    plan = planned_queries(config, classes, len(starts))
    allowance = None
    if config.max_queries is not None:
        plan = min(plan, config.max_queries)
        allowance = config.max_queries - fixed_queries(config, classes)
    if oracle.budget is not None and oracle.queries + plan + reserve > oracle.budget:
        left = oracle.budget - oracle.queries - reserve
        return SearchResult((), tuple(labels), 0, 0, 0, f"needs up to {plan} queries, {left} left")
    before, started = oracle.queries, time.perf_counter()
    rng = np.random.default_rng(config.seed + 3)
    search_idx, confirm_idx = _samples(
        oracle, x01, y, to_model, (config.samples_per_class, config.confirm_per_class), rng
    )
    ev = _Evaluator(oracle, x01[search_idx], y[search_idx], to_model, num_classes, allowance)
    # One generator per space of the registry and one for the budget's leftover screen, spawned
    # (not drawn) from the stage's in STREAMS' order: a change to how one space draws, or a new
    # space, leaves the others' searches as they were.
    own = dict(zip(STREAMS, rng.spawn(len(STREAMS)), strict=True))
    # Under a budget a space with a budget variant runs it on the queries held for it
    # (`held_queries`), at most: the spaces before it leave them, the spaces after it have
    # what is left of the stage (so the transform grid, after it, gets what it did not use).
    budget = BUDGET_SPACES if config.max_queries is not None else {}
    held = held_queries(config, classes)
    if allowance is not None:
        ev.allowance = allowance - held
    outcomes = []
    for name in config.spaces if len(ev.xs) else ():  # no samples (none labelled right): none
        if name in budget and allowance is not None:
            ev.allowance = min(allowance, ev.spent + held)
        space = budget.get(name, SPACES[name])
        searched = range(num_classes) if space.all_labels else labels
        outcomes += space.search(ev, searched, starts, own[name], config.screened)
        if name in budget and allowance is not None:
            ev.allowance = allowance
    confirm = _Evaluator(oracle, x01[confirm_idx], y[confirm_idx], to_model, num_classes)
    findings = []
    confirmed = _to_confirm(outcomes, config)
    for o in confirmed:
        dose = _confirm(confirm, o.point, o.label, DOSE_FRACTIONS)
        findings.append(
            SearchFinding(o.point, o.label, o.search_rate, dose, o.point.cost, o.evaluations)
        )
    # After every finding is confirmed: under a budget the back-off spends only what is left.
    for i, o in enumerate(confirmed):
        if config.backoff and findings[i].universality < BACKOFF_MIN:
            room = _room(oracle, config, oracle.queries - before, reserve)
            findings[i] = _back_off(confirm, o, findings[i], room)
    if config.max_queries is not None and config.screened == 0 and "mask" in config.spaces:
        patches = [f.probe for f in probes.findings if f.probe.family == "patch"]
        # A candidate no mask start fired for was searched without the screen's strokes and
        # sprinkles (a budget's search draws neither): the screen may take it up.
        shrunk = [
            t for t in labels if any(o.label == t and o.point.space == "mask" for o in outcomes)
        ]
        more, found = _leftover(
            ev, confirm, config, shrunk, patches, own["leftover"], before, reserve
        )
        outcomes += more
        findings += found
    findings.sort(key=lambda fd: (-fd.universality, fd.cost))
    return SearchResult(
        tuple(findings),
        tuple(labels),
        len(search_idx),
        len(confirm_idx),
        oracle.queries - before,
        seconds=time.perf_counter() - started,
        screened=tuple(
            sorted({o.label for o in outcomes if o.point.space == "mask"} - set(labels))
        ),
    )
