"""Lengths and areas on a scan, in pixels and, when the scan's resolution is known, in millimetres (no Qt).

A scanner may sample the two axes at different resolutions (600 x 1200 dpi), so every conversion
takes the (x, y) pair a :class:`restorer.core.imageio.Photo` carries, not one number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MM_PER_INCH = 25.4

Dpi = Sequence[float] | None
Point = tuple[float, float]


def usable_dpi(dpi: Dpi) -> tuple[float, float] | None:
    """``dpi`` when both axes are positive and finite; files sometimes say 0 or 1 for "unknown"."""
    if dpi is None or len(dpi) != 2:
        return None
    x, y = float(dpi[0]), float(dpi[1])
    if not (math.isfinite(x) and math.isfinite(y)) or x <= 1 or y <= 1:
        return None
    return x, y


def distance_px(p0: Point, p1: Point) -> float:
    return math.hypot(p1[0] - p0[0], p1[1] - p0[1])


def distance_mm(p0: Point, p1: Point, dpi: Dpi) -> float | None:
    """The length of p0-p1 on the original print, or None when the resolution is unknown."""
    known = usable_dpi(dpi)
    if known is None:
        return None
    dx = (p1[0] - p0[0]) * MM_PER_INCH / known[0]
    dy = (p1[1] - p0[1]) * MM_PER_INCH / known[1]
    return math.hypot(dx, dy)


def area_mm2(pixels: int, dpi: Dpi) -> float | None:
    """The area of ``pixels`` scan pixels on the print, or None when the resolution is unknown."""
    known = usable_dpi(dpi)
    if known is None:
        return None
    return pixels * (MM_PER_INCH / known[0]) * (MM_PER_INCH / known[1])


def format_length(p0: Point, p1: Point, dpi: Dpi) -> str:
    """``"123.4 px · 10.45 mm"``, or the pixels alone when the resolution is unknown."""
    text = f"{distance_px(p0, p1):.1f} px"
    mm = distance_mm(p0, p1, dpi)
    return text if mm is None else f"{text} · {mm:.2f} mm"


def format_area(pixels: int, dpi: Dpi) -> str:
    """``"1 234 px (2.31 mm²)"``, or the pixels alone when the resolution is unknown."""
    text = f"{pixels:,} px".replace(",", " ")
    mm2 = area_mm2(pixels, dpi)
    return text if mm2 is None else f"{text} ({mm2:.2f} mm²)"
