"""Network definitions: DCGAN generator/discriminator, the latent encoder and the Context Encoder.

Images are float tensors in [-1, 1], shape (N, C, H, W). Shape comments read
"(N, channels, height, width)" for the 64 px model; the 128 px variant adds one
block at the coarse end and doubles every spatial size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import pairwise

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


@dataclass(frozen=True)
class GanArch:
    """Everything needed to rebuild a DCGAN pair from a weights file."""

    resolution: int = 64  # 64 or 128
    nz: int = 100  # latent size
    ngf: int = 64  # generator width at the finest block
    ndf: int = 64  # discriminator width at the finest block
    nc: int = 3  # image channels
    d_norm: str = "spectral"  # "batch" (Radford et al.) or "spectral" (Miyato et al.)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> GanArch:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    @property
    def n_blocks(self) -> int:
        """Number of stride-2 blocks between 4x4 and the output resolution."""
        if self.resolution not in (64, 128):
            raise ValueError(f"resolution must be 64 or 128, not {self.resolution}")
        return self.resolution.bit_length() - 3  # 64 -> 4, 128 -> 5


class Generator(nn.Module):
    """DCGAN generator (Radford et al. 2016): z (N, nz) -> image (N, nc, R, R) in [-1, 1]."""

    def __init__(self, arch: GanArch = GanArch()) -> None:
        super().__init__()
        self.arch = arch
        widths = [arch.ngf * 2 ** (arch.n_blocks - 1 - i) for i in range(arch.n_blocks)]
        # widths for 64 px, ngf=64: [512, 256, 128, 64]
        layers: list[nn.Module] = [
            # (N, nz, 1, 1) -> (N, 512, 4, 4)
            nn.ConvTranspose2d(arch.nz, widths[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        ]
        for c_in, c_out in pairwise(widths):
            # (N, c_in, s, s) -> (N, c_out, 2s, 2s): 4 -> 8 -> 16 -> 32
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(True),
            ]
        # (N, 64, 32, 32) -> (N, nc, 64, 64)
        layers += [nn.ConvTranspose2d(widths[-1], arch.nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.reshape(z.shape[0], -1, 1, 1))


class Discriminator(nn.Module):
    """DCGAN discriminator: image (N, nc, R, R) -> realness logit (N,). D(x) = sigmoid(logit)."""

    def __init__(self, arch: GanArch = GanArch()) -> None:
        super().__init__()
        self.arch = arch
        sn = spectral_norm if arch.d_norm == "spectral" else (lambda m: m)
        widths = [arch.ndf * 2**i for i in range(arch.n_blocks)]
        # widths for 64 px, ndf=64: [64, 128, 256, 512]
        # (N, nc, 64, 64) -> (N, 64, 32, 32); no normalisation on the first block, as in DCGAN
        layers: list[nn.Module] = [sn(nn.Conv2d(arch.nc, widths[0], 4, 2, 1)), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in pairwise(widths):
            # (N, c_in, s, s) -> (N, c_out, s/2, s/2): 32 -> 16 -> 8 -> 4
            layers.append(sn(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=arch.d_norm != "batch")))
            if arch.d_norm == "batch":
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2, True))
        # (N, 512, 4, 4) -> (N, 1, 1, 1)
        layers.append(sn(nn.Conv2d(widths[-1], 1, 4, 1, 0)))
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).reshape(-1)


class LatentEncoder(nn.Module):
    """A masked face -> the latent G would draw it from (Lahiri et al., CVPR 2020): the inversion's
    starts begin around E(y) instead of anywhere in the cube. Input (image * known, known)
    (N, nc + 1, R, R) -> z (N, nz) in [-1, 1]. Built from the GAN's arch, so it always fits its G."""

    def __init__(self, arch: GanArch = GanArch()) -> None:
        super().__init__()
        self.arch = arch
        widths = [arch.ndf * 2**i for i in range(arch.n_blocks)]
        # widths for 64 px, ndf=32: [32, 64, 128, 256]
        # (N, nc + 1, 64, 64) -> (N, 32, 32, 32)
        layers: list[nn.Module] = [nn.Conv2d(arch.nc + 1, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in pairwise(widths):
            # (N, c_in, s, s) -> (N, c_out, s/2, s/2): 32 -> 16 -> 8 -> 4
            layers += [
                nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.LeakyReLU(0.2, True),
            ]
        self.features = nn.Sequential(*layers)
        # (N, 256 * 4 * 4) -> (N, nz), squashed into the box the latent search clips to
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(widths[-1] * 16, arch.nz), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass(frozen=True)
class ContextEncoderArch:
    """Pathak et al.'s encoder-decoder with a channel-wise fully-connected bottleneck."""

    resolution: int = 64
    nef: int = 64  # encoder width at the finest block
    ndf: int = 64  # adversarial discriminator width
    nc: int = 3

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ContextEncoderArch:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    @property
    def n_blocks(self) -> int:
        return GanArch(resolution=self.resolution).n_blocks


class ChannelwiseFC(nn.Module):
    """Fully connects each channel's feature map to itself, then mixes channels with a 1x1 conv.

    Pathak et al. use this instead of a dense layer: it propagates information across the
    whole image (every output position sees every input position) with C*(HW)^2 parameters
    instead of (C*HW)^2.
    """

    def __init__(self, channels: int, size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(channels, size * size, size * size) / size)
        self.bias = nn.Parameter(torch.zeros(channels, size * size))
        self.mix = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        # (N, C, HW) x (C, HW, HW) -> (N, C, HW), one matrix per channel
        y = torch.einsum("nci,cij->ncj", x.reshape(n, c, h * w), self.weight) + self.bias
        return self.mix(torch.relu(y).reshape(n, c, h, w))


class ContextEncoder(nn.Module):
    """(image with hole, known mask) -> full predicted image; the caller keeps known pixels.

    Input: (N, nc + 1, R, R): the image with holes set to 0 (the data mean in [-1, 1]) and a
    channel that is 1 on known pixels. Output: (N, nc, R, R) in [-1, 1].
    """

    def __init__(self, arch: ContextEncoderArch = ContextEncoderArch()) -> None:
        super().__init__()
        self.arch = arch
        widths = [arch.nef * 2**i for i in range(arch.n_blocks)]  # [64, 128, 256, 512]
        enc: list[nn.Module] = [nn.Conv2d(arch.nc + 1, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in pairwise(widths):
            # (N, c_in, s, s) -> (N, c_out, s/2, s/2): 32 -> 16 -> 8 -> 4
            enc += [
                nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.LeakyReLU(0.2, True),
            ]
        self.encoder = nn.Sequential(*enc)
        # (N, 512, 4, 4) -> (N, 512, 4, 4), every position connected to every other
        self.bottleneck = ChannelwiseFC(widths[-1], 4)
        dec: list[nn.Module] = []
        rev = widths[::-1]  # [512, 256, 128, 64]
        for c_in, c_out in pairwise(rev):
            # (N, c_in, s, s) -> (N, c_out, 2s, 2s): 4 -> 8 -> 16 -> 32
            dec += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(True),
            ]
        # (N, 64, 32, 32) -> (N, nc, 64, 64)
        dec += [nn.ConvTranspose2d(rev[-1], arch.nc, 4, 2, 1), nn.Tanh()]
        self.decoder = nn.Sequential(*dec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.bottleneck(self.encoder(x)))


def make_context_input(image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Build the Context Encoder's input from images (N, C, R, R) and a known mask (N, 1, R, R)."""
    return torch.cat([image * known, known], dim=1)


def init_dcgan_weights(module: nn.Module) -> None:
    """Radford et al.'s initialisation: N(0, 0.02) convolutions, N(1, 0.02) batch-norm scales."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            w = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            nn.init.normal_(w, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
