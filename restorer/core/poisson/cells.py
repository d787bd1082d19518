"""The cell-list engine: sparse holes, stored as only their pixels.

Its V-cycle (red-black Gauss-Seidel, the coarse-grid correction through the tables that
:mod:`cell_levels` builds) preconditions the shared conjugate-gradient loop. Vectors hold
``[red values, 0, black values, 0]``: the zero slots make neighbour gathers branch-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from restorer.core.poisson.cell_levels import _Colour, _hierarchy, _Level
from restorer.core.poisson.cg import conjugate_gradients
from restorer.core.poisson.multigrid import SWEEPS


@dataclass
class _Problem:
    """A Laplace problem on the hole's pixels, in the hole's row-major order."""

    flat: np.ndarray  # (n,) flat pixel indices of the hole, increasing
    height: int
    width: int
    rhs: np.ndarray  # (C, n) float32: known neighbours' values summed, minus the Laplacian's target
    boundary_range: float  # peak-to-peak of the known values the hole touches


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


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-channel inner products, accumulated in float64."""
    return np.multiply(a, b).sum(axis=1, dtype=np.float64)


class _CellVectors:
    """The cell-list engine's side of the conjugate-gradient loop (float32 numpy vectors)."""

    def __init__(self, levels: list[_Level], channels: int) -> None:
        self.levels = levels
        self.top = levels[0]
        self.channels = channels
        self.work = [_Work.empty(level, channels) for level in levels]
        self.scratch = np.empty((channels, max(self.top.red.size, self.top.black.size)), np.float32)

    def zeros(self) -> np.ndarray:
        # [red values, 0, black values, 0]: the zero slots make neighbour gathers branch-free.
        return np.zeros((self.channels, self.top.size + 2), np.float32)

    def precondition(self, r: np.ndarray, z: np.ndarray) -> None:
        nr = self.top.red.size
        rhs = self.work[0].rhs
        rhs[:, :nr] = r[:, :nr]
        rhs[:, nr:] = r[:, nr + 1 : -1]
        _v_cycle(self.levels, self.work, 0, z[:, : nr + 1], z[:, nr + 1 :])

    def apply(self, p: np.ndarray, out: np.ndarray) -> None:
        nr = self.top.red.size
        _apply(self.top, p[:, : nr + 1], p[:, nr + 1 :], out, self.scratch)

    def dot(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _dot(a, b)

    def set_direction(self, p: np.ndarray, z: np.ndarray, beta: np.ndarray | None) -> None:
        if beta is None:
            p[:] = z
        else:
            p *= beta.astype(np.float32)[:, None]
            p += z

    def step(self, x: np.ndarray, r: np.ndarray, p: np.ndarray, ap: np.ndarray, alpha: np.ndarray) -> float:
        alpha32 = alpha.astype(np.float32)[:, None]
        step = alpha32 * p
        x += step
        ap *= alpha32
        r -= ap
        return float(np.abs(step).max())

    def max_abs(self, x: np.ndarray) -> float:
        return float(np.abs(x).max())


def _solve_cells(problem: _Problem, tol: float, direct_limit: int) -> tuple[np.ndarray, int]:
    """Solve; return the (C, n) values of the hole cells in row-major order and the iterations used."""
    levels = _hierarchy(problem.flat, problem.height, problem.width, direct_limit)
    nr = levels[0].red.size
    ys, xs = np.divmod(problem.flat, problem.width)
    red = ((ys + xs) & 1) == 0
    vectors = _CellVectors(levels, problem.rhs.shape[0])
    r = vectors.zeros()
    r[:, :nr] = problem.rhs[:, red]
    r[:, nr + 1 : -1] = problem.rhs[:, ~red]
    x, iterations = conjugate_gradients(
        vectors, r, tol, problem.boundary_range, exact_preconditioner=levels[0].direct is not None
    )
    out = np.empty((problem.rhs.shape[0], problem.flat.size), np.float32)
    out[:, red] = x[:, :nr]
    out[:, ~red] = x[:, nr + 1 : -1]
    return out, iterations
