"""The keyboard shortcuts dialog: every action's shortcut plus the mouse and held-key gestures."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

GESTURES = [
    ("Zoom about the pointer", "Mouse wheel"),
    ("Pan", "Hold Space and drag, or drag with the middle button"),
    ("Erase with the brush, rectangle or lasso", "Right button"),
    ("Straight brush line from the last stroke", "Shift+click"),
    ("See the photo before the result", "Hold \\"),
    ("Drop a rectangle or lasso in progress", "Esc"),
]


def action_name(action) -> str:
    """The action's fixed name: its text may name what it would act on now ("Undo Erase")."""
    from restorer.gui.actions import NAME_PROPERTY

    return action.property(NAME_PROPERTY) or action.text().replace("&", "")


def shortcuts_dialog(parent: QWidget, actions) -> QDialog:
    rows = [
        (action_name(a), ", ".join(k.toString(k.SequenceFormat.NativeText) for k in a.shortcuts()))
        for a in actions.items.values()
        if a.shortcuts()
    ] + GESTURES
    dialog = QDialog(parent)
    dialog.setWindowTitle("Keyboard Shortcuts")
    table = QTableWidget(len(rows), 2)
    table.setHorizontalHeaderLabels(["Action", "Keys"])
    table.verticalHeader().hide()
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    for row, (what, keys) in enumerate(rows):
        table.setItem(row, 0, QTableWidgetItem(what))
        table.setItem(row, 1, QTableWidgetItem(keys))
    table.resizeColumnsToContents()
    table.horizontalHeader().setStretchLastSection(True)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(table)
    layout.addWidget(buttons)
    dialog.resize(520, 560)
    return dialog
