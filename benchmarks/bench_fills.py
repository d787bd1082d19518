"""Classical fill speed: restorer's model-free fill methods against OpenCV's inpaint (Telea, Navier-Stokes).

A Kodak photo is upscaled to 6000x4000 (24 megapixels, a scan) and about 0.8 megapixels of
synthetic thin scratches (random smooth curves 1-10 px wide, see fill_quality.py) are filled
with the method the engine routes thin scratches to. A second table times every model-free
method of the registry on a Kodak photo at its own size. Each method fills as the app fills one
window (float window, ``FillMethod.fill``, result composed into the photo's pixels). Prints markdown.

    python benchmarks/bench_fills.py [--quick] [--repeats N] [--threads N]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    bench_parser,
    fill_as_app,
    load_photo,
    model_free_methods,
    repeats,
    set_threads,
    threads_note,
    timed,
    warm_up,
)
from fill_quality import synthetic_scratches


def table(title: str, rows: list[tuple[str, str, int, tuple[float, float], float | None]]) -> None:
    print(title + "\n")
    print("| method | size | hole pixels | wall s | CPU s | wall vs OpenCV Telea |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, size, holes, (wall, cpu), base in rows:
        ratio = f"{wall / base:.2f}x" if base else "-"
        print(f"| {name} | {size} | {holes} | {wall:.3f} | {cpu:.3f} | {ratio} |")
    print()


def main(argv: list[str] | None = None) -> int:
    args = bench_parser(__doc__, "6 megapixels, 0.2 megapixels of scratches, 3 runs", repeats=5).parse_args(
        argv
    )
    set_threads(args.threads)
    from restorer.core import methods
    from restorer.core.pipeline import THIN_METHOD

    warm_up(model_free_methods())
    runs = repeats(args)
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
        t = timed(lambda: cv2.inpaint(scan, mask, 3, cv2.INPAINT_TELEA), runs)
        telea = t[0]
        rows.append(("OpenCV inpaint Telea (8-bit)", size, holes, t, telea))
        t = timed(lambda: cv2.inpaint(scan, mask, 3, cv2.INPAINT_NS), runs)
        rows.append(("OpenCV inpaint Navier-Stokes (8-bit)", size, holes, t, telea))
    thin = methods.get(THIN_METHOD)
    for bits, pixels, base in ((8, scan, telea), (16, scan.astype(np.uint16) * 257, None)):
        t = timed(lambda p=pixels: fill_as_app(thin, p, scratches), runs)
        rows.append((f"restorer {thin.name} ({bits}-bit)", size, holes, t, base))
    table(
        f"Thin-scratch fill of a {size} RGB scan, median of {runs} runs, "
        f"{threads_note()}; CPU = process CPU time (all threads).",
        rows,
    )

    photo = load_photo("kodim05.png")
    h, w = photo.shape[:2]
    ys, xs = np.ogrid[:h, :w]
    blob = ((ys - h / 2) / 40.0) ** 2 + ((xs - w / 2) / 60.0) ** 2 < 1.0
    other = [
        (
            f"restorer {m.name}",
            f"{w}x{h}",
            int(blob.sum()),
            timed(lambda m=m: fill_as_app(m, photo, blob), runs),
            None,
        )
        for m in model_free_methods()
    ]
    if cv2 is not None:
        mask = blob.astype(np.uint8) * 255
        t = timed(lambda: cv2.inpaint(photo, mask, 3, cv2.INPAINT_TELEA), runs)
        other.insert(0, ("OpenCV inpaint Telea", f"{w}x{h}", int(blob.sum()), t, None))
    table(
        f"A {w}x{h} photo with a {int(blob.sum())}-pixel elliptic hole (texture), median of {runs} runs.",
        other,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
