"""Grain matching: give a fill the photo's own grain, so that it does not look plastic on a grainy scan.

The grain is measured per channel and per scale around the hole: three band-pass layers
(differences of Gaussians of 0, 1, 2 and 4 px, so single-pixel noise, clumps of ~2 px and of
~4 px), measured in a ring of known pixels outside the hole, cell by cell (32 px cells): grain is
everywhere, texture and edges (hair, leaves, an earring) are in some cells, so the quietest cells
give the noise floor, not the picture's detail. (A median absolute deviation over the whole ring,
used before, took a ring of hair and foliage for heavy grain and speckled large face fills.) The
quiet cells also give how the channels' grain is correlated: film and scanner grain is mostly in
brightness, and noise drawn independently per channel would be coloured speckle on it. The same
is measured inside the fill; where the fill's grain is lower (patch votes and learned fills are
smoother than the photo), seeded Gaussian noise shaped into the same bands, correlated across
channels as the ring's grain is, is added to the hole pixels only, with per-band amplitudes chosen
(non-negative least squares, bands overlap) so that fill and added noise together have the ring's
band levels.

Numpy and scipy only: no model, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

from restorer.core.errors import RestorerError
from restorer.core.maskops import mask_bounds
from restorer.core.poisson.pixels import check_hole, check_pixels, to_dtype, value_scale
from restorer.core.types import Bounds

__all__ = ["MIN_HOLE_PIXELS", "Grain", "grain_levels", "grain_stats", "match_grain", "photo_grain"]

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
_CELL = 32  # px: cells of the measured pixels, aligned to their bounding box (so a crop measures the same)
_CELL_MIN = 48  # measured pixels a cell needs to count
# With fewer cells that count, every pixel does (the robust MAD of all of them). Two are enough to
# leave the busier out: the band below a half-face hole in a 160 px frame holds five, and measured
# on all its pixels (hair, brows) it gave the fill coloured blotches.
_MIN_CELLS = 2
_QUIET = 0.3  # the 30% quantile of the cells' band variances gives the grain
# Kurtosis of a band's calm cells: grain is Gaussian (3.0 measured on white and clumped noise, 0-2 px);
# the rings of 160 px faces measured 3.7-15 (lids, brows, nostrils), a pasted face in a clean Kodak
# photo 4.1-5.5. Up to _K_GRAIN a band's level is grain, from _K_STRUCTURE on it is structure.
_K_GRAIN = 3.5
_K_STRUCTURE = 5.0
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


@dataclass(frozen=True)
class Grain:
    """A photo's grain around a hole: what a fill should get."""

    levels: np.ndarray  # (bands, C) standard deviation per band and channel, in [0, 1] units
    correlation: np.ndarray  # (bands, C, C) between the channels' grain, per band


def _correlation(cov: np.ndarray) -> np.ndarray:
    """(C, C) correlation of covariance ``cov``; channels without variance are uncorrelated."""
    std = np.sqrt(np.maximum(np.diag(cov), 0.0))
    scale = np.outer(std, std)
    corr = np.divide(cov, scale, out=np.zeros_like(cov), where=scale > 0)
    corr = np.clip(corr, -1.0, 1.0)
    np.fill_diagonal(corr, 1.0)
    return corr


def _kurtosis(values: np.ndarray) -> float:
    """Kurtosis of zero-centred ``values`` (3 for a Gaussian; edges and structure make it larger)."""
    second = float(np.mean(values**2))
    return float(np.mean(values**4)) / second**2 if second > 0 else 3.0


def grain_likeness(kurtosis: float) -> float:
    """How much of a band's measured level to take for grain, from its kurtosis: 1 up to
    ``_K_GRAIN``, 0 from ``_K_STRUCTURE`` on, linear between."""
    return float(np.clip((_K_STRUCTURE - kurtosis) / (_K_STRUCTURE - _K_GRAIN), 0.0, 1.0))


def _band_stats(values: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(C,) grain levels, (C, C) correlation and the brightness's kurtosis of one band's (n, C)
    ``values`` in cells ``cells``.

    Per channel a low quantile of the cells' variances, and the correlation and kurtosis of the
    calmer half of the cells: busy cells (texture, edges) are left out. With too few cells, the
    robust spread of all values (and their plain correlation and kurtosis).
    """
    counts = np.bincount(cells)
    counted = np.flatnonzero(counts >= _CELL_MIN)
    channels = values.shape[1]
    if counted.size < _MIN_CELLS:
        cov = np.atleast_2d(np.cov(values.astype(np.float64), rowvar=False)) if values.shape[0] > 1 else None
        corr = np.eye(channels) if cov is None else _correlation(cov)
        brightness = values.mean(axis=1, dtype=np.float64)
        return _robust_std(values), corr, _kurtosis(brightness - np.median(brightness))
    n = counts[counted][:, None]
    means = np.stack([np.bincount(cells, values[:, c])[counted] for c in range(channels)], axis=1) / n
    cov = np.empty((counted.size, channels, channels))
    for c in range(channels):
        for d in range(c, channels):
            moment = np.bincount(cells, values[:, c] * values[:, d])[counted] / n[:, 0]
            cov[:, c, d] = cov[:, d, c] = moment - means[:, c] * means[:, d]
    # Each channel's level: the 30% quantile of its cells' variances. Texture raises some cells, so a
    # low quantile leaves it out; on pure grain the quantile of many noisy cell estimates sits a few
    # percent below the truth (the mean of the quietest 30% sat 10-20% below with few cells, and a fill
    # as grainy as its ring then got grain added).
    variance = np.quantile(cov[:, np.arange(channels), np.arange(channels)], _QUIET, axis=0)
    busy = np.trace(cov, axis1=1, axis2=2)
    calm = busy <= np.median(busy)
    quiet_cov = cov[calm].mean(axis=0)  # the calmer half: how the channels move together
    slot = np.full(counts.size, -1)
    slot[counted[calm]] = np.arange(np.count_nonzero(calm))
    picked = slot[cells] >= 0
    brightness = values[picked].mean(axis=1, dtype=np.float64) - means[calm].mean(axis=1)[slot[cells][picked]]
    return np.sqrt(np.maximum(variance, 0.0)), _correlation(quiet_cov), _kurtosis(brightness)


def grain_stats(
    image: np.ndarray, where: np.ndarray, scale: float = 1.0, grain_only: bool = False
) -> Grain | None:
    """The grain of (H, W, C) ``image`` / ``scale`` over bool mask ``where`` (see the module).

    ``grain_only``: a band's level counts only as far as its calm cells look like noise (their
    brightness's kurtosis, :func:`grain_likeness`): at a small face's scale the quietest cells still
    hold brows, lids and nostrils, whose band energy is structure, and noise at that level reads as
    dirt. For the photo around a hole; a fill's own levels are measured as they are.

    None when ``where`` holds too few pixels to measure. The bands are those of the whole image
    (reflected at its edges), but computed only on the tiles that hold ``where`` pixels: a ring
    around a sprawling crack, or around a hole in a wide window, is a small part of its box.
    Cells are aligned to ``where``'s bounding box and values taken in raster order, so a crop that
    holds the pixels the bands read measures exactly what the whole image does.
    """
    if np.count_nonzero(where) < _MIN_PIXELS:
        return None
    picked: list[list[np.ndarray]] = [[] for _ in SCALES[1:]]
    places: list[np.ndarray] = []
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
            ys, xs = np.nonzero(chosen)
            places.append((ys + top - rows[0]) * (cols[-1] + 1 - cols[0]) + (xs + left - cols[0]))
            for k, band in enumerate(_bands(block)):
                picked[k].append(band[chosen])
    place = np.concatenate(places)
    order = np.argsort(place, kind="stable")  # raster order, whatever the tiles' order
    ys, xs = np.divmod(place[order], cols[-1] + 1 - cols[0])
    cells = (ys // _CELL) * ((cols[-1] - cols[0]) // _CELL + 1) + xs // _CELL
    stats = [_band_stats(np.concatenate(values)[order], cells) for values in picked]
    levels = np.stack([s[0] for s in stats])
    if grain_only:
        levels = levels * np.array([grain_likeness(s[2]) for s in stats])[:, None]
    return Grain(levels, np.stack([s[1] for s in stats]))


def grain_levels(image: np.ndarray, where: np.ndarray, scale: float = 1.0) -> np.ndarray | None:
    """(bands, C) grain levels of (H, W, C) ``image`` / ``scale`` over ``where`` (:func:`grain_stats`)."""
    stats = grain_stats(image, where, scale)
    return None if stats is None else stats.levels


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


def _root(correlation: np.ndarray) -> np.ndarray:
    """(C, C) symmetric square root of a correlation matrix (clipped to be positive semi-definite):
    white noise times it has that correlation; all-ones (grey grain) is fine too."""
    values, vectors = np.linalg.eigh(correlation)
    return (vectors * np.sqrt(np.maximum(values, 0.0))) @ vectors.T


def _noise(
    shape: tuple[int, ...],
    amplitudes: np.ndarray,
    seed: int,
    mono: bool = False,
    correlation: np.ndarray | None = None,
) -> np.ndarray:
    """Float (H, W, C) noise: per band and channel, white noise shaped by the band, scaled. ``mono``:
    one noise field for every channel (a grey or toned print's grain has no colour of its own);
    ``correlation`` (bands, C, C): the channels' noise correlated so (None: independent)."""
    rng = np.random.default_rng(seed)
    total = np.zeros(shape, np.float32)
    drawn = (*shape[:2], 1) if mono else shape
    for k, amplitude in enumerate(amplitudes):
        white = rng.standard_normal(drawn).astype(np.float32)  # drawn for every band: seeds stay aligned
        if amplitude.any():
            if correlation is not None and not mono and shape[2] > 1:
                white = white @ _root(correlation[k]).astype(np.float32)
            total += (_blur(white, SCALES[k]) - _blur(white, SCALES[k + 1])) * amplitude.astype(np.float32)
    return total


def match_grain(
    pixels: np.ndarray,
    hole: np.ndarray,
    fill: np.ndarray,
    seed: int = 0,
    wanted: np.ndarray | None = None,
    mono: bool = False,
    correlation: np.ndarray | None = None,
) -> np.ndarray:
    """``fill`` with grain added to its hole pixels where it is smoother than the photo around it.

    ``pixels`` is the photo (its hole pixels are not read), ``fill`` the same photo with the hole
    filled, both uint8/uint16/float (H, W) or (H, W, C) of one dtype; ``hole`` is bool (H, W).
    Returns a new array like ``fill``, equal to it bit for bit outside the hole, and everywhere
    when the photo has no grain to match (a clean or noiseless photo), the fill already has as
    much, or there are too few pixels to measure. Deterministic for a ``seed``. ``wanted``:
    the photo's levels measured beforehand (:func:`photo_grain`), so that a fill composed again
    later gets the grain the first one got, whatever has changed around it since, with its
    ``correlation`` between channels (None: independent, as records made before it was measured).
    ``mono``: the same grain in every channel, for grey and toned prints.
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
    given = None
    if wanted is not None:
        channels = np.asarray(wanted).shape[1]
        corr = np.broadcast_to(np.eye(channels), (len(wanted), channels, channels))
        given = Grain(np.asarray(wanted), corr if correlation is None else np.asarray(correlation))
    grained = _grained(photo[box], hole[box], out[box], seed, given, mono)
    if grained is not None:
        out[box][hole[box]] = grained
    return out.reshape(fill.shape)


def _around(hole: np.ndarray, grow: int = _REACH + _RING + 1) -> tuple[slice, slice]:
    """The (non-empty) hole's bounding box grown by ``grow`` px (by default what the ring needs)."""
    return mask_bounds(hole).expanded(grow).intersect(Bounds.of_shape(hole.shape)).slices


def photo_grain(pixels: np.ndarray, hole: np.ndarray, skip: np.ndarray | None = None) -> Grain | None:
    """The photo's grain in the ring around ``hole``, leaving out ``skip`` (other damage, which is
    not grain); None when too little is known to measure. Levels in [0, 1] units."""
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
    return grain_stats(photo[box], ring, value_scale(photo.dtype), grain_only=True)


def _grained(
    photo: np.ndarray, hole: np.ndarray, fill: np.ndarray, seed: int, wanted: Grain | None, mono: bool
) -> np.ndarray | None:
    """The hole's (n, C) values of ``fill`` with matching grain, or None when none is needed."""
    scale = np.float32(value_scale(fill.dtype))
    if wanted is None:  # measured beforehand in the pipeline: then the ring is not needed here
        wanted = grain_stats(photo, _ring(hole), scale, grain_only=True)
    present = grain_levels(fill, _core(hole), scale)
    if wanted is None or present is None:
        return None
    amplitudes = _amplitudes(wanted.levels, present)
    step = 1.0 / float(scale) if fill.dtype.kind in "ui" else 1e-6
    if not (amplitudes > _NEGLIGIBLE * step).any():
        return None
    noise = _noise(fill.shape, amplitudes, seed, mono, wanted.correlation)
    values = fill[hole].astype(np.float32) / scale + noise[hole]
    if fill.dtype.kind in "ui":
        values = np.clip(values, 0.0, 1.0)
    return to_dtype(values, fill.dtype)
