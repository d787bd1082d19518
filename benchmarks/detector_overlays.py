"""The learned detector's proposal over real old prints, for looking at (no ground truth exists).

    python benchmarks/detector_overlays.py [--model PATH] [--threshold 0.5] [--out docs/screenshots]

For each scan in ../shared/data/photos/old (test photos, not shipped): the print and, beside it, the
same print with the flagged pixels tinted yellow; prints the flagged share and the time per photo.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detect_quality import DATA

from restorer.core.detect_learned import damage_probability
from restorer.core.weights import load_model

TINT = np.array([255, 225, 0], np.float32)


def overlay(pixels: np.ndarray, flagged: np.ndarray) -> np.ndarray:
    """The print and, to its right, the print with ``flagged`` tinted (uint8 RGB)."""
    tinted = pixels.astype(np.float32)
    tinted[flagged] = 0.3 * tinted[flagged] + 0.7 * TINT
    gap = np.full((pixels.shape[0], 8, 3), 255, np.uint8)
    return np.concatenate([pixels, gap, tinted.astype(np.uint8)], axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/detector.pt"))
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--names", nargs="*", help="only these scans (file stems)")
    args = parser.parse_args(argv)
    model = load_model(args.model)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in sorted((DATA / "photos" / "old").glob("*.png")):
        if args.names and path.stem not in args.names:
            continue
        with Image.open(path) as im:
            pixels = np.asarray(im.convert("RGB"))
        start = time.perf_counter()
        flagged = damage_probability(pixels, model) > args.threshold
        seconds = time.perf_counter() - start
        target = args.out / f"11-old-{path.stem}.png"
        Image.fromarray(overlay(pixels, flagged)).save(target)
        h, w = flagged.shape
        print(f"{path.name} {w}x{h}: {100 * flagged.mean():.2f} % flagged in {seconds:.1f} s -> {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
