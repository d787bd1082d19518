"""What the worker thread needs besides Qt: restore settings, the out-of-memory retry plan,
preview frames and one-line error messages (no Qt, no torch at import)."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from restorer.core.errors import RestorerError
from restorer.core.maskops import Bounds

log = logging.getLogger(__name__)

METHODS = ("auto", "latent", "context-encoder", "classic")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class RestoreSettings:
    """The restore panel's choices; mirrors pipeline.RestoreOptions without importing it (and torch)."""

    method: str = "auto"
    model: str | None = None
    iterations: int = 1500
    starts: int = 16
    lam: float = 0.003
    seed: int = 0
    device: str = "auto"
    box: tuple[int, int, int, int] | None = None

    def to_options(self, options_class: type, **overrides: object):
        """Build the engine's options object, passing only the fields it knows."""
        known = {f.name for f in dataclasses.fields(options_class)}
        values = {**dataclasses.asdict(self), **overrides}
        if values.get("box") is not None:
            values["box"] = tuple(int(v) for v in values["box"])
        return options_class(**{k: v for k, v in values.items() if k in known})


@dataclass(frozen=True)
class Attempt:
    starts: int
    device: str
    notice: str = ""  # what to tell the user about why this attempt differs from the request


def retry_plan(settings: RestoreSettings, halvings: int = 2) -> list[Attempt]:
    """Attempts after CUDA runs out of memory: fewer starts (same GPU) a couple of times, then the CPU."""
    plan = [Attempt(settings.starts, settings.device)]
    if settings.device == "cpu":
        return plan
    starts = settings.starts
    for _ in range(halvings):
        if starts <= 1:
            break
        starts = max(1, starts // 2)
        plan.append(Attempt(starts, settings.device, f"GPU out of memory: retrying with {starts} starts"))
    cpu_notice = f"GPU out of memory: retrying on the CPU with {starts} starts (slower)"
    plan.append(Attempt(starts, "cpu", cpu_notice))
    return plan


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA out-of-memory, however the engine surfaced it (torch's class, a RuntimeError, a wrapped error)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower():
            return not isinstance(exc, MemoryError)  # host RAM exhaustion is not retried on a GPU
        exc = exc.__cause__ or exc.__context__
    return False


def describe_error(exc: BaseException) -> str:
    """One line for the user; unexpected errors are also logged with their traceback."""
    if isinstance(exc, RestorerError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "not enough memory for this operation; close other programs or use a smaller photo"
    if is_out_of_memory(exc):
        return "the GPU ran out of memory, even with fewer starts; try the CPU device"
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    log.error("unexpected error", exc_info=exc)
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"unexpected error ({type(exc).__name__}{': ' + text if text else ''})"


FINISHED = -1  # PreviewFrame.iteration of a finished region's fill


@dataclass(frozen=True)
class PreviewFrame:
    """The current iterate of one region as an RGBA image, opaque only over the region's hole."""

    region: int
    bounds: Bounds
    rgba: np.ndarray  # uint8 (h, w, 4), straight alpha
    iteration: int  # the optimisation step shown, or FINISHED


def float_to_u8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def window_of(mask: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The (h, w) window ``box`` (x, y, w, h) of a full-photo mask; outside the photo counts as False."""
    bounds = Bounds.from_xywh(box)
    clipped = bounds.intersect(Bounds.of_shape(mask.shape))
    out = np.zeros((bounds.height, bounds.width), bool)
    out[clipped.shifted(-bounds.top, -bounds.left).slices] = mask[clipped.slices]
    return out


def preview_frame(
    region: int,
    box: tuple[int, int, int, int],
    image: np.ndarray,
    hole: np.ndarray,
    photo_shape: tuple[int, ...],
    iteration: int,
) -> PreviewFrame:
    """A float image (h, w, C) of the window ``box``, opaque over ``hole`` (h, w) only, clipped to
    the photo."""
    bounds = Bounds.from_xywh(box)
    clipped = bounds.intersect(Bounds.of_shape(photo_shape[:2]))
    inner = clipped.shifted(-bounds.top, -bounds.left)
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    rgb = float_to_u8(image[inner.slices])
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
