"""The photo being restored, its damage mask, the context box, the pending result and the undo
history (no Qt).

Views subscribe with :meth:`Document.subscribe` and hear ``(kind, bounds)`` after every change:
``"mask"`` and ``"pixels"`` with the changed rectangle, ``"pending"`` (bounds of the affected
region or None for all), ``"box"`` and ``"history"`` (bounds None). ``doc.photo.pixels`` is
modified in place, so it is the working image handed to the engine; the engine never writes into
its input. A result is held as the engine's window patches; no copy of the photo is made except
for an export.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from restorer.core import maskops
from restorer.core.errors import RestorerError
from restorer.core.maskops import StrokeRecorder
from restorer.core.types import EMPTY, Bounds, RestoreResult, WindowPatch, check_box
from restorer.editing.history import (
    DEFAULT_LIMIT,
    AcceptResult,
    ChooseCandidate,
    DiscardResult,
    History,
    MaskEdit,
    MaskedPatch,
    PendingResult,
    ResultArrived,
    SetBox,
)

if TYPE_CHECKING:
    from restorer.core.imageio import Photo

# restorer.core.patches (and the image codecs behind it) load on first use: the window starts without.

Listener = Callable[[str, Bounds | None], None]


@dataclass
class CandidateChoice:
    """Another candidate for one region of the pending result: its window is taken from the document
    now (one window, with the pending result in it), :meth:`compose` may run on any thread, and
    :meth:`Document.finish_choice` records the outcome."""

    pending: PendingResult
    region: int
    candidate: int
    old: WindowPatch
    window: np.ndarray  # a copy of the region's window as the pending result shows it

    def compose(self) -> WindowPatch:
        """The region's patch with the candidate blended (or pasted) in: one window's work."""
        from restorer.core.patches import choose

        local = replace(self.old, box=self.old.box.relative_to(self.old.box))
        return replace(choose(self.window, local, self.candidate), box=self.old.box)


class Document:
    def __init__(self, photo: Photo, path: Path | None = None, history_limit: int = DEFAULT_LIMIT) -> None:
        # Results are written into the pixels in place, and the canvas shows 8-bit photos straight
        # from them: both need one writeable C-ordered block (a rotated or read-only decode is copied).
        photo.pixels = np.require(photo.pixels, requirements=["C_CONTIGUOUS", "WRITEABLE"])
        self.photo = photo
        self.path = Path(path) if path is not None else None
        height, width = photo.pixels.shape[:2]
        self.mask = np.zeros((height, width), bool)
        self.box: Bounds | None = None  # the context box, e.g. around a face
        self.pending: PendingResult | None = None
        self.records: list[RestoreResult] = []  # accepted results (as chosen), oldest first
        self.history = History(history_limit)
        self._listeners: list[Listener] = []
        self._stroke: StrokeRecorder | None = None
        self._stroke_erase = False

    # ----- observation -----
    @property
    def size(self) -> tuple[int, int]:
        return self.mask.shape[1], self.mask.shape[0]

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def notify(self, kind: str, bounds: Bounds | None = None) -> None:
        for listener in list(self._listeners):
            listener(kind, bounds)

    def _push(self, entry, already_applied: bool = False) -> None:
        self.history.push(entry, self, already_applied)
        self.notify("history")

    # ----- low-level writes used by history entries -----
    def write_mask(self, bounds: Bounds, values: np.ndarray) -> None:
        self.mask[bounds.slices] = values
        self.notify("mask", bounds)

    def write_pixels(self, patch: MaskedPatch, forward: bool) -> None:
        (patch.apply if forward else patch.revert)(self.photo.pixels)
        self.notify("pixels", patch.bounds)

    def write_box(self, box: Bounds | None) -> None:
        self.box = box
        self.notify("box")

    def set_pending(self, pending: PendingResult | None, changed: int | None = None) -> None:
        self.pending = pending
        bounds = None
        if pending is not None and changed is not None:
            bounds = pending.regions[changed].box
        self.notify("pending", bounds)

    # ----- mask editing -----
    def begin_stroke(self, erase: bool) -> None:
        self._stroke = StrokeRecorder(self.mask)
        self._stroke_erase = erase

    def stroke_segment(self, p0: maskops.Point, p1: maskops.Point, radius: float) -> Bounds:
        """Paint (or erase) one brush segment now; returns the changed rectangle for redrawing."""
        if self._stroke is None:
            raise RuntimeError("stroke_segment outside begin_stroke/end_stroke")
        bounds, footprint = maskops.segment_footprint(p0, p1, radius, self.mask.shape)
        if bounds.is_empty:
            return EMPTY
        self._stroke.touch(bounds)
        target = self.mask[bounds.slices]
        if self._stroke_erase:
            target &= ~footprint
        else:
            target |= footprint
        self.notify("mask", bounds)
        return bounds

    def end_stroke(self) -> bool:
        """Record the stroke as one undo step; False when it changed nothing."""
        recorder, self._stroke = self._stroke, None
        if recorder is None:
            return False
        patches = recorder.finish()
        if not patches:
            return False
        self._push(MaskEdit("Erase" if self._stroke_erase else "Brush stroke", patches), already_applied=True)
        return True

    @property
    def stroking(self) -> bool:
        return self._stroke is not None

    def _edit_region(self, label: str, bounds: Bounds, new_values: np.ndarray) -> bool:
        patch = maskops.diff_patch(self.mask[bounds.slices], new_values)
        if patch is None:
            return False
        self._push(MaskEdit(label, [patch.shifted(bounds.top, bounds.left)]))
        return True

    def fill_footprint(self, label: str, bounds: Bounds, footprint: np.ndarray, erase: bool) -> bool:
        if bounds.is_empty:
            return False
        old = self.mask[bounds.slices]
        new = old & ~footprint if erase else old | footprint
        return self._edit_region(label, bounds, new)

    def fill_rect(self, p0: maskops.Point, p1: maskops.Point, erase: bool = False) -> bool:
        bounds, footprint = maskops.rect_footprint(p0, p1, self.mask.shape)
        return self.fill_footprint("Erase rectangle" if erase else "Rectangle", bounds, footprint, erase)

    def fill_polygon(self, points: Sequence[maskops.Point], erase: bool = False) -> bool:
        bounds, footprint = maskops.polygon_footprint(points, self.mask.shape)
        return self.fill_footprint("Erase lasso" if erase else "Lasso", bounds, footprint, erase)

    def replace_mask(self, label: str, new_mask: np.ndarray) -> bool:
        if new_mask.shape != self.mask.shape:
            w, h = self.size
            raise RestorerError(f"the mask is {new_mask.shape[1]}x{new_mask.shape[0]}, the photo {w}x{h}")
        return self._edit_region(label, Bounds.of_shape(self.mask.shape), new_mask.astype(bool, copy=False))

    def clear_mask(self) -> bool:
        return self.replace_mask("Clear mask", np.zeros_like(self.mask))

    def invert_mask(self) -> bool:
        return self.replace_mask("Invert mask", ~self.mask)

    def grow_mask(self, radius: float) -> bool:
        return self.replace_mask(f"Grow mask {radius:g} px", maskops.grow_mask(self.mask, radius))

    def shrink_mask(self, radius: float) -> bool:
        return self.replace_mask(f"Shrink mask {radius:g} px", maskops.shrink_mask(self.mask, radius))

    # ----- the context box -----
    def set_box(self, box: Bounds | None) -> bool:
        """Draw (or with None clear) the context box as one undo step; False when it is unchanged."""
        if box is not None:
            box = Bounds(*(int(v) for v in box))
            check_box(box, self.size)
        if box == self.box:
            return False
        self._push(SetBox(self.box, box, "Context box" if box is not None else "Clear context box"))
        return True

    # ----- results -----
    def pending_from_result(self, result: RestoreResult) -> PendingResult:
        """The engine's result as a pending one: its window patches and the pixels under their holes."""
        full = Bounds.of_shape(self.mask.shape)
        for patch in result.patches:
            if not full.contains(patch.box) or patch.hole.shape != (patch.box.height, patch.box.width):
                raise RestorerError(f"region {patch.index + 1} of the result does not fit this photo")
        before = [self.photo.pixels[p.box.slices][p.hole] for p in result.patches]
        return PendingResult(result, before)

    def show_result(self, pending: PendingResult) -> None:
        self._push(ResultArrived(pending, self.pending))

    def _pending_or_error(self) -> PendingResult:
        if self.pending is None:
            raise RestorerError("there is no result to choose from")
        return self.pending

    def begin_choice(self, region: int, candidate: int) -> CandidateChoice | None:
        """Take what choosing ``candidate`` for ``region`` needs; None when it is the chosen one."""
        pending = self._pending_or_error()
        old = pending.regions[region]
        if old.chosen == candidate:
            return None
        from restorer.core.patches import crop

        window = crop(self.photo.pixels, old.box, pending.regions)
        return CandidateChoice(pending, region, candidate, old, window)

    def finish_choice(self, choice: CandidateChoice, patch: WindowPatch) -> bool:
        """Record a composed choice as one undo step, unless the result changed meanwhile."""
        pending = choice.pending
        if self.pending is not pending or pending.regions[choice.region] is not choice.old:
            return False
        self._push(ChooseCandidate(pending, choice.region, choice.old, patch))
        return True

    def choose_candidate(self, region: int, candidate: int) -> bool:
        """Choose another candidate for one region now (on this thread)."""
        choice = self.begin_choice(region, candidate)
        return choice is not None and self.finish_choice(choice, choice.compose())

    def materialise_pending(self) -> np.ndarray:
        """A full copy of the pixels with the pending result applied (for an export snapshot)."""
        pixels = self.photo.pixels.copy()
        if self.pending is not None:
            for patch in self.pending.patches:
                patch.apply(pixels)
        return pixels

    def accept(self) -> bool:
        pending = self.pending
        if pending is None:
            return False
        # Work inside the rectangle around the results only: the rest of a 24 MP mask is untouched.
        area = EMPTY
        for patch in pending.regions:
            area = area.union(patch.box)
        holes = np.zeros((area.height, area.width), bool)
        for patch in pending.regions:
            holes[patch.box.relative_to(area).slices] |= patch.hole
        old = self.mask[area.slices]
        mask_patch = maskops.diff_patch(old, old & ~holes)
        mask_patches = [] if mask_patch is None else [mask_patch.shifted(area.top, area.left)]
        self._push(AcceptResult(pending, pending.chosen_result(), pending.patches, mask_patches))
        return True

    def discard(self) -> bool:
        if self.pending is None:
            return False
        self._push(DiscardResult(self.pending))
        return True

    # ----- undo -----
    def undo(self) -> bool:
        done = self.history.undo(self) is not None
        self.notify("history")
        return done

    def redo(self) -> bool:
        done = self.history.redo(self) is not None
        self.notify("history")
        return done

    @property
    def pixels_changed(self) -> bool:
        history = self.history
        done = history.entries[: history.position]
        return bool(history.baked.pixels) or any(isinstance(e, AcceptResult) for e in done)
