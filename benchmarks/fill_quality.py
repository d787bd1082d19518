"""Fill quality inside the mask: restorer's classical fills against OpenCV's Telea and Navier-Stokes.

Synthetic thin scratches (random smooth curves 1-10 px wide) are cut into held-out photos: the
Kodak set and a few FairFace validation faces (160x160). Each model-free method of the registry
fills them as the app fills a window (``_common.fill_as_app``), and so do OpenCV's; PSNR and SSIM
are measured over the scratched pixels only (SSIM: mean of the local-SSIM map over the mask).
Prints a markdown table of means over the images.

    python benchmarks/fill_quality.py [--quick] [--faces N] [--coverage F]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import zipfile
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import KODAK, fill_as_app, model_free_methods, warm_up

FAIRFACE_VAL = Path("/work/shared/data/fairface/val.zip")


def synthetic_scratches(shape: tuple[int, int], rng: np.random.Generator, coverage: float) -> np.ndarray:
    """Bool (H, W) mask of random smooth curved scratches 1-10 px wide covering about ``coverage`` of it.

    Each scratch is a curve whose heading drifts smoothly (a random walk of its curvature), with a
    width that swells and thins a little along its length, rasterised as discs along the curve.
    """
    height, width = shape
    mask = np.zeros(shape, bool)
    wanted = coverage * height * width
    size = max(height, width)
    covered = 0
    while covered < wanted:
        length = rng.uniform(0.05, 0.5) * size
        steps = max(int(length * 2), 2)  # half-pixel steps: no gaps even for 1 px scratches
        curvature = np.cumsum(rng.normal(0.0, 0.002, steps)) + rng.normal(0.0, 0.003)
        heading = rng.uniform(0.0, 2 * np.pi) + np.cumsum(curvature)
        ys = rng.uniform(0, height) + np.cumsum(0.5 * np.sin(heading))
        xs = rng.uniform(0, width) + np.cumsum(0.5 * np.cos(heading))
        base = rng.uniform(1.0, 10.0)
        radius = (
            0.5 * base * (1.0 + 0.25 * np.sin(np.linspace(0, rng.uniform(1, 6), steps) + rng.uniform(0, 6)))
        )
        reach = int(np.ceil(radius.max()))
        oy, ox = np.mgrid[-reach : reach + 1, -reach : reach + 1]
        oy, ox = oy.ravel(), ox.ravel()
        cy, cx = np.rint(ys).astype(np.intp), np.rint(xs).astype(np.intp)
        # Offsets within each point's radius (+0.25 so that a 1 px scratch keeps its centre pixel).
        keep = (oy[None, :] ** 2 + ox[None, :] ** 2) <= (radius[:, None] ** 2 + 0.25)
        py = (cy[:, None] + oy[None, :])[keep]
        px = (cx[:, None] + ox[None, :])[keep]
        inside = (py >= 0) & (py < height) & (px >= 0) & (px < width)
        mask[py[inside], px[inside]] = True
        covered = int(np.count_nonzero(mask))
    return mask


def kodak_images(count: int | None = None) -> list[tuple[str, np.ndarray]]:
    paths = sorted(KODAK.glob("*.png"))[:count]
    images = []
    for path in paths:
        with Image.open(path) as im:
            images.append((path.stem, np.asarray(im.convert("RGB"))))
    return images


def fairface_images(count: int, rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    if count <= 0 or not FAIRFACE_VAL.exists():
        return []
    with zipfile.ZipFile(FAIRFACE_VAL) as archive:
        names = sorted(n for n in archive.namelist() if n.lower().endswith((".webp", ".jpg", ".png")))
        picked = rng.choice(len(names), size=min(count, len(names)), replace=False)
        images = []
        for i in sorted(picked):
            with Image.open(io.BytesIO(archive.read(names[i]))) as im:
                images.append((Path(names[i]).stem, np.asarray(im.convert("RGB"))))
    return images


def methods() -> dict[str, object]:
    """Every model-free method of the registry (filling as the app does), then OpenCV's when installed."""
    table: dict[str, object] = {f"restorer {m.name}": partial(fill_as_app, m) for m in model_free_methods()}
    try:
        import cv2
    except ImportError:
        return table

    def opencv(flag: int):
        def fill(pixels: np.ndarray, hole: np.ndarray) -> np.ndarray:
            return cv2.inpaint(pixels, hole.astype(np.uint8) * 255, 3, flag)

        return fill

    table["OpenCV Telea (radius 3)"] = opencv(cv2.INPAINT_TELEA)
    table["OpenCV Navier-Stokes (radius 3)"] = opencv(cv2.INPAINT_NS)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 Kodak images and 4 faces")
    parser.add_argument("--faces", type=int, default=12, help="FairFace validation faces (default 12)")
    parser.add_argument("--coverage", type=float, default=0.04, help="scratched fraction (default 0.04)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from restorer.core.metrics import psnr, ssim

    rng = np.random.default_rng(args.seed)
    images = kodak_images(4 if args.quick else None) + fairface_images(4 if args.quick else args.faces, rng)
    masks = [synthetic_scratches(img.shape[:2], rng, args.coverage) for _, img in images]
    warm_up(model_free_methods())
    fills = methods()
    print(f"Scratch fill quality, {len(images)} images (Kodak 500x500 crops and FairFace 160x160 faces),")
    print(f"{args.coverage:.0%} of each image scratched; PSNR (dB) and SSIM inside the scratches.\n")
    print("| method | PSNR in mask | SSIM in mask | s per image |")
    print("| --- | --- | --- | --- |")
    for name, fill in fills.items():
        scores_p, scores_s, seconds = [], [], 0.0
        for (_, img), hole in zip(images, masks, strict=True):
            damaged = img.copy()
            damaged[hole] = 0
            start = time.perf_counter()
            filled = fill(damaged, hole)
            seconds += time.perf_counter() - start
            scores_p.append(psnr(filled, img, hole))
            scores_s.append(ssim(filled, img, hole))
        print(f"| {name} | {np.mean(scores_p):.2f} | {np.mean(scores_s):.4f} | {seconds / len(images):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
