"""Worker threads: a long engine job (a generator) and one-shot calls, reporting through Qt signals.

The job thread iterates the generator, checks an abort flag between events and also hands the engine
``should_stop`` so that it stops within one iteration. Previews are produced only as often as the
window can show them: ``event.preview()`` (a generator forward pass) is called at most
``PREVIEW_FPS`` times a second, progress is forwarded at most ``PROGRESS_HZ`` times a second,
so a fast GPU never floods the event loop.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Generator
from dataclasses import dataclass

from PySide6.QtCore import QThread, Signal
from shiboken6 import isValid

from restorer.core.errors import RestorerError
from restorer.core.types import Bounds, Event, RegionFinished, RegionProgress, RegionStarted, WindowPatch
from restorer.editing.preview import FINISHED, Throttle, preview_frame, window_of
from restorer.editing.retry import Attempt, describe_error, is_out_of_memory

PREVIEW_FPS = 12.0
PROGRESS_HZ = 20.0

# Every thread started here, so tests (and the window on close) can check none is left running.
_threads: weakref.WeakSet[QThread] = weakref.WeakSet()


def running_threads() -> list[QThread]:
    # A thread whose C++ side was deleted (deleteLater after it finished) is not running.
    return [t for t in list(_threads) if isValid(t) and t.isRunning()]


@dataclass(frozen=True)
class Partial:
    """What a cancelled job had finished: its regions' patches, of ``count`` planned, made by ``attempt``."""

    patches: list[WindowPatch]
    count: int
    attempt: Attempt


# A job factory builds the engine generator inside the worker thread (so torch loads there),
# for one attempt (starts, device), with a should_stop callable.
JobFactory = Callable[[Attempt, Callable[[], bool]], Generator[Event, None, object]]


class JobThread(QThread):
    """Runs one restoration; retries with the next attempt when CUDA runs out of memory."""

    event = Signal(object)  # RegionStarted / RegionProgress (throttled) / RegionFinished
    preview = Signal(object)  # PreviewFrame
    notice = Signal(str)  # e.g. "GPU out of memory: retrying with 8 starts"
    succeeded = Signal(object)  # the generator's return value (None when it stopped early)
    failed = Signal(str)
    partial = Signal(object)  # Partial: the regions finished before a cancel (sent before cancelled)
    cancelled = Signal()

    def __init__(
        self,
        factory: JobFactory,
        attempts: list[Attempt],
        mask=None,
        parent=None,
        icc_profile: bytes | None = None,
    ) -> None:
        super().__init__(parent)
        self._icc = icc_profile  # previews are shown in sRGB, like the photo on the canvas
        self._factory = factory
        self._attempts = attempts
        self._mask = mask  # the damage being restored, for drawing previews over the holes only
        self._unfilled = None  # the part of it that no finished region has filled yet
        self._abort = threading.Event()
        # Progress events carry no box: each region's comes from its RegionStarted event.
        self._region_boxes: dict[int, Bounds] = {}
        # The engine returns nothing when stopped: the finished regions are kept from their events.
        self._finished: list[WindowPatch] = []
        self._count = 0
        _threads.add(self)

    def cancel(self) -> None:
        """Thread-safe: ask the job to stop at its next check (within one engine iteration)."""
        self._abort.set()

    @property
    def cancelling(self) -> bool:
        return self._abort.is_set()

    def run(self) -> None:
        for number, attempt in enumerate(self._attempts):
            if attempt.notice:
                self.notice.emit(attempt.notice)
            try:
                result = self._drive(attempt)
            except BaseException as exc:
                if is_out_of_memory(exc) and number + 1 < len(self._attempts) and not self.cancelling:
                    _free_gpu_memory()
                    continue
                self.failed.emit(describe_error(exc))
                return
            if self.cancelling:
                if self._finished:
                    self.partial.emit(Partial(list(self._finished), self._count, attempt))
                self.cancelled.emit()
            else:
                self.succeeded.emit(result)
            return

    def _drive(self, attempt: Attempt):
        self._unfilled = None if self._mask is None else self._mask.copy()
        self._finished, self._count = [], 0
        job = self._factory(attempt, self._abort.is_set)
        previews, progress = Throttle(PREVIEW_FPS), Throttle(PROGRESS_HZ)
        try:
            while True:
                if self._abort.is_set():
                    return None
                try:
                    ev = next(job)
                except StopIteration as stop:
                    return stop.value
                self._forward(ev, previews, progress)
        finally:
            job.close()

    def _forward(self, ev: Event, previews: Throttle, progress: Throttle) -> None:
        if isinstance(ev, RegionProgress):
            if progress.ready() or ev.iteration >= ev.total:
                self.event.emit(ev)
            self._show_progress(ev, previews)
            return
        if isinstance(ev, RegionStarted):
            self._region_boxes[ev.index] = ev.box
            self._count = ev.count
        elif isinstance(ev, RegionFinished):
            self._finished.append(ev.patch)
            self._show_finished(ev.patch)
        self.event.emit(ev)  # region started / finished: always forwarded

    def _show_progress(self, ev: RegionProgress, previews: Throttle) -> None:
        box = self._region_boxes.get(ev.index)
        if self._unfilled is None or box is None or not previews.ready():
            return
        try:
            image = ev.preview()  # a network forward pass: only when a frame will be shown
        except RestorerError:  # a method whose progress carries no preview
            return
        # Over the holes this region still has to fill, not over ones earlier regions filled.
        hole = window_of(self._unfilled, box)
        shape = self._unfilled.shape
        self.preview.emit(preview_frame(ev.index, box, image, hole, shape, ev.iteration, self._icc))

    def _show_finished(self, patch: WindowPatch) -> None:
        """A finished region shows its chosen fill (pasted, not yet blended) until the whole job ends."""
        if self._unfilled is None or not patch.candidates:
            return
        candidate = patch.candidates[patch.chosen]
        shape = self._unfilled.shape
        frame = preview_frame(patch.index, patch.box, candidate, patch.hole, shape, FINISHED, self._icc)
        self.preview.emit(frame)
        inner = frame.bounds.relative_to(patch.box)
        self._unfilled[frame.bounds.slices] &= ~patch.hole[inner.slices]


def _free_gpu_memory() -> None:
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


class CallThread(QThread):
    """Runs ``fn()`` once off the GUI thread: open a photo, blend a candidate, load the engine."""

    succeeded = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: Callable[[], object], parent=None) -> None:
        super().__init__(parent)
        self._fn = fn
        _threads.add(self)

    def run(self) -> None:
        try:
            value = self._fn()
        except BaseException as exc:
            self.failed.emit(describe_error(exc))
            return
        self.succeeded.emit(value)
