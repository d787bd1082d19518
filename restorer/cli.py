"""Command line entry point: ``restorer [PHOTO]`` opens the window, ``restorer COMMAND ...`` runs headless.

Each subcommand lives in ``restorer.commands.<name>`` and exposes ``add_parser(subparsers)``,
which registers its arguments and sets ``func`` to a ``run(args) -> int``. Command modules
import heavy packages (torch) inside ``run`` so that ``--help`` and the GUI start stay fast.
Exit status: 0 ok, 1 failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from restorer import __version__
from restorer.core.errors import RestorerError

COMMANDS = ("inpaint", "batch", "models", "detect", "train", "eval", "gui")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="restorer",
        description="Restore damaged photographs. Without a command (or with a photo) it opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"restorer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"restorer.commands.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        argv = ["gui", *argv]  # `restorer` and `restorer PHOTO` open the window
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    try:
        return int(args.func(args) or 0)
    except RestorerError as exc:
        print(f"restorer: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("restorer: interrupted", file=sys.stderr)
        return 130
