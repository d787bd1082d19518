"""The document model without Qt: mask edits, results, and exact undo/redo of all of them."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from gui_support import fake_reblend, fake_result, make_photo

from restorer.core import maskops
from restorer.core.errors import RestorerError
from restorer.gui.document import Document


@pytest.fixture
def doc() -> Document:
    return Document(make_photo(120, 80, dtype=np.uint16))


def stroke(doc: Document, points, radius=3.0, erase=False) -> None:
    doc.begin_stroke(erase)
    for p0, p1 in itertools.pairwise(points):
        doc.stroke_segment(p0, p1, radius)
    doc.end_stroke()


def test_a_stroke_is_one_undo_step_and_round_trips(doc):
    events = []
    doc.subscribe(lambda kind, bounds: events.append((kind, bounds)))
    stroke(doc, [(10, 10), (30, 12), (60, 40)])
    painted = doc.mask.copy()
    expected = np.zeros_like(painted)
    for p0, p1 in [((10, 10), (30, 12)), ((30, 12), (60, 40))]:
        b, fp = maskops.segment_footprint(p0, p1, 3.0, doc.mask.shape)
        expected[b.slices] |= fp
    np.testing.assert_array_equal(painted, expected)
    assert doc.history.position == 1 and doc.history.entries[0].label == "Brush stroke"
    assert [k for k, _ in events].count("mask") == 2  # one redraw per segment, only its rectangle
    assert all(b.width < 60 for k, b in events if k == "mask")
    stroke(doc, [(20, 10), (40, 10)], erase=True)
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
    pending = doc.pending_from_result(fake_result(doc.photo, (40, 20, 40, 40)), options=None)
    doc.show_result(pending)
    np.testing.assert_array_equal(doc.photo.pixels, original)  # pending: shown, not yet in the photo
    region = pending.regions[0]
    doc.reblend_candidate(0, 2, fake_reblend)
    assert region.chosen == 2
    assert np.allclose(pending.patches[0].after, round(3 / 5 * 65535))
    np.testing.assert_array_equal(doc.photo.pixels, original)  # reblending leaves the photo alone
    doc.accept()
    assert doc.pending is None and doc.records == [pending]
    y, x = 40, 60  # the hole's centre
    assert doc.photo.pixels[y, x, 0] == round(3 / 5 * 65535) and not doc.mask[y, x]
    assert (doc.photo.pixels != original).any(axis=2).sum() == region.hole.sum()
    doc.undo()  # accept
    np.testing.assert_array_equal(doc.photo.pixels, original)
    np.testing.assert_array_equal(doc.mask, mask_before)
    assert doc.pending is pending and doc.records == []
    doc.undo()  # choice
    assert region.chosen == 0 and np.allclose(pending.patches[0].after, round(1 / 5 * 65535))
    doc.discard()
    assert doc.pending is None
    doc.undo()
    assert doc.pending is pending
    doc.undo()  # the result's arrival
    assert doc.pending is None
    doc.redo()
    doc.redo()  # discard again (redo)
    assert doc.pending is None and doc.history.entries[-1].label == "Discard result"
