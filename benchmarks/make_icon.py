"""Draw Restorer's application icon: ``python benchmarks/make_icon.py [--out resources/icons]``.

A faded photograph (a sun over hills) on a dark tile, with a crack that a brush has half filled.
Writes ``restorer.png`` (256 px) and smaller copies for the desktop's icon theme sizes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
SIZES = (16, 32, 48, 64, 128)


def draw(size: int = 1024) -> Image.Image:
    s = size / 256  # drawn on a 256 grid, supersampled
    im = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)

    def box(x0, y0, x1, y1):
        return [round(v * s) for v in (x0, y0, x1, y1)]

    d.rounded_rectangle(box(8, 8, 248, 248), radius=round(44 * s), fill=(38, 52, 74, 255))
    d.rounded_rectangle(box(40, 48, 216, 208), radius=round(8 * s), fill=(244, 236, 216, 255))  # print
    d.rectangle(box(54, 62, 202, 168), fill=(214, 190, 150, 255))  # sepia sky
    d.ellipse(box(138, 74, 178, 114), fill=(246, 222, 170, 255))  # sun
    hills = (54, 168, 98, 112, 132, 142, 160, 120, 202, 160, 202, 168)
    d.polygon([v * s for v in hills], fill=(150, 112, 76))
    # The crack: dark where still damaged, bright where the brush has filled it.
    crack = [(70, 70), (92, 96), (84, 118), (112, 140), (104, 164), (128, 190)]
    pts = [(x * s, y * s) for x, y in crack]
    d.line(pts[:4], fill=(70, 50, 36, 255), width=round(6 * s), joint="curve")
    d.line(pts[3:], fill=(255, 200, 70, 255), width=round(10 * s), joint="curve")
    # The brush: a handle and its tip at the end of the fill.
    d.line([(200 * s, 226 * s), (140 * s, 196 * s)], fill=(205, 120, 60, 255), width=round(14 * s))
    d.ellipse(box(118, 180, 146, 206), fill=(255, 200, 70, 255))
    return im


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "icons", help="folder to write into")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    big = draw()
    big.resize((256, 256), Image.LANCZOS).save(args.out / "restorer.png", optimize=True)
    for size in SIZES:
        big.resize((size, size), Image.LANCZOS).save(args.out / f"restorer-{size}.png", optimize=True)


if __name__ == "__main__":
    main()
