"""Semantic inpainting by latent optimisation (Yeh et al., CVPR 2017).

Find the latent vector whose generated image agrees with the known pixels around a hole, while
the discriminator still finds it realistic::

    z* = argmin_z  sum_{c,p} W_p |G(z)_{c,p} - y_{c,p}|  +  λ log(1 - D(G(z))),   z in [-1, 1]^nz

Loss convention (what λ means here): for one start, the context loss is a SUM over every pixel
and channel of one image in [-1, 1] (not a mean), and λ multiplies that image's prior loss
log(1 - D(G(z))) = -softplus(logit), where D returns a logit. This is the scale of the authors'
released code (a per-image sum of the L1 context loss plus λ times the per-image prior loss), so
the paper's λ = 0.003 keeps the balance it was tuned for. With a 64 px image the context loss is
in the hundreds while λ·prior is ~0.01: the prior only breaks ties between near-equal fits.

K random starts run together as one batch. The loss minimised is the SUM of the K per-start
losses, so the gradient a start receives does not depend on K; G and D run in eval mode (no
batch statistics), each start's initial z is derived from (seed, start index), and Adam and the
clamp act elementwise. A start's trajectory is therefore the same alone or in a batch (the
authors' code ran BN in training mode and its results changed with the batch size).

Adam: the paper uses Adam for 1500 iterations but gives no step size. The code released by
co-author T.-Y. Lim (moodoki/semantic_image_inpainting) uses Nesterov momentum (lr 0.01,
momentum 0.9) instead, and B. Amos's widely used port Adam with lr 0.01, beta1 0.9. We use Adam
with lr 0.03, betas (0.9, 0.999): on our test problems it reached far lower context losses than
0.01 in 100-300 iterations (z spans only [-1, 1], so 0.03 still takes ~70 steps to cross it).

The fast path (``LatentConfig.fast``) folds eval-mode BatchNorm and spectral normalisation into
frozen copies of the convolution weights once per run, runs both networks in bfloat16 with
channels-last tensors where the hardware does bf16 natively (AVX-512 BF16 / AMX on CPU, CUDA),
and keeps the loss, the Adam state and z in float32. The last 5% of the iterations run the folded
networks in float32, so bf16 rounding does not limit how closely the fit settles, and the final
images and the ranking come from a float32 evaluation at the final z.

Encoder starts (Lahiri et al., CVPR 2020): with a latent encoder E, start 0 begins at E(y), E's
guess of the whole face from the masked window, and start i > 0 at E(y) + ENCODER_SPREAD * u_i
(u_i the uniform start i would have had), clipped to the cube. The search then polishes a good
guess instead of hunting from anywhere in [-1, 1]^nz, so far fewer iterations reach a given fit.

Luminance mode compares Rec. 601 luma of G(z) with the target's (a one-channel target is taken
as luma already) and multiplies W by G's channel count, so that fitting a grey image this way
weighs as much as fitting all its channels would, and λ keeps its meaning.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from restorer.core.errors import RestorerError
from restorer.core.networks import Discriminator
from restorer.core.networks import Generator as DcganGenerator

# Rec. 601 luma weights: the luminance of an RGB image in [-1, 1] stays in [-1, 1].
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
# The fast path runs the last iterations in float32: bf16 rounding (~0.2% of a pixel value) would
# otherwise set the floor of how closely the fit can settle (see the benchmark's quality check).
FLOAT32_POLISH = 0.05


def importance_weights(hole: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Yeh et al.'s importance weights W for the context loss.

    ``hole``: bool (H, W) or (N, 1, H, W), True = unknown. A known pixel gets the fraction of
    hole pixels in its ``window`` x ``window`` neighbourhood (so known pixels next to the hole
    matter most, those further than window // 2 from it not at all); hole pixels get 0. Pixels
    outside the image count as known (zero padding), so the image border adds no weight.
    (The authors' released code instead weights by the fraction of KNOWN neighbours, with
    symmetric padding; we follow the paper's equation.) Returns float32 of the same shape.
    """
    if not isinstance(hole, torch.Tensor) or hole.dtype != torch.bool:
        raise RestorerError("the hole mask must be a bool tensor (True = damaged)")
    if hole.ndim not in (2, 4) or (hole.ndim == 4 and hole.shape[1] != 1):
        raise RestorerError(f"the hole mask must have shape (H, W) or (N, 1, H, W), not {tuple(hole.shape)}")
    if isinstance(window, bool) or not isinstance(window, int) or window < 1 or window % 2 == 0:
        raise RestorerError(f"the importance window must be an odd positive size, not {window!r}")
    holes = hole.reshape(-1, 1, *hole.shape[-2:]).float()
    # avg_pool2d with zero padding counted in the divisor = (hole pixels in window) / window^2.
    fraction = F.avg_pool2d(holes, window, stride=1, padding=window // 2, count_include_pad=True)
    return (fraction * (1.0 - holes)).reshape(hole.shape)


@dataclass
class LatentConfig:
    iterations: int = 1500
    starts: int = 16  # K random starts, optimised together as one batch
    lam: float = 0.003  # λ, the prior's weight, on the per-image-sum scale described above
    lr: float = 0.03  # Adam step size
    seed: int = 0
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    luminance: bool = False  # fit the context loss on luminance only (grey / toned prints)
    preview_all: bool = False  # progress events offer every start's image, not just the best
    # folded bf16 networks (restorer's DCGAN classes only; other modules always run as given);
    # False = the original modules in plain float32, the reference maths
    fast: bool = True
    spread: float = 0.35  # encoder starts: how far starts 1..K-1 scatter around E(y), in cube units
    refine_steps: int = 0  # after z: Adam steps on G's 16x16 features (restorer.core.feature_refine)
    refine_penalty: float = 30.0  # μ, keeping the refined features near G's own


def _to_preview(image: torch.Tensor) -> np.ndarray:
    """(C, R, R) in [-1, 1] -> float32 (R, R, C) in [0, 1]."""
    out = (image.detach().float().clamp(-1, 1) + 1) * 0.5
    return out.permute(1, 2, 0).cpu().numpy().astype(np.float32, copy=False)


@dataclass
class LatentProgress:
    """The state after one iteration. Loss values belong to the z evaluated in that iteration."""

    iteration: int  # 1-based
    total: int
    losses: torch.Tensor  # (K,) total loss per start, cpu float32
    context_losses: torch.Tensor  # (K,)
    prior_losses: torch.Tensor  # (K,) log(1 - D(G(z))), before multiplying by λ
    best: int  # index of the start with the lowest loss
    images: torch.Tensor  # (K, C, R, R) G(z) in [-1, 1]: a reference, convert only what you show
    preview_all: bool = False

    def preview(self) -> np.ndarray:
        """The best start's image as float32 (R, R, C) in [0, 1]."""
        return _to_preview(self.images[self.best])

    def previews(self) -> list[np.ndarray]:
        """Every start's image when the run asked for ``preview_all``, else only the best one."""
        if not self.preview_all:
            return [self.preview()]
        return [_to_preview(image) for image in self.images]


@dataclass
class LatentResult:
    """All starts ranked best first by their final loss (evaluated in float32 at the final z)."""

    images: torch.Tensor  # (K, C, R, R) in [-1, 1]
    losses: torch.Tensor  # (K,)
    context_losses: torch.Tensor
    prior_losses: torch.Tensor
    z: torch.Tensor  # (K, nz)
    start_ids: list[int] = field(default_factory=list)  # original start index of each candidate


def resolve_device(name: str) -> torch.device:
    """Map "auto" to CUDA when available, else CPU; asking for CUDA without one is a RestorerError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise RestorerError("device 'cuda' was asked for but no CUDA GPU is available (use cpu or auto)")
        return torch.device(name)
    raise RestorerError(f"unknown device {name!r} (use 'auto', 'cpu' or 'cuda')")


def initial_latents(starts: int, nz: int, seed: int) -> torch.Tensor:
    """(starts, nz) float32 uniform in [-1, 1]. Start i's z depends only on (seed, i), never on
    ``starts``, so a start begins at the same point alone or in any batch."""
    if starts < 1 or nz < 1:
        raise RestorerError(f"need at least one start and one latent dimension, not {starts} x {nz}")
    if seed < 0:
        raise RestorerError(f"the seed must be a non-negative integer, not {seed}")
    # SeedSequence([seed, i]) gives independent streams for distinct (seed, i) pairs.
    rows = [np.random.default_rng([seed, i]).uniform(-1.0, 1.0, nz) for i in range(starts)]
    return torch.from_numpy(np.stack(rows)).float()


@torch.no_grad()
def encoder_latents(
    encoder: nn.Module, images: torch.Tensor, holes: torch.Tensor, starts: int, seed: int, spread: float
) -> torch.Tensor:
    """(N * starts, nz) starts around E(y) for windows (N, C, R, R) with holes bool (N, R, R),
    window-major; window i's start j depends only on (y_i, seed + i, j), as with uniform starts."""
    from restorer.core.networks import make_context_input

    where = _device_of(encoder)
    images, known = images.to(where), (~holes).to(where, images.dtype)[:, None]
    channels = getattr(getattr(encoder, "arch", None), "nc", images.shape[1])
    if images.shape[1] != channels:  # a luma-only target: E sees it as a grey image
        images = images.mean(1, keepdim=True).expand(-1, channels, -1, -1)
    centres = encoder(make_context_input(images, known)).float().clamp(-1.0, 1.0)
    nz = centres.shape[1]
    rows = []
    for i, centre in enumerate(centres):
        noise = initial_latents(starts, nz, seed + i).to(centre.device)
        noise[0] = 0.0  # start 0 is the encoder's own guess
        rows.append((centre + spread * noise).clamp(-1.0, 1.0))
    return torch.cat(rows)


def _starts(
    encoder: nn.Module | None, images: torch.Tensor, holes: torch.Tensor, config: LatentConfig, nz: int
) -> torch.Tensor:
    if encoder is None:
        return torch.cat([initial_latents(config.starts, nz, config.seed + i) for i in range(len(images))])
    return encoder_latents(encoder, images, holes, config.starts, config.seed, config.spread)


# --- network preparation -----------------------------------------------------------------------


def _fold_sequential(seq: nn.Sequential) -> nn.Sequential:
    """A frozen float32 copy of a conv stack with eval-mode BatchNorm and any weight
    parametrisation (spectral norm) baked into plain conv weights and biases."""
    layers: list[nn.Module] = []
    modules = list(seq)
    i = 0
    while i < len(modules):
        m = modules[i]
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            weight = m.weight.detach().clone()  # spectral norm applied (eval mode: no power iteration)
            bias = m.bias.detach().clone() if m.bias is not None else weight.new_zeros(m.out_channels)
            nxt = modules[i + 1] if i + 1 < len(modules) else None
            if isinstance(nxt, nn.BatchNorm2d):
                scale = nxt.weight.detach() / torch.sqrt(nxt.running_var + nxt.eps)
                shift = nxt.bias.detach() - nxt.running_mean * scale
                # output channels are dim 0 of a Conv2d weight and dim 1 of a ConvTranspose2d weight
                shape = (-1, 1, 1, 1) if isinstance(m, nn.Conv2d) else (1, -1, 1, 1)
                weight = weight * scale.reshape(shape)
                bias = bias * scale + shift
                i += 1
            plain = type(m)(
                m.in_channels,
                m.out_channels,
                m.kernel_size,
                m.stride,
                m.padding,
                bias=True,
                device=weight.device,
            )
            plain.weight = nn.Parameter(weight, requires_grad=False)
            plain.bias = nn.Parameter(bias, requires_grad=False)
            layers.append(plain)
        elif isinstance(m, nn.BatchNorm2d):
            raise RestorerError("cannot fold a BatchNorm layer that does not follow a convolution")
        else:
            layers.append(copy.deepcopy(m))
        i += 1
    return nn.Sequential(*layers).eval().requires_grad_(False)


def _bf16_available(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    # Without native bf16 (AVX-512 BF16 or AMX) oneDNN would emulate it, slower than float32.
    return device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported()


@dataclass
class _Nets:
    generate: Callable[[torch.Tensor], torch.Tensor]  # z (K, nz) fp32 -> images, fp32 or bf16
    critic: Callable[[torch.Tensor], torch.Tensor]  # images -> logits (K,) fp32
    generate_exact: Callable[[torch.Tensor], torch.Tensor]  # float32 versions for the final evaluation
    critic_exact: Callable[[torch.Tensor], torch.Tensor]

    def exact(self) -> tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]:
        return self.generate_exact, self.critic_exact


def _prepare_nets(generator: nn.Module, discriminator: nn.Module, device: torch.device, fast: bool) -> _Nets:
    """Callables for one run; G and D must already be in eval mode."""
    foldable = isinstance(generator, DcganGenerator) and isinstance(discriminator, Discriminator)
    if not (fast and foldable):
        g = generator if _device_of(generator) == device else copy.deepcopy(generator).to(device)
        d = discriminator if _device_of(discriminator) == device else copy.deepcopy(discriminator).to(device)
        return _Nets(g, lambda x: d(x).reshape(-1).float(), g, lambda x: d(x).reshape(-1).float())
    g32 = _fold_sequential(generator.main).to(device)
    d32 = _fold_sequential(discriminator.main).to(device)
    nets = _Nets(
        lambda z: g32(z[:, :, None, None]),
        lambda x: d32(x).reshape(-1),
        lambda z: g32(z[:, :, None, None]),
        lambda x: d32(x).reshape(-1),
    )
    if _bf16_available(device):
        g16 = copy.deepcopy(g32).to(dtype=torch.bfloat16, memory_format=torch.channels_last)
        d16 = copy.deepcopy(d32).to(dtype=torch.bfloat16, memory_format=torch.channels_last)
        nets.generate = lambda z: g16(z.to(torch.bfloat16)[:, :, None, None])
        nets.critic = lambda x: d16(x.to(torch.bfloat16)).reshape(-1).float()
    return nets


def _device_of(module: nn.Module) -> torch.device:
    param = next(module.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _latent_size(generator: nn.Module) -> int:
    arch = getattr(generator, "arch", None)
    if arch is not None and hasattr(arch, "nz"):
        return int(arch.nz)
    for m in generator.modules():
        if isinstance(m, (nn.ConvTranspose2d, nn.Conv2d)):
            return m.in_channels
        if isinstance(m, nn.Linear):
            return m.in_features
    raise RestorerError("cannot tell the generator's latent size")


# --- the optimisation ----------------------------------------------------------------------------


def _luminance(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, R, R) -> (N, 1, R, R); a single channel passes through."""
    if images.shape[1] == 1:
        return images
    luma = images.new_tensor(LUMA_WEIGHTS).reshape(1, 3, 1, 1)
    return (images * luma).sum(1, keepdim=True)


class _Objective:
    """Per-start losses for a batch of generated images (float32 maths)."""

    def __init__(
        self, image: torch.Tensor, hole: torch.Tensor, lam: float, luminance: bool, nc: int, starts: int = 1
    ) -> None:
        """One window (C, R, R) + hole (R, R), or N windows (N, C, R, R) + holes (N, R, R) with ``starts``
        consecutive starts per window (the batch is then N * starts images, window-major)."""
        if image.ndim == 3:
            image, hole = image[None], hole[None]
        self.weights = importance_weights(hole[:, None]).repeat_interleave(starts, 0)  # (N*K | 1, 1, R, R)
        self.luminance = luminance
        target = image.repeat_interleave(starts, 0) if len(image) > 1 else image
        if luminance:
            target = _luminance(target)
            # one luma channel stands for nc colour channels (see the module docstring)
            self.weights = self.weights * nc
        self.target = target
        self.lam = lam

    def __call__(self, images: torch.Tensor, logits: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """images: float32 (K, C, R, R); logits: (K,). Returns (total, context, prior), each (K,)."""
        x = _luminance(images) if self.luminance else images
        context = (self.weights * (x - self.target).abs()).sum(dim=(1, 2, 3))
        prior = -F.softplus(logits)  # log(1 - sigmoid(logit)), stable for large logits
        return context + self.lam * prior, context, prior


def _validate(config: LatentConfig, image: torch.Tensor, hole: torch.Tensor, nc: int) -> None:
    if config.iterations < 1 or config.starts < 1:
        raise RestorerError(
            f"need at least one iteration and one start, not {config.iterations}, {config.starts}"
        )
    if not (config.lam >= 0 and config.lr > 0):
        raise RestorerError(f"λ must be >= 0 and the learning rate > 0 (got {config.lam}, {config.lr})")
    if not isinstance(image, torch.Tensor) or image.ndim != 3 or not image.is_floating_point():
        raise RestorerError("the image must be a float tensor of shape (C, R, R)")
    c, h, w = image.shape
    if not isinstance(hole, torch.Tensor) or hole.dtype != torch.bool or tuple(hole.shape) != (h, w):
        raise RestorerError(f"the hole mask must be a bool tensor of shape {(h, w)}")
    if c != nc and not (config.luminance and c == 1):
        raise RestorerError(f"the image has {c} channel(s), the model makes {nc} (grey needs luminance mode)")
    if not torch.isfinite(image).all() or image.abs().max() > 1.001:
        raise RestorerError("image values must be finite and in [-1, 1]")
    n_hole = int(hole.sum())
    if n_hole == 0 or n_hole == hole.numel():
        raise RestorerError("the hole must cover some pixels of the window but not all of them")


def optimise_latent(
    generator: nn.Module,
    discriminator: nn.Module,
    image: torch.Tensor,
    hole: torch.Tensor,
    config: LatentConfig = LatentConfig(),
    should_stop: Callable[[], bool] | None = None,
    encoder: nn.Module | None = None,
) -> Generator[LatentProgress, None, LatentResult | None]:
    """Fill ``hole`` (bool (R, R), True = unknown) of ``image`` ((C, R, R) in [-1, 1]).

    Yields a LatentProgress after every iteration and returns a LatentResult with every start
    ranked best first; returns None when ``should_stop()`` turns true (checked between
    iterations). With ``encoder`` the starts begin around E(y) (see the module notes). G and D run
    in eval mode with frozen parameters; their modes and ``requires_grad`` flags are restored
    when the job ends, is stopped, or is closed.
    """
    device = resolve_device(config.device)
    nz = _latent_size(generator)
    with _frozen_eval(*_modules(generator, discriminator, encoder)):
        with torch.no_grad():
            probe = generator(torch.zeros(1, nz, device=_device_of(generator)))
        nc, size = probe.shape[1], tuple(probe.shape[2:])
        _validate(config, image, hole, nc)
        if size != tuple(image.shape[1:]):
            raise RestorerError(f"the model makes {size} images but the window is {tuple(image.shape[1:])}")
        nets = _prepare_nets(generator, discriminator, device, config.fast)
        target = image.to(device, torch.float32)
        objective = _Objective(target, hole.to(device), config.lam, config.luminance, nc)
        z = _starts(encoder, target[None], hole[None].to(device), config, nz).to(device)
        descent = _descend(nets, objective, z, config, should_stop)
        while True:
            try:
                step, images, losses, context, prior = next(descent)
            except StopIteration as stop:
                z = stop.value
                break
            # one device-to-host transfer (one sync on CUDA) for all three
            cpu_losses, cpu_context, cpu_prior = torch.stack([losses, context, prior]).detach().float().cpu()
            yield LatentProgress(
                iteration=step,
                total=config.iterations,
                losses=cpu_losses,
                context_losses=cpu_context,
                prior_losses=cpu_prior,
                best=int(cpu_losses.argmin()),
                images=images.detach(),
                preview_all=config.preview_all,
            )
        if z is None:
            return None
        return _final_result(nets, objective, z, _refined(generator, discriminator, objective, z, config))


def _modules(*modules: nn.Module | None) -> list[nn.Module]:
    return [m for m in modules if m is not None]


@contextmanager
def _frozen_eval(*modules: nn.Module) -> Iterator[None]:
    """Eval mode and frozen parameters for the job's lifetime; modes and flags restored afterwards
    (also when the job is stopped or its generator closed)."""
    states = [(m, m.training, [p.requires_grad for p in m.parameters()]) for m in modules]
    try:
        for m in modules:
            m.eval().requires_grad_(False)
        yield
    finally:
        for module, training, flags in states:
            module.train(training)
            for p, flag in zip(module.parameters(), flags, strict=True):
                p.requires_grad_(flag)


def _descend(
    nets: _Nets,
    objective: _Objective,
    z: torch.Tensor,
    config: LatentConfig,
    should_stop: Callable[[], bool] | None,
) -> Generator[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], None, torch.Tensor | None]:
    """The optimisation loop shared by one-window and many-window jobs.

    Yields (iteration, images, losses, context, prior) after each Adam step; returns the final z,
    or None when ``should_stop()`` turns true between iterations.
    """
    adam_m = torch.zeros_like(z)
    adam_v = torch.zeros_like(z)
    polish_from = config.iterations - int(FLOAT32_POLISH * config.iterations)
    for step in range(1, config.iterations + 1):
        if should_stop is not None and should_stop():
            return None
        z.requires_grad_(True)
        generate, critic = (nets.generate, nets.critic) if step <= polish_from else nets.exact()
        generated = generate(z)  # bf16 on the fast path: D takes it as it is
        images = generated.float()  # the loss is float32; no copy when G is float32
        losses, context, prior = objective(images, critic(generated))
        (grad,) = torch.autograd.grad(losses.sum(), z)
        z = z.detach()
        _adam_step(z, grad, adam_m, adam_v, step, config.lr)
        yield step, images, losses, context, prior
    return z


def optimise_latent_batch(
    generator: nn.Module,
    discriminator: nn.Module,
    images: torch.Tensor,
    holes: torch.Tensor,
    config: LatentConfig = LatentConfig(),
    should_stop: Callable[[], bool] | None = None,
    encoder: nn.Module | None = None,
) -> Generator[int, None, torch.Tensor | None]:
    """Fill N windows at once, for evaluation: images (N, C, R, R) in [-1, 1], holes bool (N, R, R).

    Each window gets ``config.starts`` starts, all N * K optimised as one batch; window i's starts
    use seed ``config.seed + i``, so its result equals ``optimise_latent`` with that seed (same maths,
    see the batch-invariance note above). Yields the iteration; returns each window's best image
    (N, C, R, R), or None when stopped.
    """
    device = resolve_device(config.device)
    nz = _latent_size(generator)
    n, k = images.shape[0], config.starts
    for image, hole in zip(images, holes, strict=True):
        _validate(config, image, hole, images.shape[1])
    with _frozen_eval(*_modules(generator, discriminator, encoder)):
        nets = _prepare_nets(generator, discriminator, device, config.fast)
        objective = _Objective(
            images.to(device, torch.float32),
            holes.to(device),
            config.lam,
            config.luminance,
            images.shape[1],
            starts=k,
        )
        z = _starts(encoder, images.to(device, torch.float32), holes.to(device), config, nz).to(device)
        descent = _descend(nets, objective, z, config, should_stop)
        while True:
            try:
                step, *_ = next(descent)
            except StopIteration as stop:
                z = stop.value
                break
            yield step
        if z is None:
            return None
        with torch.no_grad():
            final = _refined(generator, discriminator, objective, z, config)
            final = nets.generate_exact(z).float() if final is None else final
            losses, _, _ = objective(final, nets.critic_exact(final))
        best = losses.reshape(n, k).argmin(1) + torch.arange(n, device=losses.device) * k
        return final[best]


def _adam_step(
    z: torch.Tensor, grad: torch.Tensor, m: torch.Tensor, v: torch.Tensor, step: int, lr: float
) -> None:
    """In-place Adam update (the same maths as torch.optim.Adam), then clip z to [-1, 1]."""
    beta1, beta2 = ADAM_BETAS
    m.lerp_(grad, 1 - beta1)
    v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    step_size = lr / (1 - beta1**step)
    denom = (v.sqrt() / (1 - beta2**step) ** 0.5).add_(ADAM_EPS)
    z.addcdiv_(m, denom, value=-step_size)
    z.clamp_(-1.0, 1.0)


def _refined(
    generator: nn.Module,
    discriminator: nn.Module,
    objective: _Objective,
    z: torch.Tensor,
    config: LatentConfig,
) -> torch.Tensor | None:
    """G's images for ``z`` after feature refinement, or None when it is off or G cannot be split."""
    from restorer.core.feature_refine import RefineConfig, can_refine, refine_features

    refine = RefineConfig(steps=config.refine_steps, penalty=config.refine_penalty)
    if refine.steps < 1 or not can_refine(generator, refine.block) or _device_of(generator) != z.device:
        return None  # (G on another device than the search: the networks' own copies are folded)
    with torch.enable_grad():  # only the features get gradients: G and D stay frozen
        critic = lambda x: discriminator(x).reshape(-1).float()  # noqa: E731
        return refine_features(generator, critic, objective, z, refine).images


@torch.no_grad()
def _final_result(
    nets: _Nets, objective: _Objective, z: torch.Tensor, refined: torch.Tensor | None = None
) -> LatentResult:
    """Evaluate the final z (or its refined images) in float32 and rank the starts by loss (ties
    keep start order)."""
    images = (nets.generate_exact(z) if refined is None else refined).float().contiguous()
    losses, context, prior = objective(images, nets.critic_exact(images))
    order = torch.argsort(losses.cpu(), stable=True)
    pick = order.to(z.device)
    return LatentResult(
        images=images[pick],
        losses=losses.cpu()[order],
        context_losses=context.cpu()[order],
        prior_losses=prior.cpu()[order],
        z=z[pick].clone(),
        start_ids=order.tolist(),
    )
