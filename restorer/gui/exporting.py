"""Writing the restored photo, the restored-area mask and the intervention record (no Qt).

The photo keeps its bit depth, alpha and ICC profile (imageio does the writing, atomically). The
original file is protected unless the user explicitly confirmed replacing it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from restorer.core.errors import RestorerError
from restorer.gui.document import Document

FORMATS = {"PNG": ".png", "TIFF": ".tif"}


@dataclass
class ExportRequest:
    path: Path
    format: str  # "PNG" | "TIFF"
    include_pending: bool = True
    save_mask: bool = False
    save_record: bool = False
    replace_original: bool = False  # the user confirmed writing over the photo's own file

    @property
    def mask_path(self) -> Path:
        return self.path.with_name(f"{self.path.stem}-mask.png")

    @property
    def record_path(self) -> Path:
        return self.path.with_name(f"{self.path.stem}-restoration.json")


def default_export_path(source: Path | None, folder: Path | None, fmt: str) -> Path:
    stem = source.stem if source is not None else "photo"
    base = folder or (source.parent if source is not None else Path.home())
    return base / f"{stem}-restored{FORMATS[fmt]}"


def is_original(doc: Document, path: Path) -> bool:
    if doc.path is None:
        return False
    try:
        return path.resolve() == doc.path.resolve() or (path.exists() and path.samefile(doc.path))
    except OSError:
        return False


def restored_area(doc: Document, include_pending: bool) -> np.ndarray:
    """Every pixel a restoration changed: the holes of accepted (and optionally pending) results."""
    area = np.zeros_like(doc.mask)
    patches = [p for pending in doc.records for p in pending.patches]
    if include_pending and doc.pending is not None:
        patches += doc.pending.patches
    for patch in patches:
        area[patch.bounds.slices] |= patch.where
    return area


def snapshot(doc: Document, request: ExportRequest):
    """What to write, taken on the GUI thread so that later edits cannot change it midway."""
    pending = request.include_pending and doc.pending is not None
    pixels = doc.materialise_pending() if pending else doc.photo.pixels.copy()
    photo = replace(doc.photo, pixels=pixels)
    mask = restored_area(doc, request.include_pending) if request.save_mask else None
    record = build_record(doc, request) if request.save_record else None
    return photo, mask, record


def build_record(doc: Document, request: ExportRequest) -> dict:
    from restorer.core import pipeline

    results = list(doc.records)
    if request.include_pending and doc.pending is not None:
        results.append(doc.pending)
    return {
        "output": str(request.path),
        "source": str(doc.path) if doc.path else None,
        "restorations": [
            pipeline.intervention_record(p.result, p.options) for p in results if p.result is not None
        ],
    }


def write_export(request: ExportRequest, photo, mask: np.ndarray | None, record: dict | None) -> list[Path]:
    """Write the files (off the GUI thread); returns the paths written."""
    from restorer.core.imageio import atomic_write, write_mask, write_photo

    if request.format not in FORMATS:
        raise RestorerError(f"cannot export as {request.format}; choose PNG or TIFF")
    protect = None if request.replace_original else photo.source
    written = [
        write_photo(
            photo, request.path, format=request.format, overwrite=request.replace_original, protect=protect
        )
    ]
    if mask is not None:
        written.append(write_mask(mask, request.mask_path))
    if record is not None:
        text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
        written.append(atomic_write(request.record_path, lambda tmp: tmp.write_text(text, encoding="utf-8")))
    return written
