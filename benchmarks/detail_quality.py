"""Guided detail synthesis on faces at scan scale: fine-detail energy and hole PSNR, with and without.

FairFace val faces (160 px frames, never trained on) are resized so that the face box is 3-6 times
the model's 64 px (192-384 px; the window the model fills is the frame the app makes of that box,
refined when the app refines boxes), and pasted into Kodak photos;
film grain (clumped, mostly luminance) is added to the whole photo, as on a scan. One hole per case
over an eye, the mouth or a cheek. The pipeline runs as ``restorer inpaint --method
context-encoder --box <face>`` would: without detail synthesis (grain matching off, and on as
before) and with it (the default; grain matching leaves a detail fill alone).

Measured inside the hole: the fine-detail energy, the variance of a Laplacian of Gaussian (sigma
1 px: grain and the finest structure) in the hole's core over the same in a ring of known pixels
around it (1.0 = as detailed as its surroundings; the original photo's own ratio is shown for
reference), and PSNR against the photo before damage (grain and all) and against the clean face
(before grain was added: the structure alone). Also the time of the detail synthesis per window.
Writes a crop grid when asked: the original, OpenCV Telea (if cv2 is importable), the fill before
(no detail, grain matching on) and with detail synthesis (the default).

    python benchmarks/detail_quality.py [--quick] [--grid docs/detail-grid.png]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import KODAK, machine
from patch_quality import grid

VAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "fairface" / "val.zip"
FACES = (1, 4, 6, 7, 10, 11, 14, 16, 19, 22, 23, 24)  # val images facing the camera, eyes and mouth visible
SCALES = (3, 4, 5, 6)  # window px per model px; face k gets SCALES[k % 4]
# (top, left, bottom, right) in the aligned 160 px frame
HOLES = {"eye": (40, 34, 57, 58), "mouth": (104, 58, 126, 102), "cheek": (72, 26, 100, 50)}
GRAIN = 5.0 / 255  # film grain's standard deviation
RESOLUTION = 64  # the Context Encoder's


class Case:
    """One face pasted into one photo with grain, one hole, and the face box."""

    def __init__(self, number: int, face: int, scale: int, hole_kind: str) -> None:
        self.label = f"face {face} x{scale} {hole_kind}"
        self.scale = scale
        side = RESOLUTION * scale
        with zipfile.ZipFile(VAL) as z:
            frame = Image.open(io.BytesIO(z.read(f"{face}.webp"))).convert("RGB")
        frame = np.asarray(frame.resize((side, side), Image.Resampling.BICUBIC), np.float32) / 255
        paths = sorted(KODAK.glob("*.png"))
        with Image.open(paths[number % len(paths)]) as im:
            clean = np.asarray(im.convert("RGB"), np.float32) / 255
        top, left = (clean.shape[0] - side) // 2, (clean.shape[1] - side) // 2
        clean = clean.copy()
        clean[top : top + side, left : left + side] = frame
        self.clean = np.round(clean * 255).astype(np.uint8)
        self.photo = _with_grain(clean, number)
        self.box = (left, top, side, side)
        t0, l0, b0, r0 = (round(v * side / 160) for v in HOLES[hole_kind])
        self.hole = np.zeros(clean.shape[:2], bool)
        self.hole[top + t0 : top + b0, left + l0 : left + r0] = True


def _with_grain(image: np.ndarray, seed: int) -> np.ndarray:
    """uint8 ``image`` with film grain: clumped (0.6 px blur), 80% shared by the channels."""
    rng = np.random.default_rng(seed)
    common = rng.standard_normal((*image.shape[:2], 1))
    own = rng.standard_normal(image.shape)
    grain = ndimage.gaussian_filter(0.8 * common + 0.35 * own, (0.6, 0.6, 0))
    grain *= GRAIN / grain.std()
    return np.round(np.clip(image + grain, 0, 1) * 255).astype(np.uint8)


def restored(case: Case, detail: bool, grain: bool) -> tuple[np.ndarray, float, int]:
    """The photo restored as the app does, the seconds spent in detail synthesis, and the side of
    the window filled (the face frame, as the app framed it from the box)."""
    from restorer.core import detail as detail_module
    from restorer.core.imageio import Photo
    from restorer.core.jobs import run_to_end
    from restorer.core.patches import apply_result
    from restorer.core.pipeline import restore
    from restorer.core.types import Bounds, RestoreOptions

    spent = [0.0]
    original = detail_module.synthesise_detail

    def timed(*args, **kwargs):
        start = time.perf_counter()
        out = original(*args, **kwargs)
        spent[0] += time.perf_counter() - start
        return out

    damaged = case.photo.copy()
    damaged[case.hole] = 255
    options = RestoreOptions(
        method="context-encoder", box=Bounds.from_xywh(case.box), device="cpu", detail=detail, grain=grain
    )
    detail_module.synthesise_detail = timed
    try:
        result = run_to_end(restore(Photo(damaged, None, None, None, "PNG"), case.hole, options))
    finally:
        detail_module.synthesise_detail = original
    (patch,) = result.patches
    assert patch.params["detail"] is detail
    side = max(patch.box.height, patch.box.width)
    return apply_result(Photo(damaged, None, None, None, "PNG"), result).pixels, spent[0], side


def detail_ratio(image: np.ndarray, hole: np.ndarray) -> float:
    """Variance of the LoG (sigma 1 px) band of the luminance in the hole's core over its ring's."""
    band = ndimage.gaussian_laplace(image.astype(np.float32).mean(axis=2), 1.0)
    core = ndimage.distance_transform_edt(hole) > 3  # the band reads 3 px: the edge is not the fill's
    outside = ndimage.distance_transform_edt(~hole)
    ring = (outside > 3) & (outside <= 15)
    return float(band[core].var() / band[ring].var())


def psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    mse = np.mean((a[where].astype(np.float64) - b[where].astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / mse))


def telea(case: Case) -> np.ndarray | None:
    try:
        import cv2
    except ImportError:
        return None
    damaged = case.photo.copy()
    damaged[case.hole] = 255
    return cv2.inpaint(damaged, case.hole.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)


def crop_around(image: np.ndarray, hole: np.ndarray, pad: int = 20) -> np.ndarray:
    rows, cols = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
    cy, cx = (rows[0] + rows[-1]) // 2, (cols[0] + cols[-1]) // 2
    half = max(rows[-1] - rows[0], cols[-1] - cols[0]) // 2 + pad
    return image[max(cy - half, 0) : cy + half, max(cx - half, 0) : cx + half]


GRID_ROWS = 12
SETTINGS = {  # label: (detail, grain); grain matching leaves detail fills alone (they carry the photo's)
    "no detail, no grain": (False, False),
    "no detail, grain (before)": (False, True),
    "detail (the default)": (True, True),
}
GRID_COLUMNS = [name for name, (detail, grain) in SETTINGS.items() if detail or grain]


def cases(quick: bool) -> list[Case]:
    faces = FACES[:4] if quick else FACES
    out, number = [], 0
    for k, face in enumerate(faces):
        for kind in HOLES:
            out.append(Case(number, face, SCALES[k % len(SCALES)], kind))
            number += 1
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 faces (one per scale), 12 holes")
    parser.add_argument("--grid", type=Path, default=None, help="write a crop grid PNG here")
    args = parser.parse_args(argv)

    all_cases = cases(args.quick)
    ratios = {name: [] for name in ["original", *SETTINGS]}
    scores = {name: ([], []) for name in SETTINGS}
    seconds: list[tuple[int, int, float]] = []
    shown: list[list[np.ndarray]] = []
    restored(all_cases[0], True, True)  # the first run pays for imports and the model's loading
    for case in all_cases:
        ratios["original"].append(detail_ratio(case.photo, case.hole))
        row = [crop_around(case.photo, case.hole)]
        reference = telea(case)
        if reference is not None:
            row.append(crop_around(reference, case.hole))
        line = [case.label, f"original {ratios['original'][-1]:.2f}"]
        for name, (detail, grain) in SETTINGS.items():
            out, spent, side = restored(case, detail, grain)
            ratios[name].append(detail_ratio(out, case.hole))
            scores[name][0].append(psnr(out, case.photo, case.hole))
            scores[name][1].append(psnr(out, case.clean, case.hole))
            if detail:
                seconds.append((case.scale, side, spent))
            if grain or detail:
                row.append(crop_around(out, case.hole))
            line.append(f"{name}: {ratios[name][-1]:.2f} {scores[name][0][-1]:.2f} dB")
        print(" | ".join(line), file=sys.stderr, flush=True)
        if len(shown) < GRID_ROWS:
            shown.append(row)
    _report(all_cases, ratios, scores, seconds)
    if args.grid is not None and shown:
        grid(shown, args.grid, cell=200)
        columns = (
            "original, "
            + ("OpenCV Telea, " if len(shown[0]) == 2 + len(GRID_COLUMNS) else "")
            + ", ".join(GRID_COLUMNS)
        )
        print(f"\ncrop grid ({columns}) written to {args.grid}")
    return 0


def _within(ratios: np.ndarray) -> float:
    """The share of ``ratios`` inside the target band 0.7-1.3."""
    return float(np.mean((ratios >= 0.7) & (ratios <= 1.3)))


def _report(all_cases: list[Case], ratios: dict, scores: dict, seconds: list[tuple[int, int, float]]) -> None:
    print(f"Detail synthesis: {len(all_cases)} holes (eye, mouth, cheek) in FairFace val faces at 3-6x the")
    print("Context Encoder's 64 px, pasted into Kodak photos with film grain (sigma 5/255).")
    print(f"{machine(False)}\n")
    print("| setting | LoG energy fill/ring (median) | within 0.7-1.3 | PSNR vs photo | PSNR vs clean face |")
    print("| --- | ---: | ---: | ---: | ---: |")
    original = np.array(ratios["original"])
    print(f"| the original photo | {np.median(original):.2f} | {_within(original):.0%} | | |")
    for name in SETTINGS:
        r = np.array(ratios[name])
        p, c = scores[name]
        print(f"| {name} | {np.median(r):.2f} | {_within(r):.0%} | {np.mean(p):.2f} | {np.mean(c):.2f} |")
    for kind in HOLES:
        pick = [i for i, case in enumerate(all_cases) if case.label.endswith(kind)]
        line = ", ".join(f"{name} {np.median([ratios[name][i] for i in pick]):.2f}" for name in ratios)
        print(f"- {kind}s ({len(pick)}), median LoG ratio: {line}")
    for scale in SCALES:
        sides = [side for s, side, _ in seconds if s == scale]
        spent = [t for s, _, t in seconds if s == scale]
        if spent:
            print(
                f"- detail synthesis, faces pasted at {scale}x (windows {min(sides)}-{max(sides)} px): "
                f"{np.median(spent):.3f} s median, {max(spent):.3f} s at most ({len(spent)} holes)"
            )


if __name__ == "__main__":
    sys.exit(main())
