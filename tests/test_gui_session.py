"""Autosave and recovery: the history round-trips through the session folder; closing asks first."""

# ruff: noqa: F811  (the fixtures imported from gui_support come back as test parameters)

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
from gui_support import (  # noqa: F401  (fixtures)
    FakeOptions,
    FakeRegion,
    FakeResult,
    answer_with,
    fake_reblend,
    fake_result,
    make_photo,
    no_leaked_threads,
    window,
)

from restorer.core.imageio import read_photo, write_photo
from restorer.gui import session as sessions
from restorer.gui.document import Document

FAKE_TYPES = sessions.EngineTypes(FakeRegion, FakeResult, FakeOptions)


def dead_pid() -> int:
    """The id of a process that has exited: what a crashed window leaves in its manifest."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def photo_file(tmp_path, dtype=np.uint8):
    path = tmp_path / "photo.png"
    write_photo(make_photo(120, 90, dtype=dtype), path)
    return path


def stroke(doc, p0, p1, radius=4.0, erase=False):
    doc.begin_stroke(erase)
    doc.stroke_segment(p0, p1, radius)
    doc.end_stroke()


def test_history_with_results_round_trips_through_a_session(tmp_path):
    path = photo_file(tmp_path, np.uint16)
    doc = Document(read_photo(path), path)
    stroke(doc, (10, 10), (60, 20))
    doc.fill_rect((40, 30), (80, 70))
    doc.show_result(doc.pending_from_result(fake_result(doc.photo, (40, 30, 40, 40)), FakeOptions(seed=7)))
    doc.reblend_candidate(0, 1, fake_reblend)
    doc.accept()
    stroke(doc, (5, 80), (100, 85))
    doc.undo()  # leaves one entry to redo
    store = sessions.SessionStore.create(tmp_path / "sessions")
    store.save(doc, {"settings": {"seed": 7}})

    info = sessions.SessionInfo(store.folder, json.loads((store.folder / "manifest.json").read_text()))
    loaded, entries, changed = sessions.load_session(info, FAKE_TYPES)
    assert not changed and len(entries) == len(doc.history.entries) == 6
    assert loaded.history.position == doc.history.position == 5
    np.testing.assert_array_equal(loaded.mask, doc.mask)
    np.testing.assert_array_equal(loaded.photo.pixels, doc.photo.pixels)
    assert loaded.pending is None and len(loaded.records) == 1
    assert loaded.records[0].options == FakeOptions(seed=7)
    for d in (doc, loaded):  # the same history, step by step, in both
        d.redo()
    np.testing.assert_array_equal(loaded.mask, doc.mask)
    for _ in range(2):
        doc.undo()
        loaded.undo()
    assert loaded.pending is not None and loaded.pending.regions[0].chosen == 1
    np.testing.assert_array_equal(loaded.pending.patches[0].after, doc.pending.patches[0].after)
    np.testing.assert_array_equal(loaded.photo.pixels, doc.photo.pixels)
    loaded.undo()
    assert loaded.pending.regions[0].chosen == 0


def test_autosave_writes_only_new_entries_and_drops_replaced_ones(tmp_path):
    path = photo_file(tmp_path)
    doc = Document(read_photo(path), path)
    store = sessions.SessionStore.create(tmp_path / "sessions")
    stroke(doc, (10, 10), (30, 10))
    stroke(doc, (10, 30), (30, 30))
    store.save(doc)
    entries = store.folder / "entries"
    first = {p.name: p.stat().st_mtime_ns for p in entries.iterdir()}
    doc.undo()
    stroke(doc, (10, 50), (30, 50))  # replaces the undone stroke
    store.save(doc)
    now = {p.name: p.stat().st_mtime_ns for p in entries.iterdir()}
    assert len(first) == len(now) == 2
    kept = sorted(first)[0]
    assert now[kept] == first[kept] and sorted(first)[1] not in now


def test_window_autosaves_and_recovers_after_a_crash(window, qtbot, tmp_path):
    path = photo_file(tmp_path)
    window.open_path(path)
    qtbot.waitUntil(lambda: window.doc is not None, timeout=10_000)
    doc = window.doc
    stroke(doc, (10, 10), (90, 60))
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
    assert revived.doc.history.position == 1 and revived.doc.history.can_redo
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
