"""What an export writes, without Qt: the one list of formats, the restored area, the one record."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from gui_support import fake_result, make_photo

from restorer.core.imageio import WRITE_SUFFIXES, read_mask, read_photo, write_photo
from restorer.core.record import FORMAT
from restorer.editing.document import Document
from restorer.editing.export import (
    EXPORT_FORMATS,
    FORMATS,
    ExportRequest,
    format_of,
    restored_area,
    snapshot,
    write_export,
)


def test_export_formats_come_from_imageios_table():
    assert EXPORT_FORMATS == ("PNG", "TIFF") and FORMATS == {"PNG": ".png", "TIFF": ".tif"}
    assert all(WRITE_SUFFIXES[suffix] == fmt for fmt, suffix in FORMATS.items())
    assert format_of(Path("x.TIFF")) == "TIFF" and format_of(Path("x.png")) == "PNG"
    assert format_of(Path("x.jpg")) is None  # JPEG is written by the command line only


def test_export_writes_photo_mask_and_the_one_record(tmp_path):
    source = tmp_path / "scan.png"
    write_photo(make_photo(100, 80, dtype=np.uint16), source)
    doc = Document(read_photo(source), source)
    doc.fill_rect((10, 10), (40, 40))
    doc.show_result(doc.pending_from_result(fake_result(doc.photo, (10, 10, 30, 30))))
    doc.choose_candidate(0, 1)
    doc.accept()
    doc.fill_rect((50, 30), (80, 60))
    doc.show_result(doc.pending_from_result(fake_result(doc.photo, (50, 30, 30, 30))))
    first_hole, second_hole = doc.records[0].patches[0].hole, doc.pending.regions[0].hole
    area = restored_area(doc, include_pending=True)
    assert area.sum() == first_hole.sum() + second_hole.sum()
    assert restored_area(doc, include_pending=False).sum() == first_hole.sum()

    request = ExportRequest(tmp_path / "out.tif", "TIFF", save_mask=True, save_record=True)
    photo, mask, record = snapshot(doc, request)
    assert not np.shares_memory(photo.pixels, doc.photo.pixels)
    written = write_export(request, photo, mask, record)
    assert written == [request.path, request.mask_path, request.record_path]
    back = read_photo(request.path)
    assert back.pixels.dtype == np.uint16
    np.testing.assert_array_equal(back.pixels, doc.materialise_pending())
    np.testing.assert_array_equal(read_mask(request.mask_path, doc.size), area)
    saved = json.loads(request.record_path.read_text())
    assert saved["format"] == FORMAT
    assert saved["files"] == {
        "photo": str(source),
        "output": str(request.path),
        "mask": str(request.mask_path),
    }
    assert saved["photo"]["bit_depth"] == 16 and saved["photo"]["size"] == [100, 80]
    regions = [r["regions"][0] for r in saved["restorations"]]
    assert [r["chosen"] for r in regions] == [1, 0]  # accepted first, then the pending one
    assert [r["hole_pixels"] for r in regions] == [first_hole.sum(), second_hole.sum()]
    assert regions[0]["window"] == [10, 10, 30, 30] and regions[0]["candidates"] == 3
    assert saved["restorations"][0]["options"]["method"] == "latent"
