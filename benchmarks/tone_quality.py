"""Tone detection quality: how often colour photos are taken for toned prints, and toned prints kept.

Colour: FairFace val faces (never trained on), the Kodak photos and the old colour scans in
../shared/data/photos. Toned: no real sepia print is in the data, so toned prints are made from
the same photos' luminance with four tints (sepia, warm, selenium, cyanotype), stronger in the
mid-tones as real toning is, faded, with 3/255 scan noise and JPEG at quality 85.

    python benchmarks/tone_quality.py [--faces 1000]
"""

from __future__ import annotations

import argparse
import io
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from restorer.core.tone import LUMA, detect_tone
from restorer.training.data import iter_images

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TINTS = {
    "sepia": (1.07, 0.98, 0.82),
    "warm": (1.12, 1.0, 0.78),
    "selenium": (1.02, 0.97, 1.0),
    "cyan": (0.8, 0.95, 1.1),
}


def toned_print(rgb: np.ndarray, tint: tuple[float, float, float], rng: np.random.Generator) -> np.ndarray:
    """A toned print of ``rgb``'s luminance: tint strongest in the mid-tones, faded, noisy, JPEG."""
    y = (rgb.astype(np.float32) / 255) @ LUMA
    strength = 0.6 + 0.8 * (4 * y * (1 - y))[..., None]
    out = y[..., None] * (1 + (np.array(tint, np.float32) - 1) * strength)
    out = out * rng.uniform(0.85, 1.0) + rng.uniform(0.0, 0.08) + rng.normal(0, 3 / 255, out.shape)
    buffer = io.BytesIO()
    Image.fromarray((np.clip(out, 0, 1) * 255).astype(np.uint8)).save(buffer, "JPEG", quality=85)
    return np.asarray(Image.open(buffer).convert("RGB"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=1000, help="FairFace val faces (default 1000)")
    args = parser.parse_args()
    faces = list(iter_images([DATA / "fairface" / "val.zip"], args.faces))
    photos = [np.asarray(Image.open(p).convert("RGB")) for p in sorted((DATA / "photos").glob("*/*.png"))]
    rng = np.random.default_rng(0)
    sets = {
        f"colour: FairFace val faces ({len(faces)})": faces,
        f"colour: Kodak and old scans ({len(photos)})": photos,
    }
    sources = faces[:200] + photos
    sets[f"toned: synthetic prints ({len(sources)})"] = [
        toned_print(img, list(TINTS.values())[i % len(TINTS)], rng) for i, img in enumerate(sources)
    ]
    print("| photos | grey | toned | colour |\n|---|---:|---:|---:|")
    for name, images in sets.items():
        kinds = Counter(detect_tone(img).kind for img in images)
        share = {k: f"{100 * kinds[k] / len(images):.1f}%" for k in ("grey", "toned", "colour")}
        print(f"| {name} | {share['grey']} | {share['toned']} | {share['colour']} |")


if __name__ == "__main__":
    main()
