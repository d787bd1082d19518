"""The Detect Damage dialog's arithmetic: slider <-> threshold, thresholding, preview, area wording."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from restorer.editing.detect_preview import (
    LAXEST,
    MASK_TINT,
    MIDDLE,
    PROPOSAL_TINT,
    SLIDER_MAX,
    STRICTEST,
    Area,
    compose_preview,
    downscale_mask,
    position_for,
    preview_factor,
    preview_rgb,
    propose,
    sensitivity_for,
    threshold_for,
)


@pytest.mark.parametrize("default", [0.5, 0.3, 0.8])
def test_the_middle_of_the_slider_is_the_default_threshold(default):
    assert threshold_for(MIDDLE, default) == pytest.approx(default)
    assert threshold_for(0, default) == pytest.approx(STRICTEST)
    assert threshold_for(SLIDER_MAX, default) == pytest.approx(LAXEST)
    assert position_for(default, default) == MIDDLE


@pytest.mark.parametrize("default", [0.5, 0.3, 0.8])
def test_more_sensitivity_means_a_lower_threshold_and_the_mapping_inverts(default):
    thresholds = [threshold_for(p, default) for p in range(SLIDER_MAX + 1)]
    assert all(a > b for a, b in itertools.pairwise(thresholds))
    assert [position_for(t, default) for t in thresholds] == list(range(SLIDER_MAX + 1))


def test_out_of_range_positions_and_thresholds_are_clamped():
    assert threshold_for(-5, 0.5) == threshold_for(0, 0.5)
    assert threshold_for(SLIDER_MAX + 9, 0.5) == threshold_for(SLIDER_MAX, 0.5)
    assert position_for(1.0, 0.5) == 0 and position_for(0.0, 0.5) == SLIDER_MAX
    assert sensitivity_for(-1) == 0.0 and sensitivity_for(MIDDLE) == 0.5 and sensitivity_for(999) == 1.0
    with pytest.raises(ValueError):
        threshold_for(MIDDLE, 1.0)


def test_propose_flags_strictly_above_the_threshold():
    probability = np.array([[0.1, 0.5], [0.51, 0.9]], dtype=np.float32)
    np.testing.assert_array_equal(propose(probability, 0.5), [[False, False], [True, True]])
    areas = [propose(probability, threshold_for(p, 0.5)).sum() for p in range(0, SLIDER_MAX + 1, 10)]
    assert areas == sorted(areas)  # monotonic in the slider


def test_preview_factor_is_the_smallest_whole_reduction_that_fits():
    assert preview_factor((400, 300, 3), 560) == 1
    assert preview_factor((3000, 4000, 3), 560) == 8  # 4000 / 8 = 500 <= 560 < 4000 / 7
    assert preview_factor((561, 10), 560) == 2
    with pytest.raises(ValueError):
        preview_factor((10, 10), 0)


def test_a_one_pixel_scratch_survives_the_downscale():
    mask = np.zeros((100, 103), dtype=bool)
    mask[37, :] = True
    mask[99, 102] = True  # in the padded last block
    small = downscale_mask(mask, 8)
    assert small.shape == (13, 13)
    assert small[37 // 8].all() and small[12, 12] and small.sum() == 14
    np.testing.assert_array_equal(downscale_mask(mask, 1), mask)


def test_preview_rgb_reduces_by_block_means_from_any_photo_kind():
    grey16 = np.full((4, 6), 65535, dtype=np.uint16)
    grey16[:2, :2] = 0
    rgb = preview_rgb(grey16, 2)
    assert rgb.shape == (2, 3, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0].tolist() == [0, 0, 0] and rgb[1, 2].tolist() == [255, 255, 255]
    rgba = np.zeros((5, 5, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 7
    out = preview_rgb(rgba, 2)
    assert out.shape == (3, 3, 3) and (out[..., 0] == 200).all() and (out[..., 1:] == 0).all()  # edge-padded


def test_the_preview_tints_the_mask_and_what_the_proposal_adds_differently():
    base = np.full((2, 3, 3), 100, dtype=np.uint8)
    current = np.array([[True, False, False], [False, False, False]])
    proposal = np.array([[True, True, False], [False, False, False]])
    shown = compose_preview(base, current, proposal)
    (red, a), (yellow, b) = MASK_TINT, PROPOSAL_TINT
    assert shown[0, 0].tolist() == [round(100 * (1 - a) + c * a) for c in red]  # in the mask already
    assert shown[0, 1].tolist() == [round(100 * (1 - b) + c * b) for c in yellow]  # new
    assert shown[0, 2].tolist() == [100, 100, 100] and shown[1].tolist() == base[1].tolist()
    assert base[0, 0].tolist() == [100, 100, 100]  # the input is untouched


def test_area_counts_flagged_and_added_pixels():
    proposal = np.zeros((100, 100), dtype=bool)
    proposal[:10, :25] = True
    mask = np.zeros_like(proposal)
    mask[:10, :5] = True
    area = Area.of(proposal, mask)
    assert (area.flagged, area.added, area.total) == (250, 200, 10_000)
    assert area.percent == pytest.approx(2.5)
    assert area.text() == "Flagged: 2.50 % of the photo (250 px), 200 px not yet in the mask"
    assert Area.of(np.zeros((10, 10), bool), np.zeros((10, 10), bool)).text().startswith("Nothing flagged")
    big = np.zeros((1000, 1000), dtype=bool)
    big[0, 0] = True
    assert "under 0.01 %" in Area.of(big, big).text() and "0 px not yet" in Area.of(big, big).text()
