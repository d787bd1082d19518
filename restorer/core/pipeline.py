"""Whole-photo restoration: split the mask into regions, fill each from its context window, blend.

``restore()`` checks its input, plans every region (method, reason, window) and returns a job
generator (see docs/architecture.md) that yields RegionStarted, RegionProgress... and
RegionFinished per region and returns a RestoreResult, or None when stopped. The contract
between this module, the CLI and the GUI is written down in notes/pipeline_api.md.

Per region, a model method crops the region's window from the photo as restored so far,
reflect-pads it to a square if the photo is too small for a square window, resamples it to
the model's resolution (area averaging down; the hole resampled so that a model pixel with any
damage in it counts as hole), fills it (latent optimisation or a Context Encoder), brings the
result back to window size (bicubic) and Poisson-blends it at full resolution into the hole.
Grey and toned prints are fitted on luminance and the result is re-toned with the print's
own tone. Only hole pixels are ever written, so everything outside the mask stays bit-identical.

Holes of other regions that are not filled yet (later ones, or ones too large to fill) are
treated as unknown inside a window: no method copies or fits damaged pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from restorer import __version__
from restorer.core import weights
from restorer.core.context_fill import fill_with_context_encoder
from restorer.core.errors import RestorerError
from restorer.core.fills import diffusion_fill, patch_fill
from restorer.core.imageio import Photo, from_float, to_float
from restorer.core.latent import LatentConfig, LatentProgress, optimise_latent, resolve_device
from restorer.core.poisson import poisson_blend
from restorer.core.regions import (
    Box,
    Region,
    RegionMap,
    box_inside,
    box_slices,
    box_window,
    classic_window,
    find_regions,
    model_window,
    photo_problem,
    union_bbox,
    window_problem,
)
from restorer.core.tone import Tone, ToneCurve, detect_tone, fit_tone_curve, luminance

METHODS = ("auto", "latent", "context-encoder", "classic")
MODEL_METHODS = {"dcgan": "latent", "context-encoder": "context-encoder"}
THIN_WIDTH = 6.0
"""px: a region at most this wide at its widest point is a scratch or crack, filled by diffusion."""
DIFFUSION_MARGIN = 4  # diffusion reads only the hole's edge; a few pixels more keep the window tidy
PATCH_MARGIN = 16  # at least this much context around a patch-filled hole, more for larger holes


@dataclass
class RestoreOptions:
    method: str = "auto"  # "auto" | "latent" | "context-encoder" | "classic"
    model: str | None = None  # model name or path; None = the default model for the method
    iterations: int = 1500  # latent only
    starts: int = 16  # latent only: K random starts optimised as one batch
    lam: float = 0.003  # latent only: prior weight λ
    seed: int = 0
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    box: tuple[int, int, int, int] | None = None  # x, y, w, h: user-given context window (a face)
    blend: bool = True  # Poisson-blend generated content (False = paste, for evaluation)
    preview_all: bool = False  # include every start's image in progress events


@dataclass
class RegionStarted:
    index: int  # 0-based region number
    count: int  # number of regions to fill
    box: Box  # x, y, w, h of the context window in photo coordinates
    method: str  # "latent", "context-encoder", "classic-diffusion", "classic-patch"
    reason: str  # why this method (most useful with --method auto)


@dataclass
class RegionProgress:
    index: int
    iteration: int
    total: int
    loss: float  # best start's total loss
    context_loss: float
    prior_loss: float
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
class RegionResult:
    index: int
    box: Box  # the context window
    hole: np.ndarray  # bool (h, w): the region's hole inside the window
    method: str
    model: str | None  # model name
    params: dict  # iterations, starts, lambda, seed, device, model_sha256, tone, ...
    candidates: list[np.ndarray]  # window-size float32 (h, w, C) in [0, 1], best first
    losses: list[float]  # same order; 0.0 for methods without an objective
    chosen: int = 0
    reason: str = ""


@dataclass
class RegionFinished:
    result: RegionResult


@dataclass
class RestoreResult:
    photo: Photo  # the restored photo (same size, dtype, alpha, ICC as the input)
    regions: list[RegionResult]
    warnings: list[str]  # regions left unfilled, and why


Event = RegionStarted | RegionProgress | RegionFinished


@dataclass
class _Task:
    """One fill: a region (or the regions sharing a face box) with its method and window."""

    labels: tuple[int, ...]
    window: Box
    method: str
    reason: str


# --- checking and planning ---------------------------------------------------------------------


def _check(photo: Photo, mask: np.ndarray, options: RestoreOptions) -> np.ndarray:
    if not isinstance(mask, np.ndarray) or mask.dtype != bool:
        raise RestorerError("the damage mask must be a bool array (True = damaged)")
    width, height = photo.size
    if mask.shape != (height, width):
        shape = "x".join(map(str, mask.shape[::-1]))
        raise RestorerError(f"the mask is {shape} but the photo is {width}x{height}")
    if options.method not in METHODS:
        raise RestorerError(f"unknown method {options.method!r} (use one of {', '.join(METHODS)})")
    if options.iterations < 1:
        raise RestorerError(f"iterations must be at least 1, not {options.iterations}")
    if options.starts < 1:
        raise RestorerError(f"starts must be at least 1, not {options.starts}")
    if not (math.isfinite(options.lam) and options.lam >= 0):
        raise RestorerError(f"λ (lambda) must be a finite number >= 0, not {options.lam}")
    if options.seed < 0:
        raise RestorerError(f"the seed must be >= 0, not {options.seed}")
    if options.box is not None:
        check_box(options.box, photo.size)
    return mask


def check_box(box: tuple[int, int, int, int], photo_size: tuple[int, int]) -> None:
    """RestorerError unless ``box`` (x, y, w, h) is non-empty and lies inside the photo."""
    if len(box) != 4:
        raise RestorerError(f"a box is x,y,w,h (4 numbers), not {box}")
    x, y, w, h = box
    text = ",".join(map(str, box))
    if w < 1 or h < 1:
        raise RestorerError(f"the box {text} is empty: width and height must be at least 1")
    if x < 0 or y < 0 or x + w > photo_size[0] or y + h > photo_size[1]:
        raise RestorerError(f"the box {text} reaches outside the {photo_size[0]}x{photo_size[1]} photo")


_MODEL_CACHE: dict[tuple, weights.LoadedModel] = {}


def _load_model(path: Path, device: torch.device) -> weights.LoadedModel:
    """Load (and checksum) a model once per file version and device; batches reuse it."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, str(device))
    if key not in _MODEL_CACHE:
        _MODEL_CACHE.clear()  # keep one model in memory
        _MODEL_CACHE[key] = weights.load_model(path, device)
    return _MODEL_CACHE[key]


def _find_model(options: RestoreOptions, wanted: bool) -> tuple[weights.LoadedModel | None, str]:
    """The model the plan needs, or (None, why not) when --method auto can do without one."""
    if options.method == "classic" or not wanted:
        return None, ""
    kind = "context-encoder" if options.method == "context-encoder" else "dcgan"
    if options.model is not None:
        path = weights.resolve_model(options.model)
    else:
        try:
            path = weights.default_model(kind)
        except RestorerError:
            if options.method != "auto":
                raise
            return None, f"no face model installed ({weights.DEFAULT_MODELS[kind]})"
    model = _load_model(path, resolve_device(options.device))
    if options.method != "auto" and MODEL_METHODS.get(model.kind) != options.method:
        raise RestorerError(
            f"model {model.name} is a {model.kind} model; --method {options.method} needs a {kind} model"
        )
    return model, ""


def _choose(
    region: Region, in_box: bool, options: RestoreOptions, model: weights.LoadedModel | None, no_model: str
) -> tuple[str, str]:
    """(method, reason) for one region."""
    width = f"max width {region.max_width:.0f} px"
    if options.method in ("latent", "context-encoder"):
        return options.method, f"--method {options.method}"
    if region.max_width <= THIN_WIDTH:
        return "classic-diffusion", f"thin scratch ({width})"
    if options.method == "classic":
        return "classic-patch", f"wide region ({width})"
    if not in_box:
        return "classic-patch", f"wide region outside a face box ({width})"
    if model is None:
        return "classic-patch", f"inside the face box, but {no_model}"
    return MODEL_METHODS[model.kind], f"compact hole inside the face box ({width})"


def _window(
    method: str, region: Region, photo_size: tuple[int, int], model: weights.LoadedModel | None
) -> tuple[Box, str | None]:
    """The region's window for ``method``, and why it cannot be filled from it (or None)."""
    if method == "classic-diffusion":  # diffusion reads only the hole's edge: any window will do
        return classic_window(region.bbox, photo_size, DIFFUSION_MARGIN), None
    if method == "classic-patch":
        margin = max(PATCH_MARGIN, *region.bbox[2:])
        window = classic_window(region.bbox, photo_size, margin)
        return window, window_problem(region.pixels, window)
    window = model_window(region.bbox, photo_size, model.resolution)
    return window, photo_problem(region.bbox, photo_size) or window_problem(region.pixels, window)


def _plan(
    rmap: RegionMap, photo_size: tuple[int, int], options: RestoreOptions
) -> tuple[list[_Task], list[str], weights.LoadedModel | None]:
    box = options.box
    in_box = [box is not None and box_inside(r.bbox, box) for r in rmap.regions]
    wants_model = options.method in ("latent", "context-encoder") or any(
        inside and r.max_width > THIN_WIDTH for r, inside in zip(rmap.regions, in_box, strict=True)
    )
    model, no_model = _find_model(options, wants_model)
    tasks: list[_Task] = []
    warnings: list[str] = []
    face_task: _Task | None = None  # every model-filled region inside the box shares one window
    for number, (region, inside) in enumerate(zip(rmap.regions, in_box, strict=True), start=1):
        method, reason = _choose(region, inside, options, model, no_model)
        x, y, w, h = region.bbox
        where = f"region {number} (x={x}, y={y}, {w}x{h} px)"
        if method in MODEL_METHODS.values() and inside and box is not None:
            if face_task is None:
                face_task = _Task((region.label,), box_window(box, photo_size), method, reason)
                tasks.append(face_task)
            else:
                face_task.labels += (region.label,)
            continue
        window, problem = _window(method, region, photo_size, model)
        if problem:
            warnings.append(f"{where}: {problem}; not filled")
        else:
            tasks.append(_Task((region.label,), window, method, reason))
    if face_task is not None:
        pixels = sum(r.pixels for r in rmap.regions if r.label in face_task.labels)
        problem = window_problem(pixels, face_task.window)
        if problem:
            tasks.remove(face_task)
            bbox = union_bbox([r.bbox for r in rmap.regions if r.label in face_task.labels])
            warnings.append(f"the damage inside the face box ({bbox[2]}x{bbox[3]} px): {problem}; not filled")
    return tasks, warnings, model


# --- resampling between window and model -------------------------------------------------------


@dataclass(frozen=True)
class _Resampler:
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

    def image(self, window: np.ndarray) -> torch.Tensor:
        """float (h, w, C) in [0, 1] -> (C, R, R) in [-1, 1]."""
        x = torch.from_numpy(np.ascontiguousarray(self._square(window))).permute(2, 0, 1)[None]
        size = (self.resolution, self.resolution)
        if self.side > self.resolution:
            x = F.interpolate(x, size=size, mode="area")
        elif self.side < self.resolution:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return (x[0] * 2 - 1).clamp(-1, 1)

    def hole(self, hole: np.ndarray) -> torch.Tensor:
        """bool (h, w) -> bool (R, R): a model pixel with any hole in it is hole."""
        x = torch.from_numpy(self._square(hole).astype(np.float32))[None, None]
        return F.interpolate(x, size=(self.resolution, self.resolution), mode="area")[0, 0] > 0

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
class _Colour:
    """How a model's channels map to the photo's: as they are, or luminance re-toned by the print."""

    channels: int  # the photo's
    curve: ToneCurve | None  # None: colour photo, colour model

    def apply(self, generated: np.ndarray) -> np.ndarray:
        if self.curve is not None:
            return self.curve.apply(luminance(generated), self.channels)
        return generated


# --- filling one region --------------------------------------------------------------------------


@dataclass
class _Context:
    photo: Photo
    pixels: np.ndarray  # the photo as restored so far
    pending: np.ndarray  # bool (H, W): damage not filled yet
    rmap: RegionMap
    tone: Tone
    options: RestoreOptions
    model: weights.LoadedModel | None
    should_stop: Callable[[], bool] | None


def _model_inputs(
    ctx: _Context, task: _Task, nc: int, resolution: int
) -> tuple[torch.Tensor, torch.Tensor, _Resampler, _Colour, bool]:
    """The window as the model sees it; its hole; the way back; and whether to fit luminance."""
    slices = box_slices(task.window)
    window = to_float(ctx.pixels[slices])
    unknown = ctx.pending[slices]
    channels = window.shape[2]
    fit_luminance = ctx.tone.monochrome or nc == 1
    curve = fit_tone_curve(window, ~unknown) if fit_luminance else None
    resampler = _Resampler(window.shape[0], window.shape[1], resolution)
    if channels == 3 and nc == 1:
        window = luminance(window)[..., None]
    elif channels == 1 and nc == 3 and not fit_luminance:
        window = np.repeat(window, 3, axis=2)
    return (
        resampler.image(window),
        resampler.hole(unknown),
        resampler,
        _Colour(channels, curve),
        fit_luminance,
    )


def _fill_latent(
    ctx: _Context, index: int, task: _Task
) -> Generator[RegionProgress, None, tuple[list[np.ndarray], list[float], dict] | None]:
    model = ctx.model
    generator, discriminator = model.nets["generator"], model.nets["discriminator"]
    image, hole, resampler, colour, fit_luminance = _model_inputs(ctx, task, model.arch.nc, model.resolution)
    opts = ctx.options
    config = LatentConfig(
        iterations=opts.iterations,
        starts=opts.starts,
        lam=opts.lam,
        seed=opts.seed + index,  # distinct starts per region, reproducible per photo
        device=opts.device,
        luminance=fit_luminance,
        preview_all=opts.preview_all,
    )
    job = optimise_latent(generator, discriminator, image, hole, config, ctx.should_stop)

    def back(img: torch.Tensor) -> np.ndarray:
        return colour.apply(resampler.window(img))

    def event(p: LatentProgress) -> RegionProgress:
        return RegionProgress(
            index,
            p.iteration,
            p.total,
            float(p.losses[p.best]),
            float(p.context_losses[p.best]),
            float(p.prior_losses[p.best]),
            lambda: back(p.images[p.best]),
            (lambda: [back(img) for img in p.images]) if opts.preview_all else None,
        )

    while True:
        try:
            progress = next(job)
        except StopIteration as stop:
            result = stop.value
            break
        yield event(progress)
    if result is None:
        return None
    candidates = [back(img) for img in result.images]
    params = {
        "iterations": opts.iterations,
        "starts": opts.starts,
        "lambda": opts.lam,
        "lr": config.lr,
        "seed": config.seed,
        "device": str(resolve_device(opts.device)),
        "start_ids": list(result.start_ids),
    }
    return candidates, [float(v) for v in result.losses], params


def _fill_context_encoder(
    ctx: _Context, index: int, task: _Task
) -> Generator[RegionProgress, None, tuple[list[np.ndarray], list[float], dict] | None]:
    model = ctx.model
    nc = model.arch.nc
    image, hole, resampler, colour, _ = _model_inputs(ctx, task, nc, model.resolution)
    if image.shape[0] == 1 and nc == 3:  # a grey print goes in as grey RGB
        image = image.expand(3, -1, -1)
    prediction = fill_with_context_encoder(model.nets["context_encoder"], image, hole)
    candidate = colour.apply(resampler.window(prediction))
    yield RegionProgress(index, 1, 1, 0.0, 0.0, 0.0, lambda: candidate)
    return [candidate], [0.0], {"device": str(resolve_device(ctx.options.device))}


def _fill_classic(
    ctx: _Context, index: int, task: _Task
) -> Generator[RegionProgress, None, tuple[list[np.ndarray], list[float], dict] | None]:
    slices = box_slices(task.window)
    window = to_float(ctx.pixels[slices])
    # Every pending hole in the window is filled, so no damaged pixel is used as a source;
    # only this region's pixels are kept.
    unknown = ctx.pending[slices]
    if task.method == "classic-diffusion":
        candidate, params = diffusion_fill(window, unknown), {}
    else:
        seed = ctx.options.seed + index  # as for latent starts: distinct per region, reproducible
        candidate, params = patch_fill(window, unknown, seed=seed), {"seed": seed}
    yield RegionProgress(index, 1, 1, 0.0, 0.0, 0.0, lambda: candidate)
    return [candidate], [0.0], params


_FILLERS = {
    "latent": _fill_latent,
    "context-encoder": _fill_context_encoder,
    "classic-diffusion": _fill_classic,
    "classic-patch": _fill_classic,
}


def compose(
    window: np.ndarray, hole: np.ndarray, candidate: np.ndarray, method: str, blend: bool
) -> np.ndarray:
    """The window's pixels (h, w, C) uint8/uint16 with ``candidate`` put into ``hole``.

    Generated content is Poisson-blended (its gradients, the photo's colours at the hole's edge);
    classic fills already meet the edge and are pasted. Pixels outside ``hole`` are the window's.
    """
    if blend and not method.startswith("classic"):
        filled = poisson_blend(window, candidate, hole)
    else:
        filled = from_float(candidate, window.dtype)
    out = window.copy()
    out[hole] = filled[hole]
    return out


# --- the job ---------------------------------------------------------------------------------------


def restore(
    photo: Photo,
    mask: np.ndarray,
    options: RestoreOptions = RestoreOptions(),
    should_stop: Callable[[], bool] | None = None,
) -> Generator[Event, None, RestoreResult | None]:
    """Check the input and plan the work now (RestorerError on bad input); return the job.

    The job yields RegionStarted, RegionProgress... and RegionFinished for each region and
    returns the RestoreResult, or None when ``should_stop()`` turns true. An empty mask gives a
    job that returns the photo unchanged at once.
    """
    mask = _check(photo, mask, options)
    if not mask.any():
        return _no_work(photo)
    rmap = find_regions(mask)
    tasks, warnings, model = _plan(rmap, photo.size, options)
    tone = detect_tone(photo.pixels, ~mask)
    ctx = _Context(photo, photo.pixels.copy(), mask.copy(), rmap, tone, options, model, should_stop)
    return _run(ctx, tasks, warnings)


def _no_work(photo: Photo) -> Generator[Event, None, RestoreResult]:
    return RestoreResult(photo, [], [])
    yield  # a generator that returns at once


def _run(
    ctx: _Context, tasks: list[_Task], warnings: list[str]
) -> Generator[Event, None, RestoreResult | None]:
    results: list[RegionResult] = []
    for index, task in enumerate(tasks):
        if ctx.should_stop is not None and ctx.should_stop():
            return None
        yield RegionStarted(index, len(tasks), task.window, task.method, task.reason)
        filled = yield from _FILLERS[task.method](ctx, index, task)
        if filled is None:
            return None
        candidates, losses, params = filled
        slices = box_slices(task.window)
        hole = ctx.rmap.hole(task.labels, task.window)
        uses_model = task.method in MODEL_METHODS.values()
        if uses_model:
            params.update(model_sha256=ctx.model.sha256, resolution=ctx.model.resolution)
        params.update(tone=ctx.tone.kind, blend=ctx.options.blend and uses_model)
        window = ctx.pixels[slices]
        window[...] = compose(window, hole, candidates[0], task.method, ctx.options.blend)
        ctx.pending[slices] &= ~hole
        result = RegionResult(
            index=index,
            box=task.window,
            hole=hole,
            method=task.method,
            model=ctx.model.name if uses_model else None,
            params=params,
            candidates=candidates,
            losses=losses,
            reason=task.reason,
        )
        results.append(result)
        yield RegionFinished(result)
    return RestoreResult(ctx.photo.with_pixels(ctx.pixels), results, warnings)


# --- after the job -----------------------------------------------------------------------------------


def candidate_window(photo: Photo, region: RegionResult, candidate: int, blend: bool = True) -> np.ndarray:
    """The region's window of ``photo`` with candidate ``candidate`` in its hole: (h, w, C) pixels."""
    if not 0 <= candidate < len(region.candidates):
        raise RestorerError(
            f"region {region.index + 1} has {len(region.candidates)} candidate(s), "
            f"not a number {candidate + 1}"
        )
    window = photo.pixels[box_slices(region.box)]
    return compose(window, region.hole, region.candidates[candidate], region.method, blend)


def reblend(photo: Photo, region: RegionResult, candidate: int, blend: bool = True) -> Photo:
    """``photo`` (the restored photo) with another candidate in one region; only its hole changes."""
    pixels = photo.pixels.copy()
    pixels[box_slices(region.box)] = candidate_window(photo, region, candidate, blend)
    region.chosen = candidate
    return photo.with_pixels(pixels)


def _options_record(options: RestoreOptions) -> dict:
    record = asdict(options)
    record["lambda"] = record.pop("lam")
    record["box"] = list(options.box) if options.box else None
    return record


def intervention_record(result: RestoreResult, options: RestoreOptions) -> dict:
    """A JSON-able account of what was done, for a conservator's file."""
    photo = result.photo
    regions = []
    for r in result.regions:
        params = dict(r.params)
        sha = params.pop("model_sha256", None)
        regions.append(
            {
                "index": r.index,
                "window": list(r.box),
                "hole_pixels": int(r.hole.sum()),
                "method": r.method,
                "reason": r.reason,
                "model": None if r.model is None else {"name": r.model, "sha256": sha},
                "parameters": params,
                "candidates": len(r.candidates),
                "chosen": r.chosen,
                "chosen_loss": r.losses[r.chosen] if r.losses else None,
            }
        )
    return {
        "restorer_version": __version__,
        "date": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
        "photo": {
            "source": str(photo.source) if photo.source is not None else None,
            "size": list(photo.size),
            "channels": photo.pixels.shape[2],
            "bit_depth": photo.bit_depth,
        },
        "options": _options_record(options),
        "hole_pixels": int(sum(int(r.hole.sum()) for r in result.regions)),
        "regions": regions,
        "warnings": list(result.warnings),
    }
