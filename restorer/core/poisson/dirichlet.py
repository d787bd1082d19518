"""The Dirichlet problem on a hole, and which engine solves it.

The known pixels around the hole become the right-hand side; a compact hole is then solved on its
bounding box by the dense engine, a sparse one by the cell-list engine.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np

from restorer.core.errors import RestorerError
from restorer.core.poisson.cells import _Problem, _solve_cells
from restorer.core.poisson.multigrid import _STEPS
from restorer.core.poisson.pixels import KnownValues, gather

#: A level with at most this many cells is solved by a sparse LU factorisation instead of being coarsened.
DIRECT_LIMIT = 2000
#: A hole filling at least this fraction of its bounding box is solved on the box with dense tensors;
#: sparser holes (scratches over a whole scan) by the engine that stores only the hole's pixels.
DENSE_FILL = 0.2
#: The dense engine runs on torch, whose import costs ~2.4 s on a 2-core CPU. Until something else has
#: loaded torch, it is used only for boxes this large, where it saves more than that (a 1000 px square
#: hole: dense 0.86 s, cell list 2.95 s; a 300 px one: 0.09 s against 0.17 s).
DENSE_IMPORT_PIXELS = 1_000_000


def use_dense(hole_cells: int, crop_pixels: int) -> bool:
    """Whether a hole of ``hole_cells`` pixels in a ``crop_pixels`` box goes to the dense engine."""
    if hole_cells < DENSE_FILL * crop_pixels:
        return False
    return "torch" in sys.modules or crop_pixels >= DENSE_IMPORT_PIXELS


def _boundary_pairs(flat: np.ndarray, hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cell, pixel): for every hole cell, each in-image neighbour pixel outside the hole."""
    height, width = hole.shape
    ys, xs = np.divmod(flat, width)
    hole_flat = hole.reshape(-1)
    cells, pixels = [], []
    for dy, dx in _STEPS:
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)
        candidate = np.flatnonzero(inside)
        neighbour = ny[candidate] * width + nx[candidate]
        known = ~hole_flat.take(neighbour)
        cells.append(candidate[known])
        pixels.append(neighbour[known])
    return np.concatenate(cells), np.concatenate(pixels)


def harmonic_problem(
    known_values: Callable[[np.ndarray], np.ndarray], hole: np.ndarray, channels: int
) -> _Problem:
    """The harmonic problem on ``hole``, boundary values from ``known_values(flat indices) -> (C, m)``."""
    height, width = hole.shape
    flat = np.flatnonzero(hole)
    cells, pixels = _boundary_pairs(flat, hole)
    rhs = np.zeros((channels, flat.size), np.float32)
    boundary_range = 0.0
    if cells.size:
        values = np.asarray(known_values(pixels), dtype=np.float32)
        if not np.isfinite(values).all():
            raise RestorerError("the pixels around the hole contain NaN or infinite values")
        for c in range(channels):
            rhs[c] = np.bincount(cells, weights=values[c], minlength=flat.size)
        boundary_range = float(values.max() - values.min())
    return _Problem(flat, height, width, rhs, boundary_range)


def _bounding_box(hole: np.ndarray) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(hole.any(axis=1))
    cols = np.flatnonzero(hole.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _dense_rhs(
    crop: np.ndarray, known: KnownValues, y0: int, x0: int, width: int
) -> tuple[np.ndarray, float]:
    """(C, h, w) sums of each hole pixel's known neighbours over a crop, and the range of those values.

    Only the ring of known pixels around the hole is read, so a large crop costs what its edge costs.
    """
    h, w = crop.shape
    ring = np.zeros_like(crop)
    ring[1:] |= crop[:-1]
    ring[:-1] |= crop[1:]
    ring[:, 1:] |= crop[:, :-1]
    ring[:, :-1] |= crop[:, 1:]
    ring &= ~crop
    ry, rx = np.divmod(np.flatnonzero(ring), w)
    values = known.at((ry + y0) * width + (rx + x0))
    if not np.isfinite(values).all():
        raise RestorerError("the pixels around the hole contain NaN or infinite values")
    rhs = np.zeros((values.shape[0], h * w), np.float32)
    for dy, dx in _STEPS:  # each ring pixel feeds its hole neighbours
        ny, nx = ry + dy, rx + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        target = ny[inside] * w + nx[inside]
        feeds = crop.reshape(-1).take(target)
        for c in range(values.shape[0]):
            np.add.at(rhs[c], target[feeds], values[c, inside][feeds])
    boundary_range = float(values.max() - values.min()) if values.size else 0.0
    return rhs.reshape(-1, h, w), boundary_range


def solve_dirichlet(
    hole: np.ndarray, known: KnownValues, target_laplacian: np.ndarray | None, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """Solve the Dirichlet problem on a non-empty hole that does not cover the whole image.

    Returns the hole's flat pixel indices (increasing) and the (C, n) float32 solution there.
    """
    height, width = hole.shape
    channels = known.pixels.shape[2]
    y0, y1, x0, x1 = _bounding_box(hole)
    # One pixel of margin: every hole pixel's in-image neighbours lie in the crop.
    y0, y1, x0, x1 = max(y0 - 1, 0), min(y1 + 1, height), max(x0 - 1, 0), min(x1 + 1, width)
    crop = hole[y0:y1, x0:x1]
    cells = np.flatnonzero(crop)
    if not use_dense(cells.size, crop.size):
        problem = harmonic_problem(known.at, hole, channels)
        if target_laplacian is not None:
            problem.rhs -= gather(target_laplacian, problem.flat)
        solution, _ = _solve_cells(problem, tol, DIRECT_LIMIT)
        return problem.flat, solution

    rhs, boundary_range = _dense_rhs(crop, known, y0, x0, width)
    if target_laplacian is not None:
        window = target_laplacian[y0:y1, x0:x1].transpose(2, 0, 1)
        rhs -= np.where(crop, window, 0.0).astype(np.float32)
    sides = (y0 == 0, y1 == height, x0 == 0, x1 == width)
    from restorer.core.poisson.dense import _dense_solve  # imports torch

    solution, _ = _dense_solve(crop, rhs, sides, tol, boundary_range, DIRECT_LIMIT)
    ys, xs = np.divmod(cells, crop.shape[1])
    return (ys + y0) * width + (xs + x0), solution.reshape(channels, -1)[:, cells]
