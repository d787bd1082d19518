"""Writing the restored photo, the restored-area mask and the intervention record (no Qt).

The photo keeps its bit depth, alpha and ICC profile (imageio does the writing, atomically). The
original file is protected unless the user explicitly confirmed replacing it. The record is the
one the command line writes (``restorer.core.record``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from restorer.core.errors import RestorerError
from restorer.core.imageio import WRITE_SUFFIXES, Photo, write_mask, write_photo
from restorer.core.record import intervention_record, with_record_xmp, write_record
from restorer.editing.document import Document

EXPORT_FORMATS = ("PNG", "TIFF")
"""What an export writes: the lossless formats, which keep 16-bit depth and alpha."""


def suffixes(fmt: str) -> list[str]:
    """File name endings of a format, the usual one first (from imageio's table)."""
    return [suffix for suffix, name in WRITE_SUFFIXES.items() if name == fmt]


FORMATS = {fmt: suffixes(fmt)[0] for fmt in EXPORT_FORMATS}


@dataclass
class ExportRequest:
    path: Path
    format: str  # one of EXPORT_FORMATS
    include_pending: bool = True
    save_mask: bool = False
    save_record: bool = False
    replace_original: bool = False  # the user confirmed writing over the photo's own file
    save_layers: bool = False  # the reversible OpenRaster file (restorer.editing.conservation)
    save_report: bool = False  # the HTML treatment report

    @property
    def mask_path(self) -> Path:
        return self.path.with_name(f"{self.path.stem}-mask.png")

    @property
    def record_path(self) -> Path:
        return self.path.with_name(f"{self.path.stem}-restoration.json")

    @property
    def layers_path(self) -> Path:
        return self.path.with_name(f"{self.path.stem}-layers.ora")

    @property
    def report_path(self) -> Path:
        # After the record's name, so that a report (which hashes the output) is per format as it is.
        record = self.record_path
        return record.with_name(record.name.removesuffix("-restoration.json") + "-report.html")


def format_of(path: Path) -> str | None:
    """The export format a file name asks for, or None."""
    fmt = WRITE_SUFFIXES.get(path.suffix.lower())
    return fmt if fmt in EXPORT_FORMATS else None


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


def has_results(doc: Document) -> bool:
    return bool(doc.records or doc.history.baked.records) or doc.pending is not None


def restored_area(doc: Document, include_pending: bool) -> np.ndarray:
    """Every pixel a restoration changed: the holes of accepted (and optionally pending) results."""
    area = np.zeros_like(doc.mask)
    holes = [(w.bounds, w.where) for w in doc.history.baked.pixels]
    holes += [(p.box, p.hole) for result in doc.records for p in result.patches]
    if include_pending and doc.pending is not None:
        holes += [(p.box, p.hole) for p in doc.pending.regions]
    for bounds, where in holes:
        area[bounds.slices] |= where
    return area


def build_record(doc: Document, request: ExportRequest) -> dict:
    """The intervention record: every accepted result (and the pending one, if exported), oldest first."""
    results = list(doc.records)
    if request.include_pending and doc.pending is not None:
        results.append(doc.pending.chosen_result())
    files = {
        "photo": doc.path,
        "output": request.path,
        "mask": request.mask_path if request.save_mask else None,
    }
    record = intervention_record(doc.photo, results, files)
    # Results whose undo the history let go of were recorded then (restoration_entry), oldest of all.
    record["restorations"][:0] = doc.history.baked.records
    return record


def snapshot(doc: Document, request: ExportRequest) -> tuple[Photo, np.ndarray | None, dict | None]:
    """What to write, taken on the GUI thread so that later edits cannot change it midway."""
    pending = request.include_pending and doc.pending is not None
    pixels = doc.materialise_pending() if pending else doc.photo.pixels.copy()
    record = build_record(doc, request)  # built always: the exported photo's XMP holds it
    photo = with_record_xmp(doc.photo.with_pixels(pixels), record, request.path)
    mask = restored_area(doc, request.include_pending) if request.save_mask else None
    return photo, mask, record if request.save_record else None


def write_export(
    request: ExportRequest, photo: Photo, mask: np.ndarray | None, record: dict | None
) -> list[Path]:
    """Write the files (off the GUI thread); returns the paths written."""
    if request.format not in EXPORT_FORMATS:
        raise RestorerError(f"cannot export as {request.format}; choose {' or '.join(EXPORT_FORMATS)}")
    protect = None if request.replace_original else photo.source
    written = [
        write_photo(
            photo, request.path, format=request.format, overwrite=request.replace_original, protect=protect
        )
    ]
    if mask is not None:
        written.append(write_mask(mask, request.mask_path))
    if record is not None:
        written.append(write_record(record, request.record_path))
    return written
