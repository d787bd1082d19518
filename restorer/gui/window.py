"""The main window: its widgets, actions, status bar, settings and life cycle.

Opening, export and sessions live in :mod:`window_files`; undo, mask commands and the restore flow
in :mod:`window_commands`; both are mixed into :class:`MainWindow`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QStackedWidget,
    QWidget,
)

from restorer.core.types import Bounds
from restorer.editing import session as sessions
from restorer.editing.document import Document
from restorer.gui import refguard
from restorer.gui.actions import build_actions, build_menus, build_toolbars
from restorer.gui.canvas import Canvas
from restorer.gui.restore_controller import RestoreController
from restorer.gui.restore_panel import RestorePanel
from restorer.gui.result_panel import ResultPanel
from restorer.gui.settings import refresh_icons, settings
from restorer.gui.welcome import WelcomePage
from restorer.gui.window_commands import CommandsMixin
from restorer.gui.window_files import SAMPLE_PHOTO, FilesMixin
from restorer.gui.worker import CallThread

log = logging.getLogger(__name__)

# Commands that need an open photo.
DOCUMENT_COMMANDS = (
    "import_mask",
    "export",
    "export_mask",
    "detect",
    "clear_mask",
    "invert_mask",
    "grow_mask",
    "shrink_mask",
    "zoom_in",
    "zoom_out",
    "fit",
    "actual",
    "clear_box",
    "split",
)
AUTOSAVE_DELAY_MS = 1500  # after the last change
DEFAULT_SIZE = QSize(1280, 820)
SCREEN_SHARE = 0.92  # of the screen a new window may cover at most
TABBED_DOCKS_BELOW = 900  # px of screen height: below, the Restore and Result panels share one tab stack
AUTOSAVE_PERIOD_MS = 60_000  # and at least this often while there is unsaved work


def warm_engine() -> dict:
    """Import the engine (and torch) off the GUI thread; list models and the device."""
    from restorer.core import pipeline, weights

    del pipeline  # imported for its side effect: the first restore starts at once
    import torch

    device = f"GPU: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "CPU"
    return {"models": [p.stem for p in weights.list_models()], "device": device}


class MainWindow(FilesMixin, CommandsMixin, QMainWindow):
    document_opened = Signal()
    engine_ready = Signal()

    def __init__(self, photo: str | Path | None = None, start_engine: bool = True) -> None:
        super().__init__()
        refguard.install()  # idempotent; see refguard: a PySide6 leak would abort a long session
        self.setWindowTitle("Restorer")
        self.setAcceptDrops(True)
        self.doc: Document | None = None
        self.last_error = ""
        self._initial = Path(photo) if photo else None
        self._start_engine = start_engine
        self._shown = False
        self._calls: set[CallThread] = set()
        self._session: sessions.SessionStore | None = None
        self._saved_revision = 0
        self._exported_revision = 0
        self._grow_radius = 2
        self._sensitivity = 0.5
        self._restoring_doc: Document | None = None  # the document the running restore started from
        self._choosing = 0  # candidates being blended in worker threads

        self.canvas = Canvas()
        self.welcome = WelcomePage(SAMPLE_PHOTO.is_file())
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.canvas)
        self.setCentralWidget(self.stack)

        self.restore_panel = RestorePanel()
        self.result_panel = ResultPanel()
        self.restore_dock = self._dock("Restore", "restore_dock", self.restore_panel)
        self.result_dock = self._dock("Result", "result_dock", self.result_panel)
        self.controller = RestoreController(self.canvas, self.restore_panel, self)

        self.commands = build_actions(self)
        self.recent_menu = build_menus(self, self.commands)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.panels_menu.addAction(self.restore_dock.toggleViewAction())
        self.panels_menu.addAction(self.result_dock.toggleViewAction())
        self.brush_slider, self.brush_spin = build_toolbars(self, self.commands)
        self._build_status_bar()
        self._connect()

        self._autosave_timer = QTimer(
            self, singleShot=True, interval=AUTOSAVE_DELAY_MS, timeout=self.autosave
        )
        self._periodic_timer = QTimer(self, interval=AUTOSAVE_PERIOD_MS, timeout=self.autosave)
        self._periodic_timer.start()
        self._restore_settings()
        self._update_actions()

    # ----- construction helpers -----
    def _dock(self, title: str, name: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        scroll = WrappingScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(widget)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        dock.setWidget(scroll)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        return dock

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.pointer_label = QLabel()
        self.zoom_label = QLabel()
        self.size_label = QLabel()
        self.device_label = QLabel("Device: loading…")
        for label in (self.pointer_label, self.zoom_label, self.size_label, self.device_label):
            label.setContentsMargins(8, 0, 8, 0)
            bar.addPermanentWidget(label)

    def _connect(self) -> None:
        c = self.canvas
        c.view_changed.connect(self._show_zoom)
        c.pointer_moved.connect(self._show_pointer)
        c.box_drawn.connect(self._box_drawn)
        c.brush_size_changed.connect(self._brush_size_changed)
        c.split_moved.connect(self.result_panel.set_split_position)
        self.brush_slider.valueChanged.connect(c.set_brush_size)
        self.brush_spin.valueChanged.connect(c.set_brush_size)
        self.welcome.open_clicked.connect(self.open_dialog)
        self.welcome.sample_clicked.connect(self.open_sample)
        self.welcome.recent_clicked.connect(lambda p: self.open_path(Path(p)))
        rp = self.restore_panel
        rp.restore_requested.connect(self.start_restore)
        rp.cancel_requested.connect(self.cancel_restore)
        rp.clear_box_requested.connect(self.clear_context_box)
        res = self.result_panel
        res.accept_requested.connect(self.accept_result)
        res.discard_requested.connect(self.discard_result)
        res.candidate_chosen.connect(self.choose_candidate)
        res.split_changed.connect(self._split_from_panel)
        ctl = self.controller
        ctl.finished.connect(self._restore_finished)
        ctl.failed.connect(lambda text: self.show_error("Restoration failed", text))
        ctl.cancelled.connect(lambda: self.statusBar().showMessage("Restoration cancelled", 5000))
        ctl.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        ctl.running_changed.connect(lambda _: self._update_actions())

    # ----- first show: the engine loads in the background, then a session may be recovered -----
    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._shown:
            self._shown = True
            QTimer.singleShot(0, self._after_first_show)

    def _after_first_show(self) -> None:
        if self._start_engine:
            self.run_in_thread(warm_engine, self._engine_loaded, self._engine_failed)
        if self.offer_recovery():
            return
        if self._initial is not None:
            self.open_path(self._initial)

    def _engine_loaded(self, info: dict) -> None:
        self.restore_panel.set_models(info["models"])
        self.device_label.setText(f"Device: {info['device']}")
        self.engine_ready.emit()

    def _engine_failed(self, text: str) -> None:
        self.device_label.setText("Device: unavailable")
        self.show_error("The restoration engine could not load", text)

    def run_in_thread(
        self,
        fn: Callable[[], object],
        done: Callable[[object], None],
        failed: Callable[[str], None] | None = None,
    ) -> CallThread:
        thread = CallThread(fn, self)
        self._calls.add(thread)
        thread.succeeded.connect(done)
        thread.failed.connect(failed or (lambda text: self.show_error("Restorer", text)))
        thread.finished.connect(lambda: self._call_finished(thread))
        thread.start()
        return thread

    def _call_finished(self, thread: CallThread) -> None:
        self._calls.discard(thread)
        thread.deleteLater()

    def wait_for_threads(self, timeout_ms: int = 30_000) -> bool:
        ok = self.controller.stop_and_wait(timeout_ms)
        for thread in list(self._calls):
            ok = thread.wait(timeout_ms) and ok
        return ok

    # ----- messages -----
    def show_error(self, title: str, text: str) -> None:
        """Non-blocking: the app goes on while the message is up."""
        self.last_error = text
        log.warning("%s: %s", title, text)
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.statusBar().showMessage(text, 10_000)

    def ask(self, title: str, text: str, buttons: list[tuple[str, QMessageBox.ButtonRole]]) -> int:
        """A modal question; returns the index of the chosen button (-1 if closed). Tests replace it."""
        box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton, self)
        made = [box.addButton(label, role) for label, role in buttons]
        box.exec()
        clicked = box.clickedButton()
        return made.index(clicked) if clicked in made else -1

    def set_document(self, doc: Document | None, layer=None) -> None:
        if self.controller.running:
            self.controller.stop_and_wait()
        self.doc = doc
        self._session = None
        self.restore_panel.reset_progress()  # the last run's progress belongs to the last photo
        self.canvas.set_document(doc, layer)
        self.restore_panel.set_box(doc.box if doc is not None else None)
        if doc is None:
            self.result_panel.set_pending(None, None)
        else:
            self.result_panel.set_pending(doc.pending, doc.photo.pixels, doc.photo.icc_profile)
        if doc is None:
            self.stack.setCurrentWidget(self.welcome)
            self.setWindowTitle("Restorer")
            self.size_label.clear()
        else:
            doc.subscribe(self._on_document)
            self.stack.setCurrentWidget(self.canvas)
            self.canvas.setFocus()
            self._saved_revision = self._exported_revision = doc.history.revision
            name = doc.path.name if doc.path else "untitled"
            self.setWindowTitle(f"{name}[*] — Restorer")
            w, h = doc.size
            channels = "grey" if doc.photo.pixels.shape[2] == 1 else "RGB"
            self.size_label.setText(f"{w} × {h} px · {channels} {doc.photo.bit_depth}-bit")
            if doc.path is not None:
                self._remember_recent(doc.path)
            self.statusBar().showMessage(f"Opened {name}", 4000)
        self._update_actions()
        self.document_opened.emit()

    def _on_document(self, kind: str, bounds: Bounds | None) -> None:
        if kind == "history":
            self._update_actions()
            self._autosave_timer.start()
        elif kind == "pending":
            doc = self.doc
            self.result_panel.set_pending(doc.pending, doc.photo.pixels, doc.photo.icc_profile)
            if doc.pending is not None:
                self.result_dock.show()
                self.result_dock.raise_()
        elif kind == "box":
            self.restore_panel.set_box(self.doc.box)

    # ----- view -----
    def fit_view(self) -> None:
        self.canvas._fit_on_resize = True
        self.canvas.fit_to_window()

    def set_mask_visible(self, on: bool) -> None:
        self.canvas.mask_visible = on
        self.canvas.update()

    def set_split_view(self, on: bool) -> None:
        self.result_panel.split.setChecked(on)  # the panel emits split_changed

    def _split_from_panel(self, fraction) -> None:
        self.canvas.set_split(fraction)
        self.commands["split"].blockSignals(True)
        self.commands["split"].setChecked(fraction is not None)
        self.commands["split"].blockSignals(False)

    def _show_zoom(self) -> None:
        self.zoom_label.setText(f"{self.canvas.view.scale * 100:.0f} %" if self.doc else "")

    def _show_pointer(self, point) -> None:
        self.pointer_label.setText("" if point is None else f"x {point[0]}, y {point[1]}")

    def _brush_size_changed(self, size: int) -> None:
        for widget in (self.brush_slider, self.brush_spin):
            widget.blockSignals(True)
            widget.setValue(size)
            widget.blockSignals(False)

    def _update_actions(self) -> None:
        a, doc = self.commands, self.doc
        has_doc = doc is not None
        running = self.controller.running
        pending = has_doc and doc.pending is not None
        for name in DOCUMENT_COMMANDS:
            a[name].setEnabled(has_doc)
        a["undo"].setEnabled(has_doc and doc.history.can_undo)
        a["redo"].setEnabled(has_doc and doc.history.can_redo)
        undo, redo = (doc.history.next_undo(), doc.history.next_redo()) if has_doc else (None, None)
        a["undo"].setText(f"&Undo {undo.label}" if undo else "&Undo")
        a["redo"].setText(f"&Redo {redo.label}" if redo else "&Redo")
        a["restore"].setEnabled(has_doc and not running)
        a["cancel"].setEnabled(running)
        a["accept"].setEnabled(pending)
        a["discard"].setEnabled(pending)
        self.restore_panel.restore_button.setEnabled(has_doc and not running)
        self.setWindowModified(self.has_unsaved_work)

    # ----- settings, recent files, drops, closing -----
    def _restore_settings(self) -> None:
        s = settings()
        geometry = s.value("geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self._first_geometry()
        state = s.value("window_state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        elif self._screen_height() < TABBED_DOCKS_BELOW:
            # A small screen cannot stack both panels without squeezing them: one tab each.
            self.tabifyDockWidget(self.result_dock, self.restore_dock)
            self.restore_dock.raise_()
        panel = s.value("restore_settings")
        if isinstance(panel, dict):
            self.restore_panel.load_dict(panel)
        self.canvas.set_brush_size(int(s.value("brush_size", 24)))
        self._brush_size_changed(self.canvas.brush_size)
        self.welcome.set_recent(self._recent())

    def _screen_height(self) -> int:
        screen = self.screen() or QGuiApplication.primaryScreen()
        return screen.availableGeometry().height() if screen is not None else DEFAULT_SIZE.height()

    def _first_geometry(self) -> None:
        """No size saved yet: the default size, or less on a screen too small for it (1366 × 768)."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            self.resize(DEFAULT_SIZE)
            return
        room = screen.availableGeometry()
        size = DEFAULT_SIZE.boundedTo(
            QSize(int(room.width() * SCREEN_SHARE), int(room.height() * SCREEN_SHARE))
        )
        self.resize(size)
        self.move(room.center() - self.rect().center())

    def _save_settings(self) -> None:
        s = settings()
        s.setValue("geometry", self.saveGeometry())
        s.setValue("window_state", self.saveState())
        s.setValue("restore_settings", self.restore_panel.to_dict())
        s.setValue("brush_size", self.canvas.brush_size)
        s.sync()

    def changeEvent(self, event) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ThemeChange):
            self.commands.refresh_icons()  # icons are drawn in the palette's text colour
            refresh_icons(self)
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.controller.running:
            Role = QMessageBox.ButtonRole
            choice = self.ask(
                "Restoration running",
                "Stop the restoration and quit?",
                [("Stop and Quit", Role.AcceptRole), ("Cancel", Role.RejectRole)],
            )
            if choice != 0:
                event.ignore()
                return
        if not self.confirm_leave_document():
            event.ignore()
            return
        self._periodic_timer.stop()
        self._autosave_timer.stop()
        self._save_settings()
        self.wait_for_threads()
        event.accept()

    # ----- help -----
    def show_shortcuts(self) -> None:
        from restorer.gui.help import shortcuts_dialog

        shortcuts_dialog(self, self.commands).open()

    def show_about(self) -> None:
        from restorer import __version__

        text = (
            f"<b>Restorer {__version__}</b><br>Restores damaged photographs: latent optimisation of a DCGAN "
            "(Yeh et al., CVPR 2017), context encoders (Pathak et al., CVPR 2016) and classical fills."
        )
        box = QMessageBox(
            QMessageBox.Icon.Information, "About Restorer", text, QMessageBox.StandardButton.Ok, self
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()


class WrappingScrollArea(QScrollArea):
    """A scroll area that gives its widget the height its word-wrapped labels need at the current
    width: QScrollArea sizes the widget from its size hint alone, which clips wrapped text."""

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_height()

    def _fit_height(self) -> None:
        widget = self.widget()
        layout = widget.layout() if widget is not None else None
        if layout is not None and layout.hasHeightForWidth():
            widget.setMinimumHeight(layout.totalHeightForWidth(self.viewport().width()))

    def eventFilter(self, watched, event) -> bool:
        # The widget's layout changed (a label got longer text): fit it again at this width.
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            QTimer.singleShot(0, self, self._fit_height)  # dropped if this area is gone
        return super().eventFilter(watched, event)
