"""Undo history: every mask and result change is one entry that stores only what it changed (no Qt).

Entries act on a :class:`restorer.gui.document.Document` through its small mutation methods, which
also tell the views which rectangle to redraw. Mask entries hold bit-packed tile patches, pixel
entries hold the values of hole pixels only, so a long session on a 24 MP scan stays small.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from restorer.core.maskops import Bounds, Patch

if TYPE_CHECKING:
    from restorer.gui.document import Document


@dataclass(frozen=True)
class MaskedPatch:
    """Old and new values of the pixels under ``where`` inside ``bounds`` (e.g. one region's hole)."""

    bounds: Bounds
    where: np.ndarray  # bool (h, w), True where the values below apply
    before: np.ndarray  # (n, C) values, in the row-major order of where's True pixels
    after: np.ndarray

    @classmethod
    def capture(cls, bounds: Bounds, where: np.ndarray, before: np.ndarray, after: np.ndarray) -> MaskedPatch:
        """From full ``(h, w, C)`` blocks of old and new pixels; keeps only the ``where`` pixels."""
        return cls(bounds, where.copy(), before[where].copy(), after[where].copy())

    def with_after(self, after_block: np.ndarray) -> MaskedPatch:
        return MaskedPatch(self.bounds, self.where, self.before, after_block[self.where].copy())

    def apply(self, pixels: np.ndarray) -> None:
        pixels[self.bounds.slices][self.where] = self.after

    def revert(self, pixels: np.ndarray) -> None:
        pixels[self.bounds.slices][self.where] = self.before

    def after_block(self, pixels: np.ndarray) -> np.ndarray:
        """The rectangle as it looks once applied on top of ``pixels`` (which is left untouched)."""
        block = pixels[self.bounds.slices].copy()
        block[self.where] = self.after
        return block

    @property
    def nbytes(self) -> int:
        return int(self.where.nbytes + self.before.nbytes + self.after.nbytes)


@dataclass(eq=False)
class PendingResult:
    """A finished restoration shown in place but not yet part of the photo.

    ``regions`` are the engine's RegionResult objects (candidates ranked by loss); ``patches[i]`` holds
    region ``i``'s hole pixels before and after, matching ``regions[i].chosen``. ``result`` and
    ``options`` are kept for the intervention record.
    """

    regions: list
    patches: list[MaskedPatch]
    warnings: list[str] = field(default_factory=list)
    result: object | None = None  # RestoreResult, its photo replaced by the document's (no full copy)
    options: object | None = None  # RestoreOptions
    uid: str = ""

    @property
    def nbytes(self) -> int:
        cand = sum(c.nbytes for r in self.regions for c in getattr(r, "candidates", []))
        return cand + sum(p.nbytes for p in self.patches)


class Entry(Protocol):
    label: str
    changes_pixels: bool

    def apply(self, doc: Document) -> None: ...

    def revert(self, doc: Document) -> None: ...


@dataclass
class MaskEdit:
    label: str
    patches: list[Patch]
    changes_pixels: bool = False

    def apply(self, doc: Document) -> None:
        for patch in self.patches:
            doc.write_mask(patch.bounds, patch.after)

    def revert(self, doc: Document) -> None:
        for patch in reversed(self.patches):
            doc.write_mask(patch.bounds, patch.before)


@dataclass
class ResultArrived:
    """A restoration finished: its result becomes the pending one. Remembers the state it arrived in."""

    pending: PendingResult
    initial_patches: list[MaskedPatch]
    initial_chosen: list[int]
    previous: PendingResult | None = None
    label: str = "Restore"
    changes_pixels: bool = False

    @classmethod
    def of(cls, pending: PendingResult, previous: PendingResult | None = None) -> ResultArrived:
        return cls(pending, list(pending.patches), [r.chosen for r in pending.regions], previous)

    def apply(self, doc: Document) -> None:
        self.pending.patches = list(self.initial_patches)
        for region, chosen in zip(self.pending.regions, self.initial_chosen, strict=True):
            region.chosen = chosen
        doc.set_pending(self.pending)

    def revert(self, doc: Document) -> None:
        doc.set_pending(self.previous)


@dataclass
class ChooseCandidate:
    pending: PendingResult
    region: int
    old_choice: int
    new_choice: int
    old_patch: MaskedPatch
    new_patch: MaskedPatch
    label: str = "Choose candidate"
    changes_pixels: bool = False

    def _set(self, doc: Document, choice: int, patch: MaskedPatch) -> None:
        self.pending.regions[self.region].chosen = choice
        self.pending.patches[self.region] = patch
        doc.set_pending(self.pending, changed=self.region)

    def apply(self, doc: Document) -> None:
        self._set(doc, self.new_choice, self.new_patch)

    def revert(self, doc: Document) -> None:
        self._set(doc, self.old_choice, self.old_patch)


@dataclass
class AcceptResult:
    """The pending result's pixels go into the photo and its filled holes leave the mask."""

    pending: PendingResult
    pixel_patches: list[MaskedPatch]
    mask_patches: list[Patch]
    label: str = "Accept result"
    changes_pixels: bool = True

    def apply(self, doc: Document) -> None:
        for patch in self.pixel_patches:
            doc.write_pixels(patch, forward=True)
        for patch in self.mask_patches:
            doc.write_mask(patch.bounds, patch.after)
        doc.set_pending(None)
        doc.records.append(self.pending)

    def revert(self, doc: Document) -> None:
        if doc.records and doc.records[-1] is self.pending:
            doc.records.pop()
        for patch in reversed(self.mask_patches):
            doc.write_mask(patch.bounds, patch.before)
        for patch in reversed(self.pixel_patches):
            doc.write_pixels(patch, forward=False)
        doc.set_pending(self.pending)


@dataclass
class DiscardResult:
    pending: PendingResult
    label: str = "Discard result"
    changes_pixels: bool = False

    def apply(self, doc: Document) -> None:
        doc.set_pending(None)

    def revert(self, doc: Document) -> None:
        doc.set_pending(self.pending)


class History:
    """A list of entries and a position: entries before it are done, the ones after it can be redone."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.position = 0
        self.revision = 0  # counts every change, for "unsaved work" and autosave bookkeeping

    def push(self, entry: Entry, doc: Document, already_applied: bool = False) -> None:
        del self.entries[self.position :]
        if not already_applied:
            entry.apply(doc)
        self.entries.append(entry)
        self.position += 1
        self.revision += 1

    @property
    def can_undo(self) -> bool:
        return self.position > 0

    @property
    def can_redo(self) -> bool:
        return self.position < len(self.entries)

    def next_undo(self) -> Entry | None:
        return self.entries[self.position - 1] if self.can_undo else None

    def next_redo(self) -> Entry | None:
        return self.entries[self.position] if self.can_redo else None

    def undo(self, doc: Document) -> Entry | None:
        entry = self.next_undo()
        if entry is not None:
            entry.revert(doc)
            self.position -= 1
            self.revision += 1
        return entry

    def redo(self, doc: Document) -> Entry | None:
        entry = self.next_redo()
        if entry is not None:
            entry.apply(doc)
            self.position += 1
            self.revision += 1
        return entry

    @property
    def nbytes(self) -> int:
        total = 0
        for e in self.entries:
            if isinstance(e, MaskEdit):
                total += sum(p.nbytes for p in e.patches)
            elif isinstance(e, AcceptResult):
                total += sum(p.nbytes for p in e.pixel_patches) + sum(p.nbytes for p in e.mask_patches)
            elif isinstance(e, ResultArrived):
                total += e.pending.nbytes
        return total
