"""The document model without Qt: mask edits, the context box, results as window patches, and exact
undo/redo of all of them."""

from __future__ import annotations

import numpy as np
import pytest
from gui_support import fake_result, make_photo, stroke

from restorer.core import maskops
from restorer.core.errors import RestorerError
from restorer.core.types import Bounds, RestoreResult
from restorer.editing.document import Document


@pytest.fixture
def doc() -> Document:
    return Document(make_photo(120, 80, dtype=np.uint16))


def test_a_stroke_is_one_undo_step_and_round_trips(doc):
    events = []
    doc.subscribe(lambda kind, bounds: events.append((kind, bounds)))
    stroke(doc, (10, 10), (30, 12), (60, 40), radius=3.0)
    painted = doc.mask.copy()
    expected = np.zeros_like(painted)
    for p0, p1 in [((10, 10), (30, 12)), ((30, 12), (60, 40))]:
        b, fp = maskops.segment_footprint(p0, p1, 3.0, doc.mask.shape)
        expected[b.slices] |= fp
    np.testing.assert_array_equal(painted, expected)
    assert doc.history.position == 1 and doc.history.entries[0].label == "Brush stroke"
    assert [k for k, _ in events].count("mask") == 2  # one redraw per segment, only its rectangle
    assert all(b.width < 60 for k, b in events if k == "mask")
    stroke(doc, (20, 10), (40, 10), radius=3.0, erase=True)
    erased = doc.mask.copy()
    assert erased.sum() < painted.sum()
    doc.undo()
    np.testing.assert_array_equal(doc.mask, painted)
    doc.undo()
    assert not doc.mask.any()
    doc.redo()
    doc.redo()
    np.testing.assert_array_equal(doc.mask, erased)
    assert not doc.redo()


def test_fills_and_whole_mask_commands_undo_exactly(doc):
    assert doc.fill_rect((5, 5), (25, 20))
    assert doc.fill_polygon([(50, 5), (90, 10), (70, 50)])
    assert not doc.fill_rect((5, 5), (25, 20))  # nothing new: no history entry
    states = [doc.mask.copy()]
    for command in (doc.invert_mask, lambda: doc.grow_mask(2), lambda: doc.shrink_mask(3), doc.clear_mask):
        assert command()
        states.append(doc.mask.copy())
    assert not doc.clear_mask()
    for state in reversed(states[:-1]):
        doc.undo()
        np.testing.assert_array_equal(doc.mask, state)
    with pytest.raises(RestorerError, match="the photo 120x80"):
        doc.replace_mask("Import", np.zeros((10, 10), bool))


def test_result_accept_choose_discard_all_undo(doc):
    original = doc.photo.pixels.copy()
    doc.fill_rect((40, 20), (80, 60))
    mask_before = doc.mask.copy()
    result = fake_result(doc.photo, (40, 20, 40, 40))
    pending = doc.pending_from_result(result)
    doc.show_result(pending)
    np.testing.assert_array_equal(doc.photo.pixels, original)  # pending: shown, not yet in the photo
    hole = pending.regions[0].hole
    assert doc.choose_candidate(0, 2)
    assert pending.regions[0].chosen == 2 and result.patches[0].chosen == 0  # the engine's result stays
    assert np.allclose(pending.patches[0].after, round(3 / 5 * 65535))
    np.testing.assert_array_equal(doc.photo.pixels, original)  # choosing leaves the photo alone
    assert not doc.choose_candidate(0, 2)  # already chosen: no history entry
    doc.accept()
    assert doc.pending is None and len(doc.records) == 1
    assert isinstance(doc.records[0], RestoreResult) and doc.records[0].patches[0] is pending.regions[0]
    y, x = 40, 60  # the hole's centre
    assert doc.photo.pixels[y, x, 0] == round(3 / 5 * 65535) and not doc.mask[y, x]
    assert (doc.photo.pixels != original).any(axis=2).sum() == hole.sum()
    doc.undo()  # accept
    np.testing.assert_array_equal(doc.photo.pixels, original)
    np.testing.assert_array_equal(doc.mask, mask_before)
    assert doc.pending is pending and doc.records == []
    doc.undo()  # choice
    assert pending.regions[0].chosen == 0 and np.allclose(pending.patches[0].after, round(1 / 5 * 65535))
    doc.discard()
    assert doc.pending is None
    doc.undo()
    assert doc.pending is pending
    doc.undo()  # the result's arrival
    assert doc.pending is None
    doc.redo()
    doc.redo()  # discard again (redo)
    assert doc.pending is None and doc.history.entries[-1].label == "Discard result"


def test_a_pending_result_holds_hole_pixels_only(doc):
    result = fake_result(doc.photo, (40, 20, 40, 40))
    pending = doc.pending_from_result(result)
    hole = result.patches[0].hole
    channels, itemsize = doc.photo.pixels.shape[2], doc.photo.pixels.itemsize
    assert pending.before[0].shape == (hole.sum(), channels)  # no copy of the photo, not even of the window
    assert sum(b.nbytes for b in pending.before) == hole.sum() * channels * itemsize
    np.testing.assert_array_equal(pending.before[0], doc.photo.pixels[20:60, 40:80][hole])
    outside = fake_result(doc.photo, (100, 60, 40, 40))  # reaches past the 120 x 80 photo
    with pytest.raises(RestorerError, match="does not fit"):
        doc.pending_from_result(outside)


def test_choosing_works_on_one_window_with_the_pending_result_in_it(doc):
    result = fake_result(doc.photo, (10, 10, 40, 40))
    second = fake_result(doc.photo, (30, 20, 40, 40)).patches[0]  # overlaps the first window
    second.index = 1
    second.hole[:, :10] = False  # the two holes must not overlap
    result.patches[0].hole[:, 20:] = False
    result.patches[0].values = result.patches[0].values[: result.patches[0].hole.sum()]
    result.patches[0].values[:] = 7
    second.values = np.full((second.hole.sum(), 3), 9, np.uint16)
    result.patches.append(second)
    doc.show_result(doc.pending_from_result(result))
    choice = doc.begin_choice(0, 1)
    assert choice.window.shape == (40, 40, 3)  # one window, not the photo
    shown = doc.materialise_pending()[10:50, 10:50]
    np.testing.assert_array_equal(choice.window, shown)  # as the pending result shows it
    assert doc.begin_choice(0, 0) is None  # the chosen one: nothing to do
    patch = choice.compose()
    assert patch.box == Bounds.from_xywh((10, 10, 40, 40)) and patch.chosen == 1
    assert doc.finish_choice(choice, patch)
    assert not doc.finish_choice(choice, patch)  # stale now: the region's patch changed meanwhile
    np.testing.assert_array_equal(doc.pending.regions[1].values, second.values)  # the other region kept


def test_the_context_box_is_part_of_the_document_and_its_undo(doc):
    events = []
    doc.subscribe(lambda kind, bounds: events.append(kind))
    box = Bounds.from_xywh((10, 5, 60, 60))
    assert doc.set_box(box) and doc.box == box and "box" in events
    assert not doc.set_box(box)  # unchanged: no history entry
    moved = Bounds.from_xywh((20, 10, 50, 50))
    assert doc.set_box(moved)
    assert doc.set_box(None) and doc.box is None
    assert [e.label for e in doc.history.entries] == ["Context box", "Context box", "Clear context box"]
    doc.undo()
    assert doc.box == moved
    doc.undo()
    assert doc.box == box
    doc.undo()
    assert doc.box is None
    doc.redo()
    assert doc.box == box
    with pytest.raises(RestorerError, match="reaches outside"):
        doc.set_box(Bounds.from_xywh((100, 60, 40, 40)))
    assert doc.box == box


def test_the_editing_layer_loads_without_qt_or_torch():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import restorer.editing.document, restorer.editing.session, restorer.editing.export\n"
        "import restorer.editing.history, restorer.editing.retry, restorer.editing.preview\n"
        "import restorer.editing.pyramid, restorer.editing.view_transform\n"
        "print(sorted(m for m in ('PySide6', 'torch', 'restorer.gui') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
