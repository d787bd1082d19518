"""Hole masks for training and evaluating inpainting models.

Every generator returns a ``bool (size, size)`` array, True = missing (the project's mask
convention), and draws all its randomness from the ``np.random.Generator`` it is given, so the
same seed gives the same mask. The evaluation set follows Yeh et al. (CVPR 2017, Table 1):

- ``center``: the central square of half the side (the central 32x32 of 64x64), 25% of the pixels;
- ``pattern``: Pathak et al.'s random-region masks, a few irregular blobs covering about 25%;
- ``random80``: 80% of the pixels missing, scattered;
- ``half``: the left, right, top or bottom half.

``training_mask`` draws the mixture the Context Encoder is trained on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

MaskFn = Callable[[int, np.random.Generator], np.ndarray]

# Random-region blobs: smoothing width as a fraction of the side. Wider smoothing gives fewer,
# rounder blobs; a second, finer noise layer roughens their outlines like real damage.
_BLOB_SIGMA = (0.07, 0.14)
_DETAIL_SIGMA = 0.025
_DETAIL_WEIGHT = 0.35
_MAX_REGIONS = 4
_MIN_RECT_ASPECT, _MAX_RECT_ASPECT = 0.5, 2.0


def _check_size(size: int) -> None:
    if not isinstance(size, (int, np.integer)) or size < 4:
        raise ValueError(f"mask size must be an integer >= 4, not {size!r}")


def _check_coverage(coverage: tuple[float, float]) -> tuple[float, float]:
    low, high = (float(c) for c in coverage)
    if not 0.0 < low <= high < 1.0:
        raise ValueError(f"coverage range must satisfy 0 < low <= high < 1, not {coverage!r}")
    return low, high


def center_mask(size: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """The central (size/2 x size/2) square.

    ``rng`` is accepted and unused so that every generator in ``MASK_TYPES`` has one signature.
    """
    _check_size(size)
    side = size // 2
    start = (size - side) // 2
    mask = np.zeros((size, size), dtype=bool)
    mask[start : start + side, start : start + side] = True
    return mask


def _top_k(field: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """Mask of the ``k`` highest values of ``field`` (only among ``allowed`` pixels when given)."""
    values = field.ravel() if allowed is None else np.where(allowed, field, -np.inf).ravel()
    mask = np.zeros(field.size, dtype=bool)
    if k > 0:
        mask[np.argpartition(-values, k - 1)[:k]] = True
    return mask.reshape(field.shape)


def _keep_largest_regions(mask: np.ndarray, field: np.ndarray, n_regions: int) -> np.ndarray:
    """Drop all but the ``n_regions`` largest blobs, then regrow them along ``field`` to the same pixel count.

    Thresholded noise often leaves specks; Pathak's masks are a few solid shapes, so the pixels of
    the specks are given back to the kept blobs (highest field values on their borders first).
    """
    labels, count = ndimage.label(mask)
    if count <= n_regions:
        return mask
    sizes = np.bincount(labels.ravel())[1:]
    keep_ids = np.argsort(sizes)[::-1][:n_regions] + 1
    kept = np.isin(labels, keep_ids)
    missing = int(mask.sum() - kept.sum())
    while missing > 0:  # each round adds one ring at most, so this runs a handful of times
        border = ndimage.binary_dilation(kept) & ~kept
        grow = _top_k(field, min(missing, int(border.sum())), allowed=border)
        kept |= grow
        missing -= int(grow.sum())
    return kept


def random_region_mask(
    size: int, rng: np.random.Generator, coverage: tuple[float, float] = (0.2, 0.3)
) -> np.ndarray:
    """Pathak et al.'s random-region mask: up to four irregular blobs covering a drawn fraction.

    The fraction is drawn uniformly from ``coverage``. Smoothed Gaussian noise is thresholded at
    the level that leaves exactly round(fraction * size²) pixels above it, so the coverage is
    exact for the drawn fraction.
    """
    _check_size(size)
    low, high = _check_coverage(coverage)
    fraction = rng.uniform(low, high)
    n_pixels = round(fraction * size * size)
    sigma = rng.uniform(*_BLOB_SIGMA) * size
    field = ndimage.gaussian_filter(rng.standard_normal((size, size)), sigma, mode="wrap")
    detail = ndimage.gaussian_filter(rng.standard_normal((size, size)), _DETAIL_SIGMA * size, mode="wrap")
    # Normalise each layer so the detail weight means the same at every smoothing width.
    field = field / (field.std() + 1e-12) + _DETAIL_WEIGHT * detail / (detail.std() + 1e-12)
    mask = _top_k(field, n_pixels)
    return _keep_largest_regions(mask, field, int(rng.integers(1, _MAX_REGIONS + 1)))


def _random_rect(size: int, area: float, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """A (top, left, height, width) rectangle inside the image, of about ``area`` pixels."""
    aspect = np.exp(rng.uniform(np.log(_MIN_RECT_ASPECT), np.log(_MAX_RECT_ASPECT)))  # height / width
    h = int(np.clip(round(np.sqrt(area * aspect)), 1, size))
    w = int(np.clip(round(area / h), 1, size))
    top = int(rng.integers(0, size - h + 1))
    left = int(rng.integers(0, size - w + 1))
    return top, left, h, w


def random_block_mask(
    size: int, rng: np.random.Generator, coverage: tuple[float, float] = (0.2, 0.3), max_tries: int = 50
) -> np.ndarray:
    """One to three random rectangles whose union covers a fraction within ``coverage``.

    Overlapping rectangles cover less than their areas add up to, so a draw outside the range is
    redrawn; after ``max_tries`` a single rectangle of the drawn area is used.
    """
    _check_size(size)
    low, high = _check_coverage(coverage)
    total = size * size
    fraction = rng.uniform(low, high)
    for _ in range(max_tries):
        n_rects = int(rng.integers(1, 4))
        mask = np.zeros((size, size), dtype=bool)
        for _ in range(n_rects):
            top, left, h, w = _random_rect(size, fraction * total / n_rects, rng)
            mask[top : top + h, left : left + w] = True
        if low <= mask.mean() <= high:
            return mask
    # Fallback: one rectangle, with the width chosen so the area rounds inside the range.
    h = int(np.clip(round(np.sqrt(fraction) * size), 1, size))
    w = int(np.clip(round(fraction * total / h), int(np.ceil(low * total / h)), int(high * total / h)))
    mask = np.zeros((size, size), dtype=bool)
    top, left = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
    mask[top : top + h, left : left + w] = True
    return mask


def random_pixels_mask(size: int, rng: np.random.Generator, fraction: float = 0.8) -> np.ndarray:
    """Exactly round(fraction * size²) pixels missing, chosen uniformly at random."""
    _check_size(size)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], not {fraction!r}")
    mask = np.zeros(size * size, dtype=bool)
    mask[rng.permutation(size * size)[: round(fraction * size * size)]] = True
    return mask.reshape(size, size)


def half_mask(size: int, rng: np.random.Generator) -> np.ndarray:
    """The left, right, top or bottom half, chosen at random."""
    _check_size(size)
    side = int(rng.integers(4))
    half = size // 2
    mask = np.zeros((size, size), dtype=bool)
    if side == 0:
        mask[:, :half] = True  # left
    elif side == 1:
        mask[:, size - half :] = True  # right
    elif side == 2:
        mask[:half, :] = True  # top
    else:
        mask[size - half :, :] = True  # bottom
    return mask


MASK_TYPES: dict[str, MaskFn] = {
    "center": center_mask,
    "pattern": random_region_mask,
    "random80": random_pixels_mask,
    "half": half_mask,
}


def _mixed_mask(size: int, rng: np.random.Generator) -> np.ndarray:
    """A random region plus a random block: damage with both ragged and straight edges."""
    region = random_region_mask(size, rng, coverage=(0.1, 0.2))
    return region | random_block_mask(size, rng, coverage=(0.05, 0.15))


# Context Encoder training mixture. Random regions dominate, as in Pathak et al. (their random-region
# model generalises best); a wider coverage range than evaluation's keeps the model useful on the
# small and large holes real damage makes. Central squares keep the `center` benchmark honest.
TRAINING_MIX: tuple[tuple[float, MaskFn], ...] = (
    (0.55, lambda size, rng: random_region_mask(size, rng, coverage=(0.1, 0.4))),
    (0.15, center_mask),
    (0.15, lambda size, rng: random_block_mask(size, rng, coverage=(0.1, 0.35))),
    (0.15, _mixed_mask),
)


def training_mask(size: int, rng: np.random.Generator) -> np.ndarray:
    """One mask from the Context Encoder training mixture (see ``TRAINING_MIX``)."""
    weights = np.array([w for w, _ in TRAINING_MIX])
    choice = int(rng.choice(len(TRAINING_MIX), p=weights / weights.sum()))
    return TRAINING_MIX[choice][1](size, rng)
