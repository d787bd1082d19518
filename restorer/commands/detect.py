"""`restorer detect`: propose a damage mask (scratches, cracks, dust, spots) for a scanned print."""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path


def _sensitivity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, not {text!r}") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "detect",
        help="find scratches, cracks and dust and write a damage mask",
        description="Find likely scratches, cracks, dust and spots in PHOTO and write them as a mask PNG "
        "(255 = damaged). Review and correct the mask before `restorer inpaint`: thin dark or bright "
        "lines in the picture itself (wires, hair, lettering) can be flagged too.",
    )
    p.add_argument("image", metavar="PHOTO", type=Path, help="the scanned print (PNG, JPEG, WebP, TIFF)")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="MASK", help="mask to write (.png)")
    p.add_argument(
        "--sensitivity",
        type=_sensitivity,
        default=0.5,
        metavar="S",
        help="0 (only obvious damage) to 1 (anything suspicious); default 0.5",
    )
    p.add_argument(
        "--detector",
        choices=("learned", "fast", "classic"),
        default=None,
        help="learned: the trained network (models/detector.pt); fast: its half-resolution sibling "
        "(models/detector-fast.pt, ~3x faster on large scans, finds somewhat less); classic: image "
        "processing. Default: learned when its weights are installed, else classic",
    )
    p.add_argument(
        "--threshold",
        type=_sensitivity,
        default=None,
        metavar="T",
        help="learned detector: flag pixels whose damage probability exceeds T "
        "(default 0.5; lower finds more)",
    )
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the learned detector")
    p.add_argument("--overwrite", action="store_true", help="replace MASK if it already exists")
    p.set_defaults(func=run)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def _check_output(output: Path, image: Path, overwrite: bool) -> None:
    """Refuse a bad output path before the photo is read or any work is done."""
    from restorer.core.errors import RestorerError

    if output.suffix.lower() != ".png":
        raise RestorerError(f"masks are saved as PNG: use a .png file name, not {output.name}")
    if output.is_dir():
        raise RestorerError(f"cannot write {output}: it is a folder")
    if not output.parent.is_dir():
        raise RestorerError(f"cannot write {output}: folder {output.parent} does not exist")
    if _same_file(output, image):
        raise RestorerError(f"refusing to write the mask over the photo {image}; choose another file")
    if output.exists() and not overwrite:
        raise RestorerError(f"{output} already exists; choose another file or pass --overwrite")


def _choose_detector(choice: str | None) -> str:
    from restorer.core.detect_learned import installed_detector
    from restorer.core.errors import RestorerError

    if choice == "learned" and installed_detector() is None:
        raise RestorerError("no trained detector installed (models/detector.pt); use --detector classic")
    if choice == "fast" and installed_detector(fast=True) is None:
        raise RestorerError(
            "the fast detector is not installed (models/detector-fast.pt); use --detector learned"
        )
    return choice or ("learned" if installed_detector() is not None else "classic")


def _check_input(image: Path) -> None:
    from restorer.core.errors import RestorerError

    if image.is_dir():
        raise RestorerError(f"{image} is a folder, not an image")
    if not image.exists():
        raise RestorerError(f"{image} does not exist")


def run(args: argparse.Namespace) -> int:
    _check_input(args.image)
    _check_output(args.output, args.image, args.overwrite)
    # Only now the detectors' imports (torch for the learned one): a mistyped path fails at once.
    from restorer.commands.inpaint import sweep_outputs
    from restorer.core.detect import detect_damage
    from restorer.core.detect_learned import DEFAULT_THRESHOLD, detect_damage_learned, installed_detector
    from restorer.core.imageio import read_photo, write_mask

    sweep_outputs([args.output], quiet=False)
    detector = _choose_detector(args.detector)
    photo = read_photo(args.image)
    start = time.perf_counter()
    if detector in ("learned", "fast"):
        threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
        model = installed_detector(fast=True) if detector == "fast" else None
        mask = detect_damage_learned(photo.pixels, threshold, model, threads=args.threads)
    else:
        mask = detect_damage(photo.pixels, args.sensitivity)
    if photo.alpha is not None:
        mask &= photo.alpha > 0  # nothing to restore where the photo is fully transparent
    seconds = time.perf_counter() - start
    write_mask(mask, args.output)
    flagged = int(mask.sum())
    print(
        f"{args.output}: {flagged:,} of {mask.size:,} pixels flagged as damage "
        f"({100 * flagged / mask.size:.2f} %) in {seconds:.1f} s ({detector} detector)"
    )
    return 0
