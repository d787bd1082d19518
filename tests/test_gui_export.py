"""Export: the right format and bit depth, ICC and alpha kept, the original protected, masks in and out."""

# ruff: noqa: F811  (the fixtures imported from gui_support come back as test parameters)

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from gui_support import fake_result, make_photo, no_leaked_threads, show_photo, window  # noqa: F401
from PIL import ImageCms
from PySide6.QtWidgets import QMessageBox

from restorer.core.imageio import Photo, read_mask, read_photo, write_photo
from restorer.editing.export import ExportRequest
from restorer.gui.export_dialog import ExportDialog

pytestmark = pytest.mark.gui


def scan_file(tmp_path, name="scan.tif") -> tuple:
    base = make_photo(90, 70, dtype=np.uint16)
    alpha = np.full((70, 90), 65535, np.uint16)
    alpha[:5] = 1000
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path / name
    write_photo(Photo(base.pixels, alpha, icc, None, "TIFF"), path)
    return path, icc


def open_file(window, qtbot, path):
    window.open_path(path)
    qtbot.waitUntil(lambda: window.doc is not None, timeout=10_000)
    return window.doc


def test_tiff_export_keeps_16_bit_alpha_and_icc_with_the_accepted_result(window, qtbot, tmp_path):
    path, icc = scan_file(tmp_path)
    doc = open_file(window, qtbot, path)
    original = doc.photo.pixels.copy()
    doc.fill_rect((20, 20), (50, 50))
    doc.show_result(doc.pending_from_result(fake_result(doc.photo, (20, 20, 30, 30))))
    doc.accept()
    assert window.has_unsaved_work
    out = tmp_path / "out.tif"
    assert window.export(ExportRequest(out, "TIFF"), wait=True)
    back = read_photo(out)
    assert back.pixels.dtype == np.uint16 and back.format == "TIFF"
    np.testing.assert_array_equal(back.pixels, doc.photo.pixels)
    assert (back.pixels != original).any()
    np.testing.assert_array_equal(back.alpha, doc.photo.alpha)
    assert back.icc_profile == icc
    assert not window.has_unsaved_work
    doc.fill_rect((0, 0), (5, 5))
    assert window.has_unsaved_work


def test_png_export_with_or_without_the_pending_result(window, qtbot, tmp_path):
    doc = show_photo(window, make_photo(80, 60), tmp_path / "photo.png")
    doc.fill_rect((10, 10), (40, 40))
    doc.show_result(doc.pending_from_result(fake_result(doc.photo, (10, 10, 30, 30))))
    with_result, without = tmp_path / "a.png", tmp_path / "b.png"
    window.export(ExportRequest(with_result, "PNG", include_pending=True, save_mask=True), wait=True)
    window.export(ExportRequest(without, "PNG", include_pending=False), wait=True)
    a, b = read_photo(with_result), read_photo(without)
    assert a.pixels.dtype == np.uint8 and a.format == "PNG"
    np.testing.assert_array_equal(b.pixels, doc.photo.pixels)
    hole = doc.pending.patches[0].where
    changed = (a.pixels != b.pixels).any(axis=2)
    assert changed[10:40, 10:40].sum() == hole.sum() and changed.sum() == hole.sum()
    np.testing.assert_array_equal(read_mask(tmp_path / "a-mask.png", doc.size)[10:40, 10:40], hole)


def test_the_original_is_never_overwritten_unless_confirmed(window, qtbot, tmp_path, monkeypatch):
    path, _ = scan_file(tmp_path, "original.tif")
    before = path.read_bytes()
    doc = open_file(window, qtbot, path)
    doc.fill_rect((10, 10), (30, 30))
    doc.show_result(doc.pending_from_result(fake_result(doc.photo, (10, 10, 20, 20))))
    doc.accept()
    assert not window.export(ExportRequest(path, "TIFF"), wait=True)
    assert "refusing to overwrite" in window.last_error
    assert path.read_bytes() == before

    dialog = ExportDialog(doc, tmp_path, window)
    assert dialog.path.text().endswith("original-restored.tif") and dialog.format.currentText() == "TIFF"
    dialog.path.setText(str(path))
    assert dialog.record.isChecked()  # a result was accepted: its record is offered by default
    dialog.record.setChecked(False)  # (the record itself is tested with the real engine)
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Cancel)
    dialog._accept()
    assert dialog.request is None  # declined: nothing will be written
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Yes)
    dialog._accept()
    assert dialog.request is not None and dialog.request.replace_original
    assert window.export(dialog.request, wait=True)
    assert path.read_bytes() != before
    np.testing.assert_array_equal(read_photo(path).pixels, doc.photo.pixels)


def test_mask_export_and_import_round_trip_and_import_is_undoable(window, qtbot, tmp_path):
    doc = show_photo(window, make_photo(64, 48), tmp_path / "p.png")
    doc.fill_polygon([(5, 5), (60, 10), (30, 40)])
    painted = doc.mask.copy()
    window.export_mask(tmp_path / "m.png")
    window.clear_mask()
    window.import_mask(tmp_path / "m.png")
    np.testing.assert_array_equal(doc.mask, painted)
    window.undo()
    assert not doc.mask.any()
    write_photo(make_photo(10, 10), tmp_path / "small.png")
    window.import_mask(tmp_path / "small.png")
    assert "mask is 10x10 but the photo is 64x48" in window.last_error and not doc.mask.any()


def test_the_dialog_offers_the_export_formats_and_follows_their_suffixes(window, tmp_path):
    from restorer.editing.export import EXPORT_FORMATS
    from restorer.gui.export_dialog import file_filter

    doc = show_photo(window, make_photo(40, 30), tmp_path / "p.png")
    dialog = ExportDialog(doc, tmp_path, window)
    formats = [dialog.format.itemText(i) for i in range(dialog.format.count())]
    assert formats == list(EXPORT_FORMATS) and dialog.path.text().endswith("p-restored.png")
    dialog.format.setCurrentText("TIFF")
    assert dialog.path.text().endswith("p-restored.tif")
    assert file_filter("TIFF") == "TIFF image (*.tif *.tiff)"
    assert not dialog.record.isEnabled()  # nothing restored yet: no record to offer
    assert dialog.build_request().format == "TIFF"
