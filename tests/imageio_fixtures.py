"""Small images and metadata for the image file layer's tests, written by third-party encoders."""

from __future__ import annotations

from functools import cache

import numpy as np
from PIL import Image, ImageCms

from restorer.core.imageio import Photo

# Odd, non-square sizes: a swapped width/height or a transposition cannot go unnoticed.
HEIGHT, WIDTH = 5, 7

LAYOUTS = {"grey": (1, False), "grey+alpha": (1, True), "rgb": (3, False), "rgba": (3, True)}


def random_array(shape: tuple[int, ...], dtype: type, seed: int = 0) -> np.ndarray:
    """Random samples over the whole range of ``dtype``, extremes included."""
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)
    arr.flat[0], arr.flat[-1] = 0, np.iinfo(dtype).max
    return arr


@cache
def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif_bytes(orientation: int, make: str = "TestCam") -> bytes:
    """EXIF as Pillow writes it (with the Exif\\0\\0 prefix), holding an orientation and a camera make."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = make
    return exif.tobytes()


def exif_orientation(block: bytes) -> int | None:
    exif = Image.Exif()
    exif.load(block)
    return exif.get(0x0112)


def make_photo(layout: str, dtype: type, *, seed: int = 0, icc: bool = True) -> Photo:
    channels, has_alpha = LAYOUTS[layout]
    pixels = random_array((HEIGHT, WIDTH, channels), dtype, seed)
    alpha = random_array((HEIGHT, WIDTH), dtype, seed + 1) if has_alpha else None
    return Photo(pixels, alpha, srgb_icc() if icc else None, None, "PNG", dpi=(600.0, 300.0))
