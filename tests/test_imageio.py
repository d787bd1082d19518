"""The image file layer: formats, depths, layouts, metadata, bad input, masks and safe writes."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from imageio_fixtures import (
    HEIGHT,
    LAYOUTS,
    WIDTH,
    exif_bytes,
    exif_orientation,
    make_photo,
    random_array,
    srgb_icc,
)
from PIL import Image, ImageOps

from restorer.core import decoders, imageio
from restorer.core.errors import RestorerError
from restorer.core.imageio import (
    ImageWriteWarning,
    Photo,
    atomic_write,
    from_float,
    read_mask,
    read_photo,
    to_float,
    write_mask,
    write_photo,
)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --- round trips through our own writer -----------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_lossless_round_trip_is_bit_exact_with_metadata(tmp_path, suffix, dtype, layout):
    photo = make_photo(layout, dtype, seed=3)
    photo.exif = exif_bytes(1)[6:] if suffix == ".png" else None
    out = write_photo(photo, tmp_path / f"out{suffix}")
    back = read_photo(out)

    assert back.format == ("PNG" if suffix == ".png" else "TIFF")
    assert back.pixels.dtype == dtype and back.bit_depth == 8 * np.dtype(dtype).itemsize
    np.testing.assert_array_equal(back.pixels, photo.pixels)
    if photo.alpha is None:
        assert back.alpha is None
    else:
        np.testing.assert_array_equal(back.alpha, photo.alpha)
    assert back.icc_profile == srgb_icc()
    assert back.dpi == pytest.approx(photo.dpi, abs=0.02)
    assert back.source == out and back.size == (WIDTH, HEIGHT)
    if photo.exif:
        assert exif_orientation(back.exif) == 1


def test_png_written_is_readable_by_pillow_with_its_icc(tmp_path):
    photo = make_photo("rgb", np.uint8)
    out = write_photo(photo, tmp_path / "out.png")
    with Image.open(out) as im:
        assert im.info["icc_profile"] == srgb_icc()
        np.testing.assert_array_equal(np.asarray(im), photo.pixels)


def test_tiff_written_is_deflate_with_unassociated_alpha(tmp_path):
    out = write_photo(make_photo("rgba", np.uint16), tmp_path / "out.tiff")
    with tifffile.TiffFile(out) as tif:
        page = tif.pages.first
        assert page.compression == tifffile.COMPRESSION.ADOBE_DEFLATE
        assert page.extrasamples == (tifffile.EXTRASAMPLE.UNASSALPHA,)
        assert page.tags[34675].value == srgb_icc()


def test_jpeg_on_request_drops_alpha_and_depth_with_a_warning(tmp_path):
    photo = make_photo("rgba", np.uint16, seed=1)
    smooth = np.linspace(0, 65535, WIDTH, dtype=np.float64)[None, :, None] * np.ones((HEIGHT, 1, 3))
    photo = photo.with_pixels(smooth.astype(np.uint16))
    photo.exif = exif_bytes(1, make="Scanner")[6:]
    with pytest.warns(ImageWriteWarning, match="alpha or 16-bit depth"):
        out = write_photo(photo, tmp_path / "out.bin", format="jpg", quality=100)
    back = read_photo(out)
    assert back.format == "JPEG" and back.pixels.dtype == np.uint8 and back.alpha is None
    assert np.abs(back.pixels.astype(int) - (smooth / 257).round()).max() <= 3
    assert back.icc_profile == srgb_icc()
    exif = Image.Exif()
    exif.load(b"Exif\x00\x00" + back.exif)
    assert exif[0x010F] == "Scanner"


def test_grey_8bit_jpeg_gives_no_warning(tmp_path, recwarn):
    photo = make_photo("grey", np.uint8)
    back = read_photo(write_photo(photo, tmp_path / "g.jpeg"))
    assert back.is_grey and not [w for w in recwarn if issubclass(w.category, ImageWriteWarning)]


# --- files from other encoders --------------------------------------------------------------------


PILLOW_8BIT = [(f, m) for f in ("PNG", "TIFF") for m in ("L", "LA", "RGB", "RGBA")] + [
    ("WEBP", "RGB"),  # WebP has no grey modes
    ("WEBP", "RGBA"),
]


@pytest.mark.parametrize(("fmt", "mode"), PILLOW_8BIT)
def test_reads_pillow_8bit_files_exactly(tmp_path, fmt, mode):
    arr = random_array((HEIGHT, WIDTH, len(mode)), np.uint8, seed=7)
    im = Image.fromarray(arr[:, :, 0] if mode == "L" else arr, mode=mode)
    path = tmp_path / f"in.{fmt.lower()}"
    im.save(path, fmt, **({"lossless": True, "exact": True} if fmt == "WEBP" else {}))
    photo = read_photo(path)
    has_alpha = mode.endswith("A")
    np.testing.assert_array_equal(photo.pixels, arr[:, :, : len(mode) - has_alpha])
    if has_alpha:
        np.testing.assert_array_equal(photo.alpha, arr[:, :, -1])
    else:
        assert photo.alpha is None
    assert photo.format == fmt


def test_reads_pillow_16bit_grey_png(tmp_path):
    arr = random_array((HEIGHT, WIDTH), np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    photo = read_photo(tmp_path / "g16.png")
    assert photo.pixels.dtype == np.uint16
    np.testing.assert_array_equal(photo.pixels[:, :, 0], arr)


def test_reads_planar_big_endian_16bit_tiff(tmp_path):
    arr = random_array((HEIGHT, WIDTH, 3), np.uint16)
    tifffile.imwrite(
        tmp_path / "p.tif", np.moveaxis(arr, -1, 0), photometric="rgb", planarconfig="separate", byteorder=">"
    )
    photo = read_photo(tmp_path / "p.tif")
    assert photo.pixels.dtype == np.dtype("=u2")
    np.testing.assert_array_equal(photo.pixels, arr)


def palette_image(transparent_index: int | None = None) -> tuple[Image.Image, np.ndarray, np.ndarray]:
    index = random_array((HEIGHT, WIDTH), np.uint8) % 4
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 99, 199]], np.uint8)
    im = Image.fromarray(index, mode="P")
    im.putpalette(colours.ravel().tolist())
    if transparent_index is not None:
        im.info["transparency"] = transparent_index
    return im, index, colours


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_palette_becomes_rgb(tmp_path, fmt):
    im, index, colours = palette_image()
    im.save(tmp_path / "p.img", fmt)
    photo = read_photo(tmp_path / "p.img")
    assert photo.alpha is None and photo.pixels.dtype == np.uint8
    np.testing.assert_array_equal(photo.pixels, colours[index])


def test_palette_with_transparency_becomes_rgba(tmp_path):
    im, index, colours = palette_image(transparent_index=2)
    im.save(tmp_path / "p.png", transparency=2)
    photo = read_photo(tmp_path / "p.png")
    np.testing.assert_array_equal(photo.pixels, colours[index])
    np.testing.assert_array_equal(photo.alpha, np.where(index == 2, 0, 255))


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_one_bit_images_become_0_and_255(tmp_path, fmt):
    bits = random_array((HEIGHT, WIDTH), np.uint8) > 127
    Image.fromarray(bits).save(tmp_path / "b.img", fmt)
    photo = read_photo(tmp_path / "b.img")
    np.testing.assert_array_equal(photo.pixels[:, :, 0], np.where(bits, 255, 0))


def test_min_is_white_tiff_is_inverted(tmp_path):
    arr = random_array((HEIGHT, WIDTH), np.uint16)
    tifffile.imwrite(tmp_path / "w.tif", arr, photometric="miniswhite")
    np.testing.assert_array_equal(read_photo(tmp_path / "w.tif").pixels[:, :, 0], 65535 - arr)


def test_premultiplied_tiff_alpha_is_undone(tmp_path):
    colour = np.full((HEIGHT, WIDTH, 3), 200, np.uint8)
    alpha = np.full((HEIGHT, WIDTH), 128, np.uint8)
    alpha[0, 0] = 0
    premultiplied = np.rint(colour * (alpha[:, :, None] / 255)).astype(np.uint8)
    data = np.concatenate([premultiplied, alpha[:, :, None]], axis=2)
    tifffile.imwrite(tmp_path / "a.tif", data, photometric="rgb", extrasamples=["assocalpha"])
    photo = read_photo(tmp_path / "a.tif")
    np.testing.assert_array_equal(photo.alpha, alpha)
    assert np.abs(photo.pixels[alpha > 0].astype(int) - 200).max() <= 1


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "PNG"])
def test_icc_profile_read_from_pillow_files(tmp_path, fmt):
    Image.fromarray(random_array((HEIGHT, WIDTH, 3), np.uint8)).save(
        tmp_path / "c.img", fmt, icc_profile=srgb_icc()
    )
    assert read_photo(tmp_path / "c.img").icc_profile == srgb_icc()


def test_cmyk_jpeg_is_refused_like_a_cmyk_tiff(tmp_path):
    Image.new("CMYK", (WIDTH, HEIGHT), (0, 255, 0, 0)).save(tmp_path / "c.jpg", icc_profile=b"cmyk profile")
    with pytest.raises(RestorerError, match="is a CMYK JPEG; save it as RGB or greyscale first"):
        read_photo(tmp_path / "c.jpg")


# --- EXIF orientation ------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillow_exif_transpose(tmp_path, orientation):
    arr = random_array((HEIGHT, WIDTH, 3), np.uint8)
    Image.fromarray(arr).save(tmp_path / "o.png", exif=exif_bytes(orientation))
    with Image.open(tmp_path / "o.png") as im:
        expected = np.asarray(ImageOps.exif_transpose(im))
    photo = read_photo(tmp_path / "o.png")
    np.testing.assert_array_equal(photo.pixels, expected)
    assert exif_orientation(photo.exif) == 1


def test_jpeg_orientation_6_is_rotated_and_reset(tmp_path):
    arr = np.zeros((40, 64, 3), np.uint8)
    arr[:8, :8] = 255  # a bright top-left corner ends up top-right after a clockwise quarter turn
    Image.fromarray(arr).save(tmp_path / "o6.jpg", exif=exif_bytes(6), quality=95, dpi=(300, 150))
    photo = read_photo(tmp_path / "o6.jpg")
    assert photo.size == (40, 64)
    assert photo.pixels[:8, -8:].mean() > 200 and photo.pixels[:8, :8].mean() < 50
    assert exif_orientation(photo.exif) == 1
    assert photo.dpi == (150.0, 300.0)
    rewritten = read_photo(write_photo(photo, tmp_path / "again.png"))
    assert rewritten.size == (40, 64)  # orientation 1 in the output: viewers do not turn it again


def test_tiff_orientation_tag_is_applied(tmp_path):
    arr = random_array((HEIGHT, WIDTH, 3), np.uint16)
    tifffile.imwrite(tmp_path / "o.tif", arr, photometric="rgb", extratags=[(274, 3, 1, 8, True)])
    np.testing.assert_array_equal(read_photo(tmp_path / "o.tif").pixels, np.rot90(arr, 1))


def test_exif_thumbnail_link_is_removed():
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHII", 0x0112, 3, 1, 3) + struct.pack("<I", 26)
    ifd1 = struct.pack("<H", 0) + struct.pack("<I", 0)
    block, orientation = imageio._reset_exif_orientation(b"II*\x00" + struct.pack("<I", 8) + ifd0 + ifd1)
    assert orientation == 3
    assert struct.unpack_from("<H", block, 18)[0] == 1 and struct.unpack_from("<I", block, 22)[0] == 0


# --- bad input -------------------------------------------------------------------------------------


def assert_one_line_error(excinfo: pytest.ExceptionInfo, *fragments: str) -> None:
    message = str(excinfo.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(RestorerError) as e:
        read_photo(tmp_path / "empty.png")
    assert_one_line_error(e, "empty.png", "empty (0 bytes)")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(RestorerError) as e:
        read_photo(tmp_path / "nope.png")
    assert_one_line_error(e, "does not exist")
    with pytest.raises(RestorerError) as e:
        read_photo(tmp_path)
    assert_one_line_error(e, "is a folder")


def test_text_file_named_png(tmp_path):
    (tmp_path / "notes.png").write_text("shopping list: milk, eggs\n")
    with pytest.raises(RestorerError) as e:
        read_photo(tmp_path / "notes.png")
    assert_one_line_error(e, "notes.png", "not an image", "PNG, JPEG, WebP and TIFF")


def test_gif_is_named_as_such(tmp_path):
    Image.new("P", (4, 4)).save(tmp_path / "anim.gif")
    with pytest.raises(RestorerError) as e:
        read_photo(tmp_path / "anim.gif")
    assert_one_line_error(e, "is a GIF image")


def test_jpeg_named_png_is_read_by_content(tmp_path):
    Image.fromarray(random_array((HEIGHT, WIDTH, 3), np.uint8)).save(tmp_path / "liar.png", "JPEG")
    photo = read_photo(tmp_path / "liar.png")
    assert photo.format == "JPEG" and photo.size == (WIDTH, HEIGHT)


def encoded(fmt: str) -> bytes:
    buf = io.BytesIO()
    arr = random_array((64, 64, 3), np.uint8)
    if fmt == "TIFF":
        tifffile.imwrite(buf, arr, photometric="rgb", compression="zlib")
    else:
        Image.fromarray(arr).save(buf, fmt)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "TIFF"])
def test_truncated_files(tmp_path, fmt):
    data = encoded(fmt)
    (tmp_path / "cut.img").write_bytes(data[: len(data) // 2])
    with pytest.raises(RestorerError) as e:
        read_photo(tmp_path / "cut.img")
    assert_one_line_error(e, "cut.img")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "TIFF"])
def test_bomb_refused_from_header_before_decoding(tmp_path, monkeypatch, fmt):
    (tmp_path / "big.img").write_bytes(encoded(fmt))

    def must_not_decode(*args, **kwargs):
        raise AssertionError("decoded before the size check")

    monkeypatch.setattr(imagecodecs, "png_decode", must_not_decode)
    monkeypatch.setattr(tifffile.TiffPage, "asarray", must_not_decode)
    monkeypatch.setattr(decoders.JpegImagePlugin.JpegImageFile, "load", must_not_decode)
    monkeypatch.setattr(decoders.WebPImagePlugin.WebPImageFile, "load", must_not_decode)
    with pytest.raises(RestorerError) as e:
        read_photo(tmp_path / "big.img", max_pixels=64 * 64 - 1)
    assert_one_line_error(e, "64x64", "4,096 pixels", "limit of 4,095")


def test_png_bomb_with_huge_header(tmp_path):
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    (tmp_path / "bomb.png").write_bytes(decoders.PNG_SIGNATURE + chunk)
    with pytest.raises(RestorerError) as e:
        read_photo(tmp_path / "bomb.png")
    assert_one_line_error(e, "100000x100000", "decompression bomb")


def test_float_cmyk_and_raw_ycbcr_tiffs_are_explained(tmp_path):
    tifffile.imwrite(tmp_path / "f.tif", np.zeros((4, 4), np.float32))
    tifffile.imwrite(tmp_path / "k.tif", np.zeros((4, 4, 4), np.uint8), photometric="separated")
    Image.new("YCbCr", (4, 4)).save(tmp_path / "y.tif")
    with pytest.raises(RestorerError) as e:
        read_photo(tmp_path / "f.tif")
    assert_one_line_error(e, "32-bit float", "8- and 16-bit")
    with pytest.raises(RestorerError) as e:
        read_photo(tmp_path / "k.tif")
    assert_one_line_error(e, "CMYK")
    with pytest.raises(RestorerError) as e:
        read_photo(tmp_path / "y.tif")
    assert_one_line_error(e, "YCBCR TIFF")


@pytest.mark.parametrize(
    ("name", "fmt", "fragment"),
    [("out.bmp", None, "'.bmp'"), ("out", None, "no extension"), ("out.png", "gif", "'gif'")],
)
def test_unknown_output_format(tmp_path, name, fmt, fragment):
    with pytest.raises(RestorerError) as e:
        write_photo(make_photo("rgb", np.uint8), tmp_path / name, format=fmt)
    assert_one_line_error(e, fragment)
    assert list(tmp_path.iterdir()) == []


def test_missing_output_folder(tmp_path):
    with pytest.raises(RestorerError) as e:
        write_photo(make_photo("rgb", np.uint8), tmp_path / "no" / "out.png")
    assert_one_line_error(e, "does not exist")


# --- masks -----------------------------------------------------------------------------------------


def test_mask_size_mismatch_names_both_sizes(tmp_path):
    write_mask(np.zeros((480, 640), bool), tmp_path / "m.png")
    with pytest.raises(RestorerError) as e:
        read_mask(tmp_path / "m.png", (800, 600))
    assert_one_line_error(e, "mask is 640x480 but the photo is 800x600")
    with pytest.raises(RestorerError) as e:
        read_mask(tmp_path / "m.png", (480, 640))
    assert_one_line_error(e, "rotated")


def test_mask_round_trip_and_nonzero_rule(tmp_path):
    mask = random_array((HEIGHT, WIDTH), np.uint8) > 127
    write_mask(mask, tmp_path / "m.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png", (WIDTH, HEIGHT)), mask)
    Image.fromarray(mask.astype(np.uint8)).save(tmp_path / "ones.png")  # 0/1 masks from numpy code
    np.testing.assert_array_equal(read_mask(tmp_path / "ones.png", (WIDTH, HEIGHT)), mask)
    colour = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    colour[mask, 0] = 255  # damage painted in red
    Image.fromarray(colour).save(tmp_path / "red.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "red.png", (WIDTH, HEIGHT)), mask)


def test_mask_alpha_rule(tmp_path):
    marks = random_array((HEIGHT, WIDTH), np.uint8) > 127
    rgba = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    rgba[:, :, :3] = 255  # colour says "all damaged"; the alpha layer holds the real strokes
    rgba[:, :, 3] = np.where(marks, 255, 0)
    Image.fromarray(rgba).save(tmp_path / "layer.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "layer.png", (WIDTH, HEIGHT)), marks)
    rgba[:, :, 3] = 255  # fully opaque alpha carries no information: the pixels decide
    rgba[:, :, :3] = np.where(marks, 255, 0)[:, :, None]
    Image.fromarray(rgba).save(tmp_path / "opaque.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "opaque.png", (WIDTH, HEIGHT)), marks)


def test_jpeg_mask_ignores_compression_noise(tmp_path):
    mask = np.zeros((32, 48), bool)
    mask[8:20, 10:30] = True
    Image.fromarray(np.where(mask, 255, 0).astype(np.uint8)).save(tmp_path / "m.jpg", quality=60)
    np.testing.assert_array_equal(read_mask(tmp_path / "m.jpg", (48, 32)), mask)


def test_webp_mask_rule_follows_lossless_or_lossy(tmp_path):
    mask = np.zeros((32, 48), bool)
    mask[8:20, 10:30] = True
    rgb = np.repeat(mask.astype(np.uint8)[:, :, None], 3, axis=2)
    Image.fromarray(rgb).save(tmp_path / "ones.webp", lossless=True)  # 0/1 values: non-zero rule
    np.testing.assert_array_equal(read_mask(tmp_path / "ones.webp", (48, 32)), mask)
    Image.fromarray(rgb * 255).save(tmp_path / "lossy.webp", quality=50)
    np.testing.assert_array_equal(read_mask(tmp_path / "lossy.webp", (48, 32)), mask)


def test_mask_orientation_is_applied(tmp_path):
    mask = np.zeros((HEIGHT, WIDTH), bool)
    mask[0, 0] = True
    Image.fromarray(np.where(mask, 255, 0).astype(np.uint8)).save(tmp_path / "m.png", exif=exif_bytes(6))
    got = read_mask(tmp_path / "m.png", (HEIGHT, WIDTH))
    assert got.shape == (WIDTH, HEIGHT) and got[0, -1] and got.sum() == 1


def test_write_mask_wants_png_name(tmp_path):
    with pytest.raises(RestorerError) as e:
        write_mask(np.zeros((2, 2), bool), tmp_path / "m.jpg")
    assert_one_line_error(e, ".png")


# --- never destroying the original, atomic writes --------------------------------------------------


def test_source_is_protected_unless_overwrite(tmp_path):
    src = write_photo(make_photo("rgb", np.uint8, seed=1), tmp_path / "scan.png")
    original = src.read_bytes()
    photo = read_photo(src)
    changed = photo.with_pixels(255 - photo.pixels)
    with pytest.raises(RestorerError) as e:
        write_photo(changed, tmp_path / "." / "scan.png", overwrite=False)
    assert_one_line_error(e, "refusing to overwrite")
    assert src.read_bytes() == original
    write_photo(changed, src, overwrite=True)
    np.testing.assert_array_equal(read_photo(src).pixels, changed.pixels)


def test_protect_refuses_even_with_overwrite(tmp_path):
    src = write_photo(make_photo("grey", np.uint16), tmp_path / "orig.tif")
    os.link(src, tmp_path / "alias.tif")
    original = src.read_bytes()
    with pytest.raises(RestorerError):
        write_photo(make_photo("grey", np.uint16, seed=9), tmp_path / "alias.tif", protect=src)
    assert src.read_bytes() == original
    assert leftovers(tmp_path) == []


def test_failed_write_leaves_target_and_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"previous result")

    def broken_encoder(*args, **kwargs):
        raise RuntimeError("encoder failed")

    monkeypatch.setattr(imagecodecs, "png_encode", broken_encoder)
    with pytest.raises(RuntimeError):
        write_photo(make_photo("rgb", np.uint8), target)
    assert target.read_bytes() == b"previous result"
    assert leftovers(tmp_path) == []


def test_atomic_write_turns_os_errors_into_one_line(tmp_path):
    def disk_full(tmp: Path) -> None:
        tmp.write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(RestorerError) as e:
        atomic_write(tmp_path / "x.bin", disk_full)
    assert_one_line_error(e, "x.bin", "No space left on device")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_new_files_get_normal_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        out = atomic_write(tmp_path / "x.bin", lambda tmp: tmp.write_bytes(b"x"))
    finally:
        os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o644


# --- Photo and float conversions ---------------------------------------------------------------------


def test_with_pixels_keeps_metadata_and_matches_alpha_depth():
    photo = make_photo("rgba", np.uint16)
    photo.exif = b"II*\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    eight = photo.with_pixels(from_float(to_float(photo.pixels), np.uint8))
    assert eight.icc_profile == photo.icc_profile and eight.exif == photo.exif and eight.dpi == photo.dpi
    assert eight.alpha.dtype == np.uint8
    np.testing.assert_array_equal(eight.alpha, ((photo.alpha.astype(np.uint32) + 128) // 257))
    assert photo.alpha.dtype == np.uint16  # the original is untouched


def test_photo_rejects_bad_arrays():
    with pytest.raises(ValueError):
        Photo(np.zeros((4, 4, 2), np.uint8), None, None, None, "PNG")
    with pytest.raises(ValueError):
        Photo(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5), np.uint8), None, None, "PNG")
    with pytest.raises(TypeError):
        to_float(np.zeros(3, np.int32))


@given(arrays(st.sampled_from([np.uint8, np.uint16]), st.integers(1, 64)))
def test_float_round_trip_is_exact(x):
    y = to_float(x)
    assert y.dtype == np.float32 and y.min() >= 0 and y.max() <= 1
    np.testing.assert_array_equal(from_float(y, x.dtype), x)


@given(
    arrays(np.float32, st.integers(1, 64), elements=st.floats(-2, 2, width=32)),
    st.sampled_from([np.uint8, np.uint16]),
)
def test_from_float_rounds_and_clips(x, dtype):
    top = np.iinfo(dtype).max
    expected = np.floor(np.clip(x.astype(np.float64), 0, 1) * top + 0.5)
    got = from_float(x, dtype)
    assert got.dtype == dtype
    # float32 scaling may land a half-way value on either side: never further than one level
    assert np.abs(got.astype(np.int64) - expected).max() <= 1


def test_from_float_nan_is_zero():
    np.testing.assert_array_equal(from_float(np.array([np.nan, 0.5, 1.0]), np.uint8), [0, 128, 255])
