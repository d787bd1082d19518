"""The Detect Damage dialog: live preview, the sensitivity slider, OK as one undo step, Cancel as nothing,
with the classic detector and with a (tiny, random) trained one."""

# ruff: noqa: F811  (the fixtures imported from gui_support come back as test parameters)

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from gui_support import make_photo, no_leaked_threads, show_photo, window  # noqa: F401
from PySide6.QtWidgets import QDialogButtonBox

from restorer.core import detect_learned
from restorer.core.detect import detect_damage
from restorer.editing.detect_preview import Area, threshold_for
from restorer.gui.detect_dialog import DetectDialog

pytestmark = pytest.mark.gui


def damaged_photo():
    """A smooth photo with scratches and specks of several contrasts: what is flagged depends on the
    sensitivity (measured: 1180 px flagged at 0.05, 1322 at 0.5, 2998 at 0.95)."""
    photo = make_photo(160, 120)
    px = photo.pixels
    rng = np.random.default_rng(1)
    px[30:32, 10:150] = 255
    px[70, 20:140] = np.clip(px[70, 20:140].astype(int) + 40, 0, 255)
    px[90:91, 30:120] = np.clip(px[90, 30:120].astype(int) - 25, 0, 255)
    for y, x in rng.integers(5, 115, (12, 2)):
        px[y : y + 2, x : x + 2] = np.clip(
            px[y : y + 2, x : x + 2].astype(int) + rng.integers(15, 80), 0, 255
        )
    return photo


@pytest.fixture
def classic(monkeypatch):
    """No trained detector, whatever models/ holds: the classic detector serves the dialog."""
    monkeypatch.setattr(detect_learned, "installed_detector", lambda fast=False: None)


@pytest.fixture
def learned(monkeypatch, tmp_path):
    """A tiny randomly initialised detector as the installed one; returns its path."""
    from synthetic_photos import tiny_detector

    path = tiny_detector(tmp_path / "detector.pt")
    monkeypatch.setattr(detect_learned, "installed_detector", lambda fast=False: path)
    return path


def open_dialog(window, qtbot, sensitivity: float = 0.5) -> DetectDialog:
    dialog = DetectDialog(window.doc, window.run_in_thread, sensitivity, window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(dialog.ready, timeout=20_000)
    # The detection's thread leaves window._calls when its finished signal is handled, which can come
    # after the result on a loaded machine: wait for it, so "no thread" checks see only new work.
    qtbot.waitUntil(lambda: not window._calls, timeout=20_000)
    return dialog


def flagged_at(dialog: DetectDialog, qtbot, position: int) -> int:
    dialog.slider.setValue(position)
    qtbot.waitUntil(dialog.ready, timeout=20_000)
    return int(dialog.proposal().sum())


def answer(monkeypatch, qtbot, button: QDialogButtonBox.StandardButton, position: int | None = None):
    """Make the window's dialog wait for its preview, move the slider (if asked), then click ``button``."""

    def exec_(dialog: DetectDialog) -> int:
        qtbot.waitUntil(dialog.ready, timeout=20_000)
        if position is not None:
            dialog.slider.setValue(position)
            qtbot.waitUntil(dialog.ready, timeout=20_000)
        exec_.proposal = dialog.proposal().copy()
        dialog.buttons.button(button).click()
        return dialog.result()

    monkeypatch.setattr(DetectDialog, "exec", exec_)
    return exec_


def test_the_dialog_previews_the_classic_detectors_proposal(window, qtbot, classic):
    doc = show_photo(window, damaged_photo())
    doc.fill_rect((5, 5), (20, 20))
    dialog = open_dialog(window, qtbot)
    assert not dialog.uses_trained_detector() and dialog.threshold() is None
    np.testing.assert_array_equal(dialog.proposal(), detect_damage(doc.photo.pixels, 0.5))
    assert dialog.area.text() == Area.of(dialog.proposal(), doc.mask).text()
    assert "%" in dialog.area.text() and "px" in dialog.area.text()
    assert not dialog.picture.pixmap().isNull()
    assert dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


def test_more_sensitivity_flags_more_with_the_classic_detector(window, qtbot, classic):
    show_photo(window, damaged_photo())
    dialog = open_dialog(window, qtbot)
    areas = [flagged_at(dialog, qtbot, p) for p in (5, 30, 50, 70, 95)]
    assert areas == sorted(areas) and areas[-1] > areas[0]


def test_dragging_runs_the_classic_detector_once_the_slider_rests(window, qtbot, classic):
    doc = show_photo(window, damaged_photo())
    dialog = open_dialog(window, qtbot)
    runs = []
    run = dialog._run_in_thread
    dialog._run_in_thread = lambda fn, done, failed: (runs.append(1), run(fn, done, failed))
    for position in range(51, 91, 5):  # a drag: many steps in quick succession
        dialog.slider.setValue(position)
    assert not dialog.ready()  # the shown proposal is for the old sensitivity
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    qtbot.waitUntil(dialog.ready, timeout=20_000)
    assert len(runs) == 1
    np.testing.assert_array_equal(dialog.proposal(), detect_damage(doc.photo.pixels, 0.86))


def test_ok_adds_the_proposal_to_the_mask_as_one_undo_step(window, qtbot, monkeypatch, classic):
    doc = show_photo(window, damaged_photo())
    doc.fill_rect((5, 5), (20, 20))
    painted, position = doc.mask.copy(), doc.history.position
    shown = answer(monkeypatch, qtbot, QDialogButtonBox.StandardButton.Ok, position=80)
    window.detect_damage()
    assert doc.history.position == position + 1
    assert shown.proposal.any() and (shown.proposal & ~painted).any()
    np.testing.assert_array_equal(doc.mask, painted | shown.proposal)
    assert window._sensitivity == 0.8  # the next dialog starts where this one was left
    window.undo()
    np.testing.assert_array_equal(doc.mask, painted)


def test_cancel_leaves_the_mask_bit_identical(window, qtbot, monkeypatch, classic):
    doc = show_photo(window, damaged_photo())
    doc.fill_rect((5, 5), (20, 20))
    before, position = doc.mask.tobytes(), doc.history.position
    answer(monkeypatch, qtbot, QDialogButtonBox.StandardButton.Cancel, position=90)
    window.detect_damage()
    assert doc.mask.tobytes() == before and doc.history.position == position
    assert window._sensitivity == 0.5


def test_cancel_while_detecting_drops_the_late_result(window, qtbot, classic):
    doc = show_photo(window, damaged_photo())
    before = doc.mask.tobytes()
    dialog = DetectDialog(doc, window.run_in_thread, 0.5, window)
    updates = []
    dialog.preview_updated.connect(lambda: updates.append(1))
    dialog.reject()  # the first detection is still running
    qtbot.waitUntil(lambda: not window._calls, timeout=20_000)
    qtbot.wait(20)  # its queued result
    assert not updates and dialog.proposal() is None and doc.mask.tobytes() == before


def test_the_trained_detector_runs_once_and_the_slider_thresholds_it(window, qtbot, learned):
    doc = show_photo(window, damaged_photo())
    dialog = open_dialog(window, qtbot)
    assert dialog.uses_trained_detector()
    probability = detect_learned.damage_probability(doc.photo.pixels, learned)
    assert probability.std() > 0.05  # the slider has something to separate
    np.testing.assert_array_equal(dialog.proposal(), probability > detect_learned.DEFAULT_THRESHOLD)
    areas = []
    for position in (5, 30, 50, 70, 95):
        with qtbot.waitSignal(dialog.preview_updated, timeout=1000):
            dialog.slider.setValue(position)
        assert dialog.ready() and not window._calls  # instant: no thread, no wait
        threshold = threshold_for(position, detect_learned.DEFAULT_THRESHOLD)
        assert dialog.threshold() == pytest.approx(threshold)
        np.testing.assert_array_equal(dialog.proposal(), probability > np.float32(threshold))
        areas.append(int(dialog.proposal().sum()))
    assert areas == sorted(areas) and areas[-1] > areas[0]


def test_a_large_photo_gets_the_fast_detector_and_says_so(window, qtbot, monkeypatch, tmp_path):
    """Above FAST_ABOVE_PIXELS the half-resolution detector answers (when installed) and the dialog
    names it; below, the full one does."""
    from synthetic_photos import tiny_detector

    from restorer.gui import detect_dialog

    full_path = tiny_detector(tmp_path / "detector.pt")
    fast_path = tiny_detector(tmp_path / "detector-fast.pt", stem_stride=2)
    monkeypatch.setattr(
        detect_learned, "installed_detector", lambda fast=False: fast_path if fast else full_path
    )
    doc = show_photo(window, damaged_photo())
    pixels = doc.photo.pixels
    small = open_dialog(window, qtbot)
    assert "fast" not in small.detector.text()
    np.testing.assert_array_equal(
        small.proposal(), detect_learned.damage_probability(pixels, full_path) > 0.5
    )
    small.reject()
    monkeypatch.setattr(detect_dialog, "FAST_ABOVE_PIXELS", pixels.shape[0] * pixels.shape[1] - 1)
    large = open_dialog(window, qtbot)
    assert large.uses_trained_detector() and "fast, half-resolution" in large.detector.text()
    expected = detect_learned.damage_probability(pixels, fast_path) > 0.5
    assert not np.array_equal(expected, small.proposal())  # the two tiny nets differ: the test can tell
    np.testing.assert_array_equal(large.proposal(), expected)


def test_ok_with_the_trained_detector_adds_its_proposal(window, qtbot, monkeypatch, learned):
    doc = show_photo(window, damaged_photo())
    painted, position = doc.mask.copy(), doc.history.position
    shown = answer(monkeypatch, qtbot, QDialogButtonBox.StandardButton.Ok, position=60)
    window.detect_damage()
    assert doc.history.position == position + 1 and shown.proposal.any()
    np.testing.assert_array_equal(doc.mask, painted | shown.proposal)


def test_a_broken_trained_detector_falls_back_to_the_classic_one(window, qtbot, monkeypatch, tmp_path):
    broken = tmp_path / "detector.pt"
    broken.write_bytes(b"not a model")
    monkeypatch.setattr(detect_learned, "installed_detector", lambda fast=False: broken)
    doc = show_photo(window, damaged_photo())
    dialog = open_dialog(window, qtbot)
    assert not dialog.uses_trained_detector() and "could not run" in dialog.detector.text()
    np.testing.assert_array_equal(dialog.proposal(), detect_damage(doc.photo.pixels, 0.5))
