"""The reversible output and the treatment report of an export: what to write, and writing it (no Qt).

The layered file holds the scan as it was opened, the fills alone (with alpha) and the restored
area, so the restoration can be taken off again; the flat photo is their composite. The original is
rebuilt from the undo history (each accepted result keeps the pixels it replaced); results whose
undo the history let go of kept no old pixels, so for those the scan is read again from its file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from restorer.core.errors import RestorerError
from restorer.core.imageio import Photo
from restorer.core.types import RestoreResult
from restorer.editing.document import Document
from restorer.editing.export import ExportRequest, build_record, restored_area
from restorer.editing.history import AcceptResult
from restorer.editing.layers_file import Layer, write_ora
from restorer.editing.report import ReportInput, write_report

LAYER_NAMES = ("Original scan", "Restorations", "Restored area (mask)")


@dataclass
class Conservation:
    """Taken on the GUI thread with the export's snapshot; written off it."""

    original: Photo  # the scan as opened
    flat: Photo  # what the export writes
    area: np.ndarray  # bool (H, W), every pixel a restoration changed
    record: dict
    operator: str


def original_pixels(doc: Document) -> np.ndarray:
    """The photo's pixels before any accepted restoration."""
    pixels = doc.photo.pixels.copy()
    history = doc.history
    for entry in reversed(history.entries[: history.position]):
        if isinstance(entry, AcceptResult):
            for patch in reversed(entry.pixel_patches):
                patch.revert(pixels)
    if history.baked.pixels:
        scan = _read_scan(doc)
        for write in history.baked.pixels:
            pixels[write.bounds.slices][write.where] = scan[write.bounds.slices][write.where]
    return pixels


def _read_scan(doc: Document) -> np.ndarray:
    from restorer.core.imageio import read_photo

    if doc.path is None or not doc.path.is_file():
        raise RestorerError("the original scan is needed for the layered file, but its file is gone")
    scan = read_photo(doc.path).pixels
    if scan.shape != doc.photo.pixels.shape or scan.dtype != doc.photo.pixels.dtype:
        raise RestorerError(f"{doc.path} has changed since it was opened; the original cannot be rebuilt")
    return scan


def snapshot(doc: Document, request: ExportRequest, flat: Photo, operator: str) -> Conservation | None:
    """What the layered file and the report need, or None when the export writes neither."""
    if not (request.save_layers or request.save_report):
        return None
    original = doc.photo.with_pixels(original_pixels(doc))
    area = restored_area(doc, request.include_pending)
    return Conservation(original, flat, area, build_record(doc, request), operator)


def layers(original: Photo, flat: Photo, area: np.ndarray) -> list[Layer]:
    """Bottom first: the scan (with its own alpha), the fills where restored, the area (hidden)."""
    top = np.iinfo(original.pixels.dtype).max
    scan = original.pixels
    if original.alpha is not None:
        scan = np.concatenate([scan, original.alpha[:, :, None]], axis=2)
    coverage = np.where(area, top, 0).astype(original.pixels.dtype)[:, :, None]
    fills = np.concatenate([np.where(area[:, :, None], flat.pixels, 0), coverage], axis=2)
    mask = np.concatenate([np.full_like(coverage, top), coverage], axis=2)  # white where restored
    return [
        Layer(LAYER_NAMES[0], scan),
        Layer(LAYER_NAMES[1], fills.astype(original.pixels.dtype)),
        Layer(LAYER_NAMES[2], mask, visible=False),
    ]


def write_layers(path: Path, original: Photo, flat: Photo, area: np.ndarray) -> Path:
    merged = flat.pixels
    if flat.alpha is not None:
        merged = np.concatenate([merged, flat.alpha[:, :, None]], axis=2)
    return write_ora(path, layers(original, flat, area), original.size, merged=merged, dpi=original.dpi)


def write_files(
    request: ExportRequest, c: Conservation, written: list[Path], source: Path | None
) -> list[Path]:
    """Write the layered file and then the report, which names (and hashes) every file written."""
    out = []
    if request.save_layers:
        out.append(write_layers(request.layers_path, c.original, c.flat, c.area))
    if request.save_report:
        files: dict[str, Path | None] = {"source scan": source}
        for path in [*written, *out]:
            files[_role(request, path)] = path
        inp = ReportInput(
            c.record, c.original.pixels, c.flat.pixels, c.area, c.original.dpi, c.operator, files
        )
        out.append(write_report(request.report_path, inp))
    return out


def _role(request: ExportRequest, path: Path) -> str:
    roles = {
        request.path: "restored photo",
        request.mask_path: "restored-area mask",
        request.record_path: "intervention record",
        request.layers_path: "layered file (OpenRaster)",
    }
    return roles.get(path, path.name)


def write_for_result(
    photo: Photo,
    restored: Photo,
    result: RestoreResult,
    record: dict,
    written: list[Path],
    layers_path: Path | None,
    report_path: Path | None,
) -> list[Path]:
    """The command line's layered file and report for one result (the photo read from its file)."""
    from restorer.editing.report import default_operator

    area = np.zeros(photo.pixels.shape[:2], bool)
    for patch in result.patches:
        area[patch.box.slices] |= patch.hole
    out = []
    if layers_path is not None:
        out.append(write_layers(layers_path, photo, restored, area))
    if report_path is not None:
        files: dict[str, Path | None] = {"source scan": photo.source}
        roles = ["restored photo", "intervention record"] if len(written) > 1 else ["restored photo"]
        files.update(zip(roles, written, strict=True))
        if layers_path is not None:
            files["layered file (OpenRaster)"] = layers_path
        inp = ReportInput(record, photo.pixels, restored.pixels, area, photo.dpi, default_operator(), files)
        out.append(write_report(report_path, inp))
    return out
