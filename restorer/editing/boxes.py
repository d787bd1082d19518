"""The context box the user drags out, kept square (no Qt).

The face model sees a square window; a non-square box would be grown about its centre to a square
the user never saw (restorer.core.regions.box_window). Dragging a square from the first corner shows
exactly the window the model will get.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from restorer.core.types import Bounds

Point = tuple[float, float]


def square_box(start: Point, end: Point, shape: Sequence[int]) -> Bounds:
    """The square with a corner at the pixel under ``start`` reaching towards ``end`` (photo px,
    x then y): its side is the drag's longer extent, shortened where the photo's edge stops it."""
    height, width = shape[0], shape[1]
    x0 = min(max(math.floor(start[0]), 0), width - 1)
    y0 = min(max(math.floor(start[1]), 0), height - 1)
    dx, dy = end[0] - start[0], end[1] - start[1]
    right, down = dx >= 0, dy >= 0
    room_x = width - x0 if right else x0 + 1
    room_y = height - y0 if down else y0 + 1
    side = min(max(round(abs(dx)), round(abs(dy)), 1), room_x, room_y)
    left = x0 if right else x0 + 1 - side
    top = y0 if down else y0 + 1 - side
    return Bounds(top, left, top + side, left + side)
