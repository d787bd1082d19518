"""Poisson blending and the shared Laplace solver.

Both solve, per channel, the discrete Dirichlet problem

    sum over in-image 4-neighbours q of p:  (x_q - x_p) = rhs_p     for every hole pixel p,
    x_p = known value                                                for every other pixel,

where a neighbour outside the image does not count (a natural, Neumann boundary at the image edge).

The solver is conjugate gradients preconditioned by one multigrid V-cycle (4-5 iterations reach
1e-4 of the data's range), in two engines sharing the design:

* compact holes (at least DENSE_FILL of their bounding box) are solved on that box with dense torch
  tensors split into parity subgrids, so that a red-black sweep is a few fused strided operations;
* sparse holes (thin scratches over a whole scan) by an engine that stores only the hole's pixels
  as flat lists with precomputed neighbour indices, so its cost follows the pixels, not the box.

Choices, each measured against the alternatives (a 1-megapixel hole in a 24-megapixel photo):

* Cell-centred coarsening: a coarse cell is active when any of its 2x2 children is. Its operator is
  a finite-volume 5-point stencil on the *agglomerate* of its hole pixels: couplings are
  (fine edges shared) / (distance between the agglomerates' centroids) and each Dirichlet edge
  pulls with 1 / (distance from the centroid to the known pixel). In open regions this is the
  ordinary Laplacian of the doubled grid; at the hole's edge it keeps the true geometry, where
  plain re-discretisation (a partly filled coarse cell treated as all hole) made cycles diverge,
  halved Galerkin products converged slowly and Petrov-Galerkin 9-point products degraded with
  depth. The stencils are symmetric, so every level is SPD.
* Red-black Gauss-Seidel smoothing (two sweeps), cell-centred bilinear prolongation P and
  restriction P^T, symmetric V-cycle: an SPD preconditioner, so plain CG applies and converges.
* float32 unknowns: iteration stops when the estimated remaining error is below the tolerance,
  far above float32 rounding (6e-8 relative) and far below one 8-bit level; halving the memory
  traffic against float64 is what makes the solver fast. A direct factorisation of 1M unknowns
  (scipy's SuperLU) takes seconds, which is why there is a multigrid at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from restorer.core.errors import RestorerError

__all__ = ["poisson_blend", "solve_laplace"]

#: Relative accuracy the solver iterates to (of the larger of the boundary data's range and the answer's).
DEFAULT_TOL = 1e-4
#: A level with at most this many cells is solved by a sparse LU factorisation instead of being coarsened.
DIRECT_LIMIT = 2000
#: Red-black sweeps before and after the coarse-grid correction.
SWEEPS = 2
_MAX_ITERATIONS = 100
_MIN_DISTANCE = 0.5  # fine pixels: keeps finite-volume couplings bounded for oddly shaped agglomerates

# (dy, dx) of the four neighbours, in the order every table stores them: up, down, left, right.
_STEPS = ((-1, 0), (1, 0), (0, -1), (0, 1))
_UP, _DOWN, _LEFT, _RIGHT = range(4)


# --- the cell-list engine: levels ----------------------------------------------------------------


@dataclass
class _Colour:
    """The cells of one colour of a level: the red cells' neighbours are all black and vice versa."""

    neighbours: np.ndarray  # (4, n) intp into the other colour's values; no neighbour -> its zero slot
    weights: np.ndarray | None  # (4, n) float32 couplings; None on the finest level, where all are 1
    diag: np.ndarray  # (n,) float32
    inverse: np.ndarray  # (n,) float32
    prolong: np.ndarray | None = None  # (4, n) intp into the coarser level's [red, black, 0] values

    @property
    def size(self) -> int:
        return self.diag.size


@dataclass
class _Level:
    red: _Colour
    black: _Colour
    # P^T on the coarser level's cells ([red, black] order): its 8 red contributors and their weights.
    restrict: np.ndarray | None = None  # (8, n_coarse) intp into this level's red values (zero slot = n_red)
    restrict_weights: np.ndarray | None = None  # (8, n_coarse) float32
    direct: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return self.red.size + self.black.size


@dataclass
class _Cells:
    """The active cells of a level in increasing flat order, with a position lookup."""

    flat: np.ndarray
    height: int
    width: int

    def __post_init__(self) -> None:
        self.ys, self.xs = np.divmod(self.flat, self.width)
        self.red = ((self.ys + self.xs) & 1) == 0
        self.n_red = int(np.count_nonzero(self.red))
        # Index of each cell within its colour, and where each colour's zero slot is.
        self.in_colour = np.empty(self.flat.size, np.intp)
        self.in_colour[self.red] = np.arange(self.n_red)
        self.in_colour[~self.red] = np.arange(self.flat.size - self.n_red)
        # Flat order -> [red, black] order, with a last entry (what index -1 reads) for the zero slot.
        self._combined = np.append(self.in_colour + np.where(self.red, 0, self.n_red), self.flat.size)
        # A dense int32 image over the bounding box plus a two-cell frame: 1 + the cell's flat-order
        # index, 0 for none. np.zeros maps pages lazily, so cells spread over a large image stay cheap.
        self._y0 = int(self.ys.min()) - 2
        self._x0 = int(self.xs.min()) - 2
        self._stride = int(self.xs.max()) - self._x0 + 3
        self._image = np.zeros((int(self.ys.max()) - self._y0 + 3) * self._stride, np.int32)
        self._image[self._local(self.ys, self.xs)] = np.arange(1, self.flat.size + 1, dtype=np.int32)

    def _local(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        return (ys - self._y0) * self._stride + (xs - self._x0)

    def find(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Flat-order index of the cell at each (y, x) within two cells of the bounding box, else -1."""
        return self._image.take(self._local(ys, xs)).astype(np.intp) - 1

    def colour_index(self, index: np.ndarray) -> np.ndarray:
        """Flat-order indices -> index within the cell's own colour, -1 kept for none."""
        found = index >= 0
        return np.where(found, self.in_colour.take(np.where(found, index, 0)), -1)

    def combined_index(self, index: np.ndarray) -> np.ndarray:
        """Flat-order indices (-1 for none) -> index into [red values, black values, 0]."""
        return self._combined.take(index)  # index -1 takes the appended zero slot


@dataclass
class _Geometry:
    """Finite-volume description of each cell's agglomerate of hole pixels (float32).

    ``data`` rows: 0 hole pixels in the agglomerate, 1 and 2 the sums of their rows and columns,
    3-6 fine edges shared with the neighbour up, down, left, right, 7-10 fine edges to known pixels
    per direction, 11-14 the sums of those known pixels' coordinates along the edge's axis. The
    arrays are laid out like the cells they describe (and may carry a zero slot at the end).
    """

    data: np.ndarray

    @property
    def count(self) -> np.ndarray:
        return self.data[0]

    @property
    def y_sum(self) -> np.ndarray:
        return self.data[1]

    @property
    def x_sum(self) -> np.ndarray:
        return self.data[2]

    @property
    def faces(self) -> np.ndarray:
        return self.data[3:7]

    @property
    def dirichlet(self) -> np.ndarray:
        return self.data[7:11]

    @property
    def dirichlet_at(self) -> np.ndarray:
        return self.data[11:15]


def _coarse_faces(f: np.ndarray) -> np.ndarray:
    """Dense layout, (4, H, W) faces with even sizes: those of the 2x2 agglomerates (only the
    children on a side share that side's faces with the neighbouring agglomerate)."""
    return np.stack(
        [
            f[_UP, 0::2, 0::2] + f[_UP, 0::2, 1::2],
            f[_DOWN, 1::2, 0::2] + f[_DOWN, 1::2, 1::2],
            f[_LEFT, 0::2, 0::2] + f[_LEFT, 1::2, 0::2],
            f[_RIGHT, 0::2, 1::2] + f[_RIGHT, 1::2, 1::2],
        ]
    )


def _finest_geometry(cells: _Cells, neighbours: np.ndarray) -> _Geometry:
    """Geometry of single pixels, with a zero slot; ``neighbours`` are flat-order indices or -1."""
    ys, xs = cells.ys, cells.xs
    data = np.zeros((15, ys.size + 1), np.float32)
    data[0, :-1] = 1.0
    data[1, :-1] = ys
    data[2, :-1] = xs
    for k, (dy, dx) in enumerate(_STEPS):
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < cells.height) & (nx >= 0) & (nx < cells.width)
        has = neighbours[k] >= 0
        data[3 + k, :-1] = has
        known = inside & ~has
        data[7 + k, :-1] = known
        data[11 + k, :-1] = np.where(known, ny if dy else nx, 0)
    return _Geometry(data)


def _split_colours(
    cells: _Cells, neighbours: np.ndarray, weights: np.ndarray | None, diag: np.ndarray
) -> _Level:
    colours = []
    for is_red in (True, False):
        pick = cells.red if is_red else ~cells.red
        other_zero = (cells.flat.size - cells.n_red) if is_red else cells.n_red
        table = cells.colour_index(neighbours[:, pick])
        table[table < 0] = other_zero
        d = diag[pick]
        colours.append(_Colour(table, None if weights is None else weights[:, pick], d, 1.0 / d))
    return _Level(colours[0], colours[1])


def _finest_level(cells: _Cells) -> tuple[_Level, _Geometry]:
    ys, xs = cells.ys, cells.xs
    neighbours = np.stack([cells.find(ys + dy, xs + dx) for dy, dx in _STEPS])
    geometry = _finest_geometry(cells, neighbours)
    # Unit couplings; the diagonal counts the in-image neighbours (the faces plus the known ones).
    diag = geometry.data[3:11, :-1].sum(axis=0)
    return _split_colours(cells, neighbours, None, diag), geometry


def _coarse_level(cells: _Cells, geometry: _Geometry) -> tuple[_Level, np.ndarray]:
    """The finite-volume operator of a coarse level's agglomerates, and its flat-order neighbour table."""
    ys, xs = cells.ys, cells.xs
    neighbours = np.stack([cells.find(ys + dy, xs + dx) for dy, dx in _STEPS])
    data = geometry.data[:, :-1]
    count = data[0]
    centre = (data[1] / count, data[2] / count)
    weights = np.zeros((4, ys.size), np.float32)
    pull = np.zeros(ys.size, np.float32)
    for k in range(4):
        axis = centre[0] if k < 2 else centre[1]
        has = neighbours[k] >= 0
        other = axis.take(np.where(has, neighbours[k], 0))
        distance = np.maximum(np.abs(other - axis), _MIN_DISTANCE)
        weights[k] = np.where(has, data[3 + k] / distance, 0.0)
        edges = data[7 + k]
        known_at = data[11 + k] / np.maximum(edges, 1.0)
        pull += edges / np.maximum(np.abs(known_at - axis), _MIN_DISTANCE)
    return _split_colours(cells, neighbours, weights, weights.sum(axis=0) + pull), neighbours


def _coarsen(fine: _Cells, geometry: _Geometry) -> tuple[_Cells, _Geometry, np.ndarray, np.ndarray]:
    """The next level's cells (every parent of an active cell), their agglomerates (with a zero slot),
    for every fine cell the flat-order index of its parent, and for every coarse cell its top-left
    and bottom-right (red) children as fine flat-order indices (the fine zero slot where absent)."""
    height, width = (fine.height + 1) // 2, (fine.width + 1) // 2
    parents = (fine.ys >> 1) * width + (fine.xs >> 1)
    lo = int(parents.min())
    marks = np.zeros(int(parents.max()) - lo + 1, bool)
    marks[parents - lo] = True
    coarse = _Cells(np.flatnonzero(marks) + lo, height, width)
    y2, x2 = 2 * coarse.ys, 2 * coarse.xs
    zero = fine.flat.size
    tl, tr, bl, br = (
        np.where(found >= 0, found, zero)
        for found in (
            fine.find(y2, x2),
            fine.find(y2, x2 + 1),
            fine.find(y2 + 1, x2),
            fine.find(y2 + 1, x2 + 1),
        )
    )
    d = geometry.data
    data = np.zeros((15, coarse.flat.size + 1), np.float32)
    body = data[:, :-1]
    for child in (tl, tr, bl, br):
        body += d.take(child, axis=1)
    # Only the children on a side share that side's faces with the neighbouring agglomerate.
    body[3 + _UP] = d[3 + _UP].take(tl) + d[3 + _UP].take(tr)
    body[3 + _DOWN] = d[3 + _DOWN].take(bl) + d[3 + _DOWN].take(br)
    body[3 + _LEFT] = d[3 + _LEFT].take(tl) + d[3 + _LEFT].take(bl)
    body[3 + _RIGHT] = d[3 + _RIGHT].take(tr) + d[3 + _RIGHT].take(br)
    parent = np.empty(zero + 1, np.intp)
    for child in (tl, tr, bl, br):
        parent[child] = np.arange(coarse.flat.size)
    return coarse, _Geometry(data), parent[:-1], np.stack([tl, br])


# 1-D cell-centred linear interpolation: a fine cell takes 3/4 of its parent and 1/4 of the parent's
# neighbour on its side. Seen from coarse cell Y, fine rows 2Y-1, 2Y, 2Y+1, 2Y+2 carry 1/4, 3/4, 3/4, 1/4.
_SHARE = (0.25, 0.75, 0.75, 0.25)


def _restriction_shares(coarse_pos: np.ndarray, coarse_size: int, fine_size: int) -> np.ndarray:
    """(4, n) 1-D weights of fine offsets -1, 0, 1, 2 for coarse positions, folded at the image edge.

    At the image edge a fine cell's missing outer neighbour is clamped to its parent (Neumann), so
    that 1/4 share lands on the parent instead.
    """
    shares = np.tile(np.array(_SHARE)[:, None], (1, coarse_pos.size))
    shares[1] += np.where(coarse_pos == 0, 0.25, 0.0)
    shares[2] += np.where((coarse_pos == coarse_size - 1) & (2 * coarse_pos + 1 < fine_size), 0.25, 0.0)
    return shares


def _link(
    fine_level: _Level,
    fine: _Cells,
    coarse: _Cells,
    parent: np.ndarray,
    children: np.ndarray,
    coarse_neighbours: np.ndarray,
) -> None:
    """Prolongation tables on the fine level's colours and P^T (red contributors) towards the coarse level."""
    py, px = fine.ys >> 1, fine.xs >> 1
    lower, right = (fine.ys & 1).astype(bool), (fine.xs & 1).astype(bool)
    vy = np.clip(py + 2 * lower - 1, 0, coarse.height - 1)
    hx = np.clip(px + 2 * right - 1, 0, coarse.width - 1)
    # The parent's nearer neighbours come from the coarse table; at the image edge they are the
    # parent itself (Neumann), which is what clamping the coordinates gives the diagonal one too.
    n_coarse = coarse.flat.size
    vertical = coarse_neighbours.reshape(-1).take(np.where(lower, _DOWN, _UP) * n_coarse + parent)
    vertical = np.where(vy == py, parent, vertical)
    horizontal = coarse_neighbours.reshape(-1).take(np.where(right, _RIGHT, _LEFT) * n_coarse + parent)
    horizontal = np.where(hx == px, parent, horizontal)
    diagonal = coarse.find(vy, hx)
    for colour, pick in ((fine_level.red, fine.red), (fine_level.black, ~fine.red)):
        colour.prolong = np.stack(
            [coarse.combined_index(i[pick]) for i in (parent, vertical, horizontal, diagonal)]
        )

    # P^T gathers, for each coarse cell, the 8 red fine cells whose interpolation uses it: the
    # top-left and bottom-right children of itself and of its neighbours, at these offsets:
    order = np.concatenate([np.flatnonzero(coarse.red), np.flatnonzero(~coarse.red)])
    cy, cx = coarse.ys[order], coarse.xs[order]
    up, down, left, right = (np.append(coarse_neighbours[k], -1)[order] for k in range(4))
    n_coarse = coarse.flat.size

    def hop(cell: np.ndarray, k: int) -> np.ndarray:
        return np.where(
            cell >= 0, np.append(coarse_neighbours[k], -1).take(np.where(cell >= 0, cell, n_coarse)), -1
        )

    def diagonal(
        first: np.ndarray, k_then: int, second: np.ndarray, k_else: int, dy: int, dx: int
    ) -> np.ndarray:
        via = np.where(first >= 0, hop(first, k_then), hop(second, k_else))
        missing = (first < 0) & (second < 0)
        if missing.any():  # reachable only diagonally: look it up
            ny, nx = cy[missing] + dy, cx[missing] + dx
            inside = (ny >= 0) & (ny < coarse.height) & (nx >= 0) & (nx < coarse.width)
            via[missing] = np.where(inside, coarse.find(np.clip(ny, 0, None), np.clip(nx, 0, None)), -1)
        return via

    tl, br = (np.append(c, fine.flat.size) for c in children)  # the fine zero slot for a missing cell
    sources = (
        ((-1, -1), br, diagonal(up, _LEFT, left, _UP, -1, -1)),
        ((-1, 1), br, up),
        ((0, 0), tl, order),
        ((0, 2), tl, right),
        ((1, -1), br, left),
        ((1, 1), br, order),
        ((2, 0), tl, down),
        ((2, 2), tl, diagonal(down, _RIGHT, right, _DOWN, 1, 1)),
    )
    wy = _restriction_shares(cy, coarse.height, fine.height)
    wx = _restriction_shares(cx, coarse.width, fine.width)
    in_colour = np.append(fine.in_colour, fine.n_red)
    indices, weights = [], []
    for (oy, ox), child, cell in sources:
        indices.append(in_colour.take(child.take(np.where(cell >= 0, cell, n_coarse))))
        weights.append((wy[oy + 1] * wx[ox + 1]).astype(np.float32))
    fine_level.restrict = np.stack(indices)
    fine_level.restrict_weights = np.stack(weights)


def _direct_solver(level: _Level) -> Callable[[np.ndarray], np.ndarray]:
    """Factorise the level's operator once; the function solves for (C, n_red + n_black) right-hand sides."""
    n_red, n = level.red.size, level.size
    rows, cols = [np.arange(n)], [np.arange(n)]
    vals = [np.concatenate([level.red.diag, level.black.diag]).astype(np.float64)]
    for colour, offset, other_offset in ((level.red, 0, n_red), (level.black, n_red, 0)):
        ones = np.ones(colour.neighbours.shape, np.float32)
        weights = ones if colour.weights is None else colour.weights
        real = colour.neighbours < (n - n_red if offset == 0 else n_red)
        r, k = np.nonzero(real.T)
        rows.append(r + offset)
        cols.append(colour.neighbours.T[r, k] + other_offset)
        vals.append(-weights.T[r, k].astype(np.float64))
    matrix = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    factor = spla.splu(matrix)
    return lambda rhs: factor.solve(np.ascontiguousarray(rhs.T, dtype=np.float64)).T.astype(np.float32)


def _hierarchy(flat: np.ndarray, height: int, width: int, direct_limit: int) -> list[_Level]:
    cells = _Cells(flat, height, width)
    level, geometry = _finest_level(cells)
    levels = [level]
    while level.size > direct_limit and (cells.height > 1 or cells.width > 1):
        coarse, geometry, parent, children = _coarsen(cells, geometry)
        coarse_level, coarse_neighbours = _coarse_level(coarse, geometry)
        _link(level, cells, coarse, parent, children, coarse_neighbours)
        levels.append(coarse_level)
        level, cells = coarse_level, coarse
    levels[-1].direct = _direct_solver(levels[-1])
    return levels


# --- the cell-list engine: V-cycle preconditioner ------------------------------------------------


def _neighbour_sum(colour: _Colour, other: np.ndarray, out: np.ndarray, scratch: np.ndarray) -> None:
    """out = sum over k of weight_k * (value of neighbour k), for every cell of ``colour``.

    ``other`` holds the other colour's values with a zero slot. mode="clip" skips numpy's buffered
    (slow) path for ``out``; it never clips since every index is valid.
    """
    for k in range(4):
        target = out if k == 0 else scratch
        np.take(other, colour.neighbours[k], axis=1, out=target, mode="clip")
        if colour.weights is not None:
            target *= colour.weights[k]
        if k:
            out += scratch


def _relax(
    colour: _Colour, mine: np.ndarray, other: np.ndarray, rhs: np.ndarray, scratch: np.ndarray
) -> None:
    """Gauss-Seidel on one colour, in place: x_p = (rhs_p + weighted sum of neighbours) / diag_p."""
    values = mine[:, :-1]
    _neighbour_sum(colour, other, values, scratch)
    values += rhs
    values *= colour.inverse


@dataclass
class _Work:
    """One level's arrays for a solve: values with a zero slot, right-hand sides, scratch."""

    red: np.ndarray
    black: np.ndarray
    rhs: np.ndarray  # (C, n_red + n_black)
    residual: np.ndarray  # (C, n_red + 1)
    scratch_red: np.ndarray
    scratch_black: np.ndarray

    @classmethod
    def empty(cls, level: _Level, channels: int) -> _Work:
        nr, nb = level.red.size, level.black.size
        return cls(
            np.zeros((channels, nr + 1), np.float32),
            np.zeros((channels, nb + 1), np.float32),
            np.zeros((channels, nr + nb), np.float32),
            np.zeros((channels, nr + 1), np.float32),
            np.empty((channels, nr), np.float32),
            np.empty((channels, nb), np.float32),
        )


def _v_cycle(levels: list[_Level], work: list[_Work], depth: int, red: np.ndarray, black: np.ndarray) -> None:
    """red, black (with zero slots) = M^-1 rhs for rhs = work[depth].rhs: one symmetric V-cycle from zero."""
    level, w = levels[depth], work[depth]
    nr = level.red.size
    rhs_red, rhs_black = w.rhs[:, :nr], w.rhs[:, nr:]
    if level.direct is not None:
        solution = level.direct(w.rhs)
        red[:, :-1] = solution[:, :nr]
        black[:, :-1] = solution[:, nr:]
        return
    for sweep in range(SWEEPS):
        if sweep == 0:  # from zero, the first red sweep sees no neighbours
            np.multiply(rhs_red, level.red.inverse, out=red[:, :-1])
        else:
            _relax(level.red, red, black, rhs_red, w.scratch_red)
        _relax(level.black, black, red, rhs_black, w.scratch_black)
    # After a black sweep the black residual is zero: only red cells carry one to the coarse grid.
    r = w.residual[:, :-1]
    _neighbour_sum(level.red, black, r, w.scratch_red)
    r += rhs_red
    np.multiply(red[:, :-1], level.red.diag, out=w.scratch_red)
    r -= w.scratch_red

    coarse = work[depth + 1]
    np.take(w.residual, level.restrict[0], axis=1, out=coarse.rhs, mode="clip")
    coarse.rhs *= level.restrict_weights[0]
    for k in range(1, 8):
        coarse.rhs += w.residual.take(level.restrict[k], axis=1, mode="clip") * level.restrict_weights[k]
    _v_cycle(levels, work, depth + 1, coarse.red, coarse.black)

    correction = np.concatenate([coarse.red[:, :-1], coarse.black], axis=1)  # black keeps its zero slot
    for colour, mine in ((level.red, red), (level.black, black)):
        table = colour.prolong
        near = correction.take(table[0], axis=1, mode="clip")
        near *= 9.0
        side = correction.take(table[1], axis=1, mode="clip")
        side += correction.take(table[2], axis=1, mode="clip")
        side *= 3.0
        near += side
        near += correction.take(table[3], axis=1, mode="clip")
        near *= 1.0 / 16.0
        mine[:, :-1] += near
    for _ in range(SWEEPS):  # the mirror image of the pre-smoothing keeps the cycle symmetric
        _relax(level.black, black, red, rhs_black, w.scratch_black)
        _relax(level.red, red, black, rhs_red, w.scratch_red)


def _apply(level: _Level, red: np.ndarray, black: np.ndarray, out: np.ndarray, scratch: np.ndarray) -> None:
    """out (C, n_red + 1 + n_black + 1, zero slots kept) = A x for x given as red and black values."""
    nr = level.red.size
    for colour, mine, other, part in (
        (level.red, red, black, out[:, :nr]),
        (level.black, black, red, out[:, nr + 1 : -1]),
    ):
        s = scratch[:, : colour.size]
        _neighbour_sum(colour, other, s, part)  # part is scratch here, overwritten next
        np.multiply(mine[:, :-1], colour.diag, out=part)
        part -= s


# --- the dense engine: compact holes on their bounding box --------------------------------------
#
# A hole that fills a good part of its bounding box is solved on that box with dense tensors, each
# level split into its four parity subgrids (row parity a, column parity b) stored with a one-cell
# zero frame, so that every neighbour of a subgrid is a shifted view of another subgrid: red-black
# Gauss-Seidel is then a handful of fused torch operations per subgrid (numpy's strided loops are
# about four times slower here). Cells outside the hole carry value 0 and inverse diagonal 0.

_SUBGRIDS = ((0, 0), (1, 1), (0, 1), (1, 0))  # red first: (y + x) is even for (0, 0) and (1, 1)


def _neighbour_views(x: torch.Tensor, a: int, b: int) -> tuple[torch.Tensor, ...]:
    """Views of the up, down, left and right neighbours of every cell of subgrid (a, b).

    ``x`` is (C, 2, 2, h + 2, w + 2) with a zero frame; the cell (i, j) of subgrid (a, b) is the
    pixel (2i + a, 2j + b) and sits at [i + 1, j + 1].
    """
    up = x[:, 1, b, :-2, 1:-1] if a == 0 else x[:, 0, b, 1:-1, 1:-1]
    down = x[:, 1, b, 1:-1, 1:-1] if a == 0 else x[:, 0, b, 2:, 1:-1]
    left = x[:, a, 1, 1:-1, :-2] if b == 0 else x[:, a, 0, 1:-1, 1:-1]
    right = x[:, a, 1, 1:-1, 1:-1] if b == 0 else x[:, a, 0, 1:-1, 2:]
    return up, down, left, right


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
        distance = np.maximum(np.abs(_shift(axis, dy, dx) - axis), _MIN_DISTANCE)
        weights[k] = g.faces[k] / distance
        known_at = g.dirichlet_at[k] / np.maximum(g.dirichlet[k], 1.0)
        pull += g.dirichlet[k] / np.maximum(np.abs(known_at - axis), _MIN_DISTANCE)
    return weights, weights.sum(axis=0) + pull


def _dense_direct(weights: np.ndarray, diag: np.ndarray, active: np.ndarray) -> tuple[Callable, np.ndarray]:
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
    n = cells.size
    matrix = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    factor = spla.splu(matrix)
    return lambda rhs: factor.solve(np.ascontiguousarray(rhs.T, dtype=np.float64)).T.astype(np.float32), cells


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


def _prolong_pad(
    coarse: torch.Tensor, level: _DenseLevel, size: tuple[int, int], sides: tuple[bool, ...]
) -> torch.Tensor:
    """(C, h + 2, w + 2) frame around the first ``size`` rows/columns of a coarse natural array.

    On sides that are the image's edge the frame (and any phantom row or column) repeats the last
    real cell, which is how bilinear interpolation honours the Neumann boundary; elsewhere it is 0.
    """
    h, w = size
    hr, wr = min(level.height, h), min(level.width, w)
    top, bottom, left, right = sides
    out = coarse.new_zeros((coarse.shape[0], h + 2, w + 2))
    out[:, 1 : hr + 1, 1 : wr + 1] = coarse[:, :hr, :wr]
    if top:
        out[:, 0] = out[:, 1]
    if bottom:
        out[:, hr + 1 :] = out[:, hr : hr + 1]
    if left:
        out[:, :, 0] = out[:, :, 1]
    if right:
        out[:, :, wr + 1 :] = out[:, :, wr : wr + 1]
    return out


def _fold_pad(framed: torch.Tensor, level: _DenseLevel, sides: tuple[bool, ...]) -> torch.Tensor:
    """The adjoint of _prolong_pad: fold the frame back onto the real cells; returns (C, h, w)."""
    h, w = framed.shape[1] - 2, framed.shape[2] - 2
    hr, wr = min(level.height, h), min(level.width, w)
    top, bottom, left, right = sides
    if right:
        framed[:, :, wr] += framed[:, :, wr + 1 :].sum(dim=2)
    if left:
        framed[:, :, 1] += framed[:, :, 0]
    if bottom:
        framed[:, hr] += framed[:, hr + 1 :].sum(dim=1)
    if top:
        framed[:, 1] += framed[:, 0]
    out = framed[:, 1 : h + 1, 1 : w + 1].clone()
    out[:, hr:] = 0.0
    out[:, :, wr:] = 0.0
    return out


def _prolong_add(fine: torch.Tensor, framed: torch.Tensor, active: torch.Tensor) -> None:
    """fine subgrids += cell-centred bilinear interpolation of the framed coarse values, on active cells."""
    mid = framed[:, 1:-1]
    for a, side in ((0, framed[:, :-2]), (1, framed[:, 2:])):
        rows = torch.lerp(mid, side, 0.25)  # 3/4 parent row + 1/4 the nearer neighbouring row
        centre = rows[:, :, 1:-1]
        for b, near in ((0, rows[:, :, :-2]), (1, rows[:, :, 2:])):
            fine[:, a, b, 1:-1, 1:-1].addcmul_(torch.lerp(centre, near, 0.25), active[a, b])


def _restrict(
    residual_red: torch.Tensor, level: _DenseLevel, coarse: _DenseLevel, sides: tuple[bool, ...]
) -> torch.Tensor:
    """P^T of a residual that lives on the red subgrids (0, 0) and (1, 1); returns coarse (C, h, w)."""
    r00, r11 = residual_red[:, 0], residual_red[:, 1]
    c, h, w = r00.shape
    rows_top = r00.new_zeros((c, h, w + 2))
    rows_top[:, :, 1:-1] += 0.75 * r00
    rows_top[:, :, :-2] += 0.25 * r00
    rows_bottom = r00.new_zeros((c, h, w + 2))
    rows_bottom[:, :, 1:-1] += 0.75 * r11
    rows_bottom[:, :, 2:] += 0.25 * r11
    framed = r00.new_zeros((c, h + 2, w + 2))
    framed[:, 1:-1] += 0.75 * (rows_top + rows_bottom)
    framed[:, :-2] += 0.25 * rows_top
    framed[:, 2:] += 0.25 * rows_bottom
    return _fold_pad(framed, coarse, sides)


def _natural(x: torch.Tensor) -> torch.Tensor:
    """(C, 2, 2, h + 2, w + 2) framed subgrids -> (C, 2h, 2w)."""
    inner = x[:, :, :, 1:-1, 1:-1]
    c, _, _, h, w = inner.shape
    return inner.permute(0, 3, 1, 4, 2).reshape(c, 2 * h, 2 * w)


def _fill_subgrids(out: torch.Tensor, natural: torch.Tensor) -> None:
    """out (C, 2, 2, h, w) = natural (C, H, W) split into subgrids, zero beyond ``natural``."""
    c, _, _, h, w = out.shape
    padded = natural.new_zeros((c, 2 * h, 2 * w))
    padded[:, : natural.shape[1], : natural.shape[2]] = natural[:, : 2 * h, : 2 * w]
    out.copy_(padded.view(c, h, 2, w, 2).permute(0, 2, 4, 1, 3))


def _dense_relax(level: _DenseLevel, x: torch.Tensor, rhs: torch.Tensor, a: int, b: int) -> None:
    out = x[:, a, b, 1:-1, 1:-1]
    up, down, left, right = _neighbour_views(x, a, b)
    if level.weights is None:
        torch.add(up, down, out=out)
        out.add_(left).add_(right)
    else:
        w = level.weights
        torch.mul(up, w[_UP, a, b], out=out)
        out.addcmul_(down, w[_DOWN, a, b]).addcmul_(left, w[_LEFT, a, b]).addcmul_(right, w[_RIGHT, a, b])
    out.add_(rhs[:, a, b]).mul_(level.inverse[a, b])


def _dense_v_cycle(
    levels: list[_DenseLevel], depth: int, rhs: torch.Tensor, x: torch.Tensor, sides: tuple[bool, ...]
) -> None:
    """x (C, 2, 2, h + 2, w + 2) = M^-1 rhs (C, 2, 2, h, w): one symmetric V-cycle from zero."""
    level = levels[depth]
    x.zero_()
    if level.direct is not None:
        natural = rhs.permute(0, 3, 1, 4, 2).reshape(rhs.shape[0], -1)
        solution = natural.new_zeros(natural.shape)
        solution[:, level.cells] = torch.from_numpy(level.direct(natural[:, level.cells].numpy()))
        c, _, _, h, w = rhs.shape
        x[:, :, :, 1:-1, 1:-1] = solution.view(c, h, 2, w, 2).permute(0, 2, 4, 1, 3)
        return
    for sweep in range(SWEEPS):
        for a, b in _SUBGRIDS[:2]:
            if sweep == 0:  # from zero, the first red sweep sees no neighbours
                torch.mul(rhs[:, a, b], level.inverse[a, b], out=x[:, a, b, 1:-1, 1:-1])
            else:
                _dense_relax(level, x, rhs, a, b)
        for a, b in _SUBGRIDS[2:]:
            _dense_relax(level, x, rhs, a, b)
    # After a black sweep the black residual is zero: only the red subgrids carry one.
    residual = rhs.new_empty((rhs.shape[0], 2, *rhs.shape[3:]))
    for i, (a, b) in enumerate(_SUBGRIDS[:2]):
        out = residual[:, i]
        up, down, left, right = _neighbour_views(x, a, b)
        if level.weights is None:
            torch.add(up, down, out=out)
            out.add_(left).add_(right)
        else:
            w = level.weights
            torch.mul(up, w[_UP, a, b], out=out)
            out.addcmul_(down, w[_DOWN, a, b]).addcmul_(left, w[_LEFT, a, b]).addcmul_(right, w[_RIGHT, a, b])
        out.add_(rhs[:, a, b]).addcmul_(x[:, a, b, 1:-1, 1:-1], level.diag[a, b], value=-1.0)
        out.mul_(level.active[a, b])
    coarse = levels[depth + 1]
    coarse_rhs_natural = _restrict(residual, level, coarse, sides)
    ch, cw = coarse.subgrid_shape
    coarse_rhs = rhs.new_empty((rhs.shape[0], 2, 2, ch, cw))
    _fill_subgrids(coarse_rhs, coarse_rhs_natural)
    coarse_x = rhs.new_empty((rhs.shape[0], 2, 2, ch + 2, cw + 2))
    _dense_v_cycle(levels, depth + 1, coarse_rhs, coarse_x, sides)
    framed = _prolong_pad(_natural(coarse_x), coarse, rhs.shape[3:], sides)
    _prolong_add(x, framed, level.active)
    for _ in range(SWEEPS):  # the mirror image of the pre-smoothing keeps the cycle symmetric
        for a, b in _SUBGRIDS[2:] + _SUBGRIDS[:2]:
            _dense_relax(level, x, rhs, a, b)


def _dense_apply(level: _DenseLevel, p: torch.Tensor, out: torch.Tensor) -> None:
    """out = A p on the finest level, 0 off the hole; both (C, 2, 2, h + 2, w + 2) with zero frames."""
    for a, b in _SUBGRIDS:
        o = out[:, a, b, 1:-1, 1:-1]
        up, down, left, right = _neighbour_views(p, a, b)
        torch.add(up, down, out=o)
        o.add_(left).add_(right).neg_()
        o.addcmul_(p[:, a, b, 1:-1, 1:-1], level.diag[a, b]).mul_(level.active[a, b])


def _channel_dots(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Per-channel inner products of two contiguous (C, ...) tensors."""
    return np.array([float(torch.dot(a[c].view(-1), b[c].view(-1))) for c in range(a.shape[0])])


def _channel_max_abs(a: torch.Tensor) -> np.ndarray:
    flat = a.view(a.shape[0], -1)  # amax and amin each beat one aminmax along a dimension, oddly
    return torch.maximum(flat.amax(dim=1), -flat.amin(dim=1)).numpy().astype(np.float64)


def _per_channel(values: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(values.astype(np.float32)).view(-1, 1, 1, 1, 1)


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch single-threaded for the duration.

    The solver's operations are memory-bound: extra threads buy little, and on a busy machine
    torch's spinning worker threads made solves up to 30 times slower. Switching costs microseconds.
    """
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _dense_solve(
    hole: np.ndarray, rhs: np.ndarray, sides: tuple[bool, ...], tol: float, scale: float, direct_limit: int
) -> tuple[np.ndarray, int]:
    with _one_thread():
        return _dense_solve_threaded(hole, rhs, sides, tol, scale, direct_limit)


def _dense_solve_threaded(
    hole: np.ndarray, rhs: np.ndarray, sides: tuple[bool, ...], tol: float, scale: float, direct_limit: int
) -> tuple[np.ndarray, int]:
    """Solve on a crop: ``hole`` (h, w), ``rhs`` (C, h, w) float32; returns (C, h, w) and the iterations.

    Conjugate gradients preconditioned by the V-cycle; every vector is framed subgrids whose frame
    stays zero, so inner products run over contiguous memory.
    """
    levels = _dense_hierarchy(hole, direct_limit)
    top = levels[0]
    channels = rhs.shape[0]
    hs, ws = top.subgrid_shape

    def framed() -> torch.Tensor:
        return torch.zeros((channels, 2, 2, hs + 2, ws + 2))

    x, r, z, p, ap = framed(), framed(), framed(), framed(), framed()
    natural = np.zeros((channels, 2 * hs, 2 * ws), np.float32)
    natural[:, : hole.shape[0], : hole.shape[1]] = rhs
    r[:, :, :, 1:-1, 1:-1] = torch.from_numpy(_to_subgrids(natural))
    r_inner = r[:, :, :, 1:-1, 1:-1]
    rz_old = np.ones(channels)
    previous_change = None
    iterations = 0
    for iterations in range(1, _MAX_ITERATIONS + 1):
        _dense_v_cycle(levels, 0, r_inner, z, sides)
        rz = _channel_dots(r, z)
        if iterations == 1:
            p.copy_(z)
        else:
            torch.addcmul(z, p, _per_channel(rz / np.where(rz_old == 0.0, 1.0, rz_old)), out=p)
        _dense_apply(top, p, ap)
        pap = _channel_dots(p, ap)
        alpha = np.where(pap > 0.0, rz / np.where(pap > 0.0, pap, 1.0), 0.0)
        alpha_t = _per_channel(alpha)
        x.addcmul_(p, alpha_t)
        r.addcmul_(ap, alpha_t, value=-1.0)
        rz_old = rz
        if top.direct is not None:
            break
        change = float((_channel_max_abs(p) * np.abs(alpha)).max())
        if _converged(change, previous_change, tol * max(scale, float(_channel_max_abs(x).max()))):
            break
        previous_change = change
    solution = _natural(x).numpy()[:, : hole.shape[0], : hole.shape[1]]
    return np.ascontiguousarray(solution), iterations


def _converged(change: float, previous_change: float | None, tolerance: float) -> bool:
    """Whether the remaining error, estimated from the last step and how fast steps shrink, is small."""
    if change <= tolerance * 1e-2:
        return True
    if previous_change is None:
        return False
    rate = min(change / previous_change, 0.9)
    # What is left of a geometric sequence of steps: change * rate / (1 - rate).
    return change * rate / (1.0 - rate) <= tolerance


# --- the cell-list engine: conjugate gradients ---------------------------------------------------


@dataclass
class _Problem:
    """A Laplace problem on the hole's pixels, in the hole's row-major order."""

    flat: np.ndarray  # (n,) flat pixel indices of the hole, increasing
    height: int
    width: int
    rhs: np.ndarray  # (C, n) float32: known neighbours' values summed, minus the Laplacian's target
    boundary_range: float  # peak-to-peak of the known values the hole touches


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


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-channel inner products, accumulated in float64."""
    return np.multiply(a, b).sum(axis=1, dtype=np.float64)


def _solve_cells(
    problem: _Problem, tol: float = DEFAULT_TOL, direct_limit: int | None = None
) -> tuple[np.ndarray, int]:
    """Solve; return the (C, n) values of the hole cells in row-major order and the iterations used."""
    limit = DIRECT_LIMIT if direct_limit is None else direct_limit
    levels = _hierarchy(problem.flat, problem.height, problem.width, limit)
    top = levels[0]
    nr = top.red.size
    channels = problem.rhs.shape[0]
    ys, xs = np.divmod(problem.flat, problem.width)
    red = ((ys + xs) & 1) == 0
    work = [_Work.empty(level, channels) for level in levels]

    # Vectors hold [red values, 0, black values, 0]: the zero slots make neighbour gathers branch-free.
    def vector() -> np.ndarray:
        return np.zeros((channels, top.size + 2), np.float32)

    x, r, z, p, ap = vector(), vector(), vector(), vector(), vector()
    r[:, :nr] = problem.rhs[:, red]
    r[:, nr + 1 : -1] = problem.rhs[:, ~red]
    scratch = np.empty((channels, max(nr, top.black.size)), np.float32)
    rz_old = np.ones(channels)
    previous_change = None
    iterations = 0
    for iterations in range(1, _MAX_ITERATIONS + 1):
        work[0].rhs[:, :nr] = r[:, :nr]
        work[0].rhs[:, nr:] = r[:, nr + 1 : -1]
        _v_cycle(levels, work, 0, z[:, : nr + 1], z[:, nr + 1 :])
        rz = _dot(r, z)
        if iterations == 1:
            p[:] = z
        else:
            p *= (rz / np.where(rz_old == 0.0, 1.0, rz_old)).astype(np.float32)[:, None]
            p += z
        _apply(top, p[:, : nr + 1], p[:, nr + 1 :], ap, scratch)
        pap = _dot(p, ap)
        alpha = np.where(pap > 0.0, rz / np.where(pap > 0.0, pap, 1.0), 0.0).astype(np.float32)[:, None]
        step = alpha * p
        x += step
        ap *= alpha
        r -= ap
        rz_old = rz
        if top.direct is not None:
            break
        change = float(np.abs(step).max())
        if _converged(change, previous_change, tol * max(problem.boundary_range, float(np.abs(x).max()))):
            break
        previous_change = change
    out = np.empty((channels, problem.flat.size), np.float32)
    out[:, red] = x[:, :nr]
    out[:, ~red] = x[:, nr + 1 : -1]
    return out, iterations


# --- public API ---------------------------------------------------------------------------------

_INTEGER_TOPS = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def _as_hwc(pixels: object, name: str) -> np.ndarray:
    if not isinstance(pixels, np.ndarray) or pixels.ndim not in (2, 3) or 0 in pixels.shape:
        shape = getattr(pixels, "shape", None)
        raise RestorerError(f"{name} must be an (height, width, channels) array, got shape {shape}")
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


def check_pixels(pixels: object, name: str = "image") -> np.ndarray:
    """The (H, W, C) view of uint8/uint16/float pixels, or RestorerError."""
    arr = _as_hwc(pixels, name)
    if arr.dtype not in _INTEGER_TOPS and arr.dtype.kind != "f":
        raise RestorerError(f"{name} must be uint8, uint16 or float, not {arr.dtype}")
    return arr


def check_hole(hole: object, shape: tuple[int, ...]) -> np.ndarray:
    """The bool (H, W) hole mask matching ``shape``, or RestorerError."""
    if not isinstance(hole, np.ndarray) or hole.dtype != np.bool_:
        raise RestorerError(
            f"the hole mask must be a bool array, got {getattr(hole, 'dtype', type(hole).__name__)}"
        )
    if hole.shape != tuple(shape[:2]):
        raise RestorerError(
            f"the hole mask is {hole.shape[1]}x{hole.shape[0]} but the image is {shape[1]}x{shape[0]}"
        )
    return hole


def tolerance_for(dtype: np.dtype) -> float:
    """Solver tolerance for results stored as ``dtype``: 8-bit output is rounded to 1/255 levels, so
    5e-4 (an eighth of a level, half the 1e-3 the blend promises) is plenty; others get DEFAULT_TOL."""
    return 5e-4 if np.dtype(dtype) == np.uint8 else DEFAULT_TOL


def value_scale(dtype: np.dtype) -> float:
    """What 1.0 of the float working scale is in ``dtype`` units (1 for float pixels)."""
    return _INTEGER_TOPS.get(np.dtype(dtype), 1.0)


def gather(pixels: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """(C, n) values of a C-contiguous (H, W, C) array at flat pixel indices ``flat``."""
    channels = pixels.shape[2]
    raveled = pixels.reshape(-1)
    base = flat * channels
    return np.stack([raveled.take(base + c) for c in range(channels)])


def scatter(out: np.ndarray, flat: np.ndarray, values: np.ndarray) -> None:
    """Write (C, n) ``values`` (already of out's dtype) into a C-contiguous (H, W, C) array at ``flat``."""
    channels = out.shape[2]
    raveled = out.reshape(-1)
    base = flat * channels
    for c in range(channels):
        raveled.put(base + c, values[c])


def to_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float values in the working scale -> ``dtype``: rounded and clipped for integers, cast for floats."""
    top = _INTEGER_TOPS.get(np.dtype(dtype))
    if top is None:
        return values.astype(dtype)
    scaled = np.multiply(values, np.float32(top), dtype=np.float32)
    np.rint(scaled, out=scaled)
    np.clip(scaled, 0.0, top, out=scaled)
    return scaled.astype(dtype)


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


@dataclass
class KnownValues:
    """The known values a hole is filled from: pixels in the float working scale, minus a guide if any."""

    pixels: np.ndarray  # (H, W, C), C-contiguous
    scale: float  # float working value of one pixel unit (1 / 255 for uint8, 1 for float pixels)
    guide: np.ndarray | None = None  # (H, W, C) float, C-contiguous

    def at(self, flat: np.ndarray) -> np.ndarray:
        """(C, m) float32 at flat pixel indices."""
        values = gather(self.pixels, flat).astype(np.float32) * np.float32(self.scale)
        if self.guide is not None:
            values -= gather(self.guide, flat)
        return values


#: A hole filling at least this fraction of its bounding box is solved on the box with dense tensors;
#: sparser holes (scratches over a whole scan) by the engine that stores only the hole's pixels.
DENSE_FILL = 0.2


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
    if cells.size < DENSE_FILL * crop.size:
        problem = harmonic_problem(known.at, hole, channels)
        if target_laplacian is not None:
            problem.rhs -= gather(target_laplacian, problem.flat)
        solution, _ = _solve_cells(problem, tol)
        return problem.flat, solution

    rhs, boundary_range = _dense_rhs(crop, known, y0, x0, width)
    if target_laplacian is not None:
        window = target_laplacian[y0:y1, x0:x1].transpose(2, 0, 1)
        rhs -= np.where(crop, window, 0.0).astype(np.float32)
    sides = (y0 == 0, y1 == height, x0 == 0, x1 == width)
    solution, _ = _dense_solve(crop, rhs, sides, tol, boundary_range, DIRECT_LIMIT)
    ys, xs = np.divmod(cells, crop.shape[1])
    return (ys + y0) * width + (xs + x0), solution.reshape(channels, -1)[:, cells]


def solve_laplace(
    values: np.ndarray, hole: np.ndarray, rhs: np.ndarray | None = None, tol: float = DEFAULT_TOL
) -> np.ndarray:
    """Fill the hole of float (H, W, C) ``values`` so that laplacian(x) = ``rhs`` there.

    ``rhs`` (H, W, C) or None for the harmonic (membrane) fill; the 5-point Laplacian counts only
    neighbours inside the image. Known pixels are the Dirichlet boundary and come back unchanged.
    Returns a new float32 array (float64 in gives float64 out); ``tol`` is relative to the data's range.
    """
    arr = check_pixels(values, "values")
    if arr.dtype.kind != "f":
        raise RestorerError(f"solve_laplace works on float values, not {arr.dtype}")
    check_hole(hole, arr.shape)
    out = np.array(arr, dtype=np.float64 if arr.dtype == np.float64 else np.float32, order="C")
    target = None
    if rhs is not None:
        target = check_pixels(rhs, "rhs")
        if target.shape != arr.shape:
            raise RestorerError(f"rhs has shape {target.shape} but values have {arr.shape}")
        if not np.isfinite(target[hole]).all():
            raise RestorerError("rhs contains NaN or infinite values inside the hole")
    if not hole.any():
        return out.reshape(values.shape)
    if hole.all():
        raise RestorerError("the hole covers the whole image: there are no known pixels to fill it from")
    flat, solution = solve_dirichlet(hole, KnownValues(out, 1.0), target, tol)
    scatter(out, flat, solution.astype(out.dtype))
    return out.reshape(values.shape)


def poisson_blend(target: np.ndarray, guide: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Blend ``guide`` into ``target`` over ``hole`` (Perez et al. 2003, gradients of the guide).

    ``target`` (H, W, C) uint8/uint16/float; ``guide`` (H, W, C) float in the scale of ``target``
    as float ([0, 1] for integer targets); ``hole`` bool (H, W). Inside the hole the result has the
    guide's gradients and meets the target at the hole's edge; outside it is target, bit for bit.
    Solved as guide + a harmonic correction whose boundary values are (target - guide).
    """
    arr = check_pixels(target, "target")
    guide_arr = check_pixels(guide, "guide")
    if guide_arr.shape != arr.shape:
        raise RestorerError(f"the guide has shape {guide.shape} but the target has {target.shape}")
    if guide_arr.dtype.kind != "f":
        raise RestorerError(f"the guide must be float, not {guide_arr.dtype}")
    check_hole(hole, arr.shape)
    out = np.array(arr, order="C")  # a copy: the pixels outside the hole are never written again
    if not hole.any():
        return out.reshape(target.shape)
    guide_c = np.ascontiguousarray(guide_arr)
    if hole.all():  # nothing to match: the blend is the guide itself
        flat = np.arange(hole.size)
        inside = gather(guide_c, flat).astype(np.float32)
    else:
        scale = 1.0 / value_scale(arr.dtype)
        known = KnownValues(out, scale, guide_c)
        flat, correction = solve_dirichlet(hole, known, None, tolerance_for(arr.dtype))
        inside = gather(guide_c, flat).astype(np.float32)
        inside += correction
    if not np.isfinite(inside).all():
        raise RestorerError("the guide contains NaN or infinite values inside the hole")
    if arr.dtype.kind == "f":
        inside = inside.astype(arr.dtype)
    scatter(out, flat, to_dtype(inside, arr.dtype))
    return out.reshape(target.shape)
