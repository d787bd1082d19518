"""The Export dialog: file, format, what to write beside the photo (mask, record, the reversible layered
file, the treatment report and who did the work); confirms replacing the original."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from restorer.editing.document import Document
from restorer.editing.export import (
    EXPORT_FORMATS,
    FORMATS,
    ExportRequest,
    default_export_path,
    format_of,
    has_results,
    is_original,
    suffixes,
)
from restorer.editing.export_names import DistinctExportRequest


def file_filter(fmt: str) -> str:
    """A save dialog's filter for one format, e.g. ``TIFF image (*.tif *.tiff)``."""
    return f"{fmt} image ({' '.join('*' + s for s in suffixes(fmt))})"


class ExportDialog(QDialog):
    def __init__(
        self,
        doc: Document,
        folder: Path | None,
        parent: QWidget | None = None,
        save_mask: bool = False,
        save_layers: bool = False,
        save_report: bool = False,
        operator: str = "",
    ) -> None:
        """``folder``: where the file goes (None: beside the photo); ``save_mask``, ``save_layers``,
        ``save_report``, ``operator``: first states (the window remembers the last choices)."""
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.doc = doc
        photo = doc.photo
        fmt = "TIFF" if photo.format == "TIFF" else "PNG"
        self.path = QLineEdit(str(default_export_path(doc.path, folder, fmt)))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        self.format = QComboBox()
        self.format.addItems(list(EXPORT_FORMATS))
        self.format.setCurrentText(fmt)
        self.format.currentTextChanged.connect(self._format_changed)
        channels = "grey" if photo.pixels.shape[2] == 1 else "RGB"
        extras = [f"{photo.bit_depth}-bit {channels}"]
        if photo.alpha is not None:
            extras.append("alpha")
        extras.append("ICC profile kept" if photo.icc_profile else "no ICC profile")
        info = QLabel(", ".join(extras))
        self.pending = QCheckBox("Include the result not yet accepted")
        self.pending.setChecked(True)
        self.pending.setVisible(doc.pending is not None)
        self.mask = QCheckBox("Also save the restored area as a mask (…-mask.png)")
        self.mask.setChecked(save_mask)
        self.record = QCheckBox("Also save the intervention record (…-restoration.json)")
        self.record.setToolTip("Named after the exported file, its format included (…-tif-restoration.json)")
        recorded = has_results(doc)
        self.record.setEnabled(recorded)
        self.record.setChecked(recorded)
        self.layers = QCheckBox("Also save a layered file: the scan, the fills and the mask (…-layers.ora)")
        self.layers.setToolTip(
            "OpenRaster (GIMP, Krita): the untouched scan, the restorations on their own layer and the "
            "restored area, so the restoration can be taken off again"
        )
        self.layers.setChecked(save_layers)
        self.report = QCheckBox("Also save a treatment report (…-report.html)")
        self.report.setToolTip(
            "Before and after, the restored area, every intervention and the files' SHA-256, in one page"
        )
        self.report.setEnabled(recorded)
        self.report.setChecked(save_report and recorded)
        self.operator = QLineEdit(operator)
        self.operator.setPlaceholderText("who did the work (for the report)")
        self.operator.setEnabled(self.report.isChecked())
        self.report.toggled.connect(self.operator.setEnabled)

        form = QFormLayout()
        form.addRow("File", row)
        form.addRow("Format", self.format)
        form.addRow("Kept", info)
        form.addRow("Operator", self.operator)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        for w in (self.pending, self.mask, self.record, self.layers, self.report):
            layout.addWidget(w)
        layout.addWidget(buttons)
        self.request: ExportRequest | None = None
        self.resize(560, self.sizeHint().height())

    def _browse(self) -> None:
        filters = [file_filter(fmt) for fmt in EXPORT_FORMATS]
        chosen = file_filter(self.format.currentText())
        path, selected = QFileDialog.getSaveFileName(
            self, "Export as", self.path.text(), ";;".join(filters), chosen
        )
        if path:
            self.path.setText(path)
            by_filter = EXPORT_FORMATS[filters.index(selected)] if selected in filters else None
            self.format.setCurrentText(format_of(Path(path)) or by_filter or self.format.currentText())

    def _format_changed(self, fmt: str) -> None:
        path = Path(self.path.text())
        if format_of(path) is not None:
            self.path.setText(str(path.with_suffix(FORMATS[fmt])))

    def build_request(self) -> ExportRequest:
        return DistinctExportRequest(
            path=Path(self.path.text()).expanduser(),
            format=self.format.currentText(),
            include_pending=self.pending.isChecked(),
            save_mask=self.mask.isChecked(),
            save_record=self.record.isChecked() and self.record.isEnabled(),
            save_layers=self.layers.isChecked(),
            save_report=self.report.isChecked() and self.report.isEnabled(),
        )

    def _accept(self) -> None:
        request = self.build_request()
        if not request.path.name:
            return
        if is_original(self.doc, request.path):
            answer = QMessageBox.warning(
                self,
                "Replace the original?",
                f"{request.path.name} is the photo you opened. Replacing it loses the original scan.",
                QMessageBox.StandardButton.Cancel | QMessageBox.StandardButton.Yes,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
            request.replace_original = True
        elif request.path.exists():
            answer = QMessageBox.question(self, "Replace file?", f"{request.path.name} exists. Replace it?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.request = request
        self.accept()
