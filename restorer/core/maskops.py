"""Mask editing math with no Qt: brush, rectangle and lasso rasterisation, grow/shrink, and undo patches.

Coordinates are image pixels as floats, ``x`` to the right and ``y`` down; pixel ``(row, col)`` covers
``[col, col + 1) x [row, row + 1)``, so its centre is ``(col + 0.5, row + 0.5)``. A shape covers a pixel
when it covers the pixel's centre, which keeps fills exact and reproducible at every zoom level.

Every editing function works on the smallest rectangle it touches and returns that rectangle with a
boolean footprint, so a brush segment on a 24 MP scan costs as much as on a thumbnail. Undo records
(:class:`Patch`) hold only the changed rectangle's old and new values, bit-packed for masks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from restorer.core.types import EMPTY, Bounds

Point = tuple[float, float]


def _span_bounds(xs: Iterable[float], ys: Iterable[float], pad: float, shape: Sequence[int]) -> Bounds:
    """The clipped pixel rectangle whose centres may lie within ``pad`` of the given coordinates."""
    xs, ys = list(xs), list(ys)
    left = math.floor(min(xs) - pad - 0.5)
    right = math.ceil(max(xs) + pad + 0.5)
    top = math.floor(min(ys) - pad - 0.5)
    bottom = math.ceil(max(ys) + pad + 0.5)
    return Bounds(top, left, bottom, right).intersect(Bounds.of_shape(shape))


def _centres(bounds: Bounds, dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates of ``bounds`` as a column of y values and a row of x values."""
    ys = np.arange(bounds.top, bounds.bottom, dtype=dtype)[:, None] + dtype(0.5)
    xs = np.arange(bounds.left, bounds.right, dtype=dtype)[None, :] + dtype(0.5)
    return ys, xs


def segment_footprint(p0: Point, p1: Point, radius: float, shape: Sequence[int]) -> tuple[Bounds, np.ndarray]:
    """Pixels whose centre lies within ``radius`` of the segment ``p0``-``p1`` (a round brush stroke).

    Below 1 px of radius the ends snap to pixel centres, so a 1 px brush paints exactly the pixel
    under the pointer and draws 8-connected one-pixel lines, like a pencil.
    """
    radius = max(float(radius), 0.5)
    (ax, ay), (bx, by) = p0, p1
    if radius < 1.0:
        ax, ay, bx, by = (math.floor(v) + 0.5 for v in (ax, ay, bx, by))
    bounds = _span_bounds((ax, bx), (ay, by), radius, shape)
    if bounds.is_empty:
        return bounds, np.zeros((bounds.height, bounds.width), bool)
    ys, xs = _centres(bounds)
    dx, dy = np.float32(bx - ax), np.float32(by - ay)
    px, py = xs - np.float32(ax), ys - np.float32(ay)
    length2 = float(dx * dx + dy * dy)
    if length2 < 1e-12:
        dist2 = px * px + py * py
    else:
        # Project each centre on the segment, clamp to its ends, measure the remaining offset.
        t = np.clip((px * dx + py * dy) / np.float32(length2), 0.0, 1.0)
        ox, oy = px - t * dx, py - t * dy
        dist2 = ox * ox + oy * oy
    return bounds, dist2 <= np.float32(radius * radius)


def rect_footprint(p0: Point, p1: Point, shape: Sequence[int]) -> tuple[Bounds, np.ndarray]:
    """Pixels whose centre lies inside the axis-aligned rectangle spanned by two corners."""
    x0, x1 = sorted((p0[0], p1[0]))
    y0, y1 = sorted((p0[1], p1[1]))
    # centre c = i + 0.5 is inside [x0, x1) exactly for ceil(x0 - 0.5) <= i < ceil(x1 - 0.5)
    bounds = Bounds(
        math.ceil(y0 - 0.5), math.ceil(x0 - 0.5), math.ceil(y1 - 0.5), math.ceil(x1 - 0.5)
    ).intersect(Bounds.of_shape(shape))
    return bounds, np.ones((bounds.height, bounds.width), bool)


def polygon_footprint(
    points: Sequence[Point] | np.ndarray, shape: Sequence[int], rows_per_chunk: int = 512
) -> tuple[Bounds, np.ndarray]:
    """Pixels whose centre lies inside a closed polygon (even-odd rule), by vectorised scanlines.

    For every pixel row the crossings of the row's centre line with all edges are computed at once,
    sorted, and taken in pairs; each pair fills a run, written as +1/-1 marks then summed along the row.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 3:
        return EMPTY, np.zeros((0, 0), bool)
    bounds = _span_bounds(pts[:, 0], pts[:, 1], 0.0, shape)
    footprint = np.zeros((bounds.height, bounds.width), bool)
    if bounds.is_empty:
        return bounds, footprint
    ax, ay = pts[:, 0], pts[:, 1]
    bx, by = np.roll(ax, -1), np.roll(ay, -1)
    for start in range(bounds.top, bounds.bottom, rows_per_chunk):
        stop = min(start + rows_per_chunk, bounds.bottom)
        yc = np.arange(start, stop, dtype=np.float64)[:, None] + 0.5
        # Half-open test so a vertex shared by two edges is counted once.
        crosses = (ay <= yc) != (by <= yc)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = ax + (yc - ay) * (bx - ax) / (by - ay)
        x_at = np.where(crosses, x_at, np.inf)
        x_at.sort(axis=1)
        n_pairs = crosses.sum(axis=1).max() // 2
        if n_pairs == 0:
            continue
        enter, leave = x_at[:, 0 : 2 * n_pairs : 2], x_at[:, 1 : 2 * n_pairs : 2]
        valid = np.isfinite(leave)
        rows = np.broadcast_to(np.arange(stop - start)[:, None], enter.shape)[valid]
        width = bounds.width
        first = np.clip(np.ceil(enter[valid] - 0.5) - bounds.left, 0, width).astype(np.intp)
        last = np.clip(np.ceil(leave[valid] - 0.5) - bounds.left, 0, width).astype(np.intp)
        marks = np.zeros((stop - start, width + 1), np.int32)
        np.add.at(marks, (rows, first), 1)
        np.add.at(marks, (rows, last), -1)
        footprint[start - bounds.top : stop - bounds.top] = np.cumsum(marks[:, :width], axis=1) > 0
    return bounds, footprint


def changed_bounds(before: np.ndarray, after: np.ndarray) -> Bounds:
    """The smallest rectangle holding every pixel that differs (EMPTY when none does)."""
    diff = before != after
    if diff.ndim == 3:
        diff = diff.any(axis=2)
    return mask_bounds(diff)


def mask_bounds(mask: np.ndarray) -> Bounds:
    """The bounding rectangle of the True pixels (EMPTY when there are none)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return EMPTY
    return Bounds(int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)


def _distance_band(mask: np.ndarray, radius: float, grow: bool) -> np.ndarray:
    """Grow or shrink by a Euclidean ``radius``, computing only around the mask's bounding box."""
    from scipy import ndimage  # imported on use: it costs half a second, the window starts without it

    out = mask.copy()
    box = mask_bounds(mask)
    if box.is_empty or radius <= 0:
        return out
    image = Bounds.of_shape(mask.shape)
    if grow:
        work = box.expanded(math.ceil(radius) + 1).intersect(image)
        out[work.slices] = ndimage.distance_transform_edt(~mask[work.slices]) <= radius
    else:
        # One clean pixel of margin where the box is inside the image. Where the mask meets the image
        # edge there is no margin: the transform sees no clean pixel beyond the edge, so a scratch that
        # runs off the photo keeps reaching its edge instead of shrinking away from it.
        work = box.expanded(1).intersect(image)
        out[work.slices] = ndimage.distance_transform_edt(mask[work.slices]) > radius
    return out


def grow_mask(mask: np.ndarray, radius: float) -> np.ndarray:
    """A new mask holding every pixel within ``radius`` pixels of the mask."""
    return _distance_band(mask, radius, grow=True)


def shrink_mask(mask: np.ndarray, radius: float) -> np.ndarray:
    """A new mask keeping only pixels farther than ``radius`` from any unmasked pixel."""
    return _distance_band(mask, radius, grow=False)


@dataclass(frozen=True)
class Patch:
    """One rectangle's old and new values: applying it moves an array forward, reverting moves it back.

    Boolean arrays are stored bit-packed (1/8 of the memory); other dtypes as copies.
    """

    bounds: Bounds
    shape: tuple[int, ...]
    dtype: np.dtype
    before_data: np.ndarray
    after_data: np.ndarray

    @classmethod
    def capture(cls, bounds: Bounds, before: np.ndarray, after: np.ndarray) -> Patch:
        if before.shape != after.shape:
            raise ValueError("before and after differ in shape")
        return cls(bounds, before.shape, before.dtype, _pack(before), _pack(after))

    @property
    def before(self) -> np.ndarray:
        return _unpack(self.before_data, self.shape, self.dtype)

    @property
    def after(self) -> np.ndarray:
        return _unpack(self.after_data, self.shape, self.dtype)

    @property
    def nbytes(self) -> int:
        return int(self.before_data.nbytes + self.after_data.nbytes)

    def shifted(self, dy: int, dx: int) -> Patch:
        """The same change at a position offset by (dy, dx), e.g. from a sub-array to the whole."""
        return Patch(self.bounds.shifted(dy, dx), self.shape, self.dtype, self.before_data, self.after_data)

    def apply(self, array: np.ndarray) -> None:
        array[self.bounds.slices] = self.after

    def revert(self, array: np.ndarray) -> None:
        array[self.bounds.slices] = self.before


def _pack(a: np.ndarray) -> np.ndarray:
    return np.packbits(a, axis=None) if a.dtype == np.bool_ else np.array(a, copy=True)


def _unpack(data: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    if dtype == np.bool_:
        return np.unpackbits(data, count=math.prod(shape)).reshape(shape).view(bool)
    return data


def diff_patch(before: np.ndarray, after: np.ndarray) -> Patch | None:
    """A patch from whole-array ``before`` to ``after`` covering only what changed; None if nothing did."""
    box = changed_bounds(before, after)
    if box.is_empty:
        return None
    return Patch.capture(box, before[box.slices], after[box.slices])


class StrokeRecorder:
    """Remembers the old values of a mask under one stroke, tile by tile, so undo stores only what changed.

    Call :meth:`touch` *before* writing into a rectangle; :meth:`finish` returns one patch per tile
    whose content actually changed. Copying a 128x128 tile the first time a stroke enters it keeps every
    brush segment's cost proportional to the brush, whatever the photo's size.
    """

    def __init__(self, array: np.ndarray, tile: int = 128) -> None:
        self.array = array
        self.tile = tile
        self._saved: dict[tuple[int, int], np.ndarray] = {}

    def _tile_bounds(self, ty: int, tx: int) -> Bounds:
        t = self.tile
        return Bounds(ty * t, tx * t, (ty + 1) * t, (tx + 1) * t).intersect(Bounds.of_shape(self.array.shape))

    def touch(self, bounds: Bounds) -> None:
        if bounds.is_empty:
            return
        t = self.tile
        for ty in range(bounds.top // t, (bounds.bottom - 1) // t + 1):
            for tx in range(bounds.left // t, (bounds.right - 1) // t + 1):
                if (ty, tx) not in self._saved:
                    self._saved[ty, tx] = self.array[self._tile_bounds(ty, tx).slices].copy()

    @property
    def touched(self) -> bool:
        return bool(self._saved)

    def finish(self) -> list[Patch]:
        patches = []
        for (ty, tx), before in sorted(self._saved.items()):
            box = self._tile_bounds(ty, tx)
            after = self.array[box.slices]
            inner = changed_bounds(before, after)
            if inner.is_empty:
                continue
            sub = inner.shifted(box.top, box.left)
            patches.append(Patch.capture(sub, before[inner.slices], after[inner.slices]))
        self._saved.clear()
        return patches
