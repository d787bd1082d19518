"""`restorer train gan|context-encoder|encoder|detector`: train the models (cards in models/)."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable


def _common(p: argparse.ArgumentParser, default_name: str, default_steps: int) -> None:
    p.add_argument(
        "--data",
        nargs="+",
        required=True,
        metavar="PATH",
        help="image folders and/or zip files (e.g. ../shared/data/fairface/train-*.zip)",
    )
    p.add_argument("--size", type=int, choices=(64, 128), default=64, help="model resolution in pixels")
    p.add_argument(
        "--out", required=True, metavar="DIR", help="run folder: checkpoint, samples, log, weights"
    )
    p.add_argument("--name", default=default_name, help="file name (stem) of the exported weights")
    p.add_argument("--steps", type=int, default=default_steps, help="optimiser steps in total")
    p.add_argument("--batch", type=int, default=64, help="images per step (per process under torchrun)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0 = all)")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast (GPU, or CPUs with AVX-512 bf16)")
    p.add_argument("--sample-every", type=int, default=500, help="steps between sample grids")
    p.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints")
    p.add_argument("--limit", type=int, default=None, help="use only the first N images")
    p.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    p.add_argument("--max-minutes", type=float, default=None, help="stop and export after this wall time")
    p.add_argument("--cache", default=".data", help="folder for the decoded-image cache ('' = none)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the face GAN or the Context Encoder")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    g = kinds.add_parser("gan", help="DCGAN generator + discriminator for latent-optimisation inpainting")
    _common(g, "face64", 20000)
    g.add_argument("--ngf", type=int, default=32, help="generator width")
    g.add_argument("--ndf", type=int, default=32, help="discriminator width")
    g.add_argument("--d-norm", choices=("spectral", "batch"), default="spectral")
    g.add_argument("--ema", type=float, default=0.999, help="EMA decay of the exported generator")
    g.add_argument("--lr", type=float, default=2e-4)
    _add_init(g, "face64", "G (and its EMA), D and the latent encoder")
    g.set_defaults(func=run_gan)
    c = kinds.add_parser("context-encoder", help="Pathak et al.'s Context Encoder")
    _common(c, "face64-context-encoder", 20000)
    c.add_argument("--nef", type=int, default=32, help="encoder width")
    c.add_argument("--ndf", type=int, default=32, help="adversarial discriminator width")
    c.add_argument("--lr", type=float, default=2e-4)
    c.add_argument("--lambda-rec", type=float, default=0.999)
    c.add_argument("--lambda-adv", type=float, default=0.001)
    c.add_argument("--border-weight", type=float, default=10.0, help="loss weight on the hole's border band")
    _add_init(c, "face64-context-encoder", "encoder-decoder and discriminator")
    c.set_defaults(func=run_context_encoder)
    e = kinds.add_parser("encoder", help="latent encoder E for the GAN: the inversion starts around E(y)")
    _common(e, "face64", 20000)
    e.add_argument(
        "--gan", default="face64", metavar="NAME|PATH", help="the GAN whose G E inverts (default face64)"
    )
    e.add_argument("--lr", type=float, default=2e-4)
    e.add_argument("--cycle-weight", type=float, default=0.5, help="weight of the latent-cycle loss")
    e.set_defaults(func=run_latent_encoder)
    _add_detector(kinds)


def _add_detector(kinds: argparse._SubParsersAction) -> None:
    from pathlib import Path

    data = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
    d = kinds.add_parser("detector", help="damage-segmentation network for `restorer detect`")
    d.add_argument(
        "--data",
        nargs="+",
        metavar="PATH",
        default=[str(data / "photos" / "kodak"), str(data / "fairface" / "train-0.zip")],
        help="clean photo folders / zips (kodim01-04 and FairFace val.zip are held out and refused)",
    )
    d.add_argument("--out", required=True, metavar="DIR", help="run folder: checkpoint, log, weights")
    d.add_argument("--name", default="detector", help="file name (stem) of the exported weights")
    d.add_argument("--size", type=int, default=128, help="training crop side in pixels (multiple of 32)")
    d.add_argument("--steps", type=int, default=1200, help="optimiser steps (the cosine schedule's length)")
    d.add_argument("--batch", type=int, default=12, help="crops per step")
    d.add_argument("--lr", type=float, default=2e-3)
    d.add_argument("--base", type=int, default=16, help="width of the full-resolution level")
    d.add_argument("--depth", type=int, default=4, help="number of 2x poolings")
    d.add_argument(
        "--stem-stride",
        type=int,
        choices=(1, 2),
        default=2,
        help="2 (default): the U-Net runs at half resolution with a full-resolution branch, ~3x faster",
    )
    d.add_argument("--dice-weight", type=float, default=1.0, help="weight of the Dice loss next to BCE")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--threads", type=int, default=0, help="CPU threads (0 = all)")
    d.add_argument("--limit", type=int, default=4000, help="use at most N images from each zip")
    d.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    _add_init(d, "detector", "filters")
    d.add_argument("--max-minutes", type=float, default=None, help="stop and export after this wall time")
    d.add_argument("--checkpoint-every", type=int, default=100, help="steps between checkpoints")
    d.set_defaults(func=run_detector)


def _train(args: argparse.Namespace, config_cls: type, train: Callable, **renamed: object) -> int:
    """Build the trainer's config from the arguments of the same names, run it, report the weights."""
    from restorer.core.errors import RestorerError
    from restorer.core.jobs import run_to_end

    if args.steps < 1 or args.batch < 1:
        raise RestorerError("--steps and --batch must be at least 1")
    names = {f.name for f in dataclasses.fields(config_cls)}
    # "command" is the subcommand's name in args; the config records the whole command line itself.
    values = {k: v for k, v in vars(args).items() if k in names and k != "command"}
    values.update(data=list(args.data), **renamed)
    if "cache" in names:
        values["cache"] = args.cache or None
    path = run_to_end(train(config_cls(**values)))
    print(f"wrote {path}")
    return 0


def run_gan(args: argparse.Namespace) -> int:
    from restorer.training.gan import GanTrainConfig, train_gan

    return _train(args, GanTrainConfig, train_gan, lr_g=args.lr, lr_d=args.lr, **_init(args))


def run_context_encoder(args: argparse.Namespace) -> int:
    from restorer.training.context_encoder import ContextEncoderTrainConfig, train_context_encoder

    return _train(args, ContextEncoderTrainConfig, train_context_encoder, **_init(args))


def run_latent_encoder(args: argparse.Namespace) -> int:
    from restorer.training.latent_encoder import LatentEncoderTrainConfig, train_latent_encoder

    return _train(args, LatentEncoderTrainConfig, train_latent_encoder)


def run_detector(args: argparse.Namespace) -> int:
    from restorer.core.errors import RestorerError
    from restorer.training.detector import DetectorTrainConfig, train_detector

    multiple = 2**args.depth * args.stem_stride
    if args.size % multiple:
        raise RestorerError(f"--size must be a multiple of {multiple} (2 ** --depth x --stem-stride)")
    return _train(args, DetectorTrainConfig, train_detector, **_init(args))


def _add_init(p: argparse.ArgumentParser, default: str, what: str) -> None:
    p.add_argument(
        "--init",
        default=None,
        metavar="NAME|PATH|none",
        help=f"without a checkpoint, start from these weights' {what} (default: the shipped {default} "
        "when installed and of the same architecture), so training improves on the shipped model; "
        "none = random weights",
    )
    p.set_defaults(default_init=default)


def _init(args: argparse.Namespace) -> dict:
    """The config's start: ``init`` (a path, or None for random weights) and ``init_required``
    (the user named it, so it must exist and fit)."""
    from restorer.core.errors import RestorerError
    from restorer.core.weights import resolve_model

    if args.init is not None and args.init.lower() == "none":
        return {"init": None, "init_required": False}
    if args.init is not None:
        return {"init": str(resolve_model(args.init)), "init_required": True}
    try:
        return {"init": str(resolve_model(args.default_init)), "init_required": False}
    except RestorerError:
        return {"init": None, "init_required": False}  # nothing shipped yet: random weights
