"""Refine a user's face box towards the frame the face models were trained on.

The face models only know aligned FairFace frames (``restorer/core/framing.py``): on val faces a box
1.1x the training frame costs the Context Encoder's fill 0.4-1.4 dB, one shifted by 5% of its side
0.3-1.4 dB (docs/quality.md). So before a face is filled, squares about the user's box are tried
(other sides, then other centres, then both again in finer steps) and the one the face model fits
best is kept. Only for the Context Encoder: see ``can_refine``.

The fit test: each candidate is resampled exactly as the fill resamples it (``methods._model_io``),
the Context Encoder predicts the whole frame from its known pixels, and the score is the mean L1
error between the prediction and the known pixels within BAND model pixels of the damage. Only that
band: the Context Encoder was trained to reproduce it (its loss weighs a 4-px context band 10x) and
nothing further out, and
scoring every known pixel instead favours small boxes, whose zoomed-in, smoother content any model
copies well (measured: it picks boxes ~0.15-0.2 of the side too small). A frame must beat the one
it would replace by more than the score's noise (MARGIN): moving on noise lost eye-hole fills
0.46 dB on average in the measurements.

Torch is imported inside the scoring functions: the pipeline imports this module without it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from restorer.core.methods.base import FillRequest
from restorer.core.pixels import to_float
from restorer.core.regions import square_window
from restorer.core.types import Bounds, RestoreOptions

Shift = tuple[float, float, float]  # (side as a multiple of the frame's, dx, dy as shares of it)

STEPS: tuple[tuple[tuple[float, ...], float], ...] = (
    ((0.8, 0.9, 1.12, 1.25), 0.0),
    ((), 0.08),
    ((0.95, 1.06), 0.04),
)
"""The search, step by step: sides tried about the best frame so far (as multiples of its side),
and the 8 shifts tried about it (as a share of its side; 0 = none). At most 4 + 8 + 10 frames."""
BAND = 4
"""Model pixels of known context around the damage that the fit is measured on."""
MARGIN = 1.0
"""A frame replaces the best so far only when its error is lower by this many standard errors (of
the two errors' difference, over the band's pixels): small holes have small, noisy bands."""
MIN_SIDE = 8


@dataclass(frozen=True)
class Refinement:
    """The search's answer: the frame kept, and how well the model fitted it and the user's frame."""

    box: Bounds  # the frame to fill from (the user's square frame when none fits clearly better)
    user: Bounds  # the user's square frame
    score: float  # the kept frame's fit error ([-1, 1] units; lower is better)
    user_score: float  # the user's frame's
    tried: int  # frames scored
    seconds: float

    @property
    def changed(self) -> bool:
        return self.box != self.user


def can_refine(model: Any) -> bool:
    """Whether frames are refined for ``model``: for the Context Encoder, where refinement measured
    +0.35 dB over drawn boxes (docs/quality.md). Not for the GAN: scored by G(E(y)), refinement
    moved a box that was already the true frame on 24 of 36 val faces and cost the latent search's
    centre fills 1.1 dB on average (benchmarks/face_pipeline_quality.py, 10 faces), so a latent
    fill uses the box as drawn."""
    return "context_encoder" in getattr(model, "nets", {})


def candidates(
    centre: tuple[float, float],
    side: float,
    shifts: Sequence[Shift],
    photo_size: tuple[int, int],
    holds: Bounds,
) -> list[Bounds]:
    """Squares about ``centre`` and ``side``, moved inside the (width, height) photo as the user's box
    is (``regions.square_window``). Squares the photo cannot hold whole, or that do not hold
    ``holds`` (the damage to fill), are left out, and so are repeats."""
    width, height = photo_size
    frames: list[Bounds] = []
    for scale, dx, dy in shifts:
        length = round(side * scale)
        if not MIN_SIDE <= length <= min(width, height):
            continue
        frame = square_window((centre[0] + dx * side, centre[1] + dy * side), length, photo_size)
        if frame.contains(holds) and frame not in frames:
            frames.append(frame)
    return frames


@dataclass
class _Search:
    """What every score of one refinement shares: the photo, its damage and the model."""

    photo: np.ndarray  # (H, W, C) photo dtype: the photo as restored so far
    pending: np.ndarray  # bool (H, W): damage not filled yet
    model: Any  # restorer.core.weights.LoadedModel
    options: RestoreOptions
    tone: Any
    icc_profile: bytes | None
    tried: int = 0
    known: dict[Bounds, tuple[float, float]] = field(default_factory=dict)  # frames scored already

    def inputs(self, frame: Bounds) -> Any:
        """The frame as the fill would hand it to the model (methods._model_io.ModelInputs)."""
        from restorer.core.methods._model_io import model_inputs

        window, unknown = to_float(self.photo[frame.slices]), self.pending[frame.slices]
        request = FillRequest(
            0, window, unknown, 0, self.options, self.tone, self.model, None, self.icc_profile
        )
        return model_inputs(request, self.model.arch.nc, self.model.resolution)

    def errors(self, frames: list[Bounds]) -> tuple[np.ndarray, np.ndarray]:
        """Each frame's fit error, the mean L1 on the known band around the damage (lower is better),
        and its standard error over the band's pixels."""
        import torch
        import torch.nn.functional as F

        inputs = [self.inputs(frame) for frame in frames]
        images = torch.stack([i.image for i in inputs])
        holes = torch.stack([i.hole for i in inputs])
        prediction = _predict(self.model, images, holes)
        near = F.max_pool2d(holes[:, None].float(), 2 * BAND + 1, stride=1, padding=BAND) > 0
        band = (near & ~holes[:, None]).float()
        # A grey print goes in as grey RGB: compare the prediction's mean channel with it.
        difference = (prediction.mean(1, keepdim=True) if images.shape[1] == 1 else prediction) - images
        pixel = difference.abs().mean(1, keepdim=True)
        count = band.sum((1, 2, 3)).clamp(min=2.0)
        mean = (pixel * band).sum((1, 2, 3)) / count
        spread = (((pixel - mean[:, None, None, None]) ** 2) * band).sum((1, 2, 3)) / (count - 1)
        self.tried += len(frames)
        return mean.numpy(), (spread / count).sqrt().numpy()


def _predict(model: Any, images: Any, holes: Any) -> Any:
    """The Context Encoder's whole-frame prediction (N, C, R, R) on the CPU for images (N, c, R, R)
    in [-1, 1] (c = 1: a grey print, repeated) and holes bool (N, R, R)."""
    from restorer.core.context_fill import predict_frames

    images = images.expand(-1, model.arch.nc, -1, -1)
    return predict_frames(model.nets["context_encoder"], images, holes).cpu()


def _step(search: _Search, best: Bounds, shifts: list[Shift], holds: Bounds) -> Bounds:
    """The frame among ``best`` and the frames ``shifts`` about it that fits clearly best."""
    size = (search.photo.shape[1], search.photo.shape[0])
    frames = [best] + [f for f in candidates(best.centre, best.width, shifts, size, holds) if f != best]
    new = [f for f in frames if f not in search.known]
    if new:  # a frame's error does not depend on the others: the incumbent is not scored again
        errors, noise = search.errors(new)
        search.known.update(zip(new, zip(errors.tolist(), noise.tolist(), strict=True), strict=True))
    errors, noise = (np.array(v) for v in zip(*(search.known[f] for f in frames), strict=True))
    pick = int(np.argmin(errors))
    if errors[0] - errors[pick] < MARGIN * np.hypot(noise[0], noise[pick]):  # within the noise: stay
        pick = 0
    return frames[pick]


def _shifts(scales: tuple[float, ...], offset: float) -> list[Shift]:
    ring = [(1.0, dx * offset, dy * offset) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dx or dy]
    return [(scale, 0.0, 0.0) for scale in scales] + (ring if offset else [])


def refine_box(
    photo: np.ndarray,
    pending: np.ndarray,
    frame: Bounds,
    holds: Bounds,
    model: Any,
    options: RestoreOptions | None = None,
    tone: Any = None,
    icc_profile: bytes | None = None,
) -> Refinement:
    """The square about ``frame`` (the user's box made square) that ``model`` fits best; every
    frame tried lies inside the photo and holds ``holds`` (the damage to fill).

    ``photo`` (H, W, C) is the photo as restored so far and ``pending`` (H, W) its damage; ``tone``
    and ``icc_profile`` are the photo's, as the fill gets them. A frame clipped by a photo smaller
    than it, or a model that cannot score, leaves ``frame`` as it is.
    """
    started = time.perf_counter()
    if frame.height != frame.width or not can_refine(model):
        return Refinement(frame, frame, float("nan"), float("nan"), 0, 0.0)
    search = _Search(photo, pending, model, options or RestoreOptions(), tone, icc_profile)
    best = frame
    for scales, offset in STEPS:
        best = _step(search, best, _shifts(scales, offset), holds)
    nan = (float("nan"), 0.0)
    score, user_score = search.known.get(best, nan)[0], search.known.get(frame, nan)[0]
    return Refinement(best, frame, score, user_score, search.tried, time.perf_counter() - started)
