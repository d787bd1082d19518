"""The worker thread with a fake engine (the engine's own event types): event order, throttled
previews, cancel, errors, OOM retries. The Qt-free parts are tested in test_editing_jobs.py."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("PySide6")

from gui_support import no_leaked_threads  # noqa: F401  (fixture)

from restorer.core.errors import RestorerError
from restorer.core.types import (
    Bounds,
    RegionFinished,
    RegionProgress,
    RegionStarted,
    RestoreOptions,
    WindowPatch,
)
from restorer.editing.retry import Attempt, retry_plan
from restorer.gui.worker import PREVIEW_FPS, CallThread, JobThread

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_leaked_threads")]
BOX = (4, 6, 16, 12)
BOUNDS = Bounds.from_xywh(BOX)


def started(index: int, count: int, method: str = "latent") -> RegionStarted:
    return RegionStarted(index, count, BOUNDS, method, "test")


def progress(index: int, iteration: int, total: int, calls: list) -> RegionProgress:
    """A progress event whose preview (a network pass in the engine) notes that it was computed."""

    def preview() -> np.ndarray:
        calls.append(iteration)
        return np.full((BOX[3], BOX[2], 3), iteration / total, np.float32)

    return RegionProgress(index, iteration, total, 1.0 / iteration, _preview=preview)


class FakeEngine:
    """Stands in for pipeline.restore: one region, ``total`` iterations, ``delay`` seconds each."""

    def __init__(
        self, total: int, delay: float = 0.0, oom_above: int | None = None, error: Exception | None = None
    ):
        self.total, self.delay, self.oom_above, self.error = total, delay, oom_above, error
        self.attempts: list[Attempt] = []
        self.preview_calls: list[int] = []

    def __call__(self, attempt: Attempt, should_stop):
        self.attempts.append(attempt)
        if self.error is not None:
            raise self.error
        if self.oom_above is not None and attempt.device != "cpu" and attempt.starts > self.oom_above:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self._run(should_stop, attempt)

    def _run(self, should_stop, attempt):
        yield started(0, 1)
        for i in range(1, self.total + 1):
            if should_stop():
                return None
            time.sleep(self.delay)
            yield progress(0, i, self.total, self.preview_calls)
        return ("result", attempt)


def run_job(qtbot, engine: FakeEngine, attempts: list[Attempt], cancel_after: float | None = None):
    mask = np.zeros((30, 30), bool)
    mask[8:14, 8:16] = True
    thread = JobThread(engine, attempts, mask)
    seen: dict[str, list] = {
        "event": [],
        "preview": [],
        "notice": [],
        "succeeded": [],
        "failed": [],
        "cancelled": [],
    }
    thread.event.connect(seen["event"].append)
    thread.preview.connect(seen["preview"].append)
    thread.notice.connect(seen["notice"].append)
    thread.succeeded.connect(seen["succeeded"].append)
    thread.failed.connect(seen["failed"].append)
    thread.cancelled.connect(lambda: seen["cancelled"].append(True))
    with qtbot.waitSignal(thread.finished, timeout=10_000):
        thread.start()
        if cancel_after is not None:
            qtbot.waitUntil(lambda: len(seen["event"]) > 1, timeout=5000)
            time.sleep(cancel_after)
            seen["cancel_time"] = time.monotonic()
            thread.cancel()
    seen["end_time"] = time.monotonic()
    qtbot.wait(10)  # deliver queued signals
    return seen


def test_events_in_order_and_previews_throttled(qtbot):
    engine = FakeEngine(total=400, delay=0.001)
    started = time.monotonic()
    seen = run_job(qtbot, engine, [Attempt(4, "cpu")])
    elapsed = time.monotonic() - started
    assert isinstance(seen["event"][0], RegionStarted)
    iterations = [e.iteration for e in seen["event"][1:]]
    assert iterations == sorted(iterations) and iterations[-1] == 400  # the last one always arrives
    assert len(iterations) < 400  # progress is throttled too
    frames = seen["preview"]
    assert frames and [f.iteration for f in frames] == sorted(f.iteration for f in frames)
    # preview() (a network forward pass in the engine) runs only when a frame will be shown
    assert len(engine.preview_calls) == len(frames) <= PREVIEW_FPS * elapsed + 2
    assert seen["succeeded"] == [("result", Attempt(4, "cpu"))] and not seen["failed"]


def test_preview_is_opaque_only_over_the_hole(qtbot):
    seen = run_job(qtbot, FakeEngine(total=3), [Attempt(1, "cpu")])
    frame = seen["preview"][0]
    assert frame.bounds.xywh() == BOX and frame.rgba.shape == (BOX[3], BOX[2], 4)
    # the hole is mask[8:14, 8:16]; in window coordinates rows 2:8, columns 4:12
    expected = np.zeros((BOX[3], BOX[2]), bool)
    expected[2:8, 4:12] = True
    np.testing.assert_array_equal(frame.rgba[..., 3] == 255, expected)


def test_cancel_stops_within_a_fraction_of_a_second(qtbot):
    engine = FakeEngine(total=100_000, delay=0.005)
    seen = run_job(qtbot, engine, [Attempt(4, "cpu")], cancel_after=0.05)
    assert seen["cancelled"] and not seen["succeeded"]
    assert seen["end_time"] - seen["cancel_time"] < 0.5
    assert seen["event"][-1].iteration < 1000


def test_engine_errors_become_one_line_messages(qtbot):
    seen = run_job(
        qtbot, FakeEngine(3, error=RestorerError("model file not found: x.pt")), [Attempt(1, "cpu")]
    )
    assert seen["failed"] == ["model file not found: x.pt"] and not seen["succeeded"]
    seen = run_job(qtbot, FakeEngine(3, error=ValueError("boom\nsecond line")), [Attempt(1, "cpu")])
    assert seen["failed"] == ["unexpected error (ValueError: boom)"]


def test_gpu_out_of_memory_retries_with_fewer_starts_then_cpu(qtbot):
    engine = FakeEngine(total=2, oom_above=4)
    seen = run_job(qtbot, engine, retry_plan(RestoreOptions(starts=16, device="cuda")))
    assert [a.starts for a in engine.attempts] == [16, 8, 4]
    assert seen["notice"] == [
        "GPU out of memory: retrying with 8 starts",
        "GPU out of memory: retrying with 4 starts",
    ]
    assert seen["succeeded"][0][1] == Attempt(4, "cuda", seen["notice"][-1])

    engine = FakeEngine(total=2, oom_above=0)  # never fits on the GPU
    seen = run_job(qtbot, engine, retry_plan(RestoreOptions(starts=16, device="auto")))
    assert [(a.starts, a.device) for a in engine.attempts] == [
        (16, "auto"),
        (8, "auto"),
        (4, "auto"),
        (4, "cpu"),
    ]
    assert "on the CPU" in seen["notice"][-1] and seen["succeeded"]


class TwoRegions(FakeEngine):
    """Region 0 (a scratch in the shared window) finishes first; region 1 then optimises."""

    def _run(self, should_stop, attempt):
        scratch = np.zeros((BOX[3], BOX[2]), bool)
        scratch[2:8, 4] = True  # column 12 of the photo, inside the painted hole
        yield started(0, 2, "diffusion")
        fill = np.full((BOX[3], BOX[2], 3), 0.25, np.float32)
        values = np.full((6, 3), 64, np.uint8)
        patch = WindowPatch(0, BOUNDS, scratch, "diffusion", "test", None, {}, [fill], [0.0], values)
        yield RegionFinished(patch)
        yield started(1, 2)
        for i in range(1, self.total + 1):
            yield progress(1, i, self.total, self.preview_calls)
        return ("result", attempt)


def test_finished_regions_show_their_fill_and_later_previews_skip_them(qtbot):
    seen = run_job(qtbot, TwoRegions(total=3), [Attempt(1, "cpu")])
    first, later = seen["preview"][0], seen["preview"][1]
    assert first.region == 0 and (first.rgba[..., 3] == 255).sum() == 6
    assert (first.rgba[first.rgba[..., 3] == 255][:, :3] == 64).all()  # the fill, 0.25 in 8 bits
    expected = np.zeros((BOX[3], BOX[2]), bool)
    expected[2:8, 4:12] = True
    expected[2:8, 4] = False  # filled by region 0 already
    assert later.region == 1
    np.testing.assert_array_equal(later.rgba[..., 3] == 255, expected)


def test_call_thread_reports_value_or_error(qtbot):
    good = CallThread(lambda: 42)
    with qtbot.waitSignal(good.succeeded, timeout=5000) as blocker:
        good.start()
    assert blocker.args == [42]
    good.wait()
    bad = CallThread(lambda: (_ for _ in ()).throw(RestorerError("cannot read x.tif: truncated")))
    with qtbot.waitSignal(bad.failed, timeout=5000) as blocker:
        bad.start()
    assert blocker.args == ["cannot read x.tif: truncated"]
    bad.wait()
