"""The arithmetic behind the Detect Damage dialog (no Qt, no torch): the sensitivity slider's mapping to
a probability threshold, thresholding, a small tinted preview of the proposal over the photo, and the
flagged-area wording.

One slider serves both detectors. Position 0-100 is a sensitivity in percent: the classic detector
takes ``position / 100``; the trained one a probability threshold that falls as sensitivity rises,
piecewise linear so that the middle of the slider is the network's calibrated default threshold
whatever that default is, and the ends stay short of 0 and 1 (which would flag everything or nothing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SLIDER_MAX = 100
MIDDLE = SLIDER_MAX // 2
# Thresholds at the slider's ends: least sensitive (position 0) and most sensitive (SLIDER_MAX).
STRICTEST = 0.98
LAXEST = 0.02

# RGB tints (0-255) and opacities: the window's mask in the canvas's red, the proposal in yellow, which
# stands out on the grey and sepia prints this program mostly sees.
MASK_TINT = ((255, 32, 80), 0.45)
PROPOSAL_TINT = ((255, 220, 0), 0.7)


def _check_default(default: float) -> None:
    if not LAXEST < default < STRICTEST:
        raise ValueError(f"default threshold must lie between {LAXEST} and {STRICTEST}, not {default}")


def threshold_for(position: int, default: float) -> float:
    """The probability threshold at slider ``position`` (0-SLIDER_MAX); MIDDLE gives ``default``."""
    _check_default(default)
    p = min(max(position, 0), SLIDER_MAX)
    if p <= MIDDLE:
        return STRICTEST + (default - STRICTEST) * p / MIDDLE
    return default + (LAXEST - default) * (p - MIDDLE) / (SLIDER_MAX - MIDDLE)


def position_for(threshold: float, default: float) -> int:
    """The slider position nearest to ``threshold`` (inverse of :func:`threshold_for`)."""
    _check_default(default)
    t = min(max(threshold, LAXEST), STRICTEST)
    if t >= default:
        return round(MIDDLE * (STRICTEST - t) / (STRICTEST - default))
    return round(MIDDLE + (SLIDER_MAX - MIDDLE) * (default - t) / (default - LAXEST))


def sensitivity_for(position: int) -> float:
    """The classic detector's sensitivity (0-1) at slider ``position``."""
    return min(max(position, 0), SLIDER_MAX) / SLIDER_MAX


def propose(probability: np.ndarray, threshold: float) -> np.ndarray:
    """Pixels flagged at ``threshold``: strictly above it, as ``detect_damage_learned`` decides."""
    return probability > np.float32(threshold)


def preview_factor(shape: tuple[int, ...], max_side: int) -> int:
    """The integer reduction that brings an (H, W, ...) image within ``max_side`` on its longer side.
    Integer, so every preview pixel stands for the same whole block of photo pixels."""
    if max_side < 1:
        raise ValueError(f"max_side must be at least 1, not {max_side}")
    return max(1, -(-max(shape[:2]) // max_side))


def _blocks(image: np.ndarray, factor: int, pad_mode: str) -> np.ndarray:
    """``image`` padded to a multiple of ``factor`` and viewed as (h, factor, w, factor, ...)."""
    h, w = image.shape[:2]
    ph, pw = -h % factor, -w % factor
    if ph or pw:
        widths = [(0, ph), (0, pw)] + [(0, 0)] * (image.ndim - 2)
        image = np.pad(image, widths, mode=pad_mode)
    bh, bw = image.shape[0] // factor, image.shape[1] // factor
    return image.reshape(bh, factor, bw, factor, *image.shape[2:])


def downscale_mask(mask: np.ndarray, factor: int) -> np.ndarray:
    """bool (H, W) -> bool (ceil(H / f), ceil(W / f)): a preview pixel is set when any pixel of its
    block is, so a 1-pixel scratch stays visible in the preview."""
    if factor == 1:
        return mask.copy()
    return _blocks(mask, factor, "constant").any(axis=(1, 3))


def preview_rgb(pixels: np.ndarray, factor: int) -> np.ndarray:
    """The photo as uint8 RGB (h, w, 3) reduced by block means: grey repeated, alpha dropped, 16-bit
    scaled down (the preview only has to be seen, not kept)."""
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    colour = pixels[..., :3] if pixels.shape[2] >= 3 else np.repeat(pixels[..., :1], 3, axis=2)
    if factor > 1:
        colour = _blocks(colour, factor, "edge").mean(axis=(1, 3), dtype=np.float32)
    scale = 255.0 / np.iinfo(pixels.dtype).max
    return np.clip(np.rint(colour * np.float32(scale)), 0, 255).astype(np.uint8)


def tint(rgb: np.ndarray, where: np.ndarray, colour: tuple[int, int, int], opacity: float) -> np.ndarray:
    """``rgb`` with ``colour`` laid over the ``where`` pixels at ``opacity`` (a new array)."""
    out = rgb.copy()
    over = np.asarray(colour, dtype=np.float32)
    mixed = rgb[where].astype(np.float32) * (1.0 - opacity) + over * opacity
    out[where] = np.rint(mixed).astype(np.uint8)
    return out


def compose_preview(base: np.ndarray, current: np.ndarray, proposal: np.ndarray) -> np.ndarray:
    """The dialog's picture: ``base`` (preview RGB) with the window's mask (``current``) tinted red and
    what the proposal would add tinted yellow; both masks at the preview's size."""
    shown = tint(base, current, *MASK_TINT)
    return tint(shown, proposal & ~current, *PROPOSAL_TINT)


@dataclass(frozen=True)
class Area:
    """How much a proposal flags: all of it, and what it adds to the current mask, in pixels."""

    flagged: int
    added: int
    total: int

    @classmethod
    def of(cls, proposal: np.ndarray, mask: np.ndarray) -> Area:
        flagged = int(np.count_nonzero(proposal))
        added = int(np.count_nonzero(proposal & ~mask)) if flagged else 0
        return cls(flagged, added, proposal.size)

    @property
    def percent(self) -> float:
        return 100.0 * self.flagged / self.total if self.total else 0.0

    def text(self) -> str:
        if self.flagged == 0:
            return "Nothing flagged at this sensitivity"
        share = "under 0.01" if self.percent < 0.01 else f"{self.percent:.2f}"
        return f"Flagged: {share} % of the photo ({self.flagged:,} px), {self.added:,} px not yet in the mask"
