"""After the latent search: refine an intermediate feature map of G for a tighter fit that stays face-like.

z has only 100 numbers, so G(z*) can match the context only as closely as some face of the GAN's
does. Optimising the generator's own 16x16 feature map h (the output of its third block at 64 px)
instead lets the fill follow the photo more closely, while a penalty keeps h near G's own h0 =
head(z*) so the fill is still drawn by G's last layers from features G itself makes::

    h* = argmin_h  context(tail(h)) + λ prior(tail(h)) + μ |h - h0|² / |h0|²,   h >= 0

(the same context and prior as the search; h >= 0 because G's features come out of a ReLU). Each
image keeps the best iterate it reached, so its objective never ends above where it started: the
penalty then bounds how far h moves, μ |h - h0|² / |h0|² <= objective(h0) - objective(h*).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from restorer.core.networks import Generator as DcganGenerator

Objective = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
BLOCK = 3  # ConvTranspose2d, BatchNorm2d, ReLU: one block of restorer's DCGAN generator


@dataclass(frozen=True)
class RefineConfig:
    steps: int = 0  # Adam steps on h; 0 = no refinement
    penalty: float = 30.0  # μ: weight of the relative squared distance from G's own features
    lr: float = 0.05  # Adam step, relative to the mean feature magnitude
    block: int = 2  # the generator block whose output is refined: 2 = 16x16 at 64 px


@dataclass
class Refined:
    images: torch.Tensor  # (K, C, R, R) float32, tail(h*)
    deviation: torch.Tensor  # (K,) |h* - h0|² / |h0|², what the penalty weighed
    start_objective: torch.Tensor  # (K,) objective at h0 (penalty 0)
    objective: torch.Tensor  # (K,) objective at h*, penalty included


def can_refine(generator: nn.Module, block: int) -> bool:
    """Only restorer's DCGAN generator has the block layout split_generator relies on."""
    return isinstance(generator, DcganGenerator) and 0 <= block < len(generator.main) // BLOCK - 1


def split_generator(generator: DcganGenerator, block: int) -> tuple[nn.Sequential, nn.Sequential]:
    """(head, tail): z (K, nz, 1, 1) -> features after ``block``; features -> image."""
    cut = BLOCK * (block + 1)
    return generator.main[:cut], generator.main[cut:]


def refine_features(
    generator: DcganGenerator,
    critic: Callable[[torch.Tensor], torch.Tensor],
    objective: Objective,
    z: torch.Tensor,
    config: RefineConfig,
) -> Refined:
    """Refine G's features for each of the K latents ``z`` (K, nz) under ``objective``; G in eval mode."""
    head, tail = split_generator(generator, config.block)
    with torch.no_grad():
        h0 = head(z.reshape(len(z), -1, 1, 1)).float()
    scale = h0.pow(2).mean(dim=(1, 2, 3)).clamp_min(1e-12)

    def total(h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        images = tail(h).float()
        loss, _, _ = objective(images, critic(images))
        deviation = (h - h0).pow(2).mean(dim=(1, 2, 3)) / scale
        return loss + config.penalty * deviation, deviation, images

    with torch.no_grad():
        best, best_deviation, best_images = total(h0)
    start = best.clone()

    @torch.no_grad()
    def keep(value: torch.Tensor, deviation: torch.Tensor, images: torch.Tensor) -> None:
        """Each image keeps its best iterate, so it never ends worse than it started."""
        better = value < best
        best.copy_(torch.where(better, value, best))
        best_deviation.copy_(torch.where(better, deviation, best_deviation))
        best_images[better] = images[better]

    h = h0.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([h], lr=config.lr * float(h0.abs().mean().clamp_min(1e-6)))
    for _ in range(config.steps):
        value, deviation, images = total(h)
        keep(value.detach(), deviation.detach(), images.detach())
        optimiser.zero_grad(set_to_none=True)
        value.sum().backward()
        optimiser.step()
        with torch.no_grad():
            h.clamp_(min=0.0)  # G's features come out of a ReLU
    with torch.no_grad():
        keep(*total(h))  # the last step's result is a candidate too
    return Refined(best_images, best_deviation, start, best)
