"""The Restore dock: method, model and optimisation settings, the context box, progress and Cancel."""

from __future__ import annotations

import contextlib
from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from restorer.core import methods
from restorer.core.types import Bounds, RestoreOptions
from restorer.editing.eta import Estimate, format_duration
from restorer.gui.settings import set_icon

ROUTER_LABELS = {"auto": "Automatic", "classic": "Classic fills (no model)"}
LATENT_SETTINGS = ("auto", "latent")  # where iterations, starts and λ apply
DEVICE_CHOICES = [
    ("auto", "Automatic", "The GPU when one is available, else the CPU."),
    ("cpu", "CPU", "Always the processor: slower, never out of GPU memory."),
    ("cuda", "GPU (CUDA)", "The NVIDIA GPU; fails if there is none."),
]
INVERSION_CHOICES = [
    ("auto", "Automatic", "From the model's encoder guess when the model has an encoder, else at random."),
    ("encoder", "Encoder guess", "Start around the face the model's encoder reads from the context (fast)."),
    ("yeh", "Random (Yeh et al.)", "Start from random latents, as in the paper: the reference, slower."),
]
DEFAULTS = RestoreOptions()


def method_choices() -> list[tuple[str, str, str]]:
    """(name, label, tooltip) of the routers, then of every registered fill method, in display order."""
    routers = [
        (name, ROUTER_LABELS.get(name, name.capitalize()), text) for name, text in methods.ROUTERS.items()
    ]
    found = [(m.name, m.label, m.summary) for m in methods.methods().values()]
    return [(name, label, tip[:1].upper() + tip[1:] + ".") for name, label, tip in routers + found]


def method_labels() -> dict[str, str]:
    """What the Method list calls each router and method: the window's words for the engine's names."""
    return {name: label for name, label, _ in method_choices()}


def uses_model(method: str) -> bool:
    """Whether the method (or router) may run a model, so that choosing one makes sense."""
    if method in methods.ROUTERS:
        return method == "auto"
    found = methods.methods().get(method)
    return found is not None and found.model_kind is not None


OTHER_MODEL = "__other__"


class RestorePanel(QWidget):
    restore_requested = Signal()
    cancel_requested = Signal()
    clear_box_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.method = QComboBox()
        for i, (key, text, tip) in enumerate(method_choices()):
            self.method.addItem(text, key)
            self.method.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
        self.method.setToolTip("How damaged regions are filled (hover an entry for details).")
        self.method.currentIndexChanged.connect(self._update_enabled)
        form.addRow("&Method", self.method)

        self.model = QComboBox()
        self.model.setToolTip(
            "The trained network for latent optimisation or the context encoder.\n"
            "Default: the installed face model for the method."
        )
        self.model.addItem("Default for the method", None)
        self.model.addItem("Other file…", OTHER_MODEL)
        self.model.activated.connect(self._model_activated)
        form.addRow("M&odel", self.model)

        self.iterations = _spin(
            1,
            100_000,
            DEFAULTS.iterations,
            100,
            "Latent optimisation steps per region (Adam). More: closer fit, slower.",
        )
        form.addRow("&Iterations", self.iterations)
        self.starts = _spin(
            1,
            256,
            DEFAULTS.starts,
            1,
            "Random starting points optimised together; the candidates to pick from.\n"
            "More starts: better odds of a good fill, more memory.",
        )
        form.addRow("&Starts", self.starts)
        self.lam = QDoubleSpinBox()
        self.lam.setRange(0.0, 10.0)
        self.lam.setDecimals(4)
        self.lam.setSingleStep(0.001)
        self.lam.setValue(DEFAULTS.lam)
        self.lam.setToolTip(
            "λ: weight of the prior (discriminator) loss against the context loss.\n"
            "Higher: more realistic-looking fills that may match the context less."
        )
        form.addRow("Prior weight &λ", self.lam)
        self.inversion = QComboBox()
        for i, (key, text, tip) in enumerate(INVERSION_CHOICES):
            self.inversion.addItem(text, key)
            self.inversion.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
        self.inversion.setToolTip("Where the latent search starts.")
        form.addRow("Search &starts from", self.inversion)
        self.grain = _check(
            "Match the photo's grain",
            DEFAULTS.grain,
            "Give each fill the film grain measured around it, so no fill looks plastic.",
        )
        self.detail = _check(
            "Synthesise fine detail",
            DEFAULTS.detail,
            "Face models paint at 64 px: in a larger window, keep their fill's shapes and copy the\n"
            "finer detail and grain from the photo's own pixels, so the fill is not a soft patch.",
        )
        self.refine_box = _check(
            "Refine the face box",
            DEFAULTS.refine_box,
            "Try a few squares about the context box and let the Context Encoder fill from the one it\n"
            "fits best (outlined as the face frame); off: fill from the box exactly as drawn.",
        )
        for box in (self.grain, self.detail, self.refine_box):
            form.addRow(box)

        self.device = QComboBox()
        for i, (key, text, tip) in enumerate(DEVICE_CHOICES):
            self.device.addItem(text, key)
            self.device.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
        self.device.setToolTip("Where the networks run.")
        form.addRow("&Device", self.device)

        self.seed = _spin(0, 2**31 - 1, DEFAULTS.seed, 1, "Random seed: the same seed gives the same result.")
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        dice = QToolButton()
        set_icon(dice, "dice-multiple-outline")
        dice.setToolTip("Pick a new random seed")
        dice.clicked.connect(self._random_seed)
        seed_row.addWidget(dice)
        form.addRow("Seed", seed_row)

        self.box_label = QLabel()
        self.clear_box = QToolButton()
        set_icon(self.clear_box, "close")
        self.clear_box.setToolTip("Remove the context box")
        self.clear_box.clicked.connect(self.clear_box_requested)
        box_row = QHBoxLayout()
        box_row.addWidget(self.box_label, 1)
        box_row.addWidget(self.clear_box)
        form.addRow("Context box", box_row)
        # The hint gets the panel's whole width, on its own row, so that it wraps instead of clipping.
        self.box_hint = QLabel("Draw one with the box tool (X) around a face to use the face model.")
        self.box_hint.setWordWrap(True)
        self.box_hint.setEnabled(False)
        form.addRow(self.box_hint)

        self.restore_button = set_icon(QPushButton("Restore"), "auto-fix")
        self.restore_button.setToolTip("Fill the masked damage (Ctrl+R)")
        self.restore_button.clicked.connect(self.restore_requested)
        self.cancel_button = set_icon(QPushButton("Cancel"), "stop-circle-outline")
        self.cancel_button.setToolTip("Stop the restoration (Esc)")
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.cancel_button.setEnabled(False)
        defaults = QPushButton("Defaults")
        defaults.setToolTip("Reset every setting above to its default")
        defaults.clicked.connect(lambda: self.set_options(RestoreOptions()))
        buttons = QHBoxLayout()
        buttons.addWidget(self.restore_button, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(defaults)

        # The progress text sits above the bar, in the palette's text colour: drawn over the bar's
        # chunk, some styles paint it black on the highlight colour.
        self.progress_label = QLabel()
        self.progress_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(self.progress.fontMetrics().height())
        self.eta_label = QLabel()
        self.eta_label.setWordWrap(True)
        self.eta_label.setToolTip("Time spent and an estimate of the time left, for this region and in all")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.eta_label)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.reset_progress()
        self.set_box(None)
        self._update_enabled()

    # ----- settings -----
    def options(self, box: Bounds | None = None) -> RestoreOptions:
        """The engine's options as set here, for the document's context ``box``."""
        return RestoreOptions(
            method=self.method.currentData(),
            model=self.model.currentData() if self.model.currentData() != OTHER_MODEL else None,
            iterations=self.iterations.value(),
            starts=self.starts.value(),
            lam=self.lam.value(),
            inversion=self.inversion.currentData(),
            seed=self.seed.value(),
            device=self.device.currentData(),
            box=box,
            grain=self.grain.isChecked(),
            detail=self.detail.isChecked(),
            refine_box=self.refine_box.isChecked(),
        )

    def set_options(self, s: RestoreOptions) -> None:
        _select(self.method, s.method)
        if s.model is not None and self.model.findData(s.model) < 0:
            self._add_model(s.model, s.model)
        _select(self.model, s.model)
        self.iterations.setValue(s.iterations)
        self.starts.setValue(s.starts)
        self.lam.setValue(s.lam)
        self.seed.setValue(s.seed)
        _select(self.device, s.device)
        _select(self.inversion, s.inversion)
        self.grain.setChecked(s.grain)
        self.detail.setChecked(s.detail)
        self.refine_box.setChecked(s.refine_box)

    def to_dict(self) -> dict:
        """The settings to remember (the box belongs to the document, not to the panel)."""
        values = self.options().record()
        values.pop("box")
        return values

    def load_dict(self, values: dict) -> None:
        # Settings written by another version may not fit: then the defaults stay.
        with contextlib.suppress(TypeError, ValueError, AttributeError):
            self.set_options(replace(RestoreOptions.from_record(values), box=None))

    def set_models(self, names: list[str]) -> None:
        """Fill the model list once the engine has loaded (in the background, after the window shows)."""
        current = self.model.currentData()
        for name in names:
            if self.model.findData(name) < 0:
                self._add_model(name, name)
        _select(self.model, current)

    def _add_model(self, text: str, data: str) -> None:
        self.model.insertItem(self.model.count() - 1, text, data)

    def _model_activated(self, index: int) -> None:
        if self.model.itemData(index) != OTHER_MODEL:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model file", "", "Restorer models (*.pt)")
        if path:
            if self.model.findData(path) < 0:
                self._add_model(path.rsplit("/", 1)[-1], path)
            _select(self.model, path)
        else:
            self.model.setCurrentIndex(0)

    def _random_seed(self) -> None:
        import random

        self.seed.setValue(random.randrange(0, 2**31 - 1))

    def set_box(self, box: Bounds | None) -> None:
        """Show the document's context box."""
        if box is None:
            self.box_label.setText("None")
        else:
            self.box_label.setText(f"x {box.left}, y {box.top}, {box.width} × {box.height} px")
        self.box_hint.setVisible(box is None)
        self.clear_box.setEnabled(box is not None)

    def _update_enabled(self) -> None:
        method = self.method.currentData()
        for w in (self.iterations, self.starts, self.lam, self.inversion):
            w.setEnabled(method in LATENT_SETTINGS)
        for box in (self.model, self.detail, self.refine_box):
            box.setEnabled(uses_model(method))

    # ----- progress -----
    def set_progress_text(self, text: str) -> None:
        self.progress_label.setText(text)
        self.progress.setFormat(text)  # for accessibility tools, which read the bar's text

    def reset_progress(self) -> None:
        """Idle, with nothing left from an earlier run (a new photo, or before the next run)."""
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.set_progress_text("Idle")
        self.eta_label.clear()
        self.eta_label.hide()
        self.status.clear()

    def set_running(self, running: bool) -> None:
        self.restore_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if running:
            self.reset_progress()
            self.progress.setRange(0, 0)  # busy until the first region starts
            self.set_progress_text("Preparing…")

    def show_region(self, index: int, count: int, method: str, reason: str) -> None:
        """Region ``index`` (0-based) of ``count`` starts; ``method`` is its label in the Method list."""
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.set_progress_text(f"Region {index + 1} of {count}: {method}")
        self.status.setText(f"Region {index + 1}: {method} ({reason})")

    def show_progress(self, index: int, iteration: int, total: int, loss: float) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(iteration)
        self.set_progress_text(f"Region {index + 1}: {iteration:,} / {total:,} · loss {loss:.4g}")

    def show_eta(self, estimate: Estimate) -> None:
        self.eta_label.setText(estimate.text())
        self.eta_label.show()

    def show_elapsed(self, seconds: float) -> None:
        self.eta_label.setText(f"Took {format_duration(seconds)}")
        self.eta_label.show()

    def show_done(self, text: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if text.startswith("Done") else 0)
        self.set_progress_text(text)
        self.status.clear()  # the last region's line would read as if it were still running


def _check(text: str, checked: bool, tip: str) -> QCheckBox:
    box = QCheckBox(text)
    box.setChecked(checked)
    box.setToolTip(tip)
    return box


def _spin(low: int, high: int, value: int, step: int, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setValue(value)
    spin.setToolTip(tip)
    spin.setGroupSeparatorShown(True)
    return spin


def _select(combo: QComboBox, data) -> None:
    index = combo.findData(data)
    combo.setCurrentIndex(index if index >= 0 else 0)
