"""`restorer gui`: placeholder until its issue lands."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="(not yet available)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from restorer.core.errors import RestorerError

    raise RestorerError("`restorer gui` is not available yet")
