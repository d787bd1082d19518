"""Image quality metrics: PSNR and SSIM, optionally restricted to a mask.

Both take two arrays of the same (H, W) or (H, W, C) shape, uint8, uint16 or float. Integers are
scaled by their type's maximum and floats taken as they are, so the data range is 1 throughout.
With a mask (bool (H, W)), PSNR uses the squared errors of the masked pixels and SSIM averages its
local map over them; colour images average over channels.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from restorer.core.errors import RestorerError

__all__ = ["psnr", "ssim"]

# Wang, Bovik, Sheikh and Simoncelli (2004): an 11x11 Gaussian window of sigma 1.5, K1 = 0.01, K2 = 0.03.
_SIGMA = 1.5
_TRUNCATE = 3.5  # radius 5: the 11x11 window
_C1 = 0.01**2
_C2 = 0.03**2


def _unit_float(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind in "ui":
        return a.astype(np.float64) / float(np.iinfo(a.dtype).max)
    if a.dtype.kind == "f":
        return a.astype(np.float64)
    raise RestorerError(f"cannot score {a.dtype} pixels")


def _pair(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both images as float64 (H, W, C) and the mask as bool (H, W) (all True when None)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim not in (2, 3):
        raise RestorerError(f"cannot compare images of shapes {a.shape} and {b.shape}")
    fa, fb = _unit_float(a), _unit_float(b)
    if fa.ndim == 2:
        fa, fb = fa[..., None], fb[..., None]
    if mask is None:
        mask = np.ones(fa.shape[:2], bool)
    else:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != fa.shape[:2]:
            raise RestorerError(f"the mask is {mask.shape} but the images are {fa.shape[:2]}")
        if not mask.any():
            raise RestorerError("the mask is empty: there is nothing to score")
    return fa, fb, mask


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB (data range 1); inf when the (masked) pixels are identical."""
    fa, fb, mask = _pair(a, b, mask)
    mse = float(np.mean((fa[mask] - fb[mask]) ** 2))
    return float("inf") if mse == 0.0 else float(10.0 * np.log10(1.0 / mse))


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Local SSIM of two float (H, W) images in [0, 1], Gaussian-weighted; (H, W)."""

    def blur(x: np.ndarray) -> np.ndarray:
        return gaussian_filter(x, _SIGMA, truncate=_TRUNCATE, mode="reflect")

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a * mu_a
    var_b = blur(b * b) - mu_b * mu_b
    cov = blur(a * b) - mu_a * mu_b
    return ((2 * mu_a * mu_b + _C1) * (2 * cov + _C2)) / ((mu_a**2 + mu_b**2 + _C1) * (var_a + var_b + _C2))


def ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Structural similarity (Wang et al. 2004), 1 for identical images; mean over the mask and channels."""
    fa, fb, mask = _pair(a, b, mask)
    return float(np.mean([ssim_map(fa[..., c], fb[..., c])[mask].mean() for c in range(fa.shape[2])]))
