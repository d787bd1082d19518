"""Before the QApplication exists: name the system libraries Qt's xcb platform plugin cannot find.

Qt aborts when its platform plugin does not load, and its message often names the wrong package.
This check loads the plugin first (a dlopen, which Qt does next anyway) and, only when that fails,
asks ``ldd`` which libraries are missing, then prints one line with them and their Debian packages.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

# Sonames whose Debian package does not follow the usual name + version rule.
_PACKAGES = {"libglib-2.0.so.0": "libglib2.0-0", "libgthread-2.0.so.0": "libglib2.0-0"}


def debian_package(soname: str) -> str:
    """The Debian package of a library: libxcb-icccm.so.4 -> libxcb-icccm4, libdbus-1.so.3 -> libdbus-1-3."""
    if soname in _PACKAGES:
        return _PACKAGES[soname]
    match = re.fullmatch(r"(.+?)\.so\.(\d+).*", soname)
    if match is None:
        return soname
    name, version = match.group(1).lower(), match.group(2)
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def uses_xcb(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether Qt will start on X11 through xcb (Linux, no other platform asked for, no Wayland)."""
    if not sys.platform.startswith("linux"):
        return False
    platform = environ.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(";")[0].split(":")[0] == "xcb"
    return not environ.get("WAYLAND_DISPLAY")


def xcb_plugin() -> Path | None:
    from PySide6.QtCore import QLibraryInfo

    plugin = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def missing_libraries(plugin: Path) -> list[str]:
    """The sonames the plugin needs and the system lacks; empty when it loads."""
    try:
        ctypes.CDLL(str(plugin))
        return []
    except OSError as exc:
        first = re.findall(r"(lib[\w.+-]+\.so[\w.]*): cannot open shared object file", str(exc))
    ldd = shutil.which("ldd")
    if ldd is None:
        return first
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return first
    found = [line.split()[0] for line in out.splitlines() if "not found" in line]
    return list(dict.fromkeys(found)) or first


def warn_if_missing(stream: TextIO | None = None) -> list[str]:
    """Print one line naming what the xcb plugin lacks (nothing when it loads); returns the sonames."""
    if not uses_xcb():
        return []
    plugin = xcb_plugin()
    missing = missing_libraries(plugin) if plugin is not None else []
    if missing:
        packages = " ".join(dict.fromkeys(debian_package(s) for s in missing))
        print(
            f"restorer: Qt's xcb platform plugin cannot load: missing {', '.join(missing)} "
            f"(on Debian/Ubuntu: sudo apt-get install {packages}; see README, Installing)",
            file=stream or sys.stderr,
            flush=True,
        )
    return missing
