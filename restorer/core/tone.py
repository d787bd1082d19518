"""Monochrome and toned (sepia, selenium, cyanotype...) prints: detection, luminance, re-toning.

A face model trained on colour photos paints colour faces. In a black-and-white or sepia print
the pipeline therefore fits only luminance and gives the generated luminance the print's own
tone: for each luminance level, the mean chroma the print has at that level (a toned print is
usually more saturated in the mid-tones than in the highlights, which one global tint misses).

Chroma is measured in YCbCr (BT.601, float [0, 1] scale, Cb/Cr centred on 0):
- grey: almost every pixel has chroma below the noise of a scan;
- toned: the chroma points one way (the mean chroma vector is nearly as long as the mean
  chroma), few pixels stray far from that direction, **and the chroma is a function of
  luminance**: a toned print has one tint per grey level, so once the tone curve (mean chroma per
  level) is taken out, only scan noise is left;
- colour: anything else. A warm colour portrait passes the first two tests (skin, hair and a warm
  background all lie along one hue line) but fails the third: lips, cheeks, hair and background
  differ in saturation at the same luminance.

Measured (docs/quality.md, benchmarks/tone_quality.py): on 1,000 FairFace val colour faces the first two
tests alone called 59.5% "toned"; with the luminance test 4-6%. Synthetic toned prints (sepia,
warm, selenium and cyan tints over FairFace and Kodak luminance, fading, 3/255 noise, JPEG) stay
toned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# BT.601 luma weights; Cb = (B - Y) * CB_SCALE, Cr = (R - Y) * CR_SCALE.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
CB_SCALE = 0.5 / (1.0 - 0.114)
CR_SCALE = 0.5 / (1.0 - 0.299)

GREY_CHROMA = 0.02
"""95 % of a grey print's pixels have chroma below this (about 5/255: scanner noise, JPEG)."""
TONED_CONCENTRATION = 0.9
"""|mean chroma vector| / mean |chroma| above this: the chroma points one way."""
TONED_STRAY = 0.04
"""90 % of a toned print's pixels lie closer than this to the toning direction."""
TONED_RESIDUAL = 0.022
"""90 % of a toned print's pixels lie closer than this to the print's tone curve (noise and JPEG
included; colour faces: 5th percentile 0.021, median 0.051)."""
MAX_SAMPLES = 250_000
TONE_BINS = 32
MIN_BIN_COUNT = 16


@dataclass(frozen=True)
class Tone:
    kind: str  # "grey" | "toned" | "colour"
    chroma: float  # 95th percentile chroma of the known pixels
    concentration: float  # 0 (chroma in every direction) .. 1 (one direction)
    hue: float | None  # toning direction in degrees in the Cb-Cr plane (toned prints only)

    @property
    def monochrome(self) -> bool:
        return self.kind != "colour"


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """float (..., 3) RGB in [0, 1] -> (..., 3) Y in [0, 1], Cb and Cr centred on 0."""
    rgb = np.asarray(rgb, dtype=np.float32)
    y = rgb @ LUMA
    return np.stack([y, (rgb[..., 2] - y) * CB_SCALE, (rgb[..., 0] - y) * CR_SCALE], axis=-1)


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """Inverse of ``rgb_to_ycbcr``; the result is clipped to [0, 1]."""
    y, cb, cr = ycc[..., 0], ycc[..., 1], ycc[..., 2]
    r = y + cr / CR_SCALE
    b = y + cb / CB_SCALE
    g = (y - LUMA[0] * r - LUMA[2] * b) / LUMA[1]
    return np.clip(np.stack([r, g, b], axis=-1), 0.0, 1.0).astype(np.float32)


def luminance(image: np.ndarray) -> np.ndarray:
    """float (..., C) in [0, 1] -> (...) luminance; grey images (C = 1) are their own luminance."""
    image = np.asarray(image, dtype=np.float32)
    return image[..., 0] if image.shape[-1] == 1 else image @ LUMA


def _known_samples(pixels: np.ndarray, known: np.ndarray | None) -> np.ndarray:
    """Up to MAX_SAMPLES (N, C) float pixels from the known area, evenly strided (deterministic)."""
    flat = pixels.reshape(-1, pixels.shape[-1])
    step = max(1, len(flat) // MAX_SAMPLES)
    samples = flat[::step]  # stride first: a 24 MP scan is never copied whole
    if known is not None:
        keep = np.asarray(known, dtype=bool).reshape(-1)
        samples = samples[keep[::step]]
        if len(samples) < MAX_SAMPLES // 100:  # mostly damaged: take every known pixel instead
            samples = flat[keep][:: max(1, int(keep.sum()) // MAX_SAMPLES)]
    if samples.dtype.kind in "ui":
        return samples.astype(np.float32) / np.iinfo(samples.dtype).max
    return samples.astype(np.float32, copy=False)


def detect_tone(pixels: np.ndarray, known: np.ndarray | None = None) -> Tone:
    """Classify a photo (H, W, C) uint8/uint16/float [0, 1] as grey, toned or colour.

    ``known`` (bool (H, W), True = usable) leaves damaged pixels out of the statistics.
    """
    if pixels.shape[-1] == 1:
        return Tone("grey", 0.0, 0.0, None)
    samples = _known_samples(pixels, known)
    if len(samples) == 0:
        return Tone("colour", 0.0, 0.0, None)
    chroma = rgb_to_ycbcr(samples)[:, 1:]
    magnitude = np.hypot(chroma[:, 0], chroma[:, 1])
    p95 = float(np.percentile(magnitude, 95))
    if p95 < GREY_CHROMA:
        return Tone("grey", p95, 0.0, None)
    mean_vector = chroma.mean(axis=0)
    concentration = float(np.hypot(*mean_vector) / max(magnitude.mean(), 1e-12))
    direction = mean_vector / max(float(np.hypot(*mean_vector)), 1e-12)
    # Distance of each pixel's chroma from the toning line (2-D cross product with its direction).
    stray = np.abs(chroma[:, 0] * direction[1] - chroma[:, 1] * direction[0])
    one_way = concentration > TONED_CONCENTRATION and float(np.percentile(stray, 90)) < TONED_STRAY
    if one_way and _curve_residual(samples) < TONED_RESIDUAL:
        hue = float(np.degrees(np.arctan2(direction[1], direction[0])))
        return Tone("toned", p95, concentration, hue)
    return Tone("colour", p95, concentration, None)


def _curve_residual(samples: np.ndarray) -> float:
    """90th percentile distance of the samples' chroma from their own tone curve."""
    curve = _fit_samples(samples)
    ycc = rgb_to_ycbcr(samples)
    cb, cr = curve.chroma(ycc[:, 0])
    return float(np.percentile(np.hypot(ycc[:, 1] - cb, ycc[:, 2] - cr), 90))


@dataclass(frozen=True)
class ToneCurve:
    """Mean chroma of a print at each luminance level (bin centres ascending)."""

    levels: np.ndarray  # (B,) luminance
    cb: np.ndarray  # (B,)
    cr: np.ndarray  # (B,)

    def chroma(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(Cb, Cr) the print has at luminance ``y``."""
        return np.interp(y, self.levels, self.cb), np.interp(y, self.levels, self.cr)

    def apply(self, y: np.ndarray, channels: int = 3) -> np.ndarray:
        """Re-tone luminance (...) in [0, 1] -> float32 (..., channels) in [0, 1]."""
        y = np.clip(np.asarray(y, dtype=np.float32), 0.0, 1.0)
        if channels == 1:
            return y[..., None]
        ycc = np.stack([y, *self.chroma(y)], axis=-1)
        return ycbcr_to_rgb(ycc.astype(np.float32))


def fit_tone_curve(pixels: np.ndarray, known: np.ndarray | None = None) -> ToneCurve:
    """The print's mean chroma per luminance level, from its known pixels.

    Levels with fewer than MIN_BIN_COUNT pixels take the value interpolated from their
    neighbours (flat beyond the darkest and lightest populated level); no known pixel at all
    gives a neutral (grey) curve.
    """
    return _fit_samples(_known_samples(pixels, known))


def _fit_samples(samples: np.ndarray) -> ToneCurve:
    edges = np.linspace(0.0, 1.0, TONE_BINS + 1, dtype=np.float32)
    centres = (edges[:-1] + edges[1:]) / 2
    if samples.shape[-1] == 1 or len(samples) == 0:
        zeros = np.zeros_like(centres)
        return ToneCurve(centres, zeros, zeros)
    ycc = rgb_to_ycbcr(samples)
    bins = np.clip(np.digitize(ycc[:, 0], edges[1:-1]), 0, TONE_BINS - 1)
    counts = np.bincount(bins, minlength=TONE_BINS)
    sums_cb = np.bincount(bins, weights=ycc[:, 1], minlength=TONE_BINS)
    sums_cr = np.bincount(bins, weights=ycc[:, 2], minlength=TONE_BINS)
    filled = counts >= MIN_BIN_COUNT
    if not filled.any():  # a handful of pixels: one mean chroma for every level
        filled = counts > 0
    levels = centres[filled]
    cb = np.interp(centres, levels, sums_cb[filled] / counts[filled]).astype(np.float32)
    cr = np.interp(centres, levels, sums_cr[filled] / counts[filled]).astype(np.float32)
    return ToneCurve(centres, cb, cr)
