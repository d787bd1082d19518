"""`restorer batch`: restore every photo in a folder with the mask of the same name.

A photo ``name.tif`` pairs with ``name-mask.*``, ``name_mask.*`` or ``name.*`` in the masks
folder (in that order, so masks may sit beside the photos). One bad file is reported and
skipped; the exit status is 1 when any photo failed, else 3 when some had nothing that could be
filled (an empty mask, every region refused), else 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from restorer.commands.inpaint import (
    NothingFilled,
    add_restore_arguments,
    restore_file,
    restore_options,
)
from restorer.core.files import READ_SUFFIXES

MASK_ENDINGS = ("-mask", "_mask", "")
EXIT_STATUS = (
    "exit status: 0 all restored; 1 any photo failed; 2 bad usage; "
    f"{NothingFilled.exit_code} none failed, but some had nothing that could be filled (empty mask, or "
    "every region refused; nothing written for them); 130 interrupted (Ctrl-C); 143 terminated "
    "(SIGTERM). Temp files an interrupted run left in OUT_DIR are removed at the next start."
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch",
        help="restore every photo in a folder with its mask",
        description="Restore each photo in IMAGES_DIR with the mask of the same name in MASKS_DIR "
        "(name.png, name-mask.png or name_mask.png) and write it to OUT_DIR under its own name.",
        epilog=EXIT_STATUS,
    )
    p.add_argument("images", metavar="IMAGES_DIR", type=Path)
    p.add_argument("masks", metavar="MASKS_DIR", type=Path)
    p.add_argument("out", metavar="OUT_DIR", type=Path)
    add_restore_arguments(p)
    p.add_argument("--candidates", type=Path, metavar="DIR", help="candidates in DIR/<photo name>/")
    p.add_argument("--record", type=Path, metavar="DIR", help="an intervention record DIR/<photo name>.json")
    p.set_defaults(func=run)


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in READ_SUFFIXES
    )


def _photos(folder: Path) -> list[Path]:
    """The photos to restore; a "name-mask.png" beside "name.png" is a mask, not a photo."""
    files = _image_files(folder)
    stems = {p.stem for p in files}
    masks = {p.stem + ending for p in files for ending in MASK_ENDINGS[:2] if p.stem + ending in stems}
    return [p for p in files if p.stem not in masks]


def mask_index(folder: Path) -> dict[str, Path]:
    """Mask files by stem (the first by name when two differ only in extension)."""
    index: dict[str, Path] = {}
    for p in _image_files(folder):
        index.setdefault(p.stem, p)
    return index


def find_mask(image: Path, masks: dict[str, Path]) -> Path | None:
    for ending in MASK_ENDINGS:
        found = masks.get(image.stem + ending)
        if found is not None and found.resolve() != image.resolve():
            return found
    return None


def _output_name(image: Path, lossy: bool = False) -> str:
    """The output's file name: the photo's own format where Restorer writes it losslessly; WebP, and
    JPEG unless --lossy, become PNG, so that only the damaged pixels change."""
    from restorer.commands.inpaint import is_lossy
    from restorer.core.files import WRITE_SUFFIXES

    if image.suffix.lower() in WRITE_SUFFIXES and (lossy or not is_lossy(image)):
        return image.name
    return image.stem + ".png"


def _check_names(images: list[Path], lossy: bool = False) -> None:
    """Refuse, before any work, photos whose outputs would land on one file: ``scan.png`` and
    ``scan.webp`` both make ``scan.png`` (and share the record ``scan.json``)."""
    from restorer.core.errors import RestorerError

    seen: dict[str, Path] = {}
    for image in images:
        # the photo; the record and candidates (named by stem)
        for name in {_output_name(image, lossy).lower(), image.stem.lower()}:
            if name in seen and seen[name] != image:
                raise RestorerError(
                    f"{seen[name].name} and {image.name} would be written to the same output ({name}); "
                    "rename one or restore them apart"
                )
            seen[name] = image


def run(args: argparse.Namespace) -> int:
    from restorer.core.errors import RestorerError

    for folder, what in ((args.images, "images"), (args.masks, "masks")):
        if not folder.is_dir():
            raise RestorerError(f"{what} folder {folder} does not exist or is not a folder")
    if args.out.exists() and args.out.resolve() == args.images.resolve() and not args.overwrite:
        raise RestorerError(f"OUT_DIR {args.out} is the images folder; choose another or pass --overwrite")
    images = _photos(args.images)
    masks = mask_index(args.masks)
    if not images:
        raise RestorerError(f"no photos in {args.images} (looked for {', '.join(READ_SUFFIXES)})")
    _check_names(images, args.lossy)
    try:
        for folder in (args.out, args.record):
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RestorerError(f"cannot create {exc.filename}: {exc.strerror}") from None
    options = restore_options(args)
    failures: list[tuple[str, str]] = []
    unfilled = 0  # failures that are NothingFilled: exit 3 when they are the only ones
    for number, image in enumerate(images, start=1):
        prefix = f"[{number}/{len(images)}] {image.name}: "
        try:
            mask = find_mask(image, masks)
            if mask is None:
                raise RestorerError(
                    f"no mask {image.stem}.png, {image.stem}-mask.png or {image.stem}_mask.png"
                )
            restore_file(
                image,
                mask,
                args.out / _output_name(image, args.lossy),
                options,
                overwrite=args.overwrite,
                quiet=args.quiet,
                candidates_dir=args.candidates / image.stem if args.candidates else None,
                record_path=args.record / f"{image.stem}.json" if args.record else None,
                prefix=prefix,
                lossy=args.lossy,
            )
        except RestorerError as exc:
            unfilled += isinstance(exc, NothingFilled)
            failures.append((image.name, str(exc)))
            print(f"restorer: error: {prefix}{exc}", file=sys.stderr)
        except Exception as exc:  # an unexpected failure on one photo must not lose the rest of the batch
            failures.append((image.name, f"{type(exc).__name__}: {exc}"))
            print(f"restorer: error: {prefix}unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
    done = len(images) - len(failures)
    if failures:
        print(
            f"restorer: {done} of {len(images)} photo(s) restored; {len(failures)} failed:", file=sys.stderr
        )
        for name, message in failures:
            print(f"  {name}: {message}", file=sys.stderr)
        return NothingFilled.exit_code if unfilled == len(failures) else 1
    if not args.quiet:
        print(f"restorer: {done} photo(s) restored into {args.out}", file=sys.stderr)
    return 0
