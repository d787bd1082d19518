"""Monochrome / toned / colour detection and re-toning."""

from __future__ import annotations

import numpy as np
import pytest

from restorer.core.tone import (
    detect_tone,
    fit_tone_curve,
    luminance,
    rgb_to_ycbcr,
    ycbcr_to_rgb,
)

SEPIA = np.array([0.44, 0.26, 0.08], dtype=np.float32)  # a brown: R > G > B


def _scene(rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """A smooth luminance scene (gradient plus blobs) in [0.05, 0.95]."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    y = 0.5 + 0.3 * np.sin(6 * xx) * np.cos(4 * yy) + 0.1 * rng.standard_normal((size, size))
    return np.clip(y, 0.05, 0.95).astype(np.float32)


def _sepia(y: np.ndarray, peak_chroma: float = 0.12) -> np.ndarray:
    """Sepia toning: chroma strongest in the mid-tones, along SEPIA's direction."""
    direction = rgb_to_ycbcr(SEPIA)[1:]
    tint = direction / np.linalg.norm(direction) * peak_chroma
    strength = 4 * y * (1 - y)
    ycc = np.stack([y, tint[0] * strength, tint[1] * strength], axis=-1)
    return ycbcr_to_rgb(ycc)


def test_grey_photos():
    rng = np.random.default_rng(0)
    y = _scene(rng)
    assert detect_tone((y[..., None] * 255).astype(np.uint8)).kind == "grey"
    rgb = np.repeat(y[..., None], 3, axis=-1)
    noisy = np.clip(rgb + 0.003 * rng.standard_normal(rgb.shape), 0, 1)  # scanner noise
    tone = detect_tone((noisy * 65535).astype(np.uint16))
    assert tone.kind == "grey" and tone.monochrome


@pytest.mark.parametrize("peak_chroma", [0.04, 0.12])
def test_sepia_photo_is_toned_with_a_brown_hue(peak_chroma):
    rng = np.random.default_rng(1)
    sepia = _sepia(_scene(rng), peak_chroma)
    sepia = np.clip(sepia + 0.003 * rng.standard_normal(sepia.shape), 0, 1)  # scanner noise
    tone = detect_tone((sepia * 255).round().astype(np.uint8))
    assert tone.kind == "toned" and tone.monochrome
    # Brown: Cb < 0 (less blue), Cr > 0 (more red), so the hue lies in the second quadrant.
    assert 90 < tone.hue < 180


def test_colour_photo_is_colour():
    rng = np.random.default_rng(2)
    y = _scene(rng)
    rgb = np.stack([y, np.roll(y, 20, axis=1), 1 - y], axis=-1)  # channels disagree everywhere
    assert detect_tone(rgb).kind == "colour"
    halves = np.concatenate([_sepia(y)[:, :32], np.stack([y * 0.3, y * 0.6, y], -1)[:, 32:]], axis=1)
    assert detect_tone(halves).kind == "colour"  # sepia left, blue right: two directions


def test_damaged_pixels_are_left_out_of_detection():
    rng = np.random.default_rng(3)
    photo = np.repeat(_scene(rng)[..., None], 3, axis=-1)
    photo[:20, :20] = [0.0, 0.0, 1.0]  # a blue scribble over the damage
    known = np.ones(photo.shape[:2], dtype=bool)
    known[:20, :20] = False
    assert detect_tone(photo).kind != "grey"
    assert detect_tone(photo, known).kind == "grey"


def test_ycbcr_round_trip():
    rgb = np.random.default_rng(4).random((10, 10, 3)).astype(np.float32)
    np.testing.assert_allclose(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb, atol=1e-5)
    np.testing.assert_allclose(luminance(rgb), rgb_to_ycbcr(rgb)[..., 0], atol=1e-6)


def test_retoned_fill_of_a_sepia_print_stays_sepia():
    rng = np.random.default_rng(5)
    print_ = _sepia(_scene(rng))
    known = np.ones(print_.shape[:2], dtype=bool)
    known[20:40, 20:40] = False
    curve = fit_tone_curve(print_, known)
    # A colour model's "face": luminance of something blue-green, re-toned with the print's curve.
    colour_fill = np.stack([0.2 * np.ones((20, 20)), 0.6 * np.ones((20, 20)), 0.7 * np.ones((20, 20))], -1)
    retoned = curve.apply(luminance(colour_fill))
    chroma = rgb_to_ycbcr(retoned)[..., 1:].reshape(-1, 2)
    print_direction = rgb_to_ycbcr(SEPIA)[1:]
    cosine = chroma @ print_direction / (np.linalg.norm(chroma, axis=1) * np.linalg.norm(print_direction))
    assert np.all(cosine > 0.99)
    np.testing.assert_allclose(luminance(retoned), luminance(colour_fill), atol=0.01)
    # The curve follows the print's tone at each level: mid-tones carry more chroma than highlights.
    mid, light = curve.apply(np.array([0.5, 0.93]))
    assert np.hypot(*rgb_to_ycbcr(mid)[1:]) > np.hypot(*rgb_to_ycbcr(light)[1:])


@pytest.mark.parametrize("channels", [1, 3])
def test_retone_of_a_grey_print_is_grey(channels):
    y = _scene(np.random.default_rng(6))
    grey = np.repeat(y[..., None], channels, axis=-1)
    out = fit_tone_curve(grey).apply(y[:5, :5], channels=channels)
    assert out.shape == (5, 5, channels)
    np.testing.assert_allclose(out, np.repeat(y[:5, :5, None], channels, axis=-1), atol=1e-5)


def _warm_portrait(size: int = 160, seed: int = 0) -> np.ndarray:
    """A warm colour portrait: beige backdrop, skin oval with redder cheeks and lips, brown hair.

    Every colour lies near one hue line (orange), which fooled the detector into "toned"; but at
    the same luminance the cheeks, lips and hair are more saturated than the backdrop.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    image = np.empty((size, size, 3), np.float32)
    image[:] = np.array([0.80, 0.70, 0.58])[None, None] * (0.85 + 0.15 * yy[..., None])  # backdrop
    face = ((xx - 0.5) / 0.30) ** 2 + ((yy - 0.55) / 0.38) ** 2 < 1
    image[face] = [0.86, 0.62, 0.48]  # skin
    for cx in (0.36, 0.64):  # cheeks: same brightness, more red
        image[((xx - cx) / 0.08) ** 2 + ((yy - 0.62) / 0.06) ** 2 < 1] = [0.92, 0.55, 0.42]
    image[((xx - 0.5) / 0.10) ** 2 + ((yy - 0.78) / 0.03) ** 2 < 1] = [0.80, 0.36, 0.30]  # lips
    image[(yy < 0.30) & (((xx - 0.5) / 0.36) ** 2 + ((yy - 0.32) / 0.26) ** 2 < 1)] = [0.36, 0.22, 0.13]
    image += rng.normal(0, 0.01, image.shape)
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def test_a_warm_colour_portrait_is_colour_and_its_sepia_print_is_toned():
    portrait = _warm_portrait()
    assert detect_tone(portrait).kind == "colour"
    y = portrait.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) / 255
    sepia = np.clip(y[..., None] * np.array([1.07, 0.98, 0.82]), 0, 1)
    assert detect_tone(np.round(sepia * 255).astype(np.uint8)).kind == "toned"
