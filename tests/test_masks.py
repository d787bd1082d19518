"""Mask generators: coverage, shape, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from restorer.training.masks import (
    MASK_TYPES,
    center_mask,
    half_mask,
    random_block_mask,
    random_pixels_mask,
    random_region_mask,
    training_mask,
)

ALL_GENERATORS = [
    *MASK_TYPES.values(),
    random_block_mask,
    training_mask,
]


@pytest.mark.parametrize("fn", ALL_GENERATORS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("size", [64, 128])
def test_shape_dtype_and_determinism(fn, size):
    a = fn(size, np.random.default_rng(7))
    b = fn(size, np.random.default_rng(7))
    assert a.shape == (size, size)
    assert a.dtype == bool
    assert np.array_equal(a, b)
    assert a.any() and not a.all()


@pytest.mark.parametrize(
    "fn", [random_region_mask, random_block_mask, random_pixels_mask, half_mask, training_mask]
)
def test_different_seeds_give_different_masks(fn):
    masks = [fn(64, np.random.default_rng(seed)) for seed in range(6)]
    assert len({m.tobytes() for m in masks}) > 1


def test_center_is_the_central_quarter():
    m = center_mask(64)
    assert m.sum() == 32 * 32
    assert m[16:48, 16:48].all()
    assert not m[:16].any() and not m[48:].any() and not m[:, :16].any() and not m[:, 48:].any()
    assert center_mask(128).mean() == 0.25


def test_random80_is_exactly_80_percent():
    for seed in range(5):
        assert random_pixels_mask(64, np.random.default_rng(seed)).sum() == round(0.8 * 64 * 64)
    assert random_pixels_mask(10, np.random.default_rng(0), fraction=0.33).sum() == 33


def test_half_is_exactly_one_half_of_each_side():
    seen = set()
    for seed in range(40):
        m = half_mask(64, np.random.default_rng(seed))
        assert m.sum() == 64 * 32
        # a half is a full band along one edge: every row (or every column) is identical
        rows_same, cols_same = (m == m[:1]).all(), (m == m[:, :1]).all()
        assert rows_same != cols_same
        seen.add(m.tobytes())
    assert len(seen) == 4  # all four sides occur


def test_pattern_coverage_within_range_and_few_blobs():
    rng = np.random.default_rng(1)
    coverages, regions = [], []
    for _ in range(200):
        m = random_region_mask(64, rng)
        coverages.append(m.mean())
        regions.append(ndimage.label(m)[1])
    assert min(coverages) >= 0.2 and max(coverages) <= 0.3
    assert abs(np.mean(coverages) - 0.25) < 0.01
    assert max(regions) <= 4
    assert np.std(coverages) > 0.01  # the fraction is drawn, not fixed


def test_pattern_custom_range():
    rng = np.random.default_rng(2)
    for _ in range(30):
        assert 0.05 <= random_region_mask(64, rng, coverage=(0.05, 0.1)).mean() <= 0.1


def test_block_coverage_within_range():
    rng = np.random.default_rng(3)
    coverages = [random_block_mask(64, rng).mean() for _ in range(200)]
    assert min(coverages) >= 0.2 and max(coverages) <= 0.3


def test_block_fallback_stays_in_range():
    # max_tries=0 forces the single-rectangle fallback
    rng = np.random.default_rng(4)
    for _ in range(50):
        m = random_block_mask(64, rng, coverage=(0.2, 0.21), max_tries=0)
        assert 0.2 <= m.mean() <= 0.21
        assert ndimage.label(m)[1] == 1


def test_training_mix_varies_and_stays_reasonable():
    rng = np.random.default_rng(5)
    masks = [training_mask(64, rng) for _ in range(100)]
    coverages = np.array([m.mean() for m in masks])
    assert coverages.min() > 0.05 and coverages.max() < 0.5
    assert sum(np.array_equal(m, center_mask(64)) for m in masks) in range(5, 30)  # ~15% central


@pytest.mark.parametrize("bad", [(0.0, 0.2), (0.3, 0.2), (0.5, 1.0)])
def test_bad_coverage_rejected(bad):
    with pytest.raises(ValueError):
        random_region_mask(64, np.random.default_rng(0), coverage=bad)


def test_bad_size_rejected():
    with pytest.raises(ValueError):
        center_mask(2)
