"""Context Encoder inference (Pathak et al., CVPR 2016): one forward pass fills the hole."""

from __future__ import annotations

import torch
from torch import nn

from restorer.core.errors import RestorerError
from restorer.core.networks import make_context_input


@torch.no_grad()
def fill_with_context_encoder(model: nn.Module, image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """The network's prediction (C, R, R) in [-1, 1] for ``image`` (C, R, R) in [-1, 1].

    ``hole`` is bool (R, R), True = unknown. Hole pixels are zeroed before the network sees
    them (zero is the data mean in [-1, 1]), as in training. The whole prediction is returned,
    known pixels included: a Poisson blend takes its gradients at the hole's edge from it, and
    callers that paste keep only the hole pixels anyway.
    """
    if not isinstance(image, torch.Tensor) or image.ndim != 3 or not image.is_floating_point():
        raise RestorerError("the image must be a float tensor of shape (C, R, R)")
    if not isinstance(hole, torch.Tensor) or hole.dtype != torch.bool or hole.shape != image.shape[1:]:
        raise RestorerError(f"the hole mask must be a bool tensor of shape {tuple(image.shape[1:])}")
    arch = getattr(model, "arch", None)
    if arch is not None and (image.shape[0] != arch.nc or image.shape[1] != arch.resolution):
        raise RestorerError(
            f"the context encoder takes {arch.nc}x{arch.resolution}x{arch.resolution} images, "
            f"not {'x'.join(map(str, image.shape))}"
        )
    return predict_frames(model, image[None], hole[None])[0]


@torch.no_grad()
def predict_frames(model: nn.Module, images: torch.Tensor, holes: torch.Tensor) -> torch.Tensor:
    """The network's predictions (N, C, R, R) in [-1, 1], float32 on the model's device, for
    ``images`` (N, C, R, R) in [-1, 1] and bool ``holes`` (N, R, R); run in eval mode (BatchNorm
    statistics as trained), the model's mode restored after."""
    param = next(model.parameters(), None)
    device = param.device if param is not None else images.device
    was_training = model.training
    model.eval()
    try:
        known = (~holes).to(device=device, dtype=torch.float32)[:, None]
        prediction = model(make_context_input(images.to(device, torch.float32), known))
    finally:
        model.train(was_training)
    return prediction.float().clamp(-1.0, 1.0)
