"""Damaged regions and their context windows."""

from __future__ import annotations

import numpy as np
import pytest

from restorer.core.regions import (
    box_window,
    classic_window,
    find_regions,
    model_window,
    photo_problem,
    window_problem,
)
from restorer.core.types import Bounds

B = Bounds.from_xywh  # the tests speak x, y, w, h as people do


def _mask(h: int, w: int, *rects: tuple[int, int, int, int]) -> np.ndarray:
    mask = np.zeros((h, w), dtype=bool)
    for x, y, rw, rh in rects:
        mask[y : y + rh, x : x + rw] = True
    return mask


def test_separate_holes_are_separate_regions_in_reading_order():
    rmap = find_regions(_mask(100, 200, (150, 10, 5, 5), (10, 60, 20, 10)))
    assert [r.bbox.xywh() for r in rmap.regions] == [(150, 10, 5, 5), (10, 60, 20, 10)]
    assert [r.pixels for r in rmap.regions] == [25, 200]
    hole = rmap.hole(rmap.regions[1].label, B((0, 50, 40, 30)))
    assert hole.shape == (30, 40) and hole.sum() == 200


def test_near_holes_merge_but_keep_their_own_pixels():
    rmap = find_regions(_mask(50, 80, (10, 10, 4, 4), (18, 10, 4, 4)), gap=8)
    assert len(rmap.regions) == 1
    region = rmap.regions[0]
    assert region.bbox.xywh() == (10, 10, 12, 4) and region.pixels == 32  # the gap between stays undamaged
    far = find_regions(_mask(50, 80, (10, 10, 4, 4), (40, 10, 4, 4)), gap=8)
    assert len(far.regions) == 2


def test_diagonal_neighbours_are_connected():
    mask = np.eye(20, dtype=bool)
    assert len(find_regions(mask, gap=0).regions) == 1


@pytest.mark.parametrize(("thickness", "expected"), [(1, 1), (3, 3), (7, 7)])
def test_max_width_measures_the_widest_point(thickness, expected):
    rmap = find_regions(_mask(60, 60, (5, 20, 50, thickness)))
    assert rmap.regions[0].max_width == pytest.approx(expected, abs=0.5)


@pytest.mark.parametrize("bbox", [(40, 40, 10, 20), (0, 0, 30, 12), (180, 90, 20, 10), (100, 5, 3, 3)])
def test_model_window_square_contains_hole_and_stays_inside(bbox):
    photo = (200, 100)
    window = model_window(B(bbox), photo, resolution=64)
    w, h = window.width, window.height
    assert w == h >= 64
    assert window.contains(B(bbox))
    assert B((0, 0, *photo)).contains(window)
    assert bbox[2] * bbox[3] <= w * h / 4  # the hole covers a quarter of the window or less


def test_model_window_is_shifted_not_shrunk_at_the_border():
    window = model_window(B((0, 0, 40, 40)), (300, 300), resolution=64)
    assert window.xywh() == (0, 0, 80, 80)


def test_model_window_clipped_only_by_a_small_photo():
    assert model_window(B((10, 5, 8, 8)), (200, 40), resolution=64).xywh() == (0, 0, 64, 40)


def test_box_window_is_the_user_box_grown_to_a_square():
    assert box_window(B((50, 60, 40, 40)), (400, 300)).xywh() == (50, 60, 40, 40)
    assert box_window(B((50, 60, 40, 20)), (400, 300)).xywh() == (50, 50, 40, 40)
    assert box_window(B((0, 0, 40, 10)), (400, 300)).xywh() == (0, 0, 40, 40)  # shifted into the photo


def test_classic_window_adds_a_margin_within_the_photo():
    assert classic_window(B((5, 10, 20, 4)), (100, 50), margin=8).xywh() == (0, 2, 33, 20)


def test_too_large_holes_are_reported_with_their_fraction():
    problem = window_problem(60 * 60, B((0, 0, 64, 64)))
    assert problem is not None and "88%" in problem and "64x64" in problem
    assert window_problem(32 * 32, B((0, 0, 64, 64))) is None
    assert "needs a 160x160" in photo_problem(B((0, 0, 80, 10)), (300, 120))
    assert photo_problem(B((0, 0, 50, 10)), (300, 120)) is None


def test_a_sprawling_crack_network_is_cut_into_bounded_regions():
    from restorer.core.regions import SPRAWL_TILE

    mask = np.zeros((1300, 1700), bool)
    mask[600, 10:1690] = True  # a scratch across the photo
    mask[20:1290, 850] = True  # and one down it: one region spanning everything
    rmap = find_regions(mask)
    assert len(rmap.regions) > 1
    for region in rmap.regions:
        assert region.bbox.height <= SPRAWL_TILE and region.bbox.width <= SPRAWL_TILE
    assert sum(r.pixels for r in rmap.regions) == mask.sum()  # every pixel in exactly one region
    covered = np.zeros_like(mask)
    for region in rmap.regions:
        window = region.bbox
        covered[window.slices] |= rmap.hole(region.label, window)
    assert np.array_equal(covered, mask)
    tops = [(r.bbox.top, r.bbox.left) for r in rmap.regions]
    assert tops == sorted(tops)


def test_a_large_compact_hole_stays_whole():
    mask = np.zeros((900, 900), bool)
    mask[100:800, 150:750] = True
    (region,) = find_regions(mask).regions
    assert region.pixels == mask.sum()
