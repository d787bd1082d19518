"""Decoders, one per format, from a file to pixels and metadata (no orientation applied yet).

PNG by libpng (``imagecodecs``: 16-bit RGB(A), palette, tRNS, with the few metadata chunks parsed
here), TIFF by ``tifffile``, JPEG and WebP by Pillow. Each checks the size in the header against
``max_pixels`` before any pixel is decoded.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import imagecodecs
import numpy as np
import tifffile
from PIL import JpegImagePlugin, WebPImagePlugin

from restorer.core.errors import RestorerError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_ICC_BYTES = 64 << 20  # a zlib bomb hidden in an iCCP chunk must not exhaust memory


@dataclass
class Decoded:
    channels: np.ndarray  # (H, W, C) with C = 1 or 3, native-endian uint8/uint16
    alpha: np.ndarray | None
    icc: bytes | None = None
    exif: bytes | None = None
    dpi: tuple[float, float] | None = None
    orientation: int = 1


def _check_pixels(path: Path, width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise RestorerError(f"cannot read {path}: its header gives an empty size {width}x{height}")
    if width * height > max_pixels:
        raise RestorerError(
            f"{path} is {width}x{height} = {width * height:,} pixels, over the limit of {max_pixels:,} "
            "(a guard against decompression bombs)"
        )


def _split_alpha(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W) or (H, W, 1..4) -> colour (H, W, 1|3) and alpha (H, W) when there is a 2nd or 4th channel."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    arr = arr.astype(arr.dtype.newbyteorder("="), copy=False)
    if arr.shape[2] in (2, 4):
        return np.ascontiguousarray(arr[:, :, :-1]), np.ascontiguousarray(arr[:, :, -1])
    return arr, None


# PNG: libpng (via imagecodecs) decodes pixels, expanding palettes, tRNS and low bit depths;
# the few metadata chunks are parsed here so no second decoder is needed.


def _png_metadata_chunks(data: bytes) -> dict[bytes, bytes]:
    """The first iCCP, pHYs and eXIf chunk bodies; like libpng, skip ancillary chunks with a bad CRC."""
    wanted = (b"iCCP", b"pHYs", b"eXIf")
    chunks: dict[bytes, bytes] = {}
    view = memoryview(data)
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):  # only chunk headers are read: image data is skipped, not copied
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data) or kind == b"IEND":
            break
        if kind in wanted and kind not in chunks:
            crc = struct.unpack_from(">I", data, end - 4)[0]
            if zlib.crc32(view[pos + 4 : end - 4]) == crc:
                chunks[kind] = bytes(view[pos + 8 : end - 4])
        pos = end
    return chunks


def decode_png(path: Path, fmt: str, max_pixels: int) -> Decoded:
    with open(path, "rb") as f:
        head = f.read(33)  # signature and IHDR: enough to refuse a bomb before reading the rest
        if len(head) < 33 or head[12:16] != b"IHDR":
            raise RestorerError(f"cannot read {path}: truncated PNG (no image header)")
        width, height = struct.unpack_from(">II", head, 16)
        _check_pixels(path, width, height, max_pixels)
        f.seek(0)
        data = f.read()
    chunks = _png_metadata_chunks(data)
    channels, alpha = _split_alpha(imagecodecs.png_decode(data))

    icc = None
    if b"iCCP" in chunks:
        _name, _, rest = chunks[b"iCCP"].partition(b"\x00")
        icc = zlib.decompressobj().decompress(rest[1:], _MAX_ICC_BYTES)  # rest[0] is the method byte
    dpi = None
    if len(chunks.get(b"pHYs", b"")) == 9:
        ppu_x, ppu_y, unit = struct.unpack(">IIB", chunks[b"pHYs"])
        if unit == 1 and ppu_x and ppu_y:  # pixels per metre
            dpi = (ppu_x * 0.0254, ppu_y * 0.0254)
    return Decoded(channels, alpha, icc, chunks.get(b"eXIf"), dpi)


def decode_pillow(path: Path, fmt: str, max_pixels: int) -> Decoded:
    # The plugin classes are used directly (not Image.open) so that our max_pixels is the only size
    # limit: Image.open applies Pillow's own, much lower global one.
    opener = JpegImagePlugin.JpegImageFile if fmt == "JPEG" else WebPImagePlugin.WebPImageFile
    with open(path, "rb") as f, opener(f) as im:
        _check_pixels(path, *im.size, max_pixels)
        im.load()
        icc = im.info.get("icc_profile")
        if im.mode not in ("L", "LA", "RGB", "RGBA"):
            if im.mode in ("CMYK", "YCbCr"):
                icc = None  # the profile describes the source colour model, not our RGB pixels
            im = im.convert("RGBA" if "A" in im.mode else "RGB")
        arr = np.asarray(im)
        exif = im.info.get("exif")
        dpi = im.info.get("dpi")
    channels, alpha = _split_alpha(arr)
    dpi = (float(dpi[0]), float(dpi[1])) if dpi and all(v > 0 for v in dpi) else None
    return Decoded(channels, alpha, icc, exif, dpi)


def decode_tiff(path: Path, fmt: str, max_pixels: int) -> Decoded:
    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        _check_pixels(path, page.imagewidth, page.imagelength, max_pixels)
        photometric = tifffile.PHOTOMETRIC(page.photometric)
        if photometric not in _TIFF_COLOUR_MODELS or (
            photometric == tifffile.PHOTOMETRIC.YCBCR and page.compression != tifffile.COMPRESSION.JPEG
        ):
            model = "CMYK" if photometric == tifffile.PHOTOMETRIC.SEPARATED else photometric.name
            raise RestorerError(f"{path} is a {model} TIFF; save it as RGB or greyscale first")
        dtype = np.dtype(page.dtype)
        if dtype.kind not in "ub" or dtype.itemsize > 2:
            raise RestorerError(
                f"{path} holds {dtype.itemsize * 8}-bit {'float' if dtype.kind == 'f' else 'integer'} "
                "samples; Restorer reads 8- and 16-bit images (save it as a 16-bit TIFF)"
            )
        arr = page.asarray()
        if page.axes in ("SYX", "CYX"):  # planar configuration "separate"
            arr = np.moveaxis(arr, 0, -1)
        elif page.axes not in ("YX", "YXS", "YXC"):
            raise RestorerError(
                f"{path} is a multi-dimensional TIFF ({page.axes}); Restorer reads 2-D images"
            )
        if photometric == tifffile.PHOTOMETRIC.PALETTE:
            arr = _apply_colormap(arr, page.colormap, page.bitspersample)
        else:
            arr = _full_range(arr, page.bitspersample)
        if photometric == tifffile.PHOTOMETRIC.MINISWHITE:
            arr = np.iinfo(arr.dtype).max - arr
        channels, alpha = _tiff_channels(arr if arr.ndim == 3 else arr[:, :, None], page.extrasamples)
        tags = page.tags
        icc = tags.get(34675)
        orientation = tags.get(274)
        return Decoded(
            channels,
            alpha,
            bytes(icc.value) if icc is not None else None,
            None,  # EXIF inside TIFF is a sub-IFD of the file itself, not a block we can carry
            _tiff_dpi(tags),
            int(orientation.value) if orientation is not None else 1,
        )


# YCbCr is listed because tifffile hands JPEG-compressed YCbCr back as RGB (other YCbCr it returns raw).
_TIFF_COLOUR_MODELS = {
    tifffile.PHOTOMETRIC.MINISWHITE,
    tifffile.PHOTOMETRIC.MINISBLACK,
    tifffile.PHOTOMETRIC.RGB,
    tifffile.PHOTOMETRIC.PALETTE,
    tifffile.PHOTOMETRIC.YCBCR,
}


def _full_range(arr: np.ndarray, bits: int) -> np.ndarray:
    """Stretch 1..15-bit samples to the full range of their uint8/uint16 container (bool -> 0/255)."""
    if arr.dtype == bool:
        return arr.astype(np.uint8) * np.uint8(255)
    arr = arr.astype(arr.dtype.newbyteorder("="), copy=False)
    top = np.iinfo(arr.dtype).max
    if bits in (8, 16) or bits >= 8 * arr.dtype.itemsize:
        return arr
    scaled = arr.astype(np.float32) * np.float32(top / (2**bits - 1))
    return np.rint(scaled, out=scaled).astype(arr.dtype)


def _apply_colormap(index: np.ndarray, colormap: np.ndarray, bits: int) -> np.ndarray:
    """TIFF palettes are 16-bit; for 8-bit indices the colours were 8-bit and go back to uint8."""
    rgb = np.ascontiguousarray(colormap.T)[index]
    if bits <= 8:
        return (rgb >> 8).astype(np.uint8) if rgb.max() > 255 else rgb.astype(np.uint8)
    return rgb.astype(np.uint16)


def _tiff_channels(arr: np.ndarray, extrasamples: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray | None]:
    """Colour channels and the first extra sample as alpha (a 4th channel not declared extra counts too)."""
    colour = arr.shape[2] - len(extrasamples)
    if colour not in (1, 3):
        colour = 3 if arr.shape[2] >= 3 else 1
    channels = np.ascontiguousarray(arr[:, :, :colour])
    if arr.shape[2] == colour:
        return channels, None
    alpha = np.ascontiguousarray(arr[:, :, colour])
    if extrasamples and extrasamples[0] == 1:  # associated (premultiplied) alpha: undo it
        channels = _unpremultiply(channels, alpha)
    return channels, alpha


def _unpremultiply(channels: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    top = np.float32(np.iinfo(channels.dtype).max)
    a = alpha.astype(np.float32)[:, :, None]
    out = np.where(a > 0, channels.astype(np.float32) * top / np.maximum(a, 1), 0)
    return np.rint(np.clip(out, 0, top)).astype(channels.dtype)


def _tiff_dpi(tags: tifffile.TiffTags) -> tuple[float, float] | None:
    xres, yres, unit = tags.get(282), tags.get(283), tags.get(296)
    per_inch = {2: 1.0, 3: 2.54}.get(int(unit.value) if unit is not None else 2)
    if xres is None or yres is None or per_inch is None:
        return None
    try:
        x, y = (v[0] / v[1] if isinstance(v, tuple) else float(v) for v in (xres.value, yres.value))
    except (ZeroDivisionError, TypeError, IndexError):
        return None
    return (x * per_inch, y * per_inch) if x > 0 and y > 0 else None


DECODERS = {"PNG": decode_png, "JPEG": decode_pillow, "WEBP": decode_pillow, "TIFF": decode_tiff}
