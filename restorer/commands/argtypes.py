"""argparse types shared by the subcommands: numbers checked with a clear message (exit 2 on bad usage)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def int_at_least(minimum: int) -> Callable[[str], int]:
    """A whole number no smaller than ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    return parse


def int_between(minimum: int, maximum: int) -> Callable[[str], int]:
    """A whole number in [minimum, maximum]."""
    at_least = int_at_least(minimum)

    def parse(text: str) -> int:
        value = at_least(text)
        if value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, not {value}")
        return value

    return parse


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, not {text}")
    return value


#: Largest prior weight λ accepted. The default is 0.003; at 1000 the context term is already
#: negligible, and far beyond it the search's loss overflows float32 into NaN.
MAX_LAMBDA = 1000.0


def prior_weight(text: str) -> float:
    """--lambda: a finite weight in [0, MAX_LAMBDA], refused by name rather than as a NaN later."""
    value = non_negative_float(text)
    if value > MAX_LAMBDA:
        raise argparse.ArgumentTypeError(
            f"must be at most {MAX_LAMBDA:g} (the default is 0.003; larger weights make the search "
            f"ignore the photo and overflow), not {text}"
        )
    return value


def add_search_arguments(g: argparse._ActionsContainer, seed_help: str = "random seed (default 0)") -> None:
    """The latent search's settings, the seed and the device: one definition for inpaint, batch and eval."""
    from restorer.core.types import DEVICES, INVERSIONS, MAX_STARTS, RestoreOptions

    defaults = RestoreOptions()

    g.add_argument(
        "--iterations",
        type=int_at_least(1),
        default=defaults.iterations,
        metavar="N",
        help=f"latent: optimisation steps (default {defaults.iterations}; the paper used 1500)",
    )
    g.add_argument(
        "--starts",
        type=int_between(1, MAX_STARTS),
        default=defaults.starts,
        metavar="K",
        help=f"latent: starts optimised together, the candidates (default {defaults.starts})",
    )
    g.add_argument(
        "--lambda",
        "--lam",
        dest="lam",
        type=prior_weight,
        default=0.003,
        metavar="L",
        help="latent: prior weight λ (default 0.003)",
    )
    g.add_argument(
        "--inversion",
        choices=INVERSIONS,
        default="auto",
        help="latent: start the search around the model's encoder guess (encoder), from uniform random "
        "latents as Yeh et al. (yeh), or encoder when the model has one (auto, the default)",
    )
    g.add_argument(
        "--refine",
        type=int_at_least(0),
        default=defaults.refine,
        metavar="N",
        help="latent: after the search, N steps refining the generator's 16x16 features for a tighter "
        f"fit that stays near its own (default {defaults.refine}; 0 = off)",
    )
    g.add_argument("--seed", type=int_at_least(0), default=0, metavar="S", help=seed_help)
    g.add_argument("--device", choices=DEVICES, default="auto", help="(default auto)")
