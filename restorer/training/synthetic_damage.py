"""Synthetic print damage drawn over clean photos.

Used to measure damage detection, to build the fill-quality tables, to make training masks and
to age the bundled sample photo. Every generator is deterministic given its ``np.random.Generator``
and works on whole arrays (numpy / scipy.ndimage); the only Python loops run over strokes,
branches or batches, never over pixels.

Masks are ``bool (H, W)``, True = damaged. Photos are ``(H, W, C)`` (or ``(H, W)``) uint8/uint16
and come back with the same shape and dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from scipy import ndimage as ndi

DamageKind = Literal["scratch", "crack", "dust", "stain"]
DAMAGE_KINDS: tuple[DamageKind, ...] = ("scratch", "crack", "dust", "stain")

Shape = tuple[int, ...]
Range = tuple[float, float]

# Coverage targets are met to within this relative tolerance, unless a single defect is larger than
# the whole target (a defect that would overshoot is redrawn smaller).
COVERAGE_TOLERANCE = 0.15
_MAX_ROUNDS = 200


# ---------------------------------------------------------------------------------------------
# Rasterising strokes and blobs
# ---------------------------------------------------------------------------------------------


def _draw_stroke(mask: np.ndarray, points: np.ndarray, widths: np.ndarray) -> None:
    """OR a polyline of densely sampled ``points`` (N, 2) in (y, x) with per-point ``widths`` into ``mask``.

    A pixel is covered when it lies within half the local width of the nearest centre-line pixel;
    the centre line itself is always covered, so strokes never break up where they taper.
    Work is confined to the stroke's bounding box.
    """
    h, w = mask.shape
    centres = np.rint(points).astype(np.int64)
    reach = int(np.ceil(widths.max() / 2)) + 1
    top, left = centres.min(axis=0) - reach
    bottom, right = centres.max(axis=0) + reach + 1
    if bottom <= 0 or right <= 0 or top >= h or left >= w:
        return
    local = centres - (top, left)
    not_centre = np.ones((bottom - top, right - left), dtype=bool)
    half_width = np.zeros(not_centre.shape, dtype=np.float32)
    not_centre[local[:, 0], local[:, 1]] = False
    # Where samples share a pixel keep the widest, so a stroke never looks notched.
    np.maximum.at(half_width, (local[:, 0], local[:, 1]), widths.astype(np.float32) / 2)
    dist, (iy, ix) = ndi.distance_transform_edt(not_centre, return_indices=True)
    covered = dist < np.maximum(half_width[iy, ix], 0.5)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(bottom, h), min(right, w)
    mask[y0:y1, x0:x1] |= covered[y0 - top : y1 - top, x0 - left : x1 - left]


def _smooth_noise(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    """Unit-variance 1-D noise correlated over about ``sigma`` samples."""
    noise = ndi.gaussian_filter1d(rng.normal(size=n), sigma, mode="reflect")
    return noise / (noise.std() + 1e-9)


def _smooth_noise_at(
    rng: np.random.Generator, shape: Shape, sigma: float, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """Roughly unit-variance 2-D noise with features about ``sigma`` px across, over a frame of
    ``shape``, evaluated only at the given pixels (it is made on a coarse grid and interpolated)."""
    step = max(1.0, sigma / 2)
    coarse_shape = tuple(max(2, int(np.ceil(s / step)) + 2) for s in shape[:2])
    coarse = ndi.gaussian_filter(rng.normal(size=coarse_shape), sigma / step)
    coarse /= coarse.std() + 1e-9
    points = np.stack([np.asarray(rows, np.float32) / step, np.asarray(cols, np.float32) / step])
    return ndi.map_coordinates(coarse, points, order=1, mode="nearest").astype(np.float32)


def _smooth_noise_field(rng: np.random.Generator, shape: Shape, sigma: float) -> np.ndarray:
    """Unit-variance 2-D noise with features about ``sigma`` px across, over a whole (small) frame."""
    rows, cols = np.indices(shape[:2])
    field = _smooth_noise_at(rng, shape, sigma, rows.ravel(), cols.ravel()).reshape(shape[:2])
    field -= field.mean()
    return field / (field.std() + 1e-9)


def _taper(n: int, ends: int) -> np.ndarray:
    """Factor rising from ~0.3 to 1 over ``ends`` samples at both ends of an n-sample stroke."""
    t = np.arange(n, dtype=np.float64)
    edge = np.minimum(t, n - 1 - t) / max(ends, 1)
    return 0.3 + 0.7 * np.sqrt(np.clip(edge, 0.0, 1.0))


def _fill_to_target(
    shape: Shape,
    coverage: float | None,
    count: int | None,
    default_count: int,
    draw_one: Callable[[np.ndarray, float], None],
) -> np.ndarray:
    """Draw defects one at a time until ``count`` are drawn or ``coverage`` of the frame is damaged.

    ``draw_one(mask, fraction)`` ORs one defect into ``mask``; ``fraction`` < 1 asks for a shortened
    or shrunk defect so the last one does not overshoot the coverage target.
    """
    if coverage is not None and count is not None:
        raise ValueError("give coverage or count, not both")
    mask = np.zeros(shape[:2], dtype=bool)
    if coverage is None:
        n = default_count if count is None else count
        if n < 0:
            raise ValueError(f"count must be >= 0, got {n}")
        for _ in range(n):
            draw_one(mask, 1.0)
        return mask
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must be in (0, 1), got {coverage}")
    target = coverage * mask.size
    for _ in range(_MAX_ROUNDS):
        have = int(mask.sum())
        if have >= target * (1 - COVERAGE_TOLERANCE / 2):
            break
        trial, fraction = mask.copy(), 1.0
        draw_one(trial, fraction)
        added = int(trial.sum()) - have
        # Redraw a defect that overshoots the target smaller (sizes are random, so try a few times).
        for _ in range(8):
            if added == 0 or have + added <= target * (1 + COVERAGE_TOLERANCE / 2):
                break
            fraction *= max((target - have) / added, 0.05)
            trial = mask.copy()
            draw_one(trial, fraction)
            added = int(trial.sum()) - have
        mask = trial
    return mask


# ---------------------------------------------------------------------------------------------
# Mask generators
# ---------------------------------------------------------------------------------------------


def _scratch_path(shape: Shape, rng: np.random.Generator, length: float) -> np.ndarray:
    """A smooth, gently bending path (N, 2) in (y, x), sampled every half pixel."""
    h, w = shape[:2]
    n = max(int(length / 0.5), 4)
    start = rng.uniform((0, 0), (h, w))
    heading = rng.uniform(0, np.pi)  # scratches run across the print in any direction
    # Bend: the heading wanders smoothly by up to ~0.5 rad over the whole scratch (C and S shapes).
    angles = heading + rng.uniform(0.05, 0.5) * _smooth_noise(rng, n, sigma=n / 4)
    steps = 0.5 * np.stack([np.sin(angles), np.cos(angles)], axis=1)
    path = np.cumsum(steps, axis=0)
    return path - path[n // 2] + start  # centre the path on its start point so it crosses the frame


def scratch_mask(
    shape: Shape,
    rng: np.random.Generator,
    coverage: float | None = None,
    count: int | None = None,
    width: Range = (1, 6),
) -> np.ndarray:
    """Thin, smooth, gently curved scratches of varying width (pixels), as on a handled print.

    Give ``coverage`` (fraction of the frame) or ``count`` (number of scratches); neither draws 1-4.
    """
    h, w = shape[:2]
    diagonal = float(np.hypot(h, w))

    def draw_one(mask: np.ndarray, fraction: float) -> None:
        length = rng.uniform(0.15, 0.8) * diagonal * min(fraction, 1.0)
        path = _scratch_path(shape, rng, max(length, 4.0))
        base = rng.uniform(*width)
        wobble = 1 + 0.3 * _smooth_noise(rng, len(path), sigma=max(len(path) / 10, 2))
        widths = np.clip(base * wobble, width[0], width[1]) * _taper(len(path), ends=20)
        _draw_stroke(mask, path, widths)

    return _fill_to_target(shape, coverage, count, int(rng.integers(1, 5)), draw_one)


def _crack_branches(
    rng: np.random.Generator, start: np.ndarray, heading: float, length: float, depth: int
) -> list[np.ndarray]:
    """A jagged path from ``start`` and, recursively, the branches that split off it."""
    n_segments = max(int(length / rng.uniform(3, 7)), 2)
    seg_lengths = rng.uniform(2, 8, size=n_segments)
    seg_lengths *= length / seg_lengths.sum()
    # Jagged: each segment turns sharply, around a slowly drifting overall direction.
    drift = np.cumsum(rng.normal(0, 0.15, size=n_segments))
    angles = heading + drift + rng.normal(0, 0.45, size=n_segments)
    corners = np.vstack(
        [
            start,
            start
            + np.cumsum(seg_lengths[:, None] * np.stack([np.sin(angles), np.cos(angles)], axis=1), axis=0),
        ]
    )
    # Resample the polyline every half pixel.
    seg = np.diff(corners, axis=0)
    seg_len = np.hypot(seg[:, 0], seg[:, 1])
    arc = np.concatenate([[0.0], np.cumsum(seg_len)])
    s = np.arange(0.0, arc[-1], 0.5)
    path = np.stack([np.interp(s, arc, corners[:, 0]), np.interp(s, arc, corners[:, 1])], axis=1)
    paths = [path]
    if depth > 0:
        # A few branches per crack, whatever its length: prints crack, they do not craze all over.
        n_branches = rng.poisson(min(length / 60, 4.0))
        for _ in range(n_branches):
            i = int(rng.integers(0, len(path)))
            side = rng.choice((-1.0, 1.0))
            paths += _crack_branches(
                rng,
                path[i],
                angles[min(i * n_segments // len(path), n_segments - 1)] + side * rng.uniform(0.4, 1.2),
                length * rng.uniform(0.2, 0.5),
                depth - 1,
            )
    return paths


def crack_mask(
    shape: Shape,
    rng: np.random.Generator,
    coverage: float | None = None,
    count: int | None = None,
    width: Range = (1, 3),
) -> np.ndarray:
    """Branching, jagged cracks in the emulsion; branches are thinner than their trunk.

    Give ``coverage`` or ``count`` (number of crack systems); neither draws 1-2.
    """
    h, w = shape[:2]
    size = float(max(h, w))

    def draw_one(mask: np.ndarray, fraction: float) -> None:
        length = rng.uniform(0.15, 0.6) * size * min(fraction, 1.0)
        start = rng.uniform((0, 0), (h, w))
        for k, path in enumerate(_crack_branches(rng, start, rng.uniform(0, 2 * np.pi), max(length, 4), 2)):
            base = rng.uniform(*width) * (1.0 if k == 0 else 0.7)
            widths = np.maximum(base * np.linspace(1.0, 0.5, len(path)), 0.5)
            _draw_stroke(mask, path, widths)

    return _fill_to_target(shape, coverage, count, int(rng.integers(1, 3)), draw_one)


def _draw_blobs(mask: np.ndarray, rng: np.random.Generator, centres: np.ndarray, radii: np.ndarray) -> None:
    """OR roundish blobs with irregular outlines into ``mask``, all at once over a window per blob."""
    if len(radii) == 0:
        return
    h, w = mask.shape
    reach = int(np.ceil(radii.max() * 1.3)) + 1
    dy, dx = (np.indices((2 * reach + 1, 2 * reach + 1)) - reach).reshape(2, 1, -1)
    rows = np.rint(centres[:, 0:1]).astype(np.int64) + dy  # (blobs, window pixels)
    cols = np.rint(centres[:, 1:2]).astype(np.int64) + dx
    dist = np.hypot(rows - centres[:, 0:1], cols - centres[:, 1:2])
    near = (dist < radii[:, None] * 1.3 + 0.5) & (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    rows, cols, dist = rows[near], cols[near], dist[near]
    radius = np.broadcast_to(radii[:, None], near.shape)[near]
    # Outline wobble: smooth noise over the frame, sampled where the blobs are.
    wobble = _smooth_noise_at(rng, mask.shape, 1.0, rows, cols)
    inside = dist < np.maximum(radius * (1 + 0.3 * wobble), 0.5)
    mask[rows[inside], cols[inside]] = True


def dust_mask(
    shape: Shape,
    rng: np.random.Generator,
    coverage: float | None = None,
    count: int | None = None,
    size: Range = (1, 8),
) -> np.ndarray:
    """Dust specks 1-8 px across (many small, few large) and a few short hairs/fibres.

    Give ``coverage`` or ``count`` (number of specks); neither scales the count with the frame area.
    """
    if coverage is not None and count is not None:
        raise ValueError("give coverage or count, not both")
    h, w = shape[:2]

    def specks(mask: np.ndarray, n: int) -> None:
        # Pareto-like sizes: diameter = min * (max/min) ** u^2 gives mostly small specks.
        diameters = size[0] * (size[1] / size[0]) ** (rng.uniform(size=n) ** 2)
        centres = rng.uniform((0, 0), (h, w), size=(n, 2))
        is_fibre = rng.uniform(size=n) < 0.08
        _draw_blobs(mask, rng, centres[~is_fibre], diameters[~is_fibre] / 2)
        for centre in centres[is_fibre]:
            path = _scratch_path((h, w), rng, rng.uniform(5, 25)) - (h / 2, w / 2)
            path = path - path.mean(axis=0) + centre
            _draw_stroke(mask, path, np.full(len(path), rng.uniform(1, 2)))

    if coverage is None:
        if count is not None and count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        mask = np.zeros((h, w), dtype=bool)
        n = count if count is not None else max(int(rng.integers(20, 80) * h * w / 250_000), 3)
        if n:
            specks(mask, n)
        return mask
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must be in (0, 1), got {coverage}")
    mask = np.zeros((h, w), dtype=bool)
    target = coverage * h * w
    diameters = size[0] * (size[1] / size[0]) ** (rng.uniform(size=256) ** 2)
    mean_area = float(np.mean(np.pi / 4 * diameters**2))
    for _ in range(_MAX_ROUNDS):
        have = int(mask.sum())
        if have >= target * (1 - COVERAGE_TOLERANCE / 2):
            break
        n = max(int((target - have) / mean_area * 0.5), 1)
        # Redraw a batch that overshoots the target with fewer specks.
        for _attempt in range(8):
            trial = mask.copy()
            specks(trial, n)
            if int(trial.sum()) <= target * (1 + COVERAGE_TOLERANCE / 2):
                break
            n = max(n // 2, 1)
        mask = trial
    return mask


def stain_mask(
    shape: Shape,
    rng: np.random.Generator,
    coverage: float | None = None,
    count: int | None = None,
    size: Range = (0.04, 0.15),
) -> np.ndarray:
    """A few large irregular blobs (water or foxing stains).

    ``size`` is the radius as a fraction of the short side.

    Give ``coverage`` or ``count``; neither draws 1-3.
    """
    h, w = shape[:2]
    short = min(h, w)

    def draw_one(mask: np.ndarray, fraction: float) -> None:
        radius = max(rng.uniform(*size) * short * np.sqrt(min(fraction, 1.0)), 2.0)
        cy, cx = rng.uniform((0, 0), (h, w))
        reach = int(radius * 1.6) + 2
        y0, y1 = max(int(cy) - reach, 0), min(int(cy) + reach + 1, h)
        x0, x1 = max(int(cx) - reach, 0), min(int(cx) + reach + 1, w)
        if y1 <= y0 or x1 <= x0:
            return
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        angle = rng.uniform(0, np.pi)
        aspect = rng.uniform(0.6, 1.0)
        u = (yy - cy) * np.cos(angle) + (xx - cx) * np.sin(angle)
        v = -(yy - cy) * np.sin(angle) + (xx - cx) * np.cos(angle)
        dist = np.hypot(u, v / aspect) / radius
        # Outline wobbles at two scales, like a dried water mark.
        patch = (y1 - y0, x1 - x0)
        edge = 0.2 * _smooth_noise_field(rng, patch, radius / 3) + 0.1 * _smooth_noise_field(
            rng, patch, radius / 10
        )
        mask[y0:y1, x0:x1] |= dist + edge < 1.0

    return _fill_to_target(shape, coverage, count, int(rng.integers(1, 4)), draw_one)


MASK_GENERATORS: dict[DamageKind, Callable[..., np.ndarray]] = {
    "scratch": scratch_mask,
    "crack": crack_mask,
    "dust": dust_mask,
    "stain": stain_mask,
}


# ---------------------------------------------------------------------------------------------
# Applying damage and ageing
# ---------------------------------------------------------------------------------------------


def _full_scale(pixels: np.ndarray) -> float:
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"pixels must be uint8 or uint16, got {pixels.dtype}")
    return float(np.iinfo(pixels.dtype).max)


def _to_float(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    scale = _full_scale(pixels)
    image = pixels.astype(np.float32) / np.float32(scale)
    return (image[..., None] if image.ndim == 2 else image), scale


def _from_float(image: np.ndarray, like: np.ndarray, scale: float) -> np.ndarray:
    out = np.rint(np.clip(image, 0.0, 1.0) * np.float32(scale)).astype(like.dtype)
    return out.reshape(like.shape)


def _tint(rgb: tuple[float, float, float], channels: int) -> np.ndarray:
    colour = np.asarray(rgb, dtype=np.float32)
    return colour if channels == 3 else np.full(channels, colour.mean(), dtype=np.float32)


# Probability that a defect is brighter than the print around it.
_BRIGHT_CHANCE: dict[DamageKind, float] = {"scratch": 0.75, "crack": 0.6, "dust": 0.5, "stain": 0.0}


def apply_damage(
    pixels: np.ndarray, mask: np.ndarray, rng: np.random.Generator, kind: DamageKind
) -> np.ndarray:
    """Return a copy of ``pixels`` with the damage in ``mask`` painted in, changing no pixel outside it.

    Each connected defect gets its own look: scratches are mostly bright (the emulsion scraped
    down to the paper), some dark (dirt in the groove); cracks likewise; dust is dark or bright;
    stains are translucent brown with a darker tide line. Edges are softened slightly inside the
    mask. Only the damaged pixels are computed, so this is quick on large scans.
    """
    if kind not in _BRIGHT_CHANCE:
        raise ValueError(f"unknown damage kind {kind!r}; expected one of {DAMAGE_KINDS}")
    if mask.shape != pixels.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match pixels {pixels.shape[:2]}")
    scale = _full_scale(pixels)
    out = pixels.copy()
    if not mask.any():
        return out
    image = out.reshape(*mask.shape, -1)  # a view: (H, W, C) even for (H, W) grey
    channels = image.shape[2]
    labels, n = ndi.label(mask, structure=np.ones((3, 3), dtype=bool))
    rows, cols = np.nonzero(mask)
    defect = labels[rows, cols] - 1
    values = image[rows, cols].astype(np.float32) / np.float32(scale)  # (damaged pixels, C)

    # Per-defect look.
    strength = rng.uniform(0.6, 1.0, n).astype(np.float32)
    bright = rng.uniform(size=n) < _BRIGHT_CHANCE[kind]
    level = np.where(bright, rng.uniform(0.85, 1.0, n), rng.uniform(0.03, 0.2, n)).astype(np.float32)

    # Soft edges: a pixel with few damaged neighbours gets a weaker blend.
    h, w = mask.shape
    neighbours = np.zeros(len(rows), dtype=np.float32)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            neighbours += mask[np.clip(rows + dy, 0, h - 1), np.clip(cols + dx, 0, w - 1)]
    alpha = strength[defect] * np.clip(neighbours / 9 / 0.45, 0.55, 1.0)
    if kind == "scratch":
        # Scratch depth (and so contrast) varies along its length.
        depth = _smooth_noise_at(rng, mask.shape, 12.0, rows, cols)
        alpha *= 0.75 + 0.25 * np.clip(depth * 0.5 + 0.5, 0, 1)

    if kind == "stain":
        # Translucent discolouration, stronger at the rim where the water dried.
        rim = np.zeros(len(rows), dtype=bool)  # within 2 px of the stain's edge
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1), (-2, 0), (2, 0), (0, -2), (0, 2)):
            rim |= ~mask[np.clip(rows + dy, 0, h - 1), np.clip(cols + dx, 0, w - 1)]
        alpha = alpha * 0.55 + 0.3 * rim
        target = values * _tint((0.78, 0.62, 0.4), channels) * level[defect, None].clip(0.6, 1.0)
    else:
        paper = _tint((1.0, 0.97, 0.92), channels)
        target = np.where(bright[defect, None], paper, 1.0) * level[defect, None]
        target += rng.normal(0, 0.02, size=(len(rows), 1)).astype(np.float32)
    blended = values + (target - values) * alpha[:, None]
    image[rows, cols] = np.rint(np.clip(blended, 0.0, 1.0) * np.float32(scale)).astype(pixels.dtype)
    return out


def age_photo(pixels: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Make a photo look like an old print: softened, sepia-toned (colour only), faded, vignetted and grainy.

    ``strength`` in [0, 1] scales every effect; the shape and dtype come back unchanged.
    """
    image, scale = _to_float(pixels)
    h, w, channels = image.shape
    image = ndi.gaussian_filter(image, (0.6, 0.6, 0))  # old prints are a little soft
    luma = (
        image.mean(axis=2, keepdims=True)
        if channels == 1
        else (image @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None]
    )
    if channels == 3:
        sepia = luma * np.array([1.07, 0.9, 0.68], dtype=np.float32) + np.array([0.02, 0.02, 0.0], np.float32)
        amount = strength * rng.uniform(0.6, 1.0)
        image = image * (1 - amount) + sepia * amount
    # Fading: lifted blacks, dulled whites, lower contrast.
    black = strength * rng.uniform(0.05, 0.15)
    white = 1 - strength * rng.uniform(0.0, 0.08)
    image = black + (white - black) * image
    # Vignette: corners a little darker.
    yy = (np.arange(h, dtype=np.float32) - h / 2) / (h / 2)
    xx = (np.arange(w, dtype=np.float32) - w / 2) / (w / 2)
    radial = yy[:, None] ** 2 + xx[None, :] ** 2
    image *= (1 - strength * rng.uniform(0.05, 0.15) * radial / 2)[..., None]
    # Grain: clumpy (slightly blurred) noise, strongest in the mid-tones.
    sigma = strength * rng.uniform(0.008, 0.02)
    grain = ndi.gaussian_filter(rng.normal(size=(h, w)).astype(np.float32), 0.7)
    grain *= sigma / (grain.std() + 1e-9)
    midtones = 4 * luma[..., 0] * (1 - luma[..., 0])
    image += (grain * (0.4 + 0.6 * midtones))[..., None]
    return _from_float(image, pixels, scale)


def damage_photo(
    pixels: np.ndarray,
    rng: np.random.Generator,
    kinds: tuple[DamageKind, ...] = ("scratch", "crack", "dust"),
    coverage: float | None = None,
) -> tuple[np.ndarray, dict[DamageKind, np.ndarray]]:
    """Draw and apply each kind of damage in turn; return the damaged photo and each kind's mask.

    ``coverage`` (if given) is split evenly between the kinds; otherwise each uses its default amount.
    """
    damaged = pixels
    masks: dict[DamageKind, np.ndarray] = {}
    for kind in kinds:
        share = None if coverage is None else coverage / len(kinds)
        masks[kind] = MASK_GENERATORS[kind](pixels.shape, rng, coverage=share)
        damaged = apply_damage(damaged, masks[kind], rng, kind)
    return damaged, masks
