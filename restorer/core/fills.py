"""Classical fills: harmonic diffusion, total-variation inpainting and multi-scale patch synthesis.

Every fill takes (H, W, C) or (H, W) uint8/uint16/float pixels and a bool (H, W) hole mask
(True = unknown), returns a new array of the same shape and dtype, and changes hole pixels only:
outside the hole the result is the input, bit for bit. An empty hole gives an exact copy.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from restorer.core.errors import RestorerError
from restorer.core.poisson import (
    KnownValues,
    check_hole,
    check_pixels,
    scatter,
    solve_dirichlet,
    to_dtype,
    tolerance_for,
    value_scale,
)

__all__ = ["diffusion_fill", "diffusion_values", "patch_fill", "tv_fill"]


def _prepare(pixels: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """A C-contiguous (H, W, C) copy of checked ``pixels``; RestorerError if nothing is known."""
    arr = check_pixels(pixels, "pixels")
    check_hole(hole, arr.shape)
    if hole.all():
        raise RestorerError("the hole covers the whole image: there are no known pixels to fill it from")
    return np.array(arr, order="C")


def diffusion_fill(pixels: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Harmonic (membrane) fill: each hole pixel is the mean of its four neighbours.

    The smoothest fill that meets the hole's edge; fast, and right for thin scratches and dust,
    where the surrounding texture barely matters. Solved exactly: to an eighth of a level for
    8-bit pixels, 1e-4 of the range otherwise.
    """
    out = _prepare(pixels, hole)
    if hole.any():
        flat, values = solve_dirichlet(
            hole, KnownValues(out, 1.0 / value_scale(out.dtype)), None, tolerance_for(out.dtype)
        )
        scatter(out, flat, to_dtype(values, out.dtype))
    return out.reshape(pixels.shape)


def diffusion_values(pixels: np.ndarray, hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The harmonic fill of ``hole`` in uint8/uint16 ``pixels`` as ``diffusion_fill`` gives it for the
    same pixels in the float working scale (``restorer.core.pixels.to_float``), without that copy.

    Returns the hole's flat pixel indices (increasing) and their (C, n) float32 values, unrounded:
    what a float window's fill holds there, for the pipeline to fill many regions of a large photo
    with one solve. Only the ring around the hole is read, so ``pixels`` may be a whole scan.
    """
    arr = check_pixels(pixels, "pixels")
    check_hole(hole, arr.shape)
    if not hole.any() or hole.all():
        raise RestorerError("the hole must be neither empty nor the whole image")
    # The known values are scaled as the float window's are (to an ulp: multiplied, not divided, by
    # the top value). The tolerance is a tenth of the float window's: a small hole's own solve is a
    # direct, exact one, and this solve's iterations then stay well inside that tolerance of it
    # (a 24 MP scan's 3,700 specks: 2e-6 from their own solves, where 1e-4 left 4e-5), at no
    # measurable cost.
    known = KnownValues(np.ascontiguousarray(arr), 1.0 / value_scale(arr.dtype))
    return solve_dirichlet(hole, known, None, 0.1 * tolerance_for(np.dtype(np.float32)))


# --- total variation ----------------------------------------------------------------------------
#
# Minimise the colour (vectorial) total variation  sum_s |grad u (s)|_huber  over the hole's pixels, the
# gradient being forward differences at every "site" s whose differences touch the hole, with the
# known pixels fixed. Chambolle and Pock's primal-dual algorithm (2011), started from the harmonic
# fill; all arrays hold the hole's pixels and their ring only, so thin scratches on a large scan
# cost what the scratches cost.

# Huber's rounding of |grad u| below this slope (per pixel, in [0, 1] units) makes gentle gradients
# cost quadratically, as in the harmonic fill, so smooth shading is not flattened into terraces;
# steeper edges keep the TV cost and stay sharp. Measured on scratched photos: pure TV (0) scored
# 0.7 dB below the harmonic fill inside the scratches, 0.05 about level with it.
_HUBER = 0.05
_TV_STEP = 0.99 / np.sqrt(8.0)  # tau = sigma with tau * sigma * ||grad||^2 < 1, ||grad||^2 <= 8


def _tv_tables(hole: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Index tables of the TV problem.

    Returns ``pixels`` (flat indices: the n hole pixels first, then the known sites), ``right`` and
    ``down`` (for every site, the index into ``pixels`` of its neighbour, itself at the image edge so
    the difference is 0), and ``left_site`` / ``up_site`` (for every hole pixel, the site whose
    right / down neighbour it is, or the zero slot at the end of the dual arrays).
    """
    height, width = hole.shape
    cells = np.flatnonzero(hole)
    ys, xs = np.divmod(cells, width)
    extra = []
    for dy, dx in ((0, -1), (-1, 0)):  # known pixels whose right or down difference reaches the hole
        ny, nx = ys + dy, xs + dx
        ok = (ny >= 0) & (nx >= 0)
        flat = ny[ok] * width + nx[ok]
        extra.append(flat[~hole.reshape(-1).take(flat)])
    known_sites = np.unique(np.concatenate(extra))
    sites = np.concatenate([cells, known_sites])
    # Pixels whose values the differences read: the sites and their right and down neighbours.
    sy, sx = np.divmod(sites, width)
    right_flat = np.where(sx + 1 < width, sites + 1, sites)
    down_flat = np.where(sy + 1 < height, sites + width, sites)
    pixels = np.concatenate([sites, np.setdiff1d(np.concatenate([right_flat, down_flat]), sites)])
    order = np.argsort(pixels, kind="stable")

    def index_of(flat: np.ndarray) -> np.ndarray:
        return order[np.searchsorted(pixels, flat, sorter=order)]

    right, down = index_of(right_flat), index_of(down_flat)
    zero = sites.size
    site_of = np.full(pixels.size, zero, np.intp)
    site_of[: sites.size] = np.arange(sites.size)
    left_site = np.full(cells.size, zero, np.intp)
    up_site = np.full(cells.size, zero, np.intp)
    has_left = xs > 0
    left_site[has_left] = site_of[index_of(cells[has_left] - 1)]
    has_up = ys > 0
    up_site[has_up] = site_of[index_of(cells[has_up] - width)]
    return pixels, right, down, left_site, up_site


def tv_fill(pixels: np.ndarray, hole: np.ndarray, iterations: int = 300) -> np.ndarray:
    """Total-variation inpainting: the fill with the least total (colour) variation (Huber-rounded).

    Unlike the harmonic fill it keeps edges sharp where they cross a scratch, continuing them in
    straight lines; textures it flattens. ``iterations`` of the primal-dual algorithm start from
    the harmonic fill.
    """
    if not isinstance(iterations, int) or iterations < 0:
        raise RestorerError(f"iterations must be a non-negative integer, not {iterations!r}")
    out = _prepare(pixels, hole)
    if not hole.any():
        return out.reshape(pixels.shape)
    scale = 1.0 / value_scale(out.dtype)
    known = KnownValues(out, scale)
    flat, start = solve_dirichlet(hole, known, None, tolerance_for(out.dtype))
    index, right, down, left_site, up_site = _tv_tables(hole)
    n = flat.size
    values = known.at(index)  # (C, pixels): hole pixels first
    values[:, :n] = start
    sites = right.size
    u = values  # the hole part is updated in place, the rest stays known
    u_bar = values.copy()
    dual = np.zeros((2, values.shape[0], sites + 1), np.float32)  # zero slot for missing sites
    for _ in range(iterations):
        here = u_bar[:, :sites]
        gx = u_bar.take(right, axis=1) - here
        gy = u_bar.take(down, axis=1) - here
        dual[0, :, :sites] += _TV_STEP * gx
        dual[1, :, :sites] += _TV_STEP * gy
        dual[:, :, :sites] /= 1.0 + _TV_STEP * _HUBER  # the proximal step of Huber's conjugate
        # Project each site's (2 x C) dual vector onto the unit ball: colour TV couples the channels.
        norm = np.sqrt((dual[:, :, :sites] ** 2).sum(axis=(0, 1)))
        dual[:, :, :sites] /= np.maximum(norm, 1.0)
        # u <- u - tau grad^T dual, and -grad^T is the divergence: backward differences of the dual.
        divergence = dual[0, :, :n] - dual[0].take(left_site, axis=1)
        divergence += dual[1, :, :n] - dual[1].take(up_site, axis=1)
        previous = u[:, :n].copy()
        u[:, :n] += _TV_STEP * divergence
        u_bar[:, :n] = 2.0 * u[:, :n] - previous
    scatter(out, flat, to_dtype(u[:, :n], out.dtype))
    return out.reshape(pixels.shape)


# --- patch synthesis ----------------------------------------------------------------------------
#
# Multi-scale exemplar fill in the manner of Wexler, Shechtman and Irani (2007) with PatchMatch
# (Barnes et al. 2009) for the nearest-neighbour field: on a pyramid from coarse to fine, alternate
# (a) for every patch that touches the hole, find the most similar fully known patch, and (b) set
# every hole pixel to the weighted vote of the pixels those patches put on it. The field search is
# done for all patches at once: candidate offsets from neighbours at distances 1, 2, 4, ... (parallel
# propagation) and from random samples in shrinking windows, each batch scored together.

_EM_ROUNDS = (6, 4, 3)  # expectation-maximisation rounds at the coarsest, middle and finest levels
_SEARCHES = 1  # field-search passes per round
_JUMPS = (1, 2, 4, 8)  # propagation distances: far jumps spread good matches in few passes
_GLOBAL_DRAWS = 2  # candidates drawn from anywhere in each pass: a way out of local minima
_FILLED_TRUST = 0.25  # weight of filled-in pixels in patch distances: matches lock onto known context
_CHUNK = 16384  # patches scored at once: bounds the (chunk, patch pixels, channels) temporary


def halve_known(image: np.ndarray, hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Halve an (H, W, C) image and its hole: known children are averaged, a cell is hole if all are."""
    h, w = hole.shape
    if h % 2 or w % 2:
        image = np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        hole = np.pad(hole, ((0, h % 2), (0, w % 2)), mode="edge")
    known = (~hole).astype(np.float32)[..., None]
    total = image * known
    sums = total[0::2, 0::2] + total[0::2, 1::2] + total[1::2, 0::2] + total[1::2, 1::2]
    counts = known[0::2, 0::2] + known[0::2, 1::2] + known[1::2, 0::2] + known[1::2, 1::2]
    coarse = sums / np.maximum(counts, 1.0)
    return coarse.astype(np.float32), counts[..., 0] == 0


def _box_any(mask: np.ndarray, radius: int) -> np.ndarray:
    """Whether any pixel within the (2 radius + 1)^2 box around each pixel is set."""
    return ndimage.maximum_filter(mask, size=2 * radius + 1, mode="constant", cval=False)


def _patch_costs(
    flat_image: np.ndarray, trust: np.ndarray, targets: np.ndarray, sources: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
    """Squared differences between the patches centred on each target and source (flat indices),
    each target pixel weighted by ``trust`` (known pixels count more than filled-in ones)."""
    costs = np.empty(targets.size, np.float32)
    for start in range(0, targets.size, _CHUNK):
        t = targets[start : start + _CHUNK, None] + offsets
        s = sources[start : start + _CHUNK, None] + offsets
        diff = flat_image.take(t, axis=0) - flat_image.take(s, axis=0)
        costs[start : start + _CHUNK] = np.einsum("npc,npc,np->n", diff, diff, trust.take(t))
    return costs


class _Field:
    """The nearest-neighbour field of one level: for every target patch centre, a source centre."""

    def __init__(self, hole: np.ndarray, radius: int, rng: np.random.Generator) -> None:
        height, width = hole.shape
        self.height, self.width, self.radius, self.rng = height, width, radius, rng
        interior = np.zeros(hole.shape, bool)
        interior[radius : height - radius, radius : width - radius] = True
        self.valid = (interior & ~_box_any(hole, radius)).reshape(-1)  # fully known source patches
        self.valid_flat = np.flatnonzero(self.valid)
        self.trust = np.where(hole, _FILLED_TRUST, 1.0).astype(np.float32).reshape(-1)
        self.targets = np.flatnonzero((interior & _box_any(hole, radius)).reshape(-1))
        dy, dx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
        self.offsets = (dy * width + dx).reshape(-1)
        if self.valid_flat.size:  # a random start; without any source patch the field stays unused
            self.sources = self.valid_flat[rng.integers(0, self.valid_flat.size, self.targets.size)]
        else:
            self.sources = self.targets.copy()
        self.costs = np.full(self.targets.size, np.inf, np.float32)
        # Where each target sits in the target list, for neighbour lookups (-1: not a target).
        self._slot = np.full(height * width, -1, np.intp)
        self._slot[self.targets] = np.arange(self.targets.size)

    def adopt(self, coarse: _Field) -> None:
        """Initialise from the coarser level's field: the same displacement, doubled."""
        ty, tx = np.divmod(self.targets, self.width)
        cy = np.minimum(ty // 2, coarse.height - 1)
        cx = np.minimum(tx // 2, coarse.width - 1)
        slot = coarse._slot[cy * coarse.width + cx]
        has = slot >= 0
        sy, sx = np.divmod(coarse.sources[slot[has]], coarse.width)
        y = np.clip(ty[has] + 2 * (sy - cy[has]), 0, self.height - 1)
        x = np.clip(tx[has] + 2 * (sx - cx[has]), 0, self.width - 1)
        candidate = y * self.width + x
        ok = self.valid[candidate]
        picked = np.flatnonzero(has)[ok]
        self.sources[picked] = candidate[ok]

    def _try(self, flat_image: np.ndarray, candidates: np.ndarray) -> None:
        """Keep each candidate source that is valid, new and scores better.

        A candidate that is itself a patch touching the hole stands for that patch's own match
        (what matches it should match us): this chaining lets a good match travel across the hole.
        """
        slot = self._slot[candidates]
        chained = ~self.valid[candidates] & (slot >= 0)
        candidates = np.where(chained, self.sources[np.maximum(slot, 0)], candidates)
        idx = np.flatnonzero(self.valid[candidates] & (candidates != self.sources))
        if not idx.size:
            return
        costs = _patch_costs(flat_image, self.trust, self.targets[idx], candidates[idx], self.offsets)
        better = costs < self.costs[idx]
        self.sources[idx[better]] = candidates[idx[better]]
        self.costs[idx[better]] = costs[better]

    def search(self, flat_image: np.ndarray, passes: int) -> None:
        self.costs = _patch_costs(flat_image, self.trust, self.targets, self.sources, self.offsets)
        ty, tx = np.divmod(self.targets, self.width)
        reach = max(self.height, self.width)
        for _ in range(passes):
            # Propagation: a neighbour's displacement, from 1, 2, 4, ... pixels away in four directions.
            for step in _JUMPS:
                for dy, dx in ((0, step), (0, -step), (step, 0), (-step, 0)):
                    ny, nx = ty + dy, tx + dx
                    inside = (ny >= 0) & (ny < self.height) & (nx >= 0) & (nx < self.width)
                    slot = np.where(inside, self._slot[np.where(inside, ny * self.width + nx, 0)], -1)
                    has = slot >= 0
                    candidates = self.sources.copy()
                    candidates[has] = self.sources[slot[has]] - (dy * self.width + dx)
                    candidates = np.clip(candidates, 0, self.height * self.width - 1)
                    self._try(flat_image, candidates)
            # A few matches drawn from anywhere, then random search around the current match in
            # windows halving from the image size.
            for _ in range(_GLOBAL_DRAWS):
                self._try(
                    flat_image, self.valid_flat[self.rng.integers(0, self.valid_flat.size, self.targets.size)]
                )
            radius = reach
            while radius >= 1:
                sy, sx = np.divmod(self.sources, self.width)
                y = np.clip(sy + self.rng.integers(-radius, radius + 1, sy.size), 0, self.height - 1)
                x = np.clip(sx + self.rng.integers(-radius, radius + 1, sx.size), 0, self.width - 1)
                self._try(flat_image, y * self.width + x)
                radius //= 2

    def vote(self, flat_image: np.ndarray, hole_flat: np.ndarray) -> np.ndarray:
        """The hole pixels' new values (n_hole, C): similarity-weighted averages of the matched patches."""
        spread = float(np.percentile(self.costs, 75)) + 1e-12
        weights = np.exp(-self.costs / spread)
        index = np.full(flat_image.shape[0], -1, np.intp)
        index[hole_flat] = np.arange(hole_flat.size)
        channels = flat_image.shape[1]
        totals = np.zeros((hole_flat.size + 1, channels), np.float64)
        norms = np.zeros(hole_flat.size + 1, np.float64)
        for start in range(0, self.targets.size, _CHUNK):
            t = self.targets[start : start + _CHUNK, None] + self.offsets
            s = self.sources[start : start + _CHUNK, None] + self.offsets
            slot = index.take(t).reshape(-1)
            slot[slot < 0] = hole_flat.size  # known pixels vote into a discarded slot
            w = np.broadcast_to(weights[start : start + _CHUNK, None], t.shape).reshape(-1)
            values = flat_image.take(s.reshape(-1), axis=0)
            norms += np.bincount(slot, weights=w, minlength=hole_flat.size + 1)
            for c in range(channels):
                totals[:, c] += np.bincount(slot, weights=w * values[:, c], minlength=hole_flat.size + 1)
        return (totals[:-1] / np.maximum(norms[:-1, None], 1e-30)).astype(np.float32)


def patch_fill(pixels: np.ndarray, hole: np.ndarray, patch_size: int = 7, seed: int = 0) -> np.ndarray:
    """Exemplar fill: rebuild the hole from ``patch_size`` square patches copied from the rest.

    Right for larger holes in texture (sky, wall, fabric, grass), where smooth fills look smeared.
    Deterministic for a given ``seed``. Falls back to the harmonic fill when the photo has no fully
    known patch to copy from.
    """
    if not isinstance(patch_size, int) or patch_size < 3 or patch_size % 2 == 0:
        raise RestorerError(f"patch_size must be an odd integer of at least 3, not {patch_size!r}")
    out = _prepare(pixels, hole)
    if not hole.any():
        return out.reshape(pixels.shape)
    radius = patch_size // 2
    scale = 1.0 / value_scale(out.dtype)
    image = np.multiply(out, np.float32(scale), dtype=np.float32)
    flat, harmonic = solve_dirichlet(hole, KnownValues(out, scale), None, tolerance_for(out.dtype))
    image.reshape(-1, image.shape[2])[flat] = harmonic.T

    # The pyramid: halve while the hole is large compared with a patch and the image can hold patches.
    pyramid = [(image, hole)]
    while True:
        img, msk = pyramid[-1]
        rows, cols = np.flatnonzero(msk.any(axis=1)), np.flatnonzero(msk.any(axis=0))
        extent = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 if rows.size else 0
        if extent <= 2 * patch_size or min(msk.shape) < 6 * patch_size:
            break
        pyramid.append(halve_known(img, msk))

    rng = np.random.default_rng(seed)
    estimate, field = None, None
    for depth in range(len(pyramid) - 1, -1, -1):
        img, msk = pyramid[depth]
        current = img.copy()
        hole_flat = np.flatnonzero(msk)
        if estimate is not None and hole_flat.size:  # start from the coarser result, upsampled
            up = np.repeat(np.repeat(estimate, 2, axis=0), 2, axis=1)[: msk.shape[0], : msk.shape[1]]
            current[msk] = up[msk]
        level = _Field(msk, radius, rng)
        if hole_flat.size and level.valid_flat.size and level.targets.size:
            if field is not None:
                level.adopt(field)
            rounds = _EM_ROUNDS[0] if depth == len(pyramid) - 1 else _EM_ROUNDS[1 if depth else 2]
            flat_image = current.reshape(-1, current.shape[2])
            for _ in range(rounds):
                level.search(flat_image, _SEARCHES)
                flat_image[hole_flat] = level.vote(flat_image, hole_flat)
            field = level
        estimate = current
    result = estimate.reshape(-1, estimate.shape[2])[flat].T
    scatter(out, flat, to_dtype(result, out.dtype))
    return out.reshape(pixels.shape)
