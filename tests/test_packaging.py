"""What a non-editable install carries: every package, every model and resource file, the version.

pyproject lists the packages explicitly (models/ and resources/ are mapped to restorer.models and
restorer.resources), so a new subpackage or a new kind of data file would be silently left out of the
wheel; these tests fail first. `.ci/check-wheel` then builds the wheel and runs it from a clean venv.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

import restorer
from restorer.core.bundled import models_dir, resource, resources_dir
from restorer.gui import qt_libs

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the suite's other tests run on 3.10
ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def test_every_subpackage_of_restorer_is_listed():
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "restorer").rglob("__init__.py")}
    listed = {
        name for name in SETUPTOOLS["packages"] if not name.startswith(("restorer.models", "restorer.res"))
    }
    assert listed == on_disk


@pytest.mark.parametrize(
    ("package", "folder"), [("restorer.models", "models"), ("restorer.resources", "resources")]
)
def test_every_data_file_is_package_data(package, folder):
    assert SETUPTOOLS["package-dir"][package] == folder
    globs = SETUPTOOLS["package-data"][package]
    base = ROOT / folder
    files = [
        p.relative_to(base).as_posix()
        for p in base.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    left_out = [f for f in files if f != "__init__.py" and not any(fnmatch.fnmatch(f, g) for g in globs)]
    assert not left_out, f"not in the wheel: {left_out}"


def test_the_version_has_one_source():
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert SETUPTOOLS["dynamic"]["version"] == {"attr": "restorer.__version__"}
    assert restorer.__version__.count(".") == 2


def test_the_licence_and_the_data_notice_ship():
    assert set(PYPROJECT["project"]["license-files"]) >= {"LICENSE", "models/NOTICE.md"}
    notice = (models_dir() / "NOTICE.md").read_text()
    assert "CC BY 4.0" in notice and "FairFace" in notice and "modified" in notice


def test_bundled_files_are_found_through_the_package():
    assert (models_dir() / "face64.pt").is_file()
    assert resource("sample-photo.png").is_file() and resource("icons/restorer.png").is_file()
    assert resources_dir().samefile(ROOT / "resources")  # the editable install maps back to the checkout
    gui = PYPROJECT["project"]["gui-scripts"]["restorer-gui"]
    assert gui == "restorer.gui.launcher:main"
    assert (ROOT / "restorer" / "py.typed").is_file()


@pytest.mark.parametrize(
    ("soname", "package"),
    [
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
        ("libxcb-cursor.so.0", "libxcb-cursor0"),
        ("libdbus-1.so.3", "libdbus-1-3"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libEGL.so.1", "libegl1"),
        ("libglib-2.0.so.0", "libglib2.0-0"),
    ],
)
def test_missing_qt_libraries_are_named_by_their_debian_package(soname, package):
    assert qt_libs.debian_package(soname) == package


def test_the_xcb_check_runs_only_where_qt_would_use_xcb(monkeypatch):
    monkeypatch.setattr(qt_libs.sys, "platform", "linux")
    assert qt_libs.uses_xcb({})
    assert qt_libs.uses_xcb({"QT_QPA_PLATFORM": "xcb"})
    assert not qt_libs.uses_xcb({"QT_QPA_PLATFORM": "offscreen"})
    assert not qt_libs.uses_xcb({"WAYLAND_DISPLAY": "wayland-0"})
    monkeypatch.setattr(qt_libs.sys, "platform", "win32")
    assert not qt_libs.uses_xcb({})


def test_a_missing_library_is_reported_in_one_line(monkeypatch, tmp_path, capsys):
    import io

    monkeypatch.setattr(qt_libs, "uses_xcb", lambda: True)
    monkeypatch.setattr(qt_libs, "xcb_plugin", lambda: tmp_path / "libqxcb.so")
    monkeypatch.setattr(
        qt_libs, "missing_libraries", lambda plugin: ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    )
    out = io.StringIO()
    assert qt_libs.warn_if_missing(out) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    line = out.getvalue()
    assert line.count("\n") == 1
    assert "apt-get install libxcb-icccm4 libxcb-keysyms1" in line
