"""The public front end: Poisson blending and the Laplace fill."""

from __future__ import annotations

import numpy as np

from restorer.core.errors import RestorerError
from restorer.core.poisson.cg import DEFAULT_TOL
from restorer.core.poisson.dirichlet import solve_dirichlet
from restorer.core.poisson.pixels import (
    KnownValues,
    check_hole,
    check_pixels,
    gather,
    scatter,
    to_dtype,
    tolerance_for,
    value_scale,
)


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
