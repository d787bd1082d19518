"""The dense engine's multigrid hierarchy: compact holes on their bounding box.

Every level is a dense array over the crop (each coarse level half the size of the one above),
split into its four parity subgrids as torch tensors; cells outside the hole carry inverse
diagonal 0. The coarse levels' finite-volume operators are built from byte planes of the crop,
and the coarsest level is solved by a sparse LU factorisation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from restorer.core.poisson.multigrid import (
    _STEPS,
    _coarse_faces,
    _coupling,
    _dirichlet_pull,
    _factorise,
    _Geometry,
)


def _to_subgrids(natural: np.ndarray) -> np.ndarray:
    """(..., 2h, 2w) -> (..., 2, 2, h, w)."""
    *lead, height, width = natural.shape
    split = natural.reshape(*lead, height // 2, 2, width // 2, 2)
    n = len(lead)
    return np.ascontiguousarray(np.moveaxis(split, (n + 1, n + 3), (n, n + 1)))


def _pad_even(a: np.ndarray) -> np.ndarray:
    """Zero-pad the last two axes at the far end to even sizes."""
    h, w = a.shape[-2:]
    if h % 2 == 0 and w % 2 == 0:
        return a
    out = np.zeros((*a.shape[:-2], h + h % 2, w + w % 2), a.dtype)
    out[..., :h, :w] = a
    return out


@dataclass
class _DenseLevel:
    height: int  # real size of this level (the tensors may carry one more phantom row / column)
    width: int
    active: torch.Tensor  # (2, 2, h, w) float32: 1 on cells of the hole's agglomerates
    diag: torch.Tensor  # (2, 2, h, w)
    inverse: torch.Tensor  # (2, 2, h, w): 1 / diag on active cells, 0 elsewhere
    weights: torch.Tensor | None  # (4, 2, 2, h, w) couplings; None on the finest level (all 1)
    direct: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)
    cells: np.ndarray | None = None  # flat natural indices of the active cells (coarsest level only)

    @property
    def subgrid_shape(self) -> tuple[int, int]:
        return self.active.shape[-2], self.active.shape[-1]


def _shift(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """b[y, x] = a[y + dy, x + dx], zero outside."""
    out = np.zeros_like(a)
    h, w = a.shape
    out[max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)] = a[
        max(dy, 0) : h - max(-dy, 0), max(dx, 0) : w - max(-dx, 0)
    ]
    return out


def _dense_first_geometry(hole: np.ndarray) -> _Geometry:
    """Finite-volume description of the 2x2 agglomerates of a crop's hole pixels: the first coarse
    level, (15, H/2, W/2) float32, built from bytes (what the full-resolution planes would sum to).

    A hole pixel's neighbour outside the crop lies outside the image: the crop keeps a margin of
    known pixels on every side that is not the image's edge. Coordinates are relative to the crop.
    """
    h, w = hole.shape
    even = _pad_even(hole).view(np.uint8)
    faces = np.zeros((4, *even.shape), np.uint8)
    dirichlet = np.zeros((4, *even.shape), np.uint8)
    for k, (dy, dx) in enumerate(_STEPS):
        # The part of the crop whose neighbour (y + dy, x + dx) is inside the crop.
        ys = slice(max(-dy, 0), h - max(dy, 0))
        xs = slice(max(-dx, 0), w - max(dx, 0))
        mine = even[ys, xs]
        theirs = even[ys.start + dy : ys.stop + dy, xs.start + dx : xs.stop + dx]
        np.bitwise_and(mine, theirs, out=faces[k, ys, xs])
        np.greater(mine, theirs, out=dirichlet[k, ys, xs], casting="unsafe")
    count = _block_sum(even)
    rows = 2.0 * np.arange(count.shape[0], dtype=np.float32)[:, None]
    cols = 2.0 * np.arange(count.shape[1], dtype=np.float32)[None, :]
    data = np.empty((15, *count.shape), np.float32)
    data[0] = count
    data[1] = rows * count + (even[1::2, 0::2] + even[1::2, 1::2])  # a pixel in row 2Y + a adds 2Y + a
    data[2] = cols * count + (even[0::2, 1::2] + even[1::2, 1::2])
    data[3:7] = _coarse_faces(faces)
    edges = _block_sum(dirichlet)
    data[7:11] = edges
    for k, (dy, dx) in enumerate(_STEPS):
        # Each known neighbour's coordinate along the edge: the child's, plus the step.
        if dy:
            data[11 + k] = (rows + dy) * edges[k] + dirichlet[k, 1::2, 0::2] + dirichlet[k, 1::2, 1::2]
        else:
            data[11 + k] = (cols + dx) * edges[k] + dirichlet[k, 0::2, 1::2] + dirichlet[k, 1::2, 1::2]
    return _Geometry(data)


def _block_sum(a: np.ndarray) -> np.ndarray:
    """Sum of each 2x2 block over the last two (even) axes."""
    return a[..., 0::2, 0::2] + a[..., 0::2, 1::2] + a[..., 1::2, 0::2] + a[..., 1::2, 1::2]


def _dense_coarsen(g: _Geometry) -> _Geometry:
    data = _block_sum(g.data)
    data[3:7] = _coarse_faces(g.faces)
    return _Geometry(data)


def _dense_operator(g: _Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Finite-volume couplings (4, h, w) and diagonal (h, w) of agglomerates; 0 off the hole."""
    count = np.maximum(g.count, 1.0)
    centre = (g.y_sum / count, g.x_sum / count)
    weights = np.zeros_like(g.faces)
    pull = np.zeros_like(g.count)
    for k, (dy, dx) in enumerate(_STEPS):
        axis = centre[0] if k < 2 else centre[1]
        weights[k] = _coupling(g.faces[k], _shift(axis, dy, dx), axis)
        pull += _dirichlet_pull(g.dirichlet[k], g.dirichlet_at[k], axis)
    return weights, weights.sum(axis=0) + pull


def _dense_direct(
    weights: np.ndarray, diag: np.ndarray, active: np.ndarray
) -> tuple[Callable[[np.ndarray], np.ndarray], np.ndarray]:
    h, w = active.shape
    cells = np.flatnonzero(active)
    index = np.full(h * w, -1, np.intp)
    index[cells] = np.arange(cells.size)
    ys, xs = np.divmod(cells, w)
    rows, cols, vals = (
        [np.arange(cells.size)],
        [np.arange(cells.size)],
        [diag.reshape(-1)[cells].astype(np.float64)],
    )
    for k, (dy, dx) in enumerate(_STEPS):
        ny, nx = ys + dy, xs + dx
        ok = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        j = np.full(cells.size, -1, np.intp)
        j[ok] = index[ny[ok] * w + nx[ok]]
        c = weights[k].reshape(-1)[cells]
        use = (j >= 0) & (c != 0)
        rows.append(np.flatnonzero(use))
        cols.append(j[use])
        vals.append(-c[use].astype(np.float64))
    return _factorise(rows, cols, vals, cells.size), cells


def _dense_hierarchy(hole: np.ndarray, direct_limit: int) -> list[_DenseLevel]:
    h, w = hole.shape
    count = np.count_nonzero(hole)
    diag0 = np.full((h, w), 4.0, np.float32)  # in-crop neighbours, which for hole pixels are in-image ones
    diag0[0] -= 1.0
    diag0[-1] -= 1.0
    diag0[:, 0] -= 1.0
    diag0[:, -1] -= 1.0
    diag0 *= hole
    active = _pad_even(hole.astype(np.float32))
    levels = []
    weights = None
    diag = _pad_even(diag0)
    height, width = h, w
    g: _Geometry | None = None
    while True:
        last = count <= direct_limit or min(active.shape) <= 2
        inverse = np.divide(1.0, diag, out=np.zeros_like(diag), where=active > 0)
        level = _DenseLevel(
            height,
            width,
            torch.from_numpy(_to_subgrids(active)),
            torch.from_numpy(_to_subgrids(diag)),
            torch.from_numpy(_to_subgrids(inverse)),
            None if weights is None else torch.from_numpy(_to_subgrids(weights)),
        )
        if last:
            couplings = np.ones((4, *active.shape), np.float32) if weights is None else weights
            level.direct, level.cells = _dense_direct(couplings, diag, active > 0)
        levels.append(level)
        if last:
            return levels
        g = _dense_first_geometry(hole) if g is None else _dense_coarsen(g)
        weights, diag = _dense_operator(g)
        active = (g.count > 0).astype(np.float32)
        count = int(np.count_nonzero(active))
        height, width = (height + 1) // 2, (width + 1) // 2
        g = _Geometry(_pad_even(g.data))
        weights, diag, active = _pad_even(weights), _pad_even(diag), _pad_even(active)
