"""Shared helpers for the GUI and editing tests: synthetic photos and results, and (for the window
tests) a fixture failing on leaked worker threads. Importing this module loads no Qt.

Import the fixture by name in a test module (``from gui_support import no_leaked_threads``) and
apply it with ``pytestmark = pytest.mark.usefixtures("no_leaked_threads")``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from restorer.core.imageio import Photo, from_float, write_photo
from restorer.core.types import Bounds, RestoreOptions, RestoreResult, WindowPatch


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


def photo_file(tmp_path, dtype=np.uint8, name: str = "photo.png", size: tuple[int, int] = (120, 90)):
    """A synthetic photo written to ``tmp_path / name``; returns the path."""
    path = tmp_path / name
    write_photo(make_photo(*size, dtype=dtype), path)
    return path


def stroke(doc, *points, radius: float = 4.0, erase: bool = False) -> None:
    """One brush stroke through ``points`` (photo pixels): one undo step."""
    doc.begin_stroke(erase)
    for p0, p1 in itertools.pairwise(points):
        doc.stroke_segment(p0, p1, radius)
    doc.end_stroke()


def fake_result(
    photo: Photo, box: Bounds | tuple[int, int, int, int], k: int = 3, options: RestoreOptions | None = None
) -> RestoreResult:
    """A result filling a disc-shaped hole in ``box`` (x, y, w, h or Bounds) with k candidates:
    candidate i is flat grey (i + 1) / (k + 2), pasted (no blending), so choosing one is exact."""
    box = box if isinstance(box, Bounds) else Bounds.from_xywh(box)
    h, w = box.height, box.width
    yy, xx = np.mgrid[0:h, 0:w]
    hole = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (min(w, h) / 3) ** 2
    channels = photo.pixels.shape[2]
    candidates = [np.full((h, w, channels), (i + 1) / (k + 2), np.float32) for i in range(k)]
    patch = WindowPatch(
        index=0,
        box=box,
        hole=hole,
        method="latent",
        reason="test",
        model="tiny",
        params={"seed": 0},
        candidates=candidates,
        losses=[0.1 * (i + 1) for i in range(k)],
        values=from_float(candidates[0][hole], photo.pixels.dtype),
    )
    return RestoreResult([patch], [], options or RestoreOptions(method="latent"))


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
    from restorer.editing.document import Document

    window.set_document(Document(photo, path))
    return window.doc
