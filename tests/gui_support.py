"""Shared helpers for the GUI tests: synthetic photos and a fixture failing on leaked worker threads.

Import the fixture by name in a test module (``from gui_support import no_leaked_threads``) and
apply it with ``pytestmark = pytest.mark.usefixtures("no_leaked_threads")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from restorer.core.imageio import Photo


def make_photo(width: int = 96, height: int = 64, channels: int = 3, dtype=np.uint8, seed: int = 0) -> Photo:
    """A smooth gradient with a little noise: distinct values everywhere, like a real photo."""
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = (xx / max(width - 1, 1) * 0.6 + yy / max(height - 1, 1) * 0.3)[..., None]
    tint = np.linspace(0.9, 1.1, channels, dtype=np.float32)[None, None, :]
    noisy = np.clip(base * tint + rng.normal(0, 0.02, (height, width, channels)), 0, 1)
    return Photo(
        pixels=(noisy * top).round().astype(dtype), alpha=None, icc_profile=None, source=None, format="PNG"
    )


@dataclass
class FakeRegion:
    """Shaped like pipeline.RegionResult, for document and session tests that must not load torch."""

    index: int
    box: tuple[int, int, int, int]
    hole: np.ndarray
    method: str = "latent"
    model: str | None = "tiny"
    params: dict = field(default_factory=dict)
    candidates: list = field(default_factory=list)
    losses: list = field(default_factory=list)
    chosen: int = 0
    reason: str = "test"


@dataclass
class FakeResult:
    photo: Photo
    regions: list
    warnings: list


@dataclass
class FakeOptions:
    method: str = "latent"
    seed: int = 0
    box: tuple | None = None


def fake_result(photo: Photo, box: tuple[int, int, int, int], k: int = 3, seed: int = 0) -> FakeResult:
    """A result filling a disc-shaped hole in ``box`` with candidate k = flat grey (k + 1) / (k + 2)."""
    x, y, w, h = box
    yy, xx = np.mgrid[0:h, 0:w]
    hole = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (min(w, h) / 3) ** 2
    channels = photo.pixels.shape[2]
    candidates = [np.full((h, w, channels), (i + 1) / (k + 2), np.float32) for i in range(k)]
    restored = photo.pixels.copy()
    top = np.iinfo(photo.pixels.dtype).max
    window = restored[y : y + h, x : x + w]
    window[hole] = np.round(candidates[0][hole] * top).astype(photo.pixels.dtype)
    region = FakeRegion(0, box, hole, candidates=candidates, losses=[0.1 * (i + 1) for i in range(k)])
    return FakeResult(Photo(restored, None, None, None, "PNG"), [region], [])


def fake_reblend(photo: Photo, region, candidate: int) -> Photo:
    """Paste (no blending) like pipeline.reblend's contract: only the region's hole changes."""
    x, y, w, h = region.box
    pixels = photo.pixels.copy()
    top = np.iinfo(pixels.dtype).max
    window = pixels[y : y + h, x : x + w]
    window[region.hole] = np.round(region.candidates[candidate][region.hole] * top).astype(pixels.dtype)
    region.chosen = candidate
    return Photo(pixels, None, None, None, "PNG")


@pytest.fixture
def no_leaked_threads(request):
    """Fail the test if any worker thread it started is still running when it ends."""
    pytest.importorskip("PySide6")
    request.getfixturevalue("qapp")
    from restorer.gui.worker import running_threads

    yield
    leaked = running_threads()
    for thread in leaked:  # stop them anyway so the next test starts clean
        cancel = getattr(thread, "cancel", None)
        if cancel is not None:
            cancel()
        thread.wait(5000)
    assert not leaked, f"{len(leaked)} worker thread(s) still running at the end of the test"


def answer_with(label: str):
    """A stand-in for MainWindow.ask that clicks the button called ``label`` (and records the question)."""

    def ask(title: str, text: str, buttons) -> int:
        ask.questions.append(title)
        labels = [b[0] for b in buttons]
        return labels.index(label) if label in labels else -1

    ask.questions = []
    return ask


@pytest.fixture
def window(qtbot, no_leaked_threads):
    """A shown main window without the background engine load; closed (discarding work) at the end."""
    from restorer.gui.window import MainWindow

    w = MainWindow(start_engine=False)
    w.ask = answer_with("Discard")
    qtbot.addWidget(w)
    w.resize(1100, 760)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.ask = answer_with("Discard")
    w.controller.stop_and_wait()
    w.close()
    w.wait_for_threads()


def show_photo(window, photo: Photo, path=None):
    """Put a photo in the window directly (no file reading)."""
    from restorer.gui.document import Document

    window.set_document(Document(photo, path))
    return window.doc
