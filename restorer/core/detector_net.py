"""A small U-Net that maps a photo to a per-pixel damage logit (scratches, cracks, dust, creases).

Depthwise-separable convolutions keep it cheap enough on a CPU for full-resolution scans: a 3x3
depthwise conv plus a 1x1 pointwise one costs about 9 + C_out multiply-adds per input channel and
pixel instead of 9 x C_out. BatchNorm (not GroupNorm or InstanceNorm) is used on purpose: in eval
mode it is a fixed per-channel affine map, so a tile's output does not depend on which other pixels
share the tile, and tiled inference matches a single pass.

With ``stem_stride`` 2 the stem is strided and the U-Net runs at half resolution (4x fewer pixels,
the cost that counts on a CPU); a 3x3 stride-2 conv still sees every pixel, so a 1-px scratch
reaches it. A light full-resolution branch (the photo's own pixels, one 3x3 conv) joins the
upsampled features before the head, so the mask keeps its pixel-exact edges.

The input side must be a multiple of ``multiple`` (inference pads to it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class DetectorArch:
    """Widths are ``base * 2 ** level`` for levels 0..depth (16/32/64/128/256 by default)."""

    nc: int = 3  # input channels; grey photos are repeated to three
    base: int = 16
    depth: int = 4  # stride-2 poolings between full resolution and the bottleneck
    crop: int = 128  # training crop side, kept for the model card (any size runs)
    stem_stride: int = 1  # 2: the U-Net runs at half resolution, a light branch restores full

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DetectorArch:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    @property
    def widths(self) -> list[int]:
        return [self.base * 2**level for level in range(self.depth + 1)]

    @property
    def multiple(self) -> int:
        return 2**self.depth * self.stem_stride


def _sep_conv(cin: int, cout: int, dilation: int = 1) -> nn.Sequential:
    """(N, cin, H, W) -> (N, cout, H, W): depthwise 3x3, pointwise 1x1, BN, ReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, padding=dilation, dilation=dilation, groups=cin, bias=False),
        nn.Conv2d(cin, cout, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class _Block(nn.Module):
    """(N, cin, H, W) -> (N, cout, H, W): two separable convs, the second dilated (a wider view for
    the same cost), with a 1x1 shortcut so the block learns a residual."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_sep_conv(cin, cout), _sep_conv(cout, cout, dilation=2))
        self.skip = nn.Conv2d(cin, cout, 1, bias=False) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.skip(x)


FINE = 8
"""Channels of the full-resolution branch of a strided-stem net."""


class DetectorNet(nn.Module):
    """(N, nc, H, W) in [-1, 1] -> (N, 1, H, W) damage logits."""

    def __init__(self, arch: DetectorArch) -> None:
        super().__init__()
        self.arch = arch
        w = arch.widths
        # A full 3x3 conv first: with only 3 input channels it is cheap, and it mixes colour at once.
        self.stem = nn.Sequential(
            nn.Conv2d(arch.nc, w[0], 3, stride=arch.stem_stride, padding=1, bias=False),
            nn.BatchNorm2d(w[0]),
            nn.ReLU(inplace=True),
        )
        self.down = nn.ModuleList([_Block(w[0], w[0])] + [_Block(w[i - 1], w[i]) for i in range(1, len(w))])
        self.up = nn.ModuleList([_Block(w[i + 1] + w[i], w[i]) for i in range(len(w) - 1)])
        if arch.stem_stride > 1:
            self.fine = nn.Sequential(
                nn.Conv2d(arch.nc, FINE, 3, padding=1, bias=False),
                nn.BatchNorm2d(FINE),
                nn.ReLU(inplace=True),
            )
            self.join = _sep_conv(w[0] + FINE, FINE)
        self.head = nn.Conv2d(FINE if arch.stem_stride > 1 else w[0], 1, 1)
        # Damage is a few percent of the pixels: start the logits at that prior (p ~ 0.05), not at
        # p = 0.5, or the first hundreds of steps only learn the bias.
        nn.init.constant_(self.head.bias, -3.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        photo = x
        x = self.stem(x)  # (N, w0, H / s, W / s), s = stem_stride
        skips = []
        for i, block in enumerate(self.down):
            if i:
                # Max pooling keeps a 1-px defect's response alive at coarser levels.
                x = F.max_pool2d(x, 2)  # (N, w[i-1], H / 2**i, W / 2**i)
            x = block(x)  # (N, w[i], H / 2**i, W / 2**i)
            skips.append(x)
        for i in reversed(range(len(self.up))):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")  # (N, w[i+1], H / 2**i, ...)
            x = self.up[i](torch.cat([x, skips[i]], dim=1))  # (N, w[i], H / 2**i, W / 2**i)
        if self.arch.stem_stride > 1:
            x = F.interpolate(x, scale_factor=float(self.arch.stem_stride), mode="bilinear")  # (N, w0, H, W)
            x = self.join(torch.cat([x, self.fine(photo)], dim=1))  # (N, FINE, H, W)
        return self.head(x)  # (N, 1, H, W)


def parameter_count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
