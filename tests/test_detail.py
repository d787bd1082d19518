"""Guided detail synthesis (restorer.core.detail): the photo's fine detail in a face model's soft fill."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy import ndimage

from restorer.cli import main
from restorer.core import weights
from restorer.core.detail import hole_depth, synthesise_detail
from restorer.core.imageio import Photo, read_photo, write_mask, write_photo
from restorer.core.jobs import run_to_end
from restorer.core.networks import ContextEncoder, ContextEncoderArch
from restorer.core.patches import apply_result
from restorer.core.patchmatch import Guide, complete
from restorer.core.pipeline import restore
from restorer.core.types import Bounds, RestoreOptions


@pytest.fixture(scope="module")
def ce_path(tmp_path_factory) -> str:
    """A tiny random Context Encoder (64 px): its fill is a soft guess, as a model's is at 3x."""
    torch.manual_seed(1)
    arch = ContextEncoderArch(nef=8, ndf=8)
    path = tmp_path_factory.mktemp("models") / "tiny-ce.pt"
    return str(weights.save_weights(path, "context-encoder", arch, {"context_encoder": ContextEncoder(arch)}))


def _model_view(image: np.ndarray, scale: int) -> np.ndarray:
    """What a perfect model at 1/``scale`` of the resolution returns: area-averaged down, cubic up."""
    h, w, c = image.shape
    small = image.reshape(h // scale, scale, w // scale, scale, c).mean(axis=(1, 3))
    return ndimage.zoom(small, (scale, scale, 1), order=3, mode="nearest").astype(np.float32)


def _square(shape: tuple[int, int], top: int, left: int, side: int) -> np.ndarray:
    hole = np.zeros(shape, bool)
    hole[top : top + side, left : left + side] = True
    return hole


def _log_energy(image: np.ndarray, where: np.ndarray) -> float:
    """Variance of the Laplacian of Gaussian (1 px) of the grey level over ``where``: fine detail."""
    return float(ndimage.gaussian_laplace(image.mean(axis=2), 1.0)[where].var())


@pytest.mark.parametrize("corner", [(30, 35), (51, 44)])
def test_a_fine_periodic_texture_is_continued_in_phase_under_a_smooth_guide(corner):
    """Period-6 stripes, too fine for a model at 1/5 of the resolution: the guide holds only their
    mean, the synthesis continues them in phase, with no seam at the hole's edge."""
    y, x = np.mgrid[:130, :130]
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * (x + 0.5 * y) / 6)
    image = np.repeat((40 + 170 * wave)[..., None] / 255, 3, axis=2).astype(np.float32)
    hole = _square(image.shape[:2], *corner, 40)
    window = np.where(hole[..., None], 0.0, image).astype(np.float32)
    guide = _model_view(image, 5)
    assert np.abs(guide - image)[hole].mean() * 255 > 40  # the guide alone has no stripes
    out = synthesise_detail(window, hole, guide, 5.0, seed=1)
    error = np.abs(out - image)[..., 0] * 255
    assert error[hole].mean() < 4.0
    rows = error[hole.any(axis=1)][:, hole.any(axis=0)].mean(axis=1)  # no band or seam anywhere
    assert rows.max() < 10.0


def test_mirrored_candidates_reproduce_a_mirrored_structure():
    """Right half = left half mirrored: only mirrored patches hold what the hole on the right lost."""
    rng = np.random.default_rng(3)
    left = ndimage.gaussian_filter(rng.random((80, 64, 3)), (1.5, 1.5, 0))
    left = ((left - left.min()) / np.ptp(left)).astype(np.float32)
    image = np.concatenate([left, left[:, ::-1]], axis=1)
    hole = _square(image.shape[:2], 28, 80, 24)
    window = np.where(hole[..., None], 0.0, image).astype(np.float32)
    guide = _model_view(image, 4)
    out = synthesise_detail(window, hole, guide, 4.0, seed=0)
    mirrored = np.abs(out - image)[hole].mean() * 255
    # The same guided search without mirrored sources cannot find the structure.
    start = np.where(hole[..., None], guide, image).astype(np.float32)
    features = ndimage.gaussian_filter(start, (2.4, 2.4, 0))
    plain = complete(start, hole, 0, False, Guide(features)) - image
    assert mirrored < 2.0
    assert np.abs(plain)[hole].mean() * 255 > 5 * mirrored + 5.0


def test_the_fill_has_the_fine_detail_of_its_surroundings_on_a_grainy_photo():
    """A smooth shading with clumped film grain; the guide is a perfect model's view of the shading
    alone (no grain). The synthesised fill's fine-detail energy matches the ring around it."""
    rng = np.random.default_rng(5)
    y, x = np.mgrid[:240, :240] / 240
    shading = np.stack([0.45 + 0.2 * x, 0.4 + 0.15 * y, 0.35 + 0.1 * x * y], axis=2)
    grain = ndimage.gaussian_filter(rng.standard_normal((240, 240, 1)), (0.6, 0.6, 0))
    photo = (shading + 0.02 * grain / grain.std()).astype(np.float32)
    hole = _square(photo.shape[:2], 90, 95, 60)
    window = np.where(hole[..., None], 1.0, photo).astype(np.float32)
    guide = _model_view(shading.astype(np.float32), 4)
    out = synthesise_detail(window, hole, guide, 4.0, seed=2)
    core = ndimage.binary_erosion(hole, iterations=3)
    outside = ndimage.distance_transform_edt(~hole)
    ring = (outside > 3) & (outside <= 15)
    ratio = _log_energy(out, core) / _log_energy(photo, ring)
    assert 0.7 < ratio < 1.3
    assert _log_energy(guide, core) / _log_energy(photo, ring) < 0.05  # what the model gave: none
    # ... and the shading is still the guide's: the fill is not darker or lighter than it.
    assert abs(float((out - guide)[core].mean())) < 0.01


def _face_photo(dtype: type, size: int = 200) -> tuple[Photo, np.ndarray, Bounds]:
    """A grainy photo with a hole inside a 160 px face box: 2.5x the tiny model's 64 px."""
    rng = np.random.default_rng(6)
    y, x = np.mgrid[:size, :size] / size
    base = 0.5 + 0.2 * np.sin(6 * x)[..., None] * np.cos(5 * y)[..., None] * np.ones(3)
    grainy = np.clip(base + 0.03 * rng.standard_normal(base.shape), 0, 1)
    top = np.iinfo(dtype).max
    pixels = np.round(grainy * top).astype(dtype)
    mask = np.zeros((size, size), bool)
    mask[80:112, 70:120] = True
    pixels[mask] = top
    return Photo(pixels, None, None, None, "PNG"), mask, Bounds.from_xywh((20, 20, 160, 160))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_pixels_outside_the_mask_are_unchanged_through_the_pipeline(ce_path, dtype):
    photo, mask, box = _face_photo(dtype)
    results = {}
    for detail in (True, False):
        options = RestoreOptions(method="context-encoder", model=ce_path, box=box, detail=detail)
        result = run_to_end(restore(photo, mask, options))
        (patch,) = result.patches
        assert patch.params["detail"] is detail and patch.params["detail_scale"] == _scale(patch.box.xywh())
        out = apply_result(photo, result).pixels
        assert out.dtype == photo.pixels.dtype
        np.testing.assert_array_equal(out[~mask], photo.pixels[~mask])
        results[detail] = out[mask].astype(np.float64) / np.iinfo(dtype).max
    assert np.abs(results[True] - results[False]).mean() > 0.005  # it did change the fill


def _scale(window: tuple[int, ...] | list[int]) -> float:
    """Window pixels per pixel of the tiny 64 px model for an x, y, w, h window (the face frame)."""
    scale = round(max(window[2:]) / 64, 3)
    assert scale >= 1.5  # about the user's 160 px box: the frame refined from it is still large
    return scale


def _inpaint(tmp_path, ce_path: str, *extra: str) -> dict:
    photo, mask, box = _face_photo(np.uint8)
    src, mask_path = tmp_path / "in.png", tmp_path / "m.png"
    dst, record = tmp_path / "out.png", tmp_path / "r.json"
    write_photo(photo, src)
    write_mask(mask, mask_path)
    args = ["inpaint", str(src), "-m", str(mask_path), "-o", str(dst), "--method", "context-encoder"]
    args += ["--model", ce_path, "--box", box.text(), "--record", str(record), "--overwrite", *extra]
    assert main(args) == 0
    assert np.array_equal(read_photo(dst).pixels[~mask], photo.pixels[~mask])
    return json.loads(record.read_text())["restorations"][0]


def test_no_detail_turns_it_off_and_the_record_says_so(tmp_path, ce_path):
    on = _inpaint(tmp_path, ce_path)
    assert on["options"]["detail"] is True
    assert on["regions"][0]["parameters"]["detail"] is True
    assert on["regions"][0]["parameters"]["detail_scale"] == _scale(on["regions"][0]["window"])
    off = _inpaint(tmp_path, ce_path, "--no-detail")
    assert off["options"]["detail"] is False
    assert off["regions"][0]["parameters"]["detail"] is False


def test_a_window_near_the_models_size_gets_no_detail(ce_path):
    """At 1-1.25x the model's pixels the fill already has what detail it can show: skipped, and said."""
    photo, mask, _ = _face_photo(np.uint8)
    options = RestoreOptions(method="context-encoder", model=ce_path, box=Bounds.from_xywh((63, 64, 64, 64)))
    (patch,) = run_to_end(restore(photo, mask, options)).patches
    assert patch.params["detail"] is False
    assert patch.params["detail_scale"] == round(patch.box.height / 64, 3) < 1.5


def test_a_hole_too_deep_for_copies_gets_the_models_fill_and_the_record_says_why(ce_path):
    """Most of the face box lost (a 100 px square in the 160 px box): copies from that far away were
    patchwork, so the model's fill is kept and the record says why; the usual hole still gets detail."""
    photo, small, box = _face_photo(np.uint8)
    large = np.zeros_like(small)
    large[50:150, 50:150] = True
    options = RestoreOptions(method="context-encoder", model=ce_path, box=box)
    damaged = photo.with_pixels(np.where(large[..., None], np.uint8(255), photo.pixels))
    result = run_to_end(restore(damaged, large, options))
    (patch,) = result.patches
    assert patch.params["detail"] is False
    assert "patchwork" in patch.params["detail_skipped"]
    assert any("region 1" in w and "no fine detail" in w for w in result.warnings)  # shown to the user
    result = run_to_end(restore(photo, small, options))
    (patch,) = result.patches
    assert patch.params["detail"] is True and "detail_skipped" not in patch.params
    assert not any("fine detail" in w for w in result.warnings)


def test_hole_depth_is_the_farthest_pixel_from_known_over_the_side():
    unknown = np.zeros((100, 200), bool)
    unknown[40:61, 50:150] = True  # 21 rows: the middle row is 11 px from the nearest known pixel
    assert hole_depth(unknown) == pytest.approx(11 / 200)
    assert hole_depth(np.zeros((10, 10), bool)) == 0.0
