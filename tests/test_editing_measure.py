"""Lengths and areas in px and mm from the scan's resolution."""

from __future__ import annotations

import math

import pytest

from restorer.editing.measure import (
    area_mm2,
    distance_mm,
    distance_px,
    format_area,
    format_length,
    usable_dpi,
)


def test_distance_in_pixels():
    assert distance_px((0, 0), (3, 4)) == 5.0


def test_one_inch_is_25_4_mm():
    assert distance_mm((0, 0), (300, 0), (300, 300)) == pytest.approx(25.4)


def test_anisotropic_resolution_scales_each_axis():
    # 600 dpi across, 300 dpi down: 600 px across and 300 px down are both one inch.
    assert distance_mm((0, 0), (600, 300), (600, 300)) == pytest.approx(25.4 * math.sqrt(2))
    assert area_mm2(600 * 300, (600, 300)) == pytest.approx(25.4**2)


@pytest.mark.parametrize("dpi", [None, (0, 0), (1, 1), (float("nan"), 300), (300,)])
def test_unknown_resolution_gives_no_millimetres(dpi):
    assert usable_dpi(dpi) is None
    assert distance_mm((0, 0), (10, 0), dpi) is None and area_mm2(10, dpi) is None
    assert format_length((0, 0), (10, 0), dpi) == "10.0 px"
    assert format_area(1234, dpi) == "1 234 px"


def test_text():
    assert format_length((0, 0), (300, 0), (300, 300)) == "300.0 px · 25.40 mm"
    assert format_area(90000, (300, 300)) == "90 000 px (645.16 mm²)"
