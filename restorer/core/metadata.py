"""Photo metadata that travels from the input file to the restored one.

What is carried: EXIF (with its EXIF and GPS sub-IFDs), XMP, IPTC-IIM, the descriptive TIFF tags
(ImageDescription, Artist, Copyright, DateTime, Software, Make, Model, ... and the Windows XP* tags),
PNG text chunks (tEXt, zTXt, iTXt), the PNG colour chunks (sRGB, gAMA, cHRM, cICP) and JPEG comments.
Each writer stores what its format can hold; across formats the descriptive tags and the PNG
keywords Description, Author, Copyright, Software and Creation Time fill each other's gaps, and an
sRGB chunk becomes an sRGB ICC profile in JPEG and TIFF.

Pillow does the work wherever it can: ``TiffImagePlugin.ImageFileDirectory_v2`` reads a TIFF's
first IFD and its sub-IFDs (tags only, no pixels) and parses and serialises EXIF blocks, each tag
keeping its stored type; the JPEG reader and writer handle EXIF, XMP, ICC and comments. Three
parts are done here because Pillow cannot serve them:

* PNG chunks. PNG pixels are decoded by libpng (16-bit depth, which Pillow cannot hold), and the
  chunks are already walked once for iCCP/pHYs/eXIf. Pillow's PNG reader would parse the file again,
  drops text chunks over 1 MB (large XMP packets are), and sees chunks after IDAT only after decoding
  every pixel. The three text-chunk layouts are a few lines each.
* TIFF sub-IFDs. tifffile writes the pixels (16-bit, alpha, predictor) but refuses the EXIF and GPS
  pointer tags (34665, 34853). They are written as placeholders one code lower (which sort to the same
  place), then renamed and pointed at sub-IFDs that Pillow serialises after the image.
* IPTC in JPEG. Pillow's JPEG writer has no APP13 option, so the Photoshop segment holding the IPTC
  record is spliced in after the other APPn segments.

EXIF maker notes are copied as they are; where an EXIF block is rebuilt (into TIFF, or to add a
PNG's keywords) the offsets some maker notes hold can go stale. IPTC has no place in PNG and is not
written there; gAMA/cHRM without sRGB have no equivalent in JPEG or TIFF; JPEG's extended
(multi-segment) XMP is not read.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from PIL import TiffImagePlugin

EXIF_IFD, GPS_IFD, INTEROP_IFD = 0x8769, 0x8825, 0xA005
SUB_IFDS = (EXIF_IFD, GPS_IFD)
XMP_TAG, IPTC_TAG = 700, 33723
XMP_KEYWORD = "XML:com.adobe.xmp"  # the PNG iTXt keyword of an XMP packet
COLOUR_CHUNKS = (b"sRGB", b"gAMA", b"cHRM", b"cICP")
TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
DATETIME_TAG = 306

# Textual IFD0 tags worth keeping, and the PNG keyword each matches (None: PNG has no such keyword).
DESCRIPTIVE_TAGS: dict[int, str | None] = {
    269: None,  # DocumentName
    270: "Description",  # ImageDescription
    271: None,  # Make
    272: None,  # Model
    285: None,  # PageName
    305: "Software",
    306: "Creation Time",  # DateTime
    315: "Author",  # Artist
    316: None,  # HostComputer
    33432: "Copyright",
}
XP_TAGS = range(0x9C9B, 0x9CA0)  # XPTitle, XPComment, XPAuthor, XPKeywords, XPSubject (UTF-16 bytes)
_EXIF_DATE = re.compile(r"(\d{4}):(\d\d):(\d\d) (\d\d):(\d\d):(\d\d)")
_ISO_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)")


@dataclass(frozen=True)
class TextEntry:
    """One PNG text chunk (or a JPEG comment, keyword "Comment")."""

    keyword: str
    text: str
    language: str = ""  # iTXt only
    translated: str = ""  # iTXt only: the keyword in that language
    compressed: bool = False


# --- PNG text chunks ----------------------------------------------------------------------------


def _inflate(data: bytes, budget: int) -> bytes | None:
    """zlib data inflated to at most ``budget`` bytes; None when larger or broken (a zlib bomb)."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, budget)
    except zlib.error:
        return None
    return None if d.unconsumed_tail else out


def parse_text_chunk(kind: bytes, body: bytes, budget: int) -> TextEntry | None:
    """A tEXt, zTXt or iTXt body as a TextEntry; None when malformed or over ``budget`` bytes."""
    keyword, sep, rest = body.partition(b"\x00")
    if not sep or not 1 <= len(keyword) <= 79:
        return None
    name = keyword.decode("latin-1")
    if kind == b"tEXt":
        return TextEntry(name, rest.decode("latin-1"))
    if kind == b"zTXt":
        text = _inflate(rest[1:], budget) if rest[:1] == b"\x00" else None
        return None if text is None else TextEntry(name, text.decode("latin-1"), compressed=True)
    if len(rest) < 2:
        return None
    compressed, (language, _, tail) = rest[0] == 1, rest[2:].partition(b"\x00")
    translated, _, raw = tail.partition(b"\x00")
    text = _inflate(raw, budget) if compressed else raw
    if text is None:
        return None
    decode = lambda b: b.decode("utf-8", "replace")  # noqa: E731
    return TextEntry(name, decode(text), language.decode("latin-1"), decode(translated), compressed)


def encode_text_chunk(entry: TextEntry) -> tuple[bytes, bytes] | None:
    """(chunk type, body) for ``entry``: tEXt/zTXt when Latin-1 will do, else iTXt; None if invalid."""
    try:
        keyword = entry.keyword.encode("latin-1")
    except UnicodeEncodeError:
        return None
    if not 1 <= len(keyword) <= 79 or b"\x00" in keyword:
        return None
    try:
        latin = None if entry.language or entry.translated else entry.text.encode("latin-1")
    except UnicodeEncodeError:
        latin = None
    if latin is not None:
        if entry.compressed:
            return b"zTXt", keyword + b"\x00\x00" + zlib.compress(latin)
        return b"tEXt", keyword + b"\x00" + latin
    text = entry.text.encode("utf-8")
    flag = b"\x01\x00" if entry.compressed else b"\x00\x00"
    head = keyword + b"\x00" + flag + entry.language.encode("ascii", "replace") + b"\x00"
    return b"iTXt", head + entry.translated.encode("utf-8") + b"\x00" + (
        zlib.compress(text) if entry.compressed else text
    )


# --- EXIF ---------------------------------------------------------------------------------------


IFD = TiffImagePlugin.ImageFileDirectory_v2
_ASCII, _BYTE, _LONG = 2, 1, 4
_EXIF_PREFIX = b"Exif\x00\x00"


@dataclass
class ExifIfds:
    """An EXIF block or a TIFF file's metadata as Pillow reads it: IFD0 and the EXIF/GPS sub-IFDs.

    Pillow's IFDs remember each tag's stored type; ``Image.Exif`` forgets it for sub-IFDs and would
    write, say, a UTF-8 LensModel back as BYTE, so the IFDs are used directly.
    """

    root: TiffImagePlugin.ImageFileDirectory_v2
    subs: dict[int, TiffImagePlugin.ImageFileDirectory_v2]


def _load_ifd(fp: BinaryIO, head: bytes, offset: int, group: int | None = None) -> IFD:
    ifd = IFD(head, group=group)
    fp.seek(offset)
    ifd.load(fp)
    return ifd


def _is_offset(value: object) -> bool:
    return isinstance(value, int) and value >= 8  # 0..7 is the header: no IFD there


def read_exif(fp: BinaryIO) -> ExifIfds:
    """IFD0 and its EXIF (with the Interop IFD nested) and GPS sub-IFDs from a TIFF structure at 0."""
    head = fp.read(8)
    if head[2:4] in (b"+\x00", b"\x00+"):  # BigTIFF: 8 more bytes of first-IFD offset
        head += fp.read(8)
    root = IFD(head)
    root = _load_ifd(fp, head, root.next)
    subs = {}
    for tag in SUB_IFDS:
        offset = root.get(tag)
        if _is_offset(offset):
            sub = _load_ifd(fp, head, offset, tag)
            interop = sub.get(INTEROP_IFD)
            if INTEROP_IFD in sub:  # a file offset, stale once moved: nested as a dict instead
                del sub[INTEROP_IFD]
                nested = dict(_load_ifd(fp, head, interop, INTEROP_IFD)) if _is_offset(interop) else {}
                if nested:
                    sub[INTEROP_IFD] = nested
            subs[tag] = sub
    return ExifIfds(root, {tag: sub for tag, sub in subs.items() if len(sub)})


def parse_exif(block: bytes | None) -> ExifIfds | None:
    """A TIFF-structured EXIF block (with or without the ``Exif\\0\\0`` prefix); None if malformed."""
    if not block:
        return None
    try:
        return read_exif(io.BytesIO(block.removeprefix(_EXIF_PREFIX)))
    except (SyntaxError, ValueError, KeyError, struct.error, OSError):  # nothing to carry
        return None


def _raw(value: object) -> object:
    """Pillow reads ASCII tags as Latin-1 text but writes text as 7-bit ASCII ('?' for the rest):
    handing it the original bytes keeps UTF-8 or Latin-1 names intact."""
    if isinstance(value, str) and not value.isascii():
        return value.encode("latin-1", "replace")
    if isinstance(value, dict):
        return {k: _raw(v) for k, v in value.items()}
    return value


def _retyped(ifd: IFD, prefix: bytes, skip: Iterable[int] = ()) -> IFD:
    """A copy of ``ifd`` in byte order ``prefix`` (b"II" or b"MM"), every tag keeping its type."""
    out = IFD(prefix=prefix, group=ifd.group)
    for tag, value in ifd.items():
        if tag not in skip:
            out.tagtype[tag] = ifd.tagtype[tag]  # set first: Pillow keeps a type it already has
            out[tag] = _raw(value)
    return out


def serialise_ifd(ifd: IFD, offset: int, prefix: bytes = b"II") -> bytes:
    """One sub-IFD as it will sit at ``offset`` of a classic TIFF file of byte order ``prefix``."""
    return _retyped(ifd, prefix).tobytes(offset)


def descriptive_tags(exif: ExifIfds | None) -> dict[int, bytes]:
    """The textual IFD0 tags of ``exif`` as the bytes the file held (no trailing NUL)."""
    if exif is None:
        return {}
    tags = {}
    for tag in [*DESCRIPTIVE_TAGS, *XP_TAGS]:
        value = exif.root.get(tag)
        if isinstance(value, str) and value:
            tags[tag] = value.encode("latin-1", "replace")
        elif isinstance(value, bytes) and value:
            tags[tag] = value
    return tags


def build_exif(root: IFD, subs: Mapping[int, IFD], prefix: bytes = b"II") -> bytes:
    """A TIFF-structured EXIF block (no prefix): ``root`` as IFD0, its pointers set to ``subs``."""
    root = _retyped(root, prefix, skip=SUB_IFDS)
    for tag in subs:
        root.tagtype[tag] = _LONG
        root[tag] = 0  # sized now, pointed below: the IFD's length does not depend on the value
    head = prefix + (b"\x00*\x00\x00\x00\x08" if prefix == b"MM" else b"*\x00\x08\x00\x00\x00")
    base = 8 + len(root.tobytes(8))
    body = bytearray()
    for tag, sub in subs.items():
        body += b"\x00" * ((base + len(body)) & 1)  # IFDs start on a word boundary
        root[tag] = base + len(body)
        body += serialise_ifd(sub, base + len(body), prefix)
    return head + root.tobytes(8) + bytes(body)


def descriptive_ifd(tags: Mapping[int, bytes], prefix: bytes = b"II") -> IFD:
    """An IFD0 holding ``tags`` (ASCII, the XP* tags BYTE)."""
    root = IFD(prefix=prefix)
    for tag, value in tags.items():
        root.tagtype[tag] = _BYTE if tag in XP_TAGS else _ASCII
        root[tag] = value
    return root


def read_tiff_exif(fp: BinaryIO) -> bytes | None:
    """An EXIF block of a TIFF file's descriptive tags and EXIF/GPS sub-IFDs (no orientation: the
    pixels get turned instead), or None when it has none."""
    exif = read_exif(fp)
    descriptive = descriptive_tags(exif)
    if descriptive.get(270, b"").startswith(b'{"shape":'):  # tifffile's own bookkeeping, not a caption
        del descriptive[270]
    return build_exif(descriptive_ifd(descriptive), exif.subs) if descriptive or exif.subs else None


# --- across formats -----------------------------------------------------------------------------


def decode_text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def text_for_tags(tags: Mapping[int, bytes]) -> list[TextEntry]:
    """PNG text entries for the descriptive tags that have a PNG keyword (EXIF dates become ISO 8601)."""
    entries = []
    for tag, keyword in DESCRIPTIVE_TAGS.items():
        if keyword is None or tag not in tags:
            continue
        text = decode_text(tags[tag].rstrip(b"\x00"))
        if tag == DATETIME_TAG:
            m = _EXIF_DATE.fullmatch(text)
            text = "{}-{}-{}T{}:{}:{}".format(*m.groups()) if m else text
        entries.append(TextEntry(keyword, text))
    return entries


def tags_for_text(text: Iterable[TextEntry]) -> dict[int, bytes]:
    """Descriptive tags for PNG text entries with a matching keyword (dates only in EXIF's form)."""
    by_keyword = {keyword: tag for tag, keyword in DESCRIPTIVE_TAGS.items() if keyword}
    tags = {}
    for entry in text:
        tag = by_keyword.get(entry.keyword)
        if tag is None or tag in tags:
            continue
        value = entry.text
        if tag == DATETIME_TAG:
            m = _ISO_DATE.match(value)
            if m is None:
                continue  # EXIF dates have one fixed form; free text would make the tag invalid
            value = "{}:{}:{} {}:{}:{}".format(*m.groups())
        tags[tag] = value.encode("utf-8")
    return tags


def missing_text(text: Sequence[TextEntry], tags: Mapping[int, bytes]) -> list[TextEntry]:
    """Text entries the descriptive ``tags`` would add to ``text`` (keywords it lacks)."""
    have = {e.keyword for e in text}
    return [e for e in text_for_tags(tags) if e.keyword not in have]


def exif_with_tags(block: bytes | None, tags: Mapping[int, bytes]) -> bytes | None:
    """``block`` with descriptive ``tags`` it lacks added (re-serialised only if there are any)."""
    exif = parse_exif(block)
    have = descriptive_tags(exif)
    new = {tag: value for tag, value in tags.items() if tag not in have}
    if not new:
        return block
    if exif is None:
        return build_exif(descriptive_ifd(new), {})
    for tag, value in new.items():
        exif.root.tagtype[tag] = _ASCII
        exif.root[tag] = value
    return build_exif(exif.root, exif.subs)


def jpeg_comment(text: Sequence[TextEntry]) -> str | None:
    return next((e.text for e in text if e.keyword == "Comment"), None)


# --- IPTC in JPEG ---------------------------------------------------------------------------------


def photoshop_segment(iptc: bytes) -> bytes:
    """A JPEG APP13 segment holding ``iptc`` as Photoshop image resource 0x0404 (IPTC-NAA)."""
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iptc)) + iptc
    body = b"Photoshop 3.0\x00" + resource + b"\x00" * (len(iptc) & 1)
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body


def splice_after_app_segments(jpeg: bytes, segment: bytes) -> bytes:
    """``jpeg`` with ``segment`` inserted after its leading APPn/COM segments (before the tables)."""
    pos = 2  # after SOI
    app_or_comment = lambda marker: 0xE0 <= marker <= 0xEF or marker == 0xFE  # noqa: E731
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF and app_or_comment(jpeg[pos + 1]):
        pos += 2 + struct.unpack_from(">H", jpeg, pos + 2)[0]
    return jpeg[:pos] + segment + jpeg[pos:]


def srgb_profile() -> bytes | None:
    """An sRGB ICC profile (for an sRGB chunk in a format without one), or None without LittleCMS."""
    try:
        from PIL import ImageCms

        return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    except (ImportError, OSError):
        return None
