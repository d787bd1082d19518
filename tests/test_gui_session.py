"""Autosave and recovery in the window: a crashed window's work comes back; closing asks first.
(The session format itself is tested headless in test_editing_session.py.)"""

# ruff: noqa: F811  (the fixtures imported from gui_support come back as test parameters)

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
from gui_support import (  # noqa: F401  (fixtures)
    answer_with,
    no_leaked_threads,
    photo_file,
    stroke,
    window,
)

from restorer.core.types import Bounds
from restorer.editing import session as sessions


def dead_pid() -> int:
    """The id of a process that has exited: what a crashed window leaves in its manifest."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_window_autosaves_and_recovers_after_a_crash(window, qtbot, tmp_path):
    path = photo_file(tmp_path)
    window.open_path(path)
    qtbot.waitUntil(lambda: window.doc is not None, timeout=10_000)
    doc = window.doc
    stroke(doc, (10, 10), (90, 60))
    box = Bounds.from_xywh((30, 20, 50, 50))
    window._box_drawn(box)  # what the canvas's box tool hands the window
    doc.fill_rect((60, 5), (100, 25))
    window.undo()
    qtbot.waitUntil(lambda: bool(sessions.recoverable_sessions() or window._session), timeout=5000)
    manifest_path = window._session.folder / "manifest.json"
    qtbot.waitUntil(lambda: manifest_path.exists(), timeout=5000)  # debounced save after the last change
    mask = doc.mask.copy()

    manifest = json.loads(manifest_path.read_text())  # the window dies without cleaning up
    manifest["pid"] = dead_pid()
    manifest_path.write_text(json.dumps(manifest))
    window._session, window.doc = None, None

    from restorer.gui.window import MainWindow

    revived = MainWindow(start_engine=False)
    revived.ask = answer_with("Recover")
    qtbot.addWidget(revived)
    revived.show()
    qtbot.waitUntil(lambda: revived.doc is not None, timeout=10_000)
    assert revived.ask.questions == ["Recover unsaved work"]
    np.testing.assert_array_equal(revived.doc.mask, mask)
    assert revived.doc.history.position == 2 and revived.doc.history.can_redo
    assert revived.doc.box == box and revived.canvas.context_box == box  # the box is the document's
    assert revived.restore_panel.box_label.text() == "x 30, y 20, 50 × 50 px"
    assert revived.restore_panel.options(box=revived.doc.box).box == box
    revived.redo()
    assert revived.doc.mask.sum() > mask.sum()
    assert revived.has_unsaved_work
    revived.ask = answer_with("Discard")
    revived.close()
    assert not manifest_path.exists()  # discarded on purpose: nothing offered next time
    assert sessions.recoverable_sessions() == []


def test_closing_with_unsaved_work_asks_and_can_keep_it(window, qtbot, tmp_path):
    path = photo_file(tmp_path)
    window.open_path(path)
    qtbot.waitUntil(lambda: window.doc is not None, timeout=10_000)
    stroke(window.doc, (10, 10), (50, 50))
    window.ask = answer_with("Cancel")
    window.close()
    assert window.isVisible() and window.ask.questions == ["Unsaved work"]
    window.ask = answer_with("Keep for Later")
    window.close()
    assert not window.isVisible()
    kept = sessions.recoverable_sessions()
    assert len(kept) == 1 and kept[0].photo == path.resolve() and kept[0].changes == 1


def test_nothing_to_ask_without_changes_and_settings_stay_in_the_test_folder(window, qtbot, tmp_path):
    path = photo_file(tmp_path)
    window.open_path(path)
    qtbot.waitUntil(lambda: window.doc is not None, timeout=10_000)
    window.ask = answer_with("Cancel")
    window.close()
    assert not window.isVisible() and window.ask.questions == []
    from restorer.gui.settings import settings

    assert settings().fileName().startswith(os.environ["XDG_CONFIG_HOME"])  # never the user's own
    assert settings().value("recent") in ([str(path.resolve())], str(path.resolve()))


def _session_on(photo, root) -> sessions.SessionStore:
    """A saved session on ``photo`` whose window died (its lock dropped, as the OS does)."""
    from restorer.core.imageio import read_photo
    from restorer.editing.document import Document

    doc = Document(read_photo(photo), photo)
    stroke(doc, (10, 10), (40, 30))
    store = sessions.SessionStore.create(root)
    store.save(doc)
    store.release()
    return store


def answer_in_turn(*labels: str):
    """Like answer_with, one label per question in order."""
    answers = list(labels)

    def ask(title: str, text: str, buttons) -> int:
        ask.questions.append(title)
        ask.texts.append(text)
        return [b[0] for b in buttons].index(answers.pop(0))

    ask.questions, ask.texts = [], []
    return ask


MALFORMED = {  # manifest edits that made every start show "Unexpected error" and open nothing
    "list": lambda m: [m],
    "null": lambda m: None,
    "pid": lambda m: {**m, "pid": "abc"},
    "position x": lambda m: {**m, "position": "x"},
    "position -1": lambda m: {**m, "position": -1},
    "no photo": lambda m: {k: v for k, v in m.items() if k != "photo"},
    "garbage size and box": lambda m: {**m, "size": "garbage", "settings": {"box": "garbage"}},
}


def test_malformed_sessions_are_offered_for_discard_and_the_window_opens(qtbot, no_leaked_threads, tmp_path):
    path = photo_file(tmp_path)
    root = sessions.sessions_root()
    folders = []
    for change in MALFORMED.values():
        folder = _session_on(path, root).folder
        manifest = folder / "manifest.json"
        manifest.write_text(json.dumps(change(json.loads(manifest.read_text()))))
        folders.append(folder)
    from restorer.gui.window import MainWindow

    window = MainWindow(path, start_engine=False)
    window.ask = answer_with("Discard")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.doc is not None, timeout=10_000)  # the photo opened as asked
    assert window.ask.questions == ["Damaged autosave"] * len(MALFORMED)
    assert not any(folder.exists() for folder in folders)
    assert sessions.recoverable_sessions() == []
    window.close()
    window.wait_for_threads()


def test_not_now_keeps_a_broken_session_and_a_failed_recovery_offers_discard(
    qtbot, no_leaked_threads, tmp_path
):
    path = photo_file(tmp_path)
    root = sessions.sessions_root()
    broken = _session_on(path, root).folder
    (broken / "manifest.json").write_text("[]")
    good = _session_on(path, root).folder
    (good / "entries" / "000001.npz").write_bytes(b"PK\x03\x04 damaged")  # passes the manifest's checks
    from restorer.gui.window import MainWindow

    window = MainWindow(start_engine=False)
    window.ask = answer_in_turn("Not Now", "Recover", "Discard")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: len(window.ask.questions) == 3, timeout=10_000)
    assert window.ask.questions == ["Damaged autosave", "Recover unsaved work", "Damaged autosave"]
    assert "its manifest holds a list, not a session" in window.ask.texts[0]
    assert "the session's history is damaged (BadZipFile:" in window.ask.texts[2]
    assert broken.exists() and not good.exists()  # Not Now keeps it for next time
    assert window.doc is None
    window.close()
    window.wait_for_threads()
