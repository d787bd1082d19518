"""`restorer models`: list the models Restorer can find, where they are, and which are defaults."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="list the installed models",
        description="List the models in the repository's models/ folder and in your models folder "
        "($RESTORER_USER_MODELS or the platform's data folder). A name found in both is taken from "
        "the repository.",
    )
    p.set_defaults(func=run)


def _where(path: Path) -> str:
    from restorer.core.weights import REPO_MODELS_DIR, user_models_dir

    for label, folder in (("repository", REPO_MODELS_DIR), ("user", user_models_dir())):
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
    resolution = payload.get("arch", {}).get("resolution", "?")
    return str(payload.get("kind", "?")), f"{resolution}px"


def run(args: argparse.Namespace) -> int:
    from restorer.core.weights import DEFAULT_MODELS, list_models, models_search_path

    paths = list_models()
    if not paths:
        folders = " and ".join(str(f) for f in models_search_path())
        print(f"no models found (looked in {folders})")
        return 0
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
