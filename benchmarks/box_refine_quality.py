"""Face box refinement: hole PSNR of a face fill from a mis-drawn box, the refined box and the true frame.

FairFace val faces (never trained on) are pasted into Kodak photos at a known frame (the whole
aligned 160-px frame, resized to 150-210 px). Around the frame the face is continued by its own
mirror image, softened and faded into the photo over a quarter of its side, so that no hard edge
marks where the frame ends (a seam would give the frame away to any fit test). A centre hole (the
central quarter of the frame, as ``restorer eval``'s ``center`` mask) or an eye hole is cut, and
``restorer.core.pipeline.restore`` fills it with ``--method context-encoder`` (Poisson blend, grain,
all defaults) from: the user's box perturbed from the true frame (side x0.8-1.4, centre +-10% of
the side), the same box refined (``RestoreOptions.refine_box``), and the true frame. It also
prints hole PSNR against the box's side at the true centre (the README's box advice).

Run: ``python benchmarks/box_refine_quality.py --limit 100 --threads 1``
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import KODAK, load_average, machine, set_threads

VAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "fairface" / "val.zip"
PHOTO = 500  # Kodak crops are 500 x 500
SIDES = (0.8, 0.9, 1.0, 1.1, 1.25, 1.4)
HOLES = ("centre", "eye")


def val_face(archive: zipfile.ZipFile, index: int) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(archive.read(f"{index + 1}.webp"))) as im:
        return np.asarray(im.convert("RGB"))


def pasted(face: np.ndarray, index: int, rng: np.random.Generator) -> tuple[np.ndarray, object]:
    """(photo uint8 (500, 500, 3), true frame Bounds): ``face`` pasted into a Kodak photo."""
    from PIL import Image
    from scipy import ndimage

    from restorer.core.types import Bounds

    with Image.open(KODAK / f"kodim{index % 24 + 1:02d}.png") as im:
        photo = np.asarray(im.convert("RGB"), np.float32).copy()
    side = int(rng.integers(150, 211))
    band = side // 4
    x, y = (int(v) for v in rng.integers(band + 5, PHOTO - band - 5 - side, 2))
    frame = np.asarray(Image.fromarray(face).resize((side, side), Image.Resampling.BICUBIC), np.float32)
    surround = np.pad(frame, ((band, band), (band, band), (0, 0)), mode="reflect")
    outside = ndimage.distance_transform_edt(np.pad(np.zeros((side, side)), band, constant_values=1))
    soft = ndimage.gaussian_filter(surround, (0.015 * side, 0.015 * side, 0))
    sharpness = np.clip(outside / (0.3 * band), 0, 1)[..., None]
    surround = (1 - sharpness) * surround + sharpness * soft
    alpha = np.clip(1 - outside / band, 0, 1)[..., None]
    area = photo[y - band : y + side + band, x - band : x + side + band]
    photo[y - band : y + side + band, x - band : x + side + band] = alpha * surround + (1 - alpha) * area
    photo[y : y + side, x : x + side] = frame
    return np.clip(photo + 0.5, 0, 255).astype(np.uint8), Bounds(y, x, y + side, x + side)


def hole(truth: object, kind: str) -> np.ndarray:
    """bool (500, 500): the centre quarter of the frame, or the viewer's-left eye."""
    mask = np.zeros((PHOTO, PHOTO), bool)
    s = truth.width
    if kind == "centre":
        mask[truth.top + s // 4 : truth.top + 3 * s // 4, truth.left + s // 4 : truth.left + 3 * s // 4] = (
            True
        )
    else:  # the eye of an aligned frame sits near (0.28, 0.30) of it
        top, left = truth.top + int(0.25 * s), truth.left + int(0.21 * s)
        mask[top : truth.top + int(0.35 * s), left : truth.left + int(0.36 * s)] = True
    return mask


def user_box(truth: object, mask: np.ndarray, rng: np.random.Generator) -> object:
    """A box as a user might draw it: side x0.8-1.4, centre +-10% off, inside the photo, holding the hole."""
    from restorer.core.types import Bounds

    ys, xs = np.nonzero(mask)
    damage = Bounds(ys.min(), xs.min(), ys.max() + 1, xs.max() + 1)
    while True:
        scale, dx, dy = rng.uniform((0.8, -0.1, -0.1), (1.4, 0.1, 0.1))
        side = round(truth.width * scale)
        left = round(truth.centre[0] + dx * truth.width - side / 2)
        top = round(truth.centre[1] + dy * truth.width - side / 2)
        box = Bounds(top, left, top + side, left + side)
        if Bounds(0, 0, PHOTO, PHOTO).contains(box) and box.contains(damage):
            return box


def fill_psnr(photo: np.ndarray, mask: np.ndarray, box: object, refine: bool) -> tuple[float, object]:
    """Hole PSNR (dB, 8-bit) of the context-encoder fill from ``box``, and the frame it filled from."""
    from restorer.core.imageio import Photo
    from restorer.core.jobs import run_to_end
    from restorer.core.patches import apply_result
    from restorer.core.pipeline import restore
    from restorer.core.types import RestoreOptions

    damaged = photo.copy()
    damaged[mask] = 255
    source = Photo(damaged, None, None, None, "PNG")
    options = RestoreOptions(method="context-encoder", box=box, device="cpu", refine_box=refine)
    result = run_to_end(restore(source, mask, options))
    out = apply_result(source, result).pixels
    error = np.mean((out[mask].astype(np.float64) - photo[mask]) ** 2)
    return float(10 * np.log10(255**2 / max(error, 1e-10))), result.patches[0].box


def iou(a: object, b: object) -> float:
    inter = a.intersect(b).area
    return inter / (a.area + b.area - inter)


def refine_ms(photo: np.ndarray, mask: np.ndarray, box: object, model: object) -> float:
    """Milliseconds of one refinement of ``box`` alone (the pipeline's call, timed apart)."""
    from restorer.core.box_refine import refine_box

    ys, xs = np.nonzero(mask)
    damage = type(box)(ys.min(), xs.min(), ys.max() + 1, xs.max() + 1)
    started = time.perf_counter()
    refine_box(photo, mask, box, damage, model)
    return 1000 * (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=100, help="val faces (default 100)")
    parser.add_argument("--first", type=int, default=1000, help="first val face (default 1000)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-sides", action="store_true", help="skip the PSNR against box side table")
    args = parser.parse_args()
    set_threads(args.threads)
    from restorer.core import weights

    model = weights.load_model(weights.default_model("context-encoder"))
    rng = np.random.default_rng(args.seed)
    rows: dict[str, list[tuple[float, ...]]] = {kind: [] for kind in HOLES}
    sides: dict[str, list[list[float]]] = {kind: [] for kind in HOLES}
    started = time.perf_counter()
    print(f"# {machine()}; load before: {load_average()}", flush=True)
    with zipfile.ZipFile(VAL) as archive:
        for index in range(args.first, args.first + args.limit):
            photo, truth = pasted(val_face(archive, index), index, rng)
            for kind in HOLES:
                mask = hole(truth, kind)
                box = user_box(truth, mask, rng)
                drawn, _ = fill_psnr(photo, mask, box, refine=False)
                refined, frame = fill_psnr(photo, mask, box, refine=True)
                true, _ = fill_psnr(photo, mask, truth, refine=False)
                ms = refine_ms(photo, mask, box, model)
                rows[kind].append((drawn, refined, true, iou(box, truth), iou(frame, truth), ms))
                if not args.no_sides:
                    sides[kind].append([_side_psnr(photo, mask, truth, scale) for scale in SIDES])
    _report(rows, sides, args, time.perf_counter() - started)


def _side_psnr(photo: np.ndarray, mask: np.ndarray, truth: object, scale: float) -> float:
    from restorer.core.regions import square_window

    box = square_window(truth.centre, round(truth.width * scale), (PHOTO, PHOTO))
    return fill_psnr(photo, mask, box, refine=False)[0]


def _report(rows: dict, sides: dict, args: argparse.Namespace, seconds: float) -> None:
    print(f"# {args.limit} faces x {len(HOLES)} holes, {seconds / 60:.1f} min; load after: {load_average()}")
    print("| hole | drawn box dB | refined dB | true frame dB | IoU drawn -> refined | refine ms (median) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for kind, values in rows.items():
        v = np.asarray(values)
        print(
            f"| {kind} | {v[:, 0].mean():.2f} | {v[:, 1].mean():.2f} | {v[:, 2].mean():.2f} | "
            f"{v[:, 3].mean():.2f} -> {v[:, 4].mean():.2f} (10th pct {np.percentile(v[:, 4], 10):.2f}) | "
            f"{np.median(v[:, 5]):.0f} |"
        )
    if args.no_sides:
        return
    print("| hole | " + " | ".join(f"side x{s}" for s in SIDES) + " |")
    print("| --- |" + " ---: |" * len(SIDES))
    for kind, values in sides.items():
        print(f"| {kind} | " + " | ".join(f"{m:.2f}" for m in np.mean(values, axis=0)) + " |")


if __name__ == "__main__":
    main()
