"""DCGAN training (Radford et al. 2016) with measured stabilisers, for the face prior of Yeh et al.

z is drawn uniformly from [-1, 1]^nz, the box the latent optimiser clips to. The discriminator uses
spectral normalisation (Miyato et al. 2018) by default and the non-saturating logistic loss, so its
logit stays a log-odds and Yeh et al.'s prior term log(1 - D(G(z))) keeps its meaning. An EMA of the
generator's weights (decay 0.999) is what gets exported; its BatchNorm statistics are recomputed at
export because the engine runs G in eval mode.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Generator as Gen
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from restorer.core.networks import Discriminator, GanArch, Generator, init_dcgan_weights
from restorer.core.weights import save_weights
from restorer.training.common import (
    TrainingRun,
    provenance,
    recalibrate_bn,
    save_grid,
    unwrap,
    update_ema,
    wrap_ddp,
)


@dataclass
class GanTrainConfig:
    data: list[str]
    out: str
    size: int = 64
    steps: int = 20000
    batch: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    ngf: int = 32
    ndf: int = 32
    d_norm: str = "spectral"
    ema: float = 0.999
    tone_prob: float = 0.1
    seed: int = 0
    device: str = "auto"
    threads: int = 0  # 0 = torch default
    bf16: bool = False  # bf16 autocast (CPU with AVX-512 bf16, or GPU)
    sample_every: int = 500
    checkpoint_every: int = 500
    limit: int | None = None
    resume: bool = False
    init: str | None = None  # finished weights to start from when there is no checkpoint
    init_required: bool = False  # the user named --init: a misfit is an error, not a fresh start
    name: str = "face64"
    max_minutes: float | None = None  # stop (and export) after this wall time
    cache: str | None = ".data"
    command: str = field(default_factory=lambda: " ".join(["restorer", *sys.argv[1:]]))


def gan_losses_d(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator's logistic loss: -log D(x) - log(1 - D(G(z)))."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def gan_loss_g(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: -log D(G(z))."""
    return F.softplus(-fake_logits).mean()


def uniform_z(n: int, nz: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return (torch.rand(n, nz, generator=generator) * 2 - 1).to(device)


def train_gan(cfg: GanTrainConfig) -> Gen[dict, None, Path]:
    """Train; yields a dict of losses per step; returns the exported weights path."""
    run = TrainingRun(cfg)
    device = run.device
    arch = GanArch(resolution=cfg.size, ngf=cfg.ngf, ndf=cfg.ndf, d_norm=cfg.d_norm)
    g_net, d_net = Generator(arch).to(device), Discriminator(arch).to(device)
    init_dcgan_weights(g_net)
    init_dcgan_weights(d_net)
    g_ema = copy.deepcopy(g_net).eval().requires_grad_(False)
    started = run.start_from(
        cfg.init, "dcgan", arch, generator=[g_net, g_ema], discriminator=[d_net]
    )  # the shipped generator is the EMA: both the trained net and its average start from it
    opt_g = torch.optim.Adam(g_net.parameters(), cfg.lr_g, betas=(cfg.beta1, 0.999))
    opt_d = torch.optim.Adam(d_net.parameters(), cfg.lr_d, betas=(cfg.beta1, 0.999))
    run.track(generator=g_net, discriminator=d_net, generator_ema=g_ema, opt_g=opt_g, opt_d=opt_d)
    g_train, d_train = wrap_ddp(g_net, run.info, device), wrap_ddp(d_net, run.info, device)
    fixed_z = uniform_z(64, arch.nz, torch.Generator().manual_seed(7), device)

    while run.step < cfg.steps:
        real = run.next_batch(cfg.tone_prob)
        z = uniform_z(cfg.batch, arch.nz, run.noise, device)
        with run.amp:
            fake = g_train(z)
            loss_d = gan_losses_d(d_train(real), d_train(fake.detach()))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        with run.amp:
            loss_g = gan_loss_g(d_train(fake))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        # follow G closely while it is still noise
        update_ema(g_ema, g_net, cfg.ema if run.step > 1000 else 0.0)
        yield run.end_step({"loss_d": loss_d.item(), "loss_g": loss_g.item()})
        if run.sample_due:
            recalibrate_bn(g_ema, arch.nz, device, batches=8 if run.step >= 1000 else 1, batch=64)
            with torch.no_grad():
                save_grid(g_ema(fixed_z), run.out / "samples" / f"step-{run.step:06d}.png")
        if run.out_of_time:
            break
    run.finish()
    if not run.info.is_main:
        return run.out / f"{cfg.name}.pt"
    # a short run (tests, smoke checks) does not need a precise average
    recalibrate_bn(g_ema, arch.nz, device, batches=40 if run.step >= 1000 else 2)
    with torch.no_grad():
        save_grid(g_ema(fixed_z), run.out / "samples.png")
    info = provenance(cfg, run.info, device, len(run.data), run.step, run.elapsed)
    info.update(started, total_steps=started.get("prior_steps", 0) + run.step)
    nets = {"generator": g_ema, "discriminator": unwrap(d_train)}
    if run.loaded is not None and "encoder" in run.loaded.nets:
        # Keep the latent encoder so inversion keeps its starts; it was fitted to the earlier G,
        # so `restorer train encoder --gan <this file>` should fine-tune it before shipping.
        nets["encoder"] = run.loaded.nets["encoder"]
        carried = run.loaded.provenance.get("encoder")
        info["encoder"] = {
            **(carried if isinstance(carried, dict) else {}),
            "note": f"carried over from {started['started_from']}, not yet fitted to this G",
        }
    return save_weights(run.out / f"{cfg.name}.pt", "dcgan", arch, nets, info)
