"""Restoring from the window: a fake engine for the flow, the real pipeline with a tiny model."""

# ruff: noqa: F811  (the fixtures imported from gui_support come back as test parameters)

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import pytest

pytest.importorskip("PySide6")

from gui_support import (  # noqa: F401  (fixtures)
    FakeOptions,
    fake_result,
    make_photo,
    no_leaked_threads,
    show_photo,
    window,
)

from restorer.core.maskops import Bounds, mask_bounds
from restorer.gui.exporting import ExportRequest
from restorer.gui.jobs import FINISHED

pytestmark = pytest.mark.gui


@dataclass
class Started:
    index: int
    count: int
    box: tuple
    method: str = "latent"
    reason: str = "fake"


@dataclass
class Progress:
    index: int
    iteration: int
    total: int
    loss: float
    box: tuple

    def preview(self) -> np.ndarray:
        _, _, w, h = self.box
        return np.full((h, w, 3), self.iteration / self.total, np.float32)


def fake_engine(total: int = 5, delay: float = 0.0, fail: str | None = None):
    """Replaces pipeline_factory: yields Started/Progress and returns (FakeResult, FakeOptions)."""

    def make(photo, mask, settings):
        def factory(attempt, should_stop):
            if fail:
                from restorer.core.errors import RestorerError

                raise RestorerError(fail)
            box = mask_bounds(mask).expanded(4).intersect(Bounds.of_shape(mask.shape)).xywh()

            def job():
                yield Started(0, 1, box)
                for i in range(1, total + 1):
                    if should_stop():
                        return None
                    time.sleep(delay)
                    yield Progress(0, i, total, 1.0 / i, box)
                return fake_result(photo, box), FakeOptions(seed=settings.seed)

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
    hole = doc.records[0].patches[0]
    changed = (doc.photo.pixels != original).any(axis=2)
    assert changed.sum() == hole.where.sum() > 0
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

    first = doc.pending.patches[0].after.copy()
    window.choose_candidate(0, 2)  # pipeline.reblend on the real result
    assert region.chosen == 2 and not np.array_equal(doc.pending.patches[0].after, first)
    window.accept_result()
    assert not doc.mask.any()  # the filled hole left the mask
    hole = np.zeros_like(doc.mask)
    hole[Bounds.from_xywh(region.box).slices] = region.hole
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
