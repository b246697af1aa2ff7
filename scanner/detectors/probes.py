"""Trigger-like probes: hard-label evidence of a label that many small, input-agnostic changes
send every class to.

A backdoor is a universal shortcut: one pattern moves inputs of every class to the target. So
instead of planes between natural images, we apply random members of generic trigger families
(a patch, a blended pattern, a smooth low-frequency field, a periodic signal, a small warp) to
clean samples of every class and look at where the flipped labels land. The families are
generic perturbations from the backdoor literature, drawn at random, never fitted to a model;
each is a class in `scanner.detectors.families`' registry. What they miss, the trigger search
(`scanner.detectors.search`) looks for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from scanner.backends.base import LabelOracle
from scanner.detectors.families import (
    FAMILIES,
    MAGNITUDES,
    REGISTRY,
    STRONG_FROM,
    Trigger,
    make_trigger,
    patch_positions,
    patch_size,
    warp,
)

# Re-exported: research tools and remediation import them from here.
__all__ = [
    "FAMILIES",
    "MAGNITUDES",
    "STRONG_FROM",
    "Probe",
    "ProbeConfig",
    "ProbeFinding",
    "ProbeResult",
    "Trigger",
    "make_trigger",
    "patch_positions",
    "patch_size",
    "run_probes",
    "universality",
    "warp",
]

CONFIRM_PER_CLASS = 20
# Under screening, the probes of each label and tier (subtle-or-visible, strong) that go on.
SCREEN_KEEP = 2
# Hand-set: under a budget's probe count, the corner patches are kept whole while they take at
# most this share of it (`thin_out`).
WHOLE_MAX_SHARE = 0.34


def screen_survivors_max(num_classes: int, config: ProbeConfig) -> int:
    """The most probes a screen passes on (the plan counts on it)."""
    return 2 * SCREEN_KEEP * num_classes + 2 * config.confirm_top


@dataclass(frozen=True)
class ProbeConfig:
    samples_per_class: int = 6  # search samples; up to 20 more per class confirm
    instances: int = 24  # random draws per global family and strength
    confirm_top: int = 5  # most consistent probes re-tested beside each label's best
    families: tuple[str, ...] = FAMILIES
    seed: int = 0
    # Set by a query budget (scanner.plan); None: every probe, every candidate confirmed.
    max_probes: int | None = None  # an evenly spaced subset of each family's levels
    max_confirm: int | None = None  # candidates confirmed, the most telling first
    # Successive halving (a budget's): every probe on this many samples per class first, then
    # the screen's best (SCREEN_KEEP per label and tier, 2 x confirm_top by consistency) on
    # the rest of the search samples. None: every probe on every search sample.
    screen_per_class: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Probe:
    """One trigger-like perturbation, rebuilt exactly from these fields."""

    family: str
    strength: int
    position: tuple[int, ...] | None
    seed: int
    magnitude: float | None = None  # None: the strength's entry in MAGNITUDES

    @property
    def strong(self) -> bool:
        start = STRONG_FROM.get(self.family)
        return start is not None and self.strength >= start

    def trigger(self, shape: tuple[int, int, int]) -> Trigger:
        return make_trigger(
            self.family,
            self.strength,
            shape,
            np.random.default_rng(self.seed),
            self.position,
            self.magnitude,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "strength": self.strength,
            "magnitude": self.magnitude,
            "position": None if self.position is None else list(self.position),
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Probe:
        pos = d.get("position")
        mag = d.get("magnitude")
        return cls(
            d["family"],
            int(d["strength"]),
            None if pos is None else tuple(pos),
            int(d["seed"]),
            None if mag is None else float(mag),
        )


def probe_set(shape: tuple[int, int, int], config: ProbeConfig) -> list[Probe]:
    """Every probe of a scan: patches at every position, gratings over orientation, frequency
    and phase, and random draws of the global families; at each of the family's strengths."""
    rng = np.random.default_rng(config.seed)
    probes: list[Probe] = []
    # Strong probes come last, so that adding them left every other probe's seed as it was.
    levels = [
        (family, strength)
        for family in config.families
        for strength in range(len(MAGNITUDES[family]))
    ]
    levels.sort(key=lambda fs: Probe(fs[0], fs[1], None, 0).strong)
    for family, strength in levels:
        positions = REGISTRY[family].positions(shape, strength, config.instances)
        probes.extend(Probe(family, strength, pos, int(rng.integers(2**31))) for pos in positions)
    # Members added later (the corner patches) come after all of them, for the same reason.
    first_added = len(probes)
    for family, strength in levels:
        added = REGISTRY[family].added_positions(shape, strength)
        probes.extend(Probe(family, strength, pos, int(rng.integers(2**31))) for pos in added)
    if config.max_probes is not None and config.max_probes < len(probes):
        return thin_out(probes, config.max_probes, whole=range(first_added, len(probes)))
    return probes


def thin_out(probes: list[Probe], keep: int, whole: Sequence[int] = ()) -> list[Probe]:
    """About `keep` of `probes`: the same share of every family and strength (at least one
    each), evenly spaced over positions and draws, each probe exactly as in the full set.

    `whole` (the corner patches) are kept, all of them, when they take at most
    `WHOLE_MAX_SHARE` of `keep`, in place of as many of their level's other members (the
    tiled patches); every other level keeps exactly the members it kept without them. Why:
    thinned with the rest, a small stamp one or two pixels in from a corner, where
    BadNets-style triggers sit, was missed under `--profile api` that the full set's corner
    probe found (docs/results.md, the twenty-ninth set)."""
    protected = set(whole) if len(whole) <= WHOLE_MAX_SHARE * keep else set()
    levels: dict[str, list[int]] = {}
    for i, p in enumerate(probes):
        levels.setdefault(level_key(p), []).append(i)
    share = keep / len(probes)
    kept: list[int] = []
    for members in levels.values():
        n = max(1, int(share * len(members)))
        corners = [i for i in members if i in protected]
        if corners:
            kept.extend(corners)
            members = [i for i in members if i not in protected]
            n = max(1, n - len(corners))
        if not members:
            continue
        picks = np.linspace(0, len(members) - 1, n).round().astype(int)
        kept.extend(members[k] for k in np.unique(picks))
    return [probes[i] for i in sorted(kept)]


def flip_rates_by_class(
    oracle: LabelOracle,
    probes: list[Probe],
    xs: np.ndarray,
    ys: np.ndarray,
    to_model: Callable[[np.ndarray], np.ndarray],
    num_classes: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(F, sources): F[i, k, t] is the share of class-`sources[k]` samples that probe i sends to
    label t, for the classes present in `ys` only. Memory grows with the classes the data covers
    times the model's outputs, not outputs squared (a 1,000-class model with data of ten
    classes needs 10 rows per probe, not 1,000).

    Many probes go into one oracle call: per-call overhead, not the model, dominated the
    scan time of small models when each probe was its own call.
    """
    shape = xs.shape[1:]
    sources, row = np.unique(ys, return_inverse=True)
    per_call = max(1, oracle.batch_size // max(len(xs), 1))
    counts = np.bincount(row, minlength=len(sources))
    out = np.zeros((len(probes), len(sources), num_classes))
    for start in range(0, len(probes), per_call):
        chunk = probes[start : start + per_call]
        # Each probe's images cast straight into one float32 array, then clipped in place: the
        # same values as concatenating and clipping in float64 first (rounding is monotonic and
        # 0 and 1 are exact), with two fewer float64 copies of the chunk on large images.
        points = np.empty((len(chunk) * len(xs), *shape), dtype=np.float32)
        for k, p in enumerate(chunk):
            points[k * len(xs) : (k + 1) * len(xs)] = p.trigger(shape)(xs)  # type: ignore[arg-type]
        np.clip(points, 0, 1, out=points)
        pred = oracle(to_model(points))
        pred = np.clip(pred, 0, num_classes - 1).reshape(len(chunk), len(xs))
        for k in range(len(chunk)):
            np.add.at(out[start + k], (row, pred[k]), 1.0)
    return out / np.maximum(counts[None, :, None], 1), sources


def flip_rates(
    oracle: LabelOracle,
    probes: list[Probe],
    xs: np.ndarray,
    ys: np.ndarray,
    to_model: Callable[[np.ndarray], np.ndarray],
    num_classes: int,
) -> np.ndarray:
    """F[i, s, t] over every class s (rows of absent classes are zero): `flip_rates_by_class`
    spread out, for research tools that index by class."""
    f, sources = flip_rates_by_class(oracle, probes, xs, ys, to_model, num_classes)
    out = np.zeros((len(probes), num_classes, num_classes))
    out[:, sources, :] = f
    return out


UNIVERSALITY_QUANTILE = 0.25
# A probe "reaches" a label for the breadth statistic at this search universality: the level
# `per_label_hits` has always used.
BREADTH_HIT = 0.5


def level_key(probe: Probe) -> str:
    """ "family/strength": the group of probes that differ only in position, pattern or seed."""
    return f"{probe.family}/{probe.strength}"


def _by_source(f: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, their class labels) from either a full F[s, t] with a boolean `present` mask, or
    F's rows for the present classes with their labels (`flip_rates_by_class`)."""
    if present.dtype == bool:
        labels = np.flatnonzero(present)
        return f[labels], labels
    return f, present.astype(np.int64)


def universality(f: np.ndarray, present: np.ndarray) -> np.ndarray:
    """U[t]: lower quartile over the other present classes s of F[s, t]: the share of samples
    that one probe sends to t from at least three quarters of the other classes.

    A backdoor target draws every class under its trigger; a natural 'sink' label (texture or
    noise sends some classes to it) draws a subset. The median let a sink that took half the
    classes pass as universal; the lower quartile separated the zoo's clean and backdoored
    models better (docs/verdict.md)."""
    rows, labels = _by_source(f, present)
    out = np.zeros(f.shape[1])
    if not len(labels):
        return out
    masked = rows.astype(np.float64, copy=True)
    masked[np.arange(len(labels)), labels] = np.nan  # a class sent to its own label
    counted = (~np.isnan(masked)).any(axis=0)
    if counted.any():
        out[counted] = np.nanquantile(masked[:, counted], UNIVERSALITY_QUANTILE, axis=0)
    return out


def universality_all(f: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """`universality` of every probe at once: F (probes, sources, labels) as
    `flip_rates_by_class` gives it, with its source labels. One quantile per label over all
    probes instead of one per probe (the per-probe call was a third of a small model's scan);
    the figures are the same, tested against `universality`."""
    out = np.zeros((f.shape[0], f.shape[2]))
    labels = sources.astype(np.int64)
    for t in range(f.shape[2]):
        others = labels != t
        if others.any():
            cols = f[:, others, t].astype(np.float64)
            out[:, t] = np.quantile(cols, UNIVERSALITY_QUANTILE, axis=1)
    return out


def consistency(f: np.ndarray, present: np.ndarray) -> float:
    """Median over present classes of the largest share sent to one other label: high when a
    probe sends each class somewhere consistently, to one label or (all-to-all) to many."""
    rows, labels = _by_source(f, present)
    if not len(labels):
        return 0.0
    off = rows.copy()
    off[np.arange(len(labels)), labels] = 0.0
    return float(np.median(off.max(axis=1)))


def concentration(f: np.ndarray, present: np.ndarray) -> tuple[float, int | None]:
    """(share, label): the largest share of the other present classes whose top destination
    (the label, not their own, that the probe sends most of their samples to) is one label.

    Consistency says that classes move together; this says whether they move to one label
    (an all-to-one trigger: 1.0) or each to its own (an all-to-all backdoor, class i to i + 1:
    1 / (C - 1)). Classes the probe does not move at all have no destination."""
    rows, labels = _by_source(f, present)
    off = rows.copy()
    off[np.arange(len(labels)), labels] = 0.0
    others = len(labels) - 1
    moved = off.max(axis=1) > 0 if len(labels) else np.zeros(0, dtype=bool)
    if others <= 0 or not moved.any():
        return 0.0, None
    counts = np.bincount(off.argmax(axis=1)[moved], minlength=f.shape[1])
    t = int(counts.argmax())
    return float(counts[t]) / others, t


@dataclass(frozen=True)
class ProbeFinding:
    probe: Probe
    label: int  # the label it was selected for (or, if chosen for consistency, draws most)
    universality: float  # for `label`, confirmed on fresh samples
    consistency: float  # confirmed on fresh samples
    search_universality: float  # for `label`, on the search samples
    search_consistency: float  # on the search samples
    # `concentration` on the confirmation and the search samples, with the label each names
    # (0 and None in reports written before it existed).
    concentration: float = 0.0
    concentration_label: int | None = None
    search_concentration: float = 0.0
    search_concentration_label: int | None = None

    # What the verdict uses: the smaller of the search and the confirmed figure, so that a
    # probe counts only as far as two disjoint sets of samples agree on it.
    @property
    def agreed_universality(self) -> float:
        return min(self.universality, self.search_universality)

    @property
    def agreed_consistency(self) -> float:
        return min(self.consistency, self.search_consistency)

    @property
    def agreed_concentration(self) -> tuple[float, int | None]:
        """The smaller concentration when both sample sets name the same label, else (0, None)."""
        label = self.concentration_label
        if label is None or label != self.search_concentration_label:
            return 0.0, None
        return min(self.concentration, self.search_concentration), label

    def to_dict(self) -> dict[str, Any]:
        return {
            "probe": self.probe.to_dict(),
            "label": self.label,
            "universality": round(self.universality, 4),
            "consistency": round(self.consistency, 4),
            "search_universality": round(self.search_universality, 4),
            "search_consistency": round(self.search_consistency, 4),
            "concentration": round(self.concentration, 4),
            "concentration_label": self.concentration_label,
            "search_concentration": round(self.search_concentration, 4),
            "search_concentration_label": self.search_concentration_label,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProbeFinding:
        return cls(
            Probe.from_dict(d["probe"]),
            int(d["label"]),
            float(d["universality"]),
            float(d["consistency"]),
            float(d["search_universality"]),
            float(d.get("search_consistency", d["consistency"])),
            float(d.get("concentration", 0.0)),
            _label_or_none(d.get("concentration_label")),
            float(d.get("search_concentration", 0.0)),
            _label_or_none(d.get("search_concentration_label")),
        )


def _label_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class ProbeResult:
    findings: tuple[ProbeFinding, ...]  # confirmed candidates, strongest first
    # Over the subtle and visible probes (not the strong ones):
    per_label_search: tuple[float, ...]  # max search universality per label
    per_label_hits: tuple[int, ...]  # probes whose search universality for the label >= 0.5
    probes: int
    search_samples: int
    confirm_samples: int
    queries: int
    # Max search universality per label over the strong probes (empty: none were run).
    per_label_search_strong: tuple[float, ...] = ()
    # Per "family/strength" (e.g. "periodic/1"), per label: the share of that level's probes
    # whose search universality for the label is at least BREADTH_HIT. A natural sink answers
    # to most members of a family; a planted trigger to the few that resemble it (attribution).
    breadth: dict[str, tuple[float, ...]] = field(default_factory=dict)

    def breadth_of(self, probe: Probe, label: int) -> float | None:
        """The breadth of `probe`'s family and strength for `label` (None: not recorded)."""
        shares = self.breadth.get(level_key(probe))
        return None if shares is None or label >= len(shares) else shares[label]


def _screened(
    oracle: LabelOracle,
    probes: list[Probe],
    xs: np.ndarray,
    ys: np.ndarray,
    to_model: Callable[[np.ndarray], np.ndarray],
    num_classes: int,
    config: ProbeConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(F, sources, measured) as `flip_rates_by_class` gives F, by successive halving: every
    probe on the first `screen_per_class` search samples of each class, the screen's best on
    the others too. `measured[i]`: probe i's F is over every search sample (else the screen's)."""
    assert config.screen_per_class is not None
    first = np.zeros(len(ys), dtype=bool)
    for label in np.unique(ys):
        first[np.flatnonzero(ys == label)[: config.screen_per_class]] = True
    screen, sources = flip_rates_by_class(
        oracle, probes, xs[first], ys[first], to_model, num_classes
    )
    uni = universality_all(screen, sources)
    cons = np.array([consistency(f, sources) for f in screen])
    strong = np.array([p.strong for p in probes], dtype=bool)
    keep: set[int] = set()
    for tier in (~strong, strong):
        idx = np.flatnonzero(tier)
        for t in range(num_classes) if len(idx) else ():
            best = idx[np.argsort(-uni[idx, t], kind="stable")[:SCREEN_KEEP]]
            keep.update(int(i) for i in best if uni[i, t] > 0)
    weak = np.flatnonzero(~strong)
    most_consistent = weak[np.argsort(-cons[weak], kind="stable")][: 2 * config.confirm_top]
    keep.update(int(i) for i in most_consistent)
    survivors = sorted(keep)
    if not survivors or first.all():  # nothing more to measure: the screen is the search
        return screen, sources, np.ones(len(probes), dtype=bool)
    measured = np.zeros(len(probes), dtype=bool)
    rest, rest_sources = flip_rates_by_class(
        oracle, [probes[i] for i in survivors], xs[~first], ys[~first], to_model, num_classes
    )
    n_first = np.array([np.sum(ys[first] == c) for c in sources], dtype=float)
    n_rest = np.array([np.sum(ys[~first] == c) for c in sources], dtype=float)
    where = {int(c): k for k, c in enumerate(rest_sources)}
    out = screen.copy()
    for row, i in enumerate(survivors):
        for k, c in enumerate(sources):
            if int(c) in where and n_rest[k] > 0:
                both = screen[i, k] * n_first[k] + rest[row, where[int(c)]] * n_rest[k]
                out[i, k] = both / (n_first[k] + n_rest[k])
        measured[i] = True
    return out, sources, measured


def _most_telling(
    chosen: list[int],
    candidates: dict[int, int | None],
    uni: np.ndarray,
    cons: np.ndarray,
    strong: np.ndarray,
) -> list[int]:
    """Candidates in the order a budget keeps them: subtle or visible probes by their search
    universality (what the verdict's main test reads), then the most consistent ones (the
    all-to-all test), then strong probes (selectivity), each group strongest first."""

    def figure(i: int) -> float:
        label = candidates[i]
        return float(cons[i]) if label is None else float(uni[i, label])

    weak = [i for i in chosen if candidates[i] is not None and not strong[i]]
    spread = [i for i in chosen if candidates[i] is None]
    rest = [i for i in chosen if candidates[i] is not None and strong[i]]
    return [i for group in (weak, spread, rest) for i in sorted(group, key=figure, reverse=True)]


def split_samples(
    y: np.ndarray, clean_pred: np.ndarray, per_class: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Correctly classified samples of each class, split into disjoint search (up to
    `per_class`) and confirmation (up to CONFIRM_PER_CLASS) sets."""
    search, confirm = [], []
    for label in np.unique(y):
        ok = rng.permutation(np.flatnonzero((y == label) & (clean_pred == label)))
        if len(ok) < 2:
            continue
        half = min(per_class, len(ok) // 2)
        search.append(ok[:half])
        confirm.append(ok[half : half + CONFIRM_PER_CLASS])
    empty = np.zeros(0, dtype=np.int64)
    return (
        np.sort(np.concatenate(search)) if search else empty,
        np.sort(np.concatenate(confirm)) if confirm else empty,
    )


def run_probes(
    oracle: LabelOracle,
    x01: np.ndarray,
    y: np.ndarray,
    to_model: Callable[[np.ndarray], np.ndarray],
    num_classes: int,
    config: ProbeConfig,
    *,
    clean_pred: np.ndarray | None = None,
) -> ProbeResult:
    """`x01`: clean images (N, H, W, C) in [0, 1]; `to_model` maps them into model space;
    `clean_pred`: the model's labels for them when the caller has them already (no queries).

    Search: every probe on the search samples. Confirm: the strongest candidates again on
    disjoint samples, because the best of a thousand noisy estimates is biased upwards, also on
    a clean model; only confirmed figures reach the verdict.
    """
    rng = np.random.default_rng(config.seed + 1)
    before = oracle.queries
    if clean_pred is None:
        clean_pred = oracle(to_model(x01))
    search_idx, confirm_idx = split_samples(y, clean_pred, config.samples_per_class, rng)
    xs, ys = x01[search_idx], y[search_idx]
    xc, yc = x01[confirm_idx], y[confirm_idx]
    probes = probe_set(xs.shape[1:], config)  # type: ignore[arg-type]
    cons = np.zeros(len(probes))
    conc: list[tuple[float, int | None]] = []
    if config.screen_per_class is None:
        searched, present_s = flip_rates_by_class(oracle, probes, xs, ys, to_model, num_classes)
        measured = np.ones(len(probes), dtype=bool)
    else:
        searched, present_s, measured = _screened(
            oracle, probes, xs, ys, to_model, num_classes, config
        )
    uni = universality_all(searched, present_s)
    for i, f in enumerate(searched):
        cons[i] = consistency(f, present_s)
        conc.append(concentration(f, present_s))
    strong = np.array([p.strong for p in probes], dtype=bool)
    # Candidates: the best probe for each label among the subtle and visible probes and among
    # the strong ones (each confirmed for that label), and the most consistent subtle or
    # visible probes (confirmed for whichever label they send most to). Strong probes are left
    # out of consistency: a large patch or grating moves classes together on clean models too.
    candidates: dict[int, int | None] = {}  # probe index -> label it stands for (None: any)
    for tier in (~strong, strong):
        idx = np.flatnonzero(tier & measured)
        if not len(idx):
            continue
        for t in range(num_classes):
            i = int(idx[uni[idx, t].argmax()])
            if uni[i, t] > 0 and i not in candidates:
                candidates[i] = t
    cons_order = [int(i) for i in np.argsort(-cons) if not strong[i] and measured[i]]
    for i in cons_order[: config.confirm_top]:
        candidates.setdefault(i, None)
    findings = []
    chosen = list(candidates)
    if config.max_confirm is not None and len(chosen) > config.max_confirm:
        chosen = _most_telling(chosen, candidates, uni, cons, strong)[: config.max_confirm]
    confirmed, present_c = flip_rates_by_class(
        oracle, [probes[i] for i in chosen], xc, yc, to_model, num_classes
    )
    for i, f in zip(chosen, confirmed, strict=True):
        u = universality(f, present_c)
        label = candidates[i]
        best = int(u.argmax()) if label is None else label
        c_share, c_label = concentration(f, present_c)
        findings.append(
            ProbeFinding(
                probes[i],
                best,
                float(u[best]),
                consistency(f, present_c),
                float(uni[i, best]),
                float(cons[i]),
                c_share,
                c_label,
                conc[i][0],
                conc[i][1],
            )
        )
    findings.sort(key=lambda fd: (-fd.agreed_universality, -fd.agreed_consistency))
    weak_uni = uni[~strong] if (~strong).any() else np.zeros((1, num_classes))
    hits = tuple(int(v) for v in (weak_uni >= BREADTH_HIT).sum(axis=0))
    keys = [level_key(p) for p in probes]
    breadth = {}
    for key in dict.fromkeys(keys):
        rows = np.array([k == key for k in keys])
        breadth[key] = tuple(float(v) for v in (uni[rows] >= BREADTH_HIT).mean(axis=0))
    return ProbeResult(
        tuple(findings),
        tuple(float(v) for v in weak_uni.max(axis=0)),
        hits,
        len(probes),
        len(search_idx),
        len(confirm_idx),
        oracle.queries - before,
        tuple(float(v) for v in uni[strong].max(axis=0)) if strong.any() else (),
        breadth,
    )
