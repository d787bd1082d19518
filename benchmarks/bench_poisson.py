"""Poisson blending speed: restorer's poisson_blend against OpenCV's seamlessClone (NORMAL_CLONE).

A Kodak photo is upscaled to 6000x4000 (24 megapixels) and a second one is blended into an
ellipse about 1130 pixels across (1 megapixel). OpenCV is timed on the same target, source and
mask; it only does 8-bit, so the 16-bit row has no ratio. Prints a markdown table of medians.

    python benchmarks/bench_poisson.py [--quick] [--repeats N] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

KODAK = Path("/work/shared/data/photos/kodak")


def load_photo(name: str, size: tuple[int, int]) -> np.ndarray:
    """A Kodak photo resized to (width, height), uint8 RGB."""
    with Image.open(KODAK / name) as im:
        return np.asarray(im.convert("RGB").resize(size, Image.Resampling.BICUBIC))


def ellipse(height: int, width: int, diameter: float) -> np.ndarray:
    ys, xs = np.ogrid[:height, :width]
    ry, rx = diameter / 2 * 0.9, diameter / 2 * 1.1  # about 1 megapixel for diameter 1130
    return ((ys - height / 2) / ry) ** 2 + ((xs - width / 2) / rx) ** 2 < 1.0


def timed(fn, repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``fn()``."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 megapixels, a 565-pixel hole, 3 runs")
    parser.add_argument("--repeats", type=int, default=None, help="runs per method (default 7, quick 3)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)

    import torch

    from restorer.core.poisson import poisson_blend

    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = args.repeats or (3 if args.quick else 7)
    width, height, diameter = (3000, 2000, 565) if args.quick else (6000, 4000, 1130)
    target = load_photo("kodim01.png", (width, height))
    source = load_photo("kodim05.png", (width, height))
    hole = ellipse(height, width, diameter)
    guide = source.astype(np.float32) / 255.0
    target16 = target.astype(np.uint16) * 257

    rows = []
    ours8 = timed(lambda: poisson_blend(target, guide, hole), repeats)
    ours16 = timed(lambda: poisson_blend(target16, guide, hole), repeats)
    try:
        import cv2
    except ImportError:
        cv2 = None
    if cv2 is not None:
        mask = hole.astype(np.uint8) * 255
        ys, xs = np.nonzero(hole)
        centre = ((int(xs.min()) + int(xs.max()) + 1) // 2, (int(ys.min()) + int(ys.max()) + 1) // 2)
        theirs = timed(lambda: cv2.seamlessClone(source, target, mask, centre, cv2.NORMAL_CLONE), repeats)
        rows.append(("OpenCV seamlessClone (8-bit)", theirs, theirs))
    rows.append(("restorer poisson_blend (8-bit)", ours8, rows[0][1] if rows else None))
    rows.append(("restorer poisson_blend (16-bit)", ours16, None))

    print(f"Poisson blend, {width}x{height} RGB, hole {int(hole.sum())} pixels, median of {repeats} runs,")
    print(f"torch threads {torch.get_num_threads()}; CPU = process CPU time (all threads).\n")
    print("| method | size | hole pixels | wall s | CPU s | wall vs OpenCV |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, (wall, cpu), base in rows:
        ratio = f"{wall / base[0]:.2f}x" if base is not None else "-"
        print(f"| {name} | {width}x{height} | {int(hole.sum())} | {wall:.3f} | {cpu:.3f} | {ratio} |")
    if cv2 is None:
        print("\nOpenCV is not installed (pip install opencv-python-headless): no ratio.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
