"""Every action of the window, triggered the way a menu or a shortcut does, with a photo open and a
mask painted: no action may raise, and none may report an error. Dialogs are answered by the test."""

# ruff: noqa: F811  (the fixtures imported from gui_support come back as test parameters)

from __future__ import annotations

import sys

import pytest

pytest.importorskip("PySide6")

from gui_support import answer_with, fake_result, no_leaked_threads, photo_file, window  # noqa: F401
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog, QInputDialog, QMessageBox

from restorer.core.types import Bounds, RegionFinished, RegionStarted
from restorer.gui.detect_dialog import DetectDialog
from restorer.gui.export_dialog import ExportDialog

pytestmark = pytest.mark.gui


def one_region_engine(photo, mask, options):
    """A fake engine: one region finished at once, with three candidates."""

    def factory(attempt, should_stop):
        def job():
            result = fake_result(photo, Bounds.from_xywh((20, 20, 32, 32)), options=options)
            yield RegionStarted(0, 1, result.patches[0].box, "patch", "test")
            yield RegionFinished(result.patches[0])
            return result

        return job()

    return factory


class Dialogs:
    """Answers for the static dialogs, writing into ``tmp_path``; records what was asked."""

    def __init__(self, tmp_path, qtbot) -> None:
        self.tmp_path, self.qtbot, self.asked = tmp_path, qtbot, []
        self.photo = photo_file(tmp_path, name="other.png")

    def open_file(self, parent, caption, *args, **kwargs):
        self.asked.append(caption)
        if "mask" not in caption.lower():
            return (str(self.photo), "")
        from restorer.core.imageio import write_mask

        mask = parent.doc.mask.copy()
        mask[:4, :4] = True  # a mask that differs from the painted one, of the open photo's size
        return (str(write_mask(mask, self.tmp_path / "mask-in.png")), "")

    def save_file(self, parent, caption, *args, **kwargs):
        self.asked.append(caption)
        return (str(self.tmp_path / "saved-mask.png"), "")

    def number(self, parent, title, label, value, *args, **kwargs):
        self.asked.append(title)
        return (value, True)

    def export(self, dialog: ExportDialog) -> int:
        self.asked.append("Export")
        dialog.path.setText(str(self.tmp_path / "exported.png"))
        dialog._accept()
        return dialog.result()

    def detect(self, dialog: DetectDialog) -> int:
        """Waits for the preview (detection runs in a thread), moves the slider, waits again, adds it."""
        self.asked.append("Detect damage")
        self.qtbot.waitUntil(dialog.ready, timeout=20_000)
        dialog.slider.setValue(dialog.slider.value() + 10)
        self.qtbot.waitUntil(dialog.ready, timeout=20_000)
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        return dialog.result()


@pytest.fixture
def dialogs(monkeypatch, tmp_path, qtbot):
    answers = Dialogs(tmp_path, qtbot)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", answers.open_file)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", answers.save_file)
    monkeypatch.setattr(QInputDialog, "getInt", answers.number)
    monkeypatch.setattr(QInputDialog, "getDouble", answers.number)
    monkeypatch.setattr(ExportDialog, "exec", lambda dialog: answers.export(dialog))
    monkeypatch.setattr(DetectDialog, "exec", lambda dialog: answers.detect(dialog))
    for name in ("question", "warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, name, lambda *a, **k: QMessageBox.StandardButton.Yes)
    return answers


def ready(window, qtbot, with_result: bool = False) -> None:
    """A photo open with a mask painted (and a result waiting, if asked), nothing running."""
    idle(window, qtbot)
    if window.doc is None:
        window.open_path(photo_file(window.test_tmp, name="photo.png"))
        qtbot.waitUntil(lambda: window.doc is not None, timeout=10_000)
    doc = window.doc
    if not doc.mask.any():
        doc.fill_rect((24, 24), (40, 40))
    if with_result and doc.pending is None:
        doc.show_result(doc.pending_from_result(fake_result(doc.photo, (20, 20, 32, 32))))


def idle(window, qtbot) -> None:
    qtbot.waitUntil(lambda: not window._calls and not window.controller.running, timeout=20_000)
    qtbot.wait(20)  # queued signals from the last worker


def test_every_action_of_the_window_works(window, qtbot, tmp_path, dialogs, monkeypatch):
    raised: list[str] = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, value, tb: raised.append(f"{kind.__name__}: {value}"))
    reported: list[str] = []
    show_error = window.show_error
    monkeypatch.setattr(
        window,
        "show_error",
        lambda title, text: (reported.append(f"{title}: {text}"), show_error(title, text)),
    )
    window.test_tmp = tmp_path
    window.ask = answer_with("Discard")
    window.controller.make_factory = one_region_engine
    ready(window, qtbot)
    window.recent_menu.aboutToShow.emit()  # fills Open Recent with the photo just opened

    actions = [a for a in window.findChildren(QAction) if not a.isSeparator() and not a.menu()]
    names = {a.text().replace("&", "") for a in actions}
    assert {"Import Mask…", "Export Mask…", "Quit", "Restore", "Keyboard Shortcuts"} <= names
    quit_action = window.commands["quit"]
    tried = []
    for action in [a for a in actions if a is not quit_action]:
        ready(window, qtbot, with_result=action in (window.commands["accept"], window.commands["discard"]))
        action.setEnabled(True)  # disabled ones are tried too: their slot must cope
        action.trigger()
        if action is window.commands["restore"]:
            window.commands["cancel"].trigger()
        idle(window, qtbot)
        tried.append(action.text().replace("&", ""))
        assert not raised, f"{tried[-1]}: {raised}"
        assert not reported, f"{tried[-1]}: {reported}"
    assert (tmp_path / "saved-mask.png").is_file() and (tmp_path / "exported.png").is_file()
    assert {"Import a mask", "Export the mask", "Export", "Grow mask", "Detect damage"} <= set(dialogs.asked)
    window.ask = answer_with("Discard")
    quit_action.trigger()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    assert not raised and not reported
