"""What the window shows before a photo is open: open, try the sample, recent photos, drop hint."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from restorer.gui.settings import set_icon


class WelcomePage(QWidget):
    open_clicked = Signal()
    sample_clicked = Signal()
    recent_clicked = Signal(str)

    def __init__(self, sample_available: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("Restorer")
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 2.2)
        font.setBold(True)
        title.setFont(font)
        subtitle = QLabel("Paint over the damage in a photograph and let Restorer fill it.")
        self.open_button = set_icon(QPushButton("Open a Photo…"), "folder-open-outline")
        self.open_button.clicked.connect(self.open_clicked)
        self.sample_button = set_icon(QPushButton("Try the Sample Photo"), "image-outline")
        self.sample_button.clicked.connect(self.sample_clicked)
        self.sample_button.setVisible(sample_available)
        hint = QLabel("or drop a PNG, TIFF, JPEG or WebP file here")
        hint.setEnabled(False)
        self.recent_label = QLabel("Recent photos")
        self.recent = QListWidget()
        self.recent.setMaximumHeight(160)
        self.recent.itemActivated.connect(
            lambda item: self.recent_clicked.emit(item.data(Qt.ItemDataRole.UserRole))
        )

        layout = QVBoxLayout(self)
        layout.addStretch(2)
        for widget in (
            title,
            subtitle,
            self.open_button,
            self.sample_button,
            hint,
            self.recent_label,
            self.recent,
        ):
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(3)
        for button in (self.open_button, self.sample_button):
            button.setMinimumWidth(260)
        self.recent.setMinimumWidth(420)
        self.set_recent([])

    def set_recent(self, paths: list[str]) -> None:
        self.recent.clear()
        for path in paths:
            item = QListWidgetItem(f"{Path(path).name}    {Path(path).parent}")
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.recent.addItem(item)
        self.recent.setVisible(bool(paths))
        self.recent_label.setVisible(bool(paths))
