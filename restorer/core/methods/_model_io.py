"""Between a photo window and a face model: resampling to the model's square and back, and tone.

A model method crops the region's window from the photo as restored so far, reflect-pads it to a
square if the photo is too small for a square window, resamples it to the model's resolution
(area averaging down), fills it, and brings the result back to window size (bicubic). Going down,
a model pixel with any damage in it is hole; but with scattered damage (a random 80% of the pixels)
in a window 2.5x the model that leaves no model pixel known, and the face model refused a mask the
user had framed (issue 9). Then a model pixel is hole only when most of what it covers is damaged,
and a known one is the mean of its known photo pixels alone. The Poisson blend and the composite use
the photo's own hole, so a partly damaged model pixel only ever informs the fill. Grey and toned
prints are fitted on luminance and the result is re-toned with the print's own tone curve. The networks were
trained on sRGB, so a window tagged with another ICC profile goes in converted to sRGB and the fill
comes out converted back to the photo's space (restorer.core.colour); the window itself, which the
blend reads outside the hole, is never converted.

Imports torch: only the learned methods' ``fill`` imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from restorer.core.colour import ColourSpace, colour_space
from restorer.core.methods.base import FillRequest
from restorer.core.tone import ToneCurve, fit_tone_curve, luminance

MIN_KNOWN = 0.25
"""Share of the model's square that should be known context before the strict hole rule gives way."""


@dataclass(frozen=True)
class Resampler:
    """Maps a (h, w) window to the model's (R, R) square and back."""

    height: int
    width: int
    resolution: int

    @property
    def side(self) -> int:
        return max(self.height, self.width)

    @property
    def pad(self) -> tuple[tuple[int, int], tuple[int, int]]:
        extra_h, extra_w = self.side - self.height, self.side - self.width
        return (extra_h // 2, extra_h - extra_h // 2), (extra_w // 2, extra_w - extra_w // 2)

    def _square(self, array: np.ndarray) -> np.ndarray:
        """Mirror a clipped (non-square) window into a square; "symmetric" copes with 1 px too."""
        if self.height == self.width:
            return array
        return np.pad(array, self.pad + ((0, 0),) * (array.ndim - 2), mode="symmetric")

    def image(self, window: np.ndarray, hole: np.ndarray | None = None) -> torch.Tensor:
        """float (h, w, C) in [0, 1] -> (C, R, R) in [-1, 1]. Going down with a ``hole`` (bool (h, w)),
        each model pixel averages the known photo pixels it covers (all of them where none is known)."""
        x = torch.from_numpy(np.ascontiguousarray(self._square(window))).permute(2, 0, 1)[None]
        size = (self.resolution, self.resolution)
        if self.side > self.resolution:
            whole = F.interpolate(x, size=size, mode="area")
            if hole is not None and hole.any():
                known = torch.from_numpy(~self._square(hole))[None, None].to(x.dtype)
                share = F.interpolate(known, size=size, mode="area")
                known_mean = F.interpolate(x * known, size=size, mode="area") / share.clamp(min=1e-6)
                whole = torch.where(share > 0, known_mean, whole)
            x = whole
        elif self.side < self.resolution:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return (x[0] * 2 - 1).clamp(-1, 1)

    def hole(self, hole: np.ndarray) -> torch.Tensor:
        """bool (h, w) -> bool (R, R). A model pixel with any damage in it is hole, so the model
        sees only clean context, unless that leaves under MIN_KNOWN of the square known (scattered
        damage): then a model pixel is hole when most of what it covers is damaged, and if even
        that leaves nothing known, only when all of it is."""
        x = torch.from_numpy(self._square(hole).astype(np.float32))[None, None]
        share = F.interpolate(x, size=(self.resolution, self.resolution), mode="area")[0, 0]
        strict, mostly = share > 0, share > 0.5
        if float((~strict).float().mean()) >= MIN_KNOWN:
            return strict
        return share >= 1.0 - 1e-6 if bool(mostly.all()) else mostly

    def window(self, image: torch.Tensor) -> np.ndarray:
        """(C, R, R) in [-1, 1] -> float32 (h, w, C) in [0, 1] (bicubic up, area down)."""
        x = (image.detach().float().cpu()[None] + 1) * 0.5
        size = (self.side, self.side)
        if self.side > self.resolution:
            x = F.interpolate(x, size=size, mode="bicubic", align_corners=False)
        elif self.side < self.resolution:
            x = F.interpolate(x, size=size, mode="area")
        (top, _), (left, _) = self.pad
        x = x[0, :, top : top + self.height, left : left + self.width].clamp(0, 1)
        return x.permute(1, 2, 0).numpy().astype(np.float32, copy=False)


@dataclass(frozen=True)
class ModelInputs:
    """The window as the model sees it, its hole, and the way back to the photo's pixels."""

    image: torch.Tensor  # (c, R, R) in [-1, 1]; c = 1 for a grey window fitted on luminance
    hole: torch.Tensor  # bool (R, R)
    resampler: Resampler
    channels: int  # the photo's
    curve: ToneCurve | None  # None: colour photo, colour model
    luminance: bool  # fit on luminance (grey or toned print, or a grey model)
    space: ColourSpace | None = None  # the photo's profile <-> sRGB; None: the photo is sRGB

    def back(self, image: torch.Tensor) -> np.ndarray:
        """A model image (C, R, R) in [-1, 1] as a window-size candidate in the photo's colours."""
        generated = self.resampler.window(image)
        if self.curve is not None:  # fitted on the sRGB window, so it re-tones in sRGB
            generated = self.curve.apply(luminance(generated), self.channels)
        return generated if self.space is None else self.space.from_srgb(generated)


def with_detail(
    request: FillRequest, inputs: ModelInputs, candidates: list[np.ndarray]
) -> tuple[list, dict, list[str]]:
    """The final candidates with the photo's fine detail synthesised in (restorer.core.detail) when
    the options ask for it, the window is notably larger than the model and the hole is not too deep
    for copies (``detail.MAX_DEPTH``); the params saying whether it ran, and when the hole's depth
    ruled it out, why (``detail_skipped``, also as a warning for the user). Previews stay as
    upsampled: synthesis per iteration would cost more than the search."""
    from restorer.core.detail import MAX_DEPTH, MIN_SCALE, detail_scale, hole_depth, synthesise_detail

    scale = detail_scale(inputs.resampler.side, inputs.resampler.resolution)
    params: dict = {"detail_scale": round(scale, 3)}
    warnings: list[str] = []
    ran = request.options.detail and scale >= MIN_SCALE
    if ran and (depth := hole_depth(request.unknown)) > MAX_DEPTH:
        ran = False
        params["detail_skipped"] = (
            f"the hole reaches {depth:.0%} of the window from its edge (over {MAX_DEPTH:.0%}): "
            "copies from that far would be patchwork; the model's fill gets the photo's grain instead"
        )
        warnings.append(f"no fine detail synthesised, {params['detail_skipped']}")
    if ran:
        candidates = [
            synthesise_detail(request.window, request.unknown, c, scale, request.seed) for c in candidates
        ]
    return candidates, {"detail": ran, **params}, warnings


def model_inputs(request: FillRequest, nc: int, resolution: int) -> ModelInputs:
    window, unknown = request.window, request.unknown
    channels = window.shape[2]
    space = colour_space(request.icc_profile, channels)
    if space is not None:  # the model, and the tone curve fitted for it, see sRGB
        window = space.to_srgb(window)
    fit_luminance = bool(request.tone is not None and request.tone.monochrome) or nc == 1
    curve = fit_tone_curve(window, ~unknown) if fit_luminance else None
    resampler = Resampler(window.shape[0], window.shape[1], resolution)
    if channels == 3 and nc == 1:
        window = luminance(window)[..., None]
    elif channels == 1 and nc == 3 and not fit_luminance:
        window = np.repeat(window, 3, axis=2)
    return ModelInputs(
        resampler.image(window, unknown),
        resampler.hole(unknown),
        resampler,
        channels,
        curve,
        fit_luminance,
        space,
    )


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """float (N, R, R, C) in [0, 1] -> (N, C, R, R) in [-1, 1], for batched evaluation."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2) * 2.0 - 1.0


def tensor_to_frames(images: torch.Tensor) -> np.ndarray:
    """(N, C, R, R) in [-1, 1] -> float32 (N, R, R, C) in [0, 1]."""
    out = (images.detach().float().cpu().permute(0, 2, 3, 1).numpy() + 1.0) / 2.0
    return out.clip(0.0, 1.0).astype(np.float32, copy=False)
