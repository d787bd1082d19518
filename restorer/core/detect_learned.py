"""Damage detection with the trained segmentation network (restorer.core.detector_net), at any size.

Large scans are cut into overlapping tiles (512 px with 32 px of overlap by default) so memory stays
small and bounded; each tile's probabilities are blended into the result with weights that fall off
linearly across the overlap (only on sides that have a neighbour), so seams do not show. The network
sees every tile at full resolution: a 1-pixel scratch stays 1 pixel wide.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from restorer.core.errors import RestorerError

DEFAULT_THRESHOLD = 0.5
TILE = 512  # per-pixel cost is flat from 256 to 512 px tiles; larger tiles waste less on overlap
OVERLAP = 32


FAST_DETECTOR = "detector-fast"
"""The strided-stem detector (models/detector-fast.md): ~3x faster on large scans, lower recall."""


def installed_detector(fast: bool = False) -> Path | None:
    """The shipped (or user-installed) detector weights, or None: the default one, or with ``fast``
    the half-resolution one."""
    from restorer.core.weights import DEFAULT_MODELS, resolve_model

    try:
        return resolve_model(FAST_DETECTOR if fast else DEFAULT_MODELS["detector"], "detector")
    except RestorerError:
        return None


@contextmanager
def _threads(n: int | None) -> Iterator[None]:
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _as_rgb_float(pixels: np.ndarray) -> np.ndarray:
    """(H, W) / (H, W, 1-4) uint8 / uint16 -> (H, W, 3) float32 in [-1, 1]; alpha dropped, grey repeated."""
    from restorer.core.detect import check_pixels

    pixels = check_pixels(pixels)
    colour = pixels[..., :3] if pixels.shape[2] >= 3 else np.repeat(pixels[..., :1], 3, axis=2)
    scale = np.float32(2.0 / np.iinfo(pixels.dtype).max)
    return colour.astype(np.float32) * scale - np.float32(1.0)


def _ramp(length: int, overlap: int, before: bool, after: bool) -> np.ndarray:
    """1-D blend weights for a tile: rising over ``overlap`` px where a neighbour precedes it, falling
    where one follows it, flat elsewhere (a small floor keeps every pixel covered)."""
    w = np.ones(length, dtype=np.float32)
    if overlap > 0:
        ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        if before:
            w[:overlap] = np.minimum(w[:overlap], ramp)
        if after:
            w[-overlap:] = np.minimum(w[-overlap:], ramp[::-1])
    return np.maximum(w, 1e-3)


def _spans(size: int, tile: int, step: int, multiple: int) -> list[tuple[int, int]]:
    """(start, end) of each tile along one axis. Starts lie on the net's grid (multiples of its
    strides), so every tile is sampled and pooled exactly as one pass over the photo would be; the
    last tile reaches the end (up to ``multiple - 1`` px longer than the others)."""
    if size <= tile:
        return [(0, size)]
    step = max(multiple, step // multiple * multiple)
    last = (size - tile) // multiple * multiple
    starts = [*range(0, last, step), last]
    return [(start, size if start == last else start + tile) for start in starts]


def _forward(net: torch.nn.Module, tile: np.ndarray, multiple: int) -> np.ndarray:
    """(h, w, 3) float tile -> (h, w) probabilities; pads to the net's multiple. One tile per pass:
    batching tiles only costs memory."""
    # NHWC ("channels last") is the layout the CPU's depthwise and 1x1 kernels run fastest in:
    # 1.8x faster than NCHW for this net (512-px tile, one thread). numpy tiles are NHWC already.
    x = torch.from_numpy(np.ascontiguousarray(tile)).permute(2, 0, 1)[None]  # (1, 3, h, w), NHWC in memory
    h, w = x.shape[2:]
    ph, pw = -h % multiple, -w % multiple
    if ph or pw:  # reflect, so the padding looks like more photo rather than a hard edge
        x = F.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate")
    x = x.contiguous(memory_format=torch.channels_last)
    return torch.sigmoid(net(x))[0, 0, :h, :w].contiguous().numpy()


def damage_probability(
    pixels: np.ndarray,
    model: object | None = None,
    tile: int = TILE,
    overlap: int = OVERLAP,
    threads: int | None = None,
) -> np.ndarray:
    """Per-pixel damage probability (H, W) float32 in [0, 1]. ``model`` is a LoadedModel (detector
    kind), a path, or None for the installed detector."""
    from restorer.core.weights import LoadedModel, load_cached

    if not isinstance(model, LoadedModel):
        path = Path(model) if model is not None else installed_detector()
        if path is None:
            raise RestorerError("no trained damage detector installed (models/detector.pt)")
        model = load_cached(path, torch.device("cpu"))
    if model.kind != "detector":
        raise RestorerError(f"{model.name} is a {model.kind} model, not a damage detector")
    if tile < max(32, model.arch.multiple) or not 0 <= overlap < tile // 2:
        raise RestorerError(f"tile must be >= 32 px and overlap below half of it (got {tile}, {overlap})")
    net = model.nets["detector"].to(memory_format=torch.channels_last)  # in place, once per model
    multiple = model.arch.multiple
    image = _as_rgb_float(pixels)
    h, w = image.shape[:2]
    total = np.zeros((h, w), dtype=np.float32)
    weight = np.zeros((h, w), dtype=np.float32)
    step = tile - overlap
    ys, xs = _spans(h, tile, step, multiple), _spans(w, tile, step, multiple)
    with _threads(threads), torch.inference_mode():
        for y0, y1 in ys:
            for x0, x1 in xs:
                prob = _forward(net, image[y0:y1, x0:x1], multiple)
                wy = _ramp(y1 - y0, overlap, y0 > 0, y1 < h)
                wx = _ramp(x1 - x0, overlap, x0 > 0, x1 < w)
                blend = wy[:, None] * wx[None, :]
                total[y0:y1, x0:x1] += prob * blend
                weight[y0:y1, x0:x1] += blend
    return total / weight


def detect_damage_learned(
    pixels: np.ndarray,
    threshold: float = DEFAULT_THRESHOLD,
    model: object | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """bool (H, W) mask: pixels whose damage probability exceeds ``threshold``."""
    if not 0.0 <= threshold <= 1.0:
        raise RestorerError(f"threshold must be between 0 and 1, not {threshold}")
    return damage_probability(pixels, model, threads=threads) > threshold
