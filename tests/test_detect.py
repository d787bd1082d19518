"""Automatic damage detection (`restorer.core.detect`) and `restorer detect`.

Thresholds sit below what the detector measures here (noted at each test), with a margin for
platform differences, yet high enough that a real regression fails. The test photos are smooth
prints and the bundled sample, where detection works well; for comparison,
`benchmarks/detect_quality.py` measures (2-px tolerance, default sensitivity) 65 % recall at 93 %
precision with 0.3 % of pixels flagged on undamaged held-out FairFace photos, and only 58 % / 42 %
with 2.5 % flagged on the detail-rich Kodak photos.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage as ndi
from synthetic_photos import clean_photo, near

from restorer.cli import main
from restorer.core import detect
from restorer.core.detect import detect_damage
from restorer.core.errors import RestorerError
from restorer.training.synthetic_damage import apply_damage, scratch_mask

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
SAMPLE = RESOURCES / "sample-photo.png"
LUMA = np.array([0.299, 0.587, 0.114])


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float((truth & near(found)).sum() / truth.sum())


def _precision(found: np.ndarray, truth: np.ndarray) -> float:
    return float((found & near(truth)).sum() / max(found.sum(), 1))


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bundled sample (an aged, damaged Kodak portrait), its true damage, and what is detected."""
    photo = np.asarray(Image.open(SAMPLE).convert("RGB"))
    truth = np.asarray(Image.open(RESOURCES / "sample-mask.png")) > 0
    return photo, truth, detect_damage(photo)


def test_finds_most_damage_on_the_sample_photo(sample: tuple[np.ndarray, ...]) -> None:
    _photo, truth, found = sample
    assert found.shape == truth.shape and found.dtype == bool
    assert _recall(found, truth) > 0.8  # measured 0.87
    assert _precision(found, truth) > 0.9  # measured 0.986


def test_flags_little_away_from_the_damage_on_a_real_photo(sample: tuple[np.ndarray, ...]) -> None:
    _photo, truth, found = sample
    undamaged = ~near(truth)
    assert (found & undamaged).sum() / undamaged.sum() < 0.005  # measured 0.06 %


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_finds_scratches_drawn_on_aclean_photo(seed: int) -> None:
    clean = clean_photo(seed)
    assert detect_damage(clean).mean() < 0.005  # measured at most 0.07 % over 12 photos
    rng = np.random.default_rng(seed)
    mask = scratch_mask(clean.shape, rng, count=4, width=(1, 4))
    damaged = apply_damage(clean, mask, rng, "scratch")
    # Only scratch pixels that visibly changed count: a white scratch on white paper is not damage
    # anyone can see (or needs to restore).
    visible = mask & (np.abs((damaged.astype(float) - clean) @ LUMA) / 255 >= 0.1)
    found = detect_damage(damaged)
    assert _recall(found, visible) > 0.85  # measured 0.98 to 1.0 on these seeds
    assert _precision(found, mask) > 0.9


def test_finds_a_one_pixel_scratch_when_working_at_reduced_resolution(monkeypatch) -> None:
    # Large scans are analysed at a pooled working resolution; force that on a small photo.
    monkeypatch.setattr(detect, "WORKING_PIXELS", 40_000)  # 400 x 400 -> factor 2
    rng = np.random.default_rng(0)
    field = ndi.gaussian_filter(rng.normal(size=(400, 400)), 24)
    grey = 0.5 + 0.25 * field / field.std() + rng.normal(0, 0.01, field.shape)
    clean = np.repeat(np.rint(np.clip(grey, 0, 1) * 255).astype(np.uint8)[..., None], 3, axis=2)
    mask = scratch_mask(clean.shape, rng, count=2, width=(1, 1))
    damaged = clean.copy()
    damaged[mask] = 250  # a thin white scratch, half a working pixel wide
    found = detect_damage(damaged)
    assert _recall(found, mask) > 0.85  # measured 0.88 to 1.0 over 6 seeds
    assert _precision(found, mask) > 0.85  # refined at full resolution, it hugs the line: 0.93 to 1.0


def test_the_mask_does_not_depend_on_bit_depth_or_layout(sample: tuple[np.ndarray, ...]) -> None:
    photo, _truth, found = sample
    sixteen = detect_damage(photo.astype(np.uint16) * 257)
    # Luminance is computed in fixed point from either depth; rounding may move a pixel or two.
    assert (sixteen & found).sum() / (sixteen | found).sum() > 0.99  # measured 0.999
    rgba = np.concatenate([photo, np.full((*photo.shape[:2], 1), 255, np.uint8)], axis=2)
    assert np.array_equal(detect_damage(rgba), found)  # alpha is ignored


def test_grey_photos_work_in_8_and_16_bit(sample: tuple[np.ndarray, ...]) -> None:
    photo, _truth, found = sample
    grey = np.rint(photo @ LUMA).astype(np.uint8)
    for pixels in (grey, grey[..., None], (grey.astype(np.uint16) * 257)[..., None]):
        mask = detect_damage(pixels)
        assert mask.shape == grey.shape
        assert (mask & found).sum() / (mask | found).sum() > 0.95  # measured 0.992


def test_sensitivity_trades_misses_for_false_alarms(sample: tuple[np.ndarray, ...]) -> None:
    photo, truth, found = sample
    low, high = detect_damage(photo, 0.2), detect_damage(photo, 0.8)
    assert low.sum() < found.sum() < high.sum()
    assert _recall(low, truth) < _recall(high, truth)
    with pytest.raises(RestorerError, match="sensitivity"):
        detect_damage(photo, 1.5)


def test_a_blank_photo_has_no_damage() -> None:
    for value in (0, 128, 255):
        assert not detect_damage(np.full((64, 80, 3), value, np.uint8)).any()


@pytest.mark.parametrize(
    "pixels",
    [np.zeros((32, 32, 3), np.float32), np.zeros((32, 32, 5), np.uint8), np.zeros((2, 2), np.uint8)],
)
def test_unusable_pixels_are_refused_clearly(pixels: np.ndarray) -> None:
    with pytest.raises(RestorerError, match="damage detection needs"):
        detect_damage(pixels)


# --- the command line -------------------------------------------------------------------------


def test_cli_writes_the_mask_and_a_summary(tmp_path: Path, capsys) -> None:
    out = tmp_path / "mask.png"
    assert main(["detect", str(SAMPLE), "-o", str(out), "--sensitivity", "0.5"]) == 0
    written = np.asarray(Image.open(out))
    assert written.shape == (500, 500) and set(np.unique(written)) == {0, 255}
    truth = np.asarray(Image.open(RESOURCES / "sample-mask.png")) > 0
    assert _recall(written > 0, truth) > 0.8
    summary = capsys.readouterr().out
    assert "pixels flagged" in summary and f"{int((written > 0).sum()):,}" in summary and "%" in summary


def test_cli_fails_with_exit_1_on_unreadable_input(tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture at all")
    out = tmp_path / "mask.png"
    assert main(["detect", str(broken), "-o", str(out)]) == 1
    assert main(["detect", str(tmp_path / "missing.png"), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("restorer: error:") == 2 and not out.exists()


def test_cli_keeps_existing_files_unless_asked(tmp_path: Path, capsys) -> None:
    out = tmp_path / "mask.png"
    out.write_bytes(b"keep me")
    assert main(["detect", str(SAMPLE), "-o", str(out)]) == 1
    assert out.read_bytes() == b"keep me" and "--overwrite" in capsys.readouterr().err
    assert main(["detect", str(SAMPLE), "-o", str(out), "--overwrite"]) == 0
    assert np.asarray(Image.open(out)).shape == (500, 500)


def test_cli_refuses_bad_outputs(tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(SAMPLE.read_bytes())
    assert main(["detect", str(photo), "-o", str(tmp_path / "mask.jpg")]) == 1
    assert main(["detect", str(photo), "-o", str(tmp_path / "no" / "mask.png")]) == 1
    assert main(["detect", str(photo), "-o", str(photo), "--overwrite"]) == 1  # never over the photo
    assert photo.read_bytes() == SAMPLE.read_bytes()


@pytest.mark.parametrize(
    "argv",
    [
        ["detect", str(SAMPLE)],  # no -o
        ["detect", str(SAMPLE), "-o", "m.png", "--sensitivity", "1.5"],
        ["detect", str(SAMPLE), "-o", "m.png", "--sensitivity", "nan"],
        ["detect", str(SAMPLE), "-o", "m.png", "--sensitivity", "high"],
    ],
)
def test_cli_bad_usage_exits_2(argv: list[str], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert not (tmp_path / "m.png").exists()
