"""One face restore as a user gets it: wall time and hole PSNR per inversion setting.

A FairFace val face (never trained on) is pasted at 3x into a plain photo, a hole is cut over one
eye, and the whole pipeline runs (window, tone, latent search, Poisson blend, grain) with the face
box equal to the pasted frame, as ``restorer inpaint --method latent --box ...`` would. Settings:
the paper's reference (``--inversion yeh``, 1500 iterations x 16 starts) against encoder starts with
the shipped defaults and a few budgets. Run: ``python benchmarks/bench_face_restore.py``.
"""

from __future__ import annotations

import io
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_parser, load_average, machine, repeats, set_threads

VAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "fairface" / "val.zip"
SCALE = 3
FACES = (4, 11, 23)  # val images with a visible eye where the hole goes


def pasted_face(index: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """(photo uint8 (600, 800, 3), eye-hole mask, box x, y, w, h) for val image ``index``."""
    from PIL import Image

    with zipfile.ZipFile(VAL) as z:
        frame = Image.open(io.BytesIO(z.read(f"{index}.webp"))).convert("RGB")
    size = frame.width * SCALE
    photo = np.full((600, 800, 3), (120, 110, 100), np.uint8)
    x, y = 160, 60
    photo[y : y + size, x : x + size] = np.asarray(frame.resize((size, size), Image.BICUBIC))
    mask = np.zeros(photo.shape[:2], bool)
    # the viewer's-left eye of an aligned 160 px frame sits near (45, 48): a 25 x 15 px hole at 3x
    mask[y + 122 : y + 168, x + 102 : x + 172] = True
    return photo, mask, (x, y, size, size)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / mse))


def run_once(photo: np.ndarray, mask: np.ndarray, box, options) -> tuple[float, np.ndarray]:
    from restorer.core.imageio import Photo
    from restorer.core.jobs import run_to_end
    from restorer.core.patches import apply_result
    from restorer.core.pipeline import restore

    damaged = photo.copy()
    damaged[mask] = 255
    source = Photo(damaged, None, None, None, "PNG")
    started = time.perf_counter()
    result = run_to_end(restore(source, mask, options))
    seconds = time.perf_counter() - started
    return seconds, apply_result(source, result).pixels


def main() -> None:
    parser = bench_parser(__doc__, "one face, one repeat", repeats=1, quick_repeats=1)
    parser.add_argument("--model", default="face64", help="dcgan model name or path (default face64)")
    args = parser.parse_args()
    set_threads(args.threads)
    from restorer.core.types import Bounds, RestoreOptions

    defaults = RestoreOptions()
    settings = [
        ("yeh 1500 x 16 (the paper's budget)", dict(inversion="yeh", iterations=1500, starts=16, refine=0)),
        ("yeh 300 x 8", dict(inversion="yeh", iterations=300, starts=8, refine=0)),
        ("encoder 300 x 8", dict(inversion="encoder", iterations=300, starts=8, refine=0)),
        ("encoder 50 x 8, no refinement", dict(inversion="encoder", iterations=50, starts=8, refine=0)),
        (
            f"encoder {defaults.iterations} x {defaults.starts}, refine {defaults.refine} (the defaults)",
            dict(inversion="encoder", iterations=defaults.iterations, starts=defaults.starts),
        ),
        (
            "encoder 1 x 1 (E's guess, polished once)",
            dict(inversion="encoder", iterations=1, starts=1, refine=0),
        ),
    ]
    faces = FACES[:1] if args.quick else FACES
    print(f"# {machine()}; load before: {load_average()}")
    print("| setting | wall s (median of faces) | hole PSNR dB (mean) |")
    print("| --- | ---: | ---: |")
    for label, changes in settings:
        times, scores = [], []
        for index in faces:
            photo, mask, box = pasted_face(index)
            options = RestoreOptions(
                method="latent", model=args.model, box=Bounds.from_xywh(box), device="cpu", **changes
            )
            for _ in range(repeats(args)):
                seconds, out = run_once(photo, mask, box, options)
                times.append(seconds)
            scores.append(psnr(out[mask], photo[mask]))
        print(f"| {label} | {np.median(times):.1f} | {np.mean(scores):.2f} |", flush=True)
    print(f"# load after: {load_average()}")


if __name__ == "__main__":
    main()
