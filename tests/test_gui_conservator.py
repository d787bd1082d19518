"""The conservator's tools in the window: "Show Restorations" tints every filled pixel, the ruler
measures in px and mm, and Export writes the layered file and the treatment report."""

# ruff: noqa: F811  (the fixtures imported from gui_support come back as test parameters)

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from gui_support import fake_result, make_photo, no_leaked_threads, show_photo, window  # noqa: F401
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from restorer.core.imageio import write_photo
from restorer.editing.export_names import DistinctExportRequest
from restorer.editing.layers_file import read_ora
from restorer.gui.canvas import RESTORED_TINT, Tool

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_leaked_threads")]
LEFT, NO_MOD = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier


def colour(canvas, x: float, y: float) -> tuple[int, int, int]:
    """What the canvas shows at photo pixel (x, y)."""
    wx, wy = canvas.view.to_widget(x + 0.5, y + 0.5)
    c = canvas.grab().toImage().pixelColor(round(wx), round(wy))
    return c.red(), c.green(), c.blue()


def widget_point(canvas, x: float, y: float) -> QPoint:
    wx, wy = canvas.view.to_widget(x, y)
    return QPoint(round(wx), round(wy))


def accepted_result(window):
    doc = show_photo(window, make_photo(200, 140))
    doc.fill_rect((80, 50), (120, 90))
    doc.show_result(doc.pending_from_result(fake_result(doc.photo, (80, 50, 40, 40))))
    doc.accept()
    return doc


def test_show_restorations_tints_every_filled_pixel_and_only_those(window, qtbot):
    doc = accepted_result(window)
    canvas, action = window.canvas, window.commands["show_restorations"]
    window.set_mask_visible(False)
    filled, untouched = (100, 70), (20, 20)
    before = {p: colour(canvas, *p) for p in (filled, untouched)}
    assert not canvas.restorations_visible
    action.trigger()  # the menu item, T
    assert canvas.restorations_visible and action.isChecked()
    tinted = colour(canvas, *filled)
    assert tinted[1] > before[filled][1] + 40 and tinted[0] < before[filled][0] + 10  # greener
    assert colour(canvas, *untouched) == before[untouched]
    # Undone, the accept leaves the result pending: a fill still shown, still tinted.
    doc.undo()
    assert doc.pending is not None and colour(canvas, *filled)[1] > before[filled][1] + 40
    doc.undo()  # and now the result is gone, and its tint with it
    assert doc.pending is None and not doc.records
    shown = colour(canvas, *filled)
    canvas.set_restorations_visible(False)
    assert shown == colour(canvas, *filled)  # the scan, untinted
    canvas.set_restorations_visible(True)
    doc.redo()
    doc.redo()
    action.trigger()
    assert not canvas.restorations_visible and colour(canvas, *filled) == before[filled]


def test_the_tint_covers_a_pending_result_and_not_the_before_side(window, qtbot):
    doc = show_photo(window, make_photo(200, 140))
    doc.fill_rect((80, 50), (120, 90))
    doc.show_result(doc.pending_from_result(fake_result(doc.photo, (80, 50, 40, 40))))
    canvas = window.canvas
    plain = colour(canvas, 100, 70)
    canvas.set_restorations_visible(True)
    assert colour(canvas, 100, 70)[1] > plain[1] + 40
    canvas.set_show_before(True)  # held \: the scan as it was, untinted
    tinted_before = colour(canvas, 100, 70)
    canvas.set_restorations_visible(False)
    assert tinted_before == colour(canvas, 100, 70)
    canvas.set_show_before(False)
    assert RESTORED_TINT.alpha() < 255  # the photo stays visible under the tint


@pytest.mark.parametrize("dpi", [(300.0, 300.0), None])
def test_the_ruler_measures_a_drag_in_px_and_mm(window, qtbot, dpi):
    photo = make_photo(400, 300)
    photo.dpi = dpi
    show_photo(window, photo)
    canvas = window.canvas
    window.commands.tools[Tool.RULER].trigger()  # U
    assert canvas.tool == Tool.RULER
    seen = []
    canvas.measured.connect(seen.append)
    start, end = widget_point(canvas, 50, 100), widget_point(canvas, 350, 100)
    QTest.mousePress(canvas, LEFT, NO_MOD, start)
    QTest.mouseMove(canvas, widget_point(canvas, 200, 100))
    QTest.mouseMove(canvas, end)
    QTest.mouseRelease(canvas, LEFT, NO_MOD, end)
    (x0, y0), (x1, y1) = canvas.ruler
    length = np.hypot(x1 - x0, y1 - y0)
    assert length == pytest.approx(300, abs=3 / canvas.view.scale)
    assert len(seen) >= 2 and seen[-1] == canvas.ruler_text()
    assert f"{length:.1f} px" in seen[-1]
    if dpi is None:
        assert "mm" not in seen[-1]
    else:
        assert f"{length * 25.4 / 300:.2f} mm" in seen[-1]
    assert "Ruler:" in window.statusBar().currentMessage()
    assert not window.doc.mask.any() and not window.doc.history.entries  # measuring changes nothing
    window.commands.tools[Tool.BRUSH].trigger()
    assert canvas.ruler is None


def test_export_writes_the_layered_file_and_the_report(window, qtbot, tmp_path):
    source = tmp_path / "scan.png"
    write_photo(make_photo(120, 90), source)
    window.open_path(source)
    qtbot.waitUntil(lambda: window.doc is not None, timeout=10_000)
    doc = window.doc
    doc.fill_rect((20, 20), (50, 50))
    doc.show_result(doc.pending_from_result(fake_result(doc.photo, (20, 20, 32, 32))))
    doc.accept()
    request = DistinctExportRequest(
        tmp_path / "out.png", "PNG", save_record=True, save_layers=True, save_report=True
    )
    assert window.export(request, wait=True), window.last_error
    back = read_ora(request.layers_path)
    np.testing.assert_array_equal(back.layers[0].pixels, make_photo(120, 90).pixels)
    text = request.report_path.read_text("utf-8")
    assert "1.1" in text and request.layers_path.name in text and "out.png" in text
