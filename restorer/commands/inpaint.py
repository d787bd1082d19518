"""`restorer inpaint`: fill the damage a mask marks in one photo.

Also holds what `restorer batch` shares with it: the restoration options, the progress bar and
the writing of candidates and records.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from restorer.commands.argtypes import add_search_arguments
from restorer.core import methods
from restorer.core.errors import RestorerError
from restorer.core.types import Bounds, RegionFinished, RegionProgress, RegionStarted, RestoreOptions
from restorer.editing.eta import Eta, format_duration

if TYPE_CHECKING:  # heavy imports stay inside run(), see restorer.cli
    from restorer.core.imageio import Photo
    from restorer.core.types import RestoreResult


#: Exit status when the run found nothing it could fill (an empty mask, or every region refused):
#: nothing was written. Distinct from 1 (failed) so a script can tell "no work" from "broken".
EXIT_NOTHING_FILLED = 3
EXIT_STATUS = (
    "exit status: 0 restored; 1 failed (nothing was changed); 2 bad usage; "
    f"{EXIT_NOTHING_FILLED} nothing could be filled (empty mask, or every region refused; nothing "
    "was written); 130 interrupted (Ctrl-C); 143 terminated (SIGTERM). Temp files an interrupted "
    "run left in the output folder are removed at the next start."
)


class NothingFilled(RestorerError):
    """The run found nothing it could fill, so it wrote nothing (see EXIT_NOTHING_FILLED)."""

    exit_code = EXIT_NOTHING_FILLED


# --- arguments -----------------------------------------------------------------------------------


def _box(text: str) -> Bounds:
    parts = text.split(",")
    try:
        x, y, w, h = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected x,y,w,h (four whole numbers), not {text!r}") from None
    for name, value, least in (("x", x, 0), ("y", y, 0), ("w", w, 1), ("h", h, 1)):
        if value < least:
            raise argparse.ArgumentTypeError(f"{name} must be >= {least}, not {value} (in {text!r})")
    return Bounds.from_xywh((x, y, w, h))


def _method_help() -> str:
    lines = [f"{name}: {text}" for name, text in methods.ROUTERS.items()]
    lines += [f"{m.name}: {m.summary}" for m in methods.methods().values()]
    return "; ".join(lines) + " (default auto; a method name forces it for every region)"


def add_restore_arguments(p: argparse.ArgumentParser) -> None:
    """The options `inpaint` and `batch` share."""
    g = p.add_argument_group("restoration")
    g.add_argument("--method", choices=methods.choices(), default="auto", help=_method_help())
    g.add_argument("--model", metavar="NAME|PATH", help="model name (see `restorer models`) or .pt file")
    add_search_arguments(g)
    g.add_argument(
        "--box",
        type=_box,
        metavar="x,y,w,h",
        help="context window for the holes inside it, typically around a face; enables the face model "
        "for them with --method auto",
    )
    g.add_argument(
        "--no-refine-box",
        dest="refine_box",
        action="store_false",
        help="fill from the --box as drawn (by default a few squares about it are tried and the face model "
        "fills from the one it fits best; the output names it)",
    )
    g.add_argument(
        "--no-grain",
        dest="grain",
        action="store_false",
        help="do not give the fills the photo's grain (by default a fill smoother than the photo gets it)",
    )
    g.add_argument(
        "--no-detail",
        dest="detail",
        action="store_false",
        help="face models: leave the fill as the model painted it, resampled up (by default, in a window "
        "much larger than the model, the detail finer than the model's pixels is copied from the photo)",
    )
    g.add_argument("--overwrite", action="store_true", help="allow writing over the input photo")
    g.add_argument(
        "--lossy",
        action="store_true",
        help="allow a lossy output format (.jpg, .jpeg): its re-encoding changes pixels outside the mask too",
    )
    g.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary (warnings still)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inpaint",
        help="fill the damage a mask marks in one photo",
        description="Fill the damage marked in MASK (non-zero = damaged) and write the restored photo. "
        "Only damaged pixels change; bit depth, alpha and the colour profile are kept.",
        epilog=EXIT_STATUS,
    )
    p.add_argument("image", metavar="IMAGE", type=Path, help="the damaged photo")
    p.add_argument("--mask", "-m", required=True, type=Path, metavar="MASK", help="damage mask, same size")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="OUT", help=".png, .tif or .jpg")
    add_restore_arguments(p)
    p.add_argument("--candidates", type=Path, metavar="DIR", help="write every region's candidates here")
    p.add_argument("--record", type=Path, metavar="JSON", help="write an intervention record (JSON)")
    p.add_argument(
        "--layers",
        type=Path,
        metavar="OUT.ora",
        help="also write a layered OpenRaster file: the untouched scan, the fills (with alpha), the mask",
    )
    p.add_argument("--report", type=Path, metavar="OUT.html", help="also write an HTML treatment report")
    p.set_defaults(func=run)


def restore_options(args: argparse.Namespace) -> RestoreOptions:
    return RestoreOptions(
        method=args.method,
        model=args.model,
        iterations=args.iterations,
        starts=args.starts,
        lam=args.lam,
        inversion=args.inversion,
        refine=args.refine,
        seed=args.seed,
        device=args.device,
        box=args.box,
        refine_box=args.refine_box,
        grain=args.grain,
        detail=args.detail,
    )


# --- progress --------------------------------------------------------------------------------------


class ProgressBar:
    """A one-line progress bar on a terminal (redrawn with \\r) with the time spent and an estimate of
    the time left, per region and in all; one line per region elsewhere."""

    WIDTH = 24

    def __init__(self, stream: TextIO = sys.stderr, prefix: str = "", interval: float = 0.1) -> None:
        self.stream = stream
        self.prefix = prefix
        self.interval = interval
        self.live = stream.isatty()
        self._label = ""
        self._last = 0.0
        self.eta = Eta()

    def __call__(self, event: object) -> None:
        if isinstance(event, RegionStarted):
            x, y, w, h = event.box.xywh()
            self.eta.region_started(event.index, event.count)
            self._label = f"{self.prefix}region {event.index + 1}/{event.count} {event.method}"
            self._write(f"{self._label}: {event.reason}; window {w}x{h} at {x},{y}", end="\n")
            self._last = 0.0
        elif isinstance(event, RegionProgress) and self.live:
            self.eta.progress(event.iteration, event.total)
            now = time.monotonic()
            if now - self._last >= self.interval or event.iteration == event.total:
                self._last = now
                done = round(self.WIDTH * event.iteration / event.total)
                bar = "#" * done + "." * (self.WIDTH - done)
                loss = f"  loss {event.loss:.4g}" if event.total > 1 else ""
                eta = self.eta.estimate().text()
                self._write(f"{self._label} [{bar}] {event.iteration}/{event.total}{loss}  {eta}", end="")
        elif isinstance(event, RegionFinished):
            self.eta.region_finished()
            if self.live:
                self._write("", end="\n")

    def _write(self, text: str, end: str) -> None:
        # \r and clear-to-end-of-line redraw the bar in place on a terminal.
        self.stream.write(("\r\x1b[K" if self.live else "") + text + end)
        self.stream.flush()


def _silent(event: object) -> None:
    return None


# --- running ----------------------------------------------------------------------------------------


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


LOSSY_FORMATS = ("JPEG", "WEBP")


def is_lossy(output: Path) -> bool:
    """Whether writing ``output`` re-encodes the whole photo lossily (so unmasked pixels change)."""
    from restorer.core.files import WRITE_SUFFIXES

    return WRITE_SUFFIXES.get(output.suffix.lower()) in LOSSY_FORMATS


def check_inputs(image: Path, mask: Path) -> None:
    """Refuse a missing photo or mask at once, before the engine's imports cost a second."""
    for path in (image, mask):
        if path.is_dir():
            raise RestorerError(f"{path} is a folder, not an image")
        if not path.exists():
            raise RestorerError(f"{path} does not exist")


def sweep_outputs(paths: list[Path | None], quiet: bool, prefix: str = "") -> None:
    """Remove the temp files an interrupted run (killed, power cut) left in the output folders."""
    from restorer.core.files import sweep_stale_temps

    folders = {p.parent for p in paths if p is not None}
    removed = [path for folder in sorted(folders) for path in sweep_stale_temps(folder)]
    if removed and not quiet:
        where = ", ".join(sorted({str(p.parent) for p in removed}))
        print(
            f"restorer: {prefix}removed {len(removed)} temp file(s) an interrupted run left in {where}",
            file=sys.stderr,
        )


def check_output(
    output: Path,
    image: Path,
    mask: Path,
    overwrite: bool,
    record: Path | None = None,
    candidates: Path | None = None,
    layers: Path | None = None,
    report: Path | None = None,
    *,
    lossy: bool = False,
) -> None:
    """Refuse bad output paths before any work is done, so that a failed run leaves no new file.

    Every output (the photo, the record, the candidates' folder) is checked against every input and
    every other output; an existing file is replaced only with ``overwrite``, and an input never,
    except the photo itself with ``overwrite`` (the user asked for it).
    """
    from restorer.core.errors import RestorerError
    from restorer.core.files import WRITE_SUFFIXES

    if output.suffix.lower() not in WRITE_SUFFIXES:
        raise RestorerError(f"cannot tell the format of {output}: use .png, .tif, .tiff, .jpg or .jpeg")
    if is_lossy(output) and not lossy:
        raise RestorerError(
            f"refusing to write {output}: {WRITE_SUFFIXES[output.suffix.lower()]} is lossy and changes "
            "pixels outside the mask too; write .png or .tif, or pass --lossy to accept that"
        )
    extras = {"the record": record, "the layered file": layers, "the report": report}
    files = {"the restored photo": output, **{k: v for k, v in extras.items() if v is not None}}
    for what, path in files.items():
        if path.is_dir():
            raise RestorerError(f"cannot write {what} to {path}: it is a folder")
        if not path.parent.is_dir():
            raise RestorerError(f"cannot write {what} to {path}: folder {path.parent} does not exist")
        if _same_file(path, mask):
            raise RestorerError(f"refusing to write {what} over the mask {mask}")
    seen = {output.resolve(): "the restored photo"}
    for what, path in list(files.items())[1:]:
        if _same_file(path, image) or path.resolve() in seen:
            taken = seen.get(path.resolve(), "the input photo")
            raise RestorerError(f"refusing to write {what} to {path}: it is {taken}; name another file")
        seen[path.resolve()] = what
    if candidates is not None:
        if candidates.exists() and not candidates.is_dir():
            raise RestorerError(f"cannot write candidates into {candidates}: it is a file")
        if not overwrite and candidates.is_dir() and any(candidates.glob("region-*-cand-*")):
            raise RestorerError(f"{candidates} holds candidates already; pass --overwrite to replace them")
    if _same_file(output, image):
        if not overwrite:
            raise RestorerError(
                f"refusing to overwrite the input {image}; choose another output or pass --overwrite"
            )
        return
    for what, path in files.items():
        if path.exists() and not overwrite:
            raise RestorerError(f"{path} exists; pass --overwrite to replace it ({what})")


def restore_file(
    image: Path,
    mask_path: Path,
    output: Path,
    options: RestoreOptions,
    *,
    overwrite: bool,
    quiet: bool,
    candidates_dir: Path | None = None,
    record_path: Path | None = None,
    prefix: str = "",
    layers_path: Path | None = None,
    report_path: Path | None = None,
    lossy: bool = False,
) -> RestoreResult:
    """Read, restore and write one photo (and its candidates and record); RestorerError on failure,
    NothingFilled when there was nothing it could fill (then nothing is written)."""
    extras = (record_path, candidates_dir, layers_path, report_path)
    check_inputs(image, mask_path)
    check_output(output, image, mask_path, overwrite, *extras, lossy=lossy)
    # Only now the engine's imports (scipy...): a mistyped path fails in a blink, not a second.
    from restorer.core.imageio import read_mask, read_photo, write_photo
    from restorer.core.jobs import run_to_end
    from restorer.core.patches import apply_result
    from restorer.core.pipeline import restore
    from restorer.core.record import intervention_record, with_record_xmp, write_record

    candidates_file = None if candidates_dir is None else candidates_dir / "region"
    sweep_outputs([output, record_path, layers_path, report_path, candidates_file], quiet, prefix)
    with warnings.catch_warnings(record=True) as caught:  # e.g. only the first page of a TIFF is read
        warnings.simplefilter("always")
        photo = read_photo(image)
    for w in caught:
        print(f"restorer: warning: {prefix}{w.message}", file=sys.stderr)
    mask = read_mask(mask_path, photo.size)
    if not mask.any():
        raise NothingFilled(f"{mask_path} marks no damage: nothing to fill; nothing was written")
    job = restore(photo, mask, options)
    started = time.monotonic()
    result = run_to_end(job, _silent if quiet else ProgressBar(sys.stderr, prefix))
    for warning in result.warnings:
        print(f"restorer: warning: {prefix}{warning}", file=sys.stderr)
    if result.face_box is not None and not quiet:
        drawn = options.box.text() if options.box is not None else "none"
        print(f"{prefix}face box refined to {result.face_box.text()} (drawn {drawn})", file=sys.stderr)
    if not result.patches:
        raise NothingFilled("no region could be filled (see the warnings above); nothing was written")
    files = {"photo": image, "mask": mask_path, "output": output}
    record = intervention_record(photo, [result], files)  # built always: the output's XMP holds it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        restored = apply_result(photo, result)
        write_photo(with_record_xmp(restored, record, output), output, overwrite=overwrite, protect=mask_path)
        if candidates_dir is not None:
            write_candidates(photo, result, candidates_dir)
    for w in caught:
        print(f"restorer: warning: {prefix}{w.message}", file=sys.stderr)
    if is_lossy(output):  # after the write: a failed one has changed nothing
        print(
            f"restorer: warning: {prefix}{output} is lossy (--lossy): pixels outside the mask changed too",
            file=sys.stderr,
        )
    if record_path is not None:
        write_record(record, record_path)
    if layers_path is not None or report_path is not None:
        from restorer.editing.conservation import write_for_result

        record = intervention_record(photo, [result], {**files, "layers": layers_path})
        written = [p for p in (output, record_path) if p is not None]
        write_for_result(photo, restored, result, record, written, layers_path, report_path)
    if not quiet:
        regions, pixels = len(result.patches), result.hole_pixels
        took = format_duration(time.monotonic() - started)
        print(
            f"{prefix}restored {regions} region(s), {pixels} pixel(s) in {took}; wrote {output}",
            file=sys.stderr,
        )
    return result


def write_candidates(photo: Photo, result: RestoreResult, folder: Path) -> list[Path]:
    """Each region's candidates as its window would look with it: region-01-cand-01.png, ...

    A window is shown as the engine filled it: over the photo with the earlier regions' patches.
    """
    from restorer.core.errors import RestorerError
    from restorer.core.imageio import Photo, write_photo
    from restorer.core.patches import candidate_window, crop

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RestorerError(f"cannot create {folder}: {exc.strerror or exc}") from None
    written = []
    for number, patch in enumerate(result.patches):
        window = crop(photo.pixels, patch.box, result.patches[:number])
        local = replace(patch, box=patch.box.relative_to(patch.box))  # the patch on its own window
        alpha = None if photo.alpha is None else photo.alpha[patch.box.slices]
        for k in range(len(patch.candidates)):
            pixels = candidate_window(window, local, k)
            path = folder / f"region-{patch.index + 1:02d}-cand-{k + 1:02d}.png"
            written.append(
                write_photo(Photo(pixels, alpha, photo.icc_profile, None, "PNG", dpi=photo.dpi), path)
            )
    return written


def run(args: argparse.Namespace) -> int:
    restore_file(
        args.image,
        args.mask,
        args.output,
        restore_options(args),
        overwrite=args.overwrite,
        quiet=args.quiet,
        candidates_dir=args.candidates,
        record_path=args.record,
        layers_path=args.layers,
        report_path=args.report,
        lossy=args.lossy,
    )
    return 0
