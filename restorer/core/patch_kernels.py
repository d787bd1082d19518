"""Compiled inner loops of the patch completion (restorer.core.patchmatch): patch distances, the
PatchMatch search and the vote, as numba functions.

Why compiled loops: PatchMatch is a per-target search whose candidates depend on the matches just
found next door (propagation in scan order), and whose distances can stop early once they exceed
the best so far. Whole-array numpy can do neither: it scored every candidate in full through
gathered copies of a descriptor bank, which was most of a 24 MP restore's time. Here a distance
reads the features in place (no bank), the search propagates live, and nothing allocates per
candidate. ``nogil`` lets fills of separate holes run on separate threads; ``cache`` keeps the
compiled code on disk, so only the first fill after an install pays the compile (a few seconds).

Conventions shared with patchmatch: ``features`` is (H, W, D) float32, the image's C channels then
the guide's; ``trust`` (H, W) is a sample's weight for the image channels (1 known, small filled);
``guide_weight`` that of the guide channels. A descriptor samples the 3x3 grid ``GRID`` around a
centre; a mirrored source at (sy, sx) reads sample (gy, gx) at (sy + gy, sx - gx). Sources are
fully known interior patches and targets are interior, so no index leaves the image.
"""

from __future__ import annotations

import numpy as np
from numba import njit

GRID = (-2, 0, 2)  # descriptor samples per axis (see patchmatch._GRID for why)


@njit(cache=True, nogil=True)
def _distance(
    features: np.ndarray,
    trust: np.ndarray,
    channels: int,
    guide_weight: float,
    ty: int,
    tx: int,
    sy: int,
    sx: int,
    flip: bool,
    bound: float,
) -> float:
    """Weighted squared distance of target (ty, tx)'s descriptor to source (sy, sx); stops early
    once above ``bound`` (the caller only needs to know it lost)."""
    total = 0.0
    dims = features.shape[2]
    for gy in (-2, 0, 2):
        for gx in (-2, 0, 2):
            qy, qx = ty + gy, tx + gx
            ry, rx = sy + gy, (sx - gx) if flip else (sx + gx)
            weight = trust[qy, qx]
            for d in range(dims):
                diff = features[qy, qx, d] - features[ry, rx, d]
                total += (weight if d < channels else guide_weight) * diff * diff
        if total > bound:
            return total
    return total


@njit(cache=True, nogil=True)
def score(
    features: np.ndarray,
    trust: np.ndarray,
    channels: int,
    guide_weight: float,
    ty: np.ndarray,
    tx: np.ndarray,
    sy: np.ndarray,
    sx: np.ndarray,
    flip: np.ndarray,
    cost: np.ndarray,
) -> None:
    """``cost[t]`` = the distance of every target to its current match."""
    for t in range(ty.size):
        y, x = ty[t], tx[t]
        cost[t] = _distance(features, trust, channels, guide_weight, y, x, sy[t], sx[t], flip[t], np.inf)


@njit(cache=True, nogil=True)
def search(
    features: np.ndarray,
    trust: np.ndarray,
    channels: int,
    guide_weight: float,
    source: np.ndarray,
    slot: np.ndarray,
    ty: np.ndarray,
    tx: np.ndarray,
    sy: np.ndarray,
    sx: np.ndarray,
    flip: np.ndarray,
    cost: np.ndarray,
    coherence: float,
    jumps: np.ndarray,
    radii: np.ndarray,
    jitter: np.ndarray,
    draws_y: np.ndarray,
    draws_x: np.ndarray,
    draws_flip: np.ndarray,
) -> None:
    """One PatchMatch pass over the targets, updating the field (sy, sx, flip, cost) in place.

    Per target: propagation, i.e. the matches of the
    neighbours ``jumps`` px away in the four directions, shifted back (a propagated match wins
    within ``coherence``, so copies grow long and seams few); then random search in windows of
    ``radii`` around the match, offsets from ``jitter`` (T, R, 2) uniform [0, 1); then global draws
    (T, G) of sources. Neighbours' matches are read as they were before the pass (jump flooding, as
    all at once): read live, a mediocre match swept across the whole hole in one pass at the
    coherence discount (the mirrored-structure test's error rose from 0.1 to 0.9 grey levels).
    """
    height, width = source.shape
    count = ty.size
    sy0, sx0, flip0 = sy.copy(), sx.copy(), flip.copy()
    for t in range(count):
        y, x = ty[t], tx[t]
        best = cost[t]
        by, bx, bf = sy[t], sx[t], flip[t]
        for j in jumps:
            for k in range(4):
                dy = j if k == 0 else (-j if k == 1 else 0)
                dx = j if k == 2 else (-j if k == 3 else 0)
                ny, nx = y + dy, x + dx
                if ny < 0 or ny >= height or nx < 0 or nx >= width:
                    continue
                n = slot[ny * width + nx]
                if n < 0:
                    continue
                f = flip0[n]
                cy = sy0[n] - dy
                cx = sx0[n] + dx if f else sx0[n] - dx  # a mirrored neighbour's source moves the other way
                if cy < 0 or cy >= height or cx < 0 or cx >= width or not source[cy, cx]:
                    continue
                c = coherence * _distance(
                    features, trust, channels, guide_weight, y, x, cy, cx, f, best / coherence
                )
                if c < best:
                    best, by, bx, bf = c, cy, cx, f
        for r in range(radii.size):
            radius = radii[r]
            cy = by + int(jitter[t, r, 0] * (2 * radius + 1)) - radius
            cx = bx + int(jitter[t, r, 1] * (2 * radius + 1)) - radius
            if cy < 0 or cy >= height or cx < 0 or cx >= width or not source[cy, cx]:
                continue
            c = _distance(features, trust, channels, guide_weight, y, x, cy, cx, bf, best)
            if c < best:
                best, by, bx = c, cy, cx
        for g in range(draws_y.shape[1]):
            cy, cx, f = draws_y[t, g], draws_x[t, g], draws_flip[t, g]
            c = _distance(features, trust, channels, guide_weight, y, x, cy, cx, f, best)
            if c < best:
                best, by, bx, bf = c, cy, cx, f
        sy[t], sx[t], flip[t], cost[t] = by, bx, bf, best


@njit(cache=True, nogil=True)
def vote(
    image: np.ndarray,
    radius: int,
    slot: np.ndarray,
    weight: np.ndarray,
    sy: np.ndarray,
    sx: np.ndarray,
    flip: np.ndarray,
    py: np.ndarray,
    px: np.ndarray,
    best_only: bool,
    sums: np.ndarray,
    totals: np.ndarray,
) -> None:
    """What the matched patches put on pixels (py, px): ``sums`` (n, C) and ``totals`` (n,).

    The patch centred at (p - o) gives its source's pixel at offset o (mirrored: at (oy, -ox)),
    weighted by ``weight`` of that target. ``best_only``: only the covering patch of the lowest
    ``weight`` (the caller passes costs then) gives its pixel, the first of ties in raster order.
    """
    height, width, channels = image.shape
    for i in range(py.size):
        best = np.inf
        pick_y, pick_x = -1, -1
        for oy in range(-radius, radius + 1):
            qy = py[i] - oy
            if qy < 0 or qy >= height:
                continue
            for ox in range(-radius, radius + 1):
                qx = px[i] - ox
                if qx < 0 or qx >= width:
                    continue
                t = slot[qy * width + qx]
                if t < 0:
                    continue
                ry = sy[t] + oy
                rx = sx[t] - ox if flip[t] else sx[t] + ox
                w = weight[t]
                if best_only:
                    if w < best:
                        best, pick_y, pick_x = w, ry, rx
                    continue
                for c in range(channels):
                    sums[i, c] += w * image[ry, rx, c]
                totals[i] += w
        if best_only and pick_y >= 0:
            for c in range(channels):
                sums[i, c] = image[pick_y, pick_x, c]
            totals[i] = 1.0
