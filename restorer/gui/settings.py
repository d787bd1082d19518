"""Persistent GUI settings and theme-aware icons.

Settings live in an INI file under the user config folder (found through platformdirs each time,
so XDG_CONFIG_HOME set by a test isolates them; RESTORER_CONFIG_DIR overrides the folder). Qt's
own default location is fixed once per process, which would leak settings between tests.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QIcon, QPalette
from PySide6.QtWidgets import QAbstractButton, QApplication, QWidget

ICON_PROPERTY = "restorerIcon"


def config_dir() -> Path:
    from platformdirs import user_config_dir

    return Path(os.environ.get("RESTORER_CONFIG_DIR") or user_config_dir("restorer"))


def settings() -> QSettings:
    return QSettings(str(config_dir() / "gui.ini"), QSettings.Format.IniFormat)


def icon(name: str) -> QIcon:
    """A Material Design icon (qtawesome) drawn in the palette's text colour, so it suits light and dark."""
    import qtawesome

    palette = QApplication.palette()
    return qtawesome.icon(
        f"mdi6.{name}",
        color=palette.color(QPalette.ColorRole.WindowText),
        color_disabled=palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText),
    )


def set_icon(button: QAbstractButton, name: str) -> QAbstractButton:
    """Give a button a themed icon, remembered so that :func:`refresh_icons` can redraw it."""
    button.setIcon(icon(name))
    button.setProperty(ICON_PROPERTY, name)
    return button


def refresh_icons(root: QWidget) -> None:
    """Redraw the themed icons of every button under ``root`` (after a light/dark palette change)."""
    for button in root.findChildren(QAbstractButton):
        name = button.property(ICON_PROPERTY)
        if name:
            button.setIcon(icon(name))
