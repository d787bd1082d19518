"""Training images: read folders and zip files, frame faces consistently, cache, augment.

Framing (what a user must draw around a face for the face models to fit it): the whole aligned
FairFace frame is used, resized to the model resolution. In that frame the face (forehead to chin)
fills about 70% of the height, centred horizontally, eyes slightly above the middle, with some hair,
background and shoulders around it. So the context window drawn around a face in a photo should be a
square about 1.4x the face's height, centred on the nose.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from restorer.core.errors import RestorerError
from restorer.core.files import READ_SUFFIXES

DATA_CREDIT = (
    "FairFace (Kärkkäinen & Joo, WACV 2021, arXiv:1908.04913), CC BY 4.0; images modified: "
    "resized from 224x224 to 160x160, re-encoded as WebP, then resized to the model resolution"
)

# sRGB-ish sepia tint applied to luminance for "toned print" augmentation (R, G, B gains)
SEPIA = np.array([1.07, 0.98, 0.82], dtype=np.float32)


def _decode(data: bytes, name: str) -> np.ndarray | None:
    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"))
    except Exception:
        return None  # a damaged file in a large collection is skipped, not fatal


def iter_images(paths: Sequence[str | Path], limit: int | None = None) -> Iterator[np.ndarray]:
    """Yield uint8 RGB (H, W, 3) images from folders (recursively), zip files and files, in name order."""
    count = 0
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            sources = (
                (p.name, p.read_bytes) for p in sorted(path.rglob("*")) if p.suffix.lower() in READ_SUFFIXES
            )
            items: Iterator = ((n, read()) for n, read in sources)
        elif path.suffix.lower() == ".zip" and path.is_file():
            items = _zip_items(path)
        elif path.is_file():
            items = iter([(path.name, path.read_bytes())])
        else:
            raise RestorerError(f"training data not found: {path}")
        for name, data in items:
            img = _decode(data, name)
            if img is None:
                continue
            yield img
            count += 1
            if limit is not None and count >= limit:
                return


def _zip_items(path: Path) -> Iterator[tuple[str, bytes]]:
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise RestorerError(f"{path}: not a readable zip file") from None
    with zf:
        names = sorted(
            (n for n in zf.namelist() if Path(n).suffix.lower() in READ_SUFFIXES),
            key=lambda n: (len(n), n),  # 2.webp before 10.webp
        )
        for n in names:
            yield n, zf.read(n)


def face_crop(img: np.ndarray, size: int) -> np.ndarray:
    """Frame an aligned face image for a model of resolution ``size``: central square, area-resized."""
    h, w = img.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = Image.fromarray(img[top : top + side, left : left + side])
    return np.asarray(
        square.resize((size, size), Image.Resampling.BOX if side % size == 0 else Image.LANCZOS)
    )


def load_dataset(
    paths: Sequence[str | Path], size: int, cache_dir: Path | None = None, limit: int | None = None
) -> torch.Tensor:
    """All images framed at ``size`` as one uint8 tensor (N, 3, size, size), cached as .npy when asked."""
    key_src = "|".join(str(Path(p).resolve()) for p in paths) + f"|{size}|{limit}|v1"
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"faces-{size}-{hashlib.sha1(key_src.encode()).hexdigest()[:12]}.npy"
        if cache.is_file():
            return torch.from_numpy(np.load(cache))
    arr = np.stack([face_crop(img, size) for img in iter_images(paths, limit)]) if paths else None
    if arr is None or len(arr) == 0:
        raise RestorerError("no readable images in the training data")
    arr = np.ascontiguousarray(arr.transpose(0, 3, 1, 2))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npy")
        np.save(tmp, arr)
        tmp.replace(cache)
    return torch.from_numpy(arr)


def augment(batch: torch.Tensor, generator: torch.Generator, tone_prob: float = 0.1) -> torch.Tensor:
    """uint8 (N, 3, S, S) -> float (N, 3, S, S) in [-1, 1], with flips and some grey / sepia prints."""
    x = batch.float().div_(127.5).sub_(1.0)
    n = x.shape[0]
    flip = torch.rand(n, generator=generator) < 0.5
    x[flip] = x[flip].flip(-1)
    u = torch.rand(n, generator=generator)
    toned = u < tone_prob
    if toned.any():
        lum = (0.299 * x[toned, 0] + 0.587 * x[toned, 1] + 0.114 * x[toned, 2]).unsqueeze(1)
        sepia = (u[toned] < tone_prob / 2).float().reshape(-1, 1, 1, 1)  # half grey, half sepia
        gains = 1.0 + sepia * (torch.from_numpy(SEPIA).reshape(1, 3, 1, 1) - 1.0)
        x[toned] = ((lum + 1.0) * gains - 1.0).clamp_(-1.0, 1.0)
    return x


class BatchSampler:
    """Endless shuffled batches; each DDP rank draws a disjoint share of every epoch's permutation."""

    def __init__(self, n: int, batch: int, seed: int, rank: int = 0, world: int = 1) -> None:
        if n < batch:
            raise RestorerError(f"{n} training images are fewer than one batch of {batch}")
        self.n, self.batch, self.rank, self.world = n, batch, rank, world
        self.generator = torch.Generator().manual_seed(seed)
        self._order = torch.empty(0, dtype=torch.long)

    def next(self) -> torch.Tensor:
        if len(self._order) < self.batch:
            perm = torch.randperm(self.n, generator=self.generator)  # same on every rank (same seed)
            self._order = perm[self.rank :: self.world]
        idx, self._order = self._order[: self.batch], self._order[self.batch :]
        return idx

    def state_dict(self) -> dict:
        return {"rng": self.generator.get_state(), "order": self._order.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["rng"])
        self._order = state["order"]
