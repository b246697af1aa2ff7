"""X-ray's geometry and metrics against hand-computed values (ALGORITHMS.md section 1)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scanner.detectors.grid import adaptive_map, dense_map
from scanner.detectors.xray import (
    anchor_areas,
    ats,
    choose_anchors,
    component_area,
    make_plane,
    renyi_entropy,
)
from scanner.report import decode_label_map, encode_label_map

# A hand-drawn 6x6 label map. Label 1 has two 8-connected pieces joined only diagonally at
# (2,2)-(3,3); label 2 has a piece that touches 1's only by an edge.
MAP = np.array(
    [
        [0, 0, 0, 2, 2, 2],
        [0, 1, 1, 2, 2, 2],
        [0, 1, 1, 0, 0, 0],
        [0, 0, 0, 1, 1, 0],
        [3, 3, 0, 1, 1, 0],
        [3, 3, 0, 0, 0, 0],
    ]
)


def test_renyi_entropy_by_hand() -> None:
    counts = np.bincount(MAP.ravel(), minlength=5)  # 0:20, 1:8, 2:6, 3:4, 4:0
    assert counts.tolist() == [18, 8, 6, 4, 0]
    p = np.array([18, 8, 6, 4]) / 36
    assert renyi_entropy(counts, 10.0) == pytest.approx(math.log2((p**10).sum()) / (1 - 10))
    assert renyi_entropy(counts, 1.0) == pytest.approx(-(p * np.log2(p)).sum())
    assert renyi_entropy(np.array([36, 0, 0]), 10.0) == pytest.approx(0.0)
    assert renyi_entropy(np.array([9, 9, 9, 9]), 10.0) == pytest.approx(2.0)


def test_components_are_eight_connected() -> None:
    assert component_area(MAP, (1, 1)) == 8  # the two blocks of 1 meet at a corner
    assert component_area(MAP, (0, 3)) == 6
    assert component_area(MAP, (5, 0)) == 4
    assert component_area(MAP, (0, 0)) == 18  # every 0 is reachable, around the 1s and 3s


def test_anchor_areas_and_ats_by_hand() -> None:
    cells = [(1, 1), (0, 4), (4, 0)]
    areas = anchor_areas(MAP, cells, (1, 2, 3))
    assert areas == pytest.approx((8 / 36, 6 / 36, 4 / 36))
    assert ats(areas, 0.5) == pytest.approx(18 / 36)
    # An anchor whose cell carries another label owns no region.
    assert anchor_areas(MAP, cells, (1, 2, 0))[2] == 0.0
    # A region of half the plane or more is left out of ATS.
    assert ats((0.6, 0.1, 0.2), 0.5) == pytest.approx(0.3)


def test_plane_geometry_matches_the_official_definition() -> None:
    rng = np.random.default_rng(0)
    x1, x2, x3 = (rng.random((4, 4, 1)).astype(np.float32) for _ in range(3))
    plane = make_plane(x1, x2, x3, resolution=100, extend=5.0)
    d2, d3 = (x2 - x1).ravel(), (x3 - x1).ravel()
    assert np.linalg.norm(plane.a) == pytest.approx(1, abs=1e-6)
    assert float(plane.a @ plane.b_perp) == pytest.approx(0, abs=1e-6)
    assert plane.anchor_uv[1] == pytest.approx([np.linalg.norm(d2), 0], abs=1e-5)
    assert plane.anchor_uv[2][0] == pytest.approx(float(plane.a @ d3), abs=1e-5)
    # The anchors' extent on u, widened by r = 5 lengths on each side.
    lo, hi = plane.anchor_uv[:, 0].min(), plane.anchor_uv[:, 0].max()
    assert plane.us[0] == pytest.approx(lo - 5 * (hi - lo))
    assert plane.us[-1] == pytest.approx(hi + 5 * (hi - lo))
    # Every anchor is reconstructed exactly from its plane coordinates.
    for anchor, (u, v) in zip((x1, x2, x3), plane.anchor_uv, strict=False):
        back = plane.origin + u * plane.a + v * plane.b_perp
        np.testing.assert_allclose(back, anchor.ravel(), atol=1e-5)
    # 'ij' indexing: cell (i, j) is origin + us[i] a + vs[j] b_perp.
    pt = plane.points(np.array([7]), np.array([42]))[0]
    np.testing.assert_allclose(
        pt, plane.origin + plane.us[7] * plane.a + plane.vs[42] * plane.b_perp, atol=1e-5
    )


def test_anchors_have_three_different_labels_and_follow_the_seed() -> None:
    y = np.repeat(np.arange(5), 10)
    picks = [choose_anchors(y, np.random.default_rng(3)) for _ in range(2)]
    assert picks[0] == picks[1]
    for _ in range(50):
        a = choose_anchors(y, np.random.default_rng(_))
        assert len({int(y[i]) for i in a}) == 3


def _labeller(fn):
    calls = []

    def label_cells(ii: np.ndarray, jj: np.ndarray) -> np.ndarray:
        calls.append(len(ii))
        return fn(ii, jj)

    return label_cells, calls


@pytest.mark.parametrize("ring", [0, 1])
@pytest.mark.parametrize("resolution", [17, 64, 100])
def test_adaptive_grid_reproduces_the_dense_map_with_fewer_queries(
    resolution: int, ring: int
) -> None:
    c = resolution / 2

    def regions(ii: np.ndarray, jj: np.ndarray) -> np.ndarray:
        # A disc, a half-plane and a wedge: curved and straight boundaries.
        out = np.zeros(len(ii), dtype=np.int64)
        out[(ii - c) ** 2 + (jj - c * 0.8) ** 2 < (resolution / 4) ** 2] = 1
        out[ii + 0.5 * jj > 1.2 * resolution] = 2
        out[(jj < 0.2 * resolution) & (ii > 0.6 * resolution)] = 3
        return out

    dense_fn, dense_calls = _labeller(regions)
    adaptive_fn, adaptive_calls = _labeller(regions)
    dense = dense_map(resolution, dense_fn)
    adaptive = adaptive_map(resolution, adaptive_fn, ring=ring)
    np.testing.assert_array_equal(adaptive, dense)
    assert sum(dense_calls) == resolution**2
    if resolution >= 64:
        # The wider neighbourhood asks for more of the same map (measured: 0.27-0.38 of the
        # cells at ring 1, 0.11-0.15 at ring 0, the default).
        assert sum(adaptive_calls) < (0.6 if ring else 0.2) * resolution**2


def test_label_maps_round_trip_through_the_report_encoding() -> None:
    np.testing.assert_array_equal(decode_label_map(encode_label_map(MAP)), MAP)
    big = np.arange(600).reshape(20, 30)
    np.testing.assert_array_equal(decode_label_map(encode_label_map(big)), big)
