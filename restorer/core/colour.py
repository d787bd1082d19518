"""Colour management: between a photo's embedded ICC profile and sRGB, through littleCMS (Pillow).

The face networks were trained on sRGB photos and the canvas assumes an sRGB screen, so both see
the photo converted to sRGB; everything else (classical fills, the Poisson blend, the written file)
works on the photo's own numbers, and a learned fill is converted back before it is blended.

Intent: relative colorimetric. The profiles photos carry (Adobe RGB, ProPhoto, Display P3, scanner
profiles) are nearly all matrix/TRC profiles without perceptual tables, for which littleCMS falls
back to colorimetric anyway; and relative colorimetric maps every colour inside both gamuts exactly,
so a fill made in sRGB comes back to the photo's numbers without a gamut-compression shift (a
perceptual table would compress on the way in and not undo it on the way out). Colours outside sRGB
clip, as a browser shows them; the Poisson blend re-anchors a fill to the photo's own edge colours.

Pillow has no 16-bit RGB image mode, so littleCMS runs on 8-bit samples: 8-bit display pixels go
through the 8-bit transform directly; float windows (of 8- or 16-bit photos) go through the
transform sampled at every 5th 8-bit level (a 52^3 grid; 52 levels for grey) and interpolated
(trilinearly), which keeps 16-bit gradients smooth, with no 8-bit steps, within about half a level.

No profile, an sRGB one, one that does not parse or that does not describe the photo's channels all
mean identity (``colour_space`` returns None); a profile that cannot be used says so in a warning.
"""

from __future__ import annotations

import functools
import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms

INTENT = ImageCms.Intent.RELATIVE_COLORIMETRIC
_STEP = 5  # 8-bit levels between grid nodes: 255 = 51 * 5, so the grid ends exactly on 255
_SAME = 1.0 / 255 + 1e-6  # a profile that moves no node by more than a level is sRGB already
_ROWS = 256  # rows per Pillow call: bounds the temporaries for a 24 MP photo
_CHUNK = 1 << 16  # pixels per interpolation pass, for the same reason
_SPACES = {1: "GRAY", 3: "RGB"}


@dataclass(frozen=True, eq=False)
class ColourSpace:
    """A photo profile's way to sRGB and back, for pixels with ``channels`` (1 or 3) channels."""

    name: str  # the profile's description, for the record and messages
    channels: int
    to_srgb8_transform: ImageCms.ImageCmsTransform  # 8-bit photo -> sRGB (grey -> RGB)
    forward: np.ndarray  # float32 lookup table photo -> sRGB: (N, N, N, 3) colour, (N,) grey
    backward: np.ndarray  # sRGB -> photo, same shapes

    def to_srgb(self, x: np.ndarray) -> np.ndarray:
        """Float (h, w, C) in [0, 1] in the photo's space -> float32 sRGB, same shape."""
        return _apply_table(self.forward, x)

    def from_srgb(self, x: np.ndarray) -> np.ndarray:
        """Float (h, w, C) in [0, 1] sRGB -> float32 in the photo's space, same shape."""
        return _apply_table(self.backward, x)

    def to_srgb8(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 (h, w) grey or (h, w, 3) colour -> uint8 sRGB of the same shape (exact littleCMS)."""
        out = np.empty(pixels.shape, np.uint8)
        for start in range(0, pixels.shape[0], _ROWS):
            rows = slice(start, start + _ROWS)
            image = Image.fromarray(np.ascontiguousarray(pixels[rows]))  # (h, w): L, (h, w, 3): RGB
            converted = np.asarray(self.to_srgb8_transform.apply(image))
            out[rows] = converted[..., 1] if self.channels == 1 else converted  # grey came out as R=G=B
        return out


def colour_space(icc_profile: bytes | None, channels: int) -> ColourSpace | None:
    """The conversion for pixels with ``channels`` channels tagged with ``icc_profile``, or None
    for identity (no profile, sRGB already, or a profile that cannot be used: with a warning)."""
    if not icc_profile or channels not in _SPACES:
        return None
    return _cached_space(bytes(icc_profile), channels)


def to_srgb(x: np.ndarray, icc_profile: bytes | None) -> np.ndarray:
    """Float (h, w, C) pixels in [0, 1] tagged ``icc_profile`` as sRGB (the same array for identity)."""
    space = colour_space(icc_profile, x.shape[-1])
    return x if space is None else space.to_srgb(x)


def from_srgb(x: np.ndarray, icc_profile: bytes | None) -> np.ndarray:
    """Float (h, w, C) sRGB pixels in [0, 1] in the space of ``icc_profile`` (identity: the same array)."""
    space = colour_space(icc_profile, x.shape[-1])
    return x if space is None else space.from_srgb(x)


def working_space(icc_profile: bytes | None, channels: int) -> str:
    """What a learned fill of these pixels worked in, for the record."""
    space = colour_space(icc_profile, channels)
    return "sRGB" if space is None else f"sRGB, converted from {space.name!r} and back"


# Keyed on the profile's bytes: every window of a restore and every display refresh of one photo
# reuses one parse and one pair of tables.
@functools.lru_cache(maxsize=8)
def _cached_space(icc_profile: bytes, channels: int) -> ColourSpace | None:
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
    except (OSError, ValueError, TypeError, ImageCms.PyCMSError) as exc:
        warnings.warn(
            f"the photo's ICC profile cannot be read ({exc}); its numbers are taken as sRGB", stacklevel=3
        )
        return None
    name = (profile.profile.profile_description or "unnamed profile").strip()
    if profile.profile.xcolor_space.strip() != _SPACES[channels]:
        kind = "grey" if channels == 1 else "colour"
        warnings.warn(
            f"the photo's ICC profile {name!r} does not describe {kind} pixels; taken as sRGB", stacklevel=3
        )
        return None
    try:
        return _build(profile, name, channels)
    except ImageCms.PyCMSError as exc:
        warnings.warn(
            f"no colour transform from the ICC profile {name!r} ({exc}); taken as sRGB", stacklevel=3
        )
        return None


def _build(profile: ImageCms.ImageCmsProfile, name: str, channels: int) -> ColourSpace | None:
    srgb = ImageCms.createProfile("sRGB")
    mode = "L" if channels == 1 else "RGB"
    forward = ImageCms.buildTransform(profile, srgb, mode, "RGB", INTENT)
    backward = ImageCms.buildTransform(srgb, profile, "RGB", mode, INTENT)
    if channels == 1:
        levels = np.arange(0, 256, _STEP, dtype=np.uint8)
        to_table = _sample(forward, levels[:, None]).mean(axis=-1)  # grey comes out as R=G=B
        from_table = _sample(backward, np.repeat(levels[:, None], 3, axis=1))[:, 0]
        nodes = levels / np.float32(255)
    else:
        grid = _grid()
        to_table = _sample(forward, grid.reshape(-1, 3)).reshape(grid.shape)
        from_table = _sample(backward, grid.reshape(-1, 3)).reshape(grid.shape)
        nodes = grid / np.float32(255)
    to_table = (to_table / 255).astype(np.float32)
    if np.abs(to_table - nodes).max() <= _SAME:
        return None  # an sRGB profile (of whichever vintage): nothing to convert
    return ColourSpace(name, channels, forward, to_table, (from_table / 255).astype(np.float32))


def _grid() -> np.ndarray:
    """uint8 (N, N, N, 3): every 5th level of R, G and B; index [r, g, b]."""
    levels = np.arange(0, 256, _STEP, dtype=np.uint8)
    return np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1)


def _sample(transform: ImageCms.ImageCmsTransform, values: np.ndarray) -> np.ndarray:
    """uint8 samples (n, 1) grey or (n, 3) colour through a transform, as float (n, channels out)."""
    image = Image.fromarray(np.ascontiguousarray(values if values.shape[1] == 3 else values[:, 0])[None])
    out = np.asarray(transform.apply(image), dtype=np.float32)[0]
    return out if out.ndim == 2 else out[:, None]


def _apply_table(table: np.ndarray, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if table.ndim == 1:  # grey: linear between the nodes
        return np.interp(x, np.linspace(0, 1, table.size), table).astype(np.float32)
    flat = x.reshape(-1, 3)
    out = np.empty(flat.shape, np.float32)
    for start in range(0, len(flat), _CHUNK):
        out[start : start + _CHUNK] = _trilinear(table, flat[start : start + _CHUNK])
    return out.reshape(x.shape)


def _trilinear(table: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Interpolate an (N, N, N, 3) table at float (n, 3) points in [0, 1]."""
    n = table.shape[0]
    t = np.clip(x, 0.0, 1.0) * np.float32(n - 1)
    i = np.minimum(t.astype(np.intp), n - 2)
    f = t - i
    flat = table.reshape(-1, 3)
    base = (i[:, 0] * n + i[:, 1]) * n + i[:, 2]
    out = np.zeros(x.shape, np.float32)
    for dr in (0, 1):
        wr = f[:, 0] if dr else 1 - f[:, 0]
        for dg in (0, 1):
            wg = wr * (f[:, 1] if dg else 1 - f[:, 1])
            for db in (0, 1):
                w = wg * (f[:, 2] if db else 1 - f[:, 2])
                out += w[:, None] * flat[base + (dr * n + dg) * n + db]
    return out
