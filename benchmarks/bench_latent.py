"""Latent optimisation speed and quality: the engine against a naive reference loop.

    python benchmarks/bench_latent.py                  # CPU: ms/iteration for K = 1, 16, 64, ngf 32 and 64
    python benchmarks/bench_latent.py --device cuda    # adds total seconds for 64 starts x 1500 iterations
    python benchmarks/bench_latent.py --quick          # ngf 32, K = 1 and 16, one quality problem

The naive loop is what one writes first: eager float32, the same G and D in eval mode with frozen
parameters, torch.optim.Adam on z, clamp after each step. The engine is optimise_latent() driven
as the application drives it (a progress event per iteration included).

Quality: both paths solve the same problems (y = G(z_true), a centred square hole, K = 16 starts,
the same initial latents) and we compare the final float32 context losses and the PSNR inside the
hole, best start and median start. Networks have random weights: DCGAN init for timing (speed does
not depend on the values), and for quality PyTorch's default init with BatchNorm statistics
calibrated on random latents, so that images have structure worth inpainting.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from restorer.core.latent import (
    LatentConfig,
    LatentResult,
    importance_weights,
    initial_latents,
    optimise_latent,
    resolve_device,
)
from restorer.core.networks import Discriminator, GanArch, Generator, init_dcgan_weights

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import StepClock, bench_parser, repeats, set_threads

RESOLUTION = 64


@dataclass(frozen=True)
class Problem:
    """An inpainting problem both paths solve: frozen networks, the target image and its hole."""

    generator: Generator
    discriminator: Discriminator
    target: torch.Tensor
    hole: torch.Tensor

    def sync(self) -> None:
        if self.target.device.type == "cuda":
            torch.cuda.synchronize(self.target.device)


def make_pair(width: int, device: torch.device, calibrated: bool) -> tuple[Generator, Discriminator]:
    torch.manual_seed(0)
    arch = GanArch(resolution=RESOLUTION, ngf=width, ndf=width, d_norm="spectral")
    generator, discriminator = Generator(arch), Discriminator(arch)
    if calibrated:
        for m in generator.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = None
                m.reset_running_stats()
        generator.train()
        with torch.no_grad():
            generator(torch.rand(256, arch.nz) * 2 - 1)
    else:
        init_dcgan_weights(generator)
        init_dcgan_weights(discriminator)
    return generator.eval().to(device), discriminator.eval().to(device)


def make_problem(
    generator: Generator, discriminator: Discriminator, seed: int, device: torch.device
) -> Problem:
    with torch.no_grad():
        target = generator(initial_latents(1, generator.arch.nz, seed).to(device))[0]
    hole = torch.zeros(RESOLUTION, RESOLUTION, dtype=torch.bool, device=device)
    quarter = RESOLUTION // 4
    hole[quarter + 4 : -quarter - 4, quarter + 4 : -quarter - 4] = True
    return Problem(generator, discriminator, target, hole)


def naive_loop(problem: Problem, config: LatentConfig, timed_from: int = 0) -> tuple[torch.Tensor, float]:
    """The straightforward implementation. Returns final z and seconds for iterations after ``timed_from``."""
    generator, discriminator = problem.generator, problem.discriminator
    generator.requires_grad_(False)
    discriminator.requires_grad_(False)
    weights = importance_weights(problem.hole)
    z = (
        initial_latents(config.starts, generator.arch.nz, config.seed)
        .to(problem.target.device)
        .requires_grad_()
    )
    optimiser = torch.optim.Adam([z], lr=config.lr, betas=(0.9, 0.999))
    clock = StepClock(timed_from, config.iterations, problem.sync)
    for i in range(config.iterations):
        clock.at(i)
        optimiser.zero_grad()
        images = generator(z)
        context = (weights * (images - problem.target).abs()).sum(dim=(1, 2, 3))
        prior = -F.softplus(discriminator(images))
        (context + config.lam * prior).sum().backward()
        optimiser.step()
        with torch.no_grad():
            z.clamp_(-1, 1)
    clock.at(config.iterations)
    return z.detach(), clock.seconds


def engine_run(problem: Problem, config: LatentConfig, timed_from: int = 0) -> tuple[LatentResult, float]:
    """Drive optimise_latent as the app does; seconds for the iterations after ``timed_from``."""
    job = optimise_latent(problem.generator, problem.discriminator, problem.target, problem.hole, config)
    clock = StepClock(timed_from, config.iterations, problem.sync)
    while True:
        try:
            event = next(job)
        except StopIteration as stop:
            return stop.value, clock.seconds
        clock.at(event.iteration)


def time_per_iteration(args: argparse.Namespace, device: torch.device) -> None:
    print(
        f"\n== ms per iteration on {device} (min of {args.repeats} runs; {torch.get_num_threads()} threads)"
    )
    print(f"{'ngf':>4} {'K':>4} {'naive':>9} {'engine':>9} {'speedup':>8}")
    for width in args.widths:
        problem = make_problem(*make_pair(width, device, calibrated=False), 999, device)
        for starts in args.starts:
            timed = args.iterations or max(4, 48 // starts)
            warm = 3
            config = LatentConfig(iterations=warm + timed, starts=starts, device=str(device))
            naive, engine = [], []
            for _ in range(args.repeats):  # interleaved, so background load hits both alike
                naive.append(naive_loop(problem, config, warm)[1] / timed)
                engine.append(engine_run(problem, config, warm)[1] / timed)
            n_ms, e_ms = 1000 * min(naive), 1000 * min(engine)
            print(f"{width:>4} {starts:>4} {n_ms:>9.2f} {e_ms:>9.2f} {n_ms / e_ms:>7.2f}x", flush=True)


def psnr_in_hole(images: torch.Tensor, target: torch.Tensor, hole: torch.Tensor) -> list[float]:
    err = ((images - target)[:, :, hole] ** 2).mean(dim=(1, 2))
    return (10 * torch.log10(4 / err)).tolist()


def compare_quality(args: argparse.Namespace, device: torch.device) -> None:
    width = args.widths[0]
    print(
        f"\n== quality, ngf={width}: {args.quality_iterations} iterations, 16 starts, "
        f"{args.problems} problems (final float32 context loss; PSNR in the hole, dB)"
    )
    generator, discriminator = make_pair(width, device, calibrated=True)
    config = LatentConfig(iterations=args.quality_iterations, starts=16, device=str(device))
    print(
        f"{'problem':>7} {'path':>6} {'best ctx':>9} {'median ctx':>11} {'best PSNR':>10} {'median PSNR':>12}"
    )
    for seed in range(args.problems):
        problem = make_problem(generator, discriminator, 1000 + seed, device)
        weights = importance_weights(problem.hole)
        z, _ = naive_loop(problem, config)
        with torch.no_grad():
            images = generator(z)
        rows = {
            "naive": ((weights * (images - problem.target).abs()).sum(dim=(1, 2, 3)), images),
        }
        result, _ = engine_run(problem, config)
        rows["engine"] = (result.context_losses, result.images)
        for name, (context, imgs) in rows.items():
            psnr = psnr_in_hole(imgs, problem.target, problem.hole)
            print(
                f"{seed:>7} {name:>6} {float(context.min()):>9.3f} {float(context.median()):>11.3f} "
                f"{max(psnr):>10.2f} {statistics.median(psnr):>12.2f}",
                flush=True,
            )


def full_run(args: argparse.Namespace, device: torch.device) -> None:
    width = args.widths[0]
    problem = make_problem(*make_pair(width, device, calibrated=False), 999, device)
    config = LatentConfig(iterations=1500, starts=64, device=str(device))
    engine_run(problem, LatentConfig(iterations=5, starts=64, device=str(device)))
    problem.sync()
    start = time.perf_counter()
    engine_run(problem, config)
    total = time.perf_counter() - start
    print(f"\n== engine, ngf={width}, 64 starts x 1500 iterations on {device}: {total:.2f} s in total")


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser(
        __doc__, "ngf 32, K = 1 and 16, one quality problem, 1 run", repeats=3, quick_repeats=1
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    parser.add_argument("--widths", type=lambda s: [int(w) for w in s.split(",")], default=None)
    parser.add_argument("--starts", type=lambda s: [int(k) for k in s.split(",")], default=None)
    parser.add_argument(
        "--iterations", type=int, default=0, help="timed iterations (default: 48/K, at least 4)"
    )
    parser.add_argument("--quality-iterations", type=int, default=300)
    parser.add_argument("--problems", type=int, default=None, help="quality problems (default 3, quick 1)")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--full-run", action="store_true", help="also time 64 x 1500 (default on CUDA)")
    args = parser.parse_args(argv)
    args.repeats = repeats(args)
    args.widths = args.widths or ([32] if args.quick else [32, 64])
    args.starts = args.starts or ([1, 16] if args.quick else [1, 16, 64])
    args.problems = args.problems or (1 if args.quick else 3)
    set_threads(args.threads)
    device = resolve_device(args.device)
    time_per_iteration(args, device)
    if not args.skip_quality:
        compare_quality(args, device)
    if args.full_run or device.type == "cuda":
        full_run(args, device)


if __name__ == "__main__":
    main()
