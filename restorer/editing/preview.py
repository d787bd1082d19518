"""Live previews of a running restore: RGBA frames over the holes, and the rate limit that keeps a
fast engine from flooding the window (no Qt, no torch)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from restorer.core.types import Bounds

FINISHED = -1  # PreviewFrame.iteration of a finished region's fill


@dataclass(frozen=True)
class PreviewFrame:
    """The current iterate of one region as an RGBA image, opaque only over the region's hole."""

    region: int
    bounds: Bounds
    rgba: np.ndarray  # uint8 (h, w, 4), straight alpha
    iteration: int  # the optimisation step shown, or FINISHED


def window_of(mask: np.ndarray, box: Bounds) -> np.ndarray:
    """The (h, w) window ``box`` of a full-photo mask, as a copy; outside the photo counts as False."""
    clipped = box.intersect(Bounds.of_shape(mask.shape))
    out = np.zeros((box.height, box.width), bool)
    out[clipped.relative_to(box).slices] = mask[clipped.slices]
    return out


def preview_frame(
    region: int,
    box: Bounds,
    image: np.ndarray,
    hole: np.ndarray,
    photo_shape: tuple[int, ...],
    iteration: int,
    icc_profile: bytes | None = None,
) -> PreviewFrame:
    """A float image (h, w, C) in [0, 1] of the window ``box``, opaque over ``hole`` (h, w) only,
    clipped to the photo; shown in sRGB like the photo (``icc_profile``: the photo's)."""
    from restorer.core.colour import to_srgb
    from restorer.core.pixels import from_float

    clipped = box.intersect(Bounds.of_shape(photo_shape[:2]))
    inner = clipped.relative_to(box)
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    rgb = from_float(to_srgb(image[inner.slices], icc_profile), np.uint8)
    rgba = np.empty((clipped.height, clipped.width, 4), np.uint8)
    rgba[..., :3] = rgb if rgb.shape[2] == 3 else rgb[..., :1]
    rgba[..., 3] = np.where(np.asarray(hole, bool)[inner.slices], 255, 0)
    return PreviewFrame(region, clipped, rgba, iteration)


@dataclass
class Throttle:
    """Lets an action through at most ``rate`` times a second."""

    rate: float
    _last: float = field(default=-1e9, repr=False)

    def ready(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if now - self._last >= 1.0 / self.rate:
            self._last = now
            return True
        return False
