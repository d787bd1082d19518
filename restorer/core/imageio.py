"""Reading and writing photographs and damage masks.

Formats are recognised by content, never by file name. Each is decoded by the library that keeps its
full depth: PNG by libpng (``imagecodecs``: 16-bit RGB(A), palette, tRNS), TIFF by ``tifffile``, JPEG
and WebP by Pillow. Pillow cannot hold 16-bit colour, so it is kept away from PNG and TIFF.
Every image's size is checked against ``max_pixels`` from its header, before any pixel is decoded.

Output keeps the bit depth, the ICC profile, the resolution (dpi) and alpha. EXIF travels with the
photo as a TIFF-structured block (no ``Exif\\0\\0`` prefix) whose orientation has been reset to 1,
because the rotation it asked for is already applied to the pixels. XMP, IPTC, the descriptive TIFF
tags, PNG text and colour chunks travel too, into whatever the output format can hold
(``restorer.core.metadata`` says what goes where and why).
"""

from __future__ import annotations

import dataclasses
import io
import os
import struct
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import imagecodecs
import numpy as np
import tifffile
from PIL import Image

from restorer.core import metadata
from restorer.core.decoders import DECODERS, PNG_SIGNATURE, ImageReadWarning
from restorer.core.errors import RestorerError
from restorer.core.files import (
    READ_SUFFIXES,
    WRITE_SUFFIXES,
    atomic_write,
    atomic_write_bytes,
    atomic_write_stream,
)
from restorer.core.pixels import from_float, to_8bit, to_float

__all__ = [  # the reading, writing and scaling names callers have always found here
    "READ_SUFFIXES",
    "WRITE_SUFFIXES",
    "ImageReadWarning",
    "Photo",
    "atomic_write",
    "from_float",
    "read_mask",
    "read_photo",
    "to_float",
    "write_mask",
    "write_photo",
]

DEFAULT_MAX_PIXELS = 400_000_000
_FORMAT_ALIASES = {"PNG": "PNG", "TIF": "TIFF", "TIFF": "TIFF", "JPG": "JPEG", "JPEG": "JPEG"}

# libpng compresses on one thread, so PNG settings trade a little size for speed. Measured on a 24 MP
# grainy scan against zlib level 3: 8-bit 3x faster for 10 % more bytes, 16-bit (whose noisy low bytes
# barely compress anyway) 2x faster for 8 % more. TIFF (zlib with horizontal predictor, strips in
# parallel) at level 3 is 2.5x faster than 6 on 8-bit scans for 2 % more bytes.
_PNG_OPTIONS = {
    np.dtype(np.uint8): {"level": 1, "filter": imagecodecs.PNG.FILTER.SUB},
    np.dtype(np.uint16): {
        "level": 1,
        "filter": imagecodecs.PNG.FILTER.SUB,
        "strategy": imagecodecs.PNG.STRATEGY.RLE,
    },
}
_TIFF_LEVEL = 3
_EXIF_PREFIX = b"Exif\x00\x00"
_ORIENTATION_TAG = 0x0112
_JPEG_MARKER_BYTES = 65533  # the most one JPEG segment holds after its length field
JPEG_XMP_LIMIT = _JPEG_MARKER_BYTES - 29  # less Adobe's "http://ns.adobe.com/xap/1.0/\0" header
_CLASSIC_TIFF_BYTES = 2**32 - 2**25  # tifffile writes BigTIFF above this, which Pillow's IFDs cannot join


class ImageWriteWarning(UserWarning):
    """Something the chosen output format cannot hold (alpha, 16-bit depth) was left out."""


@dataclass
class Photo:
    """A decoded photograph: pixels, alpha kept apart, and the metadata that must survive a restore."""

    pixels: np.ndarray  # (H, W, C), C = 1 (grey) or 3 (RGB); uint8 or uint16
    alpha: np.ndarray | None  # (H, W), same dtype as pixels
    icc_profile: bytes | None
    source: Path | None
    format: str  # of the source: "PNG", "JPEG", "WEBP", "TIFF"
    exif: bytes | None = None  # TIFF-structured EXIF, orientation already reset to 1
    dpi: tuple[float, float] | None = None  # (x, y) pixels per inch, when the file says
    xmp: bytes | None = None  # the XMP packet, as the file held it
    iptc: bytes | None = None  # IPTC-IIM datasets (TIFF tag 33723, Photoshop resource 0x0404 in JPEG)
    text: tuple[metadata.TextEntry, ...] = ()  # PNG text chunks; a JPEG comment is keyword "Comment"
    colour_chunks: dict[bytes, bytes] = field(default_factory=dict)  # PNG sRGB, gAMA, cHRM, cICP bodies

    def __post_init__(self) -> None:
        p = self.pixels
        if p.ndim != 3 or p.shape[2] not in (1, 3) or p.dtype not in (np.uint8, np.uint16):
            raise ValueError(f"Photo pixels must be uint8/uint16 (H, W, 1|3), got {p.dtype} {p.shape}")
        if self.alpha is not None and (self.alpha.shape != p.shape[:2] or self.alpha.dtype != p.dtype):
            raise ValueError(
                f"Photo alpha must be {p.dtype} {p.shape[:2]}, got {self.alpha.dtype} {self.alpha.shape}"
            )

    @property
    def bit_depth(self) -> int:
        return 8 * self.pixels.dtype.itemsize

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), the order people and file headers use."""
        return self.pixels.shape[1], self.pixels.shape[0]

    @property
    def is_grey(self) -> bool:
        return self.pixels.shape[2] == 1

    def with_pixels(self, pixels: np.ndarray) -> Photo:
        """A copy holding new pixels; alpha is converted only if the new pixels change the bit depth."""
        alpha = self.alpha
        if alpha is not None and alpha.dtype != pixels.dtype:
            alpha = from_float(to_float(alpha), pixels.dtype)
        return dataclasses.replace(self, pixels=pixels, alpha=alpha)


# --- reading ------------------------------------------------------------------------------------


def read_photo(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    """Read a PNG, JPEG, WebP or TIFF photo with EXIF orientation applied; failures are one RestorerError."""
    path = Path(path)
    fmt = _sniff_format(path)
    decode = DECODERS[fmt]
    try:
        d = decode(path, fmt, max_pixels)
    except RestorerError:
        raise
    except MemoryError as e:
        raise RestorerError(f"not enough memory to open {path}") from e
    except Image.DecompressionBombError as e:  # only if a header our size check could not parse
        raise RestorerError(f"{path} is too large to open ({_one_line(e)})") from e
    except Exception as e:  # decoders of untrusted bytes fail in many ways; all mean a bad file
        raise RestorerError(f"cannot read {path}: damaged or truncated {fmt} data ({_one_line(e)})") from e

    exif, orientation = d.exif, d.orientation
    if exif is not None:
        exif, exif_orientation = _reset_exif_orientation(exif)
        orientation = exif_orientation if orientation == 1 else orientation  # a TIFF's own tag wins
    dpi = d.dpi
    if orientation in (5, 6, 7, 8) and dpi is not None:
        dpi = (dpi[1], dpi[0])
    channels = _orient(d.channels, orientation)
    alpha = None if d.alpha is None else _orient(d.alpha, orientation)
    if d.frames > 1:
        word = "pages" if fmt == "TIFF" else "frames"
        warnings.warn(
            f"{path}: only the first of {d.frames} {word} is restored (the output holds that one alone)",
            ImageReadWarning,
            stacklevel=2,
        )
    meta = {"xmp": d.xmp, "iptc": d.iptc, "text": d.text, "colour_chunks": d.colour}
    return Photo(channels, alpha, d.icc or None, path, fmt, exif or None, dpi, **meta)


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _sniff_format(path: Path) -> str:
    try:
        if path.is_dir():
            raise RestorerError(f"{path} is a folder, not an image")
        with open(path, "rb") as f:
            head = f.read(16)
    except FileNotFoundError as e:
        raise RestorerError(f"{path} does not exist") from e
    except OSError as e:
        raise RestorerError(f"cannot read {path}: {e.strerror or e}") from e
    if not head:
        raise RestorerError(f"{path} is empty (0 bytes)")
    if head.startswith(PNG_SIGNATURE):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    other = {b"GIF8": "a GIF", b"BM": "a BMP", b"8BPS": "a Photoshop", b"\x00\x00\x00\x0cjP": "a JPEG 2000"}
    kind = next((name for magic, name in other.items() if head.startswith(magic)), None)
    if kind is None and head[4:8] == b"ftyp":
        kind = "a HEIF/AVIF"
    what = f"{kind} image" if kind else "not an image Restorer can read"
    raise RestorerError(f"{path} is {what}; Restorer reads PNG, JPEG, WebP and TIFF")


# --- EXIF orientation ---------------------------------------------------------------------------


def _reset_exif_orientation(exif: bytes) -> tuple[bytes | None, int]:
    """Return (EXIF with orientation 1 and no stale thumbnail, the orientation it had).

    Patched in place rather than re-serialised, so maker notes and offsets stay exactly as they were.
    IFD1 (the thumbnail) is unlinked: it shows the damaged original. Malformed EXIF is dropped.
    """
    block = bytearray(exif[len(_EXIF_PREFIX) :] if exif.startswith(_EXIF_PREFIX) else exif)
    if len(block) < 8 or block[:4] not in (b"II*\x00", b"MM\x00*"):
        return None, 1
    order = "<" if block[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(order + "I", block, 4)
    if ifd + 2 > len(block):
        return None, 1
    (count,) = struct.unpack_from(order + "H", block, ifd)
    end = ifd + 2 + 12 * count
    if end + 4 > len(block):
        return None, 1
    orientation = 1
    for entry in range(ifd + 2, end, 12):
        tag, kind = struct.unpack_from(order + "HH", block, entry)
        if tag == _ORIENTATION_TAG and kind == 3:  # SHORT
            (value,) = struct.unpack_from(order + "H", block, entry + 8)
            orientation = value if 1 <= value <= 8 else 1
            struct.pack_into(order + "H", block, entry + 8, 1)
    struct.pack_into(order + "I", block, end, 0)
    return bytes(block), orientation


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to the first two axes, as a viewer would display it."""
    ops: dict[int, Callable[[np.ndarray], np.ndarray]] = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return arr if op is None else np.ascontiguousarray(op(arr))


# --- writing ------------------------------------------------------------------------------------


def write_photo(
    photo: Photo,
    path: str | Path,
    *,
    format: str | None = None,
    quality: int = 95,
    overwrite: bool = True,
    protect: Path | None = None,
) -> Path:
    """Write ``photo`` atomically as PNG, TIFF or (when asked) JPEG and return the path.

    The format comes from ``format`` or else the file extension. ``protect`` names a file that is never
    replaced (the user's original); ``photo.source`` is replaced only when ``overwrite`` is true.
    PNG and TIFF keep 16-bit depth, alpha, ICC and dpi; JPEG is 8-bit without alpha.
    """
    path = Path(path)
    fmt = _output_format(path, format)
    if not 1 <= quality <= 100:
        raise RestorerError(f"JPEG quality must be between 1 and 100, not {quality}")
    _check_target(photo, path, overwrite, protect)
    if fmt == "JPEG":
        _warn_jpeg_losses(photo, path)
    writer = {"PNG": _write_png, "TIFF": _write_tiff, "JPEG": _write_jpeg}[fmt]
    return atomic_write_stream(path, lambda f: writer(photo, f, quality), _written_check(fmt, photo))


def _output_format(path: Path, format: str | None) -> str:
    if format is not None:
        fmt = _FORMAT_ALIASES.get(format.upper().lstrip("."))
        if fmt is None:
            raise RestorerError(f"cannot write {format!r} images; Restorer writes PNG, TIFF and JPEG")
        return fmt
    fmt = WRITE_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        shown = f"'{path.suffix}'" if path.suffix else "no extension"
        raise RestorerError(
            f"cannot tell the format of {path} ({shown}): use .png, .tif, .tiff, .jpg or .jpeg"
        )
    return fmt


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist, so writing cannot destroy it
        return False


def _check_target(photo: Photo, path: Path, overwrite: bool, protect: Path | None) -> None:
    if path.is_dir():
        raise RestorerError(f"cannot write {path}: it is a folder")
    if not path.parent.is_dir():
        raise RestorerError(f"cannot write {path}: folder {path.parent} does not exist")
    if protect is not None and _same_file(path, Path(protect)):
        raise RestorerError(f"refusing to overwrite {path}: it is an input file; choose another output file")
    if not overwrite and photo.source is not None and _same_file(path, photo.source):
        raise RestorerError(f"refusing to overwrite the original photo {path}; choose another output file")


def _interleaved(photo: Photo) -> np.ndarray:
    """(H, W) grey, or (H, W, C) with alpha as the last channel."""
    if photo.alpha is not None:
        return np.concatenate([photo.pixels, photo.alpha[:, :, None]], axis=2)
    # Encoders want C-contiguous data; callers may hand in views (crops, channel slices).
    return np.ascontiguousarray(photo.pixels[:, :, 0] if photo.is_grey else photo.pixels)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_metadata(photo: Photo) -> list[bytes]:
    """The chunks after IHDR: colour (before IDAT, as the standard asks), dpi, EXIF, text and XMP."""
    extra = []
    if photo.icc_profile:
        extra.append(_png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(photo.icc_profile)))
    extra += [_png_chunk(kind, body) for kind, body in photo.colour_chunks.items()]
    if photo.dpi:
        ppm = [max(1, round(d / 0.0254)) for d in photo.dpi]
        extra.append(_png_chunk(b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1)))
    if photo.exif:
        extra.append(_png_chunk(b"eXIf", photo.exif))
    text = list(photo.text)
    if photo.format != "PNG":  # from another format: its Artist, Copyright... as PNG keywords too
        text += metadata.missing_text(text, metadata.descriptive_tags(metadata.parse_exif(photo.exif)))
    for entry in text:
        if (chunk := metadata.encode_text_chunk(entry)) is not None:
            extra.append(_png_chunk(*chunk))
    if photo.xmp:  # iTXt, uncompressed, no language: what the XMP specification asks of PNG
        extra.append(_png_chunk(b"iTXt", metadata.XMP_KEYWORD.encode("ascii") + b"\x00" * 5 + photo.xmp))
    return extra


def _write_png(photo: Photo, f: BinaryIO, quality: int) -> None:
    encoded = imagecodecs.png_encode(_interleaved(photo), **_PNG_OPTIONS[photo.pixels.dtype])
    header_end = len(PNG_SIGNATURE) + 25  # signature + IHDR chunk; our chunks must precede IDAT
    view = memoryview(encoded)
    f.write(view[:header_end])
    f.write(b"".join(_png_metadata(photo)))
    f.write(view[header_end:])


def _icc_profile(photo: Photo) -> bytes | None:
    """The photo's profile; for a PNG that says sRGB by chunk alone, an sRGB profile that says so."""
    if photo.icc_profile or b"sRGB" not in photo.colour_chunks:
        return photo.icc_profile
    return metadata.srgb_profile()


def _tiff_tags(photo: Photo, exif: metadata.ExifIfds | None) -> tuple[bytes, list[tuple]]:
    """(Software, tifffile extratags): the descriptive tags (the input's Software kept, else ours),
    XMP (700) and IPTC (33723, UNDEFINED as TIFF/EP has it)."""
    tags = metadata.descriptive_tags(exif)
    if photo.format != "TIFF":  # from PNG: its Author, Copyright... keywords fill the gaps
        for tag, value in metadata.tags_for_text(photo.text).items():
            tags.setdefault(tag, value)
    software = tags.pop(305, b"Restorer")
    extratags: list[tuple] = [
        (tag, "B", len(value), value, True) if tag in metadata.XP_TAGS else (tag, "s", 0, value, True)
        for tag, value in sorted(tags.items())
    ]
    if photo.xmp:
        extratags.append((metadata.XMP_TAG, "B", len(photo.xmp), photo.xmp, True))
    if photo.iptc:
        extratags.append((metadata.IPTC_TAG, 7, len(photo.iptc), photo.iptc, True))
    return software, extratags


def _write_tiff(photo: Photo, f: BinaryIO, quality: int) -> None:
    exif = metadata.parse_exif(photo.exif)
    software, extratags = _tiff_tags(photo, exif)
    data = _interleaved(photo)
    options = {
        "photometric": "minisblack" if photo.is_grey else "rgb",
        "planarconfig": "contig",
        "extrasamples": ("unassalpha",) if photo.alpha is not None else None,
        "compression": "zlib",
        "compressionargs": {"level": _TIFF_LEVEL},
        "predictor": True,  # horizontal differencing: photos compress far better
        "iccprofile": _icc_profile(photo),
        "resolution": photo.dpi,
        "resolutionunit": "INCH" if photo.dpi else None,
        "metadata": None,  # no tifffile JSON in ImageDescription
        "software": software,
        "extratags": extratags,
    }
    subs = exif.subs if exif is not None else {}
    if subs and data.nbytes > _CLASSIC_TIFF_BYTES:
        warnings.warn(
            "EXIF camera data cannot be joined to a BigTIFF; it is left out", ImageWriteWarning, stacklevel=4
        )
        subs = {}
    if subs:
        _write_tiff_with_sub_ifds(f, data, options, subs)
    else:
        tifffile.imwrite(f, data, **options)


# tifffile refuses to write the EXIF and GPS pointer tags; these stand in for them, one code lower so
# that they sort to the same place in the IFD, until the sub-IFDs they point to are written.
_POINTER_STAND_INS = {metadata.EXIF_IFD: 34664, metadata.GPS_IFD: 34852}


def _write_tiff_with_sub_ifds(f: BinaryIO, data: np.ndarray, options: dict, subs: dict) -> None:
    """Write the TIFF (in memory, like PNG, so its IFD can be patched), then the sub-IFDs after it."""
    stand_ins = [(_POINTER_STAND_INS[tag], 4, 1, 0, True) for tag in subs]
    buf = io.BytesIO()
    options = {**options, "extratags": options["extratags"] + stand_ins}
    tifffile.imwrite(buf, data, byteorder="<", bigtiff=False, **options)
    buf.seek(0)
    with tifffile.TiffFile(buf) as tif:
        entries = {tag: tif.pages.first.tags[_POINTER_STAND_INS[tag]].offset for tag in subs}
    size = buf.seek(0, io.SEEK_END)
    tail = bytearray()
    with buf.getbuffer() as view:
        for tag, ifd in subs.items():
            tail += b"\x00" * ((size + len(tail)) & 1)  # an IFD starts on a word boundary
            offset = size + len(tail)
            struct.pack_into("<HHII", view, entries[tag], tag, 4, 1, offset)  # the real tag, LONG, 1
            tail += metadata.serialise_ifd(ifd, offset, b"II")
        f.write(view)
    f.write(tail)


def _warn_jpeg_losses(photo: Photo, path: Path) -> None:
    lost = []
    if photo.alpha is not None:
        lost.append("alpha")
    if photo.bit_depth == 16:
        lost.append("16-bit depth")
    if lost:
        warnings.warn(
            f"JPEG cannot hold {' or '.join(lost)}: {path} loses it", ImageWriteWarning, stacklevel=3
        )


def _fits_jpeg_segment(what: str, data: bytes | None, limit: int) -> bool:
    """Whether ``data`` fits in its one JPEG segment; a warning says what is left out when not."""
    if not data:
        return False
    if len(data) > limit:
        warnings.warn(
            f"JPEG holds at most {limit:,} bytes of {what}; this photo's {len(data):,} are left out",
            ImageWriteWarning,
            stacklevel=4,
        )
        return False
    return True


def _jpeg_options(photo: Photo) -> dict[str, object]:
    """Pillow's save options for the metadata: ICC, EXIF, XMP (APP1), the comment (COM) and dpi."""
    options: dict[str, object] = {}
    if icc := _icc_profile(photo):
        options["icc_profile"] = icc
    exif = photo.exif
    if photo.format != "JPEG":  # from PNG: its Author, Copyright... keywords as EXIF tags
        exif = metadata.exif_with_tags(exif, metadata.tags_for_text(photo.text))
    if _fits_jpeg_segment("EXIF", exif, _JPEG_MARKER_BYTES - len(_EXIF_PREFIX)):
        options["exif"] = _EXIF_PREFIX + exif
    if _fits_jpeg_segment("XMP", photo.xmp, JPEG_XMP_LIMIT):
        options["xmp"] = photo.xmp
    comment = metadata.jpeg_comment(photo.text)
    if comment is not None and _fits_jpeg_segment("comment", comment.encode("utf-8"), _JPEG_MARKER_BYTES):
        options["comment"] = comment.encode("utf-8")
    if photo.dpi:
        options["dpi"] = tuple(max(1, round(d)) for d in photo.dpi)  # JFIF holds whole numbers
    return options


def _write_jpeg(photo: Photo, f: BinaryIO, quality: int) -> None:
    pixels = to_8bit(photo.pixels)
    im = Image.fromarray(pixels[:, :, 0] if photo.is_grey else pixels)
    # 4:4:4 chroma: subsampling would blur the colour of fine restored detail.
    options = {"format": "JPEG", "quality": quality, "subsampling": 0, "optimize": True}
    options.update(_jpeg_options(photo))
    segment = metadata.photoshop_segment(photo.iptc) if photo.iptc else None
    if not _fits_jpeg_segment("IPTC", segment, _JPEG_MARKER_BYTES + 4):  # + marker and length
        im.save(f, **options)
        return
    buf = io.BytesIO()  # Pillow has no APP13 option: the IPTC segment is spliced in afterwards
    im.save(buf, **options)
    f.write(metadata.splice_after_app_segments(buf.getvalue(), segment))


# --- reading back what was written ------------------------------------------------------------
#
# Run on the temp file before it replaces anything. They read headers and the file's end only, not
# the pixels: the byte count is already checked, so what is left to catch is an encoder that wrote
# something other than asked, or a file cut short in a way the count cannot see.


def _written_check(fmt: str, photo: Photo) -> Callable[[Path], None]:
    """The read-back check for a ``photo`` written as ``fmt``: header size and shape, complete end."""
    width, height = photo.size
    channels = photo.pixels.shape[2] + (photo.alpha is not None)

    def check(tmp: Path) -> None:
        if fmt == "PNG":
            _check_png(tmp, width, height)
        elif fmt == "TIFF":
            _check_tiff(tmp, width, height, channels)
        else:
            _check_jpeg(tmp, width, height, "L" if photo.is_grey else "RGB")

    return check


def _check_png(tmp: Path, width: int, height: int) -> None:
    with open(tmp, "rb") as f:
        head = f.read(len(PNG_SIGNATURE) + 16)
        f.seek(-12, os.SEEK_END)
        tail = f.read(12)
    if not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR":
        raise ValueError("no PNG header")
    size = struct.unpack(">II", head[16:24])
    if size != (width, height):
        raise ValueError(f"PNG header says {size[0]}x{size[1]}, expected {width}x{height}")
    if tail[4:8] != b"IEND":
        raise ValueError("the PNG has no end chunk")


def _check_tiff(tmp: Path, width: int, height: int, channels: int) -> None:
    end = tmp.stat().st_size
    with tifffile.TiffFile(tmp) as tif:
        page = tif.pages.first
        shape = (page.imagelength, page.imagewidth, page.samplesperpixel)
        if shape != (height, width, channels):
            raise ValueError(f"TIFF header says {shape}, expected {(height, width, channels)}")
        if any(o + n > end for o, n in zip(page.dataoffsets, page.databytecounts, strict=True)):
            raise ValueError("the TIFF's image data runs past the end of the file")


def _check_jpeg(tmp: Path, width: int, height: int, mode: str) -> None:
    with Image.open(tmp) as im:
        if im.format != "JPEG" or im.size != (width, height) or im.mode != mode:
            raise ValueError(f"read back as {im.format} {im.mode} {im.size[0]}x{im.size[1]}")
    with open(tmp, "rb") as f:
        f.seek(-2, os.SEEK_END)
        if f.read(2) != b"\xff\xd9":
            raise ValueError("the JPEG has no end marker")


def check_png(width: int, height: int) -> Callable[[Path], None]:
    """The read-back check for a PNG of ``width`` x ``height`` (masks, grids)."""
    return lambda tmp: _check_png(tmp, width, height)


# --- masks --------------------------------------------------------------------------------------


def read_mask(path: str | Path, size: tuple[int, int]) -> np.ndarray:
    """Read a damage mask for a photo of ``size`` (width, height): bool (H, W), True = damaged.

    Non-zero pixels mark damage; when the mask has an alpha channel that is not fully opaque, the
    painted (non-transparent) parts of the alpha mark damage instead, soft edges included. Lossy files
    (JPEG, lossy WebP) are thresholded at half range instead of at zero, so compression noise around
    black is not taken for damage.
    """
    path = Path(path)
    mask = read_photo(path)
    if mask.size != tuple(size):
        (w, h), (pw, ph) = mask.size, size
        hint = " (rotated?)" if (w, h) == (ph, pw) else ""
        raise RestorerError(f"{path}: mask is {w}x{h} but the photo is {pw}x{ph}{hint}")
    top = np.iinfo(mask.pixels.dtype).max
    threshold = top // 2 if _is_lossy(mask) else 0
    if mask.alpha is not None and (mask.alpha < top).any():
        return mask.alpha > threshold
    return mask.pixels.max(axis=2) > threshold


def _is_lossy(photo: Photo) -> bool:
    if photo.format == "JPEG":
        return True
    if photo.format != "WEBP" or photo.source is None:
        return False
    # WebP is a RIFF file: lossy image data sits in a "VP8 " chunk, lossless in "VP8L".
    try:
        with open(photo.source, "rb") as f:
            f.seek(12)
            while len(header := f.read(8)) == 8:
                kind, length = header[:4], struct.unpack("<I", header[4:])[0]
                if kind in (b"VP8 ", b"VP8L"):
                    return kind == b"VP8 "
                f.seek(length + (length & 1), os.SEEK_CUR)  # RIFF chunks are padded to even length
    except OSError:
        pass
    return False


def write_mask(mask: np.ndarray, path: str | Path) -> Path:
    """Write a mask as an 8-bit grey PNG (255 = damaged), atomically."""
    path = Path(path)
    if mask.ndim != 2:
        raise ValueError(f"a mask is (H, W), got shape {mask.shape}")
    if path.suffix.lower() != ".png":
        raise RestorerError(f"masks are saved as PNG: use a .png file name, not {path.name}")
    if path.is_dir() or not path.parent.is_dir():
        raise RestorerError(f"cannot write {path}: {'it is a folder' if path.is_dir() else 'no such folder'}")
    encoded = imagecodecs.png_encode(np.where(mask, np.uint8(255), np.uint8(0)), level=6)  # tiny anyway
    return atomic_write_bytes(path, encoded, check_png(mask.shape[1], mask.shape[0]))
