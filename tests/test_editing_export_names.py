"""Exports in two formats keep two records."""

from __future__ import annotations

from pathlib import Path

from restorer.editing.export_names import DistinctExportRequest, record_path_for


def test_png_and_tiff_exports_get_their_own_record():
    png = DistinctExportRequest(Path("/out/photo-restored.png"), "PNG", save_record=True)
    tif = DistinctExportRequest(Path("/out/photo-restored.tif"), "TIFF", save_record=True)
    assert png.record_path == Path("/out/photo-restored-png-restoration.json")
    assert tif.record_path == Path("/out/photo-restored-tif-restoration.json")
    assert record_path_for(Path("scan")) == Path("scan-restoration.json")
