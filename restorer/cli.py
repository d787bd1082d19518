"""Command line entry point: ``restorer [PHOTO]`` opens the window, ``restorer COMMAND ...`` runs headless.

Each subcommand lives in ``restorer.commands.<name>`` and exposes ``add_parser(subparsers)``,
which registers its arguments and sets ``func`` to a ``run(args) -> int``. Command modules
import heavy packages (torch) inside ``run`` so that ``--help`` and the GUI start stay fast.
Exit status: 0 ok, 1 failed (one line on stderr; ``--debug`` adds the traceback), 2 bad usage,
3 nothing could be filled (``inpaint``, ``batch``: nothing written), 130 interrupted (Ctrl-C),
143 terminated (SIGTERM, e.g. ``kill`` or a job scheduler). Interrupted or terminated, a write in
progress is abandoned and its temp file removed, so the old output stays as it was.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import re
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence

from restorer import __version__
from restorer.core.errors import RestorerError

COMMANDS = ("inpaint", "batch", "models", "detect", "train", "eval", "gui")
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM: a script can tell a kill from a Ctrl-C
# Options whose value may start with "-" and a digit ("--box -5,0,10,10"): argparse takes such a
# value for an option and reports "expected one argument", so it is joined as "--box=-5,...".
NEGATIVE_VALUE_OPTIONS = ("--box",)


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like KeyboardInterrupt (temp files removed), never caught as an error."""


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
    argv = _join_negative_values(argv)
    if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        argv = ["gui", *argv]  # `restorer` and `restorer PHOTO` open the window
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    try:
        with _sigterm_raises(args.command != "gui"):  # the window quits through Qt, not here
            return int(args.func(args) or 0)
    except RestorerError as exc:
        if debug:
            traceback.print_exc()
        print(f"restorer: error: {exc}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 1))
    except KeyboardInterrupt:
        print("restorer: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("restorer: terminated", file=sys.stderr)
        return EXIT_TERMINATED
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


def _join_negative_values(argv: list[str]) -> list[str]:
    """``--box -5,0,10,10`` as ``--box=-5,0,10,10``, so the option's own check names what is wrong."""
    out: list[str] = []
    for token in argv:
        if out and out[-1] in NEGATIVE_VALUE_OPTIONS and re.match(r"-\d", token):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


@contextlib.contextmanager
def _sigterm_raises(enabled: bool) -> Iterator[None]:
    """While a command runs, SIGTERM raises Terminated in the main thread (Python's default is to die
    on the spot, leaving temp files and a half-written output behind)."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
