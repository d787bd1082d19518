"""Where the photo sits in the canvas: scale and offset, with zoom-about-a-point, fit and pan (no Qt).

A widget point ``w`` shows the image point ``i`` with ``w = i * scale + offset``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from restorer.core.types import Bounds

MIN_SCALE = 1 / 64
MAX_SCALE = 64.0
# Keep this many widget pixels of the photo on screen however far the user pans.
PAN_KEEP_VISIBLE = 48.0


@dataclass(frozen=True)
class ViewTransform:
    scale: float = 1.0
    offset_x: float = 0.0
    offset_y: float = 0.0

    def to_image(self, wx: float, wy: float) -> tuple[float, float]:
        return (wx - self.offset_x) / self.scale, (wy - self.offset_y) / self.scale

    def to_widget(self, ix: float, iy: float) -> tuple[float, float]:
        return ix * self.scale + self.offset_x, iy * self.scale + self.offset_y

    def zoomed(self, factor: float, anchor: tuple[float, float]) -> ViewTransform:
        """Zoom by ``factor`` keeping the image point under the widget point ``anchor`` in place."""
        scale = min(max(self.scale * factor, MIN_SCALE), MAX_SCALE)
        ratio = scale / self.scale
        ax, ay = anchor
        return ViewTransform(scale, ax - (ax - self.offset_x) * ratio, ay - (ay - self.offset_y) * ratio)

    def with_scale(self, scale: float, anchor: tuple[float, float]) -> ViewTransform:
        """Exactly ``scale`` (e.g. 1.0 for actual pixels), keeping the point under ``anchor``."""
        scale = min(max(scale, MIN_SCALE), MAX_SCALE)
        ratio = scale / self.scale
        ax, ay = anchor
        return ViewTransform(scale, ax - (ax - self.offset_x) * ratio, ay - (ay - self.offset_y) * ratio)

    def panned(self, dx: float, dy: float) -> ViewTransform:
        return replace(self, offset_x=self.offset_x + dx, offset_y=self.offset_y + dy)

    def clamped(self, image_size: tuple[int, int], view_size: tuple[int, int]) -> ViewTransform:
        """Pull the photo back so that at least a strip of it stays in view."""
        (iw, ih), (vw, vh) = image_size, view_size
        keep_x = min(PAN_KEEP_VISIBLE, iw * self.scale, vw)
        keep_y = min(PAN_KEEP_VISIBLE, ih * self.scale, vh)
        ox = min(max(self.offset_x, keep_x - iw * self.scale), vw - keep_x)
        oy = min(max(self.offset_y, keep_y - ih * self.scale), vh - keep_y)
        return replace(self, offset_x=ox, offset_y=oy)

    def visible_bounds(self, image_size: tuple[int, int], view_size: tuple[int, int]) -> Bounds:
        """The image pixels that the widget rectangle shows (clipped to the image)."""
        (iw, ih), (vw, vh) = image_size, view_size
        x0, y0 = self.to_image(0, 0)
        x1, y1 = self.to_image(vw, vh)
        box = Bounds(math.floor(y0), math.floor(x0), math.ceil(y1), math.ceil(x1))
        return box.intersect(Bounds(0, 0, ih, iw))

    def widget_rect(self, bounds: Bounds, pad: float = 0.0) -> tuple[float, float, float, float]:
        """``bounds`` (image pixels) as a widget rectangle x, y, w, h, grown by ``pad`` widget pixels."""
        x, y = self.to_widget(bounds.left, bounds.top)
        return x - pad, y - pad, bounds.width * self.scale + 2 * pad, bounds.height * self.scale + 2 * pad


def fit(image_size: tuple[int, int], view_size: tuple[int, int], margin: float = 12.0) -> ViewTransform:
    """The whole photo centred in the view, as large as fits (small photos are enlarged, up to 16x)."""
    (iw, ih), (vw, vh) = image_size, view_size
    if iw <= 0 or ih <= 0:
        return ViewTransform()
    avail_w, avail_h = max(vw - 2 * margin, 1.0), max(vh - 2 * margin, 1.0)
    scale = min(max(min(avail_w / iw, avail_h / ih), MIN_SCALE), 16.0)
    return ViewTransform(scale, (vw - iw * scale) / 2, (vh - ih * scale) / 2)


def wheel_factor(angle_delta: float) -> float:
    """Zoom factor for a wheel turn: one notch (120 units) is 2^(1/4), four notches double the size."""
    return 2.0 ** (angle_delta / 480.0)


def smooth_for_scale(scale: float) -> bool:
    """Filter smoothly when shrinking or slightly enlarging; show crisp pixels from 2x zoom on."""
    return scale < 2.0
