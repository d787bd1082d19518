"""The window's editing side: undo/redo, mask commands and detection, the context box, and the
restore flow (start, cancel, results, candidates, accept, discard). Mixed into MainWindow."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QInputDialog, QMessageBox

from restorer.core.types import Bounds, RestoreResult
from restorer.gui.canvas import Tool
from restorer.gui.detect_dialog import DetectDialog

if TYPE_CHECKING:
    import numpy as np

    from restorer.editing.document import Document


class CommandsMixin:
    """Needs the MainWindow attributes: doc, canvas, controller, restore_panel, result_panel, commands..."""

    # ----- mask and history commands -----
    def set_tool(self, tool: Tool) -> None:
        self.canvas.set_tool(tool)
        self.commands.tools[tool].setChecked(True)

    def undo(self) -> None:
        self._step(back=True)

    def redo(self) -> None:
        self._step(back=False)

    def _step(self, back: bool) -> None:
        doc = self.doc
        if doc is None or doc.stroking:
            return
        entry = doc.history.next_undo() if back else doc.history.next_redo()
        verb = "undo" if back else "redo"
        if entry is not None and entry.changes_pixels and self.controller.running:
            self.statusBar().showMessage(f"Wait for the restoration to finish before {verb}ing this", 5000)
            return
        if doc.undo() if back else doc.redo():
            self.statusBar().showMessage(f"{'Undid' if back else 'Redid'} {entry.label.lower()}", 3000)

    def _mask_command(self, action: Callable[[], bool], done: str) -> None:
        if self.doc is None or self.doc.stroking:
            return
        QGuiApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        try:
            changed = action()
        finally:
            QGuiApplication.restoreOverrideCursor()
        self.statusBar().showMessage(done if changed else "The mask did not change", 3000)

    def clear_mask(self) -> None:
        self._mask_command(lambda: self.doc.clear_mask(), "Mask cleared")

    def invert_mask(self) -> None:
        self._mask_command(lambda: self.doc.invert_mask(), "Mask inverted")

    def _ask_radius(self, title: str) -> int | None:
        radius, ok = QInputDialog.getInt(self, title, "Radius in photo pixels:", self._grow_radius, 1, 500)
        if ok:
            self._grow_radius = radius
        return radius if ok else None

    def grow_mask(self) -> None:
        if self.doc is not None and (radius := self._ask_radius("Grow mask")):
            self.grow_mask_by(radius)

    def shrink_mask(self) -> None:
        if self.doc is not None and (radius := self._ask_radius("Shrink mask")):
            self.shrink_mask_by(radius)

    def grow_mask_by(self, radius: int) -> None:
        self._mask_command(lambda: self.doc.grow_mask(radius), f"Mask grown by {radius} px")

    def shrink_mask_by(self, radius: int) -> None:
        self._mask_command(lambda: self.doc.shrink_mask(radius), f"Mask shrunk by {radius} px")

    def detect_damage(self) -> None:
        """The Detect Damage dialog; what it proposes is added to the mask as one undo step."""
        doc = self.doc
        if doc is None or doc.stroking:
            return
        dialog = DetectDialog(doc, self.run_in_thread, self._sensitivity, self)
        try:
            accepted = dialog.exec() == QDialog.DialogCode.Accepted
            found = dialog.proposal()
            sensitivity = dialog.sensitivity()
        finally:
            dialog.deleteLater()
        if accepted and found is not None:
            self._sensitivity = sensitivity
            self._add_detected(doc, found)

    def detect_damage_with(self, sensitivity: float) -> None:
        """Run the classic detector in a worker thread and add what it finds to the mask (one undo step)."""
        doc = self.doc
        if doc is None:
            return

        def detect():
            from restorer.core.detect import detect_damage

            return detect_damage(doc.photo.pixels, sensitivity)

        self.statusBar().showMessage("Detecting damage…")
        self.run_in_thread(
            detect,
            lambda found: self._add_detected(doc, found),
            lambda text: self.show_error("Detection failed", text),
        )

    def _add_detected(self, doc: Document, found: np.ndarray) -> None:
        if self.doc is doc:  # the photo may have been closed meanwhile
            added = int((found & ~doc.mask).sum())
            doc.replace_mask("Detect damage", doc.mask | found)
            self.statusBar().showMessage(f"Detection added {added:,} pixels to the mask", 6000)

    # ----- context box (part of the document: drawing and clearing it are undo steps) -----
    def _box_drawn(self, bounds: Bounds) -> None:
        if self.doc is not None and self.doc.set_box(bounds):
            self.statusBar().showMessage("Context box drawn (Ctrl+Z to undo)", 3000)

    def clear_context_box(self) -> None:
        if self.doc is not None and self.doc.set_box(None):
            self.statusBar().showMessage("Context box cleared (Ctrl+Z to undo)", 3000)

    # ----- restoring -----
    def start_restore(self) -> None:
        doc = self.doc
        if doc is None or self.controller.running or doc.stroking:
            return
        if not doc.mask.any():
            self.show_error("Nothing to restore", "paint over the damage first (brush: B, lasso: L)")
            return
        if doc.pending is not None:
            Role = QMessageBox.ButtonRole
            choice = self.ask(
                "A result is waiting",
                "Keep the current result before restoring again?",
                [
                    ("Accept It", Role.AcceptRole),
                    ("Discard It", Role.DestructiveRole),
                    ("Cancel", Role.RejectRole),
                ],
            )
            if choice == 0:
                doc.accept()
            elif choice == 1:
                doc.discard()
            else:
                return
        self.restore_dock.show()
        self.restore_dock.raise_()
        self._restoring_doc = doc
        self.controller.start(doc.photo, doc.mask, self.restore_panel.options(box=doc.box))

    def cancel_restore(self) -> None:
        self.controller.cancel()

    def _restore_finished(self, result: RestoreResult | None) -> None:
        doc = self.doc
        if result is None or doc is None or doc is not self._restoring_doc:
            # stopped, or the user opened another photo meanwhile: this result belongs to no open photo
            self.statusBar().showMessage("Restoration stopped", 4000)
            return
        if not result.patches:
            from restorer.editing.wording import plain_warning
            from restorer.gui.restore_panel import method_labels

            labels = method_labels()
            why = "\n".join(plain_warning(w, labels) for w in result.warnings) or "the mask was empty"
            self.show_error("Nothing was filled", why)
            return
        from restorer.core.errors import RestorerError

        try:
            pending = doc.pending_from_result(result)
        except RestorerError as exc:
            self.show_error("Cannot show the result", str(exc))
            return
        doc.show_result(pending)
        n = len(pending.regions)
        verb = "Cancelled: kept" if self.controller.was_cancelled else "Restored"
        self.statusBar().showMessage(
            f"{verb} {n} region{'s' * (n != 1)} in {self.controller.elapsed():.1f} s"
            + (f"; {len(pending.warnings)} warning(s)" if pending.warnings else ""),
            8000,
        )

    def choose_candidate(self, region: int, candidate: int) -> None:
        """Blend another candidate into one region: one window's work, in a worker thread."""
        doc = self.doc
        if doc is None or doc.pending is None:
            return
        if self.controller.running:
            self.statusBar().showMessage("Wait for the restoration to finish", 4000)
            self.result_panel.refresh_choice()
            return
        choice = doc.begin_choice(region, candidate)
        if choice is None:
            return
        QGuiApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        self._choosing += 1

        def settle() -> None:
            QGuiApplication.restoreOverrideCursor()
            self._choosing -= 1

        def done(patch) -> None:
            settle()
            if self.doc is not doc or not doc.finish_choice(choice, patch):
                self.result_panel.refresh_choice()  # the result changed meanwhile: nothing to record

        def failed(text: str) -> None:
            settle()
            self.show_error("Cannot use this candidate", text)
            self.result_panel.refresh_choice()

        self.run_in_thread(choice.compose, done, failed)

    @property
    def choosing(self) -> bool:
        """A candidate is being blended in."""
        return self._choosing > 0

    def accept_result(self) -> None:
        if self.doc is not None and self.doc.accept():
            self.statusBar().showMessage("Result accepted (Ctrl+Z to undo)", 4000)

    def discard_result(self) -> None:
        if self.doc is not None and self.doc.discard():
            self.statusBar().showMessage("Result discarded (Ctrl+Z to bring it back)", 4000)
