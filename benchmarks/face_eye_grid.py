"""The eye-hole screenshot: a FairFace face pasted at 3x into a photo, one eye cut out and filled.

Each FairFace val face (never trained on) is pasted at 3x into a plain photo and a hole is cut over
the viewer's-left eye, exactly as ``bench_face_restore.py`` does it; the hole is filled by OpenCV
Telea (radius 5) and through ``restorer.core.pipeline.restore`` with the face box = the pasted frame
and today's defaults (encoder starts, feature refinement, guided detail synthesis, box refinement,
Poisson blend, grain) for ``--method latent`` and ``--method context-encoder``. Writes one row per
face: original, damaged, Telea, latent, Context Encoder, as 100% crops around the hole enlarged 2x
(nearest neighbour), and prints each fill's hole PSNR, time and the frame the model filled from.

Run: ``python benchmarks/face_eye_grid.py --threads 1 --out docs/face-eye-grid-detail.png``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, machine, set_threads
from bench_face_restore import FACES, pasted_face

PAD = 36  # px of photo shown around the hole
ZOOM = 2
GAP = 4


def telea(damaged: np.ndarray, mask: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.inpaint(damaged, mask.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)


def restored(
    damaged: np.ndarray, mask: np.ndarray, box: tuple, method: str
) -> tuple[np.ndarray, object, dict]:
    """The photo filled by ``method`` with every default option, the frame it filled from, its params."""
    from restorer.core.imageio import Photo
    from restorer.core.jobs import run_to_end
    from restorer.core.patches import apply_result
    from restorer.core.pipeline import restore
    from restorer.core.types import Bounds, RestoreOptions

    source = Photo(damaged, None, None, None, "PNG")
    options = RestoreOptions(method=method, box=Bounds.from_xywh(box), device="cpu")
    result = run_to_end(restore(source, mask, options))
    return apply_result(source, result).pixels, result.face_box, result.patches[0].params


def hole_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    mse = np.mean((a[mask].astype(np.float64) - b[mask].astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / mse))


def crop(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The hole's bounding box and PAD px around it, enlarged ZOOM x (nearest neighbour)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    part = image[rows[0] - PAD : rows[-1] + 1 + PAD, cols[0] - PAD : cols[-1] + 1 + PAD]
    return part.repeat(ZOOM, axis=0).repeat(ZOOM, axis=1)


def save(rows: list[list[np.ndarray]], path: Path) -> None:
    from PIL import Image

    h, w = rows[0][0].shape[:2]
    canvas = np.full((len(rows) * (h + GAP) - GAP, len(rows[0]) * (w + GAP) - GAP, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            canvas[r * (h + GAP) : r * (h + GAP) + h, c * (w + GAP) : c * (w + GAP) + w] = tile
    Image.fromarray(canvas).save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", default=",".join(map(str, FACES)), help="val image numbers (N.webp)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=Path("docs/face-eye-grid-detail.png"))
    args = parser.parse_args()
    set_threads(args.threads)
    print(f"# {machine()}")
    rows = []
    for index in (int(v) for v in args.faces.split(",")):
        photo, mask, box = pasted_face(index)
        damaged = photo.copy()
        damaged[mask] = 255
        row = [crop(photo, mask), crop(damaged, mask)]
        filled = telea(damaged, mask)
        row.append(crop(filled, mask))
        print(f"- val {index}.webp, box {box}: Telea {hole_psnr(filled, photo, mask):.2f} dB", end="")
        for method in ("latent", "context-encoder"):
            started = time.perf_counter()
            filled, frame, params = restored(damaged, mask, box, method)
            seconds = time.perf_counter() - started
            row.append(crop(filled, mask))
            print(
                f"; {method} {hole_psnr(filled, photo, mask):.2f} dB, {seconds:.1f} s, frame "
                f"{frame.xywh() if frame is not None else None}, detail {params.get('detail')}",
                end="",
            )
        print(flush=True)
        rows.append(row)
    save(rows, args.out)
    print(f"# {load_average()}; columns: original, damaged, Telea, latent, context-encoder -> {args.out}")


if __name__ == "__main__":
    main()
