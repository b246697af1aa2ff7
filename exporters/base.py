"""What every report format shares: the writer signature and pairing models with decisions."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TextIO

from policies.engine import PolicyResult
from scanner.report import ModelOutcome


class Writer(Protocol):
    """`write(outcomes, fileobj, *, policy_results=None, ...)`: one per format module.

    `policy_results`, when given, is aligned with `outcomes` (None where no policy applied); when
    left out, a report's own `policy` object (from a saved JSON report) is used.
    """

    def __call__(
        self,
        outcomes: Sequence[ModelOutcome],
        fileobj: TextIO,
        *,
        policy_results: Sequence[PolicyResult | None] | None = None,
    ) -> None: ...


def paired(
    outcomes: Sequence[ModelOutcome],
    policy_results: Sequence[PolicyResult | None] | None,
) -> list[tuple[ModelOutcome, PolicyResult | None]]:
    """Each outcome with its policy result: the given one, else the one its report carries."""
    if policy_results is None:
        return [(o, _carried(o)) for o in outcomes]
    if len(policy_results) != len(outcomes):
        raise ValueError(f"expected {len(outcomes)} policy results, got {len(policy_results)}")
    return list(zip(outcomes, policy_results, strict=True))


def _carried(outcome: ModelOutcome) -> PolicyResult | None:
    if outcome.report is None or not outcome.report.policy:
        return None
    try:
        return PolicyResult.from_dict(outcome.report.policy)
    except (KeyError, TypeError, ValueError):
        # A hand-edited or foreign `policy` object: show the report without a decision.
        return None


def utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def display_path(path: str) -> str:
    """A model path as people want to read it: relative to the working folder when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if rel.startswith("..") else Path(rel).as_posix()
