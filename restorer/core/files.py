"""Files: the formats Restorer reads and writes, and the one atomic write every saver goes through."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from restorer.core.errors import RestorerError

# For file dialogs and folder scans; reading itself goes by content, never by name.
READ_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")
WRITE_SUFFIXES = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".jpg": "JPEG", ".jpeg": "JPEG"}


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Run ``write(temp_path)`` on a temp file beside ``path``, then move it over ``path`` in one step.

    A failed or interrupted write leaves ``path`` as it was and no temp file behind. OS errors (folder
    missing, permission denied, disk full) become a RestorerError.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name[:200]}.{secrets.token_hex(4)}.tmp")  # stays under NAME_MAX
    try:
        # os.open with 0o666 gives the mode a new file normally gets (umask applies), unlike mkstemp's 0o600.
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666))
    except OSError as e:
        raise RestorerError(f"cannot write {path}: {e.strerror or e}") from e
    try:
        write(tmp)
        _fsync(tmp)
        if path.exists():
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise RestorerError(f"cannot write {path}: {e.strerror or e}") from e
        raise
    _fsync_folder(path.parent)
    return path


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; folders cannot be opened this way on Windows, hence the guard."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
