"""The treatment report: one self-contained HTML page a conservator files with the photo (no Qt).

It shows the scan before and after, the restored area over the result, and one row per intervention
(region, method and why, model and checksum, parameters, seed, date, operator, area of loss in px
and, when the scan's resolution is known, mm²), then the SHA-256 of the source and of every file
written. Pictures are embedded as base64 PNG so the page needs nothing beside it. Everything it
says about a restoration comes from the intervention record (``restorer.core.record``).
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from restorer import __version__
from restorer.core.files import atomic_write_bytes
from restorer.core.pixels import to_8bit
from restorer.editing.measure import format_area, usable_dpi

OVERVIEW_PX = 360  # longer side of the before/after pictures (each ~250 kB of PNG for a grainy scan)
REGION_PX = 112  # longer side of each region's crops
REGION_CONTEXT_PX = 48  # a region's crop shows at least this much of the scan around it
MAX_REGION_PICTURES = 60  # beyond this, regions are listed without pictures (the page stays small)
RESTORED_TINT = np.array([255, 40, 90], np.float32)


@dataclass
class ReportInput:
    record: dict  # intervention_record(...)
    before: np.ndarray  # (H, W, C) the scan as opened
    after: np.ndarray  # (H, W, C) the restored photo
    area: np.ndarray  # bool (H, W): every pixel a restoration changed
    dpi: tuple[float, float] | None
    operator: str
    files: dict[str, Path | None] = field(default_factory=dict)  # label -> file to hash
    title: str = "Treatment report"


def default_operator() -> str:
    """The OS user name, when the settings name nobody."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, no USER variable (containers)
        return "unknown"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --- pictures -------------------------------------------------------------------------------------


def _rgb8(pixels: np.ndarray) -> np.ndarray:
    p = to_8bit(pixels)
    return np.ascontiguousarray(p.repeat(3, axis=2) if p.shape[2] == 1 else p[:, :, :3])


def _data_uri(rgb: np.ndarray, longest: int) -> str:
    image = Image.fromarray(rgb, "RGB")
    # Only ever shrunk: small crops are enlarged by the page (CSS), which costs no bytes.
    image.thumbnail((longest, longest), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def tinted(rgb: np.ndarray, area: np.ndarray, strength: float = 0.6) -> np.ndarray:
    """``rgb`` with the restored ``area`` tinted, so the additions can be told from the original."""
    out = rgb.astype(np.float32)
    out[area] = out[area] * (1 - strength) + RESTORED_TINT * strength
    return np.rint(out).astype(np.uint8)


def _figure(uri: str, caption: str) -> str:
    text = html.escape(caption)
    return f'<figure><img src="{uri}" alt="{text}"><figcaption>{text}</figcaption></figure>'


# --- text -----------------------------------------------------------------------------------------


def _cell(value: object) -> str:
    return f"<td>{html.escape('—' if value is None else str(value))}</td>"


def _model(model: dict | None) -> str:
    if not model:
        return "—"
    sha = model.get("sha256")
    return f"{model.get('name')} (SHA-256 {sha})" if sha else str(model.get("name"))


def _region_rows(inp: ReportInput, before: np.ndarray, after: np.ndarray) -> tuple[list[str], int]:
    rows, pictured = [], 0
    date = inp.record.get("date")
    for number, restoration in enumerate(inp.record.get("restorations", []), 1):
        options = restoration.get("options", {})
        for region in restoration.get("regions", []):
            x, y, w, h = region["window"]
            pictures = "—"
            if pictured < MAX_REGION_PICTURES:
                crop = _context(x, y, w, h, before.shape)
                size = _display_size(before[crop].shape)
                shown_after = tinted(after[crop], inp.area[crop])
                pictures = (
                    f'<img src="{_data_uri(before[crop], REGION_PX)}" {size} alt="before">'
                    f'<img src="{_data_uri(shown_after, REGION_PX)}" {size} alt="after">'
                )
                pictured += 1
            params = json.dumps(region.get("parameters", {}), sort_keys=True, ensure_ascii=False)
            seed = region.get("parameters", {}).get("seed", options.get("seed"))
            rows.append(
                "<tr>"
                + _cell(f"{number}.{region['index'] + 1}")
                + _cell(f"x {x}, y {y}, {w} × {h} px")
                + _cell(format_area(int(region["hole_pixels"]), inp.dpi))
                + _cell(f"{region['method']} ({region.get('reason') or 'chosen'})")
                + _cell(_model(region.get("model")))
                + f'<td class="mono">{html.escape(params)}</td>'
                + _cell(seed)
                + _cell(f"{region.get('chosen', 0) + 1} of {region.get('candidates', 1)}")
                + _cell(date)
                + _cell(inp.operator)
                + f'<td class="pics">{pictures}</td>'
                + "</tr>"
            )
    return rows, pictured


def _context(x: int, y: int, w: int, h: int, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """The window grown to at least REGION_CONTEXT_PX a side, inside the photo: a 9 px window
    on its own shows nothing of where it is."""
    grow_x, grow_y = max(0, REGION_CONTEXT_PX - w) // 2, max(0, REGION_CONTEXT_PX - h) // 2
    top, left = max(0, y - grow_y), max(0, x - grow_x)
    return slice(top, min(shape[0], y + h + grow_y)), slice(left, min(shape[1], x + w + grow_x))


def _display_size(shape: tuple[int, ...]) -> str:
    scale = REGION_PX / max(shape[0], shape[1])
    return f'width="{round(shape[1] * scale)}" height="{round(shape[0] * scale)}"'


def _file_rows(files: dict[str, Path | None]) -> list[str]:
    rows = []
    for label, path in files.items():
        if path is None:
            continue
        path = Path(path)
        digest = sha256_file(path) if path.is_file() else "(file not found)"
        rows.append(f'<tr>{_cell(label)}{_cell(path.name)}<td class="mono">{html.escape(digest)}</td></tr>')
    return rows


STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left}
th{background:#f2f2f2}.mono{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}
figure{display:inline-block;margin:0 1em 1em 0}figcaption{font-size:12px;color:#555}
.pics img{display:block;margin-bottom:4px;image-rendering:pixelated}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 1em}
dt{font-weight:600}
"""


def build_report(inp: ReportInput) -> str:
    """The report as one HTML page."""
    before, after = _rgb8(inp.before), _rgb8(inp.after)
    record = inp.record
    photo = record.get("photo", {})
    total = int(inp.area.sum())
    dpi = usable_dpi(inp.dpi)
    width, height = photo.get("size", [before.shape[1], before.shape[0]])
    rows, pictured = _region_rows(inp, before, after)
    regions_count = len(rows)
    summary = {
        "Photo": photo.get("source") or "untitled",
        "Size": f"{width} × {height} px, {photo.get('channels')} channel(s), {photo.get('bit_depth')}-bit",
        "Resolution": f"{dpi[0]:g} × {dpi[1]:g} dpi" if dpi else "unknown (areas in pixels only)",
        "Area of loss restored": format_area(total, inp.dpi),
        "Interventions": f"{len(record.get('restorations', []))} restoration(s), {regions_count} region(s)",
        "Date": record.get("date"),
        "Operator": inp.operator,
        "Software": f"Restorer {record.get('restorer_version', __version__)}",
    }
    overview = "".join(
        [
            _figure(_data_uri(before, OVERVIEW_PX), "Before: the scan as opened"),
            _figure(_data_uri(after, OVERVIEW_PX), "After: the restored photo"),
            _figure(
                _data_uri(tinted(after, inp.area), OVERVIEW_PX), "Restored area (tinted) over the result"
            ),
        ]
    )
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "#",
            "Region (window)",
            "Area of loss",
            "Method",
            "Model",
            "Parameters",
            "Seed",
            "Candidate",
            "Date",
            "Operator",
            "Before / after",
        )
    )
    omitted = regions_count - pictured
    note = f"<p>{omitted} region(s) are listed without pictures.</p>" if omitted > 0 else ""
    warnings = [w for r in record.get("restorations", []) for w in r.get("warnings", [])]
    warning_html = (
        "<h2>Warnings</h2><ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in warnings) + "</ul>"
        if warnings
        else ""
    )
    files = _file_rows(inp.files)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(inp.title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(inp.title)}</h1><dl>"
        + "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in summary.items())
        + f"</dl><h2>Before and after</h2>{overview}"
        + f"<h2>Interventions</h2><table><tr>{head}</tr>{''.join(rows)}</table>{note}{warning_html}"
        + "<h2>Files (SHA-256)</h2><table><tr><th>Role</th><th>File</th><th>SHA-256</th></tr>"
        + "".join(files)
        + "</table></body></html>\n"
    )


def _check_html(tmp: Path) -> None:
    text = tmp.read_bytes().decode("utf-8")
    if not text.rstrip().endswith("</html>"):
        raise ValueError("the report is cut short")


def write_report(path: str | Path, inp: ReportInput) -> Path:
    """Write the report atomically (checked: it decodes and ends with its closing tag)."""
    return atomic_write_bytes(path, build_report(inp).encode("utf-8"), _check_html)
