"""Context Encoder training (Pathak et al., CVPR 2016) on random-region, central and block masks.

Loss for the encoder-decoder F: λrec·L_rec + λadv·L_adv with λrec = 0.999, λadv = 0.001.
L_rec is a weighted mean squared error: weight 1 inside the hole and ``border_weight`` (10) on a
band of known pixels around it (Pathak's overlap region, which teaches F to continue the context
seamlessly); 0 elsewhere, since known pixels are kept as they are at inference. L_adv is the
non-saturating loss of a discriminator that sees the composite image (context + prediction).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Generator as Gen
from dataclasses import asdict, dataclass, field
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
    Progress,
    load_checkpoint,
    provenance,
    save_checkpoint,
    save_grid,
    setup_distributed,
    unwrap,
    wrap_ddp,
)
from restorer.training.data import BatchSampler, augment, load_dataset
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
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    info, device = setup_distributed(cfg.device)
    out = Path(cfg.out)
    ckpt_path = out / "checkpoint.pt"
    torch.manual_seed(cfg.seed + info.rank)
    data = load_dataset(cfg.data, cfg.size, Path(cfg.cache) if cfg.cache else None, cfg.limit)
    arch = ContextEncoderArch(resolution=cfg.size, nef=cfg.nef, ndf=cfg.ndf)
    net = ContextEncoder(arch).to(device)
    d_net = Discriminator(GanArch(resolution=cfg.size, ndf=cfg.ndf)).to(device)
    init_dcgan_weights(net)
    init_dcgan_weights(d_net)
    opt = torch.optim.Adam(net.parameters(), cfg.lr, betas=(cfg.beta1, 0.999))
    opt_d = torch.optim.Adam(d_net.parameters(), cfg.lr, betas=(cfg.beta1, 0.999))
    sampler = BatchSampler(len(data), cfg.batch, cfg.seed, info.rank, info.world)
    noise = torch.Generator().manual_seed(cfg.seed * 1000 + info.rank + 1)
    bank = mask_bank(cfg.size, MASK_BANK if cfg.limit is None else 64, cfg.seed)
    step, elapsed_before = 0, 0.0
    if cfg.resume and ckpt_path.is_file():
        state = load_checkpoint(ckpt_path)
        net.load_state_dict(state["context_encoder"])
        d_net.load_state_dict(state["discriminator"])
        opt.load_state_dict(state["opt"])
        opt_d.load_state_dict(state["opt_d"])
        sampler.load_state_dict(state["sampler"])
        noise.set_state(state["noise"])
        step, elapsed_before = int(state["step"]), float(state["elapsed_s"])
    net_train, d_train = wrap_ddp(net, info, device), wrap_ddp(d_net, info, device)
    fixed_idx = torch.arange(min(16, len(data)))
    fixed_real = augment(data[fixed_idx], torch.Generator().manual_seed(3), 0.0).to(device)
    fixed_hole = draw_masks(bank, len(fixed_idx), torch.Generator().manual_seed(5)).to(device)
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
                    "context_encoder": net.state_dict(),
                    "discriminator": d_net.state_dict(),
                    "opt": opt.state_dict(),
                    "opt_d": opt_d.state_dict(),
                    "sampler": sampler.state_dict(),
                    "noise": noise.get_state(),
                    "step": step,
                    "elapsed_s": elapsed_before + time.monotonic() - t_start,
                },
            )

    def samples(path: Path) -> None:
        net.eval()
        with torch.no_grad():
            known = 1 - fixed_hole
            pred = net(make_context_input(fixed_real, known)).float()
            composite = fixed_real * known + pred * fixed_hole
            save_grid(torch.cat([fixed_real * known, composite, fixed_real]), path, columns=len(fixed_idx))
        net.train()

    while step < cfg.steps:
        real = augment(data[sampler.next()], noise, cfg.tone_prob).to(device, non_blocking=True)
        hole = draw_masks(bank, real.shape[0], noise).to(device)
        known = 1 - hole
        with amp:
            pred = net_train(make_context_input(real, known))
            composite = real * known + pred.float() * hole
            loss_d = gan_losses_d(d_train(real), d_train(composite.detach()))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        with amp:
            loss_rec = reconstruction_loss(pred, real, reconstruction_weights(hole, cfg.border_weight))
            loss_adv = gan_loss_g(d_train(composite))
            loss = cfg.lambda_rec * loss_rec + cfg.lambda_adv * loss_adv
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        losses = {"loss_rec": loss_rec.item(), "loss_adv": loss_adv.item(), "loss_d": loss_d.item()}
        progress.update(step, (step - progress.start) * cfg.batch * info.world, **losses)
        yield {"step": step, **losses}
        if step % 100 == 0:
            progress.log_line(step, **losses)
        if info.is_main and (step % cfg.sample_every == 0 or step == cfg.steps):
            samples(out / "samples" / f"step-{step:06d}.png")
        if step % cfg.checkpoint_every == 0:
            checkpoint()
        if cfg.max_minutes and (time.monotonic() - t_start) / 60 >= cfg.max_minutes:
            break
    progress.close()
    checkpoint()
    elapsed = elapsed_before + time.monotonic() - t_start
    if not info.is_main:
        return out / f"{cfg.name}.pt"
    samples(out / "samples.png")
    net.eval()
    return save_weights(
        out / f"{cfg.name}.pt",
        "context-encoder",
        arch,
        {"context_encoder": net, "discriminator": unwrap(d_train)},
        provenance(cfg, info, device, len(data), step, elapsed),
    )
