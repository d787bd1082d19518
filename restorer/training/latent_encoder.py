"""Latent encoder training (after Lahiri et al., "Prior guided GAN based semantic inpainting", CVPR 2020).

E maps a masked face (image * known, known) to a latent z, so that G(E(y)) is the whole face. G is
the shipped generator, frozen: E learns to invert *this* G and is shipped inside the same weights
file, beside G and D, which are copied unchanged. Two losses, both cheap on a CPU:

- reconstruction: L1 between G(E(y)) and the real face x, over every pixel (the hole is what E must
  guess; the known pixels anchor it);
- latent cycle: for z drawn from the prior, E(masked G(z)) should return z (mean squared error), which
  keeps E's answers inside the region of the cube that G was trained on.

Masks: the Context Encoder mixture plus the four evaluation types (centre, pattern, random 80 %,
half), drawn with seeds the evaluation never uses.
"""

from __future__ import annotations

import sys
from collections.abc import Generator as Gen
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from restorer.core.networks import LatentEncoder, init_dcgan_weights, make_context_input
from restorer.core.weights import DEFAULT_MODELS, load_model, resolve_model, save_weights
from restorer.training.common import TrainingRun, provenance, save_grid
from restorer.training.data import augment
from restorer.training.gan import uniform_z
from restorer.training.masks import MASK_TYPES, training_mask

MASK_BANK = 4096
MASK_SEED = 1_000_003  # evaluation draws its masks from seeds 0..; these never meet them
EVAL_SHARE = 0.45  # share of the bank drawn from the evaluation mask types


@dataclass
class LatentEncoderTrainConfig:
    data: list[str]
    out: str
    gan: str = DEFAULT_MODELS["dcgan"]  # the GAN whose G the encoder learns to invert
    size: int = 64
    steps: int = 20000
    batch: int = 64
    lr: float = 2e-4
    cycle_weight: float = 0.5
    tone_prob: float = 0.1
    seed: int = 0
    device: str = "auto"
    threads: int = 0
    bf16: bool = False
    sample_every: int = 500
    checkpoint_every: int = 500
    limit: int | None = None
    resume: bool = False
    name: str = "face64"
    max_minutes: float | None = None
    cache: str | None = ".data"
    command: str = field(default_factory=lambda: " ".join(["restorer", *sys.argv[1:]]))


def encoder_mask_bank(size: int, count: int, seed: int) -> torch.Tensor:
    """(count, 1, R, R) float masks, 1 = hole: the training mixture and the evaluation types."""
    rng = np.random.default_rng([seed, MASK_SEED])
    types = list(MASK_TYPES.values())
    masks = [
        types[i % len(types)](size, rng) if rng.random() < EVAL_SHARE else training_mask(size, rng)
        for i in range(count)
    ]
    return torch.from_numpy(np.stack(masks)).unsqueeze(1).float()


def _draw(bank: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    masks = bank[torch.randint(len(bank), (n,), generator=generator)]
    flip = torch.rand(n, generator=generator) < 0.5
    masks[flip] = masks[flip].flip(-1)
    return masks


def encoder_losses(
    encoder: torch.nn.Module,
    generator: torch.nn.Module,
    real: torch.Tensor,
    hole: torch.Tensor,
    z_prior: torch.Tensor,
    hole_prior: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(reconstruction L1, latent-cycle MSE) for one batch; G is frozen, gradients reach E only."""
    z = encoder(make_context_input(real, 1 - hole))
    reconstruction = (generator(z).float() - real).abs().mean()
    with torch.no_grad():
        drawn = generator(z_prior).float()
    cycle = F.mse_loss(encoder(make_context_input(drawn, 1 - hole_prior)).float(), z_prior)
    return reconstruction, cycle


def train_latent_encoder(cfg: LatentEncoderTrainConfig) -> Gen[dict, None, Path]:
    """Train E against the frozen G of ``cfg.gan``; yields losses per step; returns the weights path."""
    run = TrainingRun(cfg)
    device = run.device
    gan = load_model(resolve_model(cfg.gan, "dcgan"), device)
    if gan.kind != "dcgan" or gan.arch.resolution != cfg.size:
        raise ValueError(f"{cfg.gan}: a {cfg.size} px DCGAN is needed to train its encoder")
    generator = gan.nets["generator"].eval().requires_grad_(False)
    encoder = LatentEncoder(gan.arch).to(device)
    if "encoder" in gan.nets:  # improve the shipped encoder rather than start over
        encoder.load_state_dict(gan.nets["encoder"].state_dict())
    else:
        init_dcgan_weights(encoder)
    opt = torch.optim.Adam(encoder.parameters(), cfg.lr, betas=(0.5, 0.999))
    bank = encoder_mask_bank(cfg.size, MASK_BANK if cfg.limit is None else 64, cfg.seed)
    run.track(encoder=encoder, opt=opt)
    n_fixed = min(16, len(run.data))
    fixed_real = augment(run.data[:n_fixed], torch.Generator().manual_seed(3), 0.0).to(device)
    fixed_hole = _draw(bank, n_fixed, torch.Generator().manual_seed(5)).to(device)

    def samples(path: Path) -> None:
        """Rows: masked input, G(E(y)), ground truth."""
        encoder.eval()
        with torch.no_grad():
            guess = generator(encoder(make_context_input(fixed_real, 1 - fixed_hole))).float()
        save_grid(torch.cat([fixed_real * (1 - fixed_hole), guess, fixed_real]), path, columns=n_fixed)
        encoder.train()

    while run.step < cfg.steps:
        real = run.next_batch(cfg.tone_prob)
        n = real.shape[0]
        hole = _draw(bank, n, run.noise).to(device)
        z_prior = uniform_z(n, gan.arch.nz, run.noise, device)
        hole_prior = _draw(bank, n, run.noise).to(device)
        with run.amp:
            reconstruction, cycle = encoder_losses(encoder, generator, real, hole, z_prior, hole_prior)
            loss = reconstruction + cfg.cycle_weight * cycle
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        yield run.end_step({"l1": reconstruction.item(), "cycle": cycle.item()})
        if run.sample_due:
            samples(run.out / "samples" / f"step-{run.step:06d}.png")
        if run.out_of_time:
            break
    run.finish()
    samples(run.out / "encoder-samples.png")
    encoder.eval()
    info = dict(gan.provenance)
    info["encoder"] = provenance(cfg, run.info, device, len(run.data), run.step, run.elapsed)
    if "encoder" in gan.nets:  # it went on from the file's encoder: say how far that one had come
        earlier = gan.provenance.get("encoder")
        info["encoder"]["started_from"] = f"the encoder in {Path(gan.path).name}"
        if isinstance(earlier, dict):  # files before this was recorded hold a note instead
            prior = int(earlier.get("total_steps", earlier.get("steps", 0)))
            info["encoder"].update(prior_steps=prior, total_steps=prior + run.step)
    nets = {"generator": generator, "discriminator": gan.nets["discriminator"], "encoder": encoder}
    return save_weights(run.out / f"{cfg.name}.pt", "dcgan", gan.arch, nets, info)
