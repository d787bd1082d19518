"""Quitting is clean, every time: the app runs in its own interpreter (offscreen) as a user would use
it (open a photo, paint a small mask, restore with the classic method, cancel, restore again to the
end, quit) and must exit with status 0 and nothing on stderr about Qt or Python faults."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("PySide6")

pytestmark = [pytest.mark.gui, pytest.mark.slow]

RUNS = int(os.environ.get("RESTORER_QUIT_RUNS", "6"))
# Pointer moves per run, twice in all: enough to wear None and True down to zero without the guard.
MOVES = int(os.environ.get("RESTORER_QUIT_MOVES", "20000"))

# Drives the real app.main() from timers; the window's questions are answered as a user would.
SCRIPT = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import Qt, QTimer
    from restorer.gui import app as gui_app
    from restorer.gui import window as gui_window

    photo, cycles, moves = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if sys.argv[4] == "unguarded":  # to show what the guard prevents
        from restorer.gui import refguard
        refguard.install = lambda: False
    state = {"cycle": 0}

    def wander(canvas, count):
        # The pointer moving over the photo: what a long session of painting does most.
        from PySide6.QtCore import QPointF
        from PySide6.QtGui import QMouseEvent
        from PySide6.QtWidgets import QApplication
        for i in range(count):
            pos = QPointF(20 + i % 300, 20 + (i // 300) % 200)
            event = QMouseEvent(
                QMouseEvent.Type.MouseMove, pos, pos, Qt.MouseButton.NoButton,
                Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
            )
            QApplication.sendEvent(canvas, event)
            if i % 500 == 0:
                QApplication.processEvents()

    def answer(title, text, buttons):
        labels = [b[0] for b in buttons]
        for wanted in ("Stop and Quit", "Discard It", "Discard"):
            if wanted in labels:
                return labels.index(wanted)
        return -1

    class Driven(gui_window.MainWindow):
        def __init__(self, path):
            super().__init__(path)
            self.ask = answer
            # Queued: painting starts once the document is fully set.
            self.document_opened.connect(self._paint, type=Qt.ConnectionType.QueuedConnection)
            self.controller.running_changed.connect(self._running)
            self.controller.finished.connect(self._count)

        def _count(self, result):
            state["results"] = state.get("results", 0) + (result is not None and bool(result.patches))

        def _paint(self):
            if self.doc is None:
                return
            self.doc.fill_rect((200, 200), (212, 212))
            self.doc.fill_rect((300, 120), (304, 160))
            panel = self.restore_panel
            panel.method.setCurrentIndex(panel.method.findData("classic"))
            wander(self.canvas, moves)
            QTimer.singleShot(50, self.start_restore)

        def _running(self, running):
            if running:
                # Cancel at the first region on odd cycles, let it finish on even ones.
                if state["cycle"] % 2 == 0:
                    self.controller.thread.event.connect(lambda _ev: self.cancel_restore())
                return
            state["cycle"] += 1
            wander(self.canvas, moves // cycles)
            if state["cycle"] < cycles:
                QTimer.singleShot(20, self.start_restore)
            else:
                print(f"cycles {state['cycle']} results {state.get('results', 0)}", flush=True)
                QTimer.singleShot(20, self.close)

    gui_window.MainWindow = Driven  # app.main builds the window by this name
    sys.exit(gui_app.main(photo))
    """
)


def run_app(tmp_path, cycles: int, moves: int, guard: str = "guarded") -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "RESTORER_DATA_DIR": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PYTHONFAULTHANDLER": "1",
    }
    from restorer.gui.window_files import SAMPLE_PHOTO

    return subprocess.run(
        [sys.executable, "-c", SCRIPT, str(SAMPLE_PHOTO), str(cycles), str(moves), guard],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_open_restore_cancel_quit_exits_cleanly_every_time(tmp_path):
    for run in range(RUNS):
        done = run_app(tmp_path / f"run{run}", cycles=4, moves=MOVES)
        faults = [
            line
            for line in done.stderr.splitlines()
            if "Fatal Python error" in line or "QThread: Destroyed" in line or "Traceback" in line
        ]
        why = f"run {run}: exit {done.returncode}\n{done.stderr[-3000:]}"
        assert done.returncode == 0 and not faults, why
        assert "cycles 4 results" in done.stdout and "results 0" not in done.stdout, done.stdout
