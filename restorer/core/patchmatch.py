"""Fast multi-scale patch completion: fill a hole from patches of the photo itself.

Wexler, Shechtman and Irani's (2007) expectation-maximisation completion, with Barnes et al.'s
(2009) PatchMatch for the nearest-neighbour field. The per-target search and the vote are compiled
loops (restorer.core.patch_kernels, numba); the pyramid, fields and seams are numpy here.

* coarse to fine: the hole is filled on a pyramid; each finer level starts from the coarser
  level's field, doubled, and its first estimate is a vote of that field with the finer level's
  own (sharp) source pixels. The finest level only votes: its field comes from the level above
  (unless guided, below);
* cheap patch descriptors: a patch is compared through 9 samples on a stride-2 grid in the 7x7
  patch (27 values for RGB instead of 147), read in place, and a distance stops as soon as it
  exceeds the best so far;
* the cost covers the whole patch, known pixels and already filled ones, the filled ones at a
  small weight: a match is chosen by the context where there is some, and by what the
  neighbours copied where there is none (deep inside the hole);
* sources are fully known patches only, also mirrored left-right (the other eye or shoulder, a
  symmetric pattern): the sample grid is symmetric, so a mirrored source reads its samples
  right to left;
* search: per target, the matches of the neighbours 4 and 1 px away as they were before
  the pass (jump flooding), shifted back and following flips, then random search in shrinking
  windows and a few global draws; a propagated match wins near-ties (coherence);
* vote: a hole pixel gathers, for each of the 49 offsets, the pixel that the patch centred at
  (pixel - offset) copies there, weighted by that patch's similarity and by its confidence
  (known pixels 1, hole pixels decaying with their depth into the hole);
* seam correction: the last vote also rebuilds the known ring around the hole, and the ring's
  residual is diffused into the hole (a Poisson correction), so the fill meets the edge without
  a step and can be pasted;
* an optional guide (restorer.core.detail): a prediction of the hole's coarse content, e.g. a face
  model's fill. Its features (low-passed) are extra channels of every descriptor, compared at a
  fixed weight in the hole as around it, so a source is chosen by what the prediction says is
  there as well as by what the neighbours copied; the prediction is the coarsest level's start.
  On the finest level a guided completion votes best-only: each pixel copies the cheapest patch
  covering it, so the sources' grain and fine detail survive (a mean of many sources is smooth,
  and the next search lines its matches up with the copied pixels, so the copies grow coherent).
  That level scores its doubled field and searches once. Coarser levels keep the mean vote: with
  best-only votes there, a block copied wrong (a mirrored stripe) agreed with itself and stayed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from restorer.core import patch_kernels as kernels
from restorer.core.errors import RestorerError
from restorer.core.fills import halve_known as _downsample
from restorer.core.maskops import mask_bounds
from restorer.core.poisson import (
    KnownValues,
    check_hole,
    check_pixels,
    solve_dirichlet,
    to_dtype,
    value_scale,
)
from restorer.core.types import Bounds

__all__ = ["Guide", "complete", "patch_fill"]

RADIUS = 3  # 7x7 patches: big enough for texture structure, small enough to find many matches
# Descriptor samples per axis: a 3x3 grid at stride 2 in the patch. Symmetric, so mirroring
# permutes them. Measured on the Kodak benchmark (24 holes): the stride-2 4x4 grid and the full
# 7x7 patch scored no better at 1.2-2x the time (the vote averages all 49 pixels of every patch
# anyway: the search needs the layout, not the detail). Stride 3 (-3, 0, 3) scored the same on
# photos but is blind to the phase of a 6 px check pattern (it smeared the check test's hole).
_GRID = kernels.GRID
_FILLED_TRUST = 0.02  # weight of filled pixels in the cost: matching is (almost) on the known context
_CONFIDENCE_DECAY = 1.3  # Wexler's gamma: a hole pixel's confidence is 1.3 ** -depth
_SPREAD = 4.0  # vote weights exp(-cost / (spread * 75th percentile of the costs)): a soft vote
_COHERENCE = 0.95  # a propagated (coherent) match wins if within 5%: longer copies, fewer seams
# A guided completion's propagated match wins if within 30%: its copies are the result's detail,
# and long ones keep the sources' grain whole (short ones whiten it). On the grainy test photo the
# fill's fine-detail energy rose from 0.65-0.86x the ring's (6 seeds) to 0.73-0.90x; 0.5 gave more
# but put a third of the benchmark's face holes above 1.3x.
_COHERENCE_DETAIL = 0.7
_GLOBAL_DRAWS = 2  # candidates drawn from anywhere each search: an exit from local minima
# EM rounds (search + vote) per level. The finest level only votes with the doubled field: one
# search there measured +0.2 dB / +0.014 SSIM for +30% of the time, which the speed target lacks.
_ROUNDS_COARSEST = 8
_ROUNDS = (0, 4, 4)  # on the finest level, the next, then all coarser ones
# A guided completion searches its finest level once: its best-only vote copies single patches, and
# with the doubled field alone those copies break every 2 px (a visible waffle in skin grain).
_ROUNDS_GUIDED_FINEST = 1
# Propagation distances. 4 and 1 px scored as well as 8, 4, 2 and 1 on both patch benchmark sets
# (seed 10: 23.28 / 0.5510 against 23.22 / 0.5501; seed 11: 22.07 / 0.5174 against 22.09 / 0.5193)
# at 0.86x the time; fewer rounds as well, (0, 2, 4), lost 0.09 dB / 0.007 SSIM on seed 11.
_JUMPS_ARRAY = np.array((4, 1), np.intp)


@dataclass(frozen=True)
class Guide:
    """A prediction for a guided completion: ``complete``'s image holds it in the hole."""

    features: np.ndarray  # float32 (H, W, G), defined everywhere: compared in every patch, hole or not
    weight: float = 1.0  # of a feature sample, against 1 for a known pixel's and _FILLED_TRUST a filled one's


@dataclass
class _Field:
    """The nearest-neighbour field of one level: for each target centre, a source and its flip."""

    targets: np.ndarray  # flat indices of patch centres whose patch touches the hole
    sy: np.ndarray  # source centre rows
    sx: np.ndarray  # source centre columns
    flip: np.ndarray  # bool: the source is read mirrored left-right
    cost: np.ndarray  # float32 weighted squared distance of each match


def _levels(hole: np.ndarray) -> int:
    """How often to halve: while the hole is large against a patch and the image holds patches.

    A coarse cell is a hole only where all its children are, so a long hole a few pixels thick
    thins out and vanishes after a few halvings: stop before a level would have no hole left.
    """
    count, msk = 0, hole
    while True:
        rows, cols = np.flatnonzero(msk.any(axis=1)), np.flatnonzero(msk.any(axis=0))
        extent = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 if rows.size else 0
        if extent <= 4 * RADIUS + 2 or min(msk.shape) < 12 * RADIUS + 6:
            return count
        msk = _downsample(np.zeros((*msk.shape, 1), np.float32), msk)[1]
        if not msk.any():
            return count
        count += 1


def _hole_box(hole: np.ndarray, grow: int = 1) -> tuple[slice, slice]:
    """The hole's bounding box grown by ``grow`` px (within the image). Grown by one, a hole pixel's
    nearest known pixel always lies inside it, so a distance transform over it equals one over the
    whole image."""
    box = mask_bounds(hole)
    if box.is_empty:
        return slice(None), slice(None)
    return box.expanded(grow).intersect(Bounds.of_shape(hole.shape)).slices


def _harmonic(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """``image`` with the hole set to the smoothest fill meeting its edge (the coarsest start)."""
    out = image.copy()
    flat, values = solve_dirichlet(hole, KnownValues(np.ascontiguousarray(image), 1.0), None, 1e-4)
    out.reshape(-1, image.shape[2])[flat] = values.T
    return out


class _Level:
    """One pyramid level: its sources, targets, confidence, and the search and vote on them."""

    def __init__(
        self,
        image: np.ndarray,
        hole: np.ndarray,
        mirror: bool,
        rng: np.random.Generator,
        guide: tuple[np.ndarray, float] | None = None,
    ) -> None:
        self.image, self.hole, self.mirror, self.rng = image, hole, mirror, rng
        self.guide = None if guide is None else guide[0]  # (h, w, G) features, never voted
        self._trust: np.ndarray | None = None
        self.coherence = _COHERENCE
        self.height, self.width, self.channels = image.shape
        h, w = self.height, self.width
        interior = np.zeros(hole.shape, bool)
        interior[RADIUS : h - RADIUS, RADIUS : w - RADIUS] = True
        # Filters over the hole's surroundings only (a window is often many times its hole): a patch
        # touches the hole within RADIUS of it, and a target's confidence reads RADIUS beyond that.
        touches = np.zeros(hole.shape, bool)
        near = _hole_box(hole, RADIUS)
        touches[near] = ndimage.maximum_filter(hole[near], size=2 * RADIUS + 1, mode="constant", cval=False)
        self.source = interior & ~touches  # fully known patches only: a copy never carries damage
        self.sy_all, self.sx_all = np.nonzero(self.source)
        self.targets = np.flatnonzero(interior & touches)
        self.ok = self.sy_all.size > 0 and self.targets.size > 0
        if not self.ok:
            return
        self.slot = np.full(h * w, -1, np.intp)
        self.slot[self.targets] = np.arange(self.targets.size)
        self.ty, self.tx = np.divmod(self.targets, w)
        self._guide_weight = 0.0 if guide is None else float(guide[1])
        radius, radii = max(h, w) // 2, []  # random search windows: halving from half the level's size
        while radius >= 1:
            radii.append(radius)
            radius //= 2
        self.radii = np.array(radii, np.intp)
        around = _hole_box(hole, 2 * RADIUS)
        confidence = np.ones(hole[around].shape, np.float32)
        inner = _hole_box(hole[around])
        depth = ndimage.distance_transform_edt(hole[around][inner])
        confidence[inner] = np.where(hole[around][inner], _CONFIDENCE_DECAY**-depth, 1.0)
        smoothed = np.ones(hole.shape, np.float32)
        smoothed[around] = ndimage.uniform_filter(confidence, 2 * RADIUS + 1, mode="nearest")
        self.confidence = smoothed.reshape(-1)[self.targets]

    def trust(self) -> np.ndarray:
        """(H, W) weight of each pixel's image channels in a descriptor: known 1, filled small."""
        if self._trust is None:
            self._trust = np.where(self.hole, _FILLED_TRUST, 1.0).astype(np.float32)
        return self._trust

    def features(self, image: np.ndarray) -> np.ndarray:
        """(h, w, D) what a descriptor samples: ``image``, and the guide's features when there is one."""
        if self.guide is None:
            return np.ascontiguousarray(image, dtype=np.float32)
        return np.ascontiguousarray(np.concatenate([image, self.guide], axis=2), dtype=np.float32)

    def random_field(self) -> _Field:
        pick = self.rng.integers(0, self.sy_all.size, self.targets.size)
        flip = self.rng.random(self.targets.size) < 0.5 if self.mirror else np.zeros(self.targets.size, bool)
        cost = np.full(self.targets.size, np.inf, np.float32)
        return _Field(self.targets, self.sy_all[pick], self.sx_all[pick], flip, cost)

    def upsampled(self, coarse: _Field, coarse_shape: tuple[int, int]) -> _Field:
        """The coarser field, doubled: each target keeps its coarse cell's (or nearest cell's) shift."""
        ch, cw = coarse_shape
        slot = np.full(ch * cw, -1, np.intp)
        slot[coarse.targets] = np.arange(coarse.targets.size)
        # Targets whose cell is not a coarse target (the coarse hole is smaller) take the nearest one's.
        _, (ny, nx) = ndimage.distance_transform_edt(slot.reshape(ch, cw) < 0, return_indices=True)
        cy, cx = np.minimum(self.ty // 2, ch - 1), np.minimum(self.tx // 2, cw - 1)
        cy, cx = ny[cy, cx], nx[cy, cx]
        k = slot[cy * cw + cx]
        flip = coarse.flip[k] & self.mirror
        dy, dx = self.ty - 2 * cy, self.tx - 2 * cx
        sy = 2 * coarse.sy[k] + dy
        sx = 2 * coarse.sx[k] + np.where(flip, 1 - dx, dx)
        field = self.random_field()
        good = self._valid(sy, sx)
        field.sy[good], field.sx[good], field.flip[good] = sy[good], sx[good], flip[good]
        return field

    def _valid(self, sy: np.ndarray, sx: np.ndarray) -> np.ndarray:
        inside = (sy >= 0) & (sy < self.height) & (sx >= 0) & (sx < self.width)
        return inside & self.source[np.clip(sy, 0, self.height - 1), np.clip(sx, 0, self.width - 1)]

    def costs(self, image: np.ndarray, sy: np.ndarray, sx: np.ndarray, flip: np.ndarray) -> np.ndarray:
        """(T,) weighted distances of every target's descriptor on ``image`` to source (sy, sx, flip)."""
        return self._costs(self.features(image), sy, sx, flip)

    def _costs(self, features: np.ndarray, sy: np.ndarray, sx: np.ndarray, flip: np.ndarray) -> np.ndarray:
        cost = np.empty(self.targets.size, np.float32)
        kernels.score(
            features, self.trust(), self.channels, self._guide_weight,
            self.ty, self.tx, np.asarray(sy, np.intp), np.asarray(sx, np.intp),
            np.asarray(flip, np.bool_), cost,
        )  # fmt: skip
        return cost

    def score(self, field: _Field, image: np.ndarray) -> None:
        """Set ``field.cost`` to its matches' distances on ``image``."""
        field.cost = self.costs(image, field.sy, field.sx, field.flip)

    def search(self, field: _Field, image: np.ndarray) -> None:
        """Score the field on ``image``, then one PatchMatch pass (propagation, random search in
        windows halving from half the level's size, a few global draws)."""
        features = self.features(image)  # one copy (with the guide's channels) for both kernels
        field.cost = self._costs(features, field.sy, field.sx, field.flip)
        n = self.targets.size
        jitter = self.rng.random((n, self.radii.size, 2), dtype=np.float32)
        pick = self.rng.integers(0, self.sy_all.size, (n, _GLOBAL_DRAWS))
        draws_flip = self.rng.random((n, _GLOBAL_DRAWS)) < 0.5 if self.mirror else np.zeros(pick.shape, bool)
        kernels.search(
            features, self.trust(), self.channels, self._guide_weight,
            self.source, self.slot, self.ty, self.tx, field.sy, field.sx, field.flip, field.cost,
            float(self.coherence), _JUMPS_ARRAY, self.radii, jitter,
            self.sy_all[pick], self.sx_all[pick], draws_flip,
        )  # fmt: skip

    def vote(
        self, field: _Field, pixels: np.ndarray, best_only: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Weighted mean of what the matched patches put on flat ``pixels``: (sums (n, C), weights (n,)).

        A pixel gathers from every patch that covers it, the one centred at (pixel - offset)
        giving its source's pixel at the same offset, weighted by the match's similarity and its
        confidence. ``best_only``: the cheapest patch's pixel alone (a copy keeps its source's
        detail, a mean smooths it).
        """
        if best_only:
            weight = field.cost.astype(np.float32)  # the kernel picks the lowest cost
        else:
            spread = _SPREAD * float(np.percentile(field.cost[np.isfinite(field.cost)], 75)) + 1e-12
            weight = (np.exp(-field.cost / spread) * self.confidence).astype(np.float32)
        py, px = np.divmod(pixels, self.width)
        sums = np.zeros((pixels.size, self.channels), np.float32)
        totals = np.zeros(pixels.size, np.float32)
        kernels.vote(
            self.image, RADIUS, self.slot, weight, field.sy, field.sx, field.flip,
            py, px, best_only, sums, totals,
        )  # fmt: skip
        return sums, totals


def _seam_corrected(
    image: np.ndarray, hole: np.ndarray, level: _Level, field: _Field, best_only: bool = False
) -> np.ndarray:
    """The final vote, with the reconstruction's error on the known ring diffused into the hole."""
    c = image.shape[2]
    ring = ndimage.binary_dilation(hole) & ~hole
    inside, around = np.flatnonzero(hole), np.flatnonzero(ring)
    sums, totals = level.vote(field, np.concatenate([inside, around]), best_only)
    got = totals > 0
    values = image.reshape(-1, c)[np.concatenate([inside, around])].copy()
    values[got] = sums[got] / totals[got, None]
    out = image.copy()
    out.reshape(-1, c)[inside] = values[: inside.size]
    residual = np.zeros_like(image)
    ring_values = values[inside.size :]
    residual.reshape(-1, c)[around] = np.where(
        got[inside.size :, None], image.reshape(-1, c)[around] - ring_values, 0.0
    )
    flat, correction = solve_dirichlet(hole, KnownValues(residual, 1.0), None, 1e-4)
    out.reshape(-1, c)[flat] += correction.T
    return out


def _fill_level(
    image: np.ndarray,
    hole: np.ndarray,
    coarse: tuple[_Field, tuple[int, int]] | None,
    mirror: bool,
    rng: np.random.Generator,
    depth: int,
    guide: tuple[np.ndarray, float] | None = None,
    best_only: bool = False,
) -> tuple[np.ndarray, _Field | None, _Level]:
    """EM rounds on one level; ``image``'s hole holds the start. Returns (estimate, field, level)."""
    level = _Level(image, hole, mirror, rng, guide)
    if guide is not None:
        level.coherence = _COHERENCE_DETAIL
    if not level.ok:
        return image, None, level
    inside = np.flatnonzero(hole)
    current = image.copy()
    flat = current.reshape(-1, image.shape[2])
    if coarse is None:
        field, rounds = level.random_field(), _ROUNDS_COARSEST
    else:
        field = level.upsampled(*coarse)
        rounds = _ROUNDS[min(depth, len(_ROUNDS) - 1)]
        if best_only:  # a best-only vote picks by cost: the doubled field's own
            level.score(field, current)
            rounds = max(rounds, _ROUNDS_GUIDED_FINEST)
        else:
            field.cost = np.ones(field.targets.size, np.float32)  # uniform weights for the first vote
        if depth == 0 and rounds == 0:
            return current, field, level  # the final vote is the seam correction's
        sums, totals = level.vote(field, inside, best_only)
        got = totals > 0
        flat[inside[got]] = sums[got] / totals[got, None]
    for i in range(rounds):
        level.search(field, current)
        if depth == 0 and i == rounds - 1:
            break  # the final vote is the seam correction's
        sums, totals = level.vote(field, inside, best_only)
        got = totals > 0
        flat[inside[got]] = sums[got] / totals[got, None]
    return current, field, level


def _halved(image: np.ndarray) -> np.ndarray:
    """``image`` halved by plain 2x2 means (every pixel counts: a guide is defined everywhere)."""
    return _downsample(image, np.zeros(image.shape[:2], bool))[0]


def complete(
    image: np.ndarray, hole: np.ndarray, seed: int = 0, mirror: bool = True, guide: Guide | None = None
) -> np.ndarray:
    """Fill ``hole`` of float32 (H, W, C) ``image`` from its known patches; returns a new array.

    Outside the hole the result is ``image`` exactly. ``mirror`` allows left-right flipped
    sources. Deterministic for a ``seed``. Without any fully known patch it returns the harmonic fill.
    With a ``guide``, ``image``'s hole holds its prediction: the coarsest level's start, and
    followed, through the guide's features, where the context says nothing (see :class:`Guide`).
    """
    image = np.ascontiguousarray(image, dtype=np.float32)
    if not hole.any():
        return image.copy()
    rng = np.random.default_rng(seed)
    pyramid = [(image, hole)]
    predicted = [image] if guide is not None else []  # the prediction halved with the hole's cells
    features = [np.ascontiguousarray(guide.features, dtype=np.float32)] if guide is not None else []
    for _ in range(_levels(hole)):
        pyramid.append(_downsample(*pyramid[-1]))
        if guide is not None:
            predicted.append(_halved(predicted[-1]))
            features.append(_halved(features[-1]))
    estimate: np.ndarray | None = None
    coarse: tuple[_Field, tuple[int, int]] | None = None
    level = field = None
    for depth in range(len(pyramid) - 1, -1, -1):
        img, msk = pyramid[depth]
        if guide is not None and estimate is None:
            start = np.where(msk[..., None], predicted[depth], img)
        elif estimate is None:
            start = _harmonic(img, msk)
        else:  # cells the coarse fill does not cover start from its upsampled estimate
            up = np.repeat(np.repeat(estimate, 2, axis=0), 2, axis=1)[: msk.shape[0], : msk.shape[1]]
            start = np.where(msk[..., None], up, img)
        level_guide = None if guide is None else (features[depth], guide.weight)
        best_only = guide is not None and depth == 0  # coarser levels keep the mean: it converges in phase
        estimate, field, level = _fill_level(start, msk, coarse, mirror, rng, depth, level_guide, best_only)
        coarse = None if field is None else (field, msk.shape)
    if field is not None:
        estimate = _seam_corrected(estimate, hole, level, field, guide is not None)
    result = image.copy()
    result[hole] = estimate[hole]
    return result


def patch_fill(pixels: np.ndarray, hole: np.ndarray, seed: int = 0, mirror: bool = True) -> np.ndarray:
    """Patch fill of uint8/uint16/float (H, W) or (H, W, C) pixels; outside the hole bit for bit the input.

    Right for wide holes in texture and pattern (sky, wall, cloth, grass). Deterministic for a
    ``seed``; ``mirror`` also copies left-right mirrored patches.
    """
    arr = check_pixels(pixels, "pixels")
    check_hole(hole, arr.shape)
    out = np.array(arr, order="C")
    if hole.all():
        raise RestorerError("the hole covers the whole image: there are no known pixels to fill it from")
    if not hole.any():
        return out.reshape(pixels.shape)
    image = np.multiply(out, np.float32(1.0 / value_scale(out.dtype)), dtype=np.float32)
    filled = complete(image, hole, seed=seed, mirror=mirror)
    out[hole] = to_dtype(filled[hole], out.dtype)
    return out.reshape(pixels.shape)
