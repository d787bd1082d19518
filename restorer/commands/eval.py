"""`restorer eval`: score the fill methods on a folder or zip of face images (Yeh et al. 2017, Table 1)."""

from __future__ import annotations

import argparse

from restorer.commands.argtypes import add_search_arguments, int_at_least
from restorer.core import methods

# The names of restorer.training.masks.MASK_TYPES, repeated here (a test keeps them equal) so that
# building the parser (on every `restorer` start) does not import scipy. Methods come from the
# registry, which imports neither scipy nor torch.
MASK_TYPES = ("center", "pattern", "random80", "half")


def _choices(allowed: tuple[str, ...], what: str):
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
        bad = [n for n in names if n not in allowed]
        if bad or not names:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {bad[0] if bad else text!r} (choose from {', '.join(allowed)})"
            )
        return names

    return parse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="benchmark the fill methods (PSNR / SSIM per mask type, with and without blending)",
        description="Damage each test image with each mask type, fill it with each method and score the "
        "fill against the original with PSNR and SSIM over the whole image, pasted and Poisson-blended "
        "(the protocol of Yeh et al. 2017, Table 1). Writes results.md, results.json and grid.png.",
    )
    p.add_argument(
        "--data", nargs="+", required=True, metavar="PATH", help="image folders, zip files or images"
    )
    p.add_argument(
        "--out", required=True, metavar="DIR", help="folder for results.md, results.json, grid.png"
    )
    p.add_argument(
        "--masks",
        type=_choices(MASK_TYPES, "mask type"),
        default=MASK_TYPES,
        help=f"comma-separated mask types (default: {','.join(MASK_TYPES)})",
    )
    names = tuple(methods.methods())
    p.add_argument(
        "--methods",
        type=_choices(names, "method"),
        default=names,
        help=f"comma-separated fill methods (default: all, {','.join(names)})",
    )
    p.add_argument("--limit", type=int_at_least(1), default=500, help="use the first N images (default: 500)")
    p.add_argument("--model", default=None, help="dcgan model, for the latent method (default: face64)")
    p.add_argument(
        "--ce-model",
        default=None,
        help="context-encoder model, for the context-encoder method (default: face64-context-encoder)",
    )
    p.add_argument(
        "--batch",
        type=int_at_least(1),
        default=64,
        help="images per fill pass (latent: images x starts; default 64)",
    )
    p.add_argument("--examples", type=int_at_least(0), default=2, help="grid rows per mask type (default: 2)")
    add_search_arguments(p, seed_help="seed for the masks and latent starts (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys
    import time
    from pathlib import Path

    from restorer.core.errors import RestorerError
    from restorer.core.jobs import run_to_end
    from restorer.core.weights import DEFAULT_MODELS
    from restorer.training.evaluate import EvalProgress, EvalSettings, evaluate, write_report

    out = Path(args.out)
    if out.exists() and not out.is_dir():  # found now, not after hours of filling
        raise RestorerError(f"--out {out} exists and is not a folder")
    settings = EvalSettings(
        masks=args.masks,
        methods=args.methods,
        limit=args.limit,
        model=args.model or DEFAULT_MODELS["dcgan"],
        ce_model=args.ce_model or DEFAULT_MODELS["context-encoder"],
        iterations=args.iterations,
        starts=args.starts,
        lam=args.lam,
        inversion=args.inversion,
        refine=args.refine,
        batch=args.batch,
        seed=args.seed,
        device=args.device,
        examples=args.examples,
    )
    interactive = sys.stderr.isatty()
    started = time.monotonic()
    last_shown = 0.0

    def show(event: EvalProgress) -> None:
        """A live line on a terminal; one line per finished method and mask type in a log."""
        nonlocal last_shown
        now = time.monotonic()
        finished = event.done == event.total and not event.iterations
        if interactive and (now - last_shown >= 0.5 or finished):
            last_shown = now
            step = f" step {event.iteration}/{event.iterations}" if event.iterations else ""
            sys.stderr.write(f"\r{event.method:>15} {event.mask:<8} {event.done}/{event.total}{step}    ")
        elif not interactive and finished:
            sys.stderr.write(
                f"{event.method} {event.mask}: {event.total} images, {now - started:.0f} s elapsed\n"
            )
        sys.stderr.flush()

    result = run_to_end(evaluate(args.data, settings), show)
    if interactive:
        sys.stderr.write("\n")
    for path in write_report(result, out):
        print(path)
    return 0
