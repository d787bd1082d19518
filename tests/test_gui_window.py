"""Window-level behaviour: shortcuts listed, icons that follow the palette, layout and settings kept."""

# ruff: noqa: F811  (the fixtures imported from gui_support come back as test parameters)

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from gui_support import answer_with, make_photo, no_leaked_threads, show_photo, window  # noqa: F401
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QTableWidget

pytestmark = pytest.mark.gui


def test_shortcuts_are_listed_in_the_help(window):
    from restorer.gui.help import shortcuts_dialog

    table = shortcuts_dialog(window, window.commands).findChild(QTableWidget)
    rows = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert rows["Brush"] == "B" and rows["Restore"] == "Ctrl+R" and "Hold \\" in rows.values()
    assert window.commands["tool_brush"].toolTip() == "Brush (B)"


def brightest(icon) -> int:
    image = icon.pixmap(24, 24).toImage()
    return max(
        image.pixelColor(x, y).lightness()
        for x in range(24)
        for y in range(24)
        if image.pixelColor(x, y).alpha()
    )


def test_icons_follow_a_dark_palette(window, qtbot):
    app = QApplication.instance()
    original = app.palette()
    assert brightest(window.commands["open"].icon()) < 128  # dark glyphs on a light theme
    dark = QPalette(original)
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        dark.setColor(group, QPalette.ColorRole.WindowText, QColor(235, 235, 235))
        dark.setColor(group, QPalette.ColorRole.Window, QColor(40, 40, 40))
    try:
        app.setPalette(dark)
        qtbot.waitUntil(lambda: brightest(window.commands["open"].icon()) > 200, timeout=3000)
        assert brightest(window.restore_panel.restore_button.icon()) > 200
    finally:
        app.setPalette(original)


def test_window_layout_brush_and_settings_are_remembered(window, qtbot, tmp_path):
    from restorer.gui.window import MainWindow

    window.resize(720, 520)  # inside the offscreen screen, which restoreGeometry keeps windows in
    window.canvas.set_brush_size(57)
    window.restore_panel.iterations.setValue(321)
    window.restore_dock.hide()
    window.close()
    again = MainWindow(start_engine=False)
    again.ask = answer_with("Discard")
    qtbot.addWidget(again)
    again.show()
    assert (again.width(), again.height()) == (720, 520)
    assert again.canvas.brush_size == 57 and again.brush_spin.value() == 57
    assert again.restore_panel.iterations.value() == 321
    assert not again.restore_dock.isVisible()
    again.close()
