"""`restorer batch`: placeholder until its issue lands."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="(not yet available)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from restorer.core.errors import RestorerError

    raise RestorerError("`restorer batch` is not available yet")
