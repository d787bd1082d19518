"""Window patches: putting a fill into the photo, and choosing another candidate, cheaply.

The engine returns one :class:`~restorer.core.types.WindowPatch` per region instead of a restored
copy of the photo. Applying one is an indexed assignment over its hole; choosing another
candidate re-composes one window. The command line, the editing layer and evaluation all use
these functions, so a fill looks the same wherever it is applied. No torch here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import numpy as np

from restorer.core.errors import RestorerError
from restorer.core.imageio import Photo
from restorer.core.pixels import from_float
from restorer.core.types import Bounds, RestoreResult, WindowPatch


def compose(window: np.ndarray, hole: np.ndarray, candidate: np.ndarray, blend: bool) -> np.ndarray:
    """The hole's pixels (n, C), in ``window``'s dtype, with ``candidate`` put into the hole.

    Generated content is Poisson-blended (its gradients, the photo's colours at the hole's edge);
    fills that already meet the edge are pasted. Only the pixels around the hole are read.
    """
    if not np.isfinite(candidate).all():  # else the blend reports the photo's pixels as the culprit
        raise RestorerError(
            "the fill produced NaN or infinite values (a model whose weights or search overflowed); "
            "try another method or model"
        )
    if blend:
        from restorer.core.poisson import poisson_blend

        filled = poisson_blend(window, candidate, hole)
    else:
        filled = from_float(candidate, window.dtype)
    return filled[hole]


def add_grain(
    window: np.ndarray, hole: np.ndarray, values: np.ndarray, seed: int | None, params: dict
) -> np.ndarray:
    """``values`` (the hole's composed pixels) with the photo's grain ``levels`` (measured when the
    region was filled, see restorer.core.grain.photo_grain) added where they are smoother: no fill,
    whatever made it, should look plastic on a grainy scan. ``params`` are the region's: its
    ``grain_levels``, ``grain_correlation`` (absent in records made before it was measured: then
    independent per channel) and its ``tone`` (a grey or toned print gets colourless grain). No seed
    or no levels: unchanged."""
    levels = params.get("grain_levels")
    if seed is None or levels is None:
        return values
    from restorer.core.grain import match_grain

    filled = window.copy()
    filled[hole] = values
    mono = params.get("tone", "colour") != "colour"
    correlation = params.get("grain_correlation")
    if correlation is not None:
        correlation = np.asarray(correlation, np.float64)
    return match_grain(window, hole, filled, seed, np.asarray(levels, np.float32), mono, correlation)[hole]


def apply_patch(pixels: np.ndarray, patch: WindowPatch) -> None:
    """Write the patch's chosen pixels into ``pixels`` (the whole photo, (H, W, C)) in place."""
    pixels[patch.box.slices][patch.hole] = patch.values


def apply_patches(pixels: np.ndarray, patches: Iterable[WindowPatch]) -> None:
    for patch in patches:
        apply_patch(pixels, patch)


def crop(pixels: np.ndarray, box: Bounds, patches: Iterable[WindowPatch] = ()) -> np.ndarray:
    """A copy of ``box`` of the photo as it looks with ``patches`` applied (the photo is untouched)."""
    window = pixels[box.slices].copy()
    for patch in patches:
        overlap = patch.box.intersect(box)
        if overlap.is_empty:
            continue
        hole = patch.hole[overlap.relative_to(patch.box).slices]
        if not hole.any():
            continue
        # the patch's values for the overlap: scatter them into a block, then copy the hole's pixels
        block = window[overlap.relative_to(box).slices]
        full = np.zeros((*patch.hole.shape, window.shape[2]), window.dtype)
        full[patch.hole] = patch.values
        block[hole] = full[overlap.relative_to(patch.box).slices][hole]
    return window


def candidate_window(pixels: np.ndarray, patch: WindowPatch, candidate: int) -> np.ndarray:
    """The patch's window of ``pixels`` with candidate ``candidate`` in its hole: (h, w, C) pixels."""
    _check_candidate(patch, candidate)
    window = pixels[patch.box.slices].copy()
    values = compose(window, patch.hole, patch.candidates[candidate], patch.blend)
    window[patch.hole] = add_grain(window, patch.hole, values, patch.grain_seed, patch.params)
    return window


def choose(pixels: np.ndarray, patch: WindowPatch, candidate: int) -> WindowPatch:
    """The same patch with ``candidate`` composed into the hole of ``pixels`` (the photo it goes in)."""
    _check_candidate(patch, candidate)
    window = pixels[patch.box.slices]
    values = compose(window, patch.hole, patch.candidates[candidate], patch.blend)
    values = add_grain(window, patch.hole, values, patch.grain_seed, patch.params)
    return replace(patch, values=values, chosen=candidate)


def apply_result(photo: Photo, result: RestoreResult) -> Photo:
    """A new photo with every patch applied: the one full copy, made for writing the output."""
    pixels = photo.pixels.copy()
    apply_patches(pixels, result.patches)
    return photo.with_pixels(pixels)


def _check_candidate(patch: WindowPatch, candidate: int) -> None:
    if not 0 <= candidate < len(patch.candidates):
        raise RestorerError(
            f"region {patch.index + 1} has {len(patch.candidates)} candidate(s), not a number {candidate + 1}"
        )
