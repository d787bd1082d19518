"""`restorer gui [PHOTO]` (also plain `restorer` and `restorer PHOTO`): open the restoration window."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the restoration window (the default when no command is given)")
    p.add_argument("photo", nargs="?", help="a photo to open (PNG, TIFF, JPEG or WebP)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from restorer.core.errors import RestorerError

    if args.photo is not None and not Path(args.photo).is_file():
        raise RestorerError(f"no such photo: {args.photo}")
    try:
        # Imported by name: commands must not import Qt statically (import-linter contract), and
        # the headless commands and their tests run without PySide6 installed.
        app = importlib.import_module("restorer.gui.app")
    except ImportError as exc:
        raise RestorerError(
            f"the window needs PySide6 and qtawesome ({exc.name or exc} is missing)"
        ) from None
    return int(app.main(args.photo) or 0)
