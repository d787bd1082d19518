"""Exemplar (patch) fill: rebuilds wider holes in texture from patches of the photo itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from restorer.core.methods.base import FillJob, FillMethod, FillRequest, single
from restorer.core.types import Bounds

if TYPE_CHECKING:
    from restorer.core.regions import Region

PATCH_MARGIN = 16  # at least this much context around a patch-filled hole, more for larger holes
# At most this much: beyond it, more source texture is not worth the cost, which grows with the window.
PATCH_MAX_MARGIN = 384


class PatchFill(FillMethod):
    name = "patch"
    label = "Patch fill (textures)"
    summary = "multi-scale PatchMatch: wide damage in texture (sky, wall, fabric, grass)"
    order = 30

    def window(
        self, region: Region, photo_size: tuple[int, int], resolution: int
    ) -> tuple[Bounds, str | None]:
        from restorer.core.regions import classic_window, window_problem

        # The hole's own size again on every side, enough texture to copy from, for a compact hole;
        # for a long or sprawling one (a tear, a crack network) its thickness decides: a 10-px-wide
        # tear across a whole scan needs a band around it, not a photo-sized window.
        size = min(max(region.bbox.width, region.bbox.height), round(4 * region.max_width))
        margin = min(max(PATCH_MARGIN, size), PATCH_MAX_MARGIN)
        window = classic_window(region.bbox, photo_size, margin)
        return window, window_problem(region.pixels, window)

    def fill(self, request: FillRequest) -> FillJob:
        from restorer.core.patchmatch import patch_fill  # scipy: loaded when a patch fill runs

        candidate = patch_fill(request.window, request.unknown, seed=request.seed)
        # The seam correction may overshoot the [0, 1] range a little where the edge is steep.
        candidate[request.unknown] = np.clip(candidate[request.unknown], 0.0, 1.0)
        return single(request, candidate, {"seed": request.seed})


METHOD = PatchFill()
