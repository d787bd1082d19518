"""`restorer models`: list the models Restorer can find, where they are, and which are defaults."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="list the installed models",
        description="List the models shipped with Restorer (the package restorer.models, the "
        "repository's models/ folder) and those in your models folder ($RESTORER_USER_MODELS or the "
        "platform's data folder), after the folders looked in. A name found in both is taken from the "
        "shipped ones. Exits 1 when no model is found.",
    )
    p.set_defaults(func=run)


def _folders() -> list[tuple[str, Path]]:
    """The folders on the search path with a label: "shipped" (restorer.models), then "user"."""
    from restorer.core.weights import REPO_MODELS_DIR, models_search_path

    return [("shipped" if f == REPO_MODELS_DIR else "user", f) for f in models_search_path()]


def _where(path: Path) -> str:
    for label, folder in _folders():
        if path.resolve().parent == folder.resolve():
            return label
    return "other"


def _describe(path: Path) -> tuple[str, str]:
    """(kind, resolution) from the file, or ("unreadable", the reason)."""
    from restorer.core.errors import RestorerError
    from restorer.core.weights import read_payload

    try:
        payload = read_payload(path)
    except RestorerError as exc:
        return "unreadable", str(exc)
    kind, arch = str(payload.get("kind", "?")), payload.get("arch", {})
    if kind == "detector":  # runs at any size, in tiles
        return kind, "any"
    return kind, f"{arch.get('resolution', '?')}px"


def run(args: argparse.Namespace) -> int:
    from restorer.core.errors import RestorerError
    from restorer.core.weights import DEFAULT_MODELS, list_models

    for label, folder in _folders():
        state = "" if folder.is_dir() else "  (no such folder)"
        print(f"looked in ({label}): {folder}{state}", flush=True)
    paths = list_models()
    if not paths:
        raise RestorerError(
            "no models found in those folders; reinstall Restorer or put .pt files into the user folder"
        )
    print()
    defaults = {name: kind for kind, name in DEFAULT_MODELS.items()}
    rows = [("NAME", "KIND", "RES", "WHERE", "PATH")]
    notes = []
    for path in paths:
        kind, resolution = _describe(path)
        name = path.stem + (" *" if path.stem in defaults else "")
        if kind == "unreadable":
            notes.append(f"{path.stem}: {resolution}")
            resolution = "-"
        rows.append((name, kind, resolution, _where(path), str(path)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)) + "  " + row[4]
        )
    if any(path.stem in defaults for path in paths):
        print("* default model for its method")
    for note in notes:
        print(f"unreadable: {note}")
    return 0
