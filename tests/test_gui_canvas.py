"""The canvas in the window: strokes, fills, undo/redo by shortcut, zoom and pan, opening 16-bit TIFF."""

# ruff: noqa: F811  (the fixtures imported from gui_support come back as test parameters)

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from gui_support import make_photo, no_leaked_threads, show_photo, window  # noqa: F401  (fixtures)
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from restorer.core import maskops
from restorer.core.imageio import write_photo
from restorer.gui.canvas import Tool

pytestmark = pytest.mark.gui
NO_MOD = Qt.KeyboardModifier.NoModifier
LEFT, RIGHT, MIDDLE = Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton, Qt.MouseButton.MiddleButton


def widget_point(canvas, x: float, y: float) -> QPoint:
    wx, wy = canvas.view.to_widget(x, y)
    return QPoint(round(wx), round(wy))


def drag(canvas, points: list[QPoint], button=LEFT) -> None:
    QTest.mousePress(canvas, button, NO_MOD, points[0])
    for p in points[1:]:
        QTest.mouseMove(canvas, p)
    QTest.mouseRelease(canvas, button, NO_MOD, points[-1])


def expected_stroke(canvas, points: list[QPoint], radius: float) -> np.ndarray:
    mask = np.zeros(canvas.doc.mask.shape, bool)
    image = [canvas.image_point(QPointF(p)) for p in points]
    for p0, p1 in zip([image[0], *image[:-1]], image, strict=True):  # a press paints a dot first
        bounds, fp = maskops.segment_footprint(p0, p1, radius, mask.shape)
        mask[bounds.slices] |= fp
    return mask


def test_brush_strokes_paint_where_dragged_and_undo_by_shortcut(window, qtbot):
    doc = show_photo(window, make_photo(240, 160))
    canvas = window.canvas
    canvas.set_brush_size(10)
    points = [widget_point(canvas, x, y) for x, y in [(30, 40), (80, 45), (120, 100)]]
    drag(canvas, points)
    expected = expected_stroke(canvas, points, 5.0)
    assert expected.sum() > 500
    np.testing.assert_array_equal(doc.mask, expected)
    assert doc.history.position == 1  # one stroke, one undo step

    erase = [widget_point(canvas, x, y) for x, y in [(70, 20), (70, 80)]]
    drag(canvas, erase, button=RIGHT)  # the right button erases
    after_erase = expected & ~expected_stroke(canvas, erase, 5.0)
    np.testing.assert_array_equal(doc.mask, after_erase)

    window.activateWindow()
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(doc.mask, expected)
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not doc.mask.any()
    QTest.keyClick(
        canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    QTest.keyClick(
        canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    np.testing.assert_array_equal(doc.mask, after_erase)


def test_rectangle_and_lasso_tools_fill_their_shapes(window):
    doc = show_photo(window, make_photo(200, 150))
    canvas = window.canvas
    window.set_tool(Tool.RECT)
    a, b = widget_point(canvas, 20, 30), widget_point(canvas, 60, 50)
    drag(canvas, [a, b])
    rect = np.zeros_like(doc.mask)
    bounds, fp = maskops.rect_footprint(
        canvas.image_point(QPointF(a)), canvas.image_point(QPointF(b)), rect.shape
    )
    rect[bounds.slices] = fp
    np.testing.assert_array_equal(doc.mask, rect)
    assert 700 < rect.sum() < 900

    window.set_tool(Tool.LASSO)
    corners = [widget_point(canvas, x, y) for x, y in [(100, 20), (180, 20), (140, 120), (100, 20)]]
    drag(canvas, corners)
    triangle = doc.mask & ~rect
    xs, ys = np.nonzero(triangle.T)
    assert triangle.sum() > 2500 and xs.min() >= 99 and xs.max() <= 181 and ys.max() <= 121
    assert doc.history.position == 2
    window.invert_mask()
    assert doc.mask.sum() == doc.mask.size - (rect | triangle).sum()
    window.undo()
    np.testing.assert_array_equal(doc.mask, rect | triangle)


def test_wheel_zooms_about_the_pointer_and_space_or_middle_drag_pans(window, qtbot):
    show_photo(window, make_photo(300, 200))
    canvas = window.canvas
    at = QPointF(300, 250)
    before = canvas.image_point(at)
    scale = canvas.view.scale
    wheel = QWheelEvent(
        at,
        canvas.mapToGlobal(at),
        QPoint(),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        NO_MOD,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(canvas, wheel)
    assert canvas.view.scale == pytest.approx(scale * 2**0.5)
    assert canvas.image_point(at) == pytest.approx(before)
    assert window.zoom_label.text() == f"{canvas.view.scale * 100:.0f} %"

    offset = canvas.view.offset_x
    drag(canvas, [QPoint(300, 250), QPoint(340, 250)], button=MIDDLE)
    assert canvas.view.offset_x == pytest.approx(offset + 40)
    assert not window.doc.mask.any()  # panning never paints

    canvas.setFocus()
    QTest.keyPress(canvas, Qt.Key.Key_Space)
    drag(canvas, [QPoint(340, 250), QPoint(300, 230)])
    QTest.keyRelease(canvas, Qt.Key.Key_Space)
    assert canvas.view.offset_x == pytest.approx(offset)
    assert not window.doc.mask.any()

    window.canvas.zoom_to(1.0)
    assert canvas.view.scale == 1.0
    window.fit_view()
    assert canvas.view.scale == pytest.approx(scale)


def test_bracket_keys_change_the_brush_size_everywhere(window):
    show_photo(window, make_photo(100, 80))
    window.canvas.set_brush_size(20)
    window.activateWindow()
    QTest.keyClick(window.canvas, Qt.Key.Key_BracketRight)
    assert window.canvas.brush_size == 23 and window.brush_spin.value() == 23
    QTest.keyClick(window.canvas, Qt.Key.Key_BracketLeft)
    assert window.canvas.brush_size == 20 and window.brush_slider.value() == 20
    window.brush_spin.setValue(64)
    assert window.canvas.brush_size == 64


def test_sixteen_bit_tiff_opens_with_an_8_bit_display_copy(window, qtbot, tmp_path):
    photo = make_photo(320, 200, dtype=np.uint16)
    path = tmp_path / "scan.tif"
    write_photo(photo, path)
    window.open_path(path)
    qtbot.waitUntil(lambda: window.doc is not None, timeout=10_000)
    doc = window.doc
    assert doc.photo.pixels.dtype == np.uint16
    np.testing.assert_array_equal(doc.photo.pixels, photo.pixels)
    layer = window.canvas.photo_layer
    assert not layer.shares_pixels
    np.testing.assert_array_equal(layer.pyramid.levels[0], (photo.pixels >> 8).astype(np.uint8))
    assert "16-bit" in window.size_label.text() and window.windowTitle().startswith("scan.tif")
    image = window.canvas.grab().toImage()
    centre = image.pixelColor(window.canvas.width() // 2, window.canvas.height() // 2)
    x, y = (
        int(v)
        for v in window.canvas.image_point(QPointF(window.canvas.width() // 2, window.canvas.height() // 2))
    )
    assert abs(centre.red() - int(photo.pixels[y, x, 0]) // 256) <= 8  # shown, not just loaded


def test_a_bad_file_reports_and_the_app_goes_on(window, qtbot, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    window.open_path(bad)
    qtbot.waitUntil(lambda: window.last_error != "", timeout=10_000)
    assert "broken.png" in window.last_error and window.doc is None
    assert window.stack.currentWidget() is window.welcome


def test_detect_damage_adds_to_the_mask_in_one_undo_step(window, qtbot):
    from restorer.core.detect import detect_damage

    photo = make_photo(200, 140)
    photo.pixels[60:62, 10:190] = 255  # a bright scratch
    doc = show_photo(window, photo)
    doc.fill_rect((5, 5), (20, 20))
    painted = doc.mask.copy()
    window.detect_damage_with(0.7)
    qtbot.waitUntil(lambda: doc.history.position == 2, timeout=10_000)
    np.testing.assert_array_equal(doc.mask, painted | detect_damage(photo.pixels, 0.7))
    window.undo()
    np.testing.assert_array_equal(doc.mask, painted)


def canvas_colour(canvas, x: float, y: float) -> int:
    """The red value the canvas shows at photo pixel (x, y)."""
    wx, wy = canvas.view.to_widget(x + 0.5, y + 0.5)
    return canvas.grab().toImage().pixelColor(round(wx), round(wy)).red()


def test_results_show_in_place_and_compare_with_before(window, qtbot):
    from gui_support import fake_result

    doc = show_photo(window, make_photo(200, 140))
    canvas = window.canvas
    doc.fill_rect((80, 50), (120, 90))
    x, y = 100, 70  # inside the result's hole
    original = int(doc.photo.pixels[y, x, 0])
    doc.show_result(doc.pending_from_result(fake_result(doc.photo, (80, 50, 40, 40))))
    filled = round(1 / 5 * 255)
    assert canvas_colour(canvas, x, y) == filled  # the pending result, drawn over the photo, no tint
    canvas.set_show_before(True)  # holding backslash
    assert canvas_colour(canvas, x, y) != filled
    canvas.set_show_before(False)
    wx, _ = canvas.view.to_widget(x, y)
    canvas.set_split(min(1.0, (wx + 50) / canvas.width()))  # the hole is left of the line: "before"
    assert canvas_colour(canvas, x, y) != filled
    canvas.set_split(max(0.0, (wx - 50) / canvas.width()))  # right of the line: "after"
    assert canvas_colour(canvas, x, y) == filled
    canvas.set_split(None)

    window.accept_result()  # into the photo: the display copy follows
    assert canvas_colour(canvas, x, y) == filled and doc.photo.pixels[y, x, 0] == filled
    canvas.set_show_before(True)  # with nothing pending, "before" is the original photo
    assert abs(canvas_colour(canvas, x, y) - original) <= 1
    canvas.set_show_before(False)
    window.undo()
    assert abs(canvas_colour(canvas, x, y) - filled) <= 0  # pending again
    window.discard_result()
    assert canvas_colour(canvas, x, y) != filled


def test_dropping_a_photo_on_the_window_opens_it(window, qtbot, tmp_path):
    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    path = tmp_path / "dropped.png"
    write_photo(make_photo(64, 48), path)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(path))])
    at = QPointF(200, 200)
    enter = QDragEnterEvent(at, Qt.DropAction.CopyAction, data, LEFT, NO_MOD)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(window, QDropEvent(at, Qt.DropAction.CopyAction, data, LEFT, NO_MOD))
    qtbot.waitUntil(lambda: window.doc is not None, timeout=10_000)
    assert window.doc.path == path and window.doc.size == (64, 48)
