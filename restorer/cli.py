"""Command line entry point: ``restorer [PHOTO]`` opens the window, ``restorer COMMAND ...`` runs headless.

Each subcommand lives in ``restorer.commands.<name>`` and exposes ``add_parser(subparsers)``,
which registers its arguments and sets ``func`` to a ``run(args) -> int``. Command modules
import heavy packages (torch) inside ``run`` so that ``--help`` and the GUI start stay fast.
Exit status: 0 ok, 1 failed (one line on stderr; ``--debug`` adds the traceback), 2 bad usage,
130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
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
    # Taken out of the arguments by main() wherever it stands; declared here for --help.
    parser.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"restorer.commands.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    argv, debug = _take_debug(argv)
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
        if debug:
            traceback.print_exc()
        print(f"restorer: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("restorer: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or the machine (memory): one line, the traceback on request
        if debug:
            traceback.print_exc()
        print(f"restorer: error: {unexpected_message(exc)}{'' if debug else _DEBUG_HINT}", file=sys.stderr)
        return 1


_DEBUG_HINT = " (rerun with --debug for the traceback)"
_MAX_MESSAGE = 300


def _take_debug(argv: list[str]) -> tuple[list[str], bool]:
    """``argv`` without ``--debug`` and whether it was there. Accepted anywhere before a ``--``, so a
    user can add it to the end of the command that failed, as the hint says."""
    end = argv.index("--") if "--" in argv else len(argv)
    kept = [a for a in argv[:end] if a != "--debug"]
    return kept + argv[end:], len(kept) < end


def unexpected_message(exc: BaseException) -> str:
    """One line for an exception no check foresaw: what ran out, or its type and first line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if len(first) > _MAX_MESSAGE:
        first = first[: _MAX_MESSAGE - 3] + "..."
    if _out_of_memory(exc, first):
        return "out of memory" + (f" ({first})" if first else "") + "; try a smaller photo or fewer starts"
    return f"unexpected {type(exc).__name__}" + (f": {first}" if first else "")


def _out_of_memory(exc: BaseException, first: str) -> bool:
    # torch reports allocator failures as RuntimeError (CPU) or its OutOfMemoryError subclass (CUDA).
    text = first.lower()
    return (
        isinstance(exc, MemoryError)
        or type(exc).__name__ == "OutOfMemoryError"
        or (isinstance(exc, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text))
    )
