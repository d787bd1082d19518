"""Weights files: state dicts plus metadata, a content checksum, and finding models by name.

A weights file is one ``torch.save``d dict (loaded with ``weights_only=True``)::

    {"format": "restorer-weights/1",
     "kind": "dcgan" | "context-encoder",
     "arch": {...},                       # GanArch / ContextEncoderArch fields
     "pixel_range": [-1.0, 1.0],
     "provenance": {...},                 # data, command, steps, ... (strings and numbers)
     "nets": {"generator": state_dict, "discriminator": state_dict} | {"context_encoder": ..., ...},
     "sha256": "..."}                     # over everything above, see content_digest()

Tensors are stored in float16 to keep files small and loaded back as float32.
The checksum lives inside the file so a copied model stays verifiable on its own.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from restorer.core.errors import RestorerError
from restorer.core.files import atomic_write
from restorer.core.networks import (
    ContextEncoder,
    ContextEncoderArch,
    Discriminator,
    GanArch,
    Generator,
)

FORMAT = "restorer-weights/1"
SUFFIX = ".pt"
REPO_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


def user_models_dir() -> Path:
    """The user's own models folder (platform-specific data dir), e.g. ~/.local/share/restorer/models."""
    from platformdirs import user_data_dir

    return Path(os.environ.get("RESTORER_USER_MODELS") or Path(user_data_dir("restorer")) / "models")


def models_search_path() -> list[Path]:
    return [REPO_MODELS_DIR, user_models_dir()]


def _canonical_json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def content_digest(payload: dict) -> str:
    """SHA-256 over the metadata (canonical JSON) and every tensor's name, dtype, shape and bytes."""
    h = hashlib.sha256()
    meta = {k: v for k, v in payload.items() if k not in ("nets", "sha256")}
    h.update(_canonical_json(meta))
    for net_name in sorted(payload["nets"]):
        sd = payload["nets"][net_name]
        for key in sorted(sd):
            t = sd[key].detach().contiguous().cpu()
            h.update(f"{net_name}.{key}|{t.dtype}|{tuple(t.shape)}|".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _to_storage(sd: dict[str, torch.Tensor], half: bool) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in sd.items():
        v = v.detach().cpu()
        out[k] = v.half() if half and v.is_floating_point() else v.clone()
    return out


def save_weights(
    path: str | Path,
    kind: str,
    arch: GanArch | ContextEncoderArch,
    nets: dict[str, nn.Module],
    provenance: dict | None = None,
    half: bool = True,
) -> Path:
    """Write a weights file atomically and return its path."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        "kind": kind,
        "arch": arch.to_dict(),
        "pixel_range": [-1.0, 1.0],
        # JSON round trip: only plain types may enter a weights_only-loadable file
        "provenance": json.loads(json.dumps(provenance or {}, default=str)),
        "nets": {name: _to_storage(m.state_dict(), half) for name, m in nets.items()},
    }
    payload["sha256"] = content_digest(payload)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


@dataclass
class LoadedModel:
    """A verified weights file with its networks built, in eval mode, float32, on ``device``."""

    path: Path
    kind: str
    arch: GanArch | ContextEncoderArch
    provenance: dict
    nets: dict[str, nn.Module]
    sha256: str

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def resolution(self) -> int:
        return self.arch.resolution


def read_payload(path: str | Path) -> dict:
    """Load and verify a weights file; raise RestorerError with a clear line if anything is off."""
    path = Path(path)
    if not path.is_file():
        raise RestorerError(f"model file not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, truncated zips, non-torch files
        raise RestorerError(
            f"{path.name}: not a readable Restorer weights file ({type(exc).__name__})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise RestorerError(f"{path.name}: not a Restorer weights file (format {FORMAT} expected)")
    if payload.get("sha256") != content_digest(payload):
        raise RestorerError(f"{path.name}: checksum mismatch, the weights file is corrupted or was modified")
    return payload


def _build(kind: str, arch_dict: dict) -> tuple[GanArch | ContextEncoderArch, dict[str, nn.Module]]:
    if kind == "dcgan":
        arch = GanArch.from_dict(arch_dict)
        return arch, {"generator": Generator(arch), "discriminator": Discriminator(arch)}
    if kind == "context-encoder":
        ce_arch = ContextEncoderArch.from_dict(arch_dict)
        d_arch = GanArch(resolution=ce_arch.resolution, ndf=ce_arch.ndf, nc=ce_arch.nc)
        return ce_arch, {"context_encoder": ContextEncoder(ce_arch), "discriminator": Discriminator(d_arch)}
    raise RestorerError(f"unknown model kind {kind!r}")


def load_model(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    path = Path(path)
    payload = read_payload(path)
    arch, nets = _build(payload["kind"], payload["arch"])
    for name, net in nets.items():
        if name not in payload["nets"]:
            if name == "discriminator":
                continue  # a discriminator is optional for context encoders
            raise RestorerError(f"{path.name}: weights for {name} are missing")
        sd = {k: v.float() if v.is_floating_point() else v for k, v in payload["nets"][name].items()}
        try:
            net.load_state_dict(sd)
        except RuntimeError as exc:
            raise RestorerError(f"{path.name}: weights do not fit the {name} architecture: {exc}") from None
        net.to(device).eval().requires_grad_(False)
    nets = {k: v for k, v in nets.items() if k in payload["nets"]}
    return LoadedModel(path, payload["kind"], arch, payload["provenance"], nets, payload["sha256"])


_CACHE: dict[tuple, LoadedModel] = {}


def load_cached(path: Path, device: torch.device) -> LoadedModel:
    """Load (and checksum) a model once per file version and device; batches reuse it."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, str(device))
    if key not in _CACHE:
        _CACHE.clear()  # keep one model in memory
        _CACHE[key] = load_model(path, device)
    return _CACHE[key]


def list_models() -> list[Path]:
    """Every weights file on the search path, repository models first; earlier names shadow later ones."""
    seen: dict[str, Path] = {}
    for folder in models_search_path():
        if folder.is_dir():
            for p in sorted(folder.glob(f"*{SUFFIX}")):
                seen.setdefault(p.stem, p)
    return list(seen.values())


def resolve_model(name_or_path: str | Path, kind: str | None = None) -> Path:
    """Find a model by file path or by name (file stem) in the search path."""
    p = Path(name_or_path)
    if p.suffix == SUFFIX or os.sep in str(name_or_path) or p.is_file():
        if p.is_file():
            return p
        raise RestorerError(f"model file not found: {p}")
    for candidate in list_models():
        if candidate.stem == str(name_or_path):
            return candidate
    where = ", ".join(str(d) for d in models_search_path())
    raise RestorerError(f"no model named {name_or_path!r} (looked in {where}); `restorer models` lists them")


DEFAULT_MODELS = {"dcgan": "face64", "context-encoder": "face64-context-encoder"}


def default_model(kind: str) -> Path:
    return resolve_model(DEFAULT_MODELS[kind], kind)
