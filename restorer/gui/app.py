"""Starting the window: the QApplication, the main window, and a last-resort error handler.

Only Qt, numpy and the GUI's own modules load before the window shows; the engine (and torch)
load in a background thread right after, so the window appears in well under a second.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from restorer.core.bundled import resource

log = logging.getLogger(__name__)


def create_application() -> QApplication:
    app = QApplication.instance()
    if app is None:
        from restorer.gui import qt_libs

        qt_libs.warn_if_missing()  # Qt aborts without a platform plugin; name what it lacks first
        app = QApplication(sys.argv[:1])
    app.setApplicationName("Restorer")
    app.setOrganizationName("Restorer")
    app.setApplicationDisplayName("Restorer")
    app.setDesktopFileName("restorer")
    app.setWindowIcon(QIcon(str(resource("icons/restorer.png"))))  # every window's, and the taskbar's
    from restorer.gui import refguard

    refguard.install()  # before the session's calls into Qt wear down None's reference count
    return app


def _install_excepthook(window) -> None:
    """An unexpected error in a slot is reported and the application goes on."""

    def hook(kind, value, tb) -> None:
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(text)
        if isinstance(value, KeyboardInterrupt):
            QApplication.quit()
            return
        QMessageBox.critical(window, "Unexpected error", f"{kind.__name__}: {value}")

    sys.excepthook = hook


def main(photo: str | Path | None = None) -> int:
    from restorer.gui.window import MainWindow

    app = create_application()
    window = MainWindow(photo)
    _install_excepthook(window)
    window.show()
    code = app.exec()
    sys.excepthook = sys.__excepthook__  # the hook reports into the window, which goes now
    if not window.wait_for_threads(timeout_ms=60_000):
        # A worker stuck in a read: destroying its running QThread would abort the process.
        log.warning("a worker thread did not stop; leaving without waiting for it")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
