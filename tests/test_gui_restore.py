"""Restoring from the window: a fake engine for the flow, the real pipeline with a tiny model."""

# ruff: noqa: F811  (the fixtures imported from gui_support come back as test parameters)

from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("PySide6")

from gui_support import (  # noqa: F401  (fixtures)
    answer_with,
    fake_result,
    make_photo,
    no_leaked_threads,
    show_photo,
    window,
)

from restorer.core.maskops import mask_bounds
from restorer.core.types import (
    Bounds,
    RegionFinished,
    RegionProgress,
    RegionStarted,
    RestoreOptions,
    RestoreResult,
)
from restorer.editing.export import ExportRequest
from restorer.editing.preview import FINISHED

pytestmark = pytest.mark.gui


def fake_engine(total: int = 5, delay: float = 0.0, fail: str | None = None, seen: list | None = None):
    """Replaces pipeline_factory: yields the engine's events and returns a RestoreResult."""

    def make(photo, mask, options):
        def factory(attempt, should_stop):
            if fail:
                from restorer.core.errors import RestorerError

                raise RestorerError(fail)
            box = mask_bounds(mask).expanded(4).intersect(Bounds.of_shape(mask.shape))
            tried = replace(options, starts=attempt.starts, device=attempt.device)
            if seen is not None:
                seen.append(tried)

            def job():
                yield RegionStarted(0, 1, box, "latent", "fake")
                for i in range(1, total + 1):
                    if should_stop():
                        return None
                    time.sleep(delay)
                    image = np.full((box.height, box.width, 3), i / total, np.float32)
                    yield RegionProgress(0, i, total, 1.0 / i, _preview=lambda image=image: image)
                return fake_result(photo, box, options=tried)

            return job()

        return factory

    return make


def paint_square(doc, x=40, y=30, size=16):
    doc.fill_rect((x, y), (x + size, y + size))


def test_fake_restore_shows_result_then_accept_and_discard_undo(window, qtbot):
    doc = show_photo(window, make_photo(160, 120))
    original = doc.photo.pixels.copy()
    paint_square(doc)
    window.controller.make_factory = fake_engine()
    window.start_restore()
    qtbot.waitUntil(lambda: doc.pending is not None, timeout=10_000)
    assert not window.controller.running
    assert window.result_panel.candidates.count() == 3
    assert window.result_panel.candidates.currentRow() == 0
    assert window.commands["accept"].isEnabled()
    np.testing.assert_array_equal(doc.photo.pixels, original)  # shown, not yet in the photo

    window.accept_result()
    hole = doc.records[0].patches[0].hole
    changed = (doc.photo.pixels != original).any(axis=2)
    assert changed.sum() == hole.sum() > 0
    window.undo()
    np.testing.assert_array_equal(doc.photo.pixels, original)
    assert doc.pending is not None
    window.discard_result()
    assert doc.pending is None and window.result_panel.candidates.count() == 0
    window.undo()
    assert doc.pending is not None and window.result_panel.candidates.count() == 3


def test_painting_zoom_and_pan_keep_working_during_a_restore_and_cancel_stops_it(window, qtbot):
    doc = show_photo(window, make_photo(160, 120))
    paint_square(doc)
    window.controller.make_factory = fake_engine(total=100_000, delay=0.002)
    window.start_restore()
    qtbot.waitUntil(lambda: bool(window.canvas._previews), timeout=5000)  # a live preview is on screen
    assert window.commands["cancel"].isEnabled() and not window.commands["restore"].isEnabled()
    before = doc.mask.sum()
    doc.fill_rect((100, 80), (110, 90))  # the user goes on editing the mask
    window.canvas.zoom_by(2.0)
    window.canvas.grab()  # and the window repaints, previews and all
    assert doc.mask.sum() == before + 100
    started = time.monotonic()
    window.commands["cancel"].trigger()
    qtbot.waitUntil(lambda: not window.controller.running, timeout=5000)
    assert time.monotonic() - started < 1.0
    assert doc.pending is None and not window.canvas._previews
    assert window.restore_panel.progress.format() == "Cancelled"


def test_engine_errors_are_shown_and_the_window_goes_on(window, qtbot):
    doc = show_photo(window, make_photo(100, 80))
    paint_square(doc)
    window.controller.make_factory = fake_engine(fail="no model named 'face64' (looked in /x)")
    window.start_restore()
    qtbot.waitUntil(lambda: window.last_error != "", timeout=5000)
    assert window.last_error == "no model named 'face64' (looked in /x)"
    assert not window.controller.running and window.commands["restore"].isEnabled()
    window.controller.make_factory = fake_engine()
    window.start_restore()
    qtbot.waitUntil(lambda: doc.pending is not None, timeout=5000)


def test_restore_without_a_mask_explains_what_to_do(window):
    show_photo(window, make_photo(100, 80))
    window.start_restore()
    assert "paint over the damage" in window.last_error and not window.controller.running


# ----- the real engine -----


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    pytest.importorskip("restorer.core.pipeline")
    import torch

    from restorer.core.networks import Discriminator, GanArch, Generator
    from restorer.core.weights import save_weights

    torch.manual_seed(0)
    arch = GanArch(ngf=8, ndf=8)
    path = tmp_path_factory.mktemp("models") / "tiny.pt"
    return str(
        save_weights(
            path, "dcgan", arch, {"generator": Generator(arch), "discriminator": Discriminator(arch)}
        )
    )


def real_restore(window, qtbot, model: str, iterations: int):
    panel = window.restore_panel
    panel.method.setCurrentIndex(panel.method.findData("latent"))
    panel.set_models([model])
    panel.model.setCurrentIndex(panel.model.findData(model))
    panel.iterations.setValue(iterations)
    panel.starts.setValue(3)
    panel.device.setCurrentIndex(panel.device.findData("cpu"))
    frames: list = []
    window.start_restore()
    window.controller.thread.preview.connect(frames.append)
    return frames


def test_real_restore_with_a_tiny_model_previews_in_order_and_finishes(window, qtbot, tiny_model, tmp_path):
    photo = make_photo(96, 80, dtype=np.uint16)
    photo.source = tmp_path / "photo.tif"
    doc = show_photo(window, photo, photo.source)
    original = doc.photo.pixels.copy()
    paint_square(doc, 40, 30, 12)
    frames = real_restore(window, qtbot, tiny_model, iterations=40)
    qtbot.waitUntil(lambda: not window.controller.running, timeout=60_000)
    assert window.last_error == "" and doc.pending is not None
    live = [f.iteration for f in frames if f.iteration != FINISHED]
    assert live, "no live preview was shown"
    assert live == sorted(live) and live[-1] <= 40
    assert frames[-1].iteration == FINISHED  # the region's fill stays on screen until the result shows
    region = doc.pending.regions[0]
    assert len(region.candidates) == 3 and region.losses == sorted(region.losses)
    assert window.result_panel.candidates.count() == 3
    assert doc.pending.options.starts == 3 and doc.pending.options.device == "cpu"  # what ran

    first = doc.pending.patches[0].after.copy()
    window.choose_candidate(0, 2)  # restorer.core.patches.choose on one window, in a worker thread
    qtbot.waitUntil(lambda: doc.pending.regions[0].chosen == 2, timeout=10_000)
    assert not window.choosing and not np.array_equal(doc.pending.patches[0].after, first)
    assert window.result_panel.candidates.currentRow() == 2
    window.accept_result()
    assert not doc.mask.any()  # the filled hole left the mask
    hole = np.zeros_like(doc.mask)
    hole[region.box.slices] = region.hole
    assert hole.sum() == 144  # the 12 x 12 square painted above
    changed = (doc.photo.pixels != original).any(axis=2)
    assert changed.any() and not (changed & ~hole).any()  # only hole pixels changed

    out = tmp_path / "restored.tif"
    request = ExportRequest(out, "TIFF", save_mask=True, save_record=True)
    assert window.export(request, wait=True)
    from restorer.core.imageio import read_mask, read_photo

    written = read_photo(out)
    assert written.pixels.dtype == np.uint16
    np.testing.assert_array_equal(written.pixels, doc.photo.pixels)
    np.testing.assert_array_equal(read_mask(request.mask_path, doc.size), hole)
    record = json.loads(request.record_path.read_text())
    assert record["restorations"][0]["regions"][0]["chosen"] == 2
    assert record["restorations"][0]["regions"][0]["model"]["name"] == "tiny"
    assert not window.has_unsaved_work


def test_real_restore_cancels_promptly(window, qtbot, tiny_model):
    doc = show_photo(window, make_photo(96, 80))
    paint_square(doc, 30, 30, 10)
    frames = real_restore(window, qtbot, tiny_model, iterations=100_000)
    qtbot.waitUntil(lambda: bool(frames), timeout=60_000)
    started = time.monotonic()
    window.cancel_restore()
    qtbot.waitUntil(lambda: not window.controller.running, timeout=10_000)
    assert time.monotonic() - started < 1.0
    assert doc.pending is None and window.last_error == ""


def test_the_restore_runs_with_the_panels_options_and_the_documents_box(window, qtbot):
    doc = show_photo(window, make_photo(160, 120))
    paint_square(doc)
    box = Bounds.from_xywh((20, 10, 64, 64))
    window._box_drawn(box)  # the box tool's drawing goes into the document, as one undo step
    assert doc.box == box and window.canvas.context_box == box
    assert window.restore_panel.box_label.text() == "x 20, y 10, 64 × 64 px"
    panel = window.restore_panel
    panel.method.setCurrentIndex(panel.method.findData("patch"))
    panel.seed.setValue(11)
    seen: list = []
    window.controller.make_factory = fake_engine(seen=seen)
    window.start_restore()
    qtbot.waitUntil(lambda: doc.pending is not None, timeout=10_000)
    (options,) = seen
    assert (options.method, options.seed, options.box) == ("patch", 11, box)
    assert doc.pending.options is options  # the result says what ran
    window.undo()  # the result's arrival
    window.undo()  # the box
    assert doc.box is None and window.canvas.context_box is None
    assert window.restore_panel.box_label.text().startswith("None")
    window.redo()
    assert doc.box == box
    window.clear_context_box()
    assert doc.box is None and doc.history.next_undo().label == "Clear context box"


def test_a_new_method_file_appears_in_the_window_and_restores(toy_method, qtbot, no_leaked_threads):
    """``toy_method`` (conftest.py) adds one file to the method registry's search path, nothing else."""
    from PySide6.QtCore import Qt

    from restorer.gui.window import MainWindow

    w = MainWindow(start_engine=False)
    w.ask = answer_with("Discard")
    qtbot.addWidget(w)
    w.show()
    panel = w.restore_panel
    names = [panel.method.itemData(i) for i in range(panel.method.count())]
    assert names[:2] == ["auto", "classic"] and "diffusion" in names and toy_method in names
    assert names.index("latent") < names.index(toy_method)  # in the method's order (90)
    index = panel.method.findData(toy_method)
    assert panel.method.itemText(index) == "Toy: mean colour"
    tip = panel.method.itemData(index, Qt.ItemDataRole.ToolTipRole)
    assert tip == "Paints the hole with the mean colour of the known pixels."
    panel.method.setCurrentIndex(index)
    assert not panel.model.isEnabled() and not panel.iterations.isEnabled()  # no model, no latent settings

    panel.grain.setChecked(False)  # the toy's own flat fill, without the photo's grain on top
    doc = show_photo(w, make_photo(120, 90))
    paint_square(doc, 50, 40, 8)
    original = doc.photo.pixels.copy()
    w.start_restore()  # the real engine, which finds the toy in the registry too
    qtbot.waitUntil(lambda: not w.controller.running, timeout=60_000)
    assert w.last_error == "" and doc.pending is not None
    region = doc.pending.regions[0]
    assert region.method == toy_method and "--method toy" in region.reason and region.params["toy"]
    w.accept_result()
    changed = (doc.photo.pixels != original).any(axis=2)
    square = np.zeros_like(changed)
    square[40:48, 50:58] = True
    assert changed.sum() > 32 and not (changed & ~square).any()  # only the painted square changed
    filled = doc.photo.pixels[square]
    assert (filled == filled[0]).all()  # one flat colour: the toy's mean
    w.close()
    w.wait_for_threads()


# ----- cancelling keeps what is finished; the time estimate -----


def regions_engine(count: int = 3, slow_from: int = 2, total: int = 100_000, delay: float = 0.002):
    """A fake engine with ``count`` regions side by side: those before ``slow_from`` finish at once,
    the next one iterates until cancelled."""

    def make(photo, mask, options):
        def factory(attempt, should_stop):
            def job():
                patches = []
                for index in range(count):
                    box = Bounds.from_xywh((10 + 40 * index, 20, 32, 32))
                    patch = replace(fake_result(photo, box, options=options).patches[0], index=index)
                    yield RegionStarted(index, count, box, "patch", "--method patch")
                    iterations = total if index >= slow_from else 3
                    for i in range(1, iterations + 1):
                        if should_stop():
                            return None
                        time.sleep(delay)
                        yield RegionProgress(index, i, iterations, 0.5)
                    patches.append(patch)
                    yield RegionFinished(patch)
                return RestoreResult(patches, [], options)

            return job()

        return factory

    return make


def test_cancel_keeps_every_finished_region_as_a_result_to_accept(window, qtbot):
    doc = show_photo(window, make_photo(160, 90))
    original = doc.photo.pixels.copy()
    paint_square(doc, 10, 20, 120)
    window.controller.make_factory = regions_engine(count=3, slow_from=2)
    window.start_restore()
    qtbot.waitUntil(lambda: window.restore_panel.progress_label.text().startswith("Region 3"), timeout=10_000)
    thread, kept = window.controller.thread, []
    thread.partial.connect(kept.append)
    with qtbot.waitSignals([thread.partial, thread.cancelled], order="strict", timeout=5000):
        window.commands["cancel"].trigger()
    (partial,) = kept
    assert [p.index for p in partial.patches] == [0, 1] and partial.count == 3
    qtbot.waitUntil(lambda: doc.pending is not None, timeout=5000)
    assert not window.controller.running and window.last_error == ""
    assert [r.index for r in doc.pending.regions] == [0, 1]
    assert doc.pending.warnings == ["Cancelled after 2 of 3 regions: region 3 not filled"]
    assert window.restore_panel.progress_label.text() == "Cancelled: 2 of 3 regions kept"
    assert window.result_panel.region.count() == 2 and window.result_panel.candidates.count() == 3
    assert "Cancelled: kept 2 regions" in window.statusBar().currentMessage()
    window.accept_result()
    changed = (doc.photo.pixels != original).any(axis=2)
    assert changed[:, :90].any() and not changed[:, 90:].any()  # regions 1 and 2 went in, not 3


def test_cancel_before_any_region_finished_keeps_nothing(window, qtbot):
    doc = show_photo(window, make_photo(160, 90))
    paint_square(doc, 10, 20, 40)
    window.controller.make_factory = regions_engine(count=2, slow_from=0)
    window.start_restore()
    qtbot.waitUntil(lambda: window.restore_panel.progress.value() > 0, timeout=10_000)
    with qtbot.waitSignals([window.controller.cancelled], timeout=5000):
        window.cancel_restore()
    assert doc.pending is None and window.restore_panel.progress_label.text() == "Cancelled"


def test_progress_shows_elapsed_and_remaining_time_in_the_panels_own_words(window, qtbot):
    doc = show_photo(window, make_photo(160, 90))
    paint_square(doc, 10, 20, 40)
    window.controller.make_factory = regions_engine(count=2, slow_from=1, delay=0.01)
    window.start_restore()
    panel = window.restore_panel
    qtbot.waitUntil(
        lambda: "Region 2" in panel.progress_label.text() and panel.eta_label.text().count("left") == 2
    )
    eta = panel.eta_label.text()
    assert eta.startswith("region ") and " · total " in eta and eta.count("left") == 2
    assert "--method" not in panel.status.text() and "chosen in the Method list" in panel.status.text()
    assert panel.progress_label.text().startswith("Region 2") and not panel.progress.isTextVisible()
    window.cancel_restore()
    qtbot.waitUntil(lambda: not window.controller.running, timeout=5000)
    assert panel.eta_label.text().startswith("Took ") and panel.status.text() == ""
    window.set_document(None)  # another photo: nothing of this run stays in the panel
    assert panel.progress_label.text() == "Idle" and panel.eta_label.isHidden()


def test_panel_carries_the_inversion_and_grain_settings(window):
    """The search's start and grain matching reach the engine's options and come back from saved settings."""
    panel = window.restore_panel
    assert panel.options().inversion == "auto" and panel.options().grain is True
    panel.set_options(RestoreOptions(inversion="yeh", grain=False))
    options = panel.options()
    assert options.inversion == "yeh" and options.grain is False
    saved = panel.to_dict()
    panel.set_options(RestoreOptions())
    panel.load_dict(saved)
    assert panel.options().inversion == "yeh" and not panel.grain.isChecked()
    panel.method.setCurrentIndex(panel.method.findData("diffusion"))
    assert not panel.inversion.isEnabled()  # a latent-only setting


def test_panel_carries_the_box_refinement_setting(window):
    """Box refinement is on by default, reaches the engine's options when switched off, comes back
    from saved settings, and is greyed out for methods without a face model."""
    panel = window.restore_panel
    assert panel.refine_box.isChecked() and panel.options().refine_box is True
    panel.refine_box.setChecked(False)
    assert panel.options().refine_box is False
    saved = panel.to_dict()
    panel.set_options(RestoreOptions())
    assert panel.refine_box.isChecked()
    panel.load_dict(saved)
    assert not panel.refine_box.isChecked()
    panel.method.setCurrentIndex(panel.method.findData("context-encoder"))
    assert panel.refine_box.isEnabled()
    panel.method.setCurrentIndex(panel.method.findData("diffusion"))
    assert not panel.refine_box.isEnabled()
