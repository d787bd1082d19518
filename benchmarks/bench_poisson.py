"""Poisson blending speed: restorer's poisson_blend against OpenCV's seamlessClone (NORMAL_CLONE).

A Kodak photo is upscaled to 6000x4000 (24 megapixels) and a second one is blended into an
ellipse about 1130 pixels across (1 megapixel). OpenCV is timed on the same target, source and
mask; it only does 8-bit, so the 16-bit row has no ratio. Prints a markdown table of medians.

    python benchmarks/bench_poisson.py [--quick] [--repeats N] [--threads N]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_parser, load_photo, repeats, set_threads, threads_note, timed


def ellipse(height: int, width: int, diameter: float) -> np.ndarray:
    ys, xs = np.ogrid[:height, :width]
    ry, rx = diameter / 2 * 0.9, diameter / 2 * 1.1  # about 1 megapixel for diameter 1130
    return ((ys - height / 2) / ry) ** 2 + ((xs - width / 2) / rx) ** 2 < 1.0


def main(argv: list[str] | None = None) -> int:
    args = bench_parser(__doc__, "6 megapixels, a 565-pixel hole, 3 runs", repeats=7).parse_args(argv)
    set_threads(args.threads)
    from restorer.core.poisson import poisson_blend

    runs = repeats(args)
    width, height, diameter = (3000, 2000, 565) if args.quick else (6000, 4000, 1130)
    target = load_photo("kodim01.png", (width, height))
    source = load_photo("kodim05.png", (width, height))
    hole = ellipse(height, width, diameter)
    guide = source.astype(np.float32) / 255.0
    target16 = target.astype(np.uint16) * 257

    rows = []
    ours8 = timed(lambda: poisson_blend(target, guide, hole), runs)
    ours16 = timed(lambda: poisson_blend(target16, guide, hole), runs)
    try:
        import cv2
    except ImportError:
        cv2 = None
    if cv2 is not None:
        mask = hole.astype(np.uint8) * 255
        ys, xs = np.nonzero(hole)
        centre = ((int(xs.min()) + int(xs.max()) + 1) // 2, (int(ys.min()) + int(ys.max()) + 1) // 2)
        theirs = timed(lambda: cv2.seamlessClone(source, target, mask, centre, cv2.NORMAL_CLONE), runs)
        rows.append(("OpenCV seamlessClone (8-bit)", theirs, theirs))
    rows.append(("restorer poisson_blend (8-bit)", ours8, rows[0][1] if rows else None))
    rows.append(("restorer poisson_blend (16-bit)", ours16, None))

    print(f"Poisson blend, {width}x{height} RGB, hole {int(hole.sum())} pixels, median of {runs} runs,")
    print(f"{threads_note()}; CPU = process CPU time (all threads).\n")
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
