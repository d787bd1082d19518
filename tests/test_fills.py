"""Classical fills and the quality metrics: exact ramps, sharper edges from TV, texture continued by
patch synthesis, bit-exactness outside the hole, dtypes, edge cases and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from restorer.core.errors import RestorerError
from restorer.core.fills import diffusion_fill, patch_fill, tv_fill
from restorer.core.metrics import psnr, ssim, ssim_map
from restorer.core.poisson import solve_laplace

FILLS = [diffusion_fill, tv_fill, patch_fill]


def ramp_image(dtype: np.dtype, channels: int) -> np.ndarray:
    ys, xs = np.mgrid[0:40, 0:56]
    # Linear, so harmonic: the membrane fill is exact. Flat in y, so it also meets the natural
    # (zero-slope) boundary where the hole touches the top edge.
    ramp = 0.1 + 0.8 * xs / 55 + 0.0 * ys
    image = np.stack([ramp * (1.0 - 0.2 * c) for c in range(channels)], axis=-1)
    if dtype == np.float32:
        return image.astype(np.float32)
    top = np.iinfo(dtype).max
    return np.round(image * top).astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("channels", [1, 3])
def test_diffusion_fill_reproduces_a_linear_ramp(dtype, channels):
    image = ramp_image(dtype, channels)
    hole = np.zeros(image.shape[:2], bool)
    hole[5:33, 8:50] = True
    hole[0:3, 20:30] = True  # touching the top edge: the Neumann boundary there
    damaged = image.copy()
    damaged[hole] = 0
    out = diffusion_fill(damaged, hole)
    assert out.dtype == image.dtype and out.shape == image.shape
    np.testing.assert_array_equal(out[~hole], damaged[~hole])
    # Boundary values carry the integer rounding: one level for integers, the tolerance for floats.
    error = np.abs(out[hole].astype(np.float64) - image[hole].astype(np.float64)).max()
    assert error <= (1.0 if dtype != np.float32 else 1e-4)


def test_diffusion_fill_agrees_with_solve_laplace():
    rng = np.random.default_rng(0)
    image = rng.random((30, 35, 3)).astype(np.float32)
    hole = rng.random((30, 35)) < 0.3
    np.testing.assert_allclose(diffusion_fill(image, hole), solve_laplace(image, hole), atol=1e-5)


def test_tv_fill_keeps_an_edge_sharper_than_diffusion():
    # A vertical edge crossing a horizontal scratch: TV continues it straight, diffusion blurs it.
    image = np.zeros((50, 64, 3), np.float32)
    image[:, :29] = (0.2, 0.3, 0.1)
    image[:, 29:] = (0.8, 0.7, 0.9)
    hole = np.zeros((50, 64), bool)
    hole[20:30, :] = True
    tv = tv_fill(image, hole)
    smooth = diffusion_fill(image, hole)
    tv_error = np.abs(tv - image)[hole].mean()
    smooth_error = np.abs(smooth - image)[hole].mean()
    assert tv_error < 0.5 * smooth_error
    # Sharp: the jump between the columns on either side of the edge survives inside the scratch.
    jump = np.abs(tv[25, 29] - tv[25, 28]).max()
    assert jump > 0.4 > np.abs(smooth[25, 29] - smooth[25, 28]).max()
    np.testing.assert_array_equal(tv[~hole], image[~hole])


def test_patch_fill_continues_stripes():
    ys, xs = np.mgrid[0:96, 0:128]
    stripes = (0.5 + 0.4 * np.sin(2 * np.pi * (xs + 0.5 * ys) / 9.0)).astype(np.float32)[..., None]
    hole = np.zeros((96, 128), bool)
    hole[35:62, 45:85] = True
    out = patch_fill(stripes, hole, patch_size=7, seed=1)
    assert np.abs(out - stripes)[hole].mean() < 0.01
    assert np.abs(diffusion_fill(stripes, hole) - stripes)[hole].mean() > 0.2  # the smooth fill cannot


def test_patch_fill_continues_a_tiled_texture():
    tile = np.random.default_rng(3).random((12, 12, 3)).astype(np.float32)
    texture = np.tile(tile, (8, 10, 1))
    hole = np.zeros(texture.shape[:2], bool)
    hole[30:58, 40:75] = True
    damaged = (texture * 255).astype(np.uint8)
    out = patch_fill(damaged, hole)
    error = np.abs(out.astype(float) - damaged)[hole].mean()
    smooth_error = np.abs(diffusion_fill(damaged, hole).astype(float) - damaged)[hole].mean()
    assert error < 0.2 * smooth_error
    np.testing.assert_array_equal(out[~hole], damaged[~hole])


def test_patch_fill_is_deterministic_for_a_seed():
    rng = np.random.default_rng(4)
    image = (rng.random((60, 70, 3)) * 255).astype(np.uint8)
    hole = np.zeros((60, 70), bool)
    hole[20:35, 25:45] = True
    np.testing.assert_array_equal(patch_fill(image, hole, seed=5), patch_fill(image, hole, seed=5))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    shape=st.tuples(st.integers(3, 24), st.integers(3, 24)),
    channels=st.sampled_from([0, 1, 3]),
    dtype=st.sampled_from([np.uint8, np.uint16, np.float32]),
    fill=st.sampled_from(FILLS),
)
def test_fills_change_only_hole_pixels(seed, shape, channels, dtype, fill):
    rng = np.random.default_rng(seed)
    full = shape if channels == 0 else (*shape, channels)
    if dtype == np.float32:
        image = rng.random(full).astype(np.float32)
    else:
        image = rng.integers(0, np.iinfo(dtype).max + 1, full, dtype=dtype)
    hole = rng.random(shape) < 0.3
    hole[0, 0] = False  # at least one known pixel
    before = image.copy()
    out = fill(image, hole) if fill is not tv_fill else fill(image, hole, iterations=20)
    assert out.dtype == image.dtype and out.shape == image.shape
    np.testing.assert_array_equal(out[~hole], image[~hole])
    np.testing.assert_array_equal(image, before)


@pytest.mark.parametrize("fill", FILLS)
def test_empty_hole_returns_an_identical_copy(fill):
    image = (np.arange(8 * 9 * 3) % 251).astype(np.uint8).reshape(8, 9, 3)
    out = fill(image, np.zeros((8, 9), bool))
    assert out is not image
    np.testing.assert_array_equal(out, image)


@pytest.mark.parametrize("fill", FILLS)
def test_bad_input_is_refused(fill):
    image = np.zeros((6, 6, 3), np.uint8)
    with pytest.raises(RestorerError, match="whole image"):
        fill(image, np.ones((6, 6), bool))
    with pytest.raises(RestorerError, match="bool"):
        fill(image, np.ones((6, 6), np.uint8))
    with pytest.raises(RestorerError, match="int64"):
        fill(np.zeros((6, 6, 3), np.int64), np.zeros((6, 6), bool))


def test_bad_parameters_are_refused():
    image = np.zeros((20, 20, 3), np.uint8)
    hole = np.zeros((20, 20), bool)
    hole[5:9, 5:9] = True
    for size in (4, 1, 7.0):
        with pytest.raises(RestorerError, match="patch_size"):
            patch_fill(image, hole, patch_size=size)
    with pytest.raises(RestorerError, match="iterations"):
        tv_fill(image, hole, iterations=-1)


# --- metrics ------------------------------------------------------------------------------------


def test_psnr_known_values_and_mask():
    a = np.full((10, 12, 3), 0.5, np.float32)
    b = a + 0.1
    assert psnr(a, b) == pytest.approx(20.0, abs=1e-4)  # mse 0.01
    assert psnr(a, a) == float("inf")
    mask = np.zeros((10, 12), bool)
    mask[2:4, 3:6] = True
    c = a.copy()
    c[~mask] = 0.0  # differences outside the mask do not count
    assert psnr(a, c, mask) == float("inf")
    assert psnr(np.full((4, 4), 100, np.uint8), np.full((4, 4), 125, np.uint8)) == pytest.approx(
        20 * np.log10(255 / 25)
    )


def test_ssim_constant_images_match_the_formula():
    a = np.full((16, 16), 0.2)
    b = np.full((16, 16), 0.6)
    c1 = 0.01**2
    expected = (2 * 0.2 * 0.6 + c1) / (0.2**2 + 0.6**2 + c1)  # no variance: only the luminance term
    assert ssim(a, b) == pytest.approx(expected, rel=1e-6)
    assert ssim(a, a) == pytest.approx(1.0)


def test_ssim_drops_with_noise_and_respects_the_mask():
    rng = np.random.default_rng(0)
    a = rng.random((40, 40, 3))
    noisy = np.clip(a + rng.normal(0, 0.2, a.shape), 0, 1)
    assert ssim(a, noisy) < 0.9
    assert ssim(a, noisy) == pytest.approx(ssim(noisy, a))
    mask = np.zeros((40, 40), bool)
    mask[:, :10] = True
    half = a.copy()
    half[:, 25:] = noisy[:, 25:]  # damage far from the mask (beyond the 11x11 window)
    assert ssim(a, half, mask) == pytest.approx(1.0)
    assert ssim(a, half) < 1.0
    assert ssim_map(a[..., 0], a[..., 0]).shape == (40, 40)


def test_metrics_refuse_mismatched_or_empty_input():
    a = np.zeros((5, 5))
    with pytest.raises(RestorerError, match="shapes"):
        psnr(a, np.zeros((5, 6)))
    with pytest.raises(RestorerError, match="empty"):
        ssim(a, a, np.zeros((5, 5), bool))
