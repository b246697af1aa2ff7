"""Probe families and the flip statistics, on hand-made labels."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from scanner.detectors import families
from scanner.detectors.families import corner_positions, patch_size
from scanner.detectors.probes import (
    FAMILIES,
    MAGNITUDES,
    Probe,
    ProbeConfig,
    concentration,
    consistency,
    patch_positions,
    probe_set,
    split_samples,
    universality,
    universality_all,
)


@pytest.mark.parametrize(
    ("family", "strength"),
    [(f, k) for f in FAMILIES for k in range(len(MAGNITUDES[f]))],
)
def test_every_family_keeps_images_in_range_and_is_reproducible(family: str, strength: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.random((4, 28, 28, 1)).astype(np.float32)
    probe = Probe(family, strength, None, 123)
    a = np.clip(probe.trigger((28, 28, 1))(x), 0, 1)
    b = np.clip(probe.trigger((28, 28, 1))(x), 0, 1)
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape
    assert not np.allclose(a, x)


def test_patches_tile_the_image_so_any_trigger_overlaps_one() -> None:
    positions = patch_positions(28, 28, 3)
    assert (0, 0) in positions and (25, 25) in positions
    covered = np.zeros((28, 28), dtype=int)
    for r, c in positions:
        covered[r : r + 3, c : c + 3] += 1
    assert (covered > 0).all()


def test_probe_set_is_fixed_by_the_seed() -> None:
    a = probe_set((28, 28, 1), ProbeConfig(seed=3))
    assert a == probe_set((28, 28, 1), ProbeConfig(seed=3))
    assert a != probe_set((28, 28, 1), ProbeConfig(seed=4))
    assert {p.family for p in a} == set(FAMILIES)


def test_strong_probes_are_the_10px_patches_and_the_strongest_gratings() -> None:
    probes = probe_set((28, 28, 1), ProbeConfig())
    strong = [p for p in probes if p.strong]
    assert {(p.family, p.strength) for p in strong} == {("patch", 3), ("periodic", 2)}
    # 25 positions x 3 stamps of a 10 px patch, 96 gratings.
    assert len(strong) == 75 + 96
    # They come after every other probe of the first sweep (only the corner patches, added
    # later, follow them), so every other probe keeps the seed it had before they were added.
    first = [p for p in probes if (p.strength, p.position) not in _corner_members()]
    assert [p.strong for p in first] == sorted(p.strong for p in first)
    # The older strengths keep their indices: a saved report's probe rebuilds the same trigger.
    stamp = Probe("patch", 2, (0, 0, 2), 1).trigger((28, 28, 1))(np.zeros((1, 28, 28, 1)))
    assert stamp.sum() == 49


def _corner_members() -> set[tuple[int, tuple[int, ...] | None]]:
    """(strength, position) of the corner patches at 28x28."""
    return {
        (strength, (r, c, k))
        for strength in range(3)
        for r, c in corner_positions(28, 28, patch_size(28, 28, strength))
        for k in range(3)
    }


def test_small_patches_are_swept_at_the_corners_small_margins_after_every_other_probe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    probes = probe_set((28, 28, 1), ProbeConfig())
    # A 3x3 stamp one pixel in from the top right corner, which the stride-2 tiling misses.
    assert (1, 24) not in patch_positions(28, 28, 3)
    assert Probe("patch", 0, (1, 24, 2), 0) in [replace(p, seed=0) for p in probes]
    for strength in range(3):
        size = patch_size(28, 28, strength)
        tiled = set(patch_positions(28, 28, size))
        for m in (1, 2):
            for r in (m, 28 - size - m):
                for c in (m, 28 - size - m):
                    assert (r, c) in tiled or (r, c) in corner_positions(28, 28, size)
    # None for the strong 10 px patches; and the probes before them are exactly the earlier set.
    assert {(p.strength, p.position) for p in probes[-60:]} == _corner_members()
    monkeypatch.setattr(families, "CORNER_MARGINS", ())
    earlier = probe_set((28, 28, 1), ProbeConfig())
    assert len(probes) == len(earlier) + 60 and probes[: len(earlier)] == earlier


def test_universality_is_the_lower_quartile_over_the_other_classes() -> None:
    f = np.zeros((6, 6))
    f[[1, 2, 3, 4, 5], 0] = [1.0, 0.9, 0.9, 0.8, 0.1]  # classes 1-5 sent to 0, one resists
    f[0, 0] = 1.0  # class 0 itself does not count
    present = np.ones(6, dtype=bool)
    u = universality(f, present)
    assert u[0] == pytest.approx(0.8)  # numpy's linear quantile of [0.1, 0.8, 0.9, 0.9, 1.0]
    assert u[1:].max() == 0.0
    # A sink that draws half the classes is not universal, though its median would be high.
    f[[1, 2, 3, 4, 5], 0] = [1.0, 1.0, 0.9, 0.1, 0.0]
    assert universality(f, present)[0] < 0.2


def test_consistency_sees_all_to_all_moves() -> None:
    f = np.zeros((4, 4))
    for s in range(4):
        f[s, (s + 1) % 4] = 0.9  # each class to the next: no single target
    present = np.ones(4, dtype=bool)
    assert consistency(f, present) == pytest.approx(0.9)
    assert universality(f, present).max() == pytest.approx(0.0)


def test_concentration_tells_one_destination_from_many() -> None:
    present = np.ones(10, dtype=bool)
    shift = np.zeros((10, 10))
    for s in range(10):
        shift[s, (s + 1) % 10] = 0.9  # all-to-all: each class its own destination
    assert concentration(shift, present)[0] == pytest.approx(1 / 9)  # the label is a tie
    to_two = np.eye(10) * 0.4
    to_two[:, 2] += 0.6  # every other class mostly to 2; class 2 itself stays
    to_two[2, 2], to_two[2, 5] = 0.8, 0.2
    assert concentration(to_two, present) == pytest.approx((1.0, 2))
    assert concentration(np.eye(10), present) == (0.0, None)  # nothing moves


def test_search_and_confirmation_samples_are_disjoint_and_correct() -> None:
    y = np.repeat(np.arange(3), 30)
    pred = y.copy()
    pred[:5] = 1  # misclassified samples of class 0 are never used
    search, confirm = split_samples(y, pred, 6, np.random.default_rng(0))
    assert not set(search) & set(confirm)
    assert not set(range(5)) & (set(search) | set(confirm))
    assert np.bincount(y[search]).tolist() == [6, 6, 6]
    assert np.bincount(y[confirm]).tolist() == [19, 20, 20]


def test_findings_round_trip_through_report_evidence() -> None:
    from scanner.detectors.evidence import Evidence
    from scanner.detectors.probes import ProbeFinding, ProbeResult

    finding = ProbeFinding(
        Probe("periodic", 1, (0, 6, 2), 9), 3, 0.9, 0.95, 1.0, 0.9, 0.89, 3, 1.0, 3
    )
    result = ProbeResult((finding,), (0.0,) * 10, (0,) * 10, 5, 60, 200, 1000)
    evidence = {
        "universality": 0.0,
        "consistency": 0.0,
        "findings": [finding.to_dict()],
        "search_universality_per_label": [0.0] * 10,
        "search_hits_per_label": [0] * 10,
        "probes": 5,
        "search_samples": 60,
        "confirm_samples": 200,
        "probe_queries": 1000,
    }
    # An older report's evidence (none of the keys added since) still rebuilds the probes.
    assert Evidence.from_dict(evidence).probe_result() == result
    # A newer report also carries the strong probes' per-label search figures.
    evidence["search_universality_per_label_strong"] = [0.5] * 10
    assert Evidence.from_dict(evidence).probe_result().per_label_search_strong == (0.5,) * 10


@pytest.mark.parametrize("seed", range(4))
def test_universality_of_all_probes_at_once_is_exactly_the_per_probe_figure(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Rates as counts over a few samples give ties, the case a quantile gets wrong first.
    f = rng.integers(0, 7, size=(50, 6, 10)) / 6.0
    sources = np.array([0, 2, 3, 5, 7, 9]) if seed % 2 else np.arange(6)
    together = universality_all(f, sources)
    one_by_one = np.stack([universality(row, sources) for row in f])
    np.testing.assert_array_equal(together, one_by_one)
