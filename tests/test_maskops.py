"""Mask editing math: rasterising strokes and fills exactly, grow/shrink, and undo patches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from restorer.core import maskops
from restorer.core.maskops import Bounds, Patch, StrokeRecorder


def place(shape, bounds: Bounds, footprint: np.ndarray) -> np.ndarray:
    full = np.zeros(shape, bool)
    full[bounds.slices] = footprint
    return full


def centres(shape):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    return xx + 0.5, yy + 0.5


def segment_distance(shape, p0, p1):
    """Reference: distance from every pixel centre to the segment, in float64 over the whole image."""
    xx, yy = centres(shape)
    (ax, ay), (bx, by) = p0, p1
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = np.zeros_like(xx) if length2 == 0 else np.clip(((xx - ax) * dx + (yy - ay) * dy) / length2, 0, 1)
    return np.hypot(xx - ax - t * dx, yy - ay - t * dy)


coord = st.floats(-20, 80, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(coord, coord, coord, coord, st.floats(1.0, 25))
def test_segment_footprint_matches_distance_to_segment(x0, y0, x1, y1, radius):
    shape = (50, 60)
    bounds, footprint = maskops.segment_footprint((x0, y0), (x1, y1), radius, shape)
    got = place(shape, bounds, footprint)
    dist = segment_distance(shape, (x0, y0), (x1, y1))
    decided = np.abs(dist - radius) > 1e-3  # float32 rounding may go either way on the rim itself
    np.testing.assert_array_equal(got[decided], (dist <= radius)[decided])


def test_single_click_paints_a_disc_and_a_tiny_brush_one_pixel():
    _, disc = maskops.segment_footprint((10.5, 10.5), (10.5, 10.5), 2.0, (30, 30))
    assert disc.sum() == 13  # centres within 2 px of a pixel centre: the 13-pixel digital disc
    bounds, dot = maskops.segment_footprint((4.2, 7.9), (4.2, 7.9), 0.1, (30, 30))
    assert dot.sum() == 1 and place((30, 30), bounds, dot)[7, 4]
    bounds, line = maskops.segment_footprint((0.9, 0.1), (5.2, 5.8), 0.5, (30, 30))
    np.testing.assert_array_equal(place((30, 30), bounds, line)[:6, :6], np.eye(6, dtype=bool))


def test_rect_footprint_uses_pixel_centres_and_clips():
    bounds, fp = maskops.rect_footprint((3.4, 2.4), (0.6, 0.6), (10, 10))
    assert bounds == Bounds(1, 1, 2, 3) and fp.all()
    bounds, fp = maskops.rect_footprint((-5, -5), (100, 3), (10, 10))
    assert bounds == Bounds(0, 0, 3, 10)


def point_in_polygon(shape, points):
    """Reference even-odd test, vectorised over pixels, one edge at a time."""
    xx, yy = centres(shape)
    inside = np.zeros(shape, bool)
    pts = np.asarray(points, float)
    for (ax, ay), (bx, by) in zip(pts, np.roll(pts, -1, axis=0), strict=True):
        crosses = (ay <= yy) != (by <= yy)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = ax + (yy - ay) * (bx - ax) / (by - ay)
        inside ^= crosses & (xx < x_at)
    return inside


@pytest.mark.parametrize(
    "points",
    [
        [(2, 2), (30, 4), (12, 25)],  # triangle
        [(1, 1), (40, 1), (40, 30), (30, 30), (30, 8), (10, 8), (10, 30), (1, 30)],  # U shape (concave)
        [(2, 2), (38, 28), (38, 2), (2, 28)],  # bow tie: self-intersecting, even-odd
        [(-10, -10), (70, 5.5), (20.3, 60)],  # partly outside the image
    ],
)
def test_polygon_footprint_matches_even_odd_rule(points):
    shape = (35, 45)
    bounds, fp = maskops.polygon_footprint(points, shape, rows_per_chunk=7)
    np.testing.assert_array_equal(place(shape, bounds, fp), point_in_polygon(shape, points))


def test_polygon_square_equals_rectangle_and_degenerate_is_empty():
    shape = (20, 20)
    square = [(2.5, 3.5), (12.5, 3.5), (12.5, 9.5), (2.5, 9.5)]
    got = place(shape, *maskops.polygon_footprint(square, shape))
    want = place(shape, *maskops.rect_footprint((2.5, 3.5), (12.5, 9.5), shape))
    np.testing.assert_array_equal(got, want)
    assert maskops.polygon_footprint([(1, 1), (5, 5)], shape)[1].sum() == 0


def test_grow_and_shrink_by_euclidean_distance():
    mask = np.zeros((40, 40), bool)
    mask[20, 20] = True
    assert maskops.grow_mask(mask, 2).sum() == 13
    square = np.zeros((40, 40), bool)
    square[10:20, 10:20] = True
    shrunk = maskops.shrink_mask(square, 2)
    assert shrunk.sum() == 36 and shrunk[12:18, 12:18].all()
    assert maskops.grow_mask(np.zeros((5, 5), bool), 3).sum() == 0
    assert maskops.shrink_mask(square, 0).sum() == 100


def test_shrink_keeps_damage_reaching_the_photo_edge():
    mask = np.zeros((30, 30), bool)
    mask[10:16, 0:12] = True  # a scratch running off the left edge
    shrunk = maskops.shrink_mask(mask, 1)
    assert shrunk[11:15, 0].all()  # still touches the edge
    assert not shrunk[:, 11].any()  # but pulled back from its inner end


@pytest.mark.parametrize("dtype", [bool, np.uint16])
def test_patch_applies_and_reverts_exactly(dtype):
    rng = np.random.default_rng(1)
    values = (
        (lambda shape: rng.random(shape) < 0.5)
        if dtype is bool
        else (lambda shape: rng.integers(0, 999, shape))
    )
    before = values((30, 20, 3)).astype(dtype)
    after = before.copy()
    after[5:9, 3:17] = ~after[5:9, 3:17] if dtype is bool else after[5:9, 3:17] + 1
    patch = maskops.diff_patch(before, after)
    assert patch.bounds == maskops.changed_bounds(before, after)
    work = before.copy()
    patch.apply(work)
    np.testing.assert_array_equal(work, after)
    patch.revert(work)
    np.testing.assert_array_equal(work, before)
    assert maskops.diff_patch(before, before.copy()) is None


def test_bool_patches_are_bit_packed():
    block = np.ones((64, 64), bool)
    patch = Patch.capture(Bounds(0, 0, 64, 64), block, ~block)
    assert patch.nbytes == 2 * 64 * 64 // 8


def test_stroke_recorder_keeps_only_changed_tiles():
    mask = np.zeros((300, 300), bool)
    mask[250:260, 250:260] = True
    original = mask.copy()
    recorder = StrokeRecorder(mask, tile=64)
    for p0, p1 in [((10, 10), (200, 30)), ((200, 30), (205, 190))]:
        bounds, fp = maskops.segment_footprint(p0, p1, 6, mask.shape)
        recorder.touch(bounds)
        mask[bounds.slices] |= fp
    recorder.touch(Bounds(250, 250, 260, 260))  # touched but unchanged: no patch
    painted = mask.copy()
    patches = recorder.finish()
    assert patches and all(p.bounds.bottom <= 256 for p in patches)
    assert sum(p.nbytes for p in patches) < painted.size // 8
    for p in reversed(patches):
        p.revert(mask)
    np.testing.assert_array_equal(mask, original)
    for p in patches:
        p.apply(mask)
    np.testing.assert_array_equal(mask, painted)


def test_bounds_helpers():
    a, b = Bounds(0, 0, 10, 10), Bounds(5, 5, 20, 20)
    assert a.intersect(b) == Bounds(5, 5, 10, 10)
    assert a.union(b) == Bounds(0, 0, 20, 20)
    assert Bounds.from_xywh((3, 4, 5, 6)) == Bounds(4, 3, 10, 8) and Bounds(4, 3, 10, 8).xywh() == (
        3,
        4,
        5,
        6,
    )
    assert Bounds(5, 5, 5, 9).is_empty and maskops.EMPTY.union(a) == a
