"""Decoders, one per format, from a file to pixels and metadata (no orientation applied yet).

PNG by libpng (``imagecodecs``: 16-bit RGB(A), palette, tRNS, with the metadata chunks parsed
here), TIFF by ``tifffile`` (its EXIF by Pillow), JPEG and WebP by Pillow. Every format checks
the size in its header against the one ``max_pixels`` before any pixel is decoded; Pillow's own
global limit is kept out of the way (see ``_pillow_limit_lifted``). Multi-page and animated files
give their first page or frame and say how many there were.
"""

from __future__ import annotations

import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

import imagecodecs
import numpy as np
import tifffile
from PIL import Image, JpegImagePlugin, WebPImagePlugin

from restorer.core import metadata
from restorer.core.errors import RestorerError
from restorer.core.metadata import TextEntry

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_ICC_BYTES = 64 << 20  # a zlib bomb hidden in an iCCP chunk must not exhaust memory
_MAX_TEXT_BYTES = 64 << 20  # nor one in the text chunks, all of them together


class ImageReadWarning(UserWarning):
    """The photo was read, but not all of it: only its first page or frame, or not its metadata."""


@dataclass
class Decoded:
    channels: np.ndarray  # (H, W, C) with C = 1 or 3, native-endian uint8/uint16
    alpha: np.ndarray | None
    icc: bytes | None = None
    exif: bytes | None = None
    dpi: tuple[float, float] | None = None
    orientation: int = 1  # the file's own orientation tag (TIFF); 1 lets the EXIF decide
    xmp: bytes | None = None
    iptc: bytes | None = None
    text: tuple[TextEntry, ...] = ()
    colour: dict[bytes, bytes] = field(default_factory=dict)  # PNG sRGB/gAMA/cHRM/cICP chunk bodies
    frames: int = 1  # pages (TIFF) or animation frames; only the first is decoded


def _check_pixels(path: Path, width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise RestorerError(f"cannot read {path}: its header gives an empty size {width}x{height}")
    if width * height > max_pixels:
        raise RestorerError(
            f"{path} is too large to open: {width}x{height} = {width * height:,} pixels, over the limit "
            f"of {max_pixels:,} (a guard against decompression bombs)"
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


_PNG_SINGLE = (b"iCCP", b"pHYs", b"eXIf", b"acTL", *metadata.COLOUR_CHUNKS)


def _png_metadata_chunks(data: bytes) -> tuple[dict[bytes, bytes], list[tuple[bytes, bytes]], bool]:
    """(the first body of each single chunk kind, every text chunk in order, whether an fcTL came before
    IDAT); like libpng, ancillary chunks with a bad CRC are skipped."""
    chunks: dict[bytes, bytes] = {}
    texts: list[tuple[bytes, bytes]] = []
    frame_before_idat = seen_idat = False
    view = memoryview(data)
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):  # only chunk headers are read: image data is skipped, not copied
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data) or kind == b"IEND":
            break
        seen_idat = seen_idat or kind == b"IDAT"
        frame_before_idat = frame_before_idat or (kind == b"fcTL" and not seen_idat)
        wanted = kind in metadata.TEXT_CHUNKS or (kind in _PNG_SINGLE and kind not in chunks)
        if wanted and zlib.crc32(view[pos + 4 : end - 4]) == struct.unpack_from(">I", data, end - 4)[0]:
            body = bytes(view[pos + 8 : end - 4])
            if kind in metadata.TEXT_CHUNKS:
                texts.append((kind, body))
            else:
                chunks[kind] = body
        pos = end
    return chunks, texts, frame_before_idat


def _png_text(texts: list[tuple[bytes, bytes]]) -> tuple[tuple[TextEntry, ...], bytes | None]:
    """The text entries and the XMP packet (iTXt "XML:com.adobe.xmp") of a PNG's text chunks."""
    entries, xmp, budget = [], None, _MAX_TEXT_BYTES
    for kind, body in texts:
        entry = metadata.parse_text_chunk(kind, body, budget)
        if entry is None:
            continue
        budget = max(0, budget - len(entry.text))
        if entry.keyword == metadata.XMP_KEYWORD and xmp is None:
            xmp = entry.text.encode("utf-8")
        else:
            entries.append(entry)
    return tuple(entries), xmp


def _png_frames(chunks: dict[bytes, bytes], frame_before_idat: bool) -> int:
    """Images in an APNG: its frames, plus the default image when that is not the first frame."""
    if len(chunks.get(b"acTL", b"")) != 8:
        return 1
    (frames,) = struct.unpack_from(">I", chunks[b"acTL"])
    return max(1, frames + (0 if frame_before_idat else 1))


def decode_png(path: Path, fmt: str, max_pixels: int) -> Decoded:
    with open(path, "rb") as f:
        head = f.read(33)  # signature and IHDR: enough to refuse a bomb before reading the rest
        if len(head) < 33 or head[12:16] != b"IHDR":
            raise RestorerError(f"cannot read {path}: truncated PNG (no image header)")
        width, height = struct.unpack_from(">II", head, 16)
        _check_pixels(path, width, height, max_pixels)
        f.seek(0)
        data = f.read()
    chunks, texts, frame_before_idat = _png_metadata_chunks(data)
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
    text, xmp = _png_text(texts)
    colour = {kind: chunks[kind] for kind in metadata.COLOUR_CHUNKS if kind in chunks}
    return Decoded(
        channels,
        alpha,
        icc,
        chunks.get(b"eXIf"),
        dpi,
        xmp=xmp,
        text=text,
        colour=colour,
        frames=_png_frames(chunks, frame_before_idat),
    )


# JPEG and WebP: Pillow. The plugin classes are used directly (not Image.open) so that our max_pixels
# is the only size limit: Image.open applies Pillow's own, much lower global one.


def _webp_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from a WebP's first chunk (VP8X canvas, VP8L or VP8 frame), or None."""
    kind = head[12:16]
    if kind == b"VP8X" and len(head) >= 30:
        return 1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little")
    if kind == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if kind == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", head, 26)
        return width & 0x3FFF, height & 0x3FFF
    return None


_PILLOW_LIMIT = threading.Lock()


@contextmanager
def _pillow_limit_lifted(pixels: int) -> Iterator[None]:
    """Pillow's WebP opener refuses more than twice Pillow's global MAX_IMAGE_PIXELS by itself. Our
    limit has been checked from the header already, so for a larger photo that one is lifted while
    the file is opened (not decoded), under a lock: other threads see it lifted only for that moment."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit is None or pixels <= 2 * limit:
        yield
        return
    with _PILLOW_LIMIT:
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _open_pillow(f: BinaryIO, path: Path, fmt: str, max_pixels: int) -> Image.Image:
    if fmt == "JPEG":
        return JpegImagePlugin.JpegImageFile(f)
    size = _webp_size(f.read(30))
    f.seek(0)
    if size is not None:
        _check_pixels(path, *size, max_pixels)
    with _pillow_limit_lifted(size[0] * size[1] if size else 0):
        return WebPImagePlugin.WebPImageFile(f)


def _pillow_metadata(info: dict) -> dict:
    """XMP, IPTC (Photoshop resource 0x0404) and the JPEG comment from a Pillow image's info."""
    iptc = info.get("photoshop", {}).get(0x0404)
    comment = info.get("comment")
    text = ()
    if isinstance(comment, bytes) and comment:
        text = (TextEntry("Comment", metadata.decode_text(comment)),)
    xmp = info.get("xmp")
    return {
        "xmp": bytes(xmp) if isinstance(xmp, bytes | bytearray) and xmp else None,
        "iptc": iptc if isinstance(iptc, bytes) and iptc else None,
        "text": text,
    }


def decode_pillow(path: Path, fmt: str, max_pixels: int) -> Decoded:
    with open(path, "rb") as f, _open_pillow(f, path, fmt, max_pixels) as im:
        _check_pixels(path, *im.size, max_pixels)
        if im.mode == "CMYK":
            # Refused like a CMYK TIFF: Restorer writes RGB, so every pixel outside the mask would be
            # re-rendered through a colour conversion that is the user's to choose (profile, intent).
            raise RestorerError(f"{path} is a CMYK JPEG; save it as RGB or greyscale first")
        im.load()
        icc = im.info.get("icc_profile")
        if im.mode not in ("L", "LA", "RGB", "RGBA"):
            if im.mode == "YCbCr":
                icc = None  # the profile describes the source colour model, not our RGB pixels
            im = im.convert("RGBA" if "A" in im.mode else "RGB")
        arr = np.asarray(im)
        exif = im.info.get("exif")
        dpi = im.info.get("dpi")
        extra = _pillow_metadata(im.info)
        frames = getattr(im, "n_frames", 1)
    channels, alpha = _split_alpha(arr)
    dpi = (float(dpi[0]), float(dpi[1])) if dpi and all(v > 0 for v in dpi) else None
    return Decoded(channels, alpha, icc, exif, dpi, frames=frames, **extra)


def _tiff_pages(tif: tifffile.TiffFile) -> int:
    """Full-resolution pages: reduced-resolution ones (thumbnails, previews) do not count."""
    return sum(1 for page in tif.pages if not int(getattr(page, "subfiletype", 0) or 0) & 1)


def _tiff_exif(path: Path) -> bytes | None:
    """The descriptive tags and EXIF/GPS sub-IFDs as an EXIF block, read by Pillow (which keeps each
    tag's type). The pixels are decoded already, so EXIF it cannot parse costs a warning, not the photo."""
    try:
        with open(path, "rb") as f:
            return metadata.read_tiff_exif(f)
    except Exception as e:  # Pillow's IFD reader fails on damaged tags in many ways
        message = f"{path}: its EXIF could not be read and is not kept ({e})"
        warnings.warn(message, ImageReadWarning, stacklevel=4)
        return None


def _tag_bytes(tags: tifffile.TiffTags, code: int) -> bytes | None:
    """A tag's raw bytes; tifffile reads XMP and IPTC so whatever their stored type (IPTC as LONG)."""
    tag = tags.get(code)
    return bytes(tag.value) if tag is not None and isinstance(tag.value, bytes) and tag.value else None


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
        tags = page.tags  # read while the file is open: tifffile loads large values lazily
        icc = tags.get(34675)
        orientation = tags.get(274)
        decoded = Decoded(
            channels,
            alpha,
            bytes(icc.value) if icc is not None else None,
            dpi=_tiff_dpi(tags),
            orientation=int(orientation.value) if orientation is not None else 1,
            frames=max(1, _tiff_pages(tif)),
            xmp=_tag_bytes(tags, metadata.XMP_TAG),
            iptc=_tag_bytes(tags, metadata.IPTC_TAG),
        )
    return replace(decoded, exif=_tiff_exif(path))


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
