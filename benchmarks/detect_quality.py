"""How well `detect_damage` finds synthetic damage, and how little it flags on undamaged photos.

    python benchmarks/detect_quality.py                 # held-out: 24 Kodak + 176 FairFace val images
    python benchmarks/detect_quality.py --split train --calibrate   # fit the detector's weights
    python benchmarks/detect_quality.py --split tune    # check them on other FairFace train images

Each photo gets scratches, cracks and dust from `restorer.training.synthetic_damage` (half of them are
first aged: sepia, fading, grain), deterministically from its index. Reported, for each sensitivity:

- pixel precision / recall with a 2-px tolerance band: a flagged pixel counts as correct if a truly
  damaged pixel lies within 2 px, and a damaged pixel counts as found if a flagged pixel lies within
  2 px. The band is there because a defect's border is not sharp (its edge is blurred into the print,
  and the detector deliberately dilates its mask by a pixel so a fill covers the halo); being a pixel
  or two wide of the drawn mask does not matter to the inpainting that follows. Strict (0 px)
  numbers are printed too.
- per-defect recall: the fraction of defects (connected components of each kind's mask) at least
  half of whose pixels were found, over all defects and over *visible* ones (mean luminance change
  of at least 0.08, about 20/255: a white scratch across white paper is not damage anyone sees).
- false positives: the fraction of pixels flagged on the same photos before damage (mean and 95th
  percentile over photos).

Never calibrate on the held-out split: the reported numbers must stay honest.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from restorer.core.detect import FEATURES, detect_damage, find_candidates
from restorer.training.synthetic_damage import age_photo, damage_photo

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
KINDS = ("scratch", "crack", "dust")
TOLERANCE = 2
VISIBLE = 0.08


def _zip_images(path: Path, count: int) -> Iterator[tuple[str, np.ndarray]]:
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist(), key=lambda n: int(Path(n).stem))[:count]
        for name in names:
            with Image.open(io.BytesIO(archive.read(name))) as im:
                yield f"{path.stem}/{name}", np.asarray(im.convert("RGB"))


def photos(split: str, count: int) -> Iterator[tuple[str, np.ndarray]]:
    """Clean photos. held-out: Kodak, then FairFace val. train (calibration): FairFace train shard 0;
    tune (checking a calibration): shard 1. Train and tune photos come in fours, so calibration
    also sees Kodak-sized photos of varying detail: a face as it is (160 px), one enlarged 3x
    (480 px, smooth), a 3 x 3 mosaic of faces and a 6 x 6 mosaic of half-size faces (480 px, as
    detailed as a sharp photo: hair, eyes and clothing at the scale of dust and scratches)."""
    if split in ("train", "tune"):
        shard = DATA / "fairface" / ("train-0.zip" if split == "train" else "train-1.zip")
        faces = _zip_images(shard, 5000)
        for index in range(count):
            name, pixels = next(faces)
            kind = index % 4
            if kind == 1:
                pixels = _resize(pixels, 480)
            elif kind >= 2:
                side = 3 if kind == 2 else 6
                tiles = [pixels] + [next(faces)[1] for _ in range(side * side - 1)]
                tiles = [_resize(t, 480 // side) for t in tiles]
                rows = [np.concatenate(tiles[r : r + side], axis=1) for r in range(0, side * side, side)]
                pixels = np.concatenate(rows)
                name += f" ({side}x{side} mosaic)"
            yield name, pixels
        return
    kodak = sorted((DATA / "photos" / "kodak").glob("*.png"))[:count]
    for path in kodak:
        with Image.open(path) as im:
            yield path.name, np.asarray(im.convert("RGB"))
    yield from _zip_images(DATA / "fairface" / "val.zip", count - len(kodak))


def _resize(pixels: np.ndarray, size: int) -> np.ndarray:
    if pixels.shape[0] == size:
        return pixels
    return np.asarray(Image.fromarray(pixels).resize((size, size), Image.Resampling.BICUBIC))


def luminance(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32) / 255


def make_case(index: int, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The undamaged print (aged for every other photo), its damaged copy, and each kind's mask."""
    rng = np.random.default_rng(1000 + index)
    print_ = age_photo(clean, rng) if index % 2 else clean
    damaged, masks = damage_photo(print_, rng, kinds=KINDS)
    return print_, damaged, masks


def _grow(mask: np.ndarray, radius: int) -> np.ndarray:
    if radius == 0:
        return mask
    return ndi.maximum_filter(mask.view(np.uint8), size=2 * radius + 1).view(bool)


@dataclass
class Tally:
    """Sums over photos for one sensitivity."""

    flagged: int = 0
    flagged_near_damage: int = 0
    flagged_on_damage: int = 0
    damaged: int = 0
    damaged_found: int = 0
    damaged_hit: int = 0
    defects: dict[str, list[int]] = field(default_factory=lambda: {k: [0, 0, 0, 0] for k in KINDS})
    false_positive_rates: list[float] = field(default_factory=list)
    seconds: float = 0.0
    photos: int = 0

    def add(self, found: np.ndarray, masks: dict[str, np.ndarray], change: np.ndarray) -> None:
        self.photos += 1
        truth = np.logical_or.reduce(list(masks.values()))
        near_truth, near_found = _grow(truth, TOLERANCE), _grow(found, TOLERANCE)
        self.flagged += int(found.sum())
        self.flagged_near_damage += int((found & near_truth).sum())
        self.flagged_on_damage += int((found & truth).sum())
        self.damaged += int(truth.sum())
        self.damaged_found += int((truth & near_found).sum())
        self.damaged_hit += int((truth & found).sum())
        for kind, mask in masks.items():
            labels, n = ndi.label(mask, structure=np.ones((3, 3)))
            if n == 0:
                continue
            size = np.bincount(labels.ravel(), minlength=n + 1)[1:]
            hit = np.bincount(labels.ravel(), weights=near_found.ravel(), minlength=n + 1)[1:]
            contrast = np.bincount(labels.ravel(), weights=change.ravel(), minlength=n + 1)[1:] / size
            found_half = hit >= 0.5 * size
            visible = contrast >= VISIBLE
            tally = self.defects[kind]
            tally[0] += n
            tally[1] += int(found_half.sum())
            tally[2] += int(visible.sum())
            tally[3] += int((found_half & visible).sum())


def _ratio(a: float, b: float) -> str:
    return f"{100 * a / b:.1f}" if b else "–"


def _source(name: str) -> str:
    if name.startswith("kodim"):
        return "Kodak"
    if name.endswith("mosaic)"):
        return "FairFace mosaics"
    return "FairFace val" if name.startswith("val/") else "FairFace train"


def report(tallies: dict[str, dict[float, Tally]], split: str) -> str:
    used = next(iter(tallies["all"].values())).photos
    lines = [
        f"Damage detection on {used} {split} photos (synthetic scratches, cracks, dust; half aged), "
        f"tolerance {TOLERANCE} px. Timings on a shared, loaded machine.",
        "",
        "| photos | sensitivity | precision % | recall % | strict P % | strict R % | defects found % "
        "| visible defects found % | scratch / crack / dust visible found % | false pos. % mean "
        "| false pos. % p95 | ms / photo |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for group, by_sensitivity in tallies.items():
        for sensitivity, t in sorted(by_sensitivity.items()):
            all_defects = sum(v[0] for v in t.defects.values())
            all_found = sum(v[1] for v in t.defects.values())
            visible = sum(v[2] for v in t.defects.values())
            visible_found = sum(v[3] for v in t.defects.values())
            per_kind = " / ".join(_ratio(t.defects[k][3], t.defects[k][2]) for k in KINDS)
            fp = np.asarray(t.false_positive_rates) * 100
            lines.append(
                f"| {group} ({t.photos}) | {sensitivity:.2f} | {_ratio(t.flagged_near_damage, t.flagged)} "
                f"| {_ratio(t.damaged_found, t.damaged)} | {_ratio(t.flagged_on_damage, t.flagged)} "
                f"| {_ratio(t.damaged_hit, t.damaged)} | {_ratio(all_found, all_defects)} "
                f"| {_ratio(visible_found, visible)} | {per_kind} | {fp.mean():.2f} "
                f"| {np.percentile(fp, 95):.2f} | {1000 * t.seconds / max(t.photos, 1):.0f} |"
            )
    return "\n".join(lines)


def evaluate(split: str, count: int, sensitivities: list[float]) -> str:
    tallies: dict[str, dict[float, Tally]] = {"all": {s: Tally() for s in sensitivities}}
    for index, (name, clean) in enumerate(photos(split, count)):
        print_, damaged, masks = make_case(index, clean)
        change = np.abs(luminance(damaged) - luminance(print_))
        group = tallies.setdefault(_source(name), {s: Tally() for s in sensitivities})
        for sensitivity in sensitivities:
            start = time.perf_counter()
            found = detect_damage(damaged, sensitivity)
            seconds = time.perf_counter() - start
            false_positives = float(detect_damage(print_, sensitivity).mean())
            for tally in (tallies["all"][sensitivity], group[sensitivity]):
                tally.seconds += seconds
                tally.add(found, masks, change)
                tally.false_positive_rates.append(false_positives)
    return report(tallies, split)


def calibrate(count: int) -> str:
    """Fit the detector's logistic weights on candidates from the *train* split (never the held-out one).

    A candidate is labelled damage when at least half of its pixels lie within 1 px of drawn damage;
    damage that barely changed the photo (mean luminance change under 0.04, e.g. a white scratch
    on white paper) is left out, as no detector could or need see it. Each candidate is weighted
    by the square root of its area, so large false alarms cost more than specks. Bright and dark
    candidates get separate weights.
    """
    data: dict[int, tuple[list, list, list]] = {1: ([], [], []), -1: ([], [], [])}
    for index, (_name, clean) in enumerate(photos("train", count)):
        print_, damaged, masks = make_case(index, clean)
        near_truth = _grow(np.logical_or.reduce(list(masks.values())), 1)
        change = np.abs(luminance(damaged) - luminance(print_))
        _luma, candidates = find_candidates(damaged)
        for found in candidates:
            n = len(found.features)
            labels_ = found.labels.ravel()
            area = np.bincount(labels_, minlength=n + 1)[1:]
            is_damage = np.bincount(labels_, near_truth.ravel(), minlength=n + 1)[1:] >= 0.5 * area
            visible = np.bincount(labels_, change.ravel(), minlength=n + 1)[1:] >= 0.04 * area
            use = (visible | ~is_damage) & found.usable  # unusable ones are rejected anyway
            rows, labels, weights = data[found.polarity]
            rows.append(found.features[use])
            labels.append(is_damage[use])
            weights.append(np.sqrt(area[use]))
    fitted = {}
    lines = [f"# calibrated on {count} train photos by benchmarks/detect_quality.py --calibrate"]
    for polarity, (rows, labels, weights) in data.items():
        y = np.concatenate(labels).astype(np.float64)
        fitted[polarity] = fit_logistic(np.concatenate(rows), y, np.concatenate(weights))
        lines.append(f"# {'bright' if polarity > 0 else 'dark'}: {len(y)} candidates, {int(y.sum())} damage")
    lines.append("_WEIGHTS = {  # feature: (bright, dark)")
    for k, name in enumerate(FEATURES):
        lines.append(f'    "{name}": ({fitted[1][0][k]:.4g}, {fitted[-1][0][k]:.4g}),')
    lines.append(f'    "bias": ({fitted[1][1]:.4g}, {fitted[-1][1]:.4g}),')
    lines.append("}")
    return "\n".join(lines)


def fit_logistic(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = 1.0, steps: int = 50
) -> tuple[np.ndarray, float]:
    """Weighted, L2-regularised logistic regression by Newton's method, on standardised features;
    returns weights and bias for the raw features."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
    beta = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ beta)))
        gradient = z.T @ (w * (p - y)) + penalty * beta
        hessian = (z * (w * p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        delta = np.linalg.solve(hessian, gradient)
        beta -= delta
        if np.abs(delta).max() < 1e-8:
            break
    coef = beta[:-1] / std
    return coef, float(beta[-1] - coef @ mean)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("heldout", "train", "tune"), default="heldout")
    parser.add_argument("--count", type=int, default=200, help="number of photos (default 200)")
    parser.add_argument("--sensitivity", type=float, nargs="+", default=[0.3, 0.5, 0.7])
    parser.add_argument("--calibrate", action="store_true", help="fit detector weights (train split only)")
    args = parser.parse_args(argv)
    if args.calibrate:
        if args.split != "train":
            parser.error("--calibrate only runs on --split train")
        print(calibrate(args.count))
        return 0
    print(evaluate(args.split, args.count, args.sensitivity))
    return 0


if __name__ == "__main__":
    sys.exit(main())
