"""Context Encoder training (Pathak et al., CVPR 2016) on random-region, central and block masks.

Loss for the encoder-decoder F: λrec·L_rec + λadv·L_adv with λrec = 0.999, λadv = 0.001.
L_rec is a weighted mean squared error: weight 1 inside the hole and ``border_weight`` (10) on a
band of known pixels around it (Pathak's overlap region, which teaches F to continue the context
seamlessly); 0 elsewhere, since known pixels are kept as they are at inference. L_adv is the
non-saturating loss of a discriminator that sees the composite image (context + prediction).
"""

from __future__ import annotations

import sys
from collections.abc import Generator as Gen
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from restorer.core.networks import (
    ContextEncoder,
    ContextEncoderArch,
    Discriminator,
    GanArch,
    init_dcgan_weights,
    make_context_input,
)
from restorer.core.weights import save_weights
from restorer.training.common import (
    TrainingRun,
    provenance,
    save_grid,
    unwrap,
    wrap_ddp,
)
from restorer.training.data import augment
from restorer.training.gan import gan_loss_g, gan_losses_d
from restorer.training.masks import training_mask

BORDER_BAND = 4  # px of known context around the hole that get the heavier reconstruction weight
MASK_BANK = 4096  # masks drawn once up front, then re-sampled with flips and rotations


@dataclass
class ContextEncoderTrainConfig:
    data: list[str]
    out: str
    size: int = 64
    steps: int = 20000
    batch: int = 64
    lr: float = 2e-4
    beta1: float = 0.5
    nef: int = 32
    ndf: int = 32
    lambda_rec: float = 0.999
    lambda_adv: float = 0.001
    border_weight: float = 10.0
    tone_prob: float = 0.1
    seed: int = 0
    device: str = "auto"
    threads: int = 0
    bf16: bool = False
    sample_every: int = 500
    checkpoint_every: int = 500
    limit: int | None = None
    resume: bool = False
    init: str | None = None  # finished weights to start from when there is no checkpoint
    init_required: bool = False  # the user named --init: a misfit is an error, not a fresh start
    name: str = "face64-context-encoder"
    max_minutes: float | None = None
    cache: str | None = ".data"
    command: str = field(default_factory=lambda: " ".join(["restorer", *sys.argv[1:]]))


def reconstruction_weights(hole: torch.Tensor, border_weight: float, band: int = BORDER_BAND) -> torch.Tensor:
    """(N, 1, R, R) hole mask (1 = missing) -> weights: 1 in the hole, border_weight on the band around it."""
    grown = F.max_pool2d(hole, 2 * band + 1, stride=1, padding=band)
    return hole + border_weight * (grown - hole)


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted mean squared error over the weighted pixels (all channels)."""
    err = (pred.float() - target.float()).pow(2) * weights
    return err.sum() / (weights.sum() * pred.shape[1]).clamp_min(1.0)


def mask_bank(size: int, count: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(np.stack([training_mask(size, rng) for _ in range(count)])).unsqueeze(1)


def draw_masks(bank: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """n masks from the bank, each randomly flipped / rotated, as float (n, 1, R, R), 1 = hole."""
    m = bank[torch.randint(len(bank), (n,), generator=generator)].float()
    flip = torch.rand(n, generator=generator) < 0.5
    m[flip] = m[flip].flip(-1)
    rot = torch.rand(n, generator=generator) < 0.5
    m[rot] = m[rot].transpose(-1, -2)
    return m


def train_context_encoder(cfg: ContextEncoderTrainConfig) -> Gen[dict, None, Path]:
    """Train; yields losses per step; returns the exported weights path."""
    run = TrainingRun(cfg)
    device = run.device
    arch = ContextEncoderArch(resolution=cfg.size, nef=cfg.nef, ndf=cfg.ndf)
    net = ContextEncoder(arch).to(device)
    d_net = Discriminator(GanArch(resolution=cfg.size, ndf=cfg.ndf)).to(device)
    init_dcgan_weights(net)
    init_dcgan_weights(d_net)
    started = run.start_from(cfg.init, "context-encoder", arch, context_encoder=[net], discriminator=[d_net])
    opt = torch.optim.Adam(net.parameters(), cfg.lr, betas=(cfg.beta1, 0.999))
    opt_d = torch.optim.Adam(d_net.parameters(), cfg.lr, betas=(cfg.beta1, 0.999))
    bank = mask_bank(cfg.size, MASK_BANK if cfg.limit is None else 64, cfg.seed)
    run.track(context_encoder=net, discriminator=d_net, opt=opt, opt_d=opt_d)
    net_train, d_train = wrap_ddp(net, run.info, device), wrap_ddp(d_net, run.info, device)
    n_fixed = min(16, len(run.data))
    fixed_real = augment(run.data[:n_fixed], torch.Generator().manual_seed(3), 0.0).to(device)
    fixed_hole = draw_masks(bank, n_fixed, torch.Generator().manual_seed(5)).to(device)

    def samples(path: Path) -> None:
        """Rows: damaged input, filled composite, ground truth."""
        net.eval()
        with torch.no_grad():
            known = 1 - fixed_hole
            pred = net(make_context_input(fixed_real, known)).float()
            composite = fixed_real * known + pred * fixed_hole
            save_grid(torch.cat([fixed_real * known, composite, fixed_real]), path, columns=n_fixed)
        net.train()

    while run.step < cfg.steps:
        real = run.next_batch(cfg.tone_prob)
        hole = draw_masks(bank, real.shape[0], run.noise).to(device)
        known = 1 - hole
        with run.amp:
            pred = net_train(make_context_input(real, known))
            composite = real * known + pred.float() * hole
            loss_d = gan_losses_d(d_train(real), d_train(composite.detach()))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        with run.amp:
            loss_rec = reconstruction_loss(pred, real, reconstruction_weights(hole, cfg.border_weight))
            loss_adv = gan_loss_g(d_train(composite))
            loss = cfg.lambda_rec * loss_rec + cfg.lambda_adv * loss_adv
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        yield run.end_step(
            {"loss_rec": loss_rec.item(), "loss_adv": loss_adv.item(), "loss_d": loss_d.item()}
        )
        if run.sample_due:
            samples(run.out / "samples" / f"step-{run.step:06d}.png")
        if run.out_of_time:
            break
    run.finish()
    if not run.info.is_main:
        return run.out / f"{cfg.name}.pt"
    samples(run.out / "samples.png")
    net.eval()
    info = provenance(cfg, run.info, device, len(run.data), run.step, run.elapsed)
    info.update(started, total_steps=started.get("prior_steps", 0) + run.step)
    nets = {"context_encoder": net, "discriminator": unwrap(d_train)}
    return save_weights(run.out / f"{cfg.name}.pt", "context-encoder", arch, nets, info)
