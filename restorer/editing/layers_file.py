"""OpenRaster (``.ora``) layered files: the untouched scan, the fills and the mask as separate layers (no Qt).

An OpenRaster file is a zip holding ``mimetype`` (first, uncompressed, so the type can be sniffed
from the file's first bytes), ``stack.xml`` naming the layers top first, one PNG per layer, the
flattened ``mergedimage.png`` and an 8-bit ``Thumbnails/thumbnail.png``. GIMP, Krita and MyPaint
open it. Layers are PNGs encoded by libpng (``imagecodecs``), which keeps 16-bit depth exactly:
Pillow cannot hold 16-bit colour. The PNGs are stored, not deflated again (they are compressed).

In this module layers are listed bottom first, the order they are composed in.
"""

from __future__ import annotations

import io
import struct
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import imagecodecs
import numpy as np
from PIL import Image

from restorer.core.errors import RestorerError
from restorer.core.files import atomic_write_stream
from restorer.core.pixels import to_8bit

MIMETYPE = b"image/openraster"
THUMBNAIL_SIZE = 256  # the spec's limit for the longer side
MAX_PIXELS = 400_000_000  # per layer, as for photos: stack.xml is checked before any PNG is decoded


@dataclass
class Layer:
    """One layer: (H, W, C) uint8 or uint16, C = 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA (straight alpha)."""

    name: str
    pixels: np.ndarray
    visible: bool = True
    opacity: float = 1.0
    x: int = 0
    y: int = 0

    def __post_init__(self) -> None:
        p = self.pixels
        if p.ndim == 2:
            self.pixels = p = p[:, :, None]
        if p.ndim != 3 or p.shape[2] not in (1, 2, 3, 4) or p.dtype not in (np.uint8, np.uint16):
            raise ValueError(f"a layer is uint8/uint16 (H, W, 1-4), got {p.dtype} {p.shape}")

    @property
    def has_alpha(self) -> bool:
        return self.pixels.shape[2] in (2, 4)


@dataclass
class OraImage:
    width: int
    height: int
    layers: list[Layer]  # bottom first
    dpi: tuple[float, float] | None = None
    merged: np.ndarray | None = field(default=None, repr=False)  # mergedimage.png, as read


# --- writing ---------------------------------------------------------------------------------------


def write_ora(
    path: str | Path,
    layers: list[Layer],
    size: tuple[int, int],
    *,
    merged: np.ndarray | None = None,
    dpi: tuple[float, float] | None = None,
) -> Path:
    """Write ``layers`` (bottom first) on a ``size`` (width, height) canvas, atomically and checked.

    ``merged`` is the flat picture (the restored photo); without it the visible layers are composed.
    """
    path = Path(path)
    if not layers:
        raise ValueError("an OpenRaster file needs at least one layer")
    if path.is_dir() or not path.parent.is_dir():
        reason = "it is a folder" if path.is_dir() else f"folder {path.parent} does not exist"
        raise RestorerError(f"cannot write {path}: {reason}")
    flat = merged if merged is not None else composite(layers, size)
    stack = _stack_xml(layers, size, dpi)
    names = [f"data/layer{i}.png" for i in range(len(layers))]

    def write(f: BinaryIO) -> None:
        with zipfile.ZipFile(f, "w") as archive:
            # The first entry, uncompressed and without extra fields: readers sniff bytes 38-54.
            archive.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, compress_type=zipfile.ZIP_STORED)
            archive.writestr("stack.xml", stack, compress_type=zipfile.ZIP_DEFLATED)
            for name, layer in zip(reversed(names), reversed(layers), strict=True):
                archive.writestr(name, _png(layer.pixels), compress_type=zipfile.ZIP_STORED)
            archive.writestr("mergedimage.png", _png(flat), compress_type=zipfile.ZIP_STORED)
            archive.writestr("Thumbnails/thumbnail.png", _thumbnail(flat), compress_type=zipfile.ZIP_STORED)

    return atomic_write_stream(path, write, _check_ora)


def _png(pixels: np.ndarray) -> bytes:
    pixels = np.ascontiguousarray(pixels[:, :, 0] if pixels.ndim == 3 and pixels.shape[2] == 1 else pixels)
    return imagecodecs.png_encode(pixels, level=6)


def _thumbnail(flat: np.ndarray) -> bytes:
    image = Image.fromarray(_rgba8(flat), "RGBA")
    image.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _stack_xml(layers: list[Layer], size: tuple[int, int], dpi: tuple[float, float] | None) -> bytes:
    image = ET.Element("image", version="0.0.5", w=str(size[0]), h=str(size[1]))
    if dpi is not None:
        image.set("xres", f"{dpi[0]:g}")
        image.set("yres", f"{dpi[1]:g}")
    stack = ET.SubElement(image, "stack")
    for i in reversed(range(len(layers))):  # stack.xml lists the top layer first
        layer = layers[i]
        ET.SubElement(
            stack,
            "layer",
            name=layer.name,
            src=f"data/layer{i}.png",
            x=str(layer.x),
            y=str(layer.y),
            opacity=f"{layer.opacity:g}",
            visibility="visible" if layer.visible else "hidden",
        )
    return ET.tostring(image, encoding="utf-8", xml_declaration=True)


def _check_ora(tmp: Path) -> None:
    """The read-back check: mimetype first and stored, every member's CRC, every layer listed present."""
    with zipfile.ZipFile(tmp) as archive:
        first = archive.infolist()[0]
        if first.filename != "mimetype" or first.compress_type != zipfile.ZIP_STORED:
            raise ValueError("mimetype is not the first, uncompressed entry")
        if archive.read("mimetype") != MIMETYPE:
            raise ValueError("wrong mimetype")
        bad = archive.testzip()
        if bad is not None:
            raise ValueError(f"{bad} does not match its checksum")
        members = set(archive.namelist())
        for layer in ET.fromstring(archive.read("stack.xml")).iter("layer"):
            if layer.get("src") not in members:
                raise ValueError(f"layer {layer.get('src')} is missing")


# --- composing -------------------------------------------------------------------------------------


def _rgba_float(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 4) float32 in [0, 1], straight alpha."""
    top = float(np.iinfo(pixels.dtype).max)
    p = pixels.astype(np.float32) / top
    c = p.shape[2]
    colour = p[:, :, :1].repeat(3, axis=2) if c in (1, 2) else p[:, :, :3]
    alpha = p[:, :, -1:] if c in (2, 4) else np.ones_like(p[:, :, :1])
    return np.concatenate([colour, alpha], axis=2)


def _rgba8(pixels: np.ndarray) -> np.ndarray:
    p = to_8bit(pixels)
    c = p.shape[2] if p.ndim == 3 else 1
    p = p.reshape(p.shape[0], p.shape[1], c)
    colour = p[:, :, :1].repeat(3, axis=2) if c in (1, 2) else p[:, :, :3]
    alpha = p[:, :, -1:] if c in (2, 4) else np.full_like(p[:, :, :1], 255)
    return np.ascontiguousarray(np.concatenate([colour, alpha], axis=2))


def composite(layers: list[Layer], size: tuple[int, int]) -> np.ndarray:
    """The visible layers composed with "source over", as RGBA in the bottom layer's dtype."""
    width, height = size
    dtype = layers[0].pixels.dtype
    out = np.zeros((height, width, 4), np.float32)
    for layer in layers:
        if not layer.visible:
            continue
        src = _rgba_float(layer.pixels)
        area = out[layer.y : layer.y + src.shape[0], layer.x : layer.x + src.shape[1]]
        src = src[: area.shape[0], : area.shape[1]]
        a = src[:, :, 3:] * layer.opacity
        below = area[:, :, 3:] * (1 - a)
        alpha = a + below
        colour = src[:, :, :3] * a + area[:, :, :3] * below
        area[:, :, :3] = np.divide(colour, alpha, out=np.zeros_like(colour), where=alpha > 0)
        area[:, :, 3:] = alpha
    top = np.iinfo(dtype).max
    return np.rint(np.clip(out, 0, 1) * top).astype(dtype)


# --- reading ---------------------------------------------------------------------------------------


def read_ora(path: str | Path) -> OraImage:
    """Read an OpenRaster file's top-level layers (bottom first), exactly as stored."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            if archive.read("mimetype").strip() != MIMETYPE:
                raise RestorerError(f"{path} is not an OpenRaster file (wrong mimetype)")
            root = ET.fromstring(archive.read("stack.xml"))
            width, height = int(root.get("w", "0")), int(root.get("h", "0"))
            if not (width > 0 and height > 0 and width * height <= MAX_PIXELS):
                raise RestorerError(f"{path}: the canvas is {width}x{height}, too large or empty")
            layers = [_read_layer(archive, element) for element in root.iter("layer")]
            layers.reverse()
            merged = (
                _decode(archive.read("mergedimage.png")) if "mergedimage.png" in archive.namelist() else None
            )
    except RestorerError:
        raise
    except FileNotFoundError as e:
        raise RestorerError(f"{path} does not exist") from e
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, ET.ParseError) as e:
        raise RestorerError(f"cannot read {path}: damaged OpenRaster file ({e})") from e
    xres, yres = root.get("xres"), root.get("yres")
    dpi = (float(xres), float(yres)) if xres and yres else None
    return OraImage(width, height, layers, dpi, merged)


def _read_layer(archive: zipfile.ZipFile, element: ET.Element) -> Layer:
    return Layer(
        name=element.get("name", ""),
        pixels=_decode(archive.read(element.get("src", ""))),
        visible=element.get("visibility", "visible") != "hidden",
        opacity=float(element.get("opacity", "1")),
        x=int(element.get("x", "0")),
        y=int(element.get("y", "0")),
    )


def _decode(data: bytes) -> np.ndarray:
    # The size from the PNG header first: a small zip member can inflate to a huge image.
    if data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        if width * height > MAX_PIXELS:
            raise RestorerError(f"a layer of {width}x{height} pixels is too large")
    pixels = imagecodecs.png_decode(data)
    return pixels[:, :, None] if pixels.ndim == 2 else pixels
