"""What both engines' multigrid hierarchies share.

The four stencil directions, the finite-volume geometry of a coarse cell's agglomerate of hole
pixels and the couplings built from it, the number of smoothing sweeps, and the sparse LU
factorisation that solves the coarsest level.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

#: Red-black sweeps before and after the coarse-grid correction.
SWEEPS = 2
_MIN_DISTANCE = 0.5  # fine pixels: keeps finite-volume couplings bounded for oddly shaped agglomerates

# (dy, dx) of the four neighbours, in the order every table stores them: up, down, left, right.
_STEPS = ((-1, 0), (1, 0), (0, -1), (0, 1))
_UP, _DOWN, _LEFT, _RIGHT = range(4)


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


def _coupling(faces: np.ndarray, other: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Finite-volume coupling to a neighbouring agglomerate: shared fine edges over the distance
    between the two centroids (``other`` and ``axis``, coordinates along the edge's axis)."""
    return faces / np.maximum(np.abs(other - axis), _MIN_DISTANCE)


def _dirichlet_pull(edges: np.ndarray, known_sum: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """How hard an agglomerate's known neighbours in one direction pull on it: each of its ``edges``
    to a known pixel with 1 / (distance from the centroid ``axis`` to their mean position)."""
    known_at = known_sum / np.maximum(edges, 1.0)
    return edges / np.maximum(np.abs(known_at - axis), _MIN_DISTANCE)


def _factorise(
    rows: list[np.ndarray], cols: list[np.ndarray], vals: list[np.ndarray], n: int
) -> Callable[[np.ndarray], np.ndarray]:
    """Factorise the (n, n) matrix given as coordinate pieces once; the function it returns solves
    for (C, n) float32 right-hand sides (in float64) and gives (C, n) float32."""
    matrix = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    factor = spla.splu(matrix)
    return lambda rhs: factor.solve(np.ascontiguousarray(rhs.T, dtype=np.float64)).T.astype(np.float32)
