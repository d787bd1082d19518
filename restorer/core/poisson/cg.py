"""The preconditioned conjugate-gradient loop both engines run.

Each engine keeps its own vectors (numpy cell lists, torch subgrids) and supplies the few
operations the loop needs through :class:`CGVectors`; the loop itself, the step sizes and the
stopping rule are written once here. Inner products are per channel: every channel is its own
system, iterated in step with the others.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

import numpy as np

#: Relative accuracy the solver iterates to (of the larger of the boundary data's range and the answer's).
DEFAULT_TOL = 1e-4
_MAX_ITERATIONS = 100

V = TypeVar("V")


class CGVectors(Protocol[V]):
    """An engine's vectors, (C, ...) with one system per channel, and its operators on them."""

    def zeros(self) -> V:
        """A new all-zero vector."""
        ...

    def precondition(self, r: V, z: V) -> None:
        """z = M^-1 r: one multigrid V-cycle (an SPD preconditioner)."""
        ...

    def apply(self, p: V, out: V) -> None:
        """out = A p."""
        ...

    def dot(self, a: V, b: V) -> np.ndarray:
        """(C,) float64 per-channel inner products."""
        ...

    def set_direction(self, p: V, z: V, beta: np.ndarray | None) -> None:
        """p = z + beta p per channel; p = z where ``beta`` is None (the first iteration)."""
        ...

    def step(self, x: V, r: V, p: V, ap: V, alpha: np.ndarray) -> float:
        """x += alpha p and r -= alpha ap per channel (``ap`` may be overwritten); return the
        largest absolute change of x, what the stopping rule measures."""
        ...

    def max_abs(self, x: V) -> float:
        """The largest absolute value in x."""
        ...


def conjugate_gradients(
    vectors: CGVectors[V], r: V, tol: float, scale: float, exact_preconditioner: bool
) -> tuple[V, int]:
    """Solve A x = r from x = 0; return x and the iterations used.

    ``r`` (the right-hand side, then the residual) is updated in place. Iteration stops when the
    estimated remaining error is below ``tol`` times the larger of ``scale`` (the boundary data's
    range) and the answer's largest value, after one iteration if the preconditioner is an exact
    solve, or after _MAX_ITERATIONS.
    """
    x, z, p, ap = vectors.zeros(), vectors.zeros(), vectors.zeros(), vectors.zeros()
    rz_old: np.ndarray | None = None
    previous_change = None
    iterations = 0
    while iterations < _MAX_ITERATIONS:
        iterations += 1
        vectors.precondition(r, z)
        rz = vectors.dot(r, z)
        beta = None if rz_old is None else rz / np.where(rz_old == 0.0, 1.0, rz_old)
        vectors.set_direction(p, z, beta)
        vectors.apply(p, ap)
        pap = vectors.dot(p, ap)
        alpha = np.where(pap > 0.0, rz / np.where(pap > 0.0, pap, 1.0), 0.0)
        change = vectors.step(x, r, p, ap, alpha)
        rz_old = rz
        if exact_preconditioner:
            break
        if _converged(change, previous_change, tol * max(scale, vectors.max_abs(x))):
            break
        previous_change = change
    return x, iterations


def _converged(change: float, previous_change: float | None, tolerance: float) -> bool:
    """Whether the remaining error, estimated from the last step and how fast steps shrink, is small."""
    if change <= tolerance * 1e-2:
        return True
    if previous_change is None:
        return False
    rate = min(change / previous_change, 0.9)
    # What is left of a geometric sequence of steps: change * rate / (1 - rate).
    return change * rate / (1.0 - rate) <= tolerance
