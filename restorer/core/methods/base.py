"""What every fill method is: a name, the model it needs, how it picks its window, and a fill job.

A method module in this package defines one :class:`FillMethod` subclass and an instance of it
named ``METHOD``; the registry (``restorer.core.methods``) finds it, and from then on the pipeline,
the command line, the window's method list, ``restorer eval`` and the benchmarks offer it. Method
modules are imported at every start, so they import nothing heavy (torch) at module level.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from restorer.core.errors import RestorerError
from restorer.core.jobs import relay
from restorer.core.types import Bounds, RegionProgress, RestoreOptions

if TYPE_CHECKING:  # regions needs scipy: the registry is read at every start, so it stays unloaded
    from restorer.core.regions import Region


@dataclass
class FillRequest:
    """One window to fill, as the pipeline hands it to a method."""

    index: int  # the region's number in this restore, for progress events
    window: np.ndarray  # float32 (h, w, C) in [0, 1]: the photo as restored so far
    unknown: np.ndarray  # bool (h, w): pixels not to trust (this hole and any damage not filled yet)
    seed: int  # distinct per region, reproducible per photo
    options: RestoreOptions = field(default_factory=RestoreOptions)
    tone: Any = None  # restorer.core.tone.Tone of the whole photo; None = colour
    model: Any = None  # restorer.core.weights.LoadedModel when the method needs one
    should_stop: Callable[[], bool] | None = None
    # The photo's ICC profile (None = sRGB): learned methods convert the window to sRGB, the space
    # their networks were trained in, and their fill back (restorer.core.colour).
    icc_profile: bytes | None = None


@dataclass
class FrameBatch:
    """Model-size frames for evaluation, filled in one call: frame i uses seed ``first_seed + i``."""

    frames: np.ndarray  # float32 (N, R, R, C) in [0, 1]
    holes: np.ndarray  # bool (N, R, R)
    options: RestoreOptions = field(default_factory=RestoreOptions)
    model: Any = None
    first_seed: int = 0
    should_stop: Callable[[], bool] | None = None


@dataclass
class FillOutput:
    candidates: list[np.ndarray]  # window-size float32 (h, w, C) in [0, 1], best first
    losses: list[float]  # same order; 0.0 for methods without an objective
    params: dict = field(default_factory=dict)  # what the record needs to reproduce the fill
    warnings: list[str] = field(default_factory=list)  # for the user: what the fill could not do, and why


FillJob = Generator[RegionProgress, None, FillOutput | None]


class FillMethod:
    """Base class of fill methods; subclasses set the class attributes and implement ``fill``."""

    name: ClassVar[str]  # registry key, CLI choice, record entry
    label: ClassVar[str]  # what the window's method list shows
    summary: ClassVar[str]  # one line for --help and tooltips
    order: ClassVar[int] = 100  # position in lists: classical fills first, then learned ones
    model_kind: ClassVar[str | None] = None  # the weights kind it needs ("dcgan", ...), None = no model
    blends: ClassVar[bool] = (
        False  # generated content is Poisson-blended; fills that meet the edge are pasted
    )
    margin: ClassVar[int] = 16  # px of context around the hole for a classical window
    # Fills that read only the ring around the hole (diffusion, TV) can fill any share of their
    # window; fills that copy or infer content from the window need enough of it undamaged.
    edge_only: ClassVar[bool] = False

    def window(
        self, region: Region, photo_size: tuple[int, int], resolution: int
    ) -> tuple[Bounds, str | None]:
        """The region's context window, and why it cannot be filled from it (or None).

        Model methods take a square window about twice the hole (``resolution`` is the model's);
        classical ones the hole's bounding box plus ``margin``.
        """
        from restorer.core.regions import classic_window, model_window, photo_problem, window_problem

        if self.model_kind is not None:
            window = model_window(region.bbox, photo_size, resolution)
            return window, photo_problem(region.bbox, photo_size) or window_problem(region.pixels, window)
        window = classic_window(region.bbox, photo_size, self.margin)
        return window, None if self.edge_only else window_problem(region.pixels, window)

    def model_problem(self, model: Any) -> str | None:
        """Why ``model`` (of ``model_kind``) cannot serve this method, or None."""
        return None

    def fill(self, request: FillRequest) -> FillJob:
        """Yield progress, return the candidates (or None when ``request.should_stop()`` turned true)."""
        raise NotImplementedError

    def fill_frames(self, batch: FrameBatch) -> Generator[int, None, np.ndarray | None]:
        """Fill a batch of model-size frames for evaluation, each as a one-frame run would.

        Yields iterations (or frames done) and returns the best candidate of every frame, float32
        (N, R, R, C). This default fills frame by frame; learned methods override it with one
        batched pass.
        """
        out = np.empty_like(batch.frames, dtype=np.float32)
        for i, (frame, hole) in enumerate(zip(batch.frames, batch.holes, strict=True)):
            seed = batch.first_seed + i
            request = FillRequest(i, frame, hole, seed, batch.options, None, batch.model, batch.should_stop)
            filled = yield from relay(self.fill(request), lambda progress: progress.iteration)
            if filled is None:
                return None
            out[i] = filled.candidates[0]
        return out


def single(
    request: FillRequest, candidate: np.ndarray, params: dict | None = None, warnings: list[str] | None = None
) -> FillJob:
    """The job of a one-shot fill: one progress event (with the result as preview), one candidate."""
    yield RegionProgress(request.index, 1, 1, _preview=lambda: candidate)
    return FillOutput([candidate], [0.0], params or {}, warnings or [])


def check_method_class(method: object, module: str) -> FillMethod:
    """The registry's check of a method module's ``METHOD``: a clear message for a broken plug-in."""
    if not isinstance(method, FillMethod):
        raise RestorerError(f"{module}.METHOD is not a FillMethod")
    for attribute in ("name", "label", "summary"):
        if not isinstance(getattr(method, attribute, None), str) or not getattr(method, attribute):
            raise RestorerError(f"{module}.METHOD has no {attribute}")
    return method
