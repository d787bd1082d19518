"""Patch fill on Kodak photos with 40-80 px holes: the new PatchMatch against the old fill and Telea.

Holes of three shapes (squares, blobs, thick strokes), 40-80 px across, are cut at fixed-seed
positions into Kodak photos. Each method fills the window the app would give the patch method
(the hole's box grown by its own size on every side, ``PatchFill.window``), so the timings are
those of one window. PSNR and SSIM are measured inside the hole only. Methods run interleaved,
case by case, so that a background load affects them alike. Prints a markdown table of means and
optionally writes a crop grid (original, damaged, Telea, old patch fill, new patch fill).

    python benchmarks/patch_quality.py [--quick] [--photos N] [--grid docs/patch-grid.png]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import KODAK, machine

Fill = Callable[[np.ndarray, np.ndarray], np.ndarray]
SHAPES = ("square", "blob", "stroke")


def _square(size: int, rng: np.random.Generator) -> np.ndarray:
    side = int(rng.integers(40, 81))
    mask = np.zeros((size, size), bool)
    top, left = (size - side) // 2, (size - side) // 2
    mask[top : top + side, left : left + side] = True
    return mask


def _blob(size: int, rng: np.random.Generator) -> np.ndarray:
    """A lumpy disc: a radius that varies smoothly with the angle (a few random harmonics)."""
    radius = rng.uniform(20, 38)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    angle, dist = np.arctan2(yy, xx), np.hypot(yy, xx)
    wobble = sum(rng.uniform(0, 0.18) * np.cos(k * angle + rng.uniform(0, 2 * np.pi)) for k in (2, 3, 5))
    return dist <= radius * (1 + wobble)


def _stroke(size: int, rng: np.random.Generator) -> np.ndarray:
    """A thick curved brush stroke 12-20 px wide and 50-80 px long."""
    width, length = rng.uniform(12, 20), rng.uniform(50, 80)
    t = np.linspace(-0.5, 0.5, 200)
    heading = rng.uniform(0, np.pi) + rng.uniform(-1.2, 1.2) * t
    ys = (size - 1) / 2 + np.cumsum(np.sin(heading)) * length / t.size
    xs = (size - 1) / 2 + np.cumsum(np.cos(heading)) * length / t.size
    ys, xs = ys - ys.mean() + (size - 1) / 2, xs - xs.mean() + (size - 1) / 2
    yy, xx = np.mgrid[:size, :size]
    d2 = (yy[..., None] - ys) ** 2 + (xx[..., None] - xs) ** 2
    return d2.min(axis=2) <= (width / 2) ** 2


def hole_in(shape: tuple[int, int], kind: str, rng: np.random.Generator) -> np.ndarray:
    """Bool mask of one hole of ``kind`` at a random place in an image of ``shape``."""
    stamp = {"square": _square, "blob": _blob, "stroke": _stroke}[kind](96, rng)
    rows, cols = np.nonzero(stamp)
    stamp = stamp[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    mask = np.zeros(shape, bool)
    top = int(rng.integers(8, shape[0] - stamp.shape[0] - 8))
    left = int(rng.integers(8, shape[1] - stamp.shape[1] - 8))
    mask[top : top + stamp.shape[0], left : left + stamp.shape[1]] = stamp
    return mask


def app_window(hole: np.ndarray) -> tuple[slice, slice]:
    """The patch method's window around ``hole``: its box grown by max(16, its size) on every side."""
    from restorer.core.methods.patch import PATCH_MARGIN

    rows, cols = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
    margin = max(PATCH_MARGIN, rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
    top, bottom = max(rows[0] - margin, 0), min(rows[-1] + 1 + margin, hole.shape[0])
    left, right = max(cols[0] - margin, 0), min(cols[-1] + 1 + margin, hole.shape[1])
    return slice(top, bottom), slice(left, right)


def methods() -> dict[str, Fill]:
    import cv2

    from restorer.core import fills
    from restorer.core.patchmatch import patch_fill as new_patch_fill

    def telea(pixels: np.ndarray, hole: np.ndarray) -> np.ndarray:
        return cv2.inpaint(pixels, hole.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)

    return {
        "OpenCV Telea (radius 3)": telea,
        "old patch_fill (core/fills.py)": lambda p, h: fills.patch_fill(p, h, seed=0),
        "new patch fill (core/patchmatch.py)": lambda p, h: new_patch_fill(p, h, seed=0),
    }


def cases(photos: int, per_shape: int, seed: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, photo, hole) for ``per_shape`` holes of each shape in each of ``photos`` Kodak photos."""
    rng = np.random.default_rng(seed)
    paths = sorted(KODAK.glob("*.png"))
    picked = paths[:: max(len(paths) // photos, 1)][:photos]
    out = []
    for path in picked:
        with Image.open(path) as im:
            photo = np.asarray(im.convert("RGB"))
        for kind in SHAPES:
            for i in range(per_shape):
                out.append((f"{path.stem} {kind} {i}", photo, hole_in(photo.shape[:2], kind, rng)))
    return out


def grid(rows: list[list[np.ndarray]], path: Path, cell: int = 160) -> None:
    """Save rows of RGB crops side by side, each scaled to ``cell`` px (nearest: the pixels as they
    are), 4 px gaps; a short row leaves its last cells white."""
    columns = max(len(r) for r in rows)
    canvas = np.full((len(rows) * (cell + 4), columns * (cell + 4), 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, crop in enumerate(row):
            tile = np.asarray(Image.fromarray(crop).resize((cell, cell), Image.Resampling.NEAREST))
            canvas[r * (cell + 4) : r * (cell + 4) + cell, c * (cell + 4) : c * (cell + 4) + cell] = tile
    Image.fromarray(canvas).save(path)


def _crop_around(image: np.ndarray, hole: np.ndarray, pad: int = 24) -> np.ndarray:
    rows, cols = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
    cy, cx = (rows[0] + rows[-1]) // 2, (cols[0] + cols[-1]) // 2
    half = max(rows[-1] - rows[0], cols[-1] - cols[0]) // 2 + pad
    top, left = max(cy - half, 0), max(cx - half, 0)
    return image[top : top + 2 * half, left : left + 2 * half]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 photos, one hole of each shape")
    parser.add_argument("--photos", type=int, default=8, help="Kodak photos (default 8, spread over the 24)")
    parser.add_argument("--per-shape", type=int, default=2, help="holes of each shape per photo (default 2)")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--grid", type=Path, default=None, help="write a crop grid PNG here")
    args = parser.parse_args(argv)

    from restorer.core.metrics import psnr, ssim

    photos, per_shape = (3, 1) if args.quick else (args.photos, args.per_shape)
    table = methods()
    for fill in table.values():  # first calls pay for imports and caches
        fill(np.zeros((48, 48, 3), np.uint8), np.pad(np.ones((8, 8), bool), 20))
    scores = {name: ([], [], []) for name in table}
    shown: list[list[np.ndarray]] = []
    all_cases = cases(photos, per_shape, args.seed)
    for label, photo, hole in all_cases:
        rows, cols = app_window(hole)
        window, wh = photo[rows, cols], hole[rows, cols]
        damaged = window.copy()
        damaged[wh] = 0
        row = [_crop_around(window, wh), _crop_around(np.where(wh[..., None], 255, window), wh)]
        for name, fill in table.items():
            start = time.perf_counter()
            filled = fill(damaged, wh)
            seconds = time.perf_counter() - start
            p, s, t = scores[name]
            p.append(psnr(filled, window, wh))
            s.append(ssim(filled, window, wh))
            t.append(seconds)
            row.append(_crop_around(filled, wh))
        if args.grid is not None and len(shown) < 9 and label.endswith(" 0"):
            shown.append(row)
        print(
            label, " ".join(f"{scores[n][0][-1]:.2f}/{scores[n][1][-1]:.3f}" for n in table), file=sys.stderr
        )
    print(f"Patch fill quality: {len(all_cases)} holes (squares, blobs, strokes, 40-80 px) in {photos}")
    print("Kodak photos, each filled in the patch method's window; PSNR (dB) / SSIM inside the hole.")
    print(f"{machine(False)}\n")
    print("| method | PSNR in hole | SSIM in hole | s per window (median) | s per window (mean) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, (p, s, t) in scores.items():
        print(f"| {name} | {np.mean(p):.2f} | {np.mean(s):.4f} | {np.median(t):.3f} | {np.mean(t):.3f} |")
    old, new = (np.array(scores[name][2]) for name in list(table)[1:3])
    print(
        f"\nnew vs old patch fill: {old.sum() / new.sum():.1f}x faster in total, "
        f"median per-window speed-up {np.median(old / new):.1f}x"
    )
    for kind in SHAPES:
        pick = [i for i, (label, _, _) in enumerate(all_cases) if f" {kind} " in label]
        line = ", ".join(
            f"{name.split(' (')[0]} {np.mean([scores[name][0][i] for i in pick]):.2f}/"
            f"{np.mean([scores[name][1][i] for i in pick]):.4f}"
            for name in table
        )
        print(f"- {kind}s ({len(pick)}): {line}")
    if args.grid is not None and shown:
        grid(shown, args.grid)
        print(f"\ncrop grid (original, damaged, {', '.join(table)}) written to {args.grid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
