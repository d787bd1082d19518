"""The history's size limit, without Qt: past it the oldest entries stop being undoable and are baked,
and a session still rebuilds exactly the same photo, mask, box, pending result and record."""

from __future__ import annotations

import json

import numpy as np
from gui_support import fake_result, make_photo, photo_file

from restorer.core.imageio import read_photo
from restorer.core.types import Bounds
from restorer.editing import session as sessions
from restorer.editing.document import Document
from restorer.editing.export import ExportRequest, build_record, restored_area
from restorer.editing.history import DEFAULT_LIMIT


def save_and_load(doc: Document, tmp_path, store=None):
    store = store or sessions.SessionStore.create(tmp_path / "sessions")
    store.save(doc)
    info = sessions.SessionInfo(store.folder, json.loads((store.folder / "manifest.json").read_text()))
    loaded, _, _ = sessions.load_session(info)
    return loaded, store, info


def undo_all(doc: Document) -> int:
    steps = 0
    while doc.undo():
        steps += 1
    return steps


def test_the_default_limit_is_a_gibibyte_and_configurable():
    assert DEFAULT_LIMIT == 1 << 30
    assert Document(make_photo(10, 10)).history.limit == DEFAULT_LIMIT
    assert Document(make_photo(10, 10), history_limit=123).history.limit == 123


def test_past_the_limit_the_oldest_entries_stop_being_undoable():
    doc = Document(make_photo(200, 150), history_limit=3000)
    states = [doc.mask.copy()]
    for i in range(10):
        assert doc.fill_rect((10 + 15 * i, 10), (50 + 15 * i, 50 + 5 * i))
        states.append(doc.mask.copy())
        assert doc.history.nbytes <= 3000 or len(doc.history.entries) == 1
    history = doc.history
    trimmed = history.baked.count
    assert 0 < trimmed < 10 and len(history.entries) + trimmed == 10
    np.testing.assert_array_equal(history.baked.mask, states[trimmed])  # the state they left
    assert undo_all(doc) == 10 - trimmed and not history.can_undo
    np.testing.assert_array_equal(doc.mask, states[trimmed])  # undo goes back as far as it can, no further
    while doc.redo():
        pass
    np.testing.assert_array_equal(doc.mask, states[-1])


def test_an_entry_larger_than_the_limit_stays_undoable_until_the_next():
    doc = Document(make_photo(100, 80), history_limit=10)
    doc.fill_rect((0, 0), (90, 70))
    assert doc.history.can_undo and doc.history.baked.count == 0
    doc.invert_mask()
    assert doc.history.baked.count == 1 and len(doc.history.entries) == 1
    assert doc.undo() and not doc.undo()
    assert doc.mask[:70, :90].all()


def test_baked_accepted_results_replay_exactly_from_a_session(tmp_path):
    path = photo_file(tmp_path, np.uint16, "photo.tif", (160, 120))
    doc = Document(read_photo(path), path)
    original = doc.photo.pixels.copy()
    doc.fill_rect((10, 10), (40, 40))
    doc.show_result(doc.pending_from_result(fake_result(doc.photo, (10, 10, 30, 30))))
    doc.choose_candidate(0, 2)
    doc.accept()
    after_first = doc.photo.pixels.copy(), doc.mask.copy()
    doc.set_box(Bounds.from_xywh((50, 10, 80, 80)))
    doc.fill_rect((66, 26), (78, 38))
    doc.show_result(doc.pending_from_result(fake_result(doc.photo, (66, 26, 12, 12))))
    # Room for the second result and a little more: the first result's entries have to go.
    doc.history.limit = doc.history.entries[-1].nbytes + 4000
    doc.choose_candidate(0, 1)
    doc.accept()
    baked = doc.history.baked
    assert baked.count == 4 and len(baked.pixels) == 1 and len(baked.records) == 1
    assert baked.records[0]["regions"][0]["chosen"] == 2
    # the first result's candidates are gone with its undo: only its record entry stays
    assert len(doc.records) == 1 and doc.records[0].patches[0].chosen == 1
    assert doc.pixels_changed

    loaded, store, _ = save_and_load(doc, tmp_path)
    np.testing.assert_array_equal(loaded.photo.pixels, doc.photo.pixels)
    np.testing.assert_array_equal(loaded.mask, doc.mask)
    assert loaded.box == doc.box and loaded.history.position == doc.history.position
    entries = store.folder / "entries"
    on_disk = sorted(p.name for p in entries.iterdir())
    manifest = json.loads((store.folder / "manifest.json").read_text())
    assert on_disk == sorted([*manifest["entries"], manifest["baked"]])  # trimmed entries' files are gone
    assert sessions.SessionInfo(store.folder, manifest).changes == baked.count + doc.history.position

    for d in (doc, loaded):
        request = ExportRequest(tmp_path / "out.tif", "TIFF", save_record=True)
        record = build_record(d, request)
        assert [r["regions"][0]["chosen"] for r in record["restorations"]] == [2, 1]  # oldest first
        area = restored_area(d, include_pending=False)
        assert area.sum() == sum(r["regions"][0]["hole_pixels"] for r in record["restorations"])
        assert undo_all(d) == 5  # the box, the second mask edit and the second result's three steps
        np.testing.assert_array_equal(d.photo.pixels, after_first[0])  # the baked result stays in
        np.testing.assert_array_equal(d.mask, after_first[1])
        assert d.box is None
    assert (after_first[0] != original).any()


def test_a_baked_result_still_pending_comes_back_with_its_choices(tmp_path):
    path = photo_file(tmp_path, np.uint8, "photo.tif", (160, 120))
    doc = Document(read_photo(path), path)
    doc.fill_rect((30, 30), (60, 60))
    doc.show_result(doc.pending_from_result(fake_result(doc.photo, (30, 30, 30, 30))))
    doc.choose_candidate(0, 1)
    doc.history.limit = 1  # from now on only the newest entry stays undoable
    doc.fill_rect((100, 10), (110, 20))
    doc.choose_candidate(0, 2)
    baked = doc.history.baked
    assert baked.count == 4 and baked.pending is doc.pending and baked.pending_regions[0].chosen == 1

    loaded, store, _ = save_and_load(doc, tmp_path)
    for d in (doc, loaded):
        assert d.pending.regions[0].chosen == 2
        assert d.undo() and d.pending.regions[0].chosen == 1
        assert not d.undo()  # the arrival and the first choice were baked
        d.accept()
    np.testing.assert_array_equal(loaded.photo.pixels, doc.photo.pixels)
    np.testing.assert_array_equal(loaded.mask, doc.mask)
    store.save(doc)  # saving again replaces the baked file: the accept trimmed more
    manifest = json.loads((store.folder / "manifest.json").read_text())
    names = sorted(p.name for p in (store.folder / "entries").iterdir())
    assert names == sorted([*manifest["entries"], manifest["baked"]])
    again, _, _ = save_and_load(doc, tmp_path, store)
    np.testing.assert_array_equal(again.photo.pixels, doc.photo.pixels)
    assert again.pending is None and len(again.history.baked.records) + len(again.records) == 1
