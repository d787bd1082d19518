"""Autosaved sessions: the photo's path plus the undo history, so that a crash loses nothing (no Qt).

A session is a folder ``<data dir>/sessions/<id>/`` holding ``manifest.json`` (photo path and
fingerprint, history position, restore settings) and one ``entries/NNNNNN.npz`` per history entry.
Entries never change once written, so an autosave writes only the new ones and the manifest
(atomically, last). Loading re-reads the photo and replays the entries up to the saved position.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from restorer.core.errors import RestorerError
from restorer.core.maskops import Bounds, Patch
from restorer.gui.history import (
    AcceptResult,
    ChooseCandidate,
    DiscardResult,
    MaskEdit,
    MaskedPatch,
    PendingResult,
    ResultArrived,
)

FORMAT = "restorer-session/1"
MANIFEST = "manifest.json"


def data_dir() -> Path:
    """The user data folder (RESTORER_DATA_DIR overrides it, e.g. for tests)."""
    from platformdirs import user_data_dir

    return Path(os.environ.get("RESTORER_DATA_DIR") or user_data_dir("restorer"))


def sessions_root() -> Path:
    return data_dir() / "sessions"


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":
        return False  # no cheap, safe check elsewhere: treat the owner as gone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ----- encoding entries as flat dicts of arrays plus JSON metadata -----


class _Writer:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self._n = 0

    def add(self, array: np.ndarray) -> str:
        key = f"a{self._n}"
        self._n += 1
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

    def masked(self, p: MaskedPatch) -> dict:
        return {
            "bounds": list(p.bounds),
            "where": self.add(p.where),
            "before": self.add(p.before),
            "after": self.add(p.after),
        }

    def region(self, region) -> dict:
        meta: dict = {"stacked": [], "arrays": {}, "values": {}}
        for f in dataclasses.fields(region):
            value = getattr(region, f.name)
            if isinstance(value, np.ndarray):
                meta["arrays"][f.name] = self.add(value)
            elif isinstance(value, list) and value and all(isinstance(v, np.ndarray) for v in value):
                meta["arrays"][f.name] = self.add(np.stack(value))
                meta["stacked"].append(f.name)
            else:
                meta["values"][f.name] = value
        return meta


class _Reader:
    def __init__(self, arrays) -> None:
        self.arrays = arrays

    def get(self, key: str) -> np.ndarray:
        return self.arrays[key]

    def patch(self, m: dict) -> Patch:
        shape, dtype = tuple(m["shape"]), np.dtype(m["dtype"])
        return Patch(Bounds(*m["bounds"]), shape, dtype, self.get(m["before"]), self.get(m["after"]))

    def masked(self, m: dict) -> MaskedPatch:
        where, before, after = self.get(m["where"]), self.get(m["before"]), self.get(m["after"])
        return MaskedPatch(Bounds(*m["bounds"]), where, before, after)

    def region(self, m: dict, region_class: type):
        kwargs = dict(m["values"])
        for name, key in m["arrays"].items():
            array = self.get(key)
            kwargs[name] = list(array) if name in m["stacked"] else array
        if isinstance(kwargs.get("box"), list):
            kwargs["box"] = tuple(kwargs["box"])
        known = {f.name for f in dataclasses.fields(region_class)}
        return region_class(**{k: v for k, v in kwargs.items() if k in known})


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a session")


def encode_entry(entry) -> bytes:
    """One history entry as the bytes of an .npz file."""
    w = _Writer()
    if isinstance(entry, MaskEdit):
        meta = {"type": "mask", "label": entry.label, "patches": [w.patch(p) for p in entry.patches]}
    elif isinstance(entry, ResultArrived):
        pending = entry.pending
        options = pending.options
        meta = {
            "type": "result",
            "uid": pending.uid,
            "previous": entry.previous.uid if entry.previous else None,
            "regions": [w.region(r) for r in pending.regions],
            "patches": [w.masked(p) for p in entry.initial_patches],
            "chosen": list(entry.initial_chosen),
            "warnings": list(pending.warnings),
            "options": dataclasses.asdict(options) if options is not None else None,
        }
    elif isinstance(entry, ChooseCandidate):
        meta = {
            "type": "choose",
            "uid": entry.pending.uid,
            "region": entry.region,
            "old_choice": entry.old_choice,
            "new_choice": entry.new_choice,
            "old_patch": w.masked(entry.old_patch),
            "new_patch": w.masked(entry.new_patch),
        }
    elif isinstance(entry, AcceptResult):
        meta = {
            "type": "accept",
            "uid": entry.pending.uid,
            "pixels": [w.masked(p) for p in entry.pixel_patches],
            "mask": [w.patch(p) for p in entry.mask_patches],
        }
    elif isinstance(entry, DiscardResult):
        meta = {"type": "discard", "uid": entry.pending.uid}
    else:
        raise TypeError(f"cannot save a {type(entry).__name__} history entry")
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array(json.dumps(meta, default=_json_default)), **w.arrays)
    return buffer.getvalue()


@dataclass
class EngineTypes:
    """The engine's result classes, passed in so this module never imports torch itself."""

    region: type
    result: type
    options: type

    @classmethod
    def load(cls) -> EngineTypes:
        from restorer.core import pipeline

        return cls(pipeline.RegionResult, pipeline.RestoreResult, pipeline.RestoreOptions)


def decode_entry(data: np.lib.npyio.NpzFile, pendings: dict[str, PendingResult], photo, types: EngineTypes):
    meta = json.loads(str(data["meta"]))
    r = _Reader(data)
    kind = meta["type"]
    if kind == "mask":
        return MaskEdit(meta["label"], [r.patch(p) for p in meta["patches"]])
    if kind == "result":
        regions = [r.region(m, types.region) for m in meta["regions"]]
        patches = [r.masked(p) for p in meta["patches"]]
        options = None
        if meta["options"] is not None:
            known = {f.name for f in dataclasses.fields(types.options)}
            values = {k: v for k, v in meta["options"].items() if k in known}
            if values.get("box") is not None:
                values["box"] = tuple(values["box"])
            options = types.options(**values)
        result = types.result(photo=photo, regions=regions, warnings=list(meta["warnings"]))
        pending = PendingResult(regions, list(patches), list(meta["warnings"]), result, options, meta["uid"])
        pendings[pending.uid] = pending
        return ResultArrived(pending, patches, list(meta["chosen"]), pendings.get(meta["previous"]))
    pending = pendings[meta["uid"]]
    if kind == "choose":
        old, new = r.masked(meta["old_patch"]), r.masked(meta["new_patch"])
        return ChooseCandidate(pending, meta["region"], meta["old_choice"], meta["new_choice"], old, new)
    if kind == "accept":
        return AcceptResult(
            pending, [r.masked(p) for p in meta["pixels"]], [r.patch(p) for p in meta["mask"]]
        )
    if kind == "discard":
        return DiscardResult(pending)
    raise RestorerError(f"unknown session entry type {kind!r}")


# ----- the session folder -----


def photo_fingerprint(path: Path) -> dict:
    stat = path.stat()
    return {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


@dataclass
class SessionInfo:
    folder: Path
    manifest: dict

    @property
    def photo(self) -> Path:
        return Path(self.manifest["photo"])

    @property
    def changes(self) -> int:
        return int(self.manifest.get("position", 0))

    @property
    def updated(self) -> str:
        return self.manifest.get("updated", "")


class SessionStore:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._written: list[tuple[object, str]] = []  # (entry, file name) in history order
        self._counter = 0

    @classmethod
    def create(cls, root: Path | None = None) -> SessionStore:
        root = root or sessions_root()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return cls(root / f"{stamp}-{uuid.uuid4().hex[:6]}")

    @classmethod
    def adopt(cls, info: SessionInfo, entries: list) -> SessionStore:
        """Continue writing into a recovered session whose files hold ``entries``."""
        store = cls(info.folder)
        store._written = list(zip(entries, info.manifest["entries"], strict=True))
        store._counter = len(entries)
        return store

    def save(self, doc, extra: dict | None = None) -> None:
        """Write the entries not on disk yet, drop undone-and-replaced ones, then the manifest."""
        entries_dir = self.folder / "entries"
        entries_dir.mkdir(parents=True, exist_ok=True)
        history = doc.history.entries
        keep = 0
        while keep < min(len(history), len(self._written)) and self._written[keep][0] is history[keep]:
            keep += 1
        for _, name in self._written[keep:]:
            (entries_dir / name).unlink(missing_ok=True)
        del self._written[keep:]
        for entry in history[keep:]:
            self._counter += 1
            name = f"{self._counter:06d}.npz"
            _atomic_write_bytes(entries_dir / name, encode_entry(entry))
            self._written.append((entry, name))
        photo_path = Path(doc.path).resolve()
        manifest = {
            "format": FORMAT,
            "photo": str(photo_path),
            "fingerprint": photo_fingerprint(photo_path) if photo_path.exists() else None,
            "size": list(doc.size),
            "entries": [name for _, name in self._written],
            "position": doc.history.position,
            "pid": os.getpid(),
            "updated": time.strftime("%Y-%m-%d %H:%M:%S"),
            "kept": False,
            **(extra or {}),
        }
        _atomic_write_bytes(self.folder / MANIFEST, json.dumps(manifest, indent=1).encode())

    def mark_kept(self) -> None:
        """The user closed the window choosing to keep this work for next time."""
        path = self.folder / MANIFEST
        if path.exists():
            manifest = json.loads(path.read_text())
            manifest["kept"] = True
            _atomic_write_bytes(path, json.dumps(manifest, indent=1).encode())

    def delete(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def recoverable_sessions(root: Path | None = None) -> list[SessionInfo]:
    """Sessions left behind by a crash or kept on purpose, newest first (not ones still open)."""
    root = root or sessions_root()
    found = []
    if not root.is_dir():
        return found
    for folder in root.iterdir():
        path = folder / MANIFEST
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if manifest.get("format") != FORMAT:
            continue
        pid = int(manifest.get("pid", -1))
        if not manifest.get("kept") and (pid == os.getpid() or _pid_alive(pid)):
            continue  # that window is still open
        found.append(SessionInfo(folder, manifest))
    found.sort(key=lambda s: s.updated, reverse=True)
    return found


def load_session(info: SessionInfo, types: EngineTypes | None = None):
    """Re-open the photo and rebuild the document with its history (call off the GUI thread)."""
    from restorer.core.imageio import read_photo
    from restorer.gui.document import Document

    manifest = info.manifest
    photo_path = info.photo
    if not photo_path.exists():
        raise RestorerError(f"the session's photo {photo_path} no longer exists")
    photo = read_photo(photo_path)
    if list(photo.size) != list(manifest["size"]):
        raise RestorerError(f"{photo_path.name} has changed size since the session was saved")
    doc = Document(photo, photo_path)
    entries = []
    pendings: dict[str, PendingResult] = {}
    for name in manifest["entries"]:
        with np.load(info.folder / "entries" / name, allow_pickle=False) as data:
            kind = json.loads(str(data["meta"]))["type"]
            if kind == "result" and types is None:
                types = EngineTypes.load()  # imports torch: only sessions with results need it
            entries.append(decode_entry(data, pendings, photo, types))
    for entry in entries[: manifest["position"]]:
        doc.history.push(entry, doc)
    doc.history.entries.extend(entries[manifest["position"] :])
    changed = photo_fingerprint(photo_path) != manifest.get("fingerprint")
    return doc, entries, changed
