"""Training pairs for the damage detector: clean crops with synthetic damage and its mask.

Clean sources: Kodak photos (detailed: lettering, fences, foliage) and FairFace frames (faces, hair).
Held out, never trained on: Kodak ``kodim01``-``kodim04`` and FairFace ``val.zip`` (the detector
benchmark measures on them). The old scans in photos/old are not used: they carry real, unlabelled
damage, which would be taught as "not damage".

Each pair: optional hard negatives drawn into the picture and left unmarked (printed text, thin ruled
lines, window-frame grids), optional ageing (sepia, fading, film grain), then damage from
``synthetic_damage`` (bright and dark scratches, branching crack networks, dust and fibres, creases),
then optional scan softness and JPEG recompression. Grain and JPEG blocks are never marked, so the
network learns they are not damage.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage as ndi

from restorer.core.errors import RestorerError
from restorer.core.files import READ_SUFFIXES
from restorer.training.synthetic_damage import (
    age_photo,
    apply_damage,
    crack_mask,
    dust_mask,
    scratch_mask,
)

HELD_OUT_KODAK = ("kodim01", "kodim02", "kodim03", "kodim04")
_WORDS = ("Studio", "1923", "PHOTO", "Grand Hotel", "Mai", "No. 17", "Paris", "Kodak", "Ltd", "avenue")


def _rgb(data: bytes) -> np.ndarray | None:
    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"))
    except Exception:
        return None  # a damaged file is skipped, not fatal


def load_clean_photos(paths: Sequence[str | Path], limit: int | None = None) -> list[np.ndarray]:
    """uint8 RGB photos from folders, zips and files, refusing the held-out ones."""
    photos: list[np.ndarray] = []
    for raw in paths:
        path = Path(raw)
        if path.name == "val.zip":
            raise RestorerError("FairFace val.zip is held out for measuring: never train on it")
        if path.is_dir():
            items = [
                (p.stem, p.read_bytes())
                for p in sorted(path.rglob("*"))
                if p.suffix.lower() in READ_SUFFIXES and p.stem not in HELD_OUT_KODAK
            ]
        elif path.suffix.lower() == ".zip" and path.is_file():
            with zipfile.ZipFile(path) as zf:
                names = sorted(
                    (n for n in zf.namelist() if Path(n).suffix.lower() in READ_SUFFIXES),
                    key=lambda n: (len(n), n),
                )[:limit]
                items = [(n, zf.read(n)) for n in names]
        elif path.is_file():
            items = [(path.stem, path.read_bytes())]
        else:
            raise RestorerError(f"training data not found: {path}")
        for _name, data in items:
            img = _rgb(data)
            if img is not None and min(img.shape[:2]) >= 64:
                photos.append(img)
    if not photos:
        raise RestorerError("no usable training photos")
    return photos


def random_crop(photo: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A size x size crop at a random scale (0.5-1.25x), flipped / rotated at random."""
    h, w = photo.shape[:2]
    scale = rng.uniform(0.5, 1.25)
    side = min(round(size / scale), h, w)
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    crop = photo[y : y + side, x : x + side]
    if side != size:
        crop = np.asarray(Image.fromarray(crop).resize((size, size), Image.Resampling.BICUBIC))
    crop = np.rot90(crop, int(rng.integers(4)))
    return np.ascontiguousarray(crop[:, ::-1] if rng.uniform() < 0.5 else crop)


def draw_hard_negatives(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Picture content that looks like damage to a filter: text, ruled lines, frame grids (unmarked)."""
    im = Image.fromarray(photo)
    draw = ImageDraw.Draw(im)
    size = photo.shape[0]
    for _ in range(int(rng.integers(1, 4))):
        tone = int(rng.choice([rng.integers(0, 60), rng.integers(200, 256)]))
        colour = (tone, tone, tone) if rng.uniform() < 0.7 else tuple(int(v) for v in rng.integers(0, 256, 3))
        what = rng.uniform()
        if what < 0.45:
            font = ImageFont.load_default(size=int(rng.integers(8, 28)))
            text = " ".join(rng.choice(_WORDS, size=int(rng.integers(1, 4))))
            draw.text(tuple(rng.integers(-10, size - 10, 2).tolist()), text, fill=colour, font=font)
        elif what < 0.8:  # straight ruled lines (wires, borders, frames)
            y0, x0, y1, x1 = rng.integers(-size // 2, size + size // 2, 4).tolist()
            draw.line((x0, y0, x1, y1), fill=colour, width=int(rng.integers(1, 4)))
        else:  # a window-frame / gate grid of parallel bars
            gap, width = int(rng.integers(8, 30)), int(rng.integers(1, 4))
            for k in range(0, size, gap):
                draw.line(
                    (k, 0, k, size) if rng.uniform() < 0.5 else (0, k, size, k), fill=colour, width=width
                )
    return np.asarray(im)


def _crease(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """A fold: one long, wide, nearly straight bright line across the crop."""
    return scratch_mask(shape, rng, count=1, width=(3, 7))


def damaged_pair(clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(damaged uint8 (S, S, 3), mask bool (S, S)) from a clean crop."""
    img = draw_hard_negatives(clean, rng) if rng.uniform() < 0.35 else clean
    if rng.uniform() < 0.5:
        img = age_photo(img, rng, strength=float(rng.uniform(0.3, 1.0)))
    mask = np.zeros(img.shape[:2], dtype=bool)
    if rng.uniform() > 0.15:  # some crops stay clean: pure negatives
        layers = []
        if rng.uniform() < 0.5:
            layers.append(("scratch", scratch_mask(img.shape, rng, count=int(rng.integers(1, 4)))))
        if rng.uniform() < 0.5:  # sparse cracks to dense crazing across the whole crop
            layers.append(("crack", crack_mask(img.shape, rng, count=int(rng.integers(1, 8)))))
        if rng.uniform() < 0.6:
            layers.append(("dust", dust_mask(img.shape, rng, count=int(rng.integers(3, 40)))))
        if rng.uniform() < 0.12:
            layers.append(("scratch", _crease(img.shape, rng)))
        for kind, layer in layers:
            img = apply_damage(img, layer, rng, kind)  # type: ignore[arg-type]
            mask |= layer
    if rng.uniform() < 0.3:  # scan softness: damage edges are rarely crisp
        img = ndi.gaussian_filter(img, (rng.uniform(0.3, 0.8),) * 2 + (0,))
    if rng.uniform() < 0.2:
        img = np.repeat(img.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    if rng.uniform() < 0.3:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=int(rng.integers(40, 90)))
        img = np.asarray(Image.open(buf).convert("RGB"))
    return img, mask


def make_batch(
    photos: Sequence[np.ndarray], size: int, batch: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(batch, S, S, 3) uint8 images and (batch, S, S) bool masks; half the crops are from large photos
    (Kodak-like detail) when both large and small photos are given."""
    large = [p for p in photos if min(p.shape[:2]) >= 300]
    small = [p for p in photos if min(p.shape[:2]) < 300]
    images, masks = [], []
    for i in range(batch):
        pool = large if (i % 2 == 0 and large) or not small else small
        img, mask = damaged_pair(random_crop(pool[int(rng.integers(len(pool)))], size, rng), rng)
        images.append(img)
        masks.append(mask)
    return np.stack(images), np.stack(masks)
