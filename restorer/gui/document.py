"""The photo being restored, its damage mask, the pending result and the undo history (no Qt).

Views subscribe with :meth:`Document.subscribe` and hear ``(kind, bounds)`` after every change:
``"mask"`` and ``"pixels"`` with the changed rectangle, ``"pending"`` (bounds of the affected
region or None for all), ``"history"`` (bounds None). ``doc.photo.pixels`` is modified in place, so
it is the working image handed to the engine; the engine never writes into its input.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from restorer.core import maskops
from restorer.core.errors import RestorerError
from restorer.core.maskops import EMPTY, Bounds, StrokeRecorder
from restorer.gui.history import (
    AcceptResult,
    ChooseCandidate,
    DiscardResult,
    History,
    MaskEdit,
    MaskedPatch,
    PendingResult,
    ResultArrived,
)

Listener = Callable[[str, Bounds | None], None]


class Document:
    def __init__(self, photo, path: Path | None = None) -> None:
        # Results are written into the pixels in place, and the canvas shows 8-bit photos straight
        # from them: both need one writeable C-ordered block (a rotated or read-only decode is copied).
        photo.pixels = np.require(photo.pixels, requirements=["C_CONTIGUOUS", "WRITEABLE"])
        self.photo = photo
        self.path = Path(path) if path is not None else None
        height, width = photo.pixels.shape[:2]
        self.mask = np.zeros((height, width), bool)
        self.pending: PendingResult | None = None
        self.records: list[PendingResult] = []  # accepted results, oldest first, for the JSON record
        self.history = History()
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

    # ----- low-level writes used by history entries -----
    def write_mask(self, bounds: Bounds, values: np.ndarray) -> None:
        self.mask[bounds.slices] = values
        self.notify("mask", bounds)

    def write_pixels(self, patch: MaskedPatch, forward: bool) -> None:
        (patch.apply if forward else patch.revert)(self.photo.pixels)
        self.notify("pixels", patch.bounds)

    def set_pending(self, pending: PendingResult | None, changed: int | None = None) -> None:
        self.pending = pending
        bounds = None
        if pending is not None and changed is not None:
            bounds = pending.patches[changed].bounds
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
        label = "Erase" if self._stroke_erase else "Brush stroke"
        self.history.push(MaskEdit(label, patches), self, already_applied=True)
        self.notify("history")
        return True

    @property
    def stroking(self) -> bool:
        return self._stroke is not None

    def _edit_region(self, label: str, bounds: Bounds, new_values: np.ndarray) -> bool:
        old = self.mask[bounds.slices]
        patch = maskops.diff_patch(old, new_values)
        if patch is None:
            return False
        patch = patch.shifted(bounds.top, bounds.left)
        self.history.push(MaskEdit(label, [patch]), self)
        self.notify("history")
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

    # ----- results -----
    def pending_from_result(self, result, options=None) -> PendingResult:
        """Turn the engine's RestoreResult into a pending result holding only the changed hole pixels."""
        patches = []
        full = Bounds.of_shape(self.mask.shape)
        for region in result.regions:
            box = Bounds.from_xywh(region.box)
            clipped = box.intersect(full)
            inner = clipped.shifted(-box.top, -box.left)
            where = np.asarray(region.hole, bool)[inner.slices]
            patches.append(
                MaskedPatch.capture(
                    clipped, where, self.photo.pixels[clipped.slices], result.photo.pixels[clipped.slices]
                )
            )
        # Keep the regions and parameters for the record, not the restored full-size copy.
        slim = replace(result, photo=self.photo)
        uid = uuid.uuid4().hex
        return PendingResult(list(result.regions), patches, list(result.warnings), slim, options, uid)

    def show_result(self, pending: PendingResult) -> None:
        self.history.push(ResultArrived.of(pending, self.pending), self)
        self.notify("history")

    def choose_candidate(self, region_index: int, candidate: int, reblended_pixels: np.ndarray) -> None:
        """Record picking ``candidate`` for a region, given the re-blended photo's pixels."""
        pending = self.pending
        if pending is None:
            raise RestorerError("there is no result to choose from")
        old = pending.patches[region_index]
        new = old.with_after(reblended_pixels[old.bounds.slices])
        old_choice = pending.regions[region_index].chosen
        entry = ChooseCandidate(pending, region_index, old_choice, candidate, old, new)
        self.history.push(entry, self)
        self.notify("history")

    def reblend_candidate(self, region_index: int, candidate: int, reblend: Callable) -> None:
        """Blend another candidate into one region with the engine's ``reblend`` and record it.

        ``reblend`` wants the whole restored photo: the pending result is written into the pixels
        for the call and taken out again after, which avoids a second full-size copy.
        """
        pending = self.pending
        if pending is None:
            raise RestorerError("there is no result to choose from")
        region = pending.regions[region_index]
        old_choice = region.chosen
        for patch in pending.patches:
            patch.apply(self.photo.pixels)
        try:
            reblended = reblend(self.photo, region, candidate)
        finally:
            for patch in reversed(pending.patches):
                patch.revert(self.photo.pixels)
            region.chosen = old_choice  # the history entry sets it, so undo can put it back
        self.choose_candidate(region_index, candidate, reblended.pixels)

    def materialise_pending(self) -> np.ndarray:
        """A full copy of the pixels with the pending result applied (what re-blending starts from)."""
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
        for patch in pending.patches:
            area = area.union(patch.bounds)
        holes = np.zeros((area.height, area.width), bool)
        for patch in pending.patches:
            holes[patch.bounds.shifted(-area.top, -area.left).slices] |= patch.where
        old = self.mask[area.slices]
        mask_patch = maskops.diff_patch(old, old & ~holes)
        mask_patches = [] if mask_patch is None else [mask_patch.shifted(area.top, area.left)]
        entry = AcceptResult(pending, list(pending.patches), mask_patches)
        self.history.push(entry, self)
        self.notify("history")
        return True

    def discard(self) -> bool:
        if self.pending is None:
            return False
        self.history.push(DiscardResult(self.pending), self)
        self.notify("history")
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
        return any(isinstance(e, AcceptResult) for e in self.history.entries[: self.history.position])
