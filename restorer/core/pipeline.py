"""Whole-photo restoration: split the mask into regions, fill each from its context window.

``restore()`` checks its input, plans every region (method, reason, window) and returns a job
generator (see docs/architecture.md) that yields RegionStarted, RegionProgress... and
RegionFinished per region and returns a RestoreResult (one WindowPatch per region), or None when
stopped. The job keeps one working copy of the photo with the patches of earlier regions applied,
and each window is cropped from it, so a later region sees the damage earlier ones filled at the
cost of its own window; the caller's photo is never written, and only hole pixels are ever
patched, so everything outside the mask stays bit-identical wherever a patch is applied.

Methods come from the registry (restorer.core.methods); ``auto`` and ``classic`` are routers that
pick one per region. Holes of other regions that are not filled yet (later ones, or ones too large
to fill) are treated as unknown inside a window: no method copies or fits damaged pixels.

This module imports no torch: a model is loaded only when the plan needs one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from restorer.core import methods
from restorer.core.box_refine import Refinement, can_refine, refine_box
from restorer.core.colour import working_space
from restorer.core.errors import RestorerError
from restorer.core.framing import FACE_SHARE, face_share
from restorer.core.grain import MIN_HOLE_PIXELS
from restorer.core.imageio import Photo
from restorer.core.maskops import mask_bounds
from restorer.core.methods import FillMethod, FillRequest
from restorer.core.methods.base import single
from restorer.core.patches import add_grain, apply_patch, compose
from restorer.core.pixels import to_float
from restorer.core.regions import Region, RegionMap, box_window, find_regions, union_bbox, window_problem
from restorer.core.tone import Tone, detect_tone
from restorer.core.types import (
    MAX_STARTS,
    Bounds,
    Event,
    RegionFinished,
    RegionStarted,
    RestoreOptions,
    RestoreResult,
    WindowPatch,
    check_box,
)

_Refine = Callable[[Bounds, Bounds, Any], Refinement]
"""(user's square frame, damage it must hold, face model) -> the refinement."""

THIN_WIDTH = 6.0
"""px: a region at most this wide at its widest point is a scratch or crack, filled by diffusion."""
THIN_METHOD, WIDE_METHOD, FACE_MODEL_KIND = "diffusion", "patch", "dcgan"


@dataclass
class _Task:
    """One fill: a region (or the regions sharing a face box) with its method and window."""

    labels: tuple[int, ...]
    window: Bounds
    method: FillMethod
    reason: str
    refined: Refinement | None = None  # the face task's: how its frame was refined from the user's box


LATENT_BYTES_PER_START = 2_400_000  # measured peak RSS per start (128 vs 8 starts, face64, CPU)

# --- checking and planning ---------------------------------------------------------------------


def _check(photo: Photo, mask: np.ndarray, options: RestoreOptions) -> None:
    if not isinstance(mask, np.ndarray) or mask.dtype != bool:
        raise RestorerError("the damage mask must be a bool array (True = damaged)")
    width, height = photo.size
    if mask.shape != (height, width):
        shape = "x".join(map(str, mask.shape[::-1]))
        raise RestorerError(f"the mask is {shape} but the photo is {width}x{height}")
    if options.method not in methods.choices():
        raise RestorerError(f"unknown method {options.method!r} (use one of {', '.join(methods.choices())})")
    if options.iterations < 1:
        raise RestorerError(f"iterations must be at least 1, not {options.iterations}")
    if not 1 <= options.starts <= MAX_STARTS:
        raise RestorerError(f"starts must be between 1 and {MAX_STARTS}, not {options.starts}")
    if not (math.isfinite(options.lam) and options.lam >= 0):
        raise RestorerError(f"λ (lambda) must be a finite number >= 0, not {options.lam}")
    if options.seed < 0:
        raise RestorerError(f"the seed must be >= 0, not {options.seed}")
    if options.box is not None:
        check_box(options.box, photo.size)
    _check_memory(photo, options)


def job_memory(photo: Photo, options: RestoreOptions) -> int:
    """Bytes a restore needs at its peak, roughly: the job's working copy of the photo and the
    caller's restored copy, the region labels (int32) and pending mask per pixel, the largest
    windows' float copies, and for the latent search its K starts (measured: ~2.2 MB a start)."""
    width, height = photo.size
    pixels = width * height
    total = 2 * photo.pixels.nbytes + 6 * pixels + 16 * min(pixels, 2048 * 2048) * photo.pixels.shape[-1]
    if options.method not in ("classic", "diffusion", "tv", "patch"):
        total += options.starts * LATENT_BYTES_PER_START
    return total


def _check_memory(photo: Photo, options: RestoreOptions) -> None:
    available = available_memory()
    needed = job_memory(photo, options)
    if available is not None and needed > available:
        raise RestorerError(
            f"this restore needs about {needed / 2**30:.1f} GiB of memory and {available / 2**30:.1f} GiB "
            "is free; close other programs, use fewer --starts, or restore a crop of the photo"
        )


def available_memory() -> int | None:
    """Bytes the system can still give (MemAvailable on Linux); None where it cannot tell."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _find_model(options: RestoreOptions, wanted: bool) -> tuple[Any, str]:
    """The model the plan needs (a weights.LoadedModel), or (None, why not) when auto can do without."""
    forced = options.method not in methods.ROUTERS
    kind = methods.get(options.method).model_kind if forced else FACE_MODEL_KIND
    if options.method == "classic" or not wanted or kind is None:
        return None, ""
    from restorer.core import weights
    from restorer.core.latent import resolve_device

    if options.model is not None:
        path = weights.resolve_model(options.model)
    else:
        try:
            path = weights.default_model(kind)
        except RestorerError:
            if forced:
                raise
            return None, f"no face model installed ({weights.DEFAULT_MODELS[kind]})"
    model = weights.load_cached(path, resolve_device(options.device))
    if forced and model.kind != kind:
        raise RestorerError(
            f"model {model.name} is a {model.kind} model; --method {options.method} needs a {kind} model"
        )
    method = methods.get(options.method) if forced else methods.method_for_model(model.kind)
    problem = method.model_problem(model)
    if problem:
        raise RestorerError(problem)
    return model, ""


def _choose(
    region: Region, on_face: float | None, options: RestoreOptions, model: Any, no_model: str
) -> tuple[str, str]:
    """(method name, reason) for one region; ``on_face``: its share on the face box's face oval, or
    None outside a face box."""
    width = f"max width {region.max_width:.0f} px"
    if options.method not in methods.ROUTERS:
        return options.method, f"--method {options.method}"
    if region.max_width <= THIN_WIDTH:
        return THIN_METHOD, f"thin scratch ({width})"
    if options.method == "classic":
        return WIDE_METHOD, f"wide region ({width})"
    if on_face is None:
        return WIDE_METHOD, f"wide region outside a face box ({width})"
    if on_face < FACE_SHARE:
        return (
            WIDE_METHOD,
            f"inside the face box but over hair, clothes or background ({on_face:.0%} on the face)",
        )
    if model is None:
        return WIDE_METHOD, f"inside the face box, but {no_model}"
    return methods.method_for_model(model.kind).name, f"compact hole inside the face box ({width})"


def _refiner(photo: Photo, mask: np.ndarray, tone: Tone, options: RestoreOptions) -> _Refine | None:
    """The face box's refinement for this photo (None when the options turn it off)."""
    if not options.refine_box or options.box is None:
        return None
    return lambda frame, holds, model: refine_box(
        photo.pixels, mask, frame, holds, model, options, tone, photo.icc_profile
    )


def _refined(
    refine: _Refine | None, frame: Bounds | None, model: Any, rmap: RegionMap, in_box: list[bool]
) -> Refinement | None:
    """The user's face frame refined to the one the face model fits best, holding all the damage
    inside the box; None without a refiner, a face model or damage in the box."""
    inside = [r.bbox for r, yes in zip(rmap.regions, in_box, strict=True) if yes]
    if refine is None or frame is None or not inside or not can_refine(model):
        return None
    return refine(frame, union_bbox(inside), model)


def _plan(
    rmap: RegionMap, photo_size: tuple[int, int], options: RestoreOptions, refine: _Refine | None = None
) -> tuple[list[_Task], list[str], Any]:
    box = options.box
    in_box = [box is not None and box.contains(r.bbox) for r in rmap.regions]
    frame = box_window(box, photo_size) if box is not None else None
    forced = None if options.method in methods.ROUTERS else methods.get(options.method)
    wants_model = (forced is not None and forced.model_kind is not None) or (
        forced is None
        and any(inside and r.max_width > THIN_WIDTH for r, inside in zip(rmap.regions, in_box, strict=True))
    )
    model, no_model = _find_model(options, wants_model)
    refined = _refined(refine, frame, model, rmap, in_box)
    frame = refined.box if refined is not None else frame
    resolution = model.resolution if model is not None else 0
    tasks: list[_Task] = []
    warnings: list[str] = []
    face_task: _Task | None = None  # every model-filled region inside the box shares one window
    for number, (region, inside) in enumerate(zip(rmap.regions, in_box, strict=True), start=1):
        on_face = face_share(rmap.hole(region.label, frame), frame) if inside and frame else None
        name, reason = _choose(region, on_face, options, model, no_model)
        method = methods.get(name)
        x, y, w, h = region.bbox.xywh()
        where = f"region {number} (x={x}, y={y}, {w}x{h} px)"
        if method.model_kind is not None and inside and box is not None:
            if face_task is None:
                face_task = _Task((region.label,), frame, method, reason, refined)
                tasks.append(face_task)
            else:
                face_task.labels += (region.label,)
            continue
        window, problem = method.window(region, photo_size, resolution)
        if problem:
            warnings.append(f"{where}: {problem}; not filled")
        else:
            tasks.append(_Task((region.label,), window, method, reason))
    if face_task is not None:
        pixels = sum(r.pixels for r in rmap.regions if r.label in face_task.labels)
        problem = window_problem(pixels, face_task.window)
        if problem:  # the user framed this face: fill it all the same, and say it has little context
            bbox = union_bbox([r.bbox for r in rmap.regions if r.label in face_task.labels])
            warnings.append(
                f"the damage inside the face box ({bbox.width}x{bbox.height} px): {problem}; filled from the "
                "little context left, check the result"
            )
    return tasks, warnings, model


# --- the job ---------------------------------------------------------------------------------------


@dataclass
class _Context:
    photo: Photo
    pending: np.ndarray  # bool (H, W): damage not filled yet
    rmap: RegionMap
    tone: Tone
    options: RestoreOptions
    model: Any
    should_stop: Callable[[], bool] | None
    # The photo as filled so far, kept up to date patch by patch: reading a window from it costs the
    # window, where re-applying every earlier patch (patches.crop) cost O(regions) per region, O(n²)
    # per job (a 24 MP scan with 4,000 dust specks spent minutes there). One extra copy of the photo.
    current: np.ndarray | None = None


def restore(
    photo: Photo,
    mask: np.ndarray,
    options: RestoreOptions = RestoreOptions(),
    should_stop: Callable[[], bool] | None = None,
) -> Generator[Event, None, RestoreResult | None]:
    """Check the input and plan the work now (RestorerError on bad input); return the job.

    The job yields RegionStarted, RegionProgress... and RegionFinished for each region and
    returns the RestoreResult, or None when ``should_stop()`` turns true. An empty mask gives a
    job that returns no patches at once.
    """
    _check(photo, mask, options)
    if not mask.any():
        return _no_work(options)
    rmap = find_regions(mask)
    tone = detect_tone(photo.pixels, ~mask)
    tasks, warnings, model = _plan(rmap, photo.size, options, _refiner(photo, mask, tone, options))
    ctx = _Context(photo, mask.copy(), rmap, tone, options, model, should_stop)
    return _run(ctx, tasks, warnings)


def _no_work(options: RestoreOptions) -> Generator[Event, None, RestoreResult]:
    return RestoreResult([], [], options)
    yield  # a generator that returns at once


def _photo_grain(ctx: _Context, box: Bounds, hole: np.ndarray) -> tuple[list, list] | None:
    """The photo's grain around a region, as lists: levels (bands, C) and the channels' correlation
    (bands, C, C), measured in the ring around its hole (beyond its window where that is tight) on
    the photo as filled so far; damage still pending is not grain."""
    from restorer.core.grain import GRAIN_READ, photo_grain

    # Read around the hole, not the window: a patch fill's window is many times the ring it needs.
    tight = mask_bounds(hole)
    outer = tight.shifted(box.top, box.left).expanded(GRAIN_READ)
    outer = outer.intersect(Bounds.of_shape(ctx.photo.pixels.shape))
    where = np.zeros(outer.height * outer.width, bool).reshape(outer.height, outer.width)
    where[tight.shifted(box.top - outer.top, box.left - outer.left).slices] = hole[tight.slices]
    grain = photo_grain(ctx.current[outer.slices], where, ctx.pending[outer.slices] & ~where)
    return None if grain is None else (grain.levels.round(6).tolist(), grain.correlation.round(4).tolist())


BATCH_PIXELS = 250_000
"""Hole pixels of diffusion regions solved together at most (see _Batches): enough that a scan's
thousands of specks take a few solves, few enough that each takes a fraction of a second, so a stop
is still answered promptly."""


@dataclass
class _Solved:
    """One group's harmonic fill: rows ``top:`` of the photo, the band's flat indices and values."""

    top: int
    flat: np.ndarray  # increasing flat indices into the band (empty when nothing was solved)
    values: np.ndarray  # (C, n) float32 in the float working scale


class _Batches:
    """The fills of the regions routed to diffusion, solved together: one harmonic solve over the
    union of a group of regions' holes instead of one per region (issue 10: on a scan with thousands
    of dust specks, setting up each speck's solve cost ten times what solving them all at once does).

    Why the union solve gives each region what its own window's solve gives: the harmonic equations
    couple each hole pixel to its 4 neighbours only, so the union splits into independent problems,
    one per 4-connected piece. A region's window holds its hole plus ``DiffusionFill.margin`` px and
    is clipped only at the photo's edge, so it holds every neighbour the photo does. Its known
    neighbours are never damage, so nothing filled earlier changes them: regions are 8-connected
    parts of the mask merged across ``regions.DEFAULT_GAP``, so damage next to a region is that
    region. The exception is the pieces of a sprawling region cut along a grid (regions.py): a piece
    touches its neighbours, whose pending pixels its window's solve fills along with it, and later
    pieces read the earlier ones' fill (grain included). Regions touching another region's pixels
    are therefore left to their own solve, as is everything not routed to diffusion.
    """

    def __init__(self, ctx: _Context, tasks: list[_Task]) -> None:
        self.ctx = ctx
        self.regions = {r.label: r for r in ctx.rmap.regions}
        diffusion = methods.get(THIN_METHOD)
        self.groups: list[list[int]] = []  # task indices, in run order
        self.group_of: dict[int, int] = {}
        size = BATCH_PIXELS
        for index, task in enumerate(tasks):
            if task.method is not diffusion or len(task.labels) != 1:
                continue
            pixels = self.regions[task.labels[0]].pixels
            if size + pixels > BATCH_PIXELS:
                self.groups.append([])
                size = 0
            self.groups[-1].append(index)
            self.group_of[index] = len(self.groups) - 1
            size += pixels
        self.tasks = tasks
        self.solved: tuple[int, _Solved] | None = None  # the group solved last: groups run in order

    def candidate(
        self, index: int, box: Bounds, window: np.ndarray, unknown: np.ndarray, hole: np.ndarray
    ) -> np.ndarray | None:
        """Task ``index``'s fill candidate from its group's solve, as its own diffusion fill of
        ``window`` (float, the request's) would give it; None where the task is not batched.
        ``unknown`` and ``hole`` are the request's and the task's, over ``box``."""
        group = self.group_of.get(index)
        if group is None:
            return None
        if self.solved is None or self.solved[0] != group:
            self.solved = group, self._solve(self.groups[group])
        solved = self.solved[1]
        if not solved.flat.size:
            return None
        # Every unknown pixel of the window that the group solved, as the window's own solve fills
        # every unknown pixel: this region's hole and any other batched hole the window holds.
        ys, xs = np.nonzero(unknown)
        width = self.ctx.photo.pixels.shape[1]
        flat = (ys + box.top - solved.top) * width + (xs + box.left)  # outside the band: never found
        at = np.minimum(np.searchsorted(solved.flat, flat), solved.flat.size - 1)
        found = solved.flat[at] == flat
        if not found[hole[ys, xs]].all():  # its region was left out of the group's solve
            return None
        candidate = window.copy()
        candidate[ys[found], xs[found]] = solved.values[:, at[found]].T
        return candidate

    def _solve(self, group: list[int]) -> _Solved:
        """The harmonic fill of the group's holes, over the band of rows that holds them."""
        from restorer.core.fills import diffusion_values

        labels = [self.tasks[index].labels[0] for index in group]
        boxes = [self.regions[label].bbox for label in labels]
        height = self.ctx.photo.pixels.shape[0]
        # One row of margin: the hole's neighbours are in the band, its edge rows are the photo's.
        top = max(min(b.top for b in boxes) - 1, 0)
        bottom = min(max(b.bottom for b in boxes) + 1, height)
        band = self.ctx.rmap.labels[top:bottom]
        # Region by region over their boxes: a pass over the whole band per label set cost a third
        # of a 24 MP scan's solve.
        hole = np.zeros(band.shape, bool)
        crops = {label: box.shifted(-top, 0).slices for label, box in zip(labels, boxes, strict=True)}
        for label, crop in crops.items():
            hole[crop] |= band[crop] == label
        for label in _touching_labels(band, hole).tolist():
            hole[crops[label]] &= band[crops[label]] != label
        nothing = _Solved(top, np.empty(0, np.intp), np.empty((0, 0), np.float32))
        if not hole.any() or hole.all():  # all damage: each region's own fill says why it cannot
            return nothing
        # Known pixels are never damage (see above), so the photo as received has their values.
        flat, values = diffusion_values(self.ctx.photo.pixels[top:bottom], hole)
        return _Solved(top, flat, values)


def _touching_labels(labels: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The labels of ``hole``'s pixels that have a 4-neighbour of another (nonzero) label."""
    height, width = hole.shape
    flat = np.flatnonzero(hole)
    ys, xs = np.divmod(flat, width)
    raveled = labels.reshape(-1)
    own = raveled.take(flat)
    touching = []
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        ny, nx = ys + dy, xs + dx
        inside = np.flatnonzero((ny >= 0) & (ny < height) & (nx >= 0) & (nx < width))
        other = raveled.take(ny[inside] * width + nx[inside])
        mine = own.take(inside)
        touching.append(mine[(other != 0) & (other != mine)])
    return np.unique(np.concatenate(touching))


def _run(
    ctx: _Context, tasks: list[_Task], warnings: list[str]
) -> Generator[Event, None, RestoreResult | None]:
    patches: list[WindowPatch] = []
    options = ctx.options
    ctx.current = ctx.photo.pixels.copy()
    batches = _Batches(ctx, tasks)
    for index, task in enumerate(tasks):
        if ctx.should_stop is not None and ctx.should_stop():
            return None
        method = task.method
        yield RegionStarted(index, len(tasks), task.window, method.name, task.reason)
        window = ctx.current[task.window.slices].copy()
        unknown = ctx.pending[task.window.slices]
        uses_model = method.model_kind is not None
        request = FillRequest(
            index,
            to_float(window),
            unknown,
            options.seed + index,  # distinct per region, reproducible per photo
            options,
            ctx.tone,
            ctx.model if uses_model else None,
            ctx.should_stop,
            ctx.photo.icc_profile,
        )
        # One label is compared, not looked up in a set (np.isin): a speck's window costs microseconds.
        hole = ctx.rmap.hole(task.labels[0] if len(task.labels) == 1 else task.labels, task.window)
        # A batched diffusion region takes its fill from its group's solve, with the same one
        # progress event (its candidate as the preview) its own fill job yields.
        candidate = batches.candidate(index, task.window, request.window, unknown, hole)
        filled = yield from (method.fill(request) if candidate is None else single(request, candidate))
        if filled is None:
            return None
        blend = options.blend and method.blends
        params = dict(filled.params)
        if uses_model:
            colour = working_space(ctx.photo.icc_profile, window.shape[2])
            params.update(model_sha256=ctx.model.sha256, resolution=ctx.model.resolution, colour=colour)
        grain_seed = request.seed if options.grain else None
        # A hole too small to measure its fill on never gets grain (grain.match_grain): skip measuring
        # the photo's around it. Dust specks and short scratches are most of a scan's regions.
        measure = options.grain and np.count_nonzero(hole) >= MIN_HOLE_PIXELS
        # A detail fill already carries the photo's own grain, copied from around the hole
        # (restorer.core.detail): matched noise on top doubles it (docs/quality.md).
        measure = measure and not params.get("detail", False)
        levels, correlation = (_photo_grain(ctx, task.window, hole) if measure else None) or (None, None)
        params.update(tone=ctx.tone.kind, blend=blend, grain=options.grain, grain_levels=levels)
        if correlation is not None:
            params.update(grain_correlation=correlation)
        if task.refined is not None:
            params.update(box_refined=_refinement_record(task.refined))
        if filled.warnings:  # what the fill could not do, for the user
            x, y, w, h = task.window.xywh()
            where = f"region {index + 1} (window x={x}, y={y}, {w}x{h} px)"
            warnings.extend(f"{where}: {note}" for note in filled.warnings)
        patch = WindowPatch(
            index=index,
            box=task.window,
            hole=hole,
            method=method.name,
            reason=task.reason,
            model=ctx.model.name if uses_model else None,
            params=params,
            candidates=filled.candidates,
            losses=filled.losses,
            values=add_grain(
                window, hole, compose(window, hole, filled.candidates[0], blend), grain_seed, params
            ),
            blend=blend,
            grain_seed=grain_seed,
        )
        ctx.pending[task.window.slices] &= ~hole
        apply_patch(ctx.current, patch)
        patches.append(patch)
        yield RegionFinished(patch)
    face_box = next((task.refined.box for task in tasks if task.refined is not None), None)
    return RestoreResult(patches, warnings, options, face_box)


def _refinement_record(refined: Refinement) -> dict:
    """The face box refinement as the record states it (boxes as x, y, w, h)."""
    return {
        "from": list(refined.user.xywh()),
        "to": list(refined.box.xywh()),
        "fit_error": [round(refined.user_score, 5), round(refined.score, 5)],
        "frames_tried": refined.tried,
    }
