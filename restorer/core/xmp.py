"""The intervention record inside the photo's own XMP packet.

The restored file says what was done to it, even when the JSON record beside it is lost. A small
``rdf:Description`` in the namespace ``http://restorer.example/ns/1.0/`` (prefix ``restorer:``) is
added to the packet the photo came with, whose content is kept as it was. It holds a few plain fields
(Software, Date, Regions, HolePixels, Methods, RecordFormat), the record as compact JSON in
``restorer:Record``, and in ``restorer:History`` (an ``rdf:Seq``, oldest first) the records of earlier
restorations found in the input's packet, so a photo restored twice keeps both accounts.

File paths in the embedded record are cut to file names: the photo travels, and the folders of the
machine that restored it (user names among them) are nobody's business. The full record is the JSON
file. The packet is kept byte for byte, the description inserted before its closing ``rdf:RDF`` tag;
only when it held an earlier Restorer record is it re-serialised by ``xml.dom.minidom``, which keeps
its prefixes (expat >= 2.4.1 refuses entity-expansion bombs; external entities are never fetched).
"""

from __future__ import annotations

import json
import warnings
from pathlib import PurePath
from xml.dom import minidom
from xml.parsers.expat import ExpatError
from xml.sax.saxutils import escape

NS = "http://restorer.example/ns/1.0/"
PREFIX = "restorer"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

_EMPTY_PACKET = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="' + RDF + '"></rdf:RDF></x:xmpmeta>'
    '<?xpacket end="w"?>'
)


class XmpWarning(UserWarning):
    """The photo's XMP packet could not take the intervention record."""


def merge_record(xmp: bytes | None, record: dict, *, limit: int | None = None) -> bytes | None:
    """``xmp`` (or a new packet) with ``record`` added as restorer: properties.

    Earlier Restorer records in ``xmp`` move to ``restorer:History``. When the result would exceed
    ``limit`` bytes (JPEG's one APP1 segment), the JSON is left out and only the plain fields go in;
    when even that is too large, or ``xmp`` is not well-formed XML, ``xmp`` comes back unchanged.
    """
    packet = xmp.rstrip(b"\x00") if xmp else _EMPTY_PACKET.encode("utf-8")
    try:
        text = packet.decode("utf-8")
        doc = minidom.parseString(packet)
        rdf = _rdf_root(doc)
    except (ExpatError, ValueError) as e:  # UnicodeDecodeError is a ValueError
        warnings.warn(
            f"the photo's XMP is not valid XML ({e}); the record is not added to it", XmpWarning, stacklevel=3
        )
        return xmp
    earlier, removed = _take_records(rdf)
    if removed or f"</{rdf.tagName}>" not in text:  # else the packet is kept byte for byte
        rdf.appendChild(doc.createTextNode(""))  # so that an empty rdf:RDF gets a closing tag
        text = "".join(child.toxml() for child in doc.childNodes)
    close = text.rfind(f"</{rdf.tagName}>")
    for full in (True, False):
        out = (text[:close] + _description(record, earlier, full) + text[close:]).encode("utf-8")
        if limit is None or len(out) <= limit:
            return out
    warnings.warn(
        f"the photo's XMP has no room for the record (over {limit:,} bytes)", XmpWarning, stacklevel=3
    )
    return xmp


def read_records(xmp: bytes | None) -> list[dict]:
    """Every Restorer record in ``xmp``, oldest first (the history, then the latest)."""
    if not xmp:
        return []
    try:
        rdf = _rdf_root(minidom.parseString(xmp.rstrip(b"\x00")))
    except (ExpatError, ValueError):
        return []
    records = []
    for text in _take_records(rdf)[0]:
        try:
            records.append(json.loads(text))
        except ValueError:  # a hand-edited packet: skip what no longer parses
            continue
    return records


def _rdf_root(doc: minidom.Document) -> minidom.Element:
    found = doc.getElementsByTagNameNS(RDF, "RDF")
    if not found:
        raise ValueError("no rdf:RDF element")
    return found[0]


def _text(node: minidom.Element) -> str:
    return "".join(c.data for c in node.childNodes if c.nodeType == c.TEXT_NODE)


def _take_records(rdf: minidom.Element) -> tuple[list[str], bool]:
    """Remove every restorer: property from ``rdf``: (the record JSON texts, oldest first, whether
    anything was removed). A description left empty by that goes too."""
    history: list[str] = []
    latest: list[str] = []
    removed = False
    for desc in list(rdf.getElementsByTagNameNS(RDF, "Description")):
        ours = [c for c in desc.childNodes if c.nodeType == c.ELEMENT_NODE and c.namespaceURI == NS]
        attrs = [a for a in desc.attributes.values() if a.namespaceURI == NS]
        for child in ours:
            if child.localName == "History":
                history += [_text(li) for li in child.getElementsByTagNameNS(RDF, "li")]
            elif child.localName == "Record":
                latest.append(_text(child))
            desc.removeChild(child)
        for attr in attrs:
            if attr.localName == "Record":  # the attribute form some tools rewrite simple values into
                latest.append(attr.value)
            desc.removeAttributeNode(attr)
        if (ours or attrs) and _is_empty(desc):
            desc.parentNode.removeChild(desc)
        removed = removed or bool(ours or attrs)
    return history + latest, removed


def _is_empty(desc: minidom.Element) -> bool:
    if any(c.nodeType == c.ELEMENT_NODE for c in desc.childNodes):
        return False
    names = [a.name for a in desc.attributes.values()]
    return all(n.startswith("xmlns") or n == "rdf:about" for n in names)


def _summary(record: dict) -> tuple[int, int, list[str]]:
    """(regions, hole pixels, methods in order of first use) over the record's restorations."""
    regions = [r for entry in record.get("restorations", []) for r in entry.get("regions", [])]
    holes = sum(int(entry.get("hole_pixels") or 0) for entry in record.get("restorations", []))
    methods = list(dict.fromkeys(str(r.get("method")) for r in regions if r.get("method")))
    return len(regions), holes, methods


def _without_paths(record: dict) -> dict:
    """The record with every file path cut to its file name."""
    out = dict(record)
    name = lambda p: None if p is None else PurePath(str(p)).name  # noqa: E731
    if isinstance(record.get("files"), dict):
        out["files"] = {k: name(v) for k, v in record["files"].items()}
    if isinstance(record.get("photo"), dict):
        out["photo"] = {**record["photo"], "source": name(record["photo"].get("source"))}
    return out


def _description(record: dict, earlier: list[str], full: bool) -> str:
    regions, holes, methods = _summary(record)
    fields = [
        ("Software", f"Restorer {record.get('restorer_version', '')}".strip()),
        ("Date", str(record.get("date", ""))),
        ("Regions", str(regions)),
        ("HolePixels", str(holes)),
        ("RecordFormat", str(record.get("format", ""))),
    ]
    parts = [f"<{PREFIX}:{k}>{escape(v)}</{PREFIX}:{k}>" for k, v in fields]
    parts.append(_array("Methods", "Bag", methods))
    if full:
        text = json.dumps(_without_paths(record), ensure_ascii=False, separators=(",", ":"), default=str)
        parts.append(f"<{PREFIX}:Record>{escape(text)}</{PREFIX}:Record>")
        if earlier:
            parts.append(_array("History", "Seq", earlier))
    else:
        parts.append(
            f"<{PREFIX}:RecordOmitted>too large for this file format; see the JSON record"
            f"</{PREFIX}:RecordOmitted>"
        )
    return (
        f'<rdf:Description xmlns:rdf="{RDF}" xmlns:{PREFIX}="{NS}" rdf:about="">'
        + "".join(parts)
        + "</rdf:Description>"
    )


def _array(name: str, kind: str, items: list[str]) -> str:
    lis = "".join(f"<rdf:li>{escape(item)}</rdf:li>" for item in items)
    return f"<{PREFIX}:{name}><rdf:{kind}>{lis}</rdf:{kind}></{PREFIX}:{name}>"
