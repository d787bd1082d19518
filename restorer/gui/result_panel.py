"""The Result dock: each region's candidates ranked by loss, comparison controls, accept and discard."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from restorer.core.maskops import mask_bounds
from restorer.core.types import Bounds
from restorer.editing.history import PendingResult
from restorer.editing.pyramid import to_display8
from restorer.editing.wording import plain_warning
from restorer.gui.layers import ArrayImage
from restorer.gui.restore_panel import method_labels
from restorer.gui.settings import set_icon

THUMB = 112
WARNING_LINES = 5  # the warnings scroll beyond this, so Accept and Discard stay in view
SMOOTH = Qt.TransformationMode.SmoothTransformation


def candidate_thumbnail(window8: np.ndarray, hole: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """The candidate pasted into its hole (no blending: fast, honest), cropped to the hole and a margin
    so that candidates differing in a small hole do not all look alike at thumbnail size."""
    from restorer.core.pixels import from_float

    out = np.repeat(window8[..., None], 3, axis=2) if window8.ndim == 2 else window8.copy()
    cand = from_float(candidate, np.uint8)
    if cand.shape[2] == 1:
        cand = np.repeat(cand, 3, axis=2)
    out[hole] = cand[hole]
    box = mask_bounds(hole)
    if box.is_empty:
        return out
    margin = max(8, max(box.height, box.width) // 4)
    return out[box.expanded(margin).intersect(Bounds.of_shape(hole.shape)).slices]


class ResultPanel(QWidget):
    candidate_chosen = Signal(int, int)  # region index, candidate index
    accept_requested = Signal()
    discard_requested = Signal()
    split_changed = Signal(object)  # fraction of the width showing "before", or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pending: PendingResult | None = None
        self._pixels: np.ndarray | None = None
        self.summary = QLabel("No result yet. Paint over the damage and press Restore.")
        self.summary.setWordWrap(True)
        self.warnings = QLabel()
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #d9822b;")
        self.warnings.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warnings_area = _bounded_scroll(self.warnings, WARNING_LINES)
        self._labels = method_labels()

        self.region = QComboBox()
        self.region.setToolTip("The region whose candidates are listed below")
        self.region.currentIndexChanged.connect(self._fill_candidates)
        self.candidates = QListWidget()
        self.candidates.setViewMode(QListView.ViewMode.IconMode)
        self.candidates.setIconSize(QSize(THUMB, THUMB))
        self.candidates.setResizeMode(QListView.ResizeMode.Adjust)
        self.candidates.setMovement(QListView.Movement.Static)
        self.candidates.setSpacing(4)
        self.candidates.setUniformItemSizes(True)
        self.candidates.setToolTip("Candidates, best (lowest loss) first. Click one to blend it in.")
        self.candidates.currentRowChanged.connect(self._row_changed)

        self.split = QCheckBox("Split view")
        self.split.setToolTip("Before on the left, after on the right; drag the line or the slider")
        self.split_slider = QSlider(Qt.Orientation.Horizontal)
        self.split_slider.setRange(0, 1000)
        self.split_slider.setValue(500)
        self.split_slider.setEnabled(False)
        self.split.toggled.connect(self._split_toggled)
        self.split_slider.valueChanged.connect(self._split_moved)
        hint = QLabel("Hold \\ to see the photo before.")
        hint.setWordWrap(True)
        hint.setEnabled(False)
        compare = QHBoxLayout()
        compare.addWidget(self.split)
        compare.addWidget(self.split_slider, 1)

        self.accept_button = set_icon(QPushButton("&Accept"), "check")
        self.accept_button.setToolTip("Keep this result in the photo (Ctrl+Return); undo with Ctrl+Z")
        self.accept_button.clicked.connect(self.accept_requested)
        self.discard_button = set_icon(QPushButton("&Discard"), "close")
        self.discard_button.setToolTip("Drop this result (Ctrl+Backspace); undo with Ctrl+Z")
        self.discard_button.clicked.connect(self.discard_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.discard_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.warnings_area)
        layout.addWidget(self.region)
        layout.addWidget(self.candidates, 1)
        layout.addLayout(compare)
        layout.addWidget(hint)
        layout.addLayout(buttons)
        self.set_pending(None, None)

    def set_pending(
        self, pending: PendingResult | None, pixels: np.ndarray | None, icc_profile: bytes | None = None
    ) -> None:
        """Show a pending result; ``pixels`` are the photo's current (pre-result) pixels, shown in
        sRGB from ``icc_profile`` like the canvas.

        The same result shown again (a candidate chosen, undone, redone) keeps the region selected."""
        same = pending is not None and pending is self._pending
        keep = self.region.currentIndex() if same else 0
        self._pending, self._pixels, self._icc = pending, pixels, icc_profile
        has = pending is not None and bool(pending.regions)
        self.accept_button.setEnabled(pending is not None)
        self.discard_button.setEnabled(pending is not None)
        self.region.blockSignals(True)
        self.region.clear()
        if pending is not None:
            for r in pending.regions:
                n = len(r.candidates)
                label = self._labels.get(r.method, r.method)
                self.region.addItem(f"Region {r.index + 1}: {label}, {n} candidate{'s' * (n != 1)}")
            self.region.setCurrentIndex(min(max(keep, 0), len(pending.regions) - 1))
        self.region.blockSignals(False)
        self.region.setVisible(has and len(pending.regions) > 1)
        if pending is None:
            self.summary.setText("No result yet. Paint over the damage and press Restore.")
        elif not pending.regions:
            self.summary.setText("Nothing was filled.")
        else:
            n = len(pending.regions)
            self.summary.setText(
                f"{n} region{'s' * (n != 1)} filled. Pick a candidate, then accept or discard."
            )
        warnings = [plain_warning(w, self._labels) for w in (pending.warnings if pending else [])]
        self.warnings.setText("\n".join(warnings))
        self.warnings_area.setVisible(bool(warnings))
        self._fill_candidates()

    def show_region(self, index: int) -> None:
        """Select region ``index`` in the region list (its candidates show below)."""
        if 0 <= index < self.region.count():
            self.region.setCurrentIndex(index)

    def refresh_choice(self) -> None:
        """Select each region's chosen candidate again (after undo/redo of a choice)."""
        self._fill_candidates()

    def _fill_candidates(self) -> None:
        self.candidates.blockSignals(True)
        self.candidates.clear()
        pending, index = self._pending, self.region.currentIndex()
        if pending is not None and 0 <= index < len(pending.regions):
            region = pending.regions[index]
            window8 = to_display8(self._pixels[region.box.slices])
            colour_icc = self._icc if self._pixels.ndim == 3 and self._pixels.shape[2] >= 3 else None
            for k, (cand, loss) in enumerate(zip(region.candidates, region.losses, strict=False)):
                # Pasted in the photo's own numbers, then converted for display as a whole
                # (thumbnails are RGB: a grey photo's grey profile does not apply to them).
                thumb = to_display8(candidate_thumbnail(window8, region.hole, cand), colour_icc)
                pixmap = QPixmap.fromImage(ArrayImage(np.ascontiguousarray(thumb))).scaled(
                    THUMB,
                    THUMB,
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
                text = f"#{k + 1}" + (f" · {loss:.3g}" if len(region.candidates) > 1 else "")
                icon = QIcon(pixmap)
                icon.addPixmap(pixmap, QIcon.Mode.Selected)  # no selection tint over the picture
                item = QListWidgetItem(icon, text)
                item.setToolTip(f"Candidate {k + 1}, loss {loss:.5g}")
                self.candidates.addItem(item)
            self.candidates.setCurrentRow(region.chosen)
        self.candidates.blockSignals(False)

    def _row_changed(self, row: int) -> None:
        pending, index = self._pending, self.region.currentIndex()
        if pending is None or row < 0 or not 0 <= index < len(pending.regions):
            return
        if row != pending.regions[index].chosen:
            self.candidate_chosen.emit(index, row)

    def _split_toggled(self, on: bool) -> None:
        self.split_slider.setEnabled(on)
        self.split_changed.emit(self.split_slider.value() / 1000 if on else None)

    def _split_moved(self, value: int) -> None:
        if self.split.isChecked():
            self.split_changed.emit(value / 1000)

    def set_split_position(self, fraction: float) -> None:
        """Follow the canvas when the user drags the split line there."""
        self.split_slider.blockSignals(True)
        self.split_slider.setValue(round(fraction * 1000))
        self.split_slider.blockSignals(False)


def _bounded_scroll(label: QLabel, lines: int) -> QScrollArea:
    """``label`` in a frameless scroll area at most ``lines`` text lines high (hidden until needed)."""
    area = QScrollArea()
    area.setWidget(label)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setMaximumHeight(label.fontMetrics().lineSpacing() * lines + 6)
    area.hide()
    return area
