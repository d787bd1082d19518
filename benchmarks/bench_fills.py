"""Classical fill speed: restorer's diffusion_fill against OpenCV's inpaint (Telea and Navier-Stokes).

A Kodak photo is upscaled to 6000x4000 (24 megapixels, a scan) and about 0.8 megapixels of
synthetic thin scratches (random smooth curves 1-10 px wide, see fill_quality.py) are filled.
A second table times tv_fill and patch_fill on a Kodak photo at its own size. Prints markdown.

    python benchmarks/bench_fills.py [--quick] [--repeats N] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fill_quality import synthetic_scratches

KODAK = Path("/work/shared/data/photos/kodak")


def load_photo(name: str, size: tuple[int, int] | None = None) -> np.ndarray:
    with Image.open(KODAK / name) as im:
        rgb = im.convert("RGB")
        return np.asarray(rgb.resize(size, Image.Resampling.BICUBIC) if size else rgb)


def timed(fn, repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``fn()``."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def table(title: str, rows: list[tuple[str, str, int, tuple[float, float], float | None]]) -> None:
    print(title + "\n")
    print("| method | size | hole pixels | wall s | CPU s | wall vs OpenCV Telea |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, size, holes, (wall, cpu), base in rows:
        ratio = f"{wall / base:.2f}x" if base else "-"
        print(f"| {name} | {size} | {holes} | {wall:.3f} | {cpu:.3f} | {ratio} |")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="6 megapixels, 0.2 megapixels of scratches, 3 runs"
    )
    parser.add_argument("--repeats", type=int, default=None, help="runs per method (default 5, quick 3)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)

    import torch

    from restorer.core.fills import diffusion_fill, patch_fill, tv_fill

    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = args.repeats or (3 if args.quick else 5)
    width, height = (3000, 2000) if args.quick else (6000, 4000)
    scan = load_photo("kodim01.png", (width, height))
    scratches = synthetic_scratches((height, width), np.random.default_rng(0), 0.8e6 / 24e6)
    holes = int(scratches.sum())
    size = f"{width}x{height}"
    try:
        import cv2
    except ImportError:
        cv2 = None

    rows = []
    telea = None
    if cv2 is not None:
        mask = scratches.astype(np.uint8) * 255
        t = timed(lambda: cv2.inpaint(scan, mask, 3, cv2.INPAINT_TELEA), repeats)
        telea = t[0]
        rows.append(("OpenCV inpaint Telea (8-bit)", size, holes, t, telea))
        t = timed(lambda: cv2.inpaint(scan, mask, 3, cv2.INPAINT_NS), repeats)
        rows.append(("OpenCV inpaint Navier-Stokes (8-bit)", size, holes, t, telea))
    rows.append(
        (
            "restorer diffusion_fill (8-bit)",
            size,
            holes,
            timed(lambda: diffusion_fill(scan, scratches), repeats),
            telea,
        )
    )
    scan16 = scan.astype(np.uint16) * 257
    rows.append(
        (
            "restorer diffusion_fill (16-bit)",
            size,
            holes,
            timed(lambda: diffusion_fill(scan16, scratches), repeats),
            None,
        )
    )
    table(
        f"Thin-scratch fill of a {size} RGB scan, median of {repeats} runs, "
        f"torch threads {torch.get_num_threads()}; CPU = process CPU time (all threads).",
        rows,
    )

    photo = load_photo("kodim05.png")
    h, w = photo.shape[:2]
    ys, xs = np.ogrid[:h, :w]
    blob = ((ys - h / 2) / 40.0) ** 2 + ((xs - w / 2) / 60.0) ** 2 < 1.0
    small = [
        ("restorer diffusion_fill", diffusion_fill),
        ("restorer tv_fill", tv_fill),
        ("restorer patch_fill", patch_fill),
    ]
    other = [
        (name, f"{w}x{h}", int(blob.sum()), timed(lambda f=f: f(photo, blob), repeats), None)
        for name, f in small
    ]
    if cv2 is not None:
        mask = blob.astype(np.uint8) * 255
        other.insert(
            0,
            (
                "OpenCV inpaint Telea",
                f"{w}x{h}",
                int(blob.sum()),
                timed(lambda: cv2.inpaint(photo, mask, 3, cv2.INPAINT_TELEA), repeats),
                None,
            ),
        )
    table(
        f"A {w}x{h} photo with a {int(blob.sum())}-pixel elliptic hole (texture), median of {repeats} runs.",
        other,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
