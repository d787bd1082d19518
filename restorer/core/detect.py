"""Automatic damage detection: propose a mask of scratches, cracks, dust and spots on a scanned print.

Nothing is downloaded or pretrained: candidates come from classical image processing on
luminance, run once for bright and once for dark defects, and a small logistic model decides
which candidates are damage.

1. *Thin-structure contrast*: a morphological top-hat (the image minus its opening with a square a
   little wider than the widest defect) keeps only structures thinner than that square.
2. *Line evidence*: the top-hat averaged along short segments in 8 directions; a scratch keeps its
   contrast along its own direction while grain and texture average out. What the best segment
   gains over the mean of its square neighbourhood is the line score.
3. *Spot evidence*: the top-hat's excess over its neighbourhood mean, for small specks.
4. Hysteresis: line or spot evidence above the photo's grain level seeds a candidate, which grows
   over nearby pixels with weaker top-hat contrast, keeping pixels with at least half the local
   peak contrast (so a candidate's width follows the defect's).
5. Candidates are the connected components of that region. One that is thicker on average than
   the top-hat can see is texture (many thin structures merged), and is cut again at a higher
   contrast level, where a strong defect running through the texture stands alone.
6. Each candidate is described by its size, shape, contrast against local texture and grain,
   evenness, edge sharpness, how close it gets to white (or black) and how crowded its
   neighbourhood is, and kept when a logistic model's log-odds exceed a threshold set by the
   sensitivity. The weights are calibrated on synthetic damage over training photos.
7. The mask is dilated by one pixel to cover the soft edge of the damage.

Large scans are analysed at a working resolution made by max-pooling (for bright defects) and
min-pooling (for dark ones), which keeps a 1-pixel scratch at full contrast; the mask is then
refined at full resolution inside the flagged blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from restorer.core.errors import RestorerError

# Largest image analysed at full resolution; larger ones are pooled by an integer factor down to this.
WORKING_PIXELS = 3_000_000

_EIGHT_NEIGHBOURS = np.ones((3, 3), dtype=bool)
# Integer steps for 8 segment directions, about 22.5 degrees apart (0, 26.6, 45, 63.4, 90, ...).
_DIRECTIONS = ((0, 1), (1, 2), (1, 1), (2, 1), (1, 0), (2, -1), (1, -1), (1, -2))


@dataclass(frozen=True)
class Tuning:
    """Candidate-finding constants, in working-resolution pixels and luminance units (0-1)."""

    tophat_size: int = 9  # finds defects up to ~8 px wide
    segment_length: float = 15.0  # line-evidence segment, px
    texture_window: int = 31  # local texture is the mean top-hat over this square
    line_seed: float = 1.0  # line seeds: line score / noise
    spot_seed: float = 2.0  # spot seeds: spot score / noise
    # Candidates are cut at a base contrast level (top-hat / noise) and, inside components too thick
    # to be one defect, again at the next: at the base level a strong crack may merge with the
    # mortar lines of a brick wall into one big component, at a higher one it stands alone.
    levels: tuple[float, ...] = (1.0, 4.0)
    min_noise: float = 0.02  # noise floor, so that clean flat photos do not flag every ripple
    grow_radius: int = 3  # how far (px) a candidate may grow from its seeds


TUNING = Tuning()

# What the classifier sees of each candidate (a connected component of one polarity).
FEATURES = (
    "log_area",
    "log_length",  # along the main axis
    "log_outline",  # half the boundary pixels: the length along a curved, crossed or branched defect
    "thickness",  # area / length, capped at the top-hat size
    "log_contrast",  # mean top-hat
    "log_peak",  # strongest top-hat
    "line_ratio",  # line score / contrast
    "spot_ratio",  # spot score / contrast
    "log_texture",  # mean top-hat in the neighbourhood
    "log_noise",  # the photo's grain
    "log_snr",  # contrast / (texture + noise)
    "line_seed",  # holds a line seed
    "spot_seed",  # holds a spot seed
    "contrast_cv",  # spread of contrast / contrast: damage is even, texture patchy
    "sharpness",  # mean gradient over the candidate and its rim / contrast: damage is sharp-edged
    "headroom",  # contrast / room left to white (or black): scratches go nearly all the way
    "log_level",  # the contrast level (top-hat / noise) the candidate was cut at
    "crowding",  # share of the neighbourhood that is candidate too: high in texture, low for damage
)
# Logistic weights of each feature for bright and dark candidates: fitted on synthetic damage over
# FairFace *train* photos by `python benchmarks/detect_quality.py --split train --calibrate`
# (which prints this table).
_WEIGHTS = {  # feature: (bright, dark)
    "log_area": (-5.907, -5.215),
    "log_length": (5.26, 4.002),
    "log_outline": (3.168, 2.869),
    "thickness": (0.8808, 0.6946),
    "log_contrast": (0.1367, -0.9323),
    "log_peak": (-1.677, -1.206),
    "line_ratio": (-0.9842, 0.07534),
    "spot_ratio": (-1.809, -2.292),
    "log_texture": (-0.5082, 0.3813),
    "log_noise": (0.7439, 0.7424),
    "log_snr": (4.206, 5.222),
    "line_seed": (-1.287, -0.3717),
    "spot_seed": (-0.4569, -0.05432),
    "contrast_cv": (-10.8, -8.864),
    "sharpness": (0.4519, 1.06),
    "headroom": (6.774, 2.184),
    "log_level": (-0.5614, -0.6746),
    "crowding": (1.795, -1.127),
    "bias": (-8.515, -5.053),
}
WEIGHTS: dict[int, np.ndarray] = {
    polarity: np.array([_WEIGHTS[name][side] for name in FEATURES]) for side, polarity in ((0, 1), (1, -1))
}
BIAS: dict[int, float] = {1: _WEIGHTS["bias"][0], -1: _WEIGHTS["bias"][1]}
# The default sensitivity (0.5) keeps candidates whose log-odds exceed DEFAULT_THRESHOLD, chosen on
# the tune split (other FairFace train photos) for about 0.3 % of pixels flagged on undamaged photos;
# sensitivity 0 .. 1 moves the threshold by +SPAN/2 .. -SPAN/2 around it.
DEFAULT_THRESHOLD = -0.8
SENSITIVITY_SPAN = 8.0


@dataclass(frozen=True)
class Luminance:
    """Full-resolution luminance as integers (half the memory of float32 on a 24 MP scan)."""

    values: np.ndarray  # uint16 (H, W)
    full_scale: float  # the value of white

    def at(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return self.values[rows, cols].astype(np.float32) / np.float32(self.full_scale)


@dataclass
class Candidates:
    """Possible defects of one polarity and contrast level, found at working resolution
    (``factor`` x smaller).

    Images are in polarity space: luminance for bright candidates, 1 - luminance for dark ones.
    """

    polarity: int  # +1 brighter than the print around, -1 darker
    factor: int
    labels: np.ndarray  # int32 (h, w) component index, 0 = none
    features: np.ndarray  # (n, len(FEATURES)); row i describes component i + 1
    usable: np.ndarray  # (n,) bool: thin enough on average to be a single defect
    background: np.ndarray  # (h, w) the print without thin structures (the opening)
    tophat: np.ndarray  # (h, w) contrast of thin structures over the background


def detect_damage(pixels: np.ndarray, sensitivity: float = 0.5) -> np.ndarray:
    """Return a ``bool (H, W)`` mask of likely print damage (True = damaged).

    ``pixels`` is ``(H, W, C)`` or ``(H, W)``, uint8 or uint16, grey or colour (an alpha channel
    is ignored). ``sensitivity`` in [0, 1] trades missed damage (0) for false alarms (1); 0.5 is
    the calibrated default.
    """
    if not 0.0 <= sensitivity <= 1.0:
        raise RestorerError(f"sensitivity must be between 0 and 1, got {sensitivity}")
    luma, candidates = find_candidates(pixels)
    threshold = DEFAULT_THRESHOLD + (0.5 - sensitivity) * SENSITIVITY_SPAN
    mask = np.zeros(luma.values.shape, dtype=bool)
    for found in candidates:
        keep = np.concatenate([[False], (damage_logits(found) > threshold) & found.usable])
        _refine_into(mask, keep[found.labels], found, luma)
    return _dilate(mask)


def damage_logits(candidates: Candidates) -> np.ndarray:
    """Log-odds that each candidate is damage rather than image structure."""
    return candidates.features @ WEIGHTS[candidates.polarity] + BIAS[candidates.polarity]


def find_candidates(pixels: np.ndarray, tuning: Tuning = TUNING) -> tuple[Luminance, list[Candidates]]:
    """Luminance of ``pixels`` and the bright and dark candidate defects in it."""
    luma = luminance(pixels)
    h, w = luma.values.shape
    factor = max(1, int(np.ceil(np.sqrt(h * w / WORKING_PIXELS))))
    found = []
    for polarity, reduce in ((1, np.maximum), (-1, np.minimum)):
        working = _pool(luma.values, factor, reduce).astype(np.float32) / np.float32(luma.full_scale)
        if polarity < 0:
            np.subtract(1.0, working, out=working)
        found += _candidates(working, polarity, factor, tuning)
    return luma, found


#: The smallest side the detectors' 3x3 neighbourhoods (and the learned one's tiles) work on.
MIN_SIDE = 3


def check_pixels(pixels: np.ndarray) -> np.ndarray:
    """The photo as (H, W, C) 8- or 16-bit pixels; refuse, naming the cause, what no detector can
    look at: another dtype, a photo thinner than MIN_SIDE pixels, or an array that is no photo."""
    if not isinstance(pixels, np.ndarray) or pixels.dtype not in (np.uint8, np.uint16):
        kind = getattr(pixels, "dtype", type(pixels).__name__)
        raise RestorerError(f"damage detection needs 8- or 16-bit pixels, got {kind}")
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or not 1 <= pixels.shape[2] <= 4:
        raise RestorerError(f"damage detection needs an (H, W, C) photo, got shape {pixels.shape}")
    height, width = pixels.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise RestorerError(
            f"the photo is {width}x{height} pixels: damage detection needs at least "
            f"{MIN_SIDE} pixels in each direction"
        )
    return pixels


def luminance(pixels: np.ndarray) -> Luminance:
    """Rec. 601 luminance in fixed point (exact enough: 1/256 of a grey level at worst)."""
    pixels = check_pixels(pixels)
    if pixels.shape[2] < 3:  # grey, or grey + alpha
        grey = pixels[..., 0]
        if grey.dtype == np.uint8:
            return Luminance(grey.astype(np.uint16), 255.0)
        return Luminance(np.ascontiguousarray(grey), 65535.0)
    if pixels.dtype == np.uint8:
        # Weights x 256 (77 + 150 + 29 = 256): the sum fits uint16.
        work, weights, shift, full = np.uint16, (77, 150, 29), 0, 255.0 * 256
    else:
        # Weights x 65536: the sum of three 16-bit channels fits uint32, then back to 16 bits.
        work, weights, shift, full = np.uint32, (19595, 38470, 7471), 16, 65535.0
    total = np.multiply(pixels[..., 0], weights[0], dtype=work)
    for channel in (1, 2):
        total += np.multiply(pixels[..., channel], weights[channel], dtype=work)
    if shift:
        total >>= shift
    return Luminance(total.astype(np.uint16, copy=False), full)


def _pool(image: np.ndarray, factor: int, reduce: np.ufunc) -> np.ndarray:
    """Reduce ``factor`` x ``factor`` blocks with ``reduce`` (edge blocks padded by replication)."""
    if factor == 1:
        return image
    h, w = image.shape
    ph, pw = -h % factor, -w % factor
    if ph or pw:
        image = np.pad(image, ((0, ph), (0, pw)), mode="edge")
    rows = image[0::factor].copy()
    for i in range(1, factor):
        reduce(rows, image[i::factor], out=rows)
    out = rows[:, 0::factor].copy()
    for j in range(1, factor):
        reduce(out, rows[:, j::factor], out=out)
    return out


def _best_segment_mean(image: np.ndarray, length: float) -> np.ndarray:
    """Largest mean of ``image`` over centred segments of about ``length`` px in the 8 directions."""
    h, w = image.shape
    reach = int(length // 2)
    padded = np.pad(image, reach, mode="reflect")
    best = np.full_like(image, -np.inf)
    total = np.empty_like(image)
    for step in _DIRECTIONS:
        n = max(int(length / np.hypot(*step) / 2), 1)  # samples each side of the centre
        total.fill(0.0)
        for k in range(-n, n + 1):
            dy, dx = reach + k * step[0], reach + k * step[1]
            total += padded[dy : dy + h, dx : dx + w]
        np.maximum(best, total / (2 * n + 1), out=best)
    return best


def _noise_level(tophat: np.ndarray) -> float:
    """Robust spread of the top-hat over the image: grain and fine texture, not the (sparse) damage."""
    sample = tophat[::2, ::2] if tophat.size > 1_000_000 else tophat
    median = float(np.median(sample))
    return 1.4826 * float(np.median(np.abs(sample - median)))


def _candidates(image: np.ndarray, polarity: int, factor: int, tuning: Tuning) -> list[Candidates]:
    """Thin or small structures brighter than their surroundings in ``image``, with their features,
    cut at each contrast level."""
    background = ndi.grey_opening(image, size=tuning.tophat_size)
    tophat = image - background
    smooth = ndi.gaussian_filter(tophat, 0.8)
    noise = tuning.min_noise + _noise_level(smooth)

    around = ndi.uniform_filter(smooth, int(tuning.segment_length) | 1)
    line_excess = _best_segment_mean(smooth, tuning.segment_length) - around
    # Specks of a pixel or two are blurred away at sigma 0.8, so spots use a lighter blur.
    spot_excess = ndi.gaussian_filter(tophat, 0.5) - around
    line_seeds = line_excess > tuning.line_seed * noise
    spot_seeds = spot_excess > tuning.spot_seed * noise

    near_seed = _dilate(line_seeds | spot_seeds, tuning.grow_radius)
    near_seed &= tophat >= 0.5 * ndi.maximum_filter(tophat, 5)  # a defect's core, not its flanks
    texture = ndi.uniform_filter(smooth, tuning.texture_window)
    base = (near_seed & (tophat > tuning.levels[0] * noise)).astype(np.float32)
    crowding = ndi.uniform_filter(base, tuning.texture_window)
    evidence = _Evidence(
        image, background, tophat, line_excess, spot_excess, line_seeds, spot_seeds, texture, crowding
    )
    cuts = []
    merged = near_seed  # where to look at the next level: at first everywhere
    for level in tuning.levels:
        found = _cut(evidence, merged & (tophat > level * noise), level, noise, polarity, factor, tuning)
        cuts.append(found)
        merged = np.concatenate([[False], ~found.usable])[found.labels]
        if not merged.any():
            break
    return cuts


@dataclass
class _Evidence:
    """Per-pixel maps (working resolution, polarity space) that candidates are described from."""

    image: np.ndarray
    background: np.ndarray
    tophat: np.ndarray
    line_excess: np.ndarray
    spot_excess: np.ndarray
    line_seeds: np.ndarray
    spot_seeds: np.ndarray
    texture: np.ndarray
    crowding: np.ndarray


def _cut(
    ev: _Evidence, core: np.ndarray, level: float, noise: float, polarity: int, factor: int, tuning: Tuning
) -> Candidates:
    """Connected components of ``core`` and their features."""
    labels, n = ndi.label(core, structure=_EIGHT_NEIGHBOURS)
    stats = _ComponentStats(labels, n)
    area, length = stats.area, stats.length()
    contrast = np.maximum(stats.mean(ev.tophat), 1e-4)
    spread = np.sqrt(np.maximum(stats.mean(ev.tophat * ev.tophat) - contrast**2, 0.0))
    texture = np.maximum(stats.mean(ev.texture), 1e-4)
    features = np.stack(
        [
            np.log(area),
            np.log(length),
            np.log(np.maximum(stats.boundary() / 2, 1.0)),
            np.minimum(area / length, tuning.tophat_size),
            np.log(contrast),
            np.log(np.maximum(stats.peak(ev.tophat), 1e-4)),
            stats.mean(ev.line_excess) / contrast,
            stats.mean(ev.spot_excess) / contrast,
            np.log(texture),
            np.full(n, np.log(noise)),
            np.log(contrast / (texture + noise)),
            stats.peak(ev.line_seeds),
            stats.peak(ev.spot_seeds),
            spread / contrast,
            stats.rim_gradient(ev.image) / contrast,
            contrast / np.maximum(1.0 - stats.mean(ev.background), 0.02),
            np.full(n, np.log(level)),
            stats.mean(ev.crowding),
        ],
        axis=1,
    ).reshape(n, len(FEATURES))
    # The top-hat only sees structures narrower than its square, so a candidate thicker than that
    # on average is many structures merged: texture (a fence, a basket weave), not one defect.
    usable = area / length <= tuning.tophat_size
    return Candidates(polarity, factor, labels, features, usable, ev.background, ev.tophat)


class _ComponentStats:
    """Per-component statistics over the labelled pixels only, vectorised with bincount."""

    def __init__(self, labels: np.ndarray, n: int) -> None:
        self.labels, self.n = labels, n
        self.pixels = np.flatnonzero(labels)
        self.index = labels.ravel()[self.pixels]
        self.area = np.bincount(self.index, minlength=n + 1)[1:].astype(np.float64)
        self._by_label = self.pixels[np.argsort(self.index, kind="stable")]
        self._starts = np.concatenate([[0], np.cumsum(self.area[:-1])]).astype(np.int64)

    def mean(self, values: np.ndarray) -> np.ndarray:
        sums = np.bincount(self.index, weights=values.ravel()[self.pixels], minlength=self.n + 1)
        return sums[1:] / self.area

    def peak(self, values: np.ndarray) -> np.ndarray:
        if self.n == 0:
            return np.zeros(0)
        return np.maximum.reduceat(values.ravel()[self._by_label], self._starts).astype(np.float64)

    def length(self) -> np.ndarray:
        """Extent along the main axis, from second moments (a bar of length L has variance L**2/12)."""
        ys, xs = np.divmod(self.pixels, self.labels.shape[1])
        safe = np.concatenate([[1.0], self.area])
        lab = self.index
        my = np.bincount(lab, ys, self.n + 1) / safe
        mx = np.bincount(lab, xs, self.n + 1) / safe
        dy, dx = ys - my[lab], xs - mx[lab]
        syy = np.bincount(lab, dy * dy, self.n + 1) / safe
        sxx = np.bincount(lab, dx * dx, self.n + 1) / safe
        sxy = np.bincount(lab, dy * dx, self.n + 1) / safe
        major = (syy + sxx) / 2 + np.sqrt(((syy - sxx) / 2) ** 2 + sxy**2)
        return (np.sqrt(12 * major) + 1.0)[1:]

    def boundary(self) -> np.ndarray:
        """Pixels of each component with a 4-neighbour outside it."""
        h, w = self.labels.shape
        ys, xs = np.divmod(self.pixels, w)
        edge = np.zeros(len(self.pixels), dtype=bool)
        for ny, nx in ((ys - 1, xs), (ys + 1, xs), (ys, xs - 1), (ys, xs + 1)):
            inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
            neighbour = self.labels[np.clip(ny, 0, h - 1), np.clip(nx, 0, w - 1)]
            edge |= ~inside | (neighbour != self.index)
        return np.bincount(self.index, weights=edge, minlength=self.n + 1)[1:]

    def rim_gradient(self, image: np.ndarray) -> np.ndarray:
        """Mean gradient magnitude over each component grown by one pixel (so its edges count)."""
        grown = ndi.maximum_filter(self.labels, 3)
        where = np.flatnonzero(grown)
        index = grown.ravel()[where]
        h, w = image.shape
        ys, xs = np.divmod(where, w)
        gy = image[np.minimum(ys + 1, h - 1), xs] - image[np.maximum(ys - 1, 0), xs]
        gx = image[ys, np.minimum(xs + 1, w - 1)] - image[ys, np.maximum(xs - 1, 0)]
        sums = np.bincount(index, weights=np.hypot(gy, gx) / 2, minlength=self.n + 1)[1:]
        return sums / np.maximum(np.bincount(index, minlength=self.n + 1)[1:], 1)


def _refine_into(mask: np.ndarray, found: np.ndarray, candidates: Candidates, luma: Luminance) -> None:
    """OR into ``mask`` the full-resolution pixels of flagged working pixels that belong to the defect:
    those past the midpoint between the background and the defect's local peak contrast."""
    factor = candidates.factor
    if factor > 1:
        found = _dilate(found)  # a defect may straddle the edge of a flagged block
    bi, bj = np.nonzero(found)
    if bi.size == 0:
        return
    h, w = candidates.tophat.shape
    peak = candidates.tophat[bi, bj]
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            ny, nx = np.clip(bi + dy, 0, h - 1), np.clip(bj + dx, 0, w - 1)
            np.maximum(peak, candidates.tophat[ny, nx], out=peak)
    level = candidates.background[bi, bj] + 0.5 * peak
    # Full-resolution pixels of each working block, clipped at the image edge.
    oy, ox = np.divmod(np.arange(factor * factor), factor)
    yy = np.minimum(bi[:, None] * factor + oy[None, :], mask.shape[0] - 1)
    xx = np.minimum(bj[:, None] * factor + ox[None, :], mask.shape[1] - 1)
    value = luma.at(yy, xx)
    if candidates.polarity < 0:
        value = 1.0 - value
    inside = value > level[:, None]
    mask[yy[inside], xx[inside]] = True


def _dilate(mask: np.ndarray, radius: int = 1) -> np.ndarray:
    """Binary dilation by a square of side 2*radius+1 (separable, so fast on large masks)."""
    if radius <= 0:
        return mask
    return ndi.maximum_filter(mask.view(np.uint8), size=2 * radius + 1).view(bool)
