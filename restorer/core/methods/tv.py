"""Total-variation fill: keeps edges sharper than diffusion across short gaps (Huber-TV)."""

from __future__ import annotations

from restorer.core.methods.base import FillJob, FillMethod, FillRequest, single


class TotalVariationFill(FillMethod):
    name = "tv"
    label = "Total variation (scratches across edges)"
    summary = "Huber total-variation fill: like diffusion, with edges carried across narrow gaps"
    order = 20
    margin = 4  # like diffusion, TV reads only a ring around the hole
    edge_only = True

    def fill(self, request: FillRequest) -> FillJob:
        from restorer.core.fills import tv_fill

        return single(request, tv_fill(request.window, request.unknown))


METHOD = TotalVariationFill()
