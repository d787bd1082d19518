"""Make the bundled sample photo: a Kodak portrait aged into an old print, with scratches, cracks and dust.

    python benchmarks/make_sample.py [--out resources]

Writes ``sample-photo.png`` (what the program offers at first start) and ``sample-mask.png`` (the
exact damage, 255 = damaged) into the folder. Deterministic: the same seed gives the same files.
See resources/ATTRIBUTION.md for the source image.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from restorer.core.imageio import write_mask
from restorer.training.synthetic_damage import (
    age_photo,
    apply_damage,
    crack_mask,
    dust_mask,
    scratch_mask,
)

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / ".." / "shared" / "data" / "photos" / "kodak" / "kodim04.png"
SEED = 3


def make_sample(source: Path = SOURCE, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """The aged, damaged portrait (uint8 RGB) and its damage mask."""
    with Image.open(source) as im:
        clean = np.asarray(im.convert("RGB"))
    rng = np.random.default_rng(seed)
    photo = age_photo(clean, rng)
    shape = photo.shape
    masks = {
        "scratch": scratch_mask(shape, rng, count=3, width=(1, 4)),
        "crack": crack_mask(shape, rng, count=2, width=(1, 2)),
        "dust": dust_mask(shape, rng, count=70),
    }
    for kind, mask in masks.items():
        photo = apply_damage(photo, mask, rng, kind)
    return photo, np.logical_or.reduce(list(masks.values()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "resources", help="folder to write into")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    photo, mask = make_sample(seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    photo_path = args.out / "sample-photo.png"
    Image.fromarray(photo).save(photo_path, optimize=True)
    write_mask(mask, args.out / "sample-mask.png")
    size_kb = photo_path.stat().st_size / 1024
    height, width = mask.shape
    print(f"{photo_path} ({width} x {height}, {size_kb:.0f} KB), {100 * mask.mean():.2f} % damaged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
