"""The intervention record: a JSON account of every restoration applied to a photo.

One shape for the command line and the window: the photo, the files involved, and one entry per
restoration (its options, and per region the window, hole size, method and why, model and
checksum, parameters, candidates and the one chosen). A conservator files it beside the image, and
a copy goes into the restored photo's own XMP (``with_record_xmp``, ``restorer.core.xmp``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from restorer import __version__
from restorer.core.files import WRITE_SUFFIXES, atomic_write_bytes, check_json
from restorer.core.imageio import JPEG_XMP_LIMIT, Photo
from restorer.core.types import RestoreResult
from restorer.core.xmp import merge_record

FORMAT = "restorer-record/2"


def restoration_entry(result: RestoreResult) -> dict:
    """One restoration: its options, its regions and its warnings."""
    regions = []
    for patch in result.patches:
        params = dict(patch.params)
        sha = params.pop("model_sha256", None)
        regions.append(
            {
                "index": patch.index,
                "window": list(patch.box.xywh()),
                "hole_pixels": patch.hole_pixels,
                "method": patch.method,
                "reason": patch.reason,
                "model": None if patch.model is None else {"name": patch.model, "sha256": sha},
                "parameters": params,
                "candidates": len(patch.candidates),
                "chosen": patch.chosen,
                "chosen_loss": patch.losses[patch.chosen] if patch.losses else None,
            }
        )
    return {
        "options": result.options.record(),
        "hole_pixels": result.hole_pixels,
        "regions": regions,
        "warnings": list(result.warnings),
    }


def intervention_record(
    photo: Photo, restorations: Sequence[RestoreResult], files: dict | None = None
) -> dict:
    """The whole record: ``restorations`` oldest first; ``files`` names the photo, mask, output..."""
    return {
        "format": FORMAT,
        "restorer_version": __version__,
        "date": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
        "photo": {
            "source": str(photo.source) if photo.source is not None else None,
            "size": list(photo.size),
            "channels": photo.pixels.shape[2],
            "bit_depth": photo.bit_depth,
        },
        "files": {k: str(v) if v is not None else None for k, v in (files or {}).items()},
        "restorations": [restoration_entry(r) for r in restorations],
    }


def write_record(record: dict, path: str | Path) -> Path:
    """Write ``record`` as UTF-8 JSON, atomically, checked (read back) before it replaces anything."""
    text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    return atomic_write_bytes(path, text.encode("utf-8"), check_json)


def with_record_xmp(photo: Photo, record: dict, output: str | Path | None = None) -> Photo:
    """``photo`` whose XMP also holds ``record``, for writing to ``output`` (JPEG limits the size).

    A record without restorations adds nothing: there is no intervention to tell of.
    """
    if not record.get("restorations"):
        return photo
    fmt = WRITE_SUFFIXES.get(Path(output).suffix.lower()) if output is not None else None
    xmp = merge_record(photo.xmp, record, limit=JPEG_XMP_LIMIT if fmt == "JPEG" else None)
    return dataclasses.replace(photo, xmp=xmp)
