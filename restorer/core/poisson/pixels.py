"""Pixel plumbing shared by the blend, the Laplace fill and the classical fills.

Checking arrays, the float working scale of each dtype, flat gathers and scatters, the
conversion back to the stored dtype, and the known values a hole is filled from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from restorer.core.errors import RestorerError
from restorer.core.pixels import from_float, integer_top
from restorer.core.poisson.cg import DEFAULT_TOL


def _as_hwc(pixels: object, name: str) -> np.ndarray:
    if not isinstance(pixels, np.ndarray) or pixels.ndim not in (2, 3) or 0 in pixels.shape:
        shape = getattr(pixels, "shape", None)
        raise RestorerError(f"{name} must be an (height, width, channels) array, got shape {shape}")
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


def check_pixels(pixels: object, name: str = "image") -> np.ndarray:
    """The (H, W, C) view of uint8/uint16/float pixels, or RestorerError."""
    arr = _as_hwc(pixels, name)
    if integer_top(arr.dtype) is None and arr.dtype.kind != "f":
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
    return float(integer_top(dtype) or 1.0)


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
    return values.astype(dtype) if integer_top(dtype) is None else from_float(values, dtype)


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
