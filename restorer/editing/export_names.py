"""Names of the files written beside an export, distinct per format (no Qt).

``ExportRequest.record_path`` drops the photo's suffix, so exporting the same photo as PNG and then
as TIFF wrote both intervention records to one ``…-restoration.json``, the second replacing the
first. The window's exports name the record after the whole file name, suffix included.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from restorer.editing.export import ExportRequest


def record_path_for(path: Path) -> Path:
    """``photo-restored.tif`` -> ``photo-restored-tif-restoration.json``."""
    kind = path.suffix.lstrip(".").lower()
    return path.with_name(f"{path.stem}-{kind}-restoration.json" if kind else f"{path.stem}-restoration.json")


@dataclass
class DistinctExportRequest(ExportRequest):
    """An export whose record cannot be overwritten by an export of the same photo in another format."""

    @property
    def record_path(self) -> Path:
        return record_path_for(self.path)
