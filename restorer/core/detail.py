"""Guided detail synthesis: a learned fill's coarse content, the photo's own fine detail.

A face model paints its hole at 64 px and the fill is resampled up to the hole's window; on a
scan the window is 5-8x the model's size, so even a perfect model comes back as a soft patch with
no grain or fine structure, which the eye reads as a smudge. Here the upsampled fill is only the
*guide* for the low frequencies, and the frequencies above the model's resolution are synthesised
at full resolution from the photo's own known pixels:

1. the guide is made to meet the photo at the hole's edge (a Poisson blend: its gradients, the
   photo's values around it), so that its low frequencies and the photo's agree;
2. a guided multi-scale PatchMatch (restorer.core.patchmatch with a :class:`Guide`) fills the hole
   from known patches, straight or mirrored left-right (the other eye, the other cheek), the cost
   of a candidate weighing its low-passed pixels against the guide's low-pass as well as the
   patches already synthesised around it; each pixel copies its best patch's pixel rather than a
   mean of many, so that the copied grain and detail are not averaged away;
3. the result is the guide's low frequencies plus the synthesis's high frequencies (a Gaussian
   split at the model's pixel size), so the structure stays the model's and the texture is the
   photo's; where the two low bands differ by less than the photo's own texture, the synthesis's
   is kept (what the model could not resolve). The caller composes it (Poisson blend) as before,
   and grain matching leaves it alone: it carries the photo's own grain.

Worth it only when the window is notably larger than the model (``MIN_SCALE``). Numpy and scipy
only: no torch, no Qt.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from restorer.core.patchmatch import Guide, complete
from restorer.core.poisson import poisson_blend

__all__ = ["MAX_DEPTH", "MIN_SCALE", "detail_scale", "hole_depth", "synthesise_detail"]

MIN_SCALE = 1.5  # window px per model px below which a fill has (almost) all the detail it can show
# The low/high split: a Gaussian of this many model pixels. The guide's spectrum ends at half the
# model's sampling rate, where a Gaussian of 0.6 model px passes 17%: what it keeps of the guide is
# what the model knew, what it leaves to the synthesis is detail the model lacked. Measured on the
# benchmark's quick set (benchmarks/detail_quality.py): 0.5 left the fill's fine detail at 0.79x its
# ring's, 0.6 at 0.87x, 0.75 at 0.89x (but more holes over 1.3x); hole PSNR 0.03 dB lower from 0.6 on.
LOW_SIGMA = 0.6
# A guide feature sample against a known pixel's in the patch distance; 0.3 and 3 scored the same
# (the result's low frequencies are the guide's whatever the search chose).
GUIDE_WEIGHT = 1.0
MARGIN = 16  # px: the least context searched around the hole (else as much as the hole is wide)
# Sideways the sources reach 3x as far: in an aligned face the other eye's centre is ~2.8 eye-hole
# widths away, and mirrored, it is the best source for the lost one's detail. Measured on the
# benchmark's quick set against 1x: the same PSNR (+0.04 dB against the clean faces), ~20% slower.
SIDEWAYS = 3.0


# How deep into the window a hole may reach (px from its nearest known pixel, over the window's
# side) and still get detail. Copies are only as good as the sources near them: deep inside a large
# hole (most of a face, a centre quarter, a half) the synthesis stitches patches from far away, and
# under Xvfb the result was patchwork (eye and nose pieces with visible edges) where the model's soft
# fill with matched grain reads as a face. The benchmark's eye, mouth and cheek holes reach 0.05-0.09
# of the frame; a centre-quarter hole 0.25, most of a face 0.26, a half 0.5.
MAX_DEPTH = 0.15


def hole_depth(unknown: np.ndarray) -> float:
    """How far the hole reaches from its nearest known pixel, as a fraction of the window's side."""
    if not unknown.any():
        return 0.0
    return float(ndimage.distance_transform_edt(unknown).max()) / max(unknown.shape)


def detail_scale(side: int, resolution: int) -> float:
    """Window pixels per model pixel for a square window of ``side`` px and a ``resolution`` px model."""
    return side / resolution


def _crop(unknown: np.ndarray) -> tuple[slice, slice]:
    """The sources: the unknown pixels' box grown by as much as they extend (at least ``MARGIN``),
    sideways by ``SIDEWAYS`` times that, so that a hole over one eye sees the other one whole."""
    rows, cols = np.flatnonzero(unknown.any(axis=1)), np.flatnonzero(unknown.any(axis=0))
    grow = max(MARGIN, int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1))
    across = round(SIDEWAYS * grow)
    return (
        slice(max(int(rows[0]) - grow, 0), int(rows[-1]) + 1 + grow),
        slice(max(int(cols[0]) - across, 0), int(cols[-1]) + 1 + across),
    )


def _low(image: np.ndarray, sigma: float) -> np.ndarray:
    return ndimage.gaussian_filter(image, (sigma, sigma, 0), mode="reflect")


def _texture_level(high: np.ndarray, known: np.ndarray) -> np.ndarray:
    """(C,) robust standard deviation (from the median absolute deviation) of the photo's high band."""
    values = high[known]
    return 1.4826 * np.median(np.abs(values - np.median(values, axis=0)), axis=0)


def _shrunk(correction: np.ndarray, level: np.ndarray) -> np.ndarray:
    """``correction`` less ``level`` towards zero (soft thresholding): continuous, no contours."""
    return np.sign(correction) * np.maximum(np.abs(correction) - level, 0.0)


def synthesise_detail(
    window: np.ndarray, unknown: np.ndarray, guide: np.ndarray, scale: float, seed: int = 0
) -> np.ndarray:
    """``guide`` (float32 (h, w, C) in [0, 1], a fill upsampled ``scale`` times) with the photo's detail.

    ``window`` is the photo (float32, same shape; its ``unknown`` pixels are not read). Inside the
    unknown pixels the result has the guide's low frequencies and high frequencies synthesised
    from the window's known patches; around them (the ring a blend reads) it meets the window, so
    that composing it adds no correction of its own; elsewhere it is the guide. Deterministic for
    a ``seed``.
    """
    if not unknown.any() or unknown.all():
        return guide
    box = _crop(unknown)
    photo, hole = np.ascontiguousarray(window[box], np.float32), unknown[box]
    # The guide meets the photo first: its low frequencies and the photo's then agree at the edge,
    # and the search compares like with like.
    start = poisson_blend(photo, np.ascontiguousarray(guide[box], np.float32), hole)
    sigma = LOW_SIGMA * scale
    features = _low(start, sigma)
    synthesised = complete(start, hole, seed, True, Guide(features, GUIDE_WEIGHT))
    # Guide's low band + synthesis's high band = synthesis + low(start - synthesis).
    # The guide's low band replaces the synthesis's where they differ by more than the photo's own
    # texture does: closer, the difference is texture the model could not resolve, and stays.
    correction = _shrunk(_low(start - synthesised, sigma), _texture_level(photo - features, ~hole))
    detailed = synthesised + correction
    out = guide.copy()
    out[box] = np.clip(detailed, 0.0, 1.0)
    return out
