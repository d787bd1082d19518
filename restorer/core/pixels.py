"""The one scaling between stored pixels and the float working scale: uint8/uint16 <-> [0, 1].

Every layer (reading, the fills, the Poisson solvers, previews, export) converts through here, so a
value rounds the same way wherever it is stored back.
"""

from __future__ import annotations

import numpy as np

_INTEGER_TOPS = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}


def integer_top(dtype: np.dtype | type) -> int | None:
    """The value of 1.0 in ``dtype`` (255, 65535), or None for float pixels."""
    return _INTEGER_TOPS.get(np.dtype(dtype))


def _top(dtype: np.dtype | type) -> int:
    top = integer_top(dtype)
    if top is None:
        raise TypeError(f"expected uint8 or uint16 pixels, got {np.dtype(dtype)}")
    return top


def to_float(pixels: np.ndarray) -> np.ndarray:
    """uint8/uint16 -> float32 in [0, 1]."""
    return np.divide(pixels, _top(pixels.dtype), dtype=np.float32)


def from_float(x: np.ndarray, dtype: np.dtype | type) -> np.ndarray:
    """float in [0, 1] -> uint8/uint16, rounded to nearest; out-of-range values clip, NaN becomes 0."""
    top = _top(dtype)
    y = np.clip(x, 0.0, 1.0, dtype=np.float32)  # the one float temporary; the rest works in place
    y *= np.float32(top)
    np.nan_to_num(y, nan=0.0, copy=False)
    return np.rint(y, out=y).astype(dtype)


def to_8bit(x: np.ndarray) -> np.ndarray:
    """uint16 -> uint8 by exact integer rounding of x * 255 / 65535 (uint8 passes through)."""
    if x.dtype == np.uint8:
        return x
    return ((x.astype(np.uint32) + 128) // 257).astype(np.uint8)
