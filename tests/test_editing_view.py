"""View transform and display pyramid: pure math behind the canvas (no Qt needed)."""

from __future__ import annotations

import numpy as np
import pytest

from restorer.core.types import Bounds
from restorer.editing.pyramid import Pyramid, to_display8
from restorer.editing.view_transform import MAX_SCALE, ViewTransform, fit, wheel_factor


def test_zoom_keeps_the_point_under_the_anchor():
    view = ViewTransform(0.5, 10.0, -20.0)
    anchor = (123.0, 77.0)
    before = view.to_image(*anchor)
    zoomed = view.zoomed(3.0, anchor)
    assert zoomed.scale == pytest.approx(1.5)
    assert zoomed.to_image(*anchor) == pytest.approx(before)
    assert view.zoomed(1e9, anchor).scale == MAX_SCALE


def test_image_and_widget_coordinates_round_trip():
    view = ViewTransform(2.5, -40.0, 13.0)
    assert view.to_image(*view.to_widget(17.25, 3.5)) == pytest.approx((17.25, 3.5))


def test_fit_centres_the_whole_photo():
    view = fit((6000, 4000), (1000, 800), margin=10)
    assert view.scale == pytest.approx(980 / 6000)
    x0, y0 = view.to_widget(0, 0)
    x1, y1 = view.to_widget(6000, 4000)
    assert x0 == pytest.approx(1000 - x1) and y0 == pytest.approx(800 - y1)
    assert fit((10, 10), (1000, 800)).scale == 16.0  # tiny photos are enlarged, within reason


def test_panning_cannot_lose_the_photo():
    view = ViewTransform(1.0, 0, 0).panned(-10_000, 10_000).clamped((500, 400), (800, 600))
    x1, _ = view.to_widget(500, 0)
    _, y0 = view.to_widget(0, 0)
    assert x1 >= 48 - 1e-9 and y0 <= 600 - 48 + 1e-9


def test_visible_bounds_are_clipped_to_the_photo():
    view = ViewTransform(2.0, -100.0, 50.0)
    assert view.visible_bounds((300, 200), (400, 300)) == Bounds(0, 50, 125, 250)


def test_wheel_factor_doubles_every_four_notches():
    assert wheel_factor(480) == pytest.approx(2.0) and wheel_factor(-120) == pytest.approx(2**-0.25)


def test_sixteen_bit_display_copy_is_the_high_byte():
    pixels = np.array([[[0, 255, 256]], [[65535, 32768, 511]]], np.uint16)
    np.testing.assert_array_equal(to_display8(pixels), [[[0, 0, 1]], [[255, 128, 1]]])
    eight = np.zeros((4, 5, 3), np.uint8)
    assert to_display8(eight) is eight  # shared, not copied
    assert to_display8(np.zeros((4, 5, 1), np.uint8)).shape == (4, 5)


def test_pyramid_levels_mean_and_max():
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)
    pyr = Pyramid(base, smallest=2)
    assert [lvl.shape[:2] for lvl in pyr.levels] == [(9, 7), (5, 4), (3, 2), (2, 1)]
    padded = np.pad(base.astype(np.int32), ((0, 1), (0, 1), (0, 0)), mode="edge")
    mean = (padded[0::2, 0::2] + padded[1::2, 0::2] + padded[0::2, 1::2] + padded[1::2, 1::2] + 2) // 4
    np.testing.assert_array_equal(pyr.levels[1], mean)
    mask = np.zeros((8, 8), np.uint8)
    mask[3, 5] = 1  # one pixel of damage stays visible all the way down
    mpyr = Pyramid(mask, use_max=True, smallest=1)
    assert all(level.max() == 1 for level in mpyr.levels)
    assert (
        mpyr.level_for_scale(1.0) == 0 and mpyr.level_for_scale(0.5) == 1 and mpyr.level_for_scale(0.3) == 1
    )
    assert mpyr.level_for_scale(1e-6) == len(mpyr) - 1


@pytest.mark.parametrize("use_max", [False, True])
def test_pyramid_update_equals_a_rebuild(use_max):
    rng = np.random.default_rng(4)
    base = rng.integers(0, 256, (101, 67), dtype=np.uint8)
    pyr = Pyramid(base, use_max=use_max, smallest=4)
    for _ in range(20):
        top, left = rng.integers(0, 100), rng.integers(0, 66)
        box = Bounds(int(top), int(left), int(top + rng.integers(1, 30)), int(left + rng.integers(1, 30)))
        box = box.intersect(Bounds(0, 0, 101, 67))
        base[box.slices] = rng.integers(0, 256, (box.height, box.width), dtype=np.uint8)
        pyr.update(box)
    fresh = Pyramid(base.copy(), use_max=use_max, smallest=4)
    for got, want in zip(pyr.levels, fresh.levels, strict=True):
        np.testing.assert_array_equal(got, want)
