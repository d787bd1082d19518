"""Time `detect_damage` on a 24-megapixel scan, and check it still finds thin damage at that size.

    python benchmarks/bench_detect.py [--quick] [--repeats 3] [--save-dir DIR]

The "scan" is 6000 x 4000: the 24 Kodak photos, each enlarged 2x (bicubic, as a high-resolution
scan of a print is smooth at the pixel level), tiled 6 x 4, aged, then damaged with scratches
(1-6 px wide, so many are far thinner than one pixel of the working resolution), cracks and dust.
Detection is timed on the 8-bit RGB scan and on a 16-bit copy; precision and recall use the same
2-px tolerance band as `detect_quality.py`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from restorer.core.detect import detect_damage
from restorer.training.synthetic_damage import age_photo, damage_photo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import KODAK, bench_parser, repeats, set_threads, timed

TOLERANCE = 2


def make_scan(seed: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """A damaged 6000 x 4000 RGB uint8 scan and its damage mask."""
    tiles = []
    for path in sorted(KODAK.glob("*.png"))[:24]:
        with Image.open(path) as im:
            tiles.append(np.asarray(im.convert("RGB").resize((1000, 1000), Image.Resampling.BICUBIC)))
    rows = [np.concatenate(tiles[r * 6 : (r + 1) * 6], axis=1) for r in range(4)]
    clean = np.concatenate(rows, axis=0)
    rng = np.random.default_rng(seed)
    damaged, masks = damage_photo(age_photo(clean, rng), rng, kinds=("scratch", "crack", "dust"))
    return damaged, np.logical_or.reduce(list(masks.values()))


def _grow(mask: np.ndarray, radius: int) -> np.ndarray:
    return ndi.maximum_filter(mask.view(np.uint8), size=2 * radius + 1).view(bool)


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, "one run per input", repeats=3, quick_repeats=1)
    parser.add_argument("--save-dir", type=Path, help="also save the scan and masks here (PNG)")
    args = parser.parse_args(argv)
    set_threads(args.threads)

    start = time.perf_counter()
    scan, truth = make_scan()
    print(f"made a {scan.shape[1]} x {scan.shape[0]} scan in {time.perf_counter() - start:.1f} s")
    print("| input | median s | flagged % | precision % | recall % |")
    print("| --- | --- | --- | --- | --- |")
    found = np.zeros(truth.shape, dtype=bool)
    for label, pixels in (("RGB 8-bit", scan), ("RGB 16-bit", scan.astype(np.uint16) * 257)):
        masks: list[np.ndarray] = []
        seconds, _ = timed(lambda p=pixels, out=masks: out.append(detect_damage(p)), repeats(args))
        found = masks[-1]
        precision = (found & _grow(truth, TOLERANCE)).sum() / max(found.sum(), 1)
        recall = (truth & _grow(found, TOLERANCE)).sum() / max(truth.sum(), 1)
        print(
            f"| {label} | {seconds:.2f} | {100 * found.mean():.2f} | {100 * precision:.1f} "
            f"| {100 * recall:.1f} |"
        )
    if args.save_dir:
        args.save_dir.mkdir(parents=True, exist_ok=True)
        Image.fromarray(scan).save(args.save_dir / "scan.png")
        Image.fromarray(truth.astype(np.uint8) * 255).save(args.save_dir / "truth.png")
        Image.fromarray(found.astype(np.uint8) * 255).save(args.save_dir / "found.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
