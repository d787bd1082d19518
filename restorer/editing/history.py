"""Undo history: every change to a document is one entry that stores only what it changed (no Qt).

Entries act on a :class:`restorer.editing.document.Document` through its small mutation methods,
which also tell the views which rectangle to redraw. Mask entries hold bit-packed tile patches,
pixel entries the values of hole pixels only, a result the engine's window patches.

The history holds at most ``limit`` bytes of entries. Past it, the oldest entries stop being
undoable and are *baked*: folded into :class:`Baked`, the compact state they left behind (the mask,
the accepted pixels, the context box, the records of accepted results, a result still pending),
so that a recovered session still rebuilds exactly the same photo.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np

from restorer.core.maskops import Patch
from restorer.core.types import Bounds, RestoreOptions, RestoreResult, WindowPatch

if TYPE_CHECKING:
    from restorer.editing.document import Document

DEFAULT_LIMIT = 1 << 30
"""Bytes of undo history kept by default (1 GiB)."""


class MaskedPatch(NamedTuple):
    """Old and new values of the pixels under ``where`` inside ``bounds`` (e.g. one region's hole)."""

    bounds: Bounds
    where: np.ndarray  # bool (h, w), True where the values below apply
    before: np.ndarray  # (n, C) values, in the row-major order of where's True pixels
    after: np.ndarray

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

    ``result`` is what the engine returned and never changes; ``regions`` holds the window patch
    chosen now for each region (another candidate replaces one); ``before[i]`` the photo's pixels
    under region ``i``'s hole when the result arrived. No copy of the photo anywhere.
    """

    result: RestoreResult
    before: list[np.ndarray]
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)
    regions: list[WindowPatch] | None = None

    def __post_init__(self) -> None:
        if self.regions is None:
            self.regions = list(self.result.patches)

    @property
    def warnings(self) -> list[str]:
        return self.result.warnings

    @property
    def options(self) -> RestoreOptions:
        return self.result.options

    def masked(self, region: int) -> MaskedPatch:
        patch = self.regions[region]
        return MaskedPatch(patch.box, patch.hole, self.before[region], patch.values)

    @property
    def patches(self) -> list[MaskedPatch]:
        """Each region's pixels before and after, as they stand with the current choices."""
        return [self.masked(i) for i in range(len(self.regions))]

    def chosen_result(self) -> RestoreResult:
        """The result with the current choices: what the intervention record describes."""
        return replace(self.result, patches=list(self.regions))

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self.result.patches) + sum(b.nbytes for b in self.before)


class PixelWrite(NamedTuple):
    """An accepted result's pixels kept for replaying only (a baked accept needs no undo values)."""

    bounds: Bounds
    where: np.ndarray
    values: np.ndarray

    def apply(self, pixels: np.ndarray) -> None:
        pixels[self.bounds.slices][self.where] = self.values


@dataclass(eq=False)
class Baked:
    """The state that the entries trimmed from the history left in the document.

    A fresh document of the same photo with this state restored (:meth:`restore_into`) equals the
    document before its first undoable entry, so a session replays its live entries on top of it.
    """

    count: int = 0  # entries baked so far
    mask: np.ndarray | None = None  # bool (H, W); None while no baked entry touched the mask
    pixels: list[PixelWrite] = field(default_factory=list)  # accepted results, oldest first
    box: Bounds | None = None
    records: list[dict] = field(default_factory=list)  # restoration_entry of each baked accept
    pending: PendingResult | None = None
    pending_regions: list[WindowPatch] = field(default_factory=list)  # its choices when baked

    def write_mask(self, patches: list[Patch], shape: tuple[int, ...]) -> None:
        if self.mask is None:
            self.mask = np.zeros(shape, bool)  # a document starts with an empty mask
        for patch in patches:
            patch.apply(self.mask)

    def restore_into(self, doc: Document) -> None:
        """Put this state into a document freshly opened from the same photo (a recovered session)."""
        if self.mask is not None:
            doc.mask[...] = self.mask
        for write in self.pixels:
            write.apply(doc.photo.pixels)
        doc.box = self.box
        if self.pending is not None:
            self.pending.regions = list(self.pending_regions)
        doc.pending = self.pending
        doc.history.baked = self


class Entry(Protocol):
    label: str
    changes_pixels: bool

    @property
    def nbytes(self) -> int: ...

    def apply(self, doc: Document) -> None: ...

    def revert(self, doc: Document) -> None: ...

    def bake(self, baked: Baked, doc: Document) -> None: ...


@dataclass(eq=False)
class MaskEdit:
    label: str
    patches: list[Patch]
    changes_pixels = False

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self.patches)

    def apply(self, doc: Document) -> None:
        for patch in self.patches:
            doc.write_mask(patch.bounds, patch.after)

    def revert(self, doc: Document) -> None:
        for patch in reversed(self.patches):
            doc.write_mask(patch.bounds, patch.before)

    def bake(self, baked: Baked, doc: Document) -> None:
        baked.write_mask(self.patches, doc.mask.shape)


@dataclass(eq=False)
class SetBox:
    """The context box drawn (or cleared): the window the face model fills the holes inside it from."""

    old: Bounds | None
    new: Bounds | None
    label: str = "Context box"
    changes_pixels = False
    nbytes = 0

    def apply(self, doc: Document) -> None:
        doc.write_box(self.new)

    def revert(self, doc: Document) -> None:
        doc.write_box(self.old)

    def bake(self, baked: Baked, doc: Document) -> None:
        baked.box = self.new


@dataclass(eq=False)
class ResultArrived:
    """A restoration finished: its result becomes the pending one, with the engine's first choices."""

    pending: PendingResult
    previous: PendingResult | None = None
    label: str = "Restore"
    changes_pixels = False

    @property
    def nbytes(self) -> int:
        return self.pending.nbytes

    def apply(self, doc: Document) -> None:
        self.pending.regions = list(self.pending.result.patches)
        doc.set_pending(self.pending)

    def revert(self, doc: Document) -> None:
        doc.set_pending(self.previous)

    def bake(self, baked: Baked, doc: Document) -> None:
        baked.pending, baked.pending_regions = self.pending, list(self.pending.result.patches)


@dataclass(eq=False)
class ChooseCandidate:
    pending: PendingResult
    region: int
    old: WindowPatch
    new: WindowPatch
    label: str = "Choose candidate"
    changes_pixels = False

    @property
    def nbytes(self) -> int:
        return int(self.old.values.nbytes + self.new.values.nbytes)  # the candidates are the result's

    def _set(self, doc: Document, patch: WindowPatch) -> None:
        self.pending.regions[self.region] = patch
        doc.set_pending(self.pending, changed=self.region)

    def apply(self, doc: Document) -> None:
        self._set(doc, self.new)

    def revert(self, doc: Document) -> None:
        self._set(doc, self.old)

    def bake(self, baked: Baked, doc: Document) -> None:
        if baked.pending is self.pending:
            baked.pending_regions[self.region] = self.new


@dataclass(eq=False)
class AcceptResult:
    """The pending result's pixels go into the photo and its filled holes leave the mask.

    ``result`` is the result with the choices made when it was accepted, for the record.
    """

    pending: PendingResult
    result: RestoreResult
    pixel_patches: list[MaskedPatch]
    mask_patches: list[Patch]
    label: str = "Accept result"
    changes_pixels = True

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self.pixel_patches) + sum(p.nbytes for p in self.mask_patches)

    def apply(self, doc: Document) -> None:
        for patch in self.pixel_patches:
            doc.write_pixels(patch, forward=True)
        for patch in self.mask_patches:
            doc.write_mask(patch.bounds, patch.after)
        doc.set_pending(None)
        doc.records.append(self.result)

    def revert(self, doc: Document) -> None:
        if doc.records and doc.records[-1] is self.result:
            doc.records.pop()
        for patch in reversed(self.mask_patches):
            doc.write_mask(patch.bounds, patch.before)
        for patch in reversed(self.pixel_patches):
            doc.write_pixels(patch, forward=False)
        doc.set_pending(self.pending)

    def bake(self, baked: Baked, doc: Document) -> None:
        baked.pixels += [PixelWrite(p.bounds, p.where, p.after) for p in self.pixel_patches]
        baked.write_mask(self.mask_patches, doc.mask.shape)
        from restorer.core.record import restoration_entry

        # The record keeps what it says about the result; its candidates' pixels can go.
        baked.records.append(restoration_entry(self.result))
        doc.records[:] = [r for r in doc.records if r is not self.result]
        if baked.pending is self.pending:
            baked.pending = None


@dataclass(eq=False)
class DiscardResult:
    pending: PendingResult
    label: str = "Discard result"
    changes_pixels = False
    nbytes = 0

    def apply(self, doc: Document) -> None:
        doc.set_pending(None)

    def revert(self, doc: Document) -> None:
        doc.set_pending(self.pending)

    def bake(self, baked: Baked, doc: Document) -> None:
        if baked.pending is self.pending:
            baked.pending = None


class History:
    """A list of entries and a position: entries before it are done, the ones after it can be redone.

    When the entries hold more than ``limit`` bytes, the oldest are baked (see :class:`Baked`)
    until they fit again; the newest entry always stays undoable.
    """

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.entries: list[Entry] = []
        self.position = 0
        self.revision = 0  # counts every change, for "unsaved work" and autosave bookkeeping
        self.limit = limit
        self.baked = Baked()
        self._bytes = 0

    def push(self, entry: Entry, doc: Document, already_applied: bool = False) -> None:
        self._bytes -= sum(e.nbytes for e in self.entries[self.position :])
        del self.entries[self.position :]
        if not already_applied:
            entry.apply(doc)
        self.entries.append(entry)
        self._bytes += entry.nbytes
        self.position += 1
        self.revision += 1
        self._trim(doc)

    def add_redo(self, entries: list[Entry]) -> None:
        """Entries undone before a session was saved: they can be redone after it is recovered."""
        self.entries.extend(entries)
        self._bytes += sum(e.nbytes for e in entries)

    def _trim(self, doc: Document) -> None:
        while self._bytes > self.limit and self.position > 1:
            entry = self.entries.pop(0)
            self.position -= 1
            self._bytes -= entry.nbytes
            entry.bake(self.baked, doc)
            self.baked.count += 1

    @property
    def nbytes(self) -> int:
        return self._bytes

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
