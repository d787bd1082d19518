"""The window's file side: opening photos, recent files, drops, masks in and out, export, and the
autosaved session that is offered back after a crash. Mixed into MainWindow."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMessageBox

from restorer.core.bundled import resource
from restorer.editing import session as sessions
from restorer.editing.document import Document
from restorer.gui.settings import settings

SAMPLE_PHOTO = resource("sample-photo.png")  # package data, see restorer.core.bundled
MAX_RECENT = 10
EXPORT_FOLDER_KEY = "last_export_folder"  # apart from last_folder, which opening a photo moves
EXPORT_MASK_KEY = "export_save_mask"
EXPORT_LAYERS_KEY = "export_save_layers"
EXPORT_REPORT_KEY = "export_save_report"
OPERATOR_KEY = "operator"  # named in treatment reports; the OS user name until the user gives one


def _flag(value: object) -> bool:
    """A QSettings boolean: INI files hand back the text "true"."""
    return str(value).lower() == "true"


def operator_name() -> str:
    from restorer.editing.report import default_operator

    return str(settings().value(OPERATOR_KEY, "") or "") or default_operator()


def photo_filter() -> str:
    """The open dialog's filter: the formats imageio reads (imported on use: the window starts without)."""
    from restorer.core.files import READ_SUFFIXES

    return f"Photos ({' '.join('*' + s for s in READ_SUFFIXES)});;All files (*)"


def load_photo(path: Path):
    """Read a photo, make its document and display levels (runs in a worker thread)."""
    from restorer.core.imageio import read_photo
    from restorer.gui.layers import PhotoLayer

    doc = Document(read_photo(path), path)
    return doc, PhotoLayer(doc.photo.pixels, doc.photo.icc_profile)  # shown in sRGB, built off the GUI thread


class FilesMixin:
    """Needs the MainWindow attributes: doc, canvas, restore_panel, welcome, recent_menu, statusBar..."""

    # ----- opening -----
    def open_dialog(self) -> None:
        folder = settings().value("last_folder", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open a photo", folder, photo_filter())
        if path:
            self.open_path(Path(path))

    def open_sample(self) -> None:
        if SAMPLE_PHOTO.is_file():
            self.open_path(SAMPLE_PHOTO)
        else:
            self.show_error("No sample photo", f"the sample photo is missing ({SAMPLE_PHOTO})")

    def open_path(self, path: Path) -> None:
        if not self.confirm_leave_document():
            return
        self.statusBar().showMessage(f"Opening {path.name}…")
        QGuiApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)

        def opened(value) -> None:
            QGuiApplication.restoreOverrideCursor()
            self.set_document(*value)

        def failed(text: str) -> None:
            QGuiApplication.restoreOverrideCursor()
            self.show_error("Cannot open the photo", text)

        self.run_in_thread(lambda: load_photo(path), opened, failed)

    # ----- unsaved work -----
    @property
    def has_unsaved_work(self) -> bool:
        doc = self.doc
        return (
            doc is not None and bool(doc.history.entries) and doc.history.revision != self._exported_revision
        )

    def confirm_leave_document(self) -> bool:
        """Before replacing or closing the document: export, keep for later, discard, or stay."""
        if self.doc is None:
            return True
        if self.doc.stroking:
            self.canvas.cancel_drag()
        if not self.has_unsaved_work:
            self._drop_session()
            return True
        Role = QMessageBox.ButtonRole
        name = self.doc.path.name if self.doc.path else "this photo"
        choice = self.ask(
            "Unsaved work",
            f"Your changes to {name} are not exported.",
            [
                ("Export…", Role.AcceptRole),
                ("Keep for Later", Role.ActionRole),
                ("Discard", Role.DestructiveRole),
                ("Cancel", Role.RejectRole),
            ],
        )
        if choice == 0:
            if not self.export_dialog(wait=True):
                return False
            self._drop_session()  # exported: nothing left to recover
            return True
        if choice == 1:
            self.autosave(force=True)
            if self._session is not None:
                self._session.mark_kept()
            return True
        if choice == 2:
            self._drop_session()
            return True
        return False

    def _drop_session(self) -> None:
        if self._session is not None:
            self._session.delete()
            self._session = None

    def autosave(self, force: bool = False) -> None:
        doc = self.doc
        if doc is None or doc.path is None or not doc.history.entries:
            return
        if doc.stroking:  # never save half a stroke: try again shortly
            self._autosave_timer.start()
            return
        if not force and self._session is not None and doc.history.revision == self._saved_revision:
            return
        if self._session is None:
            self._session = sessions.SessionStore.create()
        from restorer.core.errors import RestorerError

        try:
            self._session.save(doc, {"settings": self.restore_panel.to_dict()})
        except (OSError, RestorerError, TypeError, ValueError) as exc:
            self.statusBar().showMessage(f"Autosave failed: {exc}", 10_000)
            return
        self._saved_revision = doc.history.revision

    def offer_recovery(self) -> bool:
        """Offer the newest session left by a crash (or kept); True if one is being recovered.
        Sessions that cannot be recovered are named first, each with why, and offered for removal."""
        found = sessions.recoverable_sessions()
        for broken in [info for info in found if info.problem is not None]:
            self.offer_discard(broken, broken.problem)
        found = [info for info in found if info.problem is None]
        if not found:
            return False
        info = found[0]
        Role = QMessageBox.ButtonRole
        text = (
            f"Restorer found unsaved work on {info.photo.name} ({info.changes} change"
            f"{'s' * (info.changes != 1)}, saved {info.updated}). Recover it?"
        )
        choice = self.ask(
            "Recover unsaved work",
            text,
            [("Recover", Role.AcceptRole), ("Discard", Role.DestructiveRole), ("Not Now", Role.RejectRole)],
        )
        if choice == 1:
            sessions.SessionStore(info.folder).delete()
        if choice != 0:
            return False
        self.recover(info)
        return True

    def offer_discard(self, info: sessions.SessionInfo, reason: str) -> None:
        """Say why a session cannot be recovered and offer to remove it (else it is named next time)."""
        Role = QMessageBox.ButtonRole
        text = f"An autosaved session cannot be recovered: {reason}.\n\n({info.folder})\n\nDiscard it?"
        choice = self.ask(
            "Damaged autosave", text, [("Discard", Role.DestructiveRole), ("Not Now", Role.RejectRole)]
        )
        info.release()
        if choice == 0:
            sessions.SessionStore(info.folder).delete()

    def recover(self, info: sessions.SessionInfo) -> None:
        def load():
            from restorer.gui.layers import PhotoLayer

            doc, entries, changed = sessions.load_session(info)
            return doc, entries, changed, PhotoLayer(doc.photo.pixels, doc.photo.icc_profile)

        def done(value) -> None:
            doc, entries, changed, layer = value
            self.set_document(doc, layer)
            self._session = sessions.SessionStore.adopt(info, entries)
            self._exported_revision = -1  # recovered work has not been exported
            self.restore_panel.load_dict(info.settings)
            self._update_actions()
            note = " (the photo file has changed since)" if changed else ""
            self.statusBar().showMessage(f"Recovered {info.changes} change(s){note}", 8000)

        from restorer.core.errors import RestorerError

        try:
            info.claim()  # before loading: no second window may recover it meanwhile
        except RestorerError as exc:
            self.show_error("Cannot recover", str(exc))
            return
        self.statusBar().showMessage(f"Recovering {info.photo.name}…")
        self.run_in_thread(load, done, lambda text: self.offer_discard(info, text))

    def import_mask(self, path: Path | None = None) -> None:
        if self.doc is None:
            return
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(self, "Import a mask", self._folder(), photo_filter())
            if not chosen:
                return
            path = Path(chosen)
        from restorer.core.errors import RestorerError
        from restorer.core.imageio import read_mask

        try:
            mask = read_mask(path, self.doc.size)
            changed = self.doc.replace_mask("Import mask", mask)
        except RestorerError as exc:
            self.show_error("Cannot import the mask", str(exc))
            return
        self.statusBar().showMessage(f"Mask imported from {path.name}" if changed else "Same mask", 4000)

    def export_mask(self, path: Path | None = None) -> None:
        if self.doc is None:
            return
        if path is None:
            stem = self.doc.path.stem if self.doc.path else "photo"
            start = str(Path(self._folder()) / f"{stem}-mask.png")
            chosen, _ = QFileDialog.getSaveFileName(self, "Export the mask", start, "PNG image (*.png)")
            if not chosen:
                return
            path = Path(chosen)
        from restorer.core.errors import RestorerError
        from restorer.core.imageio import write_mask

        try:
            write_mask(self.doc.mask, path)
        except RestorerError as exc:
            self.show_error("Cannot export the mask", str(exc))
            return
        self.statusBar().showMessage(f"Mask saved to {path}", 4000)

    # ----- export -----
    def _folder(self) -> str:
        return str(settings().value("last_folder", str(Path.home())))

    def export_dialog(self, wait: bool = False) -> bool:
        from restorer.gui.export_dialog import ExportDialog

        if self.doc is None:
            return False
        s = settings()
        folder = s.value(EXPORT_FOLDER_KEY)
        dialog = ExportDialog(
            self.doc,
            Path(folder) if folder else None,
            self,
            save_mask=_flag(s.value(EXPORT_MASK_KEY, "false")),
            save_layers=_flag(s.value(EXPORT_LAYERS_KEY, "false")),
            save_report=_flag(s.value(EXPORT_REPORT_KEY, "false")),
            operator=operator_name(),
        )
        if dialog.exec() != ExportDialog.DialogCode.Accepted or dialog.request is None:
            return False
        request = dialog.request
        s.setValue(EXPORT_MASK_KEY, request.save_mask)
        s.setValue(EXPORT_LAYERS_KEY, request.save_layers)
        if dialog.report.isEnabled():  # a photo without results says nothing of the user's choice
            s.setValue(EXPORT_REPORT_KEY, request.save_report)
        operator = dialog.operator.text().strip()
        if operator:
            s.setValue(OPERATOR_KEY, operator)
        return self.export(request, wait=wait)

    def export(self, request, wait: bool = False) -> bool:
        """Write the export in a worker thread (or right here when ``wait``, e.g. while closing)."""
        from restorer.editing import conservation
        from restorer.editing import export as exporting
        from restorer.editing.retry import describe_error

        doc = self.doc
        source = doc.path
        try:
            photo, mask, record = exporting.snapshot(doc, request)
            extra = conservation.snapshot(doc, request, photo, operator_name())
        except Exception as exc:  # report, don't crash
            self.show_error("Cannot export", describe_error(exc))
            return False
        revision = doc.history.revision
        settings().setValue(EXPORT_FOLDER_KEY, str(request.path.parent))

        def done(paths) -> None:
            if self.doc is doc:
                self._exported_revision = revision
                self._update_actions()
            self.statusBar().showMessage(f"Exported {', '.join(p.name for p in paths)}", 8000)

        def work():
            written = exporting.write_export(request, photo, mask, record)
            if extra is not None:  # last: the report hashes the files written before it
                written += conservation.write_files(request, extra, written, source)
            return written

        if not wait:
            self.run_in_thread(work, done, lambda t: self.show_error("Cannot export", t))
            return True
        try:
            done(work())
        except Exception as exc:
            self.show_error("Cannot export", describe_error(exc))
            return False
        return True

    def _recent(self) -> list[str]:
        value = settings().value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _remember_recent(self, path: Path) -> None:
        path_text = str(path.resolve())
        recent = [path_text] + [p for p in self._recent() if p != path_text]
        s = settings()
        s.setValue("recent", recent[:MAX_RECENT])
        s.setValue("last_folder", str(path.resolve().parent))
        self.welcome.set_recent(recent[:MAX_RECENT])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self._recent():
            action = self.recent_menu.addAction(Path(path).name)
            action.setStatusTip(path)
            action.triggered.connect(lambda _=False, p=path: self.open_path(Path(p)))
        self.recent_menu.setEnabled(bool(self._recent()))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.open_path(files[0])
