"""The PatchMatch patch fill (restorer.core.patchmatch): patterns, mirrors, exactness, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from restorer.core.errors import RestorerError
from restorer.core.patchmatch import patch_fill


def _checks(size: int = 128, period: int = 12) -> np.ndarray:
    y, x = np.mgrid[:size, :size]
    return (((y // (period // 2)) + (x // (period // 2))) % 2 * 160 + 40).astype(np.uint8)


def _stripes(size: int = 128, period: int = 12) -> np.ndarray:
    y, x = np.mgrid[:size, :size]
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * (x + 0.5 * y) / period)
    return np.round(40 + 170 * wave).astype(np.uint8)


def _square(shape: tuple[int, int], top: int, left: int, side: int) -> np.ndarray:
    hole = np.zeros(shape, bool)
    hole[top : top + side, left : left + side] = True
    return hole


@pytest.mark.parametrize("make", [_checks, _stripes])
@pytest.mark.parametrize("corner", [(30, 35), (44, 49), (51, 40)])
def test_a_periodic_texture_is_continued_without_seams(make, corner):
    """A 40 px hole in a period-12 pattern is rebuilt in phase: a few grey levels off at most."""
    image = make()
    hole = _square(image.shape, *corner, 40)
    damaged = image.copy()
    damaged[hole] = 0
    out = patch_fill(damaged, hole, seed=1)
    error = np.abs(out.astype(int) - image)[hole]
    assert error.mean() < 3.0
    # No band or seam: the rows and columns of the hole are as good as its middle.
    rows = np.abs(out.astype(int) - image)[hole.any(axis=1)][:, hole.any(axis=0)].mean(axis=1)
    assert rows.max() < 8.0


def test_mirrored_candidates_reproduce_a_mirrored_structure():
    """Right half = the left half mirrored: only mirrored patches can fill a hole on the right."""
    rng = np.random.default_rng(3)
    left = ndimage.gaussian_filter(rng.random((64, 64, 3)), (2, 2, 0))
    left = np.round((left - left.min()) / np.ptp(left) * 255).astype(np.uint8)
    image = np.concatenate([left, left[:, ::-1]], axis=1)
    hole = _square(image.shape[:2], 20, 84, 24)
    damaged = image.copy()
    damaged[hole] = 0
    mirrored = np.abs(patch_fill(damaged, hole, mirror=True).astype(int) - image)[hole].mean()
    plain = np.abs(patch_fill(damaged, hole, mirror=False).astype(int) - image)[hole].mean()
    assert mirrored < 1.0
    assert plain > 5 * mirrored + 5.0


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("channels", [None, 1, 3])
def test_pixels_outside_the_hole_are_unchanged(dtype, channels):
    rng = np.random.default_rng(7)
    shape = (70, 90) if channels is None else (70, 90, channels)
    top = 1.0 if dtype == np.float32 else np.iinfo(dtype).max
    pixels = (rng.random(shape) * top).astype(dtype)
    hole = np.zeros((70, 90), bool)
    hole[20:45, 30:52] = True
    hole[60:66, 5:70] = True
    out = patch_fill(pixels, hole, seed=2)
    assert out.dtype == pixels.dtype and out.shape == pixels.shape
    np.testing.assert_array_equal(out[~hole], pixels[~hole])
    assert not np.array_equal(out[hole], pixels[hole])


def test_results_are_deterministic_for_a_seed():
    rng = np.random.default_rng(0)
    image = ndimage.gaussian_filter(rng.random((96, 96, 3)), (1.5, 1.5, 0))
    image = (image * 255).astype(np.uint8)
    hole = _square(image.shape[:2], 30, 30, 30)
    first = patch_fill(image, hole, seed=4)
    np.testing.assert_array_equal(first, patch_fill(image, hole, seed=4))


@pytest.mark.parametrize("where", [(0, 0), (0, 17), (39, 59), (20, 0), (20, 30)])
def test_one_pixel_holes_anywhere_are_filled(where):
    rng = np.random.default_rng(1)
    image = (rng.random((40, 60, 3)) * 255).astype(np.uint8)
    hole = np.zeros((40, 60), bool)
    hole[where] = True
    out = patch_fill(image, hole)
    np.testing.assert_array_equal(out[~hole], image[~hole])


@pytest.mark.parametrize("shape", [(5, 5), (3, 40), (9, 9)])
def test_images_smaller_than_a_patch_fall_back_to_a_smooth_fill(shape):
    image = np.full((*shape, 3), 120, np.uint8)
    hole = np.zeros(shape, bool)
    hole[shape[0] // 2, shape[1] // 2] = True
    out = patch_fill(image, hole)
    assert out[hole].tolist() == [[120, 120, 120]]


def test_empty_hole_gives_an_identical_copy_and_a_full_hole_is_refused():
    image = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    out = patch_fill(image, np.zeros((4, 4), bool))
    assert out is not image
    np.testing.assert_array_equal(out, image)
    with pytest.raises(RestorerError, match="whole image"):
        patch_fill(image, np.ones((4, 4), bool))


@pytest.mark.parametrize("thickness", [7, 9, 12, 14])
def test_a_long_hole_a_few_pixels_thick_is_filled(thickness):
    # Halving the mask thins such a hole until a coarse level has none left; that level used to be
    # counted and its empty hole crashed the coarsest fill (IndexError in the Dirichlet solver).
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    hole = np.zeros((200, 200), bool)
    hole[90 : 90 + thickness, 10:190] = True
    out = patch_fill(image, hole)
    assert np.array_equal(out[~hole], image[~hole])
    assert out[hole].std() > 10  # texture copied in, not a flat fill


@pytest.mark.parametrize("guided", [False, True])
def test_candidate_costs_are_the_weighted_distances_to_straight_and_mirrored_sources(guided):
    """A candidate's cost is the weighted squared distance of the target's descriptor to the source's,
    the source read mirrored (right to left) when flipped, the target always straight."""
    from restorer.core.patchmatch import _GRID, _Level

    rng = np.random.default_rng(3)
    image = rng.random((40, 48, 3), dtype=np.float32)
    hole = _square((40, 48), 15, 18, 9)
    guide = (rng.random((40, 48, 2), dtype=np.float32), 0.7) if guided else None
    level = _Level(image, hole, True, np.random.default_rng(0), guide)
    features = level.features(image)
    n, m = level.targets.size, 5
    sy = rng.integers(3, 37, (n, m))
    sx = rng.integers(3, 45, (n, m))
    flip = rng.random((n, m)) < 0.5
    got = np.stack([level.costs(image, sy[:, j], sx[:, j], flip[:, j]) for j in range(m)], axis=1)
    trust = np.where(hole, 0.02, 1.0)
    offsets = [(oy, ox) for oy in _GRID for ox in _GRID]
    for t in rng.choice(n, 12, replace=False):
        ty, tx = divmod(int(level.targets[t]), 48)
        for j in range(m):
            sign = -1 if flip[t, j] else 1  # a mirrored source is read right to left
            expected = 0.0
            for oy, ox in offsets:
                target = features[ty + oy, tx + ox]
                source = features[sy[t, j] + oy, sx[t, j] + sign * ox]
                weight = np.full(features.shape[2], trust[ty + oy, tx + ox])
                weight[3:] = 0.7
                expected += float(np.sum(weight * (target - source) ** 2))
            assert got[t, j] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("corner", [(0, 0), (20, 30), (34, 41)])
def test_vote_confidence_is_measured_on_the_whole_hole(corner):
    """The confidence is computed around the hole only: equal to the whole image's, at its edges too."""
    from restorer.core.patchmatch import _CONFIDENCE_DECAY, RADIUS, _Level

    hole = _square((48, 56), *corner, 14)
    hole[corner[0] + 3, :] = True  # a line across the image: the hole reaches both side edges
    level = _Level(np.zeros((48, 56, 3), np.float32), hole, True, np.random.default_rng(0))
    depth = ndimage.distance_transform_edt(hole)
    confidence = np.where(hole, _CONFIDENCE_DECAY**-depth, 1.0).astype(np.float32)
    expected = ndimage.uniform_filter(confidence, 2 * RADIUS + 1, mode="nearest").reshape(-1)[level.targets]
    np.testing.assert_array_equal(level.confidence, expected)
