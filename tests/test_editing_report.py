"""The HTML treatment report: every region, model checksum, area in px (and mm² only when the dpi is
known), the SHA-256 of every file named, pictures embedded, and the report the window's export writes."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from dataclasses import replace

import numpy as np
import pytest
from gui_support import fake_result, make_photo

from restorer.core.imageio import read_photo, write_photo
from restorer.core.record import intervention_record
from restorer.core.types import Bounds, RestoreResult
from restorer.editing.conservation import snapshot, write_files
from restorer.editing.document import Document
from restorer.editing.export import ExportRequest, write_export
from restorer.editing.export import snapshot as export_snapshot
from restorer.editing.report import ReportInput, build_report, default_operator, write_report

MODEL_SHA = "ab" * 32


def two_region_result(photo) -> RestoreResult:
    first = fake_result(photo, (10, 10, 30, 30)).patches[0]
    first.params = {"seed": 7, "model_sha256": MODEL_SHA, "iterations": 50}
    second = replace(fake_result(photo, (50, 20, 24, 24)).patches[0], index=1, method="diffusion", model=None)
    second.params = {"grain": True}
    return RestoreResult([first, second], ["region 3: too large"])


def report_for(tmp_path, dpi):
    photo = make_photo(96, 64)
    photo.dpi = dpi
    result = two_region_result(photo)
    area = np.zeros((64, 96), bool)
    for patch in result.patches:
        area[patch.box.slices] |= patch.hole
    source = tmp_path / "scan.png"
    source.write_bytes(b"the scan's bytes")
    output = tmp_path / "out.png"
    output.write_bytes(b"the output's bytes")
    record = intervention_record(photo, [result], {"photo": source, "output": output})
    files = {"source scan": source, "restored photo": output}
    after = photo.pixels.copy()
    after[area] = 0
    return ReportInput(record, photo.pixels, after, area, dpi, "A. Conservator", files), result


def test_report_names_every_region_its_model_checksum_area_and_the_files(tmp_path):
    inp, result = report_for(tmp_path, (300.0, 300.0))
    text = build_report(inp)
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    for number, patch in enumerate(result.patches, 1):
        x, y, w, h = patch.box.xywh()
        assert f"<td>1.{number}</td>" in text and f"x {x}, y {y}, {w} × {h} px" in text
        mm2 = patch.hole_pixels * (25.4 / 300) ** 2
        assert f"{patch.hole_pixels} px ({mm2:.2f} mm²)" in text
    assert "latent" in text and "diffusion" in text
    assert f"tiny (SHA-256 {MODEL_SHA})" in text
    assert "<td>7</td>" in text  # the region's seed
    assert "A. Conservator" in text and html.escape("region 3: too large") in text
    total = int(inp.area.sum())
    assert f"{total} px ({total * (25.4 / 300) ** 2:.2f} mm²)" in text
    assert "300 × 300 dpi" in text
    for path in inp.files.values():
        assert hashlib.sha256(path.read_bytes()).hexdigest() in text
    assert inp.record["date"] in text


def test_no_millimetres_without_a_resolution(tmp_path):
    inp, result = report_for(tmp_path, None)
    text = build_report(inp)
    assert "mm²" not in text and "unknown (areas in pixels only)" in text
    assert f"<td>{result.patches[0].hole_pixels} px</td>" in text


def test_pictures_are_embedded_pngs(tmp_path):
    inp, result = report_for(tmp_path, None)
    text = build_report(inp)
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == 3 + 2 * len(result.patches)  # before, after, overlay; two crops per region
    assert all(base64.b64decode(data).startswith(b"\x89PNG") for data in images)
    assert 'src="http' not in text and "<script" not in text  # nothing fetched, nothing run


def test_text_from_the_record_is_escaped(tmp_path):
    inp, _ = report_for(tmp_path, None)
    inp.operator = "<script>alert(1)</script>"
    assert "<script>" not in build_report(inp)


def test_write_report_is_atomic_and_checked(tmp_path):
    inp, _ = report_for(tmp_path, None)
    path = write_report(tmp_path / "report.html", inp)
    assert path.read_text("utf-8").rstrip().endswith("</html>") and not list(tmp_path.glob(".*.tmp"))
    assert default_operator()


@pytest.mark.parametrize("dpi", [None, (600.0, 600.0)])
def test_the_windows_export_writes_layers_and_a_report_hashing_them(tmp_path, dpi):
    source = tmp_path / "scan.png"
    photo = make_photo(100, 80, dtype=np.uint16)
    photo.dpi = dpi
    write_photo(photo, source)
    doc = Document(read_photo(source), source)
    doc.show_result(doc.pending_from_result(fake_result(doc.photo, Bounds.from_xywh((10, 10, 30, 30)))))
    request = ExportRequest(
        tmp_path / "out.tif", "TIFF", save_record=True, save_layers=True, save_report=True
    )
    flat, mask, record = export_snapshot(doc, request)
    c = snapshot(doc, request, flat, "op")
    written = write_export(request, flat, mask, record)
    extra = write_files(request, c, written, doc.path)
    assert extra == [request.layers_path, request.report_path]
    text = request.report_path.read_text("utf-8")
    for path in (source, request.path, request.record_path, request.layers_path):
        assert hashlib.sha256(path.read_bytes()).hexdigest() in text
    assert ("mm²" in text) == (dpi is not None)
    assert f"{int(c.area.sum())} px" in text
