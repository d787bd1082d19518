"""Start-up: the window shows before torch loads, and torch then loads off the GUI thread."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("PySide6")

from restorer.cli import main

pytestmark = pytest.mark.gui

# Runs in a fresh interpreter: an import hook notes which thread first imports torch, and when.
SCRIPT = textwrap.dedent(
    """
    import json, sys, threading, time
    state = {"shown": False}

    class TorchSpy:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" and "torch_main_thread" not in state:
                state["torch_main_thread"] = threading.current_thread() is threading.main_thread()
                state["torch_after_show"] = state["shown"]
            return None

    sys.meta_path.insert(0, TorchSpy())
    from restorer.gui.app import create_application
    from restorer.gui.window import MainWindow

    app = create_application()
    window = MainWindow()
    window.show()
    state["shown"] = True
    state["torch_loaded_at_show"] = "torch" in sys.modules
    deadline = time.monotonic() + 60
    while "torch_main_thread" not in state and time.monotonic() < deadline:
        app.processEvents()  # the engine starts loading in the background once the window is up
        time.sleep(0.01)
    print(json.dumps(state), flush=True)
    import os
    os._exit(0)  # no need to wait for torch to finish loading
    """
)


def test_torch_is_not_imported_before_the_window_shows(tmp_path):
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "RESTORER_DATA_DIR": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["torch_loaded_at_show"] is False
    assert state["torch_after_show"] is True  # the engine loads once the window is up...
    assert state["torch_main_thread"] is False  # ...in a background thread, so the window stays responsive


def test_a_missing_photo_is_a_command_line_error(tmp_path, capsys):
    assert main(["gui", str(tmp_path / "nope.png")]) == 1
    assert f"no such photo: {tmp_path / 'nope.png'}" in capsys.readouterr().err
    assert main([str(tmp_path / "nope.png")]) == 1  # `restorer PHOTO` goes to the window too
