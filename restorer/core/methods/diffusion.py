"""Harmonic diffusion: the smoothest fill that meets the hole's edge, for thin scratches and dust."""

from __future__ import annotations

from restorer.core.methods.base import FillJob, FillMethod, FillRequest, single


class DiffusionFill(FillMethod):
    name = "diffusion"
    label = "Diffusion (thin scratches)"
    summary = "harmonic fill from the hole's edge: thin scratches, cracks and dust"
    order = 10
    margin = 4  # diffusion reads only the hole's edge; a few pixels more keep the window tidy
    edge_only = True

    def fill(self, request: FillRequest) -> FillJob:
        from restorer.core.fills import diffusion_fill

        # Every unknown pixel in the window is filled, so no damaged pixel is used as a source.
        return single(request, diffusion_fill(request.window, request.unknown))


METHOD = DiffusionFill()
