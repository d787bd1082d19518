"""The panels and the canvas as a user sees them: bounded warnings, one numbering of regions, the
window's own wording, small screens, square face boxes, an untinted "before", export memory."""

# ruff: noqa: F811  (the fixtures imported from gui_support come back as test parameters)

from __future__ import annotations

from dataclasses import replace

import pytest

pytest.importorskip("PySide6")

from gui_support import answer_with, fake_result, make_photo, no_leaked_threads, show_photo, stroke, window  # noqa: F401
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QTableWidget

from restorer.core.types import RestoreOptions, RestoreResult
from restorer.editing.export import FORMATS
from restorer.gui.canvas import Tool
from restorer.gui.export_dialog import ExportDialog

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_leaked_threads")]


def two_regions(doc, warnings=()) -> None:
    a = fake_result(doc.photo, (10, 10, 40, 40)).patches[0]
    b = replace(fake_result(doc.photo, (80, 50, 40, 40)).patches[0], index=1)
    doc.show_result(
        doc.pending_from_result(RestoreResult([a, b], list(warnings), RestoreOptions(method="latent")))
    )


def test_many_warnings_scroll_and_accept_stays_in_view(window, qtbot):
    doc = show_photo(window, make_photo(160, 120))
    long = "region 3 (x=10, y=20, 40x30 px): the hole is larger than the method's window; not filled " * 2
    two_regions(doc, [long] * 30)
    panel = window.result_panel
    qtbot.waitUntil(lambda: panel.warnings_area.isVisible())
    viewport = window.result_dock.widget().viewport()
    bottom = panel.accept_button.mapTo(viewport, QPoint(0, panel.accept_button.height())).y()
    assert bottom <= viewport.height()  # Accept is on screen without scrolling the panel
    assert panel.warnings_area.height() <= panel.warnings.fontMetrics().lineSpacing() * 5 + 6
    assert "region 3 (" not in panel.warnings.text() and "The damage at x 10, y 20" in panel.warnings.text()
    assert panel.region.itemText(0).startswith("Region 1: Face model")  # the Method list's label


def test_the_region_selected_stays_when_choosing_a_candidate_or_splitting(window, qtbot):
    doc = show_photo(window, make_photo(160, 120))
    two_regions(doc)
    panel = window.result_panel
    panel.region.setCurrentIndex(1)
    window.commands["split"].trigger()
    window.commands["split"].trigger()
    assert panel.region.currentIndex() == 1
    window.choose_candidate(1, 2)
    qtbot.waitUntil(lambda: doc.pending.regions[1].chosen == 2, timeout=5000)
    assert panel.region.currentIndex() == 1 and panel.candidates.currentRow() == 2
    window.undo()
    assert panel.region.currentIndex() == 1 and panel.candidates.currentRow() == 0


def test_holding_backslash_shows_the_photo_without_the_mask_tint(window, qtbot):
    doc = show_photo(window, make_photo(160, 120))
    doc.fill_rect((0, 0), (160, 120))
    canvas = window.canvas
    canvas.mask_visible = False
    plain = canvas.grab().toImage()
    canvas.mask_visible = True
    assert canvas.grab().toImage() != plain  # the tint is there
    qtbot.keyPress(canvas, Qt.Key.Key_Backslash)
    assert canvas.show_before and canvas.grab().toImage() == plain
    qtbot.keyRelease(canvas, Qt.Key.Key_Backslash)


def test_the_shortcuts_list_undo_and_redo_by_their_names(window):
    from restorer.gui.help import shortcuts_dialog

    doc = show_photo(window, make_photo(100, 80))
    stroke(doc, (10, 10), (30, 30))
    stroke(doc, (40, 10), (60, 30), erase=True)
    assert window.commands["undo"].text().replace("&", "").startswith("Undo ")  # names the step
    table = shortcuts_dialog(window, window.commands).findChild(QTableWidget)
    names = {table.item(r, 0).text() for r in range(table.rowCount())}
    assert {"Undo", "Redo"} <= names and not any(n.startswith(("Undo ", "Redo ")) for n in names)


def test_a_small_screen_gets_a_window_that_fits_and_panels_that_do_not_clip(qtbot):
    from restorer.gui.window import MainWindow

    w = MainWindow(start_engine=False)  # no saved geometry: sized for the (800 x 600) test screen
    w.ask = answer_with("Discard")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    room = w.screen().availableGeometry()
    assert w.width() <= room.width() and w.height() <= room.height()
    assert w.restore_dock in w.tabifiedDockWidgets(w.result_dock)  # one tab each, both full height
    hint = w.restore_panel.box_hint
    qtbot.waitUntil(lambda: hint.height() >= hint.heightForWidth(hint.width()))  # every line shows
    w.close()


def test_the_box_tool_draws_a_square(window, qtbot):
    show_photo(window, make_photo(400, 300))
    canvas = window.canvas
    window.set_tool(Tool.BOX)
    drawn = []
    canvas.box_drawn.connect(drawn.append)
    start = QPoint(*map(round, canvas.view.to_widget(50, 40)))
    end = QPoint(*map(round, canvas.view.to_widget(170, 90)))
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(canvas, end)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=end)
    (box,) = drawn
    # the mouse lands on whole widget pixels: at the fit-to-window zoom a corner may round by one
    assert box.width == box.height and abs(box.width - 120) <= 2
    assert abs(box.left - 50) <= 1 and abs(box.top - 40) <= 1
    assert window.doc.box == box


def test_export_remembers_the_mask_choice_and_its_folder_and_names_records_per_format(
    window, qtbot, tmp_path, monkeypatch
):
    photos, out = tmp_path / "scans", tmp_path / "restored"
    photos.mkdir()
    out.mkdir()
    doc = show_photo(window, make_photo(80, 60), photos / "p.png")
    doc.fill_rect((10, 10), (40, 40))
    doc.show_result(doc.pending_from_result(fake_result(doc.photo, (10, 10, 30, 30))))
    seen = []

    def answer(dialog: ExportDialog, fmt: str) -> int:
        seen.append((dialog.path.text(), dialog.mask.isChecked()))
        dialog.format.setCurrentText(fmt)
        dialog.path.setText(str(out / f"photo{FORMATS[fmt]}"))
        dialog.mask.setChecked(True)
        dialog._accept()
        return dialog.result()

    for fmt in ("PNG", "TIFF"):
        monkeypatch.setattr(ExportDialog, "exec", lambda d, fmt=fmt: answer(d, fmt))
        assert window.export_dialog()
        qtbot.waitUntil(lambda: not window._calls, timeout=10_000)
    assert seen[0] == (str(photos / "p-restored.png"), False)  # first time: beside the photo
    assert seen[1][0].startswith(str(out)) and seen[1][1]  # then: the last folder, mask box as left
    records = sorted(p.name for p in out.glob("*restoration.json"))
    assert records == ["photo-png-restoration.json", "photo-tif-restoration.json"]
