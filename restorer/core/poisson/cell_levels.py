"""The cell-list engine's multigrid hierarchy.

Sparse holes (thin scratches over a whole scan) are stored as only their pixels: flat lists with
precomputed neighbour indices, so the cost follows the pixels, not the bounding box. Each level
keeps its red and black cells apart (every neighbour of a red cell is black and vice versa),
with the finite-volume operator of its agglomerates, the prolongation and restriction tables to
the next level, and on the coarsest level a direct factorisation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from restorer.core.poisson.multigrid import (
    _DOWN,
    _LEFT,
    _RIGHT,
    _STEPS,
    _UP,
    _coupling,
    _dirichlet_pull,
    _factorise,
    _Geometry,
)


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
        weights[k] = np.where(has, _coupling(data[3 + k], other, axis), 0.0)
        pull += _dirichlet_pull(data[7 + k], data[11 + k], axis)
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
    # Each colour with its own offset in [red, black] order and the other colour's offset and size.
    # The other colour's size is also its zero slot, the index every missing neighbour points at, so
    # only indices below it are couplings. (Telling the colours apart by their offsets instead fails
    # when there are no red cells, as for a lone pixel on an odd square: both offsets are 0, the
    # black cells' zero-slot entries then read as couplings to black cell 0, and its row cancels.)
    for colour, offset, other_offset, other_size in (
        (level.red, 0, n_red, n - n_red),
        (level.black, n_red, 0, n_red),
    ):
        weights = np.ones(colour.neighbours.shape, np.float32) if colour.weights is None else colour.weights
        r, k = np.nonzero((colour.neighbours < other_size).T)
        rows.append(r + offset)
        cols.append(colour.neighbours.T[r, k] + other_offset)
        vals.append(-weights.T[r, k].astype(np.float64))
    return _factorise(rows, cols, vals, n)


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
