"""Grain matching (restorer.core.grain): the fill gets the ring's grain, per channel and scale."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from restorer.core.errors import RestorerError
from restorer.core.fills import diffusion_fill
from restorer.core.grain import (
    _band_stats,
    _regions,
    grain_levels,
    grain_likeness,
    match_grain,
    photo_grain,
)

SIZE = 200


def _hole() -> np.ndarray:
    hole = np.zeros((SIZE, SIZE), bool)
    hole[60:140, 50:130] = True
    return hole


def _grainy(dtype: type, blur: float, seed: int = 0) -> np.ndarray:
    """A smooth ramp with Gaussian grain of a different strength per channel (``blur``: clumps)."""
    rng = np.random.default_rng(seed)
    ramp = 0.3 + 0.4 * np.mgrid[:SIZE, :SIZE][1] / SIZE
    noise = rng.standard_normal((SIZE, SIZE, 3)) * np.array([0.03, 0.02, 0.045])
    if blur:
        noise = ndimage.gaussian_filter(noise, (blur, blur, 0)) * (2 * np.sqrt(np.pi) * blur)
    top = np.iinfo(dtype).max
    return np.round(np.clip(ramp[..., None] + noise, 0, 1) * top).astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("blur", [0.0, 1.0])
def test_grain_inside_the_fill_matches_the_ring(dtype, blur):
    pixels = _grainy(dtype, blur)
    hole = _hole()
    fill = diffusion_fill(pixels, hole)  # perfectly smooth: no grain at all
    out = match_grain(pixels, hole, fill, seed=3)
    ring, core = _regions(hole)
    top = np.float32(np.iinfo(dtype).max)
    wanted = grain_levels(pixels.astype(np.float32) / top, ring)
    before = grain_levels(fill.astype(np.float32) / top, core)
    after = grain_levels(out.astype(np.float32) / top, core)
    assert (before < 0.3 * wanted).all()
    np.testing.assert_allclose(after, wanted, rtol=0.2)
    np.testing.assert_array_equal(out[~hole], fill[~hole])


def test_a_noiseless_photo_gets_no_grain():
    ramp = np.round((0.2 + 0.6 * np.mgrid[:SIZE, :SIZE][1] / SIZE) * 255).astype(np.uint8)
    pixels = np.repeat(ramp[..., None], 3, axis=2)
    hole = _hole()
    fill = diffusion_fill(pixels, hole)
    np.testing.assert_array_equal(match_grain(pixels, hole, fill, seed=1), fill)


def test_a_fill_as_grainy_as_the_photo_is_left_alone():
    pixels = _grainy(np.uint8, 0.0)
    hole = _hole()
    np.testing.assert_array_equal(match_grain(pixels, hole, pixels, seed=1), pixels)


@pytest.mark.parametrize("channels", [None, 1])
def test_grey_photos_and_determinism(channels):
    grey = _grainy(np.uint16, 0.0)[..., 0]
    pixels = grey if channels is None else grey[..., None]
    hole = _hole()
    fill = diffusion_fill(pixels, hole)
    first = match_grain(pixels, hole, fill, seed=5)
    assert first.shape == pixels.shape and first.dtype == pixels.dtype
    np.testing.assert_array_equal(first, match_grain(pixels, hole, fill, seed=5))
    np.testing.assert_array_equal(first[~hole], fill[~hole])
    assert not np.array_equal(first[hole], fill[hole])


def test_small_or_empty_holes_and_bad_input():
    pixels = _grainy(np.uint8, 0.0)
    hole = np.zeros((SIZE, SIZE), bool)
    np.testing.assert_array_equal(match_grain(pixels, hole, pixels), pixels)
    hole[5, 0] = True  # one pixel at the edge: measured as all of its tiny core
    fill = diffusion_fill(pixels, hole)
    out = match_grain(pixels, hole, fill)
    np.testing.assert_array_equal(out[~hole], fill[~hole])
    with pytest.raises(RestorerError, match="does not match"):
        match_grain(pixels, hole, fill.astype(np.uint16))


def _whole_image_levels(pixels: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Reference: every band over the whole image (reflected at its edges), then the quiet cells'
    levels over ``where``, in 32 px cells from its bounding box's corner, as far as they look like noise."""
    image = pixels.astype(np.float32) / np.float32(np.iinfo(pixels.dtype).max)
    blurred = [image] + [
        ndimage.gaussian_filter(image, (s, s, 0), truncate=2.0, mode="reflect") for s in (1.0, 2.0, 4.0)
    ]
    ys, xs = np.nonzero(where)
    y0, x0 = ys.min(), xs.min()
    cells = (ys - y0) // 32 * ((xs.max() - x0) // 32 + 1) + (xs - x0) // 32
    stats = [_band_stats((blurred[k] - blurred[k + 1])[where], cells) for k in range(3)]
    return np.stack([levels * grain_likeness(kurtosis) for levels, _, kurtosis in stats])


def _sprawling_hole(shape: tuple[int, int]) -> np.ndarray:
    """A diagonal crack through several 64 px tiles, a blob at the photo's edge, and one far speck."""
    hole = np.zeros(shape, bool)
    for i in range(20, 260):
        hole[i, i + 10 : i + 13] = True
    hole[2:30, 250:285] = True
    hole[200, 40] = True
    return hole


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_photo_grain_equals_the_whole_photo_measurement(dtype):
    """photo_grain reads only the ring's surroundings, tile by tile, yet measures exactly what bands
    over the whole photo give on the ring (also at the photo's edge, and leaving out ``skip``)."""
    pixels = _grainy(dtype, 1.0, seed=2)[:, :300]
    pixels = np.concatenate([pixels, _grainy(dtype, 0.0, seed=3)[:100, :300]])  # 300 x 300
    hole = _sprawling_hole(pixels.shape[:2])
    skip = np.zeros_like(hole)
    skip[150:170, 20:120] = True
    ring, _ = _regions(hole)
    expected = _whole_image_levels(pixels, ring & ~skip)
    np.testing.assert_array_equal(photo_grain(pixels, hole, skip).levels, expected)
    np.testing.assert_array_equal(photo_grain(pixels, hole).levels, _whole_image_levels(pixels, ring))


def test_grain_levels_by_tiles_equal_the_whole_image():
    pixels = _grainy(np.uint16, 1.0, seed=4)
    where = np.zeros((SIZE, SIZE), bool)
    where[::7, 3::5] = True  # pixels in every tile, at every edge
    where[0, :] = where[:, -1] = True
    np.testing.assert_array_equal(
        grain_levels(pixels, where, np.iinfo(np.uint16).max), _whole_image_levels(pixels, where)
    )
    assert grain_levels(pixels, where[:, :1] & (np.arange(SIZE)[:, None] < 10)) is None  # too few


def test_photo_grain_of_no_hole_is_none():
    pixels = _grainy(np.uint8, 0.0)
    assert photo_grain(pixels, np.zeros((SIZE, SIZE), bool)) is None


def _mad_levels(pixels: np.ndarray, where: np.ndarray) -> np.ndarray:
    """The old measure: the robust spread of all of ``where``'s band values (texture counts too)."""
    image = pixels.astype(np.float32) / np.float32(np.iinfo(pixels.dtype).max)
    blurred = [image] + [ndimage.gaussian_filter(image, (s, s, 0), truncate=2.0) for s in (1.0, 2.0, 4.0)]
    values = [(blurred[k] - blurred[k + 1])[where] for k in range(3)]
    return np.stack([1.4826 * np.median(np.abs(v - np.median(v, axis=0)), axis=0) for v in values])


def test_busy_texture_around_the_hole_is_not_taken_for_grain():
    """Hair or leaves on two sides of the ring: the grain measured is the flat sides' grain, and the
    fill gets that much, not the texture's level."""
    rng = np.random.default_rng(8)
    grain_only = _grainy(np.uint8, 1.0, seed=8)
    texture = ndimage.gaussian_filter(rng.standard_normal((SIZE, SIZE)), 1.5)
    busy = np.zeros((SIZE, SIZE), bool)
    busy[:, :45] = busy[:55, :] = True  # the left and top sides of the ring (the hole is 60:140, 50:130)
    pixels = grain_only.astype(np.float32) + np.where(busy, texture * 255, 0)[..., None]
    pixels = np.clip(np.round(pixels), 0, 255).astype(np.uint8)
    hole = _hole()
    ring, core = _regions(hole)
    truth = _mad_levels(grain_only, ring)
    assert (_mad_levels(pixels, ring)[1:] > 1.8 * truth[1:]).all()  # the whole-ring spread: 1.9-3x
    measured = photo_grain(pixels, hole).levels
    np.testing.assert_allclose(measured, truth, rtol=0.3)
    fill = diffusion_fill(pixels, hole)
    out = match_grain(pixels, hole, fill, seed=2)
    got = grain_levels(out.astype(np.float32) / 255, core)
    assert (got[1:] < 1.4 * truth[1:]).all()


@pytest.mark.parametrize("brightness_only", [True, False])
def test_grain_in_brightness_only_is_added_without_colour(brightness_only):
    """Film and scanner grain that moves all channels together gets noise that does too (no coloured
    speckle); grain independent per channel gets independent noise."""
    rng = np.random.default_rng(4)
    ramp = 0.3 + 0.4 * np.mgrid[:SIZE, :SIZE][1] / SIZE
    noise = rng.standard_normal((SIZE, SIZE, 1 if brightness_only else 3)) * 0.03
    pixels = np.round(np.clip(ramp[..., None] + noise, 0, 1) * 255).astype(np.uint8)
    pixels = np.ascontiguousarray(np.broadcast_to(pixels, (SIZE, SIZE, 3)))
    hole = _hole()
    fill = diffusion_fill(pixels, hole)
    added = (match_grain(pixels, hole, fill, seed=6).astype(np.float32) - fill)[hole]
    colour = added - added.mean(axis=1, keepdims=True)  # what differs between the channels
    ratio = colour.std() / added.std()
    if brightness_only:
        assert ratio < 0.15
    else:
        assert ratio > 0.6  # independent channels: about sqrt(2/3) of the noise is colour


def test_structure_everywhere_in_the_ring_is_not_grain():
    """Sharp dark specks all over a clean photo (pores, the lids and brows of a small face): band energy
    without noise. The fill gets nothing, where band levels alone would have called it grain."""
    rng = np.random.default_rng(1)
    ramp = 0.3 + 0.4 * np.mgrid[:SIZE, :SIZE][1] / SIZE
    specks = ndimage.gaussian_filter((rng.random((SIZE, SIZE)) < 0.01).astype(float), 0.8) * -1.5
    pixels = np.round(np.clip(np.repeat((ramp + specks)[..., None], 3, axis=2), 0, 1) * 255).astype(np.uint8)
    hole = _hole()
    ring, _ = _regions(hole)
    assert (grain_levels(pixels, ring, 255.0)[0] * 255 > 2).all()  # by energy alone: heavy grain
    assert (photo_grain(pixels, hole).levels == 0).all()
    fill = diffusion_fill(pixels, hole)
    np.testing.assert_array_equal(match_grain(pixels, hole, fill, seed=3), fill)
