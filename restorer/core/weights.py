"""Weights files: state dicts plus metadata, a content checksum, and finding models by name.

A weights file is one ``torch.save``d dict (loaded with ``weights_only=True``)::

    {"format": "restorer-weights/1",
     "kind": "dcgan" | "context-encoder" | "detector",
     "arch": {...},                       # GanArch / ContextEncoderArch / DetectorArch fields
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

from restorer.core.bundled import models_dir
from restorer.core.detector_net import DetectorArch, DetectorNet
from restorer.core.errors import RestorerError
from restorer.core.files import atomic_write_stream, check_zip
from restorer.core.networks import (
    ContextEncoder,
    ContextEncoderArch,
    Discriminator,
    GanArch,
    Generator,
    LatentEncoder,
)

FORMAT = "restorer-weights/1"
Arch = GanArch | ContextEncoderArch | DetectorArch
# Nets a file may leave out: a context encoder runs without its discriminator, a GAN inverts without
# an encoder (Yeh's random starts), and a GAN without D loads so the latent method can say what it lacks.
OPTIONAL_NETS = {"dcgan": ("discriminator", "encoder"), "context-encoder": ("discriminator",)}
SUFFIX = ".pt"
# The shipped models: the package restorer.models (the repository's models/ folder), by importlib.resources.
REPO_MODELS_DIR = models_dir()


def user_models_dir() -> Path:
    """The user's own models folder (platform-specific data dir), e.g. ~/.local/share/restorer/models."""
    from platformdirs import user_data_dir

    return Path(os.environ.get("RESTORER_USER_MODELS") or Path(user_data_dir("restorer")) / "models")


def models_search_path() -> list[Path]:
    """The folders models are looked for in, in order: the shipped models, then the user's."""
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
    arch: Arch,
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
    # Through a checked stream: torch's own file writer does not report a short write on a full disk.
    return atomic_write_stream(path, lambda f: torch.save(payload, f), check_zip)


@dataclass
class LoadedModel:
    """A verified weights file with its networks built, in eval mode, float32, on ``device``."""

    path: Path
    kind: str
    arch: Arch
    provenance: dict
    nets: dict[str, nn.Module]
    sha256: str

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def resolution(self) -> int:
        """The face models' input side; a detector runs at any size and reports its training crop."""
        return self.arch.crop if isinstance(self.arch, DetectorArch) else self.arch.resolution


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
    problem = _structure_problem(payload)  # before the checksum, which walks the structure
    if problem is None and payload.get("sha256") != content_digest(payload):
        raise RestorerError(f"{path.name}: checksum mismatch, the weights file is corrupted or was modified")
    # A matching checksum only says the file is as written, not that what was written is sane.
    problem = problem or _arch_problem(payload["kind"], payload["arch"])
    if problem is not None:
        raise RestorerError(f"{path.name}: {problem}")
    return payload


# --- validating a payload before anything is built from it -------------------------------------

#: Largest width, latent size... an arch field may ask for: far above any model worth training, far
#: below what would make a network's construction itself the problem.
MAX_ARCH_FIELD = 16384
#: Networks whose float32 weights would need more than this are refused before they are built.
MAX_NET_BYTES = 2 * 1024**3
_ARCH_INTS = {
    "dcgan": ("nz", "ngf", "ndf"),
    "context-encoder": ("nef", "ndf"),
    "detector": ("base", "depth", "crop"),
}
#: A detector deeper than this would pool a tile below one pixel.
MAX_DETECTOR_DEPTH = 6
_D_NORMS = ("spectral", "batch")


def _structure_problem(payload: dict) -> str | None:
    """What is wrong with the payload's shape (kind, arch, nets, checksum), or None."""
    kind = payload.get("kind")
    if kind is None:
        return "the weights file names no model kind"
    if kind not in _ARCH_INTS:
        *most, last = map(repr, _ARCH_INTS)
        return f"unknown model kind {kind!r} (expected {', '.join(most)} or {last})"
    if not isinstance(payload.get("arch"), dict):
        return "the weights file has no architecture"
    if not isinstance(payload.get("sha256"), str):
        return "the weights file has no checksum"
    nets = payload.get("nets")
    if not isinstance(nets, dict) or not nets:
        return "the weights file holds no networks"
    for name, sd in nets.items():
        if not isinstance(sd, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in sd.items()
        ):
            return f"the weights for {name!r} are not a table of tensors"
        broken = next((k for k, v in sd.items() if v.is_floating_point() and not v.isfinite().all()), None)
        if broken is not None:  # the checksum matches what was saved: training itself diverged
            return f"the weights for {name!r} hold NaN or infinite values ({broken}): the model is broken"
    if not isinstance(payload.get("provenance", {}), dict):
        return "the weights file's provenance is not a table"
    return None


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _arch_problem(kind: str, arch: dict) -> str | None:
    """What is wrong with the architecture's fields and sizes, or None; nothing is allocated."""
    resolution = arch.get("resolution", 64)
    if kind != "detector" and (resolution not in (64, 128) or isinstance(resolution, bool)):
        return f"unsupported resolution {resolution!r} (64 or 128)"
    if arch.get("nc", 3) not in (1, 3) or isinstance(arch.get("nc", 3), bool):
        return f"unsupported channel count nc={arch.get('nc')!r} (1 or 3)"
    for key in _ARCH_INTS[kind]:
        value = arch.get(key, 64)
        if not _positive_int(value):
            return f"arch field {key} must be a positive whole number, not {value!r}"
        if value > MAX_ARCH_FIELD:
            return f"arch field {key}={value} is out of range (at most {MAX_ARCH_FIELD})"
    if kind == "detector" and arch.get("depth", 4) > MAX_DETECTOR_DEPTH:
        return f"arch field depth={arch.get('depth')} is out of range (at most {MAX_DETECTOR_DEPTH})"
    if kind == "detector" and arch.get("stem_stride", 1) not in (1, 2):
        return f"unsupported detector stem stride {arch.get('stem_stride')!r} (1 or 2)"
    if kind == "dcgan" and arch.get("d_norm", "spectral") not in _D_NORMS:
        return f"unknown discriminator normalisation {arch.get('d_norm')!r} (spectral or batch)"
    if _rough_bytes(kind, arch) <= MAX_NET_BYTES:  # the usual case, decided without building anything
        return None
    needed = _net_bytes(kind, arch)
    if needed > MAX_NET_BYTES:
        return (
            f"its architecture would need {needed / 1024**3:.1f} GiB of weights "
            f"(at most {MAX_NET_BYTES / 1024**3:.0f} GiB): the file is broken"
        )
    return None


def _rough_bytes(kind: str, arch: dict) -> int:
    """An upper bound on the float32 bytes of the networks: every 4x4 layer (one per block, plus the
    first and the last, in each of three networks) as wide as the widest, plus the latent layers."""
    if kind == "detector":  # every layer a full 3x3 conv at the widest width, four per level
        widest = arch.get("base", 16) * 2 ** arch.get("depth", 4)
        return 4 * 8 * (arch.get("depth", 4) + 1) * 9 * widest**2
    blocks = arch.get("resolution", 64).bit_length() - 3
    widest = max(arch.get(key, 64) for key in _ARCH_INTS[kind]) * 2 ** (blocks - 1)
    return 4 * (3 * (blocks + 2) * 16 * widest**2 + 2 * 16 * widest * arch.get("nz", 100))


def _net_bytes(kind: str, arch: dict) -> int:
    """float32 bytes of every network ``_build`` would make, counted on torch's meta device
    (shapes without storage), so an absurd width costs nothing to measure."""
    with torch.device("meta"):
        _, nets = _build(kind, arch)
    return 4 * sum(p.numel() for net in nets.values() for p in net.parameters())


def _build(kind: str, arch_dict: dict) -> tuple[Arch, dict[str, nn.Module]]:
    if kind == "dcgan":
        arch = GanArch.from_dict(arch_dict)
        nets = {"generator": Generator(arch), "discriminator": Discriminator(arch)}
        return arch, {**nets, "encoder": LatentEncoder(arch)}  # the encoder is optional in the file
    if kind == "context-encoder":
        ce_arch = ContextEncoderArch.from_dict(arch_dict)
        d_arch = GanArch(resolution=ce_arch.resolution, ndf=ce_arch.ndf, nc=ce_arch.nc)
        return ce_arch, {"context_encoder": ContextEncoder(ce_arch), "discriminator": Discriminator(d_arch)}
    if kind == "detector":
        det_arch = DetectorArch.from_dict(arch_dict)
        return det_arch, {"detector": DetectorNet(det_arch)}
    raise RestorerError(f"unknown model kind {kind!r}")


def load_model(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    path = Path(path)
    payload = read_payload(path)
    arch, nets = _build(payload["kind"], payload["arch"])
    for name, net in nets.items():
        if name not in payload["nets"]:
            if name in OPTIONAL_NETS.get(payload["kind"], ()):
                continue
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


DEFAULT_MODELS = {"dcgan": "face64", "context-encoder": "face64-context-encoder", "detector": "detector"}


def default_model(kind: str) -> Path:
    return resolve_model(DEFAULT_MODELS[kind], kind)
