"""The types every layer shares: the rectangle, restore options, job events and results.

This module imports neither torch nor Qt (an import-linter contract keeps it so), so the command
line, the editing layer and the window can all build options and read results without loading
the deep-learning stack. Pixel conventions are in docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from restorer.core.errors import RestorerError

DEVICES = ("auto", "cpu", "cuda")
# How the latent search starts: "encoder" around the model's encoder guess E(y) (Lahiri et al.),
# "yeh" from uniform random latents (the paper's reference path), "auto" = encoder when the model
# ships one.
INVERSIONS = ("auto", "encoder", "yeh")


class Bounds(NamedTuple):
    """A half-open pixel rectangle: rows ``top:bottom``, columns ``left:right``.

    The one rectangle type of Restorer. People and files speak ``x, y, w, h``: convert at those
    edges only, with :meth:`from_xywh` and :meth:`xywh`.
    """

    top: int
    left: int
    bottom: int
    right: int

    @classmethod
    def from_xywh(cls, box: Sequence[int]) -> Bounds:
        x, y, w, h = (int(v) for v in box)
        return cls(y, x, y + h, x + w)

    @classmethod
    def of_shape(cls, shape: Sequence[int]) -> Bounds:
        return cls(0, 0, int(shape[0]), int(shape[1]))

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.bottom), slice(self.left, self.right)

    @property
    def height(self) -> int:
        return max(0, self.bottom - self.top)

    @property
    def width(self) -> int:
        return max(0, self.right - self.left)

    @property
    def area(self) -> int:
        return self.height * self.width

    @property
    def is_empty(self) -> bool:
        return self.height == 0 or self.width == 0

    @property
    def centre(self) -> tuple[float, float]:
        """(x, y) of the rectangle's centre."""
        return (self.left + self.right) / 2, (self.top + self.bottom) / 2

    def xywh(self) -> tuple[int, int, int, int]:
        return self.left, self.top, self.width, self.height

    def text(self) -> str:
        """``x,y,w,h`` as the command line takes it."""
        return ",".join(map(str, self.xywh()))

    def contains(self, other: Bounds) -> bool:
        return (
            self.top <= other.top
            and self.left <= other.left
            and other.bottom <= self.bottom
            and other.right <= self.right
        )

    def intersect(self, other: Bounds) -> Bounds:
        top, left = max(self.top, other.top), max(self.left, other.left)
        # An empty result keeps bottom >= top and right >= left so that its slices select nothing.
        return Bounds(
            top, left, max(top, min(self.bottom, other.bottom)), max(left, min(self.right, other.right))
        )

    def union(self, other: Bounds) -> Bounds:
        if self.is_empty:
            return other
        if other.is_empty:
            return self
        return Bounds(
            min(self.top, other.top),
            min(self.left, other.left),
            max(self.bottom, other.bottom),
            max(self.right, other.right),
        )

    def shifted(self, dy: int, dx: int) -> Bounds:
        return Bounds(self.top + dy, self.left + dx, self.bottom + dy, self.right + dx)

    def expanded(self, margin: int) -> Bounds:
        return Bounds(self.top - margin, self.left - margin, self.bottom + margin, self.right + margin)

    def relative_to(self, outer: Bounds) -> Bounds:
        """This rectangle in the coordinates of ``outer``'s top-left corner."""
        return self.shifted(-outer.top, -outer.left)


EMPTY = Bounds(0, 0, 0, 0)


def check_box(box: Bounds, photo_size: tuple[int, int]) -> None:
    """RestorerError unless ``box`` is non-empty and lies inside a (width, height) photo."""
    if box.width < 1 or box.height < 1:
        raise RestorerError(f"the box {box.text()} is empty: width and height must be at least 1")
    if not Bounds(0, 0, photo_size[1], photo_size[0]).contains(box):
        raise RestorerError(f"the box {box.text()} reaches outside the {photo_size[0]}x{photo_size[1]} photo")


MAX_STARTS = 1024  # latent: K starts in one batch, ~2.3 GB at most (the default is 8)


@dataclass
class RestoreOptions:
    """What to do with the damage; shared by the command line, the window and the engine."""

    method: str = "auto"  # a router ("auto", "classic") or a fill method name, see restorer.core.methods
    model: str | None = None  # model name or path; None = the default model for the method
    # latent only: Adam steps and starts. Not the paper's 1500 x 16: from the encoder's guess, 10-30
    # steps score as well as 150-600 from random starts (models/face64.md); 50 x 8 takes seconds.
    iterations: int = 50
    starts: int = 8  # latent only: K starts optimised as one batch
    lam: float = 0.003  # latent only: prior weight λ
    inversion: str = "auto"  # latent only: one of INVERSIONS
    # latent only: Adam steps on G's 16x16 features after the search (0 = off); 50 lifts blended
    # PSNR on random-80% holes by 1.2 dB and on pattern holes by 0.3 dB (docs/quality.md)
    refine: int = 50
    seed: int = 0
    device: str = "auto"  # one of DEVICES
    box: Bounds | None = None  # the user's context window for the holes inside it (a face)
    # face models: try squares about the box and fill from the one the model fits best
    # (restorer.core.box_refine); False keeps the box as drawn
    refine_box: bool = True
    blend: bool = True  # Poisson-blend generated content (False = paste, for evaluation)
    grain: bool = True  # give every fill the photo's grain where the fill is smoother
    # face models: synthesise the detail above the model's resolution from the photo's own pixels
    # when the window is much larger than the model (restorer.core.detail)
    detail: bool = True
    preview_all: bool = False  # include every start's image in progress events

    def record(self) -> dict:
        """JSON-able, in the words of the command line (``lambda``, ``box`` as x, y, w, h)."""
        return {
            "method": self.method,
            "model": self.model,
            "iterations": self.iterations,
            "starts": self.starts,
            "lambda": self.lam,
            "inversion": self.inversion,
            "refine": self.refine,
            "seed": self.seed,
            "device": self.device,
            "box": list(self.box.xywh()) if self.box is not None else None,
            "refine_box": self.refine_box,
            "blend": self.blend,
            "grain": self.grain,
            "detail": self.detail,
            "preview_all": self.preview_all,
        }

    @classmethod
    def from_record(cls, record: dict) -> RestoreOptions:
        """The inverse of :meth:`record`; unknown keys are ignored so older records still load."""
        values = dict(record)
        if "lambda" in values:
            values["lam"] = values.pop("lambda")
        if values.get("box") is not None:
            values["box"] = Bounds.from_xywh(values["box"])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in values.items() if k in known})


# --- job events ------------------------------------------------------------------------------


@dataclass
class RegionStarted:
    index: int  # 0-based region number
    count: int  # number of regions to fill
    box: Bounds  # the context window in photo coordinates
    method: str  # a fill method name
    reason: str  # why this method (most useful with --method auto)


@dataclass
class RegionProgress:
    index: int
    iteration: int
    total: int
    loss: float = 0.0  # best start's total loss (0 for methods without an objective)
    context_loss: float = 0.0
    prior_loss: float = 0.0
    _preview: Callable[[], np.ndarray] | None = field(repr=False, compare=False, default=None)
    _previews: Callable[[], list[np.ndarray]] | None = field(repr=False, compare=False, default=None)

    def preview(self) -> np.ndarray:
        """The current best fill at window size: float32 (h, w, C) in [0, 1] (computed on call)."""
        if self._preview is None:
            raise RestorerError("this progress event carries no preview")
        return self._preview()

    def previews(self) -> list[np.ndarray]:
        """Every start's fill (when RestoreOptions.preview_all), else only the best, same format."""
        return self._previews() if self._previews is not None else [self.preview()]


@dataclass
class WindowPatch:
    """One filled region: its window, its hole, every candidate, and the chosen one's pixels.

    ``values`` are the hole's pixels with candidate ``chosen`` composed in (Poisson-blended or
    pasted, see ``blend``), in the photo's dtype, in the row-major order of ``hole``'s True
    pixels: applying a patch is one indexed assignment (restorer.core.patches).
    """

    index: int
    box: Bounds  # the context window, inside the photo
    hole: np.ndarray  # bool (h, w): the pixels this patch writes
    method: str
    reason: str
    model: str | None  # model name, for methods that use one
    params: dict  # iterations, starts, lambda, seed, device, model_sha256, tone, ...
    candidates: list[np.ndarray]  # window-size float32 (h, w, C) in [0, 1], best first
    losses: list[float]  # same order; 0.0 for methods without an objective
    values: np.ndarray  # (n, C) photo dtype: candidate ``chosen`` composed into the hole
    chosen: int = 0
    blend: bool = False  # whether candidates are Poisson-blended (generated content) or pasted
    grain_seed: int | None = None  # the photo's grain is matched in the fill with this seed; None = off

    @property
    def hole_pixels(self) -> int:
        return int(self.values.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.hole.nbytes + self.values.nbytes + sum(c.nbytes for c in self.candidates))


@dataclass
class RegionFinished:
    patch: WindowPatch


@dataclass
class RestoreResult:
    """What a restore job returns: one patch per filled region, in fill order, and the warnings."""

    patches: list[WindowPatch]
    warnings: list[str]  # regions left unfilled, and why
    options: RestoreOptions = field(default_factory=RestoreOptions)
    face_box: Bounds | None = None  # the face frame the face model filled from, after box refinement

    @property
    def hole_pixels(self) -> int:
        return sum(p.hole_pixels for p in self.patches)


Event = RegionStarted | RegionProgress | RegionFinished
