"""Learned vs classic damage detector vs a black/white top-hat + threshold baseline, on held-out photos.

    python benchmarks/detector_quality.py                      # held-out: kodim01-04 + FairFace val
    python benchmarks/detector_quality.py --split tune --sweep # choose thresholds (FairFace train-1)
    python benchmarks/detector_quality.py --timing 6000x4000   # wall time on a 24 MP photo

Held out from the learned detector's training: Kodak kodim01-04 and FairFace val.zip. The classic
detector was calibrated on FairFace train-0 mosaics, so both are measured on photos neither saw.
Each Kodak photo gets several independent damage draws (it is only four photos); FairFace val faces
one each. Damage conditions: each kind alone (scratch, crack, dust), a dense crack network (6-10
crack systems, the case real cracked prints show) and all three kinds together; half the prints are
aged first (sepia, fading, grain), as in detect_quality.py.

Scores use detect_quality's 2-px tolerance band: a flagged pixel is correct if drawn damage lies
within 2 px, a damaged pixel is found if a flagged pixel lies within 2 px. F1 is their harmonic mean.
"Clean flagged %" is the area flagged on the same held-out Kodak prints before damage.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, machine
from detect_quality import DATA, _grow, _zip_images

from restorer.core.detect import detect_damage, luminance
from restorer.core.detect_learned import damage_probability
from restorer.core.weights import load_model
from restorer.training.synthetic_damage import age_photo, apply_damage, crack_mask, damage_photo

TOLERANCE = 2
CONDITIONS = ("scratch", "crack", "dust", "crack network", "all")
KODAK_DRAWS = 4
TOPHAT_SIZE = 9


def photos(split: str, faces: int) -> Iterator[tuple[str, np.ndarray]]:
    if split == "heldout":
        for name in ("kodim01", "kodim02", "kodim03", "kodim04"):
            with Image.open(DATA / "photos" / "kodak" / f"{name}.png") as im:
                pixels = np.asarray(im.convert("RGB"))
            for draw in range(KODAK_DRAWS):
                yield f"{name}#{draw}", pixels
        yield from _zip_images(DATA / "fairface" / "val.zip", faces)
    else:  # FairFace train-1: never trained on (training reads train-0), for choosing thresholds
        yield from _zip_images(DATA / "fairface" / "train-1.zip", faces)


def make_case(index: int, clean: np.ndarray, condition: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(undamaged print, damaged print, truth mask) for one photo and damage condition."""
    rng = np.random.default_rng([2000 + index, CONDITIONS.index(condition)])
    print_ = age_photo(clean, rng) if index % 2 else clean
    if condition == "crack network":
        mask = crack_mask(print_.shape, rng, count=int(rng.integers(6, 11)))
        return print_, apply_damage(print_, mask, rng, "crack"), mask
    kinds = ("scratch", "crack", "dust") if condition == "all" else (condition,)
    damaged, masks = damage_photo(print_, rng, kinds=kinds)  # type: ignore[arg-type]
    return print_, damaged, np.logical_or.reduce(list(masks.values()))


def tophat_score(pixels: np.ndarray) -> np.ndarray:
    """Baseline: the larger of the white and black top-hats of luminance (0-1), over its robust noise."""
    luma = luminance(pixels)
    image = luma.values.astype(np.float32) / np.float32(luma.full_scale)
    white = image - ndi.grey_opening(image, size=TOPHAT_SIZE)
    black = ndi.grey_closing(image, size=TOPHAT_SIZE) - image
    return np.maximum(white, black)


@dataclass
class Score:
    flagged: int = 0
    flagged_ok: int = 0
    damaged: int = 0
    found: int = 0
    seconds: float = 0.0

    def add(self, found: np.ndarray, truth: np.ndarray) -> None:
        self.flagged += int(found.sum())
        self.flagged_ok += int((found & _grow(truth, TOLERANCE)).sum())
        self.damaged += int(truth.sum())
        self.found += int((truth & _grow(found, TOLERANCE)).sum())

    @property
    def precision(self) -> float:
        return self.flagged_ok / self.flagged if self.flagged else 0.0

    @property
    def recall(self) -> float:
        return self.found / self.damaged if self.damaged else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def detectors(model_path: Path, threshold: float, tophat: float) -> dict[str, Callable]:
    model = load_model(model_path)
    return {
        "learned": lambda px: damage_probability(px, model) > threshold,
        "classic": lambda px: detect_damage(px, 0.5),
        "top-hat": lambda px: tophat_score(px) > tophat,
    }


def evaluate(split: str, faces: int, model_path: Path, threshold: float, tophat: float) -> str:
    dets = detectors(model_path, threshold, tophat)
    scores = {(d, c, g): Score() for d in dets for c in CONDITIONS for g in ("Kodak", "FairFace", "all")}
    clean_flagged: dict[str, list[float]] = {d: [] for d in dets}
    for index, (name, clean) in enumerate(photos(split, faces)):
        group = "Kodak" if name.startswith("kodim") else "FairFace"
        for condition in CONDITIONS:
            print_, damaged, truth = make_case(index, clean, condition)
            for det, run in dets.items():
                start = time.perf_counter()
                found = run(damaged)
                seconds = time.perf_counter() - start
                for g in (group, "all"):
                    scores[det, condition, g].add(found, truth)
                    scores[det, condition, g].seconds += seconds
                if condition == "all" and group == "Kodak":
                    clean_flagged[det].append(float(run(print_).mean()))
    lines = [
        f"Held-out damage detection ({split}), tolerance {TOLERANCE} px; learned threshold {threshold}, "
        f"classic sensitivity 0.5, top-hat threshold {tophat}.",
        "",
        "| photos | damage | detector | precision % | recall % | F1 | clean Kodak flagged % |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for g in ("all", "Kodak", "FairFace"):
        for condition in CONDITIONS:
            for det in dets:
                s = scores[det, condition, g]
                flagged = (
                    np.mean(clean_flagged[det]) * 100 if condition == "all" and clean_flagged[det] else None
                )
                lines.append(
                    f"| {g} | {condition} | {det} | {100 * s.precision:.1f} | {100 * s.recall:.1f} "
                    f"| {s.f1:.3f} | {'' if flagged is None else f'{flagged:.2f}'} |"
                )
    return "\n".join(lines)


def sweep(faces: int, model_path: Path) -> str:
    """F1 over thresholds on the tune split (all damage kinds), to choose the operating points."""
    model = load_model(model_path)
    learned_t = (0.3, 0.4, 0.5, 0.6, 0.7)
    tophat_t = (0.08, 0.12, 0.16, 0.2, 0.25, 0.3)
    learned = {t: Score() for t in learned_t}
    top = {t: Score() for t in tophat_t}
    for index, (_name, clean) in enumerate(photos("tune", faces)):
        _print, damaged, truth = make_case(index, clean, "all")
        prob, score = damage_probability(damaged, model), tophat_score(damaged)
        for t in learned_t:
            learned[t].add(prob > t, truth)
        for t in tophat_t:
            top[t].add(score > t, truth)
    rows = [f"learned t={t}: P {s.precision:.3f} R {s.recall:.3f} F1 {s.f1:.3f}" for t, s in learned.items()]
    rows += [f"top-hat t={t}: P {s.precision:.3f} R {s.recall:.3f} F1 {s.f1:.3f}" for t, s in top.items()]
    return "\n".join(rows)


def timing(model_path: Path, size: tuple[int, int], threads: int, repeats: int) -> str:
    """Wall seconds (median of ``repeats``, after one warm-up tile) to detect damage on a W x H photo
    (kodim01 enlarged); the learned detector against the classic one."""
    model = load_model(model_path)
    width, height = size
    with Image.open(DATA / "photos" / "kodak" / "kodim01.png") as im:
        pixels = np.asarray(im.convert("RGB").resize((width, height), Image.Resampling.BICUBIC))
    damage_probability(pixels[:512, :512], model, threads=threads)  # warm-up: first-call allocations
    learned = []
    for _ in range(repeats):
        start = time.perf_counter()
        damage_probability(pixels, model, threads=threads)
        learned.append(time.perf_counter() - start)
    start = time.perf_counter()
    detect_damage(pixels, 0.5)
    classic = time.perf_counter() - start
    megapixels = width * height / 1e6
    runs = ", ".join(f"{t:.1f}" for t in learned)
    return (
        f"{width}x{height} ({megapixels:.0f} MP, {threads} threads): learned median "
        f"{float(np.median(learned)):.1f} s (runs {runs}), classic {classic:.1f} s; {load_average()}"
    )


def _size(text: str) -> tuple[int, int]:
    """'6000x4000' -> (6000, 4000); '2048' -> (2048, 2048)."""
    width, _, height = text.lower().partition("x")
    return int(width), int(height or width)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("heldout", "tune"), default="heldout")
    parser.add_argument("--faces", type=int, default=40, help="FairFace photos (default 40)")
    parser.add_argument("--model", type=Path, default=Path("models/detector.pt"))
    parser.add_argument("--threshold", type=float, default=0.5, help="learned detector threshold")
    parser.add_argument("--tophat", type=float, default=0.08, help="top-hat baseline threshold")
    parser.add_argument("--sweep", action="store_true", help="F1 over thresholds (tune split)")
    parser.add_argument("--timing", type=_size, metavar="WxH", help="time a W x H photo (e.g. 6000x4000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (median reported)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.timing:
        print(f"# {machine()}")
        print(timing(args.model, args.timing, args.threads, args.repeats))
    elif args.sweep:
        print(sweep(args.faces, args.model))
    else:
        print(evaluate(args.split, args.faces, args.model, args.threshold, args.tophat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
