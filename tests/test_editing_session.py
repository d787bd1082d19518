"""Sessions without Qt: the history round-trips through the session folder, autosave writes only
what changed, results are stored field by field (no engine classes needed to load them)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from gui_support import fake_result, photo_file, stroke

from restorer.core.imageio import read_photo
from restorer.core.types import Bounds, RestoreOptions
from restorer.editing import session as sessions
from restorer.editing.document import Document


def test_history_with_results_round_trips_through_a_session(tmp_path):
    path = photo_file(tmp_path, np.uint16)
    doc = Document(read_photo(path), path)
    stroke(doc, (10, 10), (60, 20))
    doc.fill_rect((40, 30), (80, 70))
    options = RestoreOptions(method="latent", seed=7, box=Bounds.from_xywh((30, 20, 60, 60)))
    doc.show_result(doc.pending_from_result(fake_result(doc.photo, (40, 30, 40, 40), options=options)))
    doc.choose_candidate(0, 1)
    doc.accept()
    stroke(doc, (5, 80), (100, 85))
    doc.undo()  # leaves one entry to redo
    store = sessions.SessionStore.create(tmp_path / "sessions")
    store.save(doc, {"settings": {"seed": 7}})

    info = sessions.SessionInfo(store.folder, json.loads((store.folder / "manifest.json").read_text()))
    loaded, entries, changed = sessions.load_session(info)
    assert not changed and len(entries) == len(doc.history.entries) == 6
    assert loaded.history.position == doc.history.position == 5
    np.testing.assert_array_equal(loaded.mask, doc.mask)
    np.testing.assert_array_equal(loaded.photo.pixels, doc.photo.pixels)
    assert loaded.pending is None and len(loaded.records) == 1
    assert loaded.records[0].options == options
    assert loaded.records[0].patches[0].chosen == 1
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


def saved_info(store) -> sessions.SessionInfo:
    return sessions.SessionInfo(store.folder, json.loads((store.folder / "manifest.json").read_text()))


def test_the_context_box_and_a_pending_result_come_back(tmp_path):
    path = photo_file(tmp_path)
    doc = Document(read_photo(path), path)
    doc.set_box(Bounds.from_xywh((20, 10, 64, 64)))
    doc.fill_rect((40, 30), (60, 50))
    doc.show_result(doc.pending_from_result(fake_result(doc.photo, (36, 26, 28, 28))))
    doc.choose_candidate(0, 2)
    doc.set_box(None)
    doc.undo()  # the box is back, its clearing can be redone
    store = sessions.SessionStore.create(tmp_path / "sessions")
    store.save(doc)
    loaded, _, _ = sessions.load_session(saved_info(store))
    assert loaded.box == doc.box == Bounds.from_xywh((20, 10, 64, 64))
    assert loaded.pending is not None and loaded.pending.regions[0].chosen == 2
    np.testing.assert_array_equal(loaded.pending.patches[0].after, doc.pending.patches[0].after)
    np.testing.assert_array_equal(loaded.pending.before[0], doc.pending.before[0])
    region, original = loaded.pending.regions[0], doc.pending.result.patches[0]
    assert (region.box, region.losses, region.params) == (original.box, original.losses, original.params)
    assert len(region.candidates) == 3 and region.candidates[0].dtype == np.float32
    loaded.redo()
    assert loaded.box is None


def test_loading_a_session_with_results_needs_no_torch(tmp_path):
    path = photo_file(tmp_path)
    doc = Document(read_photo(path), path)
    doc.fill_rect((40, 30), (60, 50))
    doc.show_result(doc.pending_from_result(fake_result(doc.photo, (36, 26, 28, 28))))
    doc.accept()
    store = sessions.SessionStore.create(tmp_path / "sessions")
    store.save(doc)
    code = (
        "import json, sys, pathlib\n"
        "from restorer.editing import session as s\n"
        f"folder = pathlib.Path({str(store.folder)!r})\n"
        "info = s.SessionInfo(folder, json.loads((folder / 'manifest.json').read_text()))\n"
        "doc, _, _ = s.load_session(info)\n"
        "print(len(doc.records), 'torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "False"]
