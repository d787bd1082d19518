"""Metadata from input to output, the record in the output's XMP, and readers that agree.

Inputs are made with Pillow and outputs are read back with Pillow and tifffile, not with Restorer's
own reader, so a field counts as kept only when other software sees it.
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path
from xml.dom import minidom

import numpy as np
import pytest
import tifffile
from gui_support import fake_result
from imageio_fixtures import srgb_icc
from PIL import Image, ImageCms, IptcImagePlugin, PngImagePlugin, TiffImagePlugin

from restorer.cli import main
from restorer.core.errors import RestorerError
from restorer.core.imageio import JPEG_XMP_LIMIT, ImageReadWarning, read_photo
from restorer.core.record import FORMAT
from restorer.core.xmp import XmpWarning, merge_record, read_records
from restorer.editing.document import Document
from restorer.editing.export import ExportRequest, snapshot, write_export

WIDTH, HEIGHT = 40, 30  # as stored; orientation 6 shows them as 30 x 40
TITLE = (
    '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title><rdf:Alt>'
    '<rdf:li xml:lang="x-default">Picnic \u00e9</rdf:li></rdf:Alt></dc:title></rdf:Description>'
)
XMP = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    f'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">{TITLE}</rdf:RDF></x:xmpmeta>'
    '<?xpacket end="w"?>'
).encode()
IPTC = b"\x1c\x02\x05\x00\x06Picnic\x1c\x02\x50\x00\x09Ann Smith"  # 2:05 object name, 2:80 by-line
ARTIST = "Ann Zo\u00eb"  # non-ASCII, stored as UTF-8 as most software does
TAKEN = "1950:07:04 12:00:00"
LENS = "Zei\u00df Tessar"


def pixels() -> np.ndarray:
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    return np.stack([xx * 6, yy * 8, (xx + yy) * 3], axis=2).astype(np.uint8)


def camera_exif(artist: bool = True) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = 6
    if artist:
        exif[315] = ARTIST.encode("utf-8")
    exif[33432] = "(c) 1950 Ann"
    exif[270] = "A picnic"
    exif.get_ifd(0x8769)[0x9003] = TAKEN
    exif.get_ifd(0x8769)[0xA434] = LENS.encode("utf-8") + b"\x00"  # LensModel, made ASCII by as_ascii
    exif.get_ifd(0x8825)[1] = "N"  # GPSLatitudeRef
    return exif


def as_ascii(data: bytes) -> bytes:
    """Pillow writes the bytes of a tag it has no type for as BYTE: retype LensModel to ASCII, so it
    holds UTF-8 text the way camera software writes it (and Pillow reads it back as Latin-1 text)."""
    for order in "<>":
        byte, ascii = struct.pack(order + "HH", 0xA434, 1), struct.pack(order + "HH", 0xA434, 2)
        if data.count(byte) == 1:
            return data.replace(byte, ascii)
    raise AssertionError("no LensModel entry to retype")


def make_tiff(path: Path) -> Path:
    info = TiffImagePlugin.ImageFileDirectory_v2()
    exif = camera_exif()
    for tag in (0x0112, 315, 33432, 270):
        info[tag] = exif[tag]
    info[0x8769] = {0x9003: TAKEN, 0xA434: LENS.encode("utf-8") + b"\x00"}
    info[0x8825] = {1: "N"}
    info[700] = XMP
    info[33723] = IPTC
    info.tagtype[33723] = 7
    Image.fromarray(pixels()).save(path, tiffinfo=info, icc_profile=srgb_icc())
    path.write_bytes(as_ascii(path.read_bytes()))
    return path


def make_jpeg(path: Path) -> Path:
    Image.fromarray(pixels()).save(
        path, exif=as_ascii(camera_exif().tobytes()), xmp=XMP, icc_profile=srgb_icc(), comment="a comment"
    )
    # Pillow writes no IPTC: an APP13 Photoshop segment, built by hand, goes after APP0.
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(IPTC)) + IPTC + b"\x00" * (len(IPTC) & 1)
    body = b"Photoshop 3.0\x00" + resource
    data = path.read_bytes()
    app0_end = 4 + struct.unpack(">H", data[4:6])[0]
    path.write_bytes(
        data[:app0_end] + b"\xff\xed" + struct.pack(">H", len(body) + 2) + body + data[app0_end:]
    )
    return path


def make_png(path: Path) -> Path:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Ann Smith")
    info.add_itxt("Description", "Pique-nique au soleil \u2600", lang="fr", tkey="Beschreibung")
    info.add_text("Comment", "scanned 1998", zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode("utf-8"))
    info.add(b"sRGB", b"\x00")
    info.add(b"gAMA", struct.pack(">I", 45455))
    info.add(b"cHRM", struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000))
    Image.fromarray(pixels()).save(path, pnginfo=info, exif=as_ascii(camera_exif(artist=False).tobytes()))
    return path


MAKERS = {".png": make_png, ".tif": make_tiff, ".jpg": make_jpeg}


def seen(path: Path) -> dict:
    """What Pillow (another program) finds in ``path``."""
    with Image.open(path) as im:
        im.load()
        exif = im.getexif()
        if im.format == "PNG":
            xmp = im.info.get("XML:com.adobe.xmp")
            xmp = xmp.encode("utf-8") if xmp else None
        else:
            xmp = im.tag_v2.get(700) if im.format == "TIFF" else im.info.get("xmp")
        text = {
            k: (str(v), getattr(v, "lang", None), getattr(v, "tkey", None))
            for k, v in getattr(im, "text", {}).items()
            if k != "XML:com.adobe.xmp"
        }
        return {
            "size": im.size,
            "orientation": exif.get(0x0112, 1),
            "artist": exif.get(315),
            "copyright": exif.get(33432),
            "description": exif.get(270),
            "taken": exif.get_ifd(0x8769).get(0x9003),
            "lens": exif.get_ifd(0x8769).get(0xA434),
            "gps": exif.get_ifd(0x8825).get(1),
            "icc": im.info.get("icc_profile"),
            "xmp": xmp,
            "iptc": IptcImagePlugin.getiptcinfo(im) if im.format != "PNG" else None,
            "text": text,
            "comment": im.info.get("comment"),
            "colour": tuple(im.info.get(k) for k in ("srgb", "gamma", "chromaticity")),
        }


def title(xmp: bytes) -> str:
    """The packet's dc:title element, as XML."""
    (element,) = minidom.parseString(xmp).getElementsByTagNameNS("http://purl.org/dc/elements/1.1/", "title")
    return element.toxml()


def restore(tmp_path: Path, source: Path, suffix: str, name: str = "out") -> Path:
    with warnings.catch_warnings():  # the command line below reports them; here they are noise
        warnings.simplefilter("ignore")
        photo = read_photo(source)
    mask = np.zeros(photo.pixels.shape[:2], bool)
    mask[15:21, 10:16] = True
    mask_path = tmp_path / f"{source.stem}-mask.png"
    if not mask_path.exists():
        Image.fromarray(np.where(mask, 255, 0).astype(np.uint8)).save(mask_path)
    out = tmp_path / f"{name}{suffix}"
    lossy = ["--lossy"] if suffix == ".jpg" else []
    args = ["--mask", str(mask_path), "-o", str(out), "--method", "diffusion", "-q", *lossy]
    code = main(["inpaint", str(source), *args])
    assert code == 0
    return out


# --- the round trip -------------------------------------------------------------------------------


@pytest.mark.parametrize("out_suffix", [".png", ".tif", ".jpg"])
@pytest.mark.parametrize("in_suffix", [".png", ".tif", ".jpg"])
def test_metadata_survives_a_restore(tmp_path, in_suffix, out_suffix):
    source = MAKERS[in_suffix](tmp_path / f"in{in_suffix}")
    before, after = seen(source), seen(restore(tmp_path, source, out_suffix))

    assert after["size"] == (HEIGHT, WIDTH) and after["orientation"] == 1  # turned once, and said so
    for field in ("copyright", "description", "taken", "lens", "gps"):
        assert after[field] == before[field], field
    assert before["lens"] == LENS.encode("utf-8").decode("latin-1")  # Pillow's view of the UTF-8 bytes
    assert TITLE.encode("utf-8") in after["xmp"]  # the original packet's content, as it was

    if in_suffix == ".png":
        assert before["artist"] is None  # PNG keeps its author as text, not EXIF
        if out_suffix == ".png":
            assert after["text"] == before["text"] and after["colour"] == before["colour"]
            assert after["artist"] is None
        else:  # the PNG keywords fill the EXIF tags; the sRGB chunk becomes an sRGB profile
            assert after["artist"] == "Ann Smith"
            profile = ImageCms.ImageCmsProfile(io.BytesIO(after["icc"]))
            assert "sRGB" in ImageCms.getProfileDescription(profile)
        if out_suffix == ".jpg":
            assert after["comment"] == b"scanned 1998"
        return

    assert after["artist"] == before["artist"] == ARTIST.encode("utf-8").decode("latin-1")  # same bytes
    assert after["icc"] == before["icc"] == srgb_icc()
    if out_suffix == ".png":
        assert after["text"]["Author"][0] == ARTIST  # the EXIF Artist, also as a PNG keyword
        assert after["text"]["Copyright"][0] == "(c) 1950 Ann"
    else:
        assert after["iptc"] == before["iptc"] == {(2, 5): b"Picnic", (2, 80): b"Ann Smith"}
    if in_suffix == ".jpg":
        assert before["comment"] == b"a comment"
        if out_suffix == ".jpg":
            assert after["comment"] == b"a comment"
        elif out_suffix == ".png":
            assert after["text"]["Comment"][0] == "a comment"


def test_png_text_chunks_keep_their_kind_language_and_compression(tmp_path):
    source = make_png(tmp_path / "in.png")
    out = read_photo(restore(tmp_path, source, ".png"))
    assert out.text == read_photo(source).text
    kinds = {e.keyword: (e.language, e.translated, e.compressed) for e in out.text}
    assert kinds == {
        "Author": ("", "", False),
        "Description": ("fr", "Beschreibung", False),
        "Comment": ("", "", True),
    }
    assert set(out.colour_chunks) == {b"sRGB", b"gAMA", b"cHRM"}


def test_tiff_exif_sub_ifd_is_valid_for_tifffile(tmp_path):
    out = restore(tmp_path, make_jpeg(tmp_path / "in.jpg"), ".tif")
    with tifffile.TiffFile(out) as tif:
        tags = tif.pages.first.tags
        assert tags["ExifTag"].value["DateTimeOriginal"] == TAKEN
        assert tags["GPSTag"].value["GPSLatitudeRef"] == "N"
        assert tags["Artist"].value == ARTIST  # UTF-8 bytes, as they came
        assert tags[33723].value == IPTC and tags[700].value.startswith(b"<?xpacket")


@pytest.mark.parametrize("out_suffix", [".png", ".tif"])
def test_pixels_outside_the_mask_are_untouched(tmp_path, out_suffix):
    source = make_tiff(tmp_path / "in.tif")
    before, after = read_photo(source), read_photo(restore(tmp_path, source, out_suffix))
    outside = np.ones(before.pixels.shape[:2], bool)
    outside[15:21, 10:16] = False
    np.testing.assert_array_equal(after.pixels[outside], before.pixels[outside])


# --- the record in the XMP -------------------------------------------------------------------------


def test_record_is_in_the_output_xmp(tmp_path):
    out = restore(tmp_path, make_png(tmp_path / "in.png"), ".png")
    xmp = read_photo(out).xmp
    (record,) = read_records(xmp)
    assert record["format"] == FORMAT
    assert [r["method"] for r in record["restorations"][0]["regions"]] == ["diffusion"]
    assert record["files"]["photo"] == "in.png" and record["photo"]["source"] == "in.png"  # no folders
    assert str(tmp_path).encode() not in xmp
    assert b"<restorer:Regions>1</restorer:Regions>" in xmp and b"<rdf:li>diffusion</rdf:li>" in xmp


def test_restoring_twice_keeps_the_first_record_as_history(tmp_path):
    first = restore(tmp_path, make_tiff(tmp_path / "in.tif"), ".tif", "first")
    second = restore(tmp_path, first, ".tif", "second")
    xmp = read_photo(second).xmp
    records = read_records(xmp)
    assert [r["files"]["photo"] for r in records] == ["in.tif", "first.tif"]
    assert xmp.count(b'xmlns:restorer="') == 1  # one description: the old one was folded in
    # re-serialised to move the old record, so compared as XML rather than byte for byte
    titles = [title(packet) for packet in (XMP, xmp)]
    assert titles[0] == titles[1] and "Picnic \u00e9" in titles[0]


def test_a_photo_without_xmp_gets_a_packet(tmp_path):
    record = {"format": FORMAT, "restorations": [{"regions": [{"method": "patch"}], "hole_pixels": 9}]}
    packet = merge_record(None, record)
    assert packet.startswith(b"<?xpacket begin=") and packet.rstrip().endswith(b'<?xpacket end="w"?>')
    assert read_records(packet) == [record]


def test_malformed_xmp_is_kept_unchanged_with_a_warning():
    with pytest.warns(XmpWarning, match="not valid XML"):
        assert merge_record(b"<x:xmpmeta", {"restorations": []}) == b"<x:xmpmeta"


def test_a_record_too_large_for_jpeg_leaves_the_plain_fields(tmp_path):
    record = {"format": FORMAT, "restorations": [{"regions": [{"method": "tv"}], "warnings": ["w" * 80_000]}]}
    packet = merge_record(XMP, record, limit=JPEG_XMP_LIMIT)
    assert len(packet) <= JPEG_XMP_LIMIT and TITLE.encode("utf-8") in packet
    assert b"<restorer:RecordOmitted>" in packet and read_records(packet) == []
    assert len(merge_record(XMP, record)) > JPEG_XMP_LIMIT  # PNG and TIFF take it whole


def test_gui_export_writes_the_record_into_xmp_without_a_record_file(tmp_path):
    source = make_png(tmp_path / "scan.png")
    doc = Document(read_photo(source), source)
    doc.fill_rect((5, 5), (20, 20))
    doc.show_result(doc.pending_from_result(fake_result(doc.photo, (5, 5, 15, 15))))
    request = ExportRequest(tmp_path / "out.tif", "TIFF")
    photo, _mask, record = snapshot(doc, request)
    assert record is None  # no record file was asked for
    write_export(request, photo, None, None)
    assert not request.record_path.exists()
    xmp = seen(request.path)["xmp"]
    (embedded,) = read_records(xmp)
    assert embedded["files"]["output"] == "out.tif" and len(embedded["restorations"]) == 1
    assert TITLE.encode("utf-8") in xmp


# --- readers that agree ---------------------------------------------------------------------------


def _image(tmp_path: Path, fmt: str, **options) -> Path:
    path = tmp_path / f"big-{fmt.lower()}-{len(options)}.img"
    Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(path, fmt, **options)
    return path


WEBPS = [
    {"lossless": True},
    {"quality": 80},
    {"icc_profile": b"x" * 200, "lossless": True},
]  # VP8L, VP8, VP8X


@pytest.mark.parametrize("webp", WEBPS)
def test_the_pixel_limit_is_one_message_for_webp_and_jpeg(tmp_path, monkeypatch, webp):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow's own check would come first
    messages = []
    for path in (_image(tmp_path, "JPEG"), _image(tmp_path, "WEBP", **webp)):
        with pytest.raises(RestorerError) as e:
            read_photo(path, max_pixels=4095)
        messages.append(str(e.value).replace(str(path), "PATH"))
    assert messages[0] == messages[1]
    assert messages[0].startswith("PATH is too large to open: 64x64 = 4,096 pixels, over the limit of 4,095")


@pytest.mark.parametrize("webp", WEBPS)
def test_pillows_own_lower_limit_does_not_refuse_a_webp(tmp_path, monkeypatch, webp):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow refuses over 2000 by itself
    for path in (_image(tmp_path, "JPEG"), _image(tmp_path, "WEBP", **webp)):
        assert read_photo(path).size == (64, 64)
    assert Image.MAX_IMAGE_PIXELS == 1000  # lifted only while the WebP was opened


def test_multi_page_tiff_gives_its_first_page_and_says_so(tmp_path):
    pages = np.stack([pixels() + i for i in range(3)])
    tifffile.imwrite(tmp_path / "pages.tif", pages, photometric="rgb")
    with pytest.warns(ImageReadWarning, match="only the first of 3 pages is restored"):
        photo = read_photo(tmp_path / "pages.tif")
    np.testing.assert_array_equal(photo.pixels, pages[0])


def test_a_tiff_thumbnail_is_not_a_page(tmp_path, recwarn):
    with tifffile.TiffWriter(tmp_path / "thumb.tif") as tif:
        tif.write(pixels(), photometric="rgb")
        tif.write(pixels()[::4, ::4], photometric="rgb", subfiletype=1)  # reduced resolution
    read_photo(tmp_path / "thumb.tif")
    assert not [w for w in recwarn if issubclass(w.category, ImageReadWarning)]


@pytest.mark.parametrize(
    ("fmt", "options"), [("PNG", {}), ("PNG", {"default_image": True}), ("WEBP", {"lossless": True})]
)
def test_animations_give_their_first_frame_and_say_so(tmp_path, fmt, options):
    frames = [Image.fromarray(pixels() + 40 * i) for i in range(3)]
    path = tmp_path / f"anim.{fmt.lower()}"
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:], **options)
    with pytest.warns(ImageReadWarning, match="only the first of 3 frames is restored"):
        photo = read_photo(path)
    np.testing.assert_array_equal(photo.pixels, pixels())


def test_the_command_line_prints_the_page_warning(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "pages.tif", np.stack([pixels()] * 2), photometric="rgb")
    restore(tmp_path, tmp_path / "pages.tif", ".tif")
    assert "restorer: warning: " in (err := capsys.readouterr().err)
    assert "only the first of 2 pages is restored" in err


def test_cmyk_jpeg_is_refused_with_a_clear_message(tmp_path, capsys):
    Image.new("CMYK", (WIDTH, HEIGHT), (0, 255, 0, 0)).save(tmp_path / "c.jpg", icc_profile=b"cmyk profile")
    Image.new("L", (WIDTH, HEIGHT), 255).save(tmp_path / "mask.png")
    out = tmp_path / "out.png"
    code = main(["inpaint", str(tmp_path / "c.jpg"), "--mask", str(tmp_path / "mask.png"), "-o", str(out)])
    assert code == 1 and not out.exists()
    assert "is a CMYK JPEG; save it as RGB or greyscale first" in capsys.readouterr().err
