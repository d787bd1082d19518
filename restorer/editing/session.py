"""Autosaved sessions: the photo's path plus the undo history, so that a crash loses nothing (no Qt).

A session is a folder ``<data dir>/sessions/<id>/`` holding ``manifest.json`` (photo path and
fingerprint, history position, restore settings), one ``entries/NNNNNN.npz`` per undoable history
entry and, once the history has trimmed old entries, one ``entries/NNNNNN-baked.npz`` with the
state they left (:class:`restorer.editing.history.Baked`), and ``lock``, held by the window writing
the session (:func:`_lock`): a session nobody holds was left by a crash or kept on purpose, and
:func:`recoverable_sessions` checks every manifest field before offering it. Entries never change
once written, so an autosave writes only the new ones, then the manifest (atomically), then removes
what it no longer lists. Loading re-reads the photo, restores the baked state and replays the entries up to
the saved position. Results are stored field by field (``RestoreOptions.record()``), so loading
needs no engine.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import time
import uuid
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from restorer.core.errors import RestorerError
from restorer.core.maskops import Patch
from restorer.core.types import Bounds, RestoreOptions, RestoreResult, WindowPatch
from restorer.editing.document import Document
from restorer.editing.history import (
    AcceptResult,
    Baked,
    ChooseCandidate,
    DiscardResult,
    Entry,
    MaskEdit,
    PendingResult,
    PixelWrite,
    ResultArrived,
    SetBox,
)

if TYPE_CHECKING:
    from filelock import FileLock

FORMAT = "restorer-session/2"
MANIFEST = "manifest.json"
LOCK = "lock"  # held by the window writing the session, see _lock


def data_dir() -> Path:
    """The user data folder (RESTORER_DATA_DIR overrides it, e.g. for tests)."""
    from platformdirs import user_data_dir

    return Path(os.environ.get("RESTORER_DATA_DIR") or user_data_dir("restorer"))


def sessions_root() -> Path:
    return data_dir() / "sessions"


def _write_bytes(path: Path, data: bytes) -> None:
    """Write one session file atomically, read back (JSON manifest, zip entries) before it replaces any."""
    from restorer.core.files import atomic_write_bytes, check_json, check_zip

    atomic_write_bytes(path, data, check_json if path.suffix == ".json" else check_zip)


def _lock(folder: Path) -> FileLock:
    """The session's lock file. The window holding it is alive: the OS drops the lock when the process
    dies however it dies, on every platform, so no process id has to be probed. ``thread_local=False``:
    a lock taken on one thread may be released on another."""
    from filelock import FileLock

    return FileLock(folder / LOCK, timeout=0, thread_local=False)


def _held_elsewhere(folder: Path) -> bool:
    """Whether a running window (another process, or a store of this one) holds the session's lock."""
    from filelock import Timeout

    if not (folder / LOCK).exists():
        return False  # never locked, or written by a version without locks: nobody can hold it
    probe = _lock(folder)
    try:
        probe.acquire()
    except Timeout:
        return True
    except OSError:
        return False  # a read-only folder: no window can be writing it
    probe.release()
    return False


def _box_list(box: Bounds | None) -> list[int] | None:
    return None if box is None else list(box.xywh())


def _box_of(values: list[int] | None) -> Bounds | None:
    return None if values is None else Bounds.from_xywh(values)


# ----- encoding as flat dicts of arrays plus JSON metadata -----


class _Writer:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def add(self, array: np.ndarray) -> str:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.asarray(array)
        return key

    def patch(self, p: Patch) -> dict:
        return {
            "bounds": list(p.bounds),
            "shape": list(p.shape),
            "dtype": np.dtype(p.dtype).str,
            "before": self.add(p.before_data),
            "after": self.add(p.after_data),
        }

    def window(self, p: WindowPatch) -> dict:
        return {
            "index": p.index,
            "box": list(p.box.xywh()),
            "hole": self.add(p.hole),
            "method": p.method,
            "reason": p.reason,
            "model": p.model,
            "params": p.params,
            "candidates": self.add(np.stack(p.candidates)) if p.candidates else None,
            "losses": [float(v) for v in p.losses],
            "values": self.add(p.values),
            "chosen": p.chosen,
            "blend": p.blend,
            "grain_seed": p.grain_seed,
        }

    def choice(self, p: WindowPatch) -> dict:
        """A region's choice: which candidate, and its composed pixels (the rest is the result's)."""
        return {"chosen": p.chosen, "values": self.add(p.values)}

    def pending(self, p: PendingResult) -> dict:
        return {
            "uid": p.uid,
            "patches": [self.window(w) for w in p.result.patches],
            "warnings": list(p.result.warnings),
            "options": p.result.options.record(),
            "before": [self.add(b) for b in p.before],
        }

    def finish(self, meta: dict) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, meta=np.array(json.dumps(meta, default=_json_default)), **self.arrays)
        return buffer.getvalue()


class _Reader:
    def __init__(self, arrays, pendings: dict[str, PendingResult]) -> None:
        self.arrays = arrays
        self.pendings = pendings

    def get(self, key: str | None) -> np.ndarray | None:
        return None if key is None else self.arrays[key]

    def patch(self, m: dict) -> Patch:
        shape, dtype = tuple(m["shape"]), np.dtype(m["dtype"])
        return Patch(Bounds(*m["bounds"]), shape, dtype, self.get(m["before"]), self.get(m["after"]))

    def window(self, m: dict) -> WindowPatch:
        candidates = self.get(m["candidates"])
        return WindowPatch(
            index=m["index"],
            box=Bounds.from_xywh(m["box"]),
            hole=self.get(m["hole"]),
            method=m["method"],
            reason=m["reason"],
            model=m["model"],
            params=m["params"],
            candidates=[] if candidates is None else list(candidates),
            losses=list(m["losses"]),
            values=self.get(m["values"]),
            chosen=m["chosen"],
            blend=m["blend"],
            grain_seed=m.get("grain_seed"),  # absent in sessions saved before grain matching
        )

    def choice(self, pending: PendingResult, region: int, m: dict) -> WindowPatch:
        return replace(pending.result.patches[region], chosen=m["chosen"], values=self.get(m["values"]))

    def pending(self, m: dict) -> PendingResult:
        options = RestoreOptions.from_record(m["options"])
        result = RestoreResult([self.window(w) for w in m["patches"]], list(m["warnings"]), options)
        pending = PendingResult(result, [self.get(k) for k in m["before"]], m["uid"])
        self.pendings[pending.uid] = pending
        return pending


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a session")


def encode_entry(entry: Entry) -> bytes:
    """One history entry as the bytes of an .npz file."""
    w = _Writer()
    if isinstance(entry, MaskEdit):
        meta = {"type": "mask", "label": entry.label, "patches": [w.patch(p) for p in entry.patches]}
    elif isinstance(entry, SetBox):
        meta = {"type": "box", "label": entry.label, "old": _box_list(entry.old), "new": _box_list(entry.new)}
    elif isinstance(entry, ResultArrived):
        previous = entry.previous.uid if entry.previous else None
        meta = {"type": "result", "previous": previous, "pending": w.pending(entry.pending)}
    elif isinstance(entry, ChooseCandidate):
        meta = {
            "type": "choose",
            "uid": entry.pending.uid,
            "region": entry.region,
            "old": w.choice(entry.old),
            "new": w.choice(entry.new),
        }
    elif isinstance(entry, AcceptResult):
        # The pixels are the chosen patches' values over the pixels the result arrived on.
        regions = [w.choice(p) for p in entry.result.patches]
        meta = {"type": "accept", "uid": entry.pending.uid, "regions": regions}
        meta["mask"] = [w.patch(p) for p in entry.mask_patches]
    elif isinstance(entry, DiscardResult):
        meta = {"type": "discard", "uid": entry.pending.uid}
    else:
        raise TypeError(f"cannot save a {type(entry).__name__} history entry")
    return w.finish(meta)


def decode_entry(data, pendings: dict[str, PendingResult]) -> Entry:
    meta = json.loads(str(data["meta"]))
    r = _Reader(data, pendings)
    kind = meta["type"]
    if kind == "mask":
        return MaskEdit(meta["label"], [r.patch(p) for p in meta["patches"]])
    if kind == "box":
        return SetBox(_box_of(meta["old"]), _box_of(meta["new"]), meta["label"])
    if kind == "result":
        return ResultArrived(r.pending(meta["pending"]), pendings.get(meta["previous"]))
    pending = pendings[meta["uid"]]
    if kind == "choose":
        region = meta["region"]
        return ChooseCandidate(
            pending, region, r.choice(pending, region, meta["old"]), r.choice(pending, region, meta["new"])
        )
    if kind == "accept":
        regions = [r.choice(pending, i, m) for i, m in enumerate(meta["regions"])]
        chosen = replace(pending.result, patches=regions)
        pixels = PendingResult(chosen, pending.before, pending.uid).patches
        return AcceptResult(pending, chosen, pixels, [r.patch(p) for p in meta["mask"]])
    if kind == "discard":
        return DiscardResult(pending)
    raise RestorerError(f"unknown session entry type {kind!r}")


def encode_baked(baked: Baked) -> bytes:
    w = _Writer()
    mask = None
    if baked.mask is not None:
        mask = {"shape": list(baked.mask.shape), "bits": w.add(np.packbits(baked.mask, axis=None))}
    pending = baked.pending
    meta = {
        "type": "baked",
        "count": baked.count,
        "mask": mask,
        "pixels": [
            {"bounds": list(p.bounds), "where": w.add(p.where), "values": w.add(p.values)}
            for p in baked.pixels
        ],
        "box": _box_list(baked.box),
        "records": baked.records,
        "pending": None if pending is None else w.pending(pending),
        "pending_regions": [w.choice(p) for p in baked.pending_regions] if pending is not None else [],
    }
    return w.finish(meta)


def decode_baked(data, pendings: dict[str, PendingResult]) -> Baked:
    meta = json.loads(str(data["meta"]))
    r = _Reader(data, pendings)
    baked = Baked(count=meta["count"], box=_box_of(meta["box"]), records=list(meta["records"]))
    if meta["mask"] is not None:
        shape = tuple(meta["mask"]["shape"])
        bits = np.unpackbits(r.get(meta["mask"]["bits"]), count=int(np.prod(shape)))
        baked.mask = bits.reshape(shape).view(bool)
    baked.pixels = [
        PixelWrite(Bounds(*p["bounds"]), r.get(p["where"]), r.get(p["values"])) for p in meta["pixels"]
    ]
    if meta["pending"] is not None:
        pending = baked.pending = r.pending(meta["pending"])
        baked.pending_regions = [r.choice(pending, i, m) for i, m in enumerate(meta["pending_regions"])]
    return baked


# ----- the session folder -----


def photo_fingerprint(path: Path) -> dict:
    stat = path.stat()
    return {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


@dataclass
class SessionInfo:
    """A session found on disk. ``problem`` says why it cannot be recovered (then only discarding it
    makes sense); the properties are safe to show for a broken manifest too."""

    folder: Path
    manifest: dict
    problem: str | None = None
    _claim: FileLock | None = field(default=None, repr=False, compare=False)

    @property
    def photo(self) -> Path:
        photo = self.manifest.get("photo")
        return Path(photo) if isinstance(photo, str) and photo else Path(self.folder.name)

    @property
    def changes(self) -> int:
        position, baked = self.manifest.get("position", 0), self.manifest.get("baked_count", 0)
        return max(position, 0) + max(baked, 0) if self.problem is None else 0

    @property
    def updated(self) -> str:
        updated = self.manifest.get("updated", "")
        return updated if isinstance(updated, str) else ""

    @property
    def settings(self) -> dict:
        """The window's restore settings, or {} when they do not read back (the work is still good)."""
        settings = self.manifest.get("settings", {})
        try:
            box = RestoreOptions.from_record(settings).box if isinstance(settings, dict) else None
        except (TypeError, ValueError, AttributeError):
            return {}
        if box is not None and (box.top < 0 or box.left < 0 or box.height < 1 or box.width < 1):
            return {}
        return settings if isinstance(settings, dict) else {}

    def claim(self) -> None:
        """Take the session's lock before recovering it, so a second window cannot take it too."""
        if self._claim is None:
            self._claim = _take_lock(self.folder)

    def release(self) -> None:
        if self._claim is not None:
            self._claim.release()
            self._claim = None


def _take_lock(folder: Path) -> FileLock:
    from filelock import Timeout

    lock = _lock(folder)
    try:
        lock.acquire()
    except Timeout:
        raise RestorerError(f"the session {folder.name} is open in another Restorer window") from None
    return lock


# ----- checking a manifest before anything is read from it -----

_ENTRY_NAME = re.compile(r"\d{6}\.npz")
_BAKED_NAME = re.compile(r"\d{6}-baked\.npz")


def _whole(value: object, low: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _kind(value: object) -> str:
    return {list: "a list", type(None): "null", str: "a string"}.get(type(value), type(value).__name__)


def manifest_problem(manifest: object, folder: Path) -> str | None:
    """Why this manifest cannot be recovered, or None. Every field ``SessionStore.save`` writes is
    checked here, so that nothing read later (the recovery prompt, loading, adopting) meets a surprise."""
    if not isinstance(manifest, dict):
        return f"its manifest holds {_kind(manifest)}, not a session"
    checks = (_photo_problem, _history_problem, _owner_problem)
    return next((p for p in (check(manifest, folder) for check in checks) if p), None)


def _photo_problem(m: dict, folder: Path) -> str | None:
    if not isinstance(m.get("photo"), str) or not m["photo"]:
        return "it names no photo"
    size = m.get("size")
    if not (isinstance(size, list) and len(size) == 2 and all(_whole(v, 1) for v in size)):
        return f"its photo size {size!r} is not two positive whole numbers"
    fingerprint = m.get("fingerprint")
    if fingerprint is not None and not (
        isinstance(fingerprint, dict) and all(_whole(fingerprint.get(k)) for k in ("bytes", "mtime_ns"))
    ):
        return f"its photo fingerprint {fingerprint!r} is unreadable"
    return None


def _history_problem(m: dict, folder: Path) -> str | None:
    entries = m.get("entries")
    if not (
        isinstance(entries, list) and all(isinstance(n, str) and _ENTRY_NAME.fullmatch(n) for n in entries)
    ):
        return "its list of history entries is unreadable"
    position = m.get("position")
    if not (_whole(position) and position <= len(entries)):
        return f"its history position {position!r} is not a whole number from 0 to {len(entries)}"
    baked, baked_count = m.get("baked"), m.get("baked_count", 0)
    if baked is not None and not (isinstance(baked, str) and _BAKED_NAME.fullmatch(baked)):
        return f"its trimmed-history file name {baked!r} is unreadable"
    if not _whole(baked_count) or (baked is None and baked_count != 0):
        return f"its trimmed-history count {baked_count!r} does not match its file"
    missing = [n for n in [*entries, *([baked] if baked else [])] if not (folder / "entries" / n).is_file()]
    if missing:
        return f"its history file entries/{missing[0]} is missing"
    return None


def _owner_problem(m: dict, folder: Path) -> str | None:
    if "pid" in m and not _whole(m["pid"]):
        return f"its process id {m['pid']!r} is not a whole number"
    if not isinstance(m.get("updated", ""), str) or not isinstance(m.get("kept", False), bool):
        return "its save time or kept flag is unreadable"
    return None


def _still_written(written: list[tuple[Entry, str]], live: list[Entry]) -> tuple[list, list[str]]:
    """Split the files on disk into those holding the first of the ``live`` entries, in order, and
    the stale rest: entries trimmed from the front of the history (now baked) or undone and replaced."""
    start = next((j for j, (e, _) in enumerate(written) if live and e is live[0]), len(written))
    keep = 0
    while start + keep < len(written) and keep < len(live) and written[start + keep][0] is live[keep]:
        keep += 1
    stale = [name for _, name in written[:start] + written[start + keep :]]
    return written[start : start + keep], stale


class SessionStore:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._written: list[tuple[Entry, str]] = []  # (entry, file name) in history order
        self._baked: tuple[int, str] | None = None  # (Baked.count, file name) of the baked state on disk
        self._counter = 0
        self._lock: FileLock | None = None  # held from the first save: this window is writing here

    @classmethod
    def create(cls, root: Path | None = None) -> SessionStore:
        root = root or sessions_root()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return cls(root / f"{stamp}-{uuid.uuid4().hex[:6]}")

    @classmethod
    def adopt(cls, info: SessionInfo, entries: list[Entry]) -> SessionStore:
        """Continue writing into a recovered session whose files hold ``entries``."""
        store = cls(info.folder)
        info.claim()  # the recovering window usually claimed it already, before loading
        store._lock, info._claim = info._claim, None
        store._written = list(zip(entries, info.manifest["entries"], strict=True))
        if info.manifest.get("baked"):
            store._baked = (int(info.manifest["baked_count"]), info.manifest["baked"])
        names = [*info.manifest["entries"], *([info.manifest["baked"]] if store._baked else [])]
        store._counter = max((int(n.split(".")[0].split("-")[0]) for n in names), default=0)
        return store

    def _next_name(self, suffix: str = "") -> str:
        self._counter += 1
        return f"{self._counter:06d}{suffix}.npz"

    def save(self, doc: Document, extra: dict | None = None) -> None:
        """Write what is not on disk yet, then the manifest, then drop the files it no longer lists."""
        entries_dir = self.folder / "entries"
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._lock is None:
            self._lock = _take_lock(self.folder)  # before any other file: the folder is taken
        entries_dir.mkdir(exist_ok=True)
        history = doc.history
        written, stale = _still_written(self._written, history.entries)
        keep = len(written)
        for entry in history.entries[keep:]:
            name = self._next_name()
            _write_bytes(entries_dir / name, encode_entry(entry))
            written.append((entry, name))
        baked = history.baked
        if baked.count and (self._baked is None or self._baked[0] != baked.count):
            if self._baked is not None:
                stale.append(self._baked[1])
            name = self._next_name("-baked")
            _write_bytes(entries_dir / name, encode_baked(baked))
            self._baked = (baked.count, name)
        photo_path = Path(doc.path).resolve()
        manifest = {
            "format": FORMAT,
            "photo": str(photo_path),
            "fingerprint": photo_fingerprint(photo_path) if photo_path.exists() else None,
            "size": list(doc.size),
            "entries": [name for _, name in written],
            "position": history.position,
            "baked": self._baked[1] if self._baked else None,
            "baked_count": baked.count,
            "pid": os.getpid(),
            "updated": time.strftime("%Y-%m-%d %H:%M:%S"),
            "kept": False,
            **(extra or {}),
        }
        _write_bytes(self.folder / MANIFEST, json.dumps(manifest, indent=1).encode())
        self._written = written
        for name in stale:
            (entries_dir / name).unlink(missing_ok=True)

    def mark_kept(self) -> None:
        """The user closed the window choosing to keep this work for next time."""
        path = self.folder / MANIFEST
        if path.exists():
            manifest = json.loads(path.read_text())
            manifest["kept"] = True
            _write_bytes(path, json.dumps(manifest, indent=1).encode())
        self.release()  # no longer this window's: the next start offers it back

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def delete(self) -> None:
        self.release()  # Windows cannot remove a file that is open
        shutil.rmtree(self.folder, ignore_errors=True)


def recoverable_sessions(root: Path | None = None) -> list[SessionInfo]:
    """Sessions left behind by a crash or kept on purpose, newest first, not those a running window
    holds. A session whose manifest does not check out is listed with its ``problem``."""
    root = root or sessions_root()
    if not root.is_dir():
        return []
    found = [info for folder in root.iterdir() if (info := _read_session(folder)) is not None]
    found.sort(key=lambda s: s.updated, reverse=True)
    return found


def _read_session(folder: Path) -> SessionInfo | None:
    """The session in ``folder``; None when there is none, another version wrote it or a window has it."""
    path = folder / MANIFEST
    if not path.is_file() or _held_elsewhere(folder):
        return None  # a window is creating or writing it (the lock comes before the manifest)
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        return SessionInfo(folder, {}, f"its manifest cannot be read ({exc.strerror or exc})")
    except ValueError:
        return SessionInfo(folder, {}, "its manifest is not valid JSON")
    fmt = manifest.get("format") if isinstance(manifest, dict) else None
    if isinstance(fmt, str) and fmt.startswith("restorer-session/") and fmt != FORMAT:
        return None  # another version's: that version can recover it
    if fmt != FORMAT and isinstance(manifest, dict):
        return SessionInfo(folder, manifest, f"its manifest names no session format ({fmt!r})")
    problem = manifest_problem(manifest, folder)
    return SessionInfo(folder, manifest if isinstance(manifest, dict) else {}, problem)


def load_session(info: SessionInfo) -> tuple[Document, list[Entry], bool]:
    """Re-open the photo and rebuild the document with its history (call off the GUI thread).

    Returns the document, the entries read (for :meth:`SessionStore.adopt`) and whether the photo
    file changed since the session was saved.
    """
    from restorer.core.imageio import read_photo

    if info.problem is not None:
        raise RestorerError(f"the session cannot be recovered: {info.problem}")
    manifest = info.manifest
    photo_path = info.photo
    if not photo_path.exists():
        raise RestorerError(f"the session's photo {photo_path} no longer exists")
    photo = read_photo(photo_path)
    if list(photo.size) != list(manifest["size"]):
        raise RestorerError(f"{photo_path.name} has changed size since the session was saved")
    doc = Document(photo, photo_path)
    try:
        entries = _replay(info.folder / "entries", manifest, doc)
    except _DAMAGE as exc:  # files that passed their checks when written but read back wrong now
        raise RestorerError(f"the session's history is damaged ({type(exc).__name__}: {exc})") from None
    changed = photo_fingerprint(photo_path) != manifest.get("fingerprint")
    return doc, entries, changed


# What a damaged entry file can raise on the way through numpy, zip, JSON and the history.
_DAMAGE = (OSError, EOFError, KeyError, IndexError, TypeError, ValueError, zipfile.BadZipFile)


def _replay(folder: Path, manifest: dict, doc: Document) -> list[Entry]:
    """Restore the baked state, read every entry and push those up to the saved position."""
    pendings: dict[str, PendingResult] = {}
    if manifest.get("baked"):
        with np.load(folder / manifest["baked"], allow_pickle=False) as data:
            decode_baked(data, pendings).restore_into(doc)
    entries = []
    for name in manifest["entries"]:
        with np.load(folder / name, allow_pickle=False) as data:
            entries.append(decode_entry(data, pendings))
    position = manifest["position"]
    for entry in entries[:position]:
        doc.history.push(entry, doc)
    doc.history.add_redo(entries[position:])
    return entries
