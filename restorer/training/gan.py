"""DCGAN training (Radford et al. 2016) with measured stabilisers, for the face prior of Yeh et al.

z is drawn uniformly from [-1, 1]^nz, the box the latent optimiser clips to. The discriminator uses
spectral normalisation (Miyato et al. 2018) by default and the non-saturating logistic loss, so its
logit stays a log-odds and Yeh et al.'s prior term log(1 - D(G(z))) keeps its meaning. An EMA of the
generator's weights (decay 0.999) is what gets exported; its BatchNorm statistics are recomputed at
export because the engine runs G in eval mode.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from collections.abc import Generator as Gen
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from restorer.core.networks import Discriminator, GanArch, Generator, init_dcgan_weights
from restorer.core.weights import save_weights
from restorer.training.common import (
    Progress,
    load_checkpoint,
    provenance,
    recalibrate_bn,
    save_checkpoint,
    save_grid,
    setup_distributed,
    unwrap,
    update_ema,
    wrap_ddp,
)
from restorer.training.data import BatchSampler, augment, load_dataset


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
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    info, device = setup_distributed(cfg.device)
    out = Path(cfg.out)
    ckpt_path = out / "checkpoint.pt"
    torch.manual_seed(cfg.seed + info.rank)
    data = load_dataset(cfg.data, cfg.size, Path(cfg.cache) if cfg.cache else None, cfg.limit)
    arch = GanArch(resolution=cfg.size, ngf=cfg.ngf, ndf=cfg.ndf, d_norm=cfg.d_norm)
    g_net, d_net = Generator(arch).to(device), Discriminator(arch).to(device)
    init_dcgan_weights(g_net)
    init_dcgan_weights(d_net)
    g_ema = copy.deepcopy(g_net).eval().requires_grad_(False)
    opt_g = torch.optim.Adam(g_net.parameters(), cfg.lr_g, betas=(cfg.beta1, 0.999))
    opt_d = torch.optim.Adam(d_net.parameters(), cfg.lr_d, betas=(cfg.beta1, 0.999))
    sampler = BatchSampler(len(data), cfg.batch, cfg.seed, info.rank, info.world)
    noise = torch.Generator().manual_seed(cfg.seed * 1000 + info.rank + 1)
    step, elapsed_before = 0, 0.0
    if cfg.resume and ckpt_path.is_file():
        state = load_checkpoint(ckpt_path)
        g_net.load_state_dict(state["generator"])
        d_net.load_state_dict(state["discriminator"])
        g_ema.load_state_dict(state["generator_ema"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        sampler.load_state_dict(state["sampler"])
        noise.set_state(state["noise"])
        step, elapsed_before = int(state["step"]), float(state["elapsed_s"])
    g_train, d_train = wrap_ddp(g_net, info, device), wrap_ddp(d_net, info, device)
    fixed_z = uniform_z(64, arch.nz, torch.Generator().manual_seed(7), device)
    progress = Progress(cfg.steps, step, out / "log.txt" if info.is_main else None, info.is_main)
    out.mkdir(parents=True, exist_ok=True)
    if info.is_main:
        (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    t_start = time.monotonic()
    amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16)

    def checkpoint() -> None:
        if info.is_main:
            save_checkpoint(
                ckpt_path,
                {
                    "generator": g_net.state_dict(),
                    "discriminator": d_net.state_dict(),
                    "generator_ema": g_ema.state_dict(),
                    "opt_g": opt_g.state_dict(),
                    "opt_d": opt_d.state_dict(),
                    "sampler": sampler.state_dict(),
                    "noise": noise.get_state(),
                    "step": step,
                    "elapsed_s": elapsed_before + time.monotonic() - t_start,
                },
            )

    while step < cfg.steps:
        real = augment(data[sampler.next()], noise, cfg.tone_prob).to(device, non_blocking=True)
        z = uniform_z(cfg.batch, arch.nz, noise, device)
        with amp:
            fake = g_train(z)
            loss_d = gan_losses_d(d_train(real), d_train(fake.detach()))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        with amp:
            loss_g = gan_loss_g(d_train(fake))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        update_ema(g_ema, g_net, cfg.ema if step > 1000 else 0.0)  # follow G closely while it is still noise
        step += 1
        losses = {"loss_d": loss_d.item(), "loss_g": loss_g.item()}
        progress.update(step, (step - progress.start) * cfg.batch * info.world, **losses)
        yield {"step": step, **losses}
        if step % 100 == 0:
            progress.log_line(step, **losses)
        if info.is_main and (step % cfg.sample_every == 0 or step == cfg.steps):
            recalibrate_bn(g_ema, arch.nz, device, batches=8 if step >= 1000 else 1, batch=64)
            with torch.no_grad():
                save_grid(g_ema(fixed_z), out / "samples" / f"step-{step:06d}.png")
        if step % cfg.checkpoint_every == 0:
            checkpoint()
        if cfg.max_minutes and (time.monotonic() - t_start) / 60 >= cfg.max_minutes:
            break
    progress.close()
    checkpoint()
    elapsed = elapsed_before + time.monotonic() - t_start
    if not info.is_main:
        return out / f"{cfg.name}.pt"
    # a short run (tests, smoke checks) does not need a precise average
    recalibrate_bn(g_ema, arch.nz, device, batches=40 if step >= 1000 else 2)
    with torch.no_grad():
        save_grid(g_ema(fixed_z), out / "samples.png")
    return save_weights(
        out / f"{cfg.name}.pt",
        "dcgan",
        arch,
        {"generator": g_ema, "discriminator": unwrap(d_train)},
        provenance(cfg, info, device, len(data), step, elapsed),
    )
