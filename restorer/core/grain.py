"""Grain matching: give a fill the photo's own grain, so that it does not look plastic on a grainy scan.

The grain is measured per channel and per scale around the hole: three band-pass layers
(differences of Gaussians of 0, 1, 2 and 4 px, so single-pixel noise, clumps of ~2 px and of
~4 px), each robustly measured as a standard deviation from the median absolute deviation in a
ring of known pixels outside the hole. MAD ignores the few large values that edges and texture
put in a band, so what it reports is the noise floor, not the picture's detail. The same is
measured inside the fill; where the fill's grain is lower (patch votes and learned fills are
smoother than the photo), seeded Gaussian noise shaped into the same bands is added to the hole
pixels only, with per-band amplitudes chosen (non-negative least squares, bands overlap) so that
fill and added noise together have the ring's band levels.

Numpy and scipy only: no model, no torch.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage

from restorer.core.errors import RestorerError
from restorer.core.poisson.pixels import check_hole, check_pixels, to_dtype, value_scale

__all__ = ["MIN_HOLE_PIXELS", "grain_levels", "match_grain", "photo_grain"]

SCALES = (0.0, 1.0, 2.0, 4.0)  # Gaussian sigmas (px); band k is blur(k) - blur(k + 1)
_REACH = 9  # px a band reads from (4 px sigma at truncate 2): ring and core keep this far from the edge
_RING = 16  # px of known ring measured beyond the reach
_MIN_PIXELS = 64  # fewer pixels than this give no trustworthy MAD: nothing is added
MIN_HOLE_PIXELS = _MIN_PIXELS  # a smaller hole's fill cannot be measured, so it never gets grain
# px a band reads around a pixel: the widest blur, 4 px sigma at truncate 2, has radius 8.
_HALO = 8
# Bands are computed tile by tile, only where a measured pixel is: 64 px tiles skip the inside of
# a wide hole and the empty parts of a sprawling one's box, at a halo overhead of (80/64)^2.
_TILE = 64
GRAIN_READ = _REACH + _RING + 1 + _HALO
"""px beyond a hole's bounding box that :func:`photo_grain` reads: the ring and the pixels its bands see."""
_MAD_TO_STD = 1.4826  # std of a Gaussian from its median absolute deviation
_SLACK = 0.1  # a band within 10% of the ring's level needs nothing: MAD estimates scatter that much
_NEGLIGIBLE = 0.25  # deficits under a quarter of a quantisation level are left alone


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    if sigma == 0.0:
        return image
    return ndimage.gaussian_filter(image, (sigma, sigma, 0), truncate=2.0, mode="reflect")


def _bands(image: np.ndarray) -> list[np.ndarray]:
    """The band-pass layers of float (H, W, C) ``image``, finest first."""
    blurred = [_blur(image, s) for s in SCALES]
    return [blurred[k] - blurred[k + 1] for k in range(len(SCALES) - 1)]


def _robust_std(values: np.ndarray) -> np.ndarray:
    """(C,) standard deviations of (n, C) ``values`` from their median absolute deviation."""
    centred = values - np.median(values, axis=0)
    return _MAD_TO_STD * np.median(np.abs(centred), axis=0)


def grain_levels(image: np.ndarray, where: np.ndarray, scale: float = 1.0) -> np.ndarray | None:
    """(bands, C) robust noise levels of (H, W, C) ``image`` / ``scale`` over bool mask ``where``.

    None when ``where`` holds too few pixels to measure. The bands are those of the whole image
    (reflected at its edges), but computed only on the tiles that hold ``where`` pixels: a ring
    around a sprawling crack, or around a hole in a wide window, is a small part of its box.
    """
    if np.count_nonzero(where) < _MIN_PIXELS:
        return None
    picked: list[list[np.ndarray]] = [[] for _ in SCALES[1:]]
    height, width = where.shape
    rows = np.flatnonzero(where.any(axis=1))
    cols = np.flatnonzero(where.any(axis=0))
    for y0 in range(rows[0] - rows[0] % _TILE, rows[-1] + 1, _TILE):
        band_rows = where[y0 : y0 + _TILE]
        if not band_rows.any():
            continue
        for x0 in range(cols[0] - cols[0] % _TILE, cols[-1] + 1, _TILE):
            inside = band_rows[:, x0 : x0 + _TILE]
            if not inside.any():
                continue
            # The tile and the halo its bands read: inside the halo the blurs see the image's own
            # pixels, so a tile's band values equal the whole image's bit for bit.
            top, left = max(y0 - _HALO, 0), max(x0 - _HALO, 0)
            block = image[top : min(y0 + _TILE + _HALO, height), left : min(x0 + _TILE + _HALO, width)]
            block = block.astype(np.float32) / np.float32(scale)
            chosen = np.zeros(block.shape[:2], bool)
            chosen[y0 - top : y0 - top + inside.shape[0], x0 - left : x0 - left + inside.shape[1]] = inside
            for k, band in enumerate(_bands(block)):
                picked[k].append(band[chosen])
    return np.stack([_robust_std(np.concatenate(values)) for values in picked])


@lru_cache(maxsize=1)
def _band_gains() -> np.ndarray:
    """(bands, bands) squared gain of band filter k's noise as band j measures it: entry [j, k].

    Unit white noise shaped by band k, then measured (as a plain standard deviation) in band j;
    computed once on a fixed-seed field large enough for 1% accuracy.
    """
    white = np.random.default_rng(0).standard_normal((256, 256, 1)).astype(np.float32)
    gains = np.empty((len(SCALES) - 1,) * 2)
    for k, shaped in enumerate(_bands(white)):
        for j, measured in enumerate(_bands(shaped)):
            gains[j, k] = float(np.var(measured[16:-16, 16:-16]))
    return gains


def _nonnegative_solve(matrix: np.ndarray, target: np.ndarray) -> np.ndarray:
    """argmin |matrix x - target| over x >= 0, by trying every set of free bands (there are 3).

    Exact for this size, and it keeps scipy.optimize (a slow import) out of the start-up path.
    """
    n = matrix.shape[1]
    best, best_error = np.zeros(n), float(np.sum(target**2))
    for subset in range(1, 1 << n):
        free = [k for k in range(n) if subset >> k & 1]
        x = np.zeros(n)
        x[free] = np.linalg.lstsq(matrix[:, free], target, rcond=None)[0]
        error = float(np.sum((matrix @ x - target) ** 2))
        if (x >= 0).all() and error < best_error - 1e-18:
            best, best_error = x, error
    return best


def _amplitudes(wanted: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(bands, C) amplitudes of white noise per band filter that lift ``present`` to ``wanted``."""
    # Within _SLACK of the ring is as grainy as the ring: the levels are estimates.
    deficit = np.where(present < (1.0 - _SLACK) * wanted, wanted**2 - present**2, 0.0)
    gains = _band_gains()
    out = np.zeros_like(wanted)
    for c in range(wanted.shape[1]):
        if deficit[:, c].any():
            squared = _nonnegative_solve(gains, deficit[:, c])
            out[:, c] = np.sqrt(squared)
    return out


def _regions(hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The known ring to measure the photo on, and the hole's core to measure the fill on."""
    return _ring(hole), _core(hole)


def _ring(hole: np.ndarray) -> np.ndarray:
    """The known pixels _REACH to _REACH + _RING px from the hole: the photo's grain is measured there."""
    outside = ndimage.distance_transform_edt(~hole)
    return (outside > _REACH) & (outside <= _REACH + _RING)


def _core(hole: np.ndarray) -> np.ndarray:
    """The hole's pixels deeper than _REACH (all of them in a small hole): the fill is measured there."""
    core = ndimage.distance_transform_edt(hole) > _REACH
    if np.count_nonzero(core) < _MIN_PIXELS:  # a small hole: measure all of it, edge and all
        core = hole
    return core


def _noise(shape: tuple[int, ...], amplitudes: np.ndarray, seed: int, mono: bool = False) -> np.ndarray:
    """Float (H, W, C) noise: per band and channel, white noise shaped by the band, scaled. ``mono``:
    one noise field for every channel (a grey or toned print's grain has no colour of its own)."""
    rng = np.random.default_rng(seed)
    total = np.zeros(shape, np.float32)
    drawn = (*shape[:2], 1) if mono else shape
    for k, amplitude in enumerate(amplitudes):
        white = rng.standard_normal(drawn).astype(np.float32)  # drawn for every band: seeds stay aligned
        if amplitude.any():
            total += (_blur(white, SCALES[k]) - _blur(white, SCALES[k + 1])) * amplitude.astype(np.float32)
    return total


def match_grain(
    pixels: np.ndarray,
    hole: np.ndarray,
    fill: np.ndarray,
    seed: int = 0,
    wanted: np.ndarray | None = None,
    mono: bool = False,
) -> np.ndarray:
    """``fill`` with grain added to its hole pixels where it is smoother than the photo around it.

    ``pixels`` is the photo (its hole pixels are not read), ``fill`` the same photo with the hole
    filled, both uint8/uint16/float (H, W) or (H, W, C) of one dtype; ``hole`` is bool (H, W).
    Returns a new array like ``fill``, equal to it bit for bit outside the hole, and everywhere
    when the photo has no grain to match (a clean or noiseless photo), the fill already has as
    much, or there are too few pixels to measure. Deterministic for a ``seed``. ``wanted``:
    the photo's levels measured beforehand (:func:`photo_grain`), so that a fill composed again
    later gets the grain the first one got, whatever has changed around it since. ``mono``: the
    same grain in every channel, for grey and toned prints.
    """
    photo = check_pixels(pixels, "pixels")
    filled = check_pixels(fill, "fill")
    check_hole(hole, photo.shape)
    if photo.shape != filled.shape or photo.dtype != filled.dtype:
        raise RestorerError(
            f"the fill ({filled.shape}, {filled.dtype}) does not match the photo "
            f"({photo.shape}, {photo.dtype})"
        )
    out = np.array(filled, order="C")
    if not hole.any() or hole.all():
        return out.reshape(fill.shape)
    box = _around(hole)
    levels = None if wanted is None else np.asarray(wanted)
    grained = _grained(photo[box], hole[box], out[box], seed, levels, mono)
    if grained is not None:
        out[box][hole[box]] = grained
    return out.reshape(fill.shape)


def _around(hole: np.ndarray, grow: int = _REACH + _RING + 1) -> tuple[slice, slice]:
    """The hole's bounding box grown by ``grow`` px (by default what the ring needs)."""
    rows, cols = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
    return (
        slice(max(rows[0] - grow, 0), rows[-1] + 1 + grow),
        slice(max(cols[0] - grow, 0), cols[-1] + 1 + grow),
    )


def photo_grain(pixels: np.ndarray, hole: np.ndarray, skip: np.ndarray | None = None) -> np.ndarray | None:
    """(bands, C) grain levels of the photo in the ring around ``hole``, leaving out ``skip`` (other
    damage, which is not grain); None when too little is known to measure. Values in [0, 1] units."""
    photo = check_pixels(pixels, "pixels")
    check_hole(hole, photo.shape)
    if not hole.any():
        return None
    # Only the ring and what its bands read matter: a patch fill's window is often many times that.
    # Cropped GRAIN_READ px beyond the hole, every pixel a ring pixel's band reads is the photo's own.
    box = _around(hole, GRAIN_READ)
    ring = _ring(hole[box])
    if skip is not None:
        ring &= ~skip[box]
    return grain_levels(photo[box], ring, value_scale(photo.dtype))


def _grained(
    photo: np.ndarray, hole: np.ndarray, fill: np.ndarray, seed: int, wanted: np.ndarray | None, mono: bool
) -> np.ndarray | None:
    """The hole's (n, C) values of ``fill`` with matching grain, or None when none is needed."""
    scale = np.float32(value_scale(fill.dtype))
    if wanted is None:  # measured beforehand in the pipeline: then the ring is not needed here
        wanted = grain_levels(photo, _ring(hole), scale)
    present = grain_levels(fill, _core(hole), scale)
    if wanted is None or present is None:
        return None
    amplitudes = _amplitudes(wanted, present)
    step = 1.0 / float(scale) if fill.dtype.kind in "ui" else 1e-6
    if not (amplitudes > _NEGLIGIBLE * step).any():
        return None
    values = fill[hole].astype(np.float32) / scale + _noise(fill.shape, amplitudes, seed, mono)[hole]
    if fill.dtype.kind in "ui":
        values = np.clip(values, 0.0, 1.0)
    return to_dtype(values, fill.dtype)
