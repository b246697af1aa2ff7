"""Search spaces of the trigger search (`scanner.detectors.search`): one class per kind of
universal change, in an explicit registry.

A space knows how to apply a point of itself to images, at part strength too (`apply` with a
fraction; `graded` says whether that is a dose-response), how large it is (`cost`, a share in
[0, 1]) and which points to try first. The
search itself is the space's `search` method: every space gets the same `Evaluator`, which
answers "what share of the other classes' samples does this change send to each label" from
hard labels only, many changes per oracle call.

- `mask`: a stamp, T(x) = (1 - m) x + m P for a pixel mask m and a pattern P. Covers patches,
  scattered pixels, lines and watermarks of any shape. Searched by shrinking: start from a mask
  that already sends most samples to the label (a probe's patch, dense salt noise, or a straight
  stroke in a corner) and remove groups of pixels while it still does (delta debugging). A
  planted stamp survives with the few pixels the network learned; a natural sink needs much of
  the image.
- `transform`: a global geometric change (rotation, flips, scaling), a grid then a refinement
  of the angle.
- `curve`: a global tone curve (gamma, contrast S-curve, posterisation, inversion, faded blacks).
- `grating`: a sinusoidal grating added to every pixel (SIG's trigger, at any orientation,
  frequency and phase), a grid then a descent that tunes phase and frequency and lowers the
  amplitude while it still fires. The probes' gratings sit at four phases and six frequencies;
  a planted sine between them answers the nearest probe only in part.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from scanner.detectors.families import warp as _warp
from scanner.detectors.probes import Probe

# Hand-set. The mean flip rate to the label (over the other classes' search samples) a mask
# start must reach, and the least its shrink may fall to (it keeps SHRINK_KEEP where it can).
FIRE_MIN = 0.8
# Hand-set. The rate the mask search's shrink keeps (at most the start's own rate).
SHRINK_KEEP = 0.9
# Salt-noise starts of the mask search: share of pixels stamped, and their values.
NOISE_DENSITIES = (0.15, 0.3, 0.5)
NOISE_VALUES = ("white", "black", "random")
# Sparse starts (screening only): SPARSE_DRAWS sprinkles of white pixels, their densities taken in
# turn from SPARSE_DENSITIES (one density left some scattered-pixel nets unreached). Dense
# salt reads as a texture and goes to the natural sinks; a net trained on a few scattered white
# pixels answers a sparser sprinkle, but one draw reaches its label at anywhere from 0.2 to 0.9
# (docs/trigger-search.md, "Sparse starts"). So for up to GROW_LABELS labels that a sprinkle or a
# salt start sends GROW_MIN of the other classes to, the best of them is grown by random search
# (unless a probe patch or stroke already fires SHRINK_KEEP for the label): GROW_MUTANTS mutants a
# round, each moving GROW_MOVE of its pixels elsewhere, the best kept while it gains, for at
# most GROW_ROUNDS rounds or until it reaches SPARSE_KEEP. A sparse start is the best of many
# stamps on the same few search samples, so it overstates its rate on fresh ones: its shrink
# keeps SPARSE_KEEP rather than SHRINK_KEEP. Hand-set on the seen sets' scattered-pixel models.
SPARSE_DENSITIES = (0.06, 0.09, 0.12)
SPARSE_DRAWS = 12
SPARSE_KEEP = 0.96
GROW_MIN = 0.2
GROW_LABELS = 2
# Then up to GROW_CANDIDATES more, of the probes' candidate labels that the starts reach as
# well (GROW_MIN) and nothing fires for: a scattered-pixel target among the candidates lost
# both growths by reach to the natural sinks the sprinkles reach more; grown before them, the
# sinks' growth lost targets that were no candidate (docs/trigger-search.md, "Growing the
# candidates after the sinks"). Hand-set: a scan ranks three candidates.
GROW_CANDIDATES = 3
GROW_MUTANTS = 4
GROW_MOVE = 0.15
GROW_ROUNDS = 30
# Stroke starts of the mask search: a straight stroke in each corner, in each direction, white
# and black. Hand-set from the seen sets' strokes (docs/trigger-search.md): a BatchNorm net that
# learned a one-pixel stroke ignores filled patches and salt noise in its corner, yet answers a
# straight stroke of the same direction at other lengths. Length and width scale with the image.
STROKE_SHAPES = ("horizontal", "vertical", "diagonal", "anti")
STROKE_CORNERS = ("tl", "tr", "bl", "br")
STROKE_VALUES = (1.0, 0.0)
STROKE_SPAN = 8 / 28  # length as a share of the image's shorter side (8 pixels at 28)
STROKE_UNIT = 1 / 28  # width and margin from the edge, the same way (1 pixel at 28)
# Evaluations per label the mask search may spend shrinking (each one pass over its samples).
MASK_EVALS = 160
# Hand-set. The shrink ends at a stamp that still fires on the few search samples per class; cut
# to that edge, it can fire on fewer fresh ones (docs/trigger-search.md, "Backing off a shrink
# that went too far"). The last BACKOFF_STEPS larger stamps it passed through go with the
# outcome, for the confirmation to back off to (`search.BACKOFF_MIN`).
BACKOFF_STEPS = 3
# Largest number of pixel groups tried in one pass of the shrink.
MASK_GROUPS_MAX = 48
# Global spaces (transform, curve) refine the grid's best point only for labels it already
# sends this mean share of the other classes to; rounds and mutants per round of the curve's.
REFINE_MIN = 0.3
CURVE_ROUNDS = 3
CURVE_MUTANTS = 6
# The grating space: a grid of orientations (degrees), whole cycles across the image and phases
# at GRATING_GRID_AMP, for every label at once; then, for up to GRATING_LABELS labels the grid
# sends REFINE_MIN of the other classes to (the most first), a descent of up to GRATING_ROUNDS
# rounds: the phase and frequency a step either side, at the same amplitude and at
# GRATING_AMP_STEP of it (the steps halve after a round that found nothing better; a second
# such round ends it). The order is `_better`'s, so the descent ends at the smallest amplitude
# it found that still fires: that amplitude is the finding's size, as the stamp's pixels are.
# Hand-set (not fitted) after a look at fixed gratings' pull on the seen sets 13-30; the grid's
# amplitude is the zoo's SIG test amplitude (0.3), below the probes' strong 0.35.
GRATING_ANGLES = (0.0, 45.0, 90.0, 135.0)
GRATING_FREQS = (2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0)
GRATING_PHASES = 8
GRATING_GRID_AMP = 0.3
GRATING_LABELS = 3
GRATING_ROUNDS = 12
GRATING_AMP_STEP = 0.85
GRATING_PHASE_STEP = np.pi / 8
GRATING_FREQ_STEP = 0.5
# Under a query budget (`BUDGET_SPACES`, scanner.plan) the grating space is coarser: the two
# axes images are sampled along (where the SIG attack and its row variant draw their sines),
# GRATING_BUDGET_PHASES phases (at most pi/4 from any sine's), screened on
# GRATING_BUDGET_SCREEN_PER_CLASS search samples per class, of which the GRATING_BUDGET_KEEP
# points that send the most to one label are measured on all; one label refined, by a descent
# whose every step lowers the amplitude (the 5 lowered of the 9 steps). That, with
# GRATING_BUDGET_ROUNDS such rounds, is held for it from the stage's share (search.run_search),
# so that it can reach the amplitude cap from the grid's 0.3 (0.85^5 * 0.3 = 0.133). Hand-set,
# not fitted; judged on the thirty-third set (docs/usage.md).
GRATING_BUDGET_ANGLES = (0.0, 90.0)
GRATING_BUDGET_PHASES = 4
GRATING_BUDGET_SCREEN_PER_CLASS = 1
GRATING_BUDGET_KEEP = 12
GRATING_BUDGET_LABELS = 1
GRATING_BUDGET_ROUNDS = 5


class Evaluator(Protocol):
    """Hard-label flip rates of candidate changes on the search samples."""

    shape: tuple[int, int, int]

    def rates(self, changes: Sequence[Callable[[np.ndarray], np.ndarray]]) -> np.ndarray:
        """R[i, t]: the mean share of samples of classes other than t that change i sends to
        label t (each class weighted equally)."""
        ...

    def remaining_evals(self) -> int:
        """Changes the stage's query allowance still pays for (a query budget's plan caps the
        search; a space stops, keeping what it has found, rather than ask for more)."""
        ...

    def subset(self, per_class: int) -> Evaluator:
        """The same on the first `per_class` search samples of each class, spending from this
        one's allowance."""
        ...


@dataclass(frozen=True)
class Point:
    """One change of a space, rebuilt from JSON-able parameters."""

    space: str
    params: dict[str, Any]

    def apply(self, x: np.ndarray, fraction: float = 1.0) -> np.ndarray:
        return SPACES[self.space].apply(self.params, x, fraction)

    @property
    def cost(self) -> float:
        return SPACES[self.space].cost(self.params)

    def to_dict(self) -> dict[str, Any]:
        return {"space": self.space, "params": self.params}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Point:
        if d.get("space") not in SPACES:
            raise ValueError(
                f"unknown search space {d.get('space')!r}; expected one of {list(SPACES)}"
            )
        return cls(str(d["space"]), dict(d["params"]))


@dataclass(frozen=True)
class Outcome:
    """The best point a space found for one label, and what finding it cost."""

    point: Point
    label: int
    search_rate: float  # mean flip rate to the label on the search samples
    evaluations: int
    # Larger points the search passed through on its way to `point` (the mask's shrink), each
    # with its search rate, the nearest first: what the confirmation may back off to.
    fallbacks: tuple[tuple[Point, float], ...] = ()


class Space(Protocol):
    name: ClassVar[str]
    all_labels: ClassVar[bool]  # True: searched for every label, else for the candidates
    # True: `apply(..., fraction)` is the change at part strength (a tone curve: a push on every
    # pixel's value, as the probes' blends and gratings are, so it can reach their natural sinks).
    graded: ClassVar[bool]

    def apply(self, params: dict[str, Any], x: np.ndarray, fraction: float) -> np.ndarray: ...

    def cost(self, params: dict[str, Any]) -> float: ...

    def search(
        self,
        ev: Evaluator,
        labels: Sequence[int],
        starts: Sequence[Probe],
        rng: np.random.Generator,
        screened: int = 0,  # labels a space may add from its own screening (mask only)
        exclude: Sequence[int] = (),  # labels its screening skips (searched before)
    ) -> list[Outcome]: ...


def _better(rate: float, cost: float, best_rate: float, best_cost: float) -> bool:
    """The search's order on changes: firing (rate >= FIRE_MIN) beats not firing; among firing
    ones the smaller change wins (a trigger needs little; a natural sink needs much), among the
    others the higher rate."""
    if (rate >= FIRE_MIN) != (best_rate >= FIRE_MIN):
        return rate >= FIRE_MIN
    if rate >= FIRE_MIN:
        return cost < best_cost or (cost == best_cost and rate > best_rate)
    return rate > best_rate


def _pick(
    points: Sequence[dict[str, Any]], rates: np.ndarray, cost: Callable[[dict[str, Any]], float]
) -> int:
    best = 0
    for i in range(1, len(points)):
        if _better(float(rates[i]), cost(points[i]), float(rates[best]), cost(points[best])):
            best = i
    return best


def _mask_params(mask: np.ndarray, pattern: np.ndarray) -> dict[str, Any]:
    """A mask and pattern as JSON-able lists: the stamped pixels and their values."""
    rows, cols = np.nonzero(mask)
    return {
        "shape": list(pattern.shape),
        "pixels": [[int(r), int(c)] for r, c in zip(rows, cols, strict=True)],
        "values": [
            [round(float(v), 4) for v in pattern[r, c]] for r, c in zip(rows, cols, strict=True)
        ],
    }


def mask_arrays(params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(mask (H, W) bool, pattern (H, W, C) float32) from a mask point's parameters."""
    h, w, c = (int(v) for v in params["shape"])
    mask = np.zeros((h, w), dtype=bool)
    pattern = np.zeros((h, w, c), dtype=np.float32)
    for (r, col), vals in zip(params["pixels"], params["values"], strict=True):
        mask[r, col] = True
        pattern[r, col] = vals
    return mask, pattern


def _stamp(mask: np.ndarray, pattern: np.ndarray, fraction: float = 1.0):
    m = (fraction * mask.astype(np.float32))[None, :, :, None]

    def apply(x: np.ndarray) -> np.ndarray:
        return (1 - m) * x + m * pattern[None]

    return apply


def stroke_mask(h: int, w: int, shape: str, corner: str) -> np.ndarray:
    """(h, w) bool: a straight stroke of `shape` (STROKE_SHAPES) in the box at `corner`
    (STROKE_CORNERS); horizontal and vertical ones run through the box's middle."""
    side = min(h, w)
    length = max(3, round(STROKE_SPAN * side))
    unit = max(1, round(STROKE_UNIT * side))
    r0 = unit if corner[0] == "t" else h - unit - length
    c0 = unit if corner[1] == "l" else w - unit - length
    i = np.arange(length)
    mid = np.full(length, length // 2)
    rows, cols = {
        "horizontal": (mid, i),
        "vertical": (i, mid),
        "diagonal": (i, i),
        "anti": (length - 1 - i, i),
    }[shape]
    mask = np.zeros((h, w), dtype=bool)
    for d in range(unit):  # widen across the stroke's direction
        dr, dc = (d, 0) if shape != "vertical" else (0, d)
        mask[np.clip(r0 + rows + dr, 0, h - 1), np.clip(c0 + cols + dc, 0, w - 1)] = True
    return mask


def stroke_starts(shape: tuple[int, int, int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The mask search's stroke starts (mask, pattern): every shape, corner and value."""
    h, w, c = shape
    return [
        (stroke_mask(h, w, s, corner), np.full((h, w, c), v, dtype=np.float32))
        for s in STROKE_SHAPES
        for corner in STROKE_CORNERS
        for v in STROKE_VALUES
    ]


def start_count(probe_starts: int, strokes: bool) -> int:
    """How many start stamps the mask search evaluates, given the probes' patches."""
    drawn = len(STROKE_SHAPES) * len(STROKE_CORNERS) * len(STROKE_VALUES) if strokes else 0
    return probe_starts + len(NOISE_DENSITIES) * len(NOISE_VALUES) + drawn


def sparse_evals() -> int:
    """The most evaluations the sparse starts (draws and growth) may spend in one search."""
    return SPARSE_DRAWS + (GROW_LABELS + GROW_CANDIDATES) * GROW_MUTANTS * GROW_ROUNDS


def grating_evals() -> int:
    """The most evaluations the grating space spends in one search: its grid and every
    descent round of every label it refines (9 neighbours a round)."""
    return len(GratingSpace().grid()) + GRATING_LABELS * GRATING_ROUNDS * 9


def grating_budget_queries(samples_per_class: int, classes: int) -> int:
    """The queries held for the budget's grating space: its grid screened, the points it keeps
    and GRATING_BUDGET_ROUNDS descent rounds of its one label (5 lowered steps a round) on
    every search sample."""
    screen = len(BudgetGratingSpace().grid()) * min(
        GRATING_BUDGET_SCREEN_PER_CLASS, samples_per_class
    )
    evals = GRATING_BUDGET_KEEP + GRATING_BUDGET_LABELS * GRATING_BUDGET_ROUNDS * 5
    return (screen + evals * samples_per_class) * classes


def screened_labels(start_rates: np.ndarray, labels: Sequence[int], count: int) -> list[int]:
    """Up to `count` labels beyond `labels` that some start stamp already sends FIRE_MIN of the
    other classes to, the most reached first. The probes rank the candidates by their own
    families; a trigger none of them resembles (scattered pixels) can still answer to dense salt
    noise, and the starts' hard labels say where every sample went at no extra query."""
    reach = start_rates.max(axis=0) if len(start_rates) else np.zeros(0)
    order = sorted(range(len(reach)), key=lambda t: (-reach[t], t))
    return [t for t in order if t not in labels and reach[t] >= FIRE_MIN][:count]


class MaskSpace:
    name: ClassVar[str] = "mask"
    # Searched per candidate label only: each label costs a shrink.
    all_labels: ClassVar[bool] = False
    # The shrink leaves the fewest pixels that still fire: at part opacity they no longer do,
    # planted or not, so its size (`cost`), not a dose-response, says how much it takes.
    graded: ClassVar[bool] = False

    def apply(self, params: dict[str, Any], x: np.ndarray, fraction: float = 1.0) -> np.ndarray:
        mask, pattern = mask_arrays(params)
        return _stamp(mask, pattern, fraction)(x)

    def cost(self, params: dict[str, Any]) -> float:
        h, w, _ = params["shape"]
        return len(params["pixels"]) / float(h * w)

    @staticmethod
    def _from_probe(probe: Probe, shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """A probe's stamp: the pixels it sets to the same value on a black and a white image."""
        trig = probe.trigger(shape)
        lo = trig(np.zeros((1, *shape), dtype=np.float32))[0]
        hi = trig(np.ones((1, *shape), dtype=np.float32))[0]
        mask = np.all(np.abs(lo - hi) < 1e-6, axis=2)
        return mask, lo.astype(np.float32)

    def starts(
        self,
        shape: tuple[int, int, int],
        probes: Sequence[Probe],
        rng: np.random.Generator,
        strokes: bool = True,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Start stamps: the probes' patches, salt noise and (when `strokes`) corner strokes."""
        h, w, c = shape
        out = []
        for p in probes:
            mask, pattern = self._from_probe(p, shape)
            if mask.any():
                out.append((mask, pattern))
        for density in NOISE_DENSITIES:
            for kind in NOISE_VALUES:
                mask = rng.random((h, w)) < density
                if kind == "white":
                    pattern = np.ones((h, w, c), dtype=np.float32)
                elif kind == "black":
                    pattern = np.zeros((h, w, c), dtype=np.float32)
                else:
                    pattern = (rng.random((h, w, c)) < 0.5).astype(np.float32)
                out.append((mask, pattern))
        # After the noise: the strokes draw nothing, so the noise starts stay as they were.
        return (out + stroke_starts(shape)) if strokes else out

    def shrink(
        self,
        ev: Evaluator,
        label: int,
        mask: np.ndarray,
        pattern: np.ndarray,
        rate: float,
        rng: np.random.Generator,
        evals: int,
        keep_at: float = SHRINK_KEEP,
    ) -> tuple[np.ndarray, float, int, list[tuple[np.ndarray, float]]]:
        """Remove groups of pixels while the stamp keeps sending `keep_at` of the samples to
        `label` (ddmin-style: more, smaller groups when no group can go). Returns the mask,
        its rate, the evaluations spent and the larger masks it passed through (with their
        rates, the start first)."""
        used = 0
        trail: list[tuple[np.ndarray, float]] = []
        groups = 4
        # Shrinking to exactly FIRE_MIN on a few samples per class leaves a stamp at the edge of
        # firing, which fresh samples then read lower: keep `keep_at` (or the start's rate).
        keep = min(keep_at, rate)
        while used < evals:
            idx = np.flatnonzero(mask.ravel())
            if len(idx) <= 1:
                break
            groups = min(groups, len(idx), MASK_GROUPS_MAX, evals - used)
            parts = np.array_split(rng.permutation(idx), groups)
            trials = []
            for part in parts:
                m = mask.copy().ravel()
                m[part] = False
                trials.append(m.reshape(mask.shape))
            fits = ev.rates([_stamp(m, pattern) for m in trials])[:, label]
            used += len(trials)
            ok = np.flatnonzero(fits >= keep)
            if len(ok) == 0:
                if groups >= min(len(idx), MASK_GROUPS_MAX):
                    break
                groups = min(len(idx), 2 * groups)
                continue
            best = int(ok[np.argmax(fits[ok])])
            chosen, chosen_rate = trials[best], float(fits[best])
            if len(ok) > 1 and used < evals:
                flat = mask.copy().ravel()
                for i in ok:
                    flat[parts[i]] = False
                combined = flat.reshape(mask.shape)
                r = float(ev.rates([_stamp(combined, pattern)])[0, label])
                used += 1
                if r >= keep:
                    chosen, chosen_rate = combined, r
            trail.append((mask, rate))
            mask, rate = chosen, chosen_rate
            groups = max(groups - 1, 2)
        return mask, rate, used, trail

    def grow(
        self,
        ev: Evaluator,
        label: int,
        mask: np.ndarray,
        pattern: np.ndarray,
        rates: np.ndarray,
        rng: np.random.Generator,
        evals: int,
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Random search on where the stamp's pixels sit: each round moves GROW_MOVE of them to
        random free places in GROW_MUTANTS ways and keeps the best mutant when it sends more
        samples to `label`, until SPARSE_KEEP is reached. `rates`: the stamp's rates to every
        label. Returns the mask, its rates and the evaluations spent."""
        used = 0
        rate = float(rates[label])
        for _ in range(GROW_ROUNDS):
            if rate >= SPARSE_KEEP or used + GROW_MUTANTS > evals:
                break
            on, off = np.flatnonzero(mask.ravel()), np.flatnonzero(~mask.ravel())
            moved = max(1, int(GROW_MOVE * len(on)))
            if len(off) < moved:
                break
            mutants = []
            for _ in range(GROW_MUTANTS):
                m = mask.copy().ravel()
                m[rng.choice(on, moved, replace=False)] = False
                m[rng.choice(off, moved, replace=False)] = True
                mutants.append(m.reshape(mask.shape))
            fits = ev.rates([_stamp(m, pattern) for m in mutants])
            used += GROW_MUTANTS
            best = int(np.argmax(fits[:, label]))
            if fits[best, label] > rate:
                mask, rates, rate = mutants[best], fits[best], float(fits[best, label])
        return mask, rates, used

    def _sparse_starts(
        self,
        ev: Evaluator,
        candidates: Sequence[tuple[np.ndarray, np.ndarray]],
        rates_now: np.ndarray,
        salt: Sequence[int],
        rng: np.random.Generator,
        exclude: Sequence[int] = (),
        ranked: Sequence[int] = (),
    ) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, int]:
        """The sparse starts: SPARSE_DRAWS sprinkles, then, for each of up to GROW_LABELS
        labels that the sprinkles or the salt-noise starts (`salt`: their indices in
        `candidates`) reach (GROW_MIN) and no other start fires SHRINK_KEEP for, the best of
        those grown (none of `exclude`), most reached first; then as many as GROW_CANDIDATES
        more of those that are among `ranked` (the probes' candidates). Returns the starts (the
        draws, then the grown ones), their rates and the evaluations spent."""
        h, w, c = ev.shape
        white = np.ones((h, w, c), dtype=np.float32)
        doses = [SPARSE_DENSITIES[i % len(SPARSE_DENSITIES)] for i in range(SPARSE_DRAWS)]
        draws = [(rng.random((h, w)) < d, white) for d in doses]
        if len(draws) > ev.remaining_evals():
            return [], np.zeros((0, rates_now.shape[1])), 0
        rates = ev.rates([_stamp(m, p) for m, p in draws])
        used = len(draws)
        pool = [*(candidates[i] for i in salt), *draws]
        pool_rates = np.concatenate([rates_now[list(salt)], rates])
        others = [i for i in range(len(candidates)) if i not in set(salt)]
        fired = rates_now[others].max(axis=0) if others else np.zeros(rates.shape[1])
        reach = pool_rates.max(axis=0)
        order = sorted(range(len(reach)), key=lambda t: (-reach[t], t))
        grow = [
            t
            for t in order
            if GROW_MIN <= reach[t] < SPARSE_KEEP and fired[t] < SHRINK_KEEP and t not in exclude
        ]
        starts, rows = list(draws), [rates]
        later = [t for t in grow[GROW_LABELS:] if t in ranked][:GROW_CANDIDATES]
        for label in [*grow[:GROW_LABELS], *later]:
            i = int(np.argmax(pool_rates[:, label]))
            # Under a cap, growth takes at most half of what is left: the rest is the shrink's.
            budget = min(GROW_MUTANTS * GROW_ROUNDS, ev.remaining_evals() // 2)
            mask, pattern = pool[i]
            mask, row, spent = self.grow(ev, label, mask, pattern, pool_rates[i], rng, budget)
            used += spent
            if spent:
                starts.append((mask, pattern))
                rows.append(row[None])
        return starts, np.concatenate(rows), used

    def search(
        self,
        ev: Evaluator,
        labels: Sequence[int],
        starts: Sequence[Probe],
        rng: np.random.Generator,
        screened: int = 0,
        exclude: Sequence[int] = (),
    ) -> list[Outcome]:
        """Shrink a firing start stamp for each of `labels`, and for up to `screened` more that a
        start already reaches (none of `exclude`: labels searched before)."""
        # The strokes and sparse starts serve screening: their label is one no probe ranks (a
        # search under a budget screens nothing, and spends its few queries on the shrink).
        candidates = self.starts(ev.shape, starts, rng, strokes=screened > 0)
        if len(candidates) > ev.remaining_evals():
            return []
        start_rates = ev.rates([_stamp(m, p) for m, p in candidates])
        # Spawned children (spawning leaves `rng`'s stream as it was): the first for the screened
        # labels' shrinks, the second for the sparse starts.
        own, sparse_gen = rng.spawn(2)
        keep_at = [SHRINK_KEEP] * len(candidates)
        spent = len(candidates)  # evaluations before the shrink: the starts, the growth
        if screened > 0:
            # Screening drew the strokes too: the salt starts sit just before them.
            noise = len(NOISE_DENSITIES) * len(NOISE_VALUES)
            first = (
                len(candidates)
                - noise
                - len(STROKE_SHAPES) * len(STROKE_CORNERS) * len(STROKE_VALUES)
            )
            salt = range(first, first + noise)
            sparse, sparse_rates, grown = self._sparse_starts(
                ev, candidates, start_rates, salt, sparse_gen, exclude, labels
            )
            spent += grown
            candidates += sparse
            start_rates = np.concatenate([start_rates, sparse_rates])
            keep_at += [SPARSE_KEEP] * len(sparse)
        out = []
        extra = screened_labels(start_rates, [*labels, *exclude], screened)

        def start_for(label: int) -> int | None:
            """The start a label's shrink begins from: the smallest that fires at the rate the
            shrink keeps (one that fires less leaves a stamp at the edge of firing, read lower
            on fresh samples), else the smallest firing one: fewer pixels to remove, and a
            probe's patch when one fires. None: no start fires."""
            firing = [i for i in range(len(candidates)) if start_rates[i, label] >= FIRE_MIN]
            if not firing:
                return None
            return min(
                firing,
                key=lambda k: (
                    start_rates[k, label] < SHRINK_KEEP,
                    candidates[k][0].sum(),
                    -start_rates[k, label],
                ),
            )

        if ev.remaining_evals() < len(extra) * MASK_EVALS:
            # Under a cap too small to shrink every screened label in full, the label whose
            # start is smaller by its power of two goes first (ties keep the screen's order): a
            # planted stamp often starts from a sparse draw of a few dozen pixels and reaches the
            # verdict's cost cap in a few passes, where a natural sink fires only from hundreds
            # of pixels of salt and rarely gets there. Two salt starts of 383 and 401 pixels say
            # nothing about which is planted (docs/trigger-search.md).
            extra.sort(key=lambda t: int(candidates[start_for(t) or 0][0].sum()).bit_length())
        # The screened labels draw from their own generator, so that the candidates and the later
        # spaces search exactly as without them.
        for label, gen in [*((t, rng) for t in labels), *((t, own) for t in extra)]:
            i = start_for(label)
            if i is None:
                continue
            mask, pattern = candidates[i]
            # Anytime: the shrink keeps a firing stamp at every step, so a cut-short one is
            # still a trigger, only larger.
            evals = min(MASK_EVALS, ev.remaining_evals())
            mask, rate, used, trail = self.shrink(
                ev, label, mask, pattern, float(start_rates[i, label]), gen, evals, keep_at[i]
            )
            out.append(
                Outcome(
                    Point(self.name, _mask_params(mask, pattern)),
                    label,
                    rate,
                    spent + used,
                    tuple(
                        (Point(self.name, _mask_params(m, pattern)), r)
                        for m, r in reversed(trail[-BACKOFF_STEPS:])
                    ),
                )
            )
        return out


class _GridSpace:
    """A global change, the same for every image: one grid of points serves every label (so
    every label is searched; `_chosen` may keep fewer), then each label is refined from its best
    grid point (`_refine`): by default, when that point already sends REFINE_MIN of the other
    classes to it, `rounds` batches of `neighbours` of the best point so far. The order on
    points is `_better`'s: firing first, then the smaller change."""

    name: ClassVar[str]
    all_labels: ClassVar[bool] = True
    rounds: ClassVar[int]

    def apply(self, params: dict[str, Any], x: np.ndarray, fraction: float = 1.0) -> np.ndarray:
        raise NotImplementedError

    def cost(self, params: dict[str, Any]) -> float:
        raise NotImplementedError

    def grid(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def refinable(self, best: dict[str, Any]) -> bool:
        raise NotImplementedError

    def neighbours(
        self, best: dict[str, Any], round_: int, rng: np.random.Generator
    ) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _change(self, params: dict[str, Any]) -> Callable[[np.ndarray], np.ndarray]:
        return lambda x: self.apply(params, x)

    def search(
        self,
        ev: Evaluator,
        labels: Sequence[int],
        starts: Sequence[Probe],
        rng: np.random.Generator,
        screened: int = 0,  # every label is searched already
        exclude: Sequence[int] = (),
    ) -> list[Outcome]:
        grid, evals = self._screened(ev)
        if not grid or len(grid) > ev.remaining_evals():
            return []
        rates = ev.rates([self._change(p) for p in grid])
        evals += len(grid)
        out = []
        for label in self._chosen(labels, rates):
            i = _pick(grid, rates[:, label], self.cost)
            found, evals = self._refine(ev, grid[i], float(rates[i, label]), label, rng, evals)
            if found is not None:
                out.append(found)
        return out

    def _screened(self, ev: Evaluator) -> tuple[list[dict[str, Any]], int]:
        """The grid points measured on every search sample, and the evaluations spent choosing
        them (on fewer samples): by default the whole grid, for free."""
        return self.grid(), 0

    def _chosen(self, labels: Sequence[int], rates: np.ndarray) -> Sequence[int]:
        """The labels refined, given the grid's rates R[point, label]: every one."""
        return labels

    def _refine(
        self,
        ev: Evaluator,
        best: dict[str, Any],
        best_rate: float,
        label: int,
        rng: np.random.Generator,
        evals: int,
    ) -> tuple[Outcome | None, int]:
        """The label's outcome from its best grid point (None: the grid moved nobody to it),
        and the evaluations spent so far, `evals` included."""
        if best_rate <= 0:
            return None, evals
        if best_rate >= REFINE_MIN and self.refinable(best):
            for round_ in range(self.rounds):
                near = self.neighbours(best, round_, rng)
                step = self._best_of(ev, near, label)
                if step is None:
                    break
                evals += len(near)
                if _better(step[1], self.cost(step[0]), best_rate, self.cost(best)):
                    best, best_rate = step
        return Outcome(Point(self.name, best), label, best_rate, evals), evals

    def _best_of(
        self, ev: Evaluator, near: list[dict[str, Any]], label: int
    ) -> tuple[dict[str, Any], float] | None:
        """The point of `near` that sends the most samples to `label` (the cheaper on a tie) and
        its rate; None when measuring them all would pass the evaluator's budget."""
        if len(near) > ev.remaining_evals():
            return None
        r = ev.rates([self._change(p) for p in near])[:, label]
        k = _pick(near, r, self.cost)
        return near[k], float(r[k])


def _affine(x: np.ndarray, angle: float, scale: float, flip: str) -> np.ndarray:
    """Rotate by `angle` degrees about the centre, zoom by `scale`, then flip ("h", "v" or "")."""
    _, h, w, _ = x.shape
    if flip == "h":
        x = x[:, :, ::-1]
    elif flip == "v":
        x = x[:, ::-1]
    if angle == 0 and scale == 1:
        return np.ascontiguousarray(x)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    rows, cols = np.meshgrid(np.arange(h) - cy, np.arange(w) - cx, indexing="ij")
    t = np.deg2rad(angle)
    # Inverse map: the output pixel (r, c) samples the input at R(-angle) (r, c) / scale.
    sr = (np.cos(t) * rows - np.sin(t) * cols) / scale
    sc = (np.sin(t) * rows + np.cos(t) * cols) / scale
    field = np.stack([sr - rows, sc - cols], axis=-1)
    inside = (np.abs(sr) <= cy + 0.5) & (np.abs(sc) <= cx + 0.5)
    out = _warp(np.ascontiguousarray(x), field)
    # Outside the source image: the background (the corner pixel's value, usually black).
    return np.where(inside[None, ..., None], out, x[:, :1, :1, :]).astype(np.float32)


class TransformSpace(_GridSpace):
    name: ClassVar[str] = "transform"
    # Half a rotation is another rotation, not a weaker one.
    graded: ClassVar[bool] = False
    rounds: ClassVar[int] = 2
    ANGLES: ClassVar[tuple[float, ...]] = (-90, -60, -45, -30, -15, 15, 30, 45, 60, 90, 180)
    SCALES: ClassVar[tuple[float, ...]] = (0.75, 1.33)
    FLIPS: ClassVar[tuple[str, ...]] = ("h", "v")

    def apply(self, params: dict[str, Any], x: np.ndarray, fraction: float = 1.0) -> np.ndarray:
        angle = float(params.get("angle", 0.0)) * fraction
        scale = float(params.get("scale", 1.0)) ** fraction
        flip = str(params.get("flip", ""))
        out = _affine(x, angle, scale, flip)
        # A flip has no half strength: part of it is the images mixed.
        if flip and fraction < 1:
            out = (1 - fraction) * x + fraction * out
        return out.astype(np.float32)

    def cost(self, params: dict[str, Any]) -> float:
        angle = abs(float(params.get("angle", 0.0)))
        return min(
            1.0,
            max(
                angle / 180,
                abs(np.log(float(params.get("scale", 1.0)))),
                1.0 if params.get("flip") else 0.0,
            ),
        )

    def grid(self) -> list[dict[str, Any]]:
        pts: list[dict[str, Any]] = [{"angle": a, "scale": 1.0, "flip": ""} for a in self.ANGLES]
        pts += [{"angle": 0.0, "scale": s, "flip": ""} for s in self.SCALES]
        pts += [{"angle": 0.0, "scale": 1.0, "flip": f} for f in self.FLIPS]
        return pts

    def refinable(self, best: dict[str, Any]) -> bool:
        return best["angle"] not in (0.0, 180)

    def neighbours(
        self, best: dict[str, Any], round_: int, rng: np.random.Generator
    ) -> list[dict[str, Any]]:
        # The angle, a step either side, halved each round (7.5 then 3.75 degrees).
        step = 7.5 / 2**round_
        return [{**best, "angle": best["angle"] + d} for d in (-step, step)]


def tone_curve(v: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """The curve's value at `v` in [0, 1]: gamma, then a contrast S-curve (k > 0) or its
    inverse (k < 0), then posterisation to 2^bits levels, then faded blacks, then inversion."""
    u = np.clip(v, 0.0, 1.0) ** float(params.get("gamma", 1.0))
    k = float(params.get("contrast", 0.0))
    if k > 0:
        lo, hi = 1 / (1 + np.exp(k / 2)), 1 / (1 + np.exp(-k / 2))
        u = (1 / (1 + np.exp(-k * (u - 0.5))) - lo) / (hi - lo)
    elif k < 0:
        k = -k
        lo, hi = 1 / (1 + np.exp(k / 2)), 1 / (1 + np.exp(-k / 2))
        s = np.clip(lo + u * (hi - lo), 1e-6, 1 - 1e-6)
        u = 0.5 + np.log(s / (1 - s)) / k
    bits = int(params.get("bits", 0))
    if bits:
        levels = 2**bits - 1
        u = np.round(u * levels) / levels
    fade = float(params.get("fade", 0.0))
    u = fade + (1 - fade) * u
    if params.get("invert"):
        u = 1 - u
    return np.clip(u, 0.0, 1.0)


class CurveSpace(_GridSpace):
    name: ClassVar[str] = "curve"
    # A curve mixed halfway with the identity is the same change at half strength.
    graded: ClassVar[bool] = True
    rounds: ClassVar[int] = CURVE_ROUNDS
    # One change at a time, at two or three strengths each; the refinement combines them.
    GRID: ClassVar[tuple[dict[str, Any], ...]] = (
        {"gamma": 0.4},
        {"gamma": 0.6},
        {"gamma": 1.7},
        {"gamma": 2.5},
        {"contrast": 5.0},
        {"contrast": 10.0},
        {"contrast": -5.0},
        {"bits": 1},
        {"bits": 2},
        {"bits": 3},
        {"fade": 0.15},
        {"fade": 0.3},
        {"invert": True},
    )

    def apply(self, params: dict[str, Any], x: np.ndarray, fraction: float = 1.0) -> np.ndarray:
        curved = tone_curve(x, params).astype(np.float32)
        return (x + fraction * (curved - x)).astype(np.float32)

    def cost(self, params: dict[str, Any]) -> float:
        v = np.linspace(0, 1, 256)
        return float(np.mean(np.abs(tone_curve(v, params) - v)))

    @staticmethod
    def mutate(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """A neighbour: one parameter moved or added (gamma and contrast on a log-ish scale)."""
        out = dict(params)
        key = str(rng.choice(["gamma", "contrast", "fade", "bits"]))
        if key == "gamma":
            out["gamma"] = round(
                float(out.get("gamma", 1.0)) * float(np.exp(rng.normal(0, 0.3))), 3
            )
        elif key == "contrast":
            out["contrast"] = round(float(out.get("contrast", 0.0)) + float(rng.normal(0, 3)), 2)
        elif key == "fade":
            out["fade"] = round(
                float(np.clip(out.get("fade", 0.0) + rng.normal(0, 0.08), 0, 0.5)), 3
            )
        else:
            out["bits"] = int(rng.choice([0, 1, 2, 3, 4]))
        return out

    def grid(self) -> list[dict[str, Any]]:
        return [dict(p) for p in self.GRID]

    def refinable(self, best: dict[str, Any]) -> bool:
        return not best.get("invert")

    def neighbours(
        self, best: dict[str, Any], round_: int, rng: np.random.Generator
    ) -> list[dict[str, Any]]:
        # (1 + lambda) evolution: the parent's mutants; the best of them and the parent stays.
        return [self.mutate(best, rng) for _ in range(CURVE_MUTANTS)]


def grating_signal(params: dict[str, Any], h: int, w: int) -> np.ndarray:
    """(h, w) float32: the grating's additive signal at full amplitude. `angle` (degrees) is the
    direction it varies along (0: along the columns, 90: along the rows), `freq` its cycles
    across the image's longer side, `phase` where it starts (radians)."""
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    a = np.deg2rad(float(params["angle"]))
    t = (np.cos(a) * cols + np.sin(a) * rows) / max(h, w)
    wave = float(params["amp"]) * np.sin(
        2 * np.pi * float(params["freq"]) * t + float(params["phase"])
    )
    return wave.astype(np.float32)


class GratingSpace(_GridSpace):
    name: ClassVar[str] = "grating"
    # Not graded: the descent already lowered the amplitude to where it stops firing, so half of
    # the found grating is a grating that does not fire by construction (the stamp's case); the
    # found amplitude is the dose-response, read against `grating_cost_max`.
    graded: ClassVar[bool] = False
    rounds: ClassVar[int] = GRATING_ROUNDS

    def apply(self, params: dict[str, Any], x: np.ndarray, fraction: float = 1.0) -> np.ndarray:
        signal = fraction * grating_signal(params, x.shape[1], x.shape[2])
        return np.clip(x + signal[None, :, :, None], 0.0, 1.0).astype(np.float32)

    def cost(self, params: dict[str, Any]) -> float:
        return float(params["amp"])

    # The grid's axes and phases, the labels refined, and the amplitudes each descent step
    # tries (the budget's variant below changes these alone).
    angles: ClassVar[tuple[float, ...]] = GRATING_ANGLES
    phases: ClassVar[int] = GRATING_PHASES
    refined: ClassVar[int] = GRATING_LABELS
    keep_amp: ClassVar[bool] = True  # steps at the same amplitude too, not only lowered

    def grid(self) -> list[dict[str, Any]]:
        return [
            {"angle": a, "freq": f, "phase": round(2 * np.pi * k / self.phases, 4),
             "amp": GRATING_GRID_AMP}
            for a in self.angles
            for f in GRATING_FREQS
            for k in range(self.phases)
        ]  # fmt: skip

    def steps(
        self, best: dict[str, Any], phase_step: float, freq_step: float
    ) -> list[dict[str, Any]]:
        """The phase and the frequency a step either side, lowered (and, with `keep_amp`, at
        the same amplitude)."""
        out = []
        lowered = round(best["amp"] * GRATING_AMP_STEP, 4)
        for amp in (best["amp"], lowered) if self.keep_amp else (lowered,):
            base = {**best, "amp": amp}
            if amp != best["amp"]:
                out.append(base)
            for d in (-phase_step, phase_step):
                out.append({**base, "phase": round(float((best["phase"] + d) % (2 * np.pi)), 4)})
            for d in (-freq_step, freq_step):
                if best["freq"] + d >= 1:
                    out.append({**base, "freq": round(best["freq"] + d, 4)})
        return out

    def _chosen(self, labels: Sequence[int], rates: np.ndarray) -> Sequence[int]:
        """The `refined` labels the grid reaches most, REFINE_MIN at least."""
        reach = rates.max(axis=0)
        chosen = sorted((t for t in labels if reach[t] >= REFINE_MIN), key=lambda t: (-reach[t], t))
        return chosen[: self.refined]

    def _refine(
        self,
        ev: Evaluator,
        best: dict[str, Any],
        best_rate: float,
        label: int,
        rng: np.random.Generator,
        evals: int,
    ) -> tuple[Outcome | None, int]:
        """The descent; its firing points passed are the outcome's fallbacks."""
        path: list[tuple[Point, float]] = []  # firing points passed, the latest first
        phase_step, freq_step, misses = GRATING_PHASE_STEP, GRATING_FREQ_STEP, 0
        for _ in range(self.rounds):
            near = self.steps(best, phase_step, freq_step)
            step = self._best_of(ev, near, label)
            if step is None:
                break
            evals += len(near)
            if not _better(step[1], self.cost(step[0]), best_rate, self.cost(best)):
                misses += 1
                if misses == 2:
                    break
                phase_step, freq_step = phase_step / 2, freq_step / 2
                continue
            if best_rate >= FIRE_MIN and step[0]["amp"] < best["amp"]:
                path.insert(0, (Point(self.name, best), best_rate))
            best, best_rate = step
        found = Outcome(
            Point(self.name, best), label, best_rate, evals, tuple(path[:BACKOFF_STEPS])
        )
        return found, evals


class BudgetGratingSpace(GratingSpace):
    """The grating space under a query budget: the same gratings (name, `apply`, cost), a
    coarser grid and a cheaper descent (GRATING_BUDGET_*)."""

    angles: ClassVar[tuple[float, ...]] = GRATING_BUDGET_ANGLES
    phases: ClassVar[int] = GRATING_BUDGET_PHASES
    refined: ClassVar[int] = GRATING_BUDGET_LABELS
    keep_amp: ClassVar[bool] = False
    rounds: ClassVar[int] = GRATING_BUDGET_ROUNDS

    def _screened(self, ev: Evaluator) -> tuple[list[dict[str, Any]], int]:
        """The GRATING_BUDGET_KEEP grid points that send the most of the other classes to one
        label, on GRATING_BUDGET_SCREEN_PER_CLASS samples per class (ties: grid order). The
        screen's evaluations are counted as evaluations, though each is on fewer samples."""
        grid, few = self.grid(), ev.subset(GRATING_BUDGET_SCREEN_PER_CLASS)
        if len(grid) > few.remaining_evals():
            return [], 0
        reach = few.rates([self._change(p) for p in grid]).max(axis=1)
        order = sorted(range(len(grid)), key=lambda i: (-reach[i], i))
        return [grid[i] for i in sorted(order[:GRATING_BUDGET_KEEP])], len(grid)


# The registry: explicit, in the order the search runs them.
SPACES: dict[str, Space] = {
    s.name: s for s in (MaskSpace(), TransformSpace(), CurveSpace(), GratingSpace())
}
# What a search under a query budget runs in a space's place, by name (scanner.plan).
BUDGET_SPACES: dict[str, Space] = {"grating": BudgetGratingSpace()}
