"""QImages that share memory with numpy arrays, and the photo/mask display layers built on them.

A QImage made from an array's buffer reads the array directly, so changing the array and asking
the canvas to repaint the changed rectangle is all an edit costs: no per-paint conversion, no copy.
Each image keeps a reference to its array so that the memory outlives the image.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage

from restorer.core.colour import colour_space
from restorer.core.types import Bounds
from restorer.editing.pyramid import Pyramid, to_display8, write_display8


class ArrayImage(QImage):
    """A QImage over a uint8 numpy array: (H, W) grey or indexed, (H, W, 3) RGB, (H, W, 4) RGBA."""

    def __init__(self, array: np.ndarray, indexed: bool = False) -> None:
        if array.dtype != np.uint8 or not array.flags.c_contiguous:
            raise ValueError("ArrayImage needs a C-contiguous uint8 array")
        if array.ndim == 2:
            fmt = QImage.Format.Format_Indexed8 if indexed else QImage.Format.Format_Grayscale8
        elif array.shape[2] == 3:
            fmt = QImage.Format.Format_RGB888
        elif array.shape[2] == 4:
            fmt = QImage.Format.Format_RGBA8888
        else:
            raise ValueError(f"cannot show an array of shape {array.shape}")
        height, width = array.shape[:2]
        super().__init__(array.data, width, height, array.strides[0], fmt)
        self.array = array  # keeps the memory alive as long as the image


def rgba_from(pixels8: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Straight-alpha RGBA from 8-bit grey or RGB and a bool (or uint8) alpha."""
    h, w = pixels8.shape[:2]
    out = np.empty((h, w, 4), np.uint8)
    out[..., :3] = pixels8[..., None] if pixels8.ndim == 2 else pixels8
    out[..., 3] = np.where(alpha, 255, 0) if alpha.dtype == np.bool_ else alpha
    return out


class PyramidLayer:
    """A pyramid of uint8 arrays, each level wrapped by a QImage, refreshed by rectangle."""

    def __init__(self, base: np.ndarray, use_max: bool = False, colors: list[QColor] | None = None) -> None:
        self.pyramid = Pyramid(base, use_max=use_max)
        indexed = colors is not None
        self.images = [ArrayImage(level, indexed=indexed) for level in self.pyramid.levels]
        if colors is not None:
            self.set_colors(colors)

    def set_colors(self, colors: list[QColor]) -> None:
        table = [c.rgba() for c in colors]
        for image in self.images:
            image.setColorTable(table)

    def level_for_scale(self, scale: float) -> int:
        return self.pyramid.level_for_scale(scale)

    def update(self, bounds: Bounds) -> None:
        self.pyramid.update(bounds)


class PhotoLayer(PyramidLayer):
    """The photo as 8-bit sRGB levels. An untagged or sRGB 8-bit photo is shown from its own pixels;
    16-bit, or one with another ICC profile, gets one 8-bit sRGB copy, made once on open and
    refreshed only where the pixels change."""

    def __init__(self, pixels: np.ndarray, icc_profile: bytes | None = None) -> None:
        self.pixels = pixels
        self.icc_profile = icc_profile
        display = np.ascontiguousarray(to_display8(pixels, icc_profile))
        self.shares_pixels = np.shares_memory(display, pixels)
        super().__init__(display)

    def shows(self, icc_profile: bytes | None) -> bool:
        """Whether this layer already shows pixels tagged ``icc_profile`` right: a layer built without
        the profile serves an sRGB or untagged photo, and is rebuilt only for another profile."""
        if icc_profile == self.icc_profile:
            return True
        channels = self.pixels.shape[2] if self.pixels.ndim == 3 else 1
        return all(colour_space(icc, channels) is None for icc in (icc_profile, self.icc_profile))

    def refresh(self, bounds: Bounds) -> None:
        if not self.shares_pixels:
            write_display8(self.pyramid.levels[0], self.pixels, bounds, self.icc_profile)
        self.update(bounds)


class MaskLayer(PyramidLayer):
    """The mask as an indexed image: its bytes are the mask's bools, colour 1 is the overlay tint."""

    def __init__(self, mask: np.ndarray, tint: QColor) -> None:
        super().__init__(mask.view(np.uint8), use_max=True, colors=[QColor(0, 0, 0, 0), tint])
