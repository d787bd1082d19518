"""The Detect Damage dialog: a sensitivity slider and a live preview of the proposed mask over the photo.

With the trained detector installed the damage probability is computed once, off the GUI thread, and
the slider only thresholds it, so the preview follows the slider at once. Without it the classic
detector runs again (off the GUI thread, after the slider has rested for a moment) at each new
sensitivity. The dialog changes nothing itself: the window adds :meth:`DetectDialog.proposal` to the
mask when it is accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from restorer.editing.detect_preview import (
    SLIDER_MAX,
    Area,
    compose_preview,
    downscale_mask,
    preview_factor,
    preview_rgb,
    propose,
    sensitivity_for,
    threshold_for,
)
from restorer.editing.document import Document

# The classic detector reruns once the slider has rested this long: dragging does not queue a run per step.
DEBOUNCE_MS = 250
PREVIEW_SIDE = 560  # longest side of the preview, screen pixels; fits a 768-pixel-high screen
MIN_PREVIEW_SIDE = 320  # small photos are enlarged (by whole pixels) to at least this

RunInThread = Callable[[Callable[[], object], Callable[[object], None], Callable[[str], None]], object]


FAST_ABOVE_PIXELS = 12_000_000
"""Photos larger than this use the half-resolution detector when it is installed: on a 24 MP scan it
answers in ~10 s instead of ~34 s (2-core CPU), finding ~6% less drawn damage (models/detector-fast.md)."""


@dataclass(frozen=True)
class Learned:
    """The trained detector's per-pixel damage probability and its calibrated default threshold."""

    probability: np.ndarray
    default: float
    fast: bool = False  # the half-resolution detector answered (a large photo)


@dataclass(frozen=True)
class Classic:
    """The classic detector's mask at one sensitivity (and why the trained one was not used, if it failed)."""

    mask: np.ndarray
    sensitivity: float
    note: str = ""


def first_pass(pixels: np.ndarray, sensitivity: float) -> Learned | Classic:
    """Runs in a worker thread: the trained detector's probabilities when it is installed and loads,
    else the classic detector's mask. Importing the trained detector loads torch, hence not on the GUI
    thread."""
    note = ""
    try:
        from restorer.core import detect_learned

        large = pixels.shape[0] * pixels.shape[1] > FAST_ABOVE_PIXELS
        fast = detect_learned.installed_detector(fast=True) if large else None
        path = fast or detect_learned.installed_detector()
        if path is not None:
            probability = detect_learned.damage_probability(pixels, path)
            return Learned(probability, detect_learned.DEFAULT_THRESHOLD, fast is not None)
    except Exception as exc:  # a broken or unloadable model: the classic detector still works
        note = f"The trained detector could not run ({exc}); using the classic one."
    return classic_pass(pixels, sensitivity, note)


def classic_pass(pixels: np.ndarray, sensitivity: float, note: str = "") -> Classic:
    from restorer.core.detect import detect_damage

    return Classic(detect_damage(pixels, sensitivity), sensitivity, note)


def to_pixmap(rgb: np.ndarray, min_side: int = MIN_PREVIEW_SIDE) -> QPixmap:
    """uint8 (h, w, 3) -> QPixmap, enlarged by a whole factor (sharp pixels) when it is small."""
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()  # copy: own the pixels
    grow = max(1, min_side // max(h, w, 1))
    if grow > 1:
        image = image.scaled(w * grow, h * grow, mode=Qt.TransformationMode.FastTransformation)
    return QPixmap.fromImage(image)


class DetectDialog(QDialog):
    """``run_in_thread(fn, done, failed)`` runs ``fn`` off the GUI thread (the window's, which keeps
    track of its threads so none outlives the window). ``sensitivity``: the slider's first position."""

    preview_updated = Signal()  # the picture and the area now show the slider's proposal
    detection_failed = Signal(str)

    def __init__(
        self,
        doc: Document,
        run_in_thread: RunInThread,
        sensitivity: float = 0.5,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Detect Damage")
        self.doc = doc
        self._run_in_thread = run_in_thread
        self._closed = False
        self._busy = False  # a detector is running
        self._learned: Learned | None = None
        self._proposal: np.ndarray | None = None
        self._shown_for: float | None = None  # the classic sensitivity the proposal was computed at
        pixels = doc.photo.pixels
        self._factor = preview_factor(pixels.shape, PREVIEW_SIDE)
        self._base = preview_rgb(pixels, self._factor)
        self._current = downscale_mask(doc.mask, self._factor)
        self._build(round(sensitivity * SLIDER_MAX))
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS, timeout=self._rerun_classic)
        self._start(lambda: first_pass(pixels, self.sensitivity()), self._first_done)

    # ----- layout -----
    def _build(self, position: int) -> None:
        self.picture = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.picture.setPixmap(to_pixmap(compose_preview(self._base, self._current, self._current)))
        self.detector = QLabel("Finding damage…", wordWrap=True)
        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=SLIDER_MAX, value=position)
        self.slider.setPageStep(10)
        self.slider.setToolTip("Left: only obvious damage. Right: everything suspicious.")
        self.slider.valueChanged.connect(self._slider_moved)
        self.value = QLabel(minimumWidth=190)
        self.area = QLabel("Finding damage…")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Add to Mask")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._ok_enabled(False)
        row = QHBoxLayout()
        for widget in (QLabel("Sensitivity: fewer"), self.slider, QLabel("more"), self.value):
            row.addWidget(widget)
        legend = QLabel(
            "<span style='color:#ffdc00'>■</span> proposed &nbsp; "
            "<span style='color:#ff2050'>■</span> already in the mask"
        )
        layout = QVBoxLayout(self)
        for widget in (self.picture, legend, self.detector):
            layout.addWidget(widget)
        layout.addLayout(row)
        layout.addWidget(self.area)
        layout.addWidget(self.buttons)
        self._show_value()

    def _ok_enabled(self, on: bool) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(on)

    def _show_value(self) -> None:
        text = f"{self.slider.value()} %"
        if self._learned is not None:
            text += f" (probability > {self.threshold():.2f})"
        self.value.setText(text)

    # ----- what the slider means -----
    def sensitivity(self) -> float:
        return sensitivity_for(self.slider.value())

    def threshold(self) -> float | None:
        """The probability threshold, with the trained detector; None with the classic one."""
        if self._learned is None:
            return None
        return threshold_for(self.slider.value(), self._learned.default)

    def proposal(self) -> np.ndarray | None:
        """The full-size bool mask the preview shows (None until the first detection is done)."""
        return self._proposal

    def uses_trained_detector(self) -> bool:
        return self._learned is not None

    def ready(self) -> bool:
        """The preview shows the slider's current proposal (OK adds exactly that)."""
        return self._proposal is not None and not self._busy and not self._timer.isActive()

    # ----- detection -----
    def _start(self, fn: Callable[[], object], done: Callable[[object], None]) -> None:
        self._busy = True
        self._ok_enabled(False)
        # The callbacks check _closed: a run may end after the dialog has gone.
        self._run_in_thread(fn, lambda value: None if self._closed else done(value), self._failed)

    def _first_done(self, result: Learned | Classic) -> None:
        self._busy = False
        if isinstance(result, Learned):
            self._learned = result
            which = (
                "the trained network's fast, half-resolution version (a photo this large would take "
                "three times as long with the full one; it finds a little less)"
                if result.fast
                else "the trained network"
            )
            self.detector.setText(f"Detector: {which}. The slider sets the probability threshold.")
            self._show_value()
            self._show(propose(result.probability, self.threshold()))
            return
        self.detector.setText(result.note or "Detector: classic (no trained detector installed).")
        self._classic_done(result)

    def _classic_done(self, result: Classic) -> None:
        self._busy = False
        self._shown_for = result.sensitivity
        if result.sensitivity != self.sensitivity():  # the slider moved while it ran
            self._rerun_classic()
        else:
            self._show(result.mask)

    def _rerun_classic(self) -> None:
        if self._busy or self._closed or self._timer.isActive():
            return  # a finished run checks the slider again
        if self._shown_for == self.sensitivity() and self._proposal is not None:
            self._show(self._proposal)  # back where it was: nothing to compute
            return
        pixels, sensitivity = self.doc.photo.pixels, self.sensitivity()
        self.area.setText("Finding damage…")
        self._start(lambda: classic_pass(pixels, sensitivity), self._classic_done)

    def _failed(self, text: str) -> None:
        self._busy = False
        if self._closed:
            return
        self.area.setText(f"Detection failed: {text}")
        self.detection_failed.emit(text)

    def _slider_moved(self) -> None:
        self._show_value()
        if self._learned is not None:  # a threshold on stored probabilities: instant
            self._show(propose(self._learned.probability, self.threshold()))
        else:
            self._ok_enabled(False)  # the shown proposal no longer matches the slider
            self._timer.start()  # restarts: the classic detector runs once the slider rests

    def _show(self, proposal: np.ndarray) -> None:
        self._proposal = proposal
        shown = compose_preview(self._base, self._current, downscale_mask(proposal, self._factor))
        self.picture.setPixmap(to_pixmap(shown))
        self.area.setText(Area.of(proposal, self.doc.mask).text())
        self._ok_enabled(True)
        self.preview_updated.emit()

    def done(self, result: int) -> None:
        self._closed = True
        self._timer.stop()
        super().done(result)
