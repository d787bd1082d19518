"""The dense engine: compact holes on their bounding box.

A hole that fills a good part of its bounding box is solved on that box with dense tensors, each
level split into its four parity subgrids (row parity a, column parity b) stored with a one-cell
zero frame, so that every neighbour of a subgrid is a shifted view of another subgrid: red-black
Gauss-Seidel is then a handful of fused torch operations per subgrid (numpy's strided loops are
about four times slower here). Cells outside the hole carry value 0 and inverse diagonal 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from restorer.core.poisson.cg import conjugate_gradients
from restorer.core.poisson.dense_levels import _dense_hierarchy, _DenseLevel, _to_subgrids
from restorer.core.poisson.multigrid import _DOWN, _LEFT, _RIGHT, _UP, SWEEPS

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


def _dense_neighbour_sum(level: _DenseLevel, x: torch.Tensor, a: int, b: int, out: torch.Tensor) -> None:
    """out = sum over k of weight_k * (value of neighbour k), for every cell of subgrid (a, b)."""
    up, down, left, right = _neighbour_views(x, a, b)
    if level.weights is None:
        torch.add(up, down, out=out)
        out.add_(left).add_(right)
    else:
        w = level.weights
        torch.mul(up, w[_UP, a, b], out=out)
        out.addcmul_(down, w[_DOWN, a, b]).addcmul_(left, w[_LEFT, a, b]).addcmul_(right, w[_RIGHT, a, b])


def _dense_relax(level: _DenseLevel, x: torch.Tensor, rhs: torch.Tensor, a: int, b: int) -> None:
    """Gauss-Seidel on subgrid (a, b), in place: x_p = (rhs_p + weighted sum of neighbours) / diag_p."""
    out = x[:, a, b, 1:-1, 1:-1]
    _dense_neighbour_sum(level, x, a, b, out)
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
        _dense_neighbour_sum(level, x, a, b, out)
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
        _dense_neighbour_sum(level, p, a, b, o)  # unit couplings: this is the finest level
        o.neg_()
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


class _DenseVectors:
    """The dense engine's side of the conjugate-gradient loop: every vector is framed subgrids
    (C, 2, 2, h + 2, w + 2) whose frame stays zero, so inner products run over contiguous memory."""

    def __init__(self, levels: list[_DenseLevel], channels: int, sides: tuple[bool, ...]) -> None:
        self.levels = levels
        self.channels = channels
        self.sides = sides

    def zeros(self) -> torch.Tensor:
        hs, ws = self.levels[0].subgrid_shape
        return torch.zeros((self.channels, 2, 2, hs + 2, ws + 2))

    def precondition(self, r: torch.Tensor, z: torch.Tensor) -> None:
        _dense_v_cycle(self.levels, 0, r[:, :, :, 1:-1, 1:-1], z, self.sides)

    def apply(self, p: torch.Tensor, out: torch.Tensor) -> None:
        _dense_apply(self.levels[0], p, out)

    def dot(self, a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
        return _channel_dots(a, b)

    def set_direction(self, p: torch.Tensor, z: torch.Tensor, beta: np.ndarray | None) -> None:
        if beta is None:
            p.copy_(z)
        else:
            torch.addcmul(z, p, _per_channel(beta), out=p)

    def step(
        self, x: torch.Tensor, r: torch.Tensor, p: torch.Tensor, ap: torch.Tensor, alpha: np.ndarray
    ) -> float:
        alpha_t = _per_channel(alpha)
        x.addcmul_(p, alpha_t)
        r.addcmul_(ap, alpha_t, value=-1.0)
        return float((_channel_max_abs(p) * np.abs(alpha)).max())

    def max_abs(self, x: torch.Tensor) -> float:
        return float(_channel_max_abs(x).max())


def _dense_solve(
    hole: np.ndarray, rhs: np.ndarray, sides: tuple[bool, ...], tol: float, scale: float, direct_limit: int
) -> tuple[np.ndarray, int]:
    """Solve on a crop: ``hole`` (h, w), ``rhs`` (C, h, w) float32; returns (C, h, w) and the iterations.

    Conjugate gradients preconditioned by the V-cycle, with torch single-threaded.
    """
    with _one_thread():
        levels = _dense_hierarchy(hole, direct_limit)
        channels = rhs.shape[0]
        hs, ws = levels[0].subgrid_shape
        vectors = _DenseVectors(levels, channels, sides)
        r = vectors.zeros()
        natural = np.zeros((channels, 2 * hs, 2 * ws), np.float32)
        natural[:, : hole.shape[0], : hole.shape[1]] = rhs
        r[:, :, :, 1:-1, 1:-1] = torch.from_numpy(_to_subgrids(natural))
        x, iterations = conjugate_gradients(
            vectors, r, tol, scale, exact_preconditioner=levels[0].direct is not None
        )
        solution = _natural(x).numpy()[:, : hole.shape[0], : hole.shape[1]]
        return np.ascontiguousarray(solution), iterations
