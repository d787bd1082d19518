"""Runs a restoration in a worker thread and routes its events to the canvas, the panel and the window."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from restorer.core.types import (
    Event,
    RegionFinished,
    RegionProgress,
    RegionStarted,
    RestoreOptions,
    RestoreResult,
)
from restorer.editing.eta import Eta
from restorer.editing.retry import Attempt, retry_plan
from restorer.editing.wording import plain_reason, plain_text
from restorer.gui.canvas import Canvas
from restorer.gui.restore_panel import RestorePanel, method_labels
from restorer.gui.worker import JobFactory, JobThread, Partial

ETA_REFRESH_MS = 1000  # elapsed time ticks on between events (a classic fill sends few)

if TYPE_CHECKING:
    from restorer.core.imageio import Photo


def partial_result(partial: Partial, options: RestoreOptions) -> RestoreResult:
    """The regions a cancelled job had finished, as a result the user may accept or discard."""
    done, count = len(partial.patches), max(partial.count, len(partial.patches))
    tried = replace(options, starts=partial.attempt.starts, device=partial.attempt.device)
    warnings = []
    if done < count:
        rest = f"region {done + 1}" if done + 1 == count else f"regions {done + 1}–{count}"
        warnings.append(f"Cancelled after {done} of {count} regions: {rest} not filled")
    return RestoreResult(list(partial.patches), warnings, tried)


def pipeline_factory(photo: Photo, mask: np.ndarray, options: RestoreOptions) -> JobFactory:
    """The real engine, called inside the worker thread: planning (and any model, with torch) loads there."""

    def factory(
        attempt: Attempt, should_stop: Callable[[], bool]
    ) -> Generator[Event, None, RestoreResult | None]:
        from restorer.core.pipeline import restore

        tried = replace(options, starts=attempt.starts, device=attempt.device)
        return restore(photo, mask, tried, should_stop=should_stop)

    return factory


class RestoreController(QObject):
    """One restoration at a time. ``finished`` carries the RestoreResult (its ``options`` say what
    ran), or None when it stopped; a cancelled job that had finished regions ends with ``finished``
    too, carrying those regions (``cancelled`` only when there was nothing to keep)."""

    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    message = Signal(str)
    running_changed = Signal(bool)

    def __init__(self, canvas: Canvas, panel: RestorePanel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.panel = panel
        self.thread: JobThread | None = None
        self._started_at = 0.0
        self._outcome: tuple | None = None
        self._options = RestoreOptions()
        self._partial: Partial | None = None
        self.was_cancelled = False  # the last job was cancelled (its finished regions may be kept)
        self._labels = method_labels()
        self.eta = Eta()
        self._eta_timer = QTimer(self, interval=ETA_REFRESH_MS, timeout=self._show_eta)
        # Tests swap in a fake engine here: (photo, mask, options) -> JobFactory.
        self.make_factory: Callable[..., JobFactory] = pipeline_factory

    @property
    def running(self) -> bool:
        return self.thread is not None

    def start(self, photo: Photo, mask: np.ndarray, options: RestoreOptions) -> None:
        if self.thread is not None:
            return
        mask = mask.copy()  # the user may go on painting while the job runs
        factory = self.make_factory(photo, mask, options)
        thread = JobThread(factory, retry_plan(options), mask, self, icc_profile=photo.icc_profile)
        thread.event.connect(self._on_event)
        thread.preview.connect(self.canvas.show_preview)
        thread.notice.connect(self._on_notice)
        thread.succeeded.connect(self._on_succeeded)
        thread.failed.connect(self._on_failed)
        thread.partial.connect(self._on_partial)
        thread.cancelled.connect(self._on_cancelled)
        thread.finished.connect(self._on_thread_finished)
        self.thread = thread
        self._options, self._partial, self.was_cancelled = options, None, False
        self._started_at = time.monotonic()
        self.eta.start()
        self._eta_timer.start()
        self.panel.set_running(True)
        self.running_changed.emit(True)
        thread.start()

    def cancel(self) -> None:
        if self.thread is not None and not self.thread.cancelling:
            self.thread.cancel()
            self.panel.set_progress_text("Cancelling… (finished regions are kept)")
            self.message.emit("Cancelling the restoration…")

    def stop_and_wait(self, timeout_ms: int = 10_000) -> bool:
        """Cancel and block until the worker has ended (closing the window); True when it did."""
        thread = self.thread
        if thread is None:
            return True
        thread.cancel()
        return thread.wait(timeout_ms)

    def elapsed(self) -> float:
        return time.monotonic() - self._started_at

    # ----- worker signals (queued onto the GUI thread) -----
    def _on_event(self, ev: Event) -> None:
        if isinstance(ev, RegionStarted):
            self.eta.region_started(ev.index, ev.count)
            self.canvas.set_active_window(ev.box)
            label = self._labels.get(ev.method, ev.method)
            self.panel.show_region(ev.index, ev.count, label, plain_reason(ev.reason, self._labels))
        elif isinstance(ev, RegionProgress):
            self.eta.progress(ev.iteration, ev.total)
            self.panel.show_progress(ev.index, ev.iteration, ev.total, ev.loss)
        elif isinstance(ev, RegionFinished):
            self.eta.region_finished()
        self._show_eta()

    def _show_eta(self) -> None:
        self.panel.show_eta(self.eta.estimate())

    def _on_notice(self, text: str) -> None:
        self.panel.status.setText(text)
        self.message.emit(text)

    # The outcome is announced once the thread has ended, so listeners see the controller idle.
    def _on_succeeded(self, value) -> None:
        self.panel.show_done(f"Done in {self.elapsed():.1f} s" if value is not None else "Stopped")
        self._outcome = ("finished", value)

    def _on_failed(self, text: str) -> None:
        self.panel.show_done("Failed")
        self._outcome = ("failed", plain_text(text, self._labels))

    def _on_partial(self, partial: Partial) -> None:
        self._partial = partial

    def _on_cancelled(self) -> None:
        self.was_cancelled = True
        partial, self._partial = self._partial, None
        if partial is None:
            self.panel.show_done("Cancelled")
            self._outcome = ("cancelled", None)
            return
        result = partial_result(partial, self._options)
        done, count = len(result.patches), max(partial.count, len(result.patches))
        self.panel.show_done(f"Cancelled: {done} of {count} regions kept")
        self._outcome = ("finished", result)

    def _on_thread_finished(self) -> None:
        thread, self.thread = self.thread, None
        outcome, self._outcome = self._outcome, None
        self._eta_timer.stop()
        self.canvas.clear_previews()
        self.panel.set_running(False)
        self.panel.show_elapsed(self.elapsed())
        if thread is not None:
            thread.deleteLater()
        self.running_changed.emit(False)
        if outcome is None:
            return
        kind, value = outcome
        if kind == "cancelled":
            self.cancelled.emit()
        else:
            getattr(self, kind).emit(value)
