"""Files: the formats Restorer reads and writes, and the one atomic, checked write every saver goes through.

Every saver writes a temp file beside the target and renames it into place only after
:func:`_verify` has passed: the data flushed to the disk (``fsync``), the size on disk equal to
the bytes the writer handed over, and the saver's own read-back check (an image's header, a
zip's directory). A full disk can make ``write()`` store fewer bytes than asked without an
error, and some encoders (Pillow's C path) never look at the count, so nothing but this check
stands between a full disk and a truncated photo renamed over the user's file.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import secrets
import shutil
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from restorer.core.errors import WriteError

# For file dialogs and folder scans; reading itself goes by content, never by name.
READ_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")
WRITE_SUFFIXES = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".jpg": "JPEG", ".jpeg": "JPEG"}

#: A read-back check on the finished temp file: raises (any exception) when the file is not what
#: was meant to be written, e.g. an image whose header does not decode to the expected size.
Check = Callable[[Path], None]


class CheckedFile(io.RawIOBase):
    """A binary, seekable, write-only file on a descriptor whose every ``write`` is complete or raises.

    ``os.write`` may store fewer bytes than asked (a full disk, a signal); this loops until all are
    stored, and a write that stores nothing raises ENOSPC. It tracks ``extent``, the end of what was
    written, which the size on disk must match. It has no ``fileno`` on purpose: libraries that would
    write to the descriptor themselves (Pillow, numpy) then write through this object instead.
    """

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self.extent = 0
        self.failure: OSError | None = None  # the first OS error, whatever a library made of it

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        raise io.UnsupportedOperation("writes go through CheckedFile.write")

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(data).cast("B")
        try:
            start = os.lseek(self._fd, 0, os.SEEK_CUR)
            done = 0
            while done < len(view):
                n = os.write(self._fd, view[done:])
                if n <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                done += n
        except OSError as e:
            self.failure = self.failure or e
            raise
        self.extent = max(self.extent, start + done)
        return done

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return os.lseek(self._fd, offset, whence)

    def tell(self) -> int:
        return os.lseek(self._fd, 0, os.SEEK_CUR)

    def truncate(self, size: int | None = None) -> int:
        size = self.tell() if size is None else size
        os.ftruncate(self._fd, size)
        self.extent = size
        return size


def atomic_write(path: str | Path, write: Callable[[Path], None], check: Check | None = None) -> Path:
    """Run ``write(temp_path)`` on a temp file beside ``path``, verify it, then move it over ``path``.

    For writers that need a file name (a library that opens the file itself). The size written cannot
    be known here, so the file is checked by syncing it and by ``check``; writers that can, should use
    :func:`atomic_write_stream` or :func:`atomic_write_bytes`, which also compare the size on disk
    with what was written. A failed, short or interrupted write leaves ``path`` as it was and no temp
    file behind, and raises WriteError.
    """
    return _replace_with(Path(path), lambda tmp, fd: (write(tmp), None)[1], check)


def atomic_write_stream(
    path: str | Path, write: Callable[[BinaryIO], None], check: Check | None = None
) -> Path:
    """Like :func:`atomic_write`, but ``write`` gets a :class:`CheckedFile` to write to, and the size
    on disk must equal what it wrote."""

    def run(tmp: Path, fd: int) -> int:
        stream = CheckedFile(fd)
        try:
            write(stream)  # type: ignore[arg-type]
        except Exception as e:
            if stream.failure is not None:  # torch, tifffile... wrap OS errors in their own types
                raise stream.failure from e
            raise
        return stream.extent

    return _replace_with(Path(path), run, check)


def atomic_write_bytes(path: str | Path, data: bytes, check: Check | None = None) -> Path:
    """Write ``data`` to ``path`` atomically, checked like :func:`atomic_write_stream`."""
    return atomic_write_stream(path, lambda f: f.write(data), check)


def check_zip(tmp: Path) -> None:
    """Read-back check for zip containers (torch weights and checkpoints, numpy .npz): the central
    directory, which sits at the very end, must be there and list at least one member."""
    with zipfile.ZipFile(tmp) as archive:
        if not archive.infolist():
            raise ValueError("the archive is empty")


def check_json(tmp: Path) -> None:
    """Read-back check for JSON files: the text must parse."""
    json.loads(tmp.read_bytes().decode("utf-8"))


#: A temp file of ours untouched this long belongs to a run that died (SIGKILL, power cut): a live
#: writer keeps writing to it, and no encode or read-back pauses anywhere near this long.
STALE_TEMP_SECONDS = 3600
#: A temp file whose writer is gone is stale once this old: the grace covers a writer on another
#: machine sharing the folder, whose process id means nothing here.
DEAD_WRITER_GRACE_SECONDS = 60
# ".NAME.PID-HEX.tmp"; the PID part is missing in files written before it was added.
_TEMP = re.compile(r"\..+\.(?:(\d+)-)?[0-9a-f]{8}\.tmp", re.DOTALL)


def temp_name(name: str) -> str:
    """The temp file beside ``name``: hidden, naming its writer's process, under NAME_MAX."""
    return f".{name[:200]}.{os.getpid()}-{secrets.token_hex(4)}.tmp"


def _pid_gone(pid: int) -> bool:
    if os.name != "posix" or pid == os.getpid():
        return False  # no cheap, safe check elsewhere: the age rule alone decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive under another user, or not ours to ask about
    return False


def sweep_stale_temps(folder: Path, now: float | None = None) -> list[Path]:
    """Remove the temp files an interrupted run of ours left in ``folder``; return what was removed.

    Only names of the shape :func:`temp_name` makes, and only when stale: untouched for
    ``STALE_TEMP_SECONDS``, or for ``DEAD_WRITER_GRACE_SECONDS`` with its writer no longer running.
    """
    now = time.time() if now is None else now
    removed = []
    try:
        candidates = [p for p in Path(folder).iterdir() if _TEMP.fullmatch(p.name)]
    except OSError:
        return removed
    for path in candidates:
        try:
            age = now - path.lstat().st_mtime
            pid = _TEMP.fullmatch(path.name).group(1)
            dead = pid is not None and age > DEAD_WRITER_GRACE_SECONDS and _pid_gone(int(pid))
            if path.is_file() and not path.is_symlink() and (age > STALE_TEMP_SECONDS or dead):
                path.unlink()
                removed.append(path)
        except OSError:
            continue  # gone meanwhile, or not ours to remove
    return removed


def _replace_with(path: Path, write: Callable[[Path, int], int | None], check: Check | None) -> Path:
    """The shared core: create the temp file, ``write(tmp, fd)`` (-> bytes written, or None when not
    known), verify, rename. Any failure removes the temp file."""
    tmp = path.with_name(temp_name(path.name))
    try:
        # os.open with 0o666 gives the mode a new file normally gets (umask applies), unlike mkstemp's 0o600.
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as e:
        raise _write_error(path, e) from e
    try:
        try:
            written = write(tmp, fd)
            _verify(path, tmp, fd, written, check)
        finally:
            os.close(fd)
        if path.exists():
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise _write_error(path, e) from e
        raise
    _fsync_folder(path.parent)
    return path


def _verify(path: Path, tmp: Path, fd: int, written: int | None, check: Check | None) -> None:
    """Raise WriteError unless the temp file is on the disk, whole, and passes ``check``.

    ``fsync`` comes first: on some file systems (NFS, delayed allocation) a full disk shows only there.
    The size is read from the path, not the descriptor: writers that open the file by name have
    written through their own descriptors.
    """
    os.fsync(fd)
    size = os.stat(tmp).st_size
    if written is not None and size != written:
        raise WriteError(
            f"cannot write {path}: only {size} of {written} bytes reached the disk (is it full?); "
            "nothing was changed"
        )
    if written is None and size == 0:
        raise WriteError(f"cannot write {path}: the writer produced an empty file; nothing was changed")
    if check is None:
        return
    try:
        check(tmp)
    except Exception as e:
        raise WriteError(
            f"cannot write {path}: the written file does not read back ({_reason(e)}); nothing was changed"
        ) from e


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _write_error(path: Path, e: OSError) -> WriteError:
    return WriteError(f"cannot write {path}: {e.strerror or e}; nothing was changed")


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
