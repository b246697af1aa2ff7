"""Several draws of one scan, decided together (`bdscan scan --repeats N`).

What a scan measures rests on random draws: the probes' random patterns and positions, the
samples they are searched and confirmed on, the trigger search's starts, attribution's samples.
The same model scanned with another `--seed` can get another verdict, and the draw of probes is
shared by every model a seed scans, so one seed can be lucky or unlucky for a whole zoo
(docs/verdict.md, "Several draws"). A scan of N draws moves every seed on by 0..N-1 (draw 0
is the scan without `--repeats`; the X-ray planes, which decide nothing, are drawn once) and
decides on all of them:
- the score is the draws' mean (the likelihood of a planted trigger, as for one draw);
- `infected` when that mean is at or above 0.5, the score of a test at its threshold, naming
  the label most infected draws name (a tie: the label of the highest-scoring of them);
- else `shortcut` when at least half of the draws found a universal shortcut, else `clean`.
The report carries the evidence of one draw, the highest-scoring whose verdict (and label) is the
combined one, and a line for every draw (`xray.evidence.draws`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from scanner.detectors.evidence import DrawRecord, Draws
from scanner.detectors.verdict import Decision

__all__ = ["Combined", "combine"]

# The score at which a test fires (`scanner.detectors.verdict._scaled` maps a threshold to 0.5).
INFECTED_SCORE = 0.5


@dataclass(frozen=True)
class Combined:
    """The decision of several draws, and the seed of the draw whose evidence it carries."""

    decision: Decision
    seed: int


def _record(seed: int, d: Decision) -> DrawRecord:
    return DrawRecord(
        seed=seed,
        verdict=d.verdict,
        score=d.score,
        target_label=d.target_label,
        shortcut_label=d.evidence.shortcut_label,
        decided_by=d.evidence.decided_by,
    )


def _verdict(draws: list[tuple[int, Decision]], score: float) -> tuple[str, int | None]:
    infected = [d for _, d in draws if d.verdict == "infected"]
    if score >= INFECTED_SCORE and infected:
        counts = Counter(d.target_label for d in infected)
        top = max(counts.values())
        named = [d for d in infected if counts[d.target_label] == top]
        return "infected", max(named, key=lambda d: d.score).target_label
    shortcuts = sum(d.verdict == "shortcut" for _, d in draws)
    return ("shortcut" if 2 * shortcuts >= len(draws) else "clean"), None


def combine(draws: list[tuple[int, Decision]]) -> Combined:
    """The decision of `draws` ((seed, decision) of each), as the module docstring says."""
    if not draws:
        raise ValueError("expected at least one draw")
    if len(draws) == 1:
        seed, only = draws[0]
        return Combined(only, seed)
    score = round(sum(d.score for _, d in draws) / len(draws), 6)
    verdict, label = _verdict(draws, score)
    same = [
        (s, d)
        for s, d in draws
        if d.verdict == verdict and (verdict != "infected" or d.target_label == label)
    ]
    # With no draw of the combined verdict (two infected draws at 0.5 and a shortcut at 0: a
    # mean of 0.33, "clean"), the draw nearest the mean.
    seed, shown = (
        max(same, key=lambda sd: sd[1].score)
        if same
        else min(draws, key=lambda sd: abs(sd[1].score - score))
    )
    said = ", ".join(
        f"{d.verdict} {d.score:.2f}"
        + (f" (label {d.target_label})" if d.target_label is not None else "")
        for _, d in draws
    )
    note = f"{shown.target_note} [{len(draws)} draws: {said}; mean score {score:.2f}]"
    record = Draws(runs=tuple(_record(s, d) for s, d in draws), shown=seed)
    evidence = replace(shown.evidence, draws=record)
    if verdict != "shortcut":
        evidence = replace(evidence, shortcut_label=None)
    decision = Decision(verdict, score, label, note, evidence)
    return Combined(decision, seed)
