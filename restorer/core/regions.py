"""Damaged regions (connected parts of the mask) and the context window each one is filled from.

Geometry only: which pixels belong together, how wide a region is, and which rectangle of the
photo a fill method gets to look at. Choosing a method per region is the pipeline's job.

Windows are :class:`~restorer.core.types.Bounds` in photo pixels. A model window is square, about twice the
hole's larger side (so the hole's bounding box covers a quarter of it or less, the proportion
the face models were trained with), never smaller than the model resolution, and shifted, not
shrunk, to stay inside the photo. Only when the photo itself is smaller than the window is the
window clipped to the photo; the pipeline then reflect-pads the clipped window back to a square
before resampling it for the model (see ``restorer.core.methods._model_io``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from restorer.core.types import Bounds

DEFAULT_GAP = 8
"""Holes closer than this many pixels share one region (and one window)."""

MAX_HOLE_FRACTION = 0.5
"""A window more than this fraction damaged leaves too little context to fill from."""

SPRAWL_TILE = 512
"""A sparse region wider or taller than this is cut along a grid of such cells (see _split_sprawling)."""

SPRAWL_FILL = 0.25
"""A region covering less than this share of its bounding box is sparse (cracks, scratches, dust)."""


@dataclass(frozen=True)
class Region:
    """One damaged region: the pixels of ``labels == label``."""

    label: int
    bbox: Bounds  # the hole's bounding box
    pixels: int  # number of damaged pixels
    max_width: float  # width in px at the region's widest point (1 for a one-pixel line)


@dataclass
class RegionMap:
    """The mask split into regions; ``labels`` is (H, W) int32, 0 outside every hole."""

    labels: np.ndarray
    regions: list[Region]

    def hole(self, labels: int | tuple[int, ...], window: Bounds) -> np.ndarray:
        """bool (h, w): the pixels of the given region label(s) inside ``window``."""
        crop = self.labels[window.slices]
        if isinstance(labels, int):
            return crop == labels
        return np.isin(crop, labels)


def _dilate_square(mask: np.ndarray, radius: int) -> np.ndarray:
    """Dilation by a (2r+1)^2 square; separable 1-D maximum filters cost O(pixels), whatever r."""
    if radius <= 0:
        return mask
    size = 2 * radius + 1
    grown = ndimage.maximum_filter1d(mask.astype(np.uint8), size, axis=0)
    return ndimage.maximum_filter1d(grown, size, axis=1).astype(bool)


def find_regions(mask: np.ndarray, gap: int = DEFAULT_GAP) -> RegionMap:
    """Split a bool (H, W) mask into 8-connected regions, merging holes less than ``gap`` px apart.

    Holes are merged by labelling the mask dilated by gap/2: two holes whose dilations touch are
    at most ``gap`` pixels apart. Labels are then restricted to the mask itself, so a region's
    hole never includes the undamaged pixels between its parts. Regions come in reading order.
    """
    mask = np.asarray(mask, dtype=bool)
    eight = np.ones((3, 3), dtype=bool)
    grown = _dilate_square(mask, (gap + 1) // 2)
    labels, count = ndimage.label(grown, structure=eight)
    labels = labels.astype(np.int32, copy=False)
    labels[~mask] = 0
    labels, split_count = _split_sprawling(labels, count)
    regions = []
    for label, found in enumerate(ndimage.find_objects(labels, split_count), start=1):
        if found is None:
            continue
        ys, xs = found
        own = labels[found] == label
        # Distance to the nearest undamaged pixel, with a known border around the crop so holes
        # touching the crop edge are measured correctly; the peak is half the widest point.
        # (np.zeros and a copy: np.pad's Python overhead was a fifth of this loop on a 24 MP scan.)
        bordered = np.zeros((own.shape[0] + 2, own.shape[1] + 2), bool)
        bordered[1:-1, 1:-1] = own
        depth = ndimage.distance_transform_edt(bordered)
        regions.append(
            Region(
                label=label,
                bbox=Bounds(ys.start, xs.start, ys.stop, xs.stop),
                pixels=int(own.sum()),
                max_width=float(2.0 * depth.max() - 1.0),
            )
        )
    if split_count != count:  # pieces of split regions were numbered last: back into reading order
        regions.sort(key=lambda r: (r.bbox.top, r.bbox.left))
    return RegionMap(labels, regions)


def _split_sprawling(labels: np.ndarray, count: int) -> tuple[np.ndarray, int]:
    """Cut each sparse region larger than a grid cell into one region per cell, in place.

    A crack network or a long scratch merges into one region whose bounding box can be the whole
    scan; its window, and the cost of filling it, would then be the photo's, however few pixels it
    has (issue 14: whole-photo windows). Per cell, each piece gets a window of its own size, and
    pieces filled later see the earlier ones' fill as known pixels, so the fill stays continuous.
    Compact holes are left whole: cutting them would leave each piece's window mostly damaged.
    """
    next_label = count + 1
    for label, found in enumerate(ndimage.find_objects(labels, count), start=1):
        if found is None:
            continue
        ys, xs = found
        h, w = ys.stop - ys.start, xs.stop - xs.start
        if max(h, w) <= SPRAWL_TILE:
            continue
        block = labels[found]  # a view: writing to it relabels the photo's labels
        own = block == label
        if own.sum() >= SPRAWL_FILL * h * w:
            continue
        rows = (np.arange(ys.start, ys.stop) // SPRAWL_TILE)[:, None]
        cols = (np.arange(xs.start, xs.stop) // SPRAWL_TILE)[None, :]
        cell = rows * (labels.shape[1] // SPRAWL_TILE + 1) + cols  # (h, w) cell number
        for number in np.unique(cell[own])[1:]:  # the first cell keeps the region's label
            block[own & (cell == number)] = next_label
            next_label += 1
    return labels, next_label - 1


def _place(center: float, side: int, limit: int) -> tuple[int, int]:
    """Start and length of a span of ``side`` centred on ``center``, shifted to fit in [0, limit)."""
    if side >= limit:
        return 0, limit
    start = round(center - side / 2)
    return min(max(start, 0), limit - side), side


def square_window(center: tuple[float, float], side: int, photo_size: tuple[int, int]) -> Bounds:
    """A ``side`` x ``side`` window centred on ``center`` (x, y), shifted inside the photo.

    Clipped to the photo (so not square) only along a dimension the photo is smaller than ``side``.
    """
    x, w = _place(center[0], side, photo_size[0])
    y, h = _place(center[1], side, photo_size[1])
    return Bounds(y, x, y + h, x + w)


def ideal_model_side(bbox: Bounds, resolution: int) -> int:
    """Twice the hole's larger side, and at least the model resolution."""
    return max(resolution, 2 * max(bbox.width, bbox.height))


def model_window(bbox: Bounds, photo_size: tuple[int, int], resolution: int) -> Bounds:
    """The square context window for a generative model (see the module docstring)."""
    return square_window(bbox.centre, ideal_model_side(bbox, resolution), photo_size)


def box_window(box: Bounds, photo_size: tuple[int, int]) -> Bounds:
    """A user's box made square by growing its shorter side about its centre, shifted inside the photo.

    Growing keeps the user's framing of the face (nothing is stretched) and gives the model real
    context where a non-square box would otherwise need reflected padding.
    """
    return square_window(box.centre, max(box.width, box.height), photo_size)


def classic_window(bbox: Bounds, photo_size: tuple[int, int], margin: int) -> Bounds:
    """The hole's bounding box grown by ``margin`` on every side and clipped to the photo."""
    return bbox.expanded(margin).intersect(Bounds(0, 0, photo_size[1], photo_size[0]))


def union_bbox(boxes: list[Bounds]) -> Bounds:
    total = boxes[0]
    for box in boxes[1:]:
        total = total.union(box)
    return total


def window_problem(hole_pixels: int, window: Bounds) -> str | None:
    """Why a hole cannot be filled from its window (too much of it is damaged), or None."""
    fraction = hole_pixels / max(window.area, 1)
    if fraction > MAX_HOLE_FRACTION:
        return f"hole too large for its window ({fraction:.0%} of {window.width}x{window.height})"
    return None


def photo_problem(bbox: Bounds, photo_size: tuple[int, int]) -> str | None:
    """Why a model cannot fill a hole: the context it needs (twice its larger side) exceeds the photo."""
    side = 2 * max(bbox.width, bbox.height)
    if side > photo_size[0] or side > photo_size[1]:
        return (
            f"hole too large for the photo (it needs a {side}x{side} context window, "
            f"the photo is {photo_size[0]}x{photo_size[1]})"
        )
    return None
