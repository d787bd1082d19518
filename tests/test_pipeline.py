"""Whole-photo restoration: planning, bit-exactness outside the mask, events, stopping, re-blending."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from restorer.core import weights
from restorer.core.errors import RestorerError
from restorer.core.imageio import Photo
from restorer.core.jobs import run_to_end
from restorer.core.networks import (
    ContextEncoder,
    ContextEncoderArch,
    Discriminator,
    GanArch,
    Generator,
    init_dcgan_weights,
)
from restorer.core.patches import apply_patch, apply_result, choose
from restorer.core.pipeline import restore
from restorer.core.record import intervention_record
from restorer.core.tone import rgb_to_ycbcr
from restorer.core.types import Bounds, RegionFinished, RegionProgress, RegionStarted, RestoreOptions

FAST = {"iterations": 2, "starts": 2, "device": "cpu"}
BOX = Bounds.from_xywh((24, 24, 64, 64))  # a "face" box inside a 128 x 112 photo


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny networks run faster on one thread; two fight over the cores on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_gan(seed: int = 0) -> tuple[GanArch, Generator, Discriminator]:
    """A tiny random DCGAN whose images vary with z (batch-norm statistics set from one batch)."""
    torch.manual_seed(seed)
    arch = GanArch(ngf=8, ndf=8)
    g, d = Generator(arch), Discriminator(arch)
    init_dcgan_weights(g)
    init_dcgan_weights(d)
    for m in g.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # a cumulative average: this one batch sets the running statistics
    with torch.no_grad():
        g.train()(torch.rand(64, arch.nz) * 2 - 1)
    return arch, g.eval(), d


@pytest.fixture(scope="module")
def gan_path(tmp_path_factory):
    arch, g, d = tiny_gan()
    path = tmp_path_factory.mktemp("models") / "tiny-gan.pt"
    return str(weights.save_weights(path, "dcgan", arch, {"generator": g, "discriminator": d}))


@pytest.fixture(scope="module")
def ce_path(tmp_path_factory):
    torch.manual_seed(1)
    arch = ContextEncoderArch(nef=8, ndf=8)
    path = tmp_path_factory.mktemp("models") / "tiny-ce.pt"
    return str(weights.save_weights(path, "context-encoder", arch, {"context_encoder": ContextEncoder(arch)}))


def _photo(channels: int = 3, dtype=np.uint8, alpha: bool = False, size=(112, 128), seed: int = 0) -> Photo:
    h, w = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 0.5 + 0.25 * np.sin(xx / 9.0)[..., None] * np.cos(yy / 7.0)[..., None] * np.ones(channels)
    base = base + 0.05 * rng.standard_normal((h, w, channels))
    top = np.iinfo(dtype).max
    pixels = np.round(np.clip(base, 0, 1) * top).astype(dtype)
    a = np.round(np.clip(rng.random((h, w)), 0, 1) * top).astype(dtype) if alpha else None
    return Photo(pixels, a, b"fake-icc", None, "PNG")


def _mask(size=(112, 128)) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    mask[50:62, 48:60] = True  # a compact hole inside BOX
    mask[5:7, 10:100] = True  # a thin scratch outside it
    mask[90:106, 100:120] = True  # a wide hole outside it
    return mask


def _damaged(photo: Photo, mask: np.ndarray) -> Photo:
    pixels = photo.pixels.copy()
    pixels[mask] = np.iinfo(pixels.dtype).max  # white damage
    return photo.with_pixels(pixels)


def _events(job):
    events = []
    result = run_to_end(job, events.append)
    return events, result


def test_empty_mask_returns_the_photo_unchanged():
    photo = _photo()
    events, result = _events(restore(photo, np.zeros((112, 128), dtype=bool)))
    assert events == [] and result.patches == [] and result.warnings == []
    assert np.array_equal(apply_result(photo, result).pixels, photo.pixels)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize(("channels", "alpha"), [(1, False), (3, False), (3, True)])
@pytest.mark.parametrize("method", ["auto", "latent", "classic"])
def test_only_damaged_pixels_change(gan_path, dtype, channels, alpha, method):
    mask = _mask()
    photo = _damaged(_photo(channels, dtype, alpha), mask)
    options = RestoreOptions(method=method, model=gan_path, box=BOX, **FAST)
    _, result = _events(restore(photo, mask, options))
    out = apply_result(photo, result)
    assert out.pixels.dtype == dtype and out.pixels.shape == photo.pixels.shape
    assert np.array_equal(out.pixels[~mask], photo.pixels[~mask])
    assert out.icc_profile == photo.icc_profile
    assert (out.alpha is None) == (not alpha) and (not alpha or np.array_equal(out.alpha, photo.alpha))
    assert (out.pixels[mask] != np.iinfo(dtype).max).mean() > 0.5  # the white damage was filled
    # A model needs a window twice the 90 px scratch: more than this photo has, so it says so.
    expected = ["region 1 (x=10, y=5, 90x2 px): hole too large for the photo"] if method == "latent" else []
    assert [w.split(" (it needs")[0] for w in result.warnings] == expected


def test_auto_sends_each_region_to_its_method(gan_path):
    mask = _mask()
    job = restore(_photo(), mask, RestoreOptions(model=gan_path, box=BOX, **FAST))
    events, result = _events(job)
    started = [e for e in events if isinstance(e, RegionStarted)]
    by_method = {e.method: e for e in started}
    assert set(by_method) == {"diffusion", "latent", "patch"}
    assert "thin scratch" in by_method["diffusion"].reason
    assert "face box" in by_method["latent"].reason
    assert by_method["latent"].box == BOX  # the user's box is the window
    assert "outside a face box" in by_method["patch"].reason
    assert [r.reason for r in result.patches] == [e.reason for e in started]


def test_auto_without_a_face_model_falls_back_to_patch_fill(monkeypatch):
    monkeypatch.setitem(weights.DEFAULT_MODELS, "dcgan", "no-such-model")
    events, result = _events(restore(_photo(), _mask(), RestoreOptions(box=BOX)))
    face = [e for e in events if isinstance(e, RegionStarted) and e.box.left > 30 and e.box.top > 30]
    assert all(r.method in ("diffusion", "patch") for r in result.patches)
    assert any("no face model" in e.reason for e in face)


def test_events_arrive_in_order_with_lazy_previews(gan_path):
    mask = np.zeros((112, 128), dtype=bool)
    mask[50:62, 48:60] = True
    options = RestoreOptions(
        method="latent", model=gan_path, box=BOX, iterations=3, starts=2, preview_all=True
    )
    events, result = _events(restore(_photo(channels=1), mask, options))
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["RegionStarted", "RegionProgress", "RegionProgress", "RegionProgress", "RegionFinished"]
    progress = [e for e in events if isinstance(e, RegionProgress)]
    assert [p.iteration for p in progress] == [1, 2, 3] and all(p.total == 3 for p in progress)
    preview = progress[0].preview()
    assert preview.shape == (64, 64, 1) and preview.dtype == np.float32
    assert preview.min() >= 0 and preview.max() <= 1
    assert len(progress[-1].previews()) == 2
    finished = events[-1].patch
    assert isinstance(events[-1], RegionFinished) and finished is result.patches[0]
    assert len(finished.candidates) == 2 and finished.losses == sorted(finished.losses)
    assert finished.candidates[0].shape == (64, 64, 1)


def test_should_stop_returns_none_promptly(gan_path):
    mask = _mask()
    calls = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) > 3

    options = RestoreOptions(method="latent", model=gan_path, iterations=1000, starts=2)
    events, result = _events(restore(_photo(), mask, options, should_stop))
    assert result is None
    assert sum(isinstance(e, RegionProgress) for e in events) <= 3


def test_reblend_changes_only_that_regions_hole(gan_path):
    mask = _mask()
    photo = _damaged(_photo(), mask)
    options = RestoreOptions(model=gan_path, box=BOX, iterations=2, starts=3, device="cpu")
    _, result = _events(restore(photo, mask, options))
    restored = apply_result(photo, result).pixels
    face = next(r for r in result.patches if r.method == "latent")
    assert len(face.candidates) == 3
    again = restored.copy()
    other = choose(again, face, 2)
    apply_patch(again, other)
    changed = np.any(again != restored, axis=2)
    allowed = np.zeros_like(mask)
    allowed[face.box.slices] = face.hole
    assert changed.any() and not (changed & ~allowed).any()
    assert other.chosen == 2 and face.chosen == 0  # choosing makes a new patch
    back = choose(again, other, 0)
    apply_patch(again, back)
    assert np.array_equal(again, restored)
    with pytest.raises(RestorerError, match="candidate"):
        choose(restored, face, 3)


def test_too_large_hole_is_reported_not_filled(gan_path):
    photo = _photo()
    mask = np.zeros((112, 128), dtype=bool)
    mask[10:100, 10:120] = True  # needs a 220 px window in a 128 x 112 photo
    _, result = _events(restore(photo, mask, RestoreOptions(method="latent", model=gan_path, **FAST)))
    assert result.patches == []
    assert (
        len(result.warnings) == 1 and "too large" in result.warnings[0] and "not filled" in result.warnings[0]
    )
    assert np.array_equal(apply_result(photo, result).pixels, photo.pixels)


def test_a_face_box_mostly_damaged_is_filled_with_a_warning(gan_path):
    photo = _photo()
    box_mask = np.zeros((112, 128), dtype=bool)
    box_mask[30:80, 30:80] = True  # 61 % of the 64 x 64 face box: the paper's "half" case and worse
    _, boxed = _events(restore(photo, box_mask, RestoreOptions(model=gan_path, box=BOX, **FAST)))
    assert [p.method for p in boxed.patches] == ["latent"] and boxed.patches[0].hole_pixels == 2500
    assert "61%" in boxed.warnings[0] and "check the result" in boxed.warnings[0]
    # the paper's "random 80%": four pixels in five of the box missing
    random80 = np.zeros_like(box_mask)
    random80[BOX.slices] = np.random.default_rng(0).random((64, 64)) < 0.8
    options = RestoreOptions(method="latent", model=gan_path, box=BOX, **FAST)
    _, result = _events(restore(photo, random80, options))
    filled = np.zeros_like(random80)
    for patch in result.patches:
        filled[patch.box.slices] |= patch.hole
    assert np.array_equal(filled, random80) and {p.method for p in result.patches} == {"latent"}
    assert any("80%" in w or "79%" in w or "81%" in w for w in result.warnings)


def test_auto_sends_only_face_damage_inside_the_box_to_the_face_model(gan_path):
    mask = np.zeros((112, 128), dtype=bool)
    mask[50:62, 50:62] = True  # on the face: the box's centre
    mask[76:86, 26:38] = True  # bottom-left corner of the box: a collar, fabric, background
    _, result = _events(restore(_photo(), mask, RestoreOptions(model=gan_path, box=BOX, **FAST)))
    by_method = {p.method: p for p in result.patches}
    assert set(by_method) == {"latent", "patch"}
    assert by_method["latent"].hole[26:38, 26:38].all()  # the face hole, in box coordinates
    assert "over hair, clothes or background (0% on the face)" in by_method["patch"].reason
    assert by_method["patch"].hole_pixels == 120


def test_sepia_print_gets_a_sepia_fill(gan_path):
    rng = np.random.default_rng(3)
    y = np.clip(0.5 + 0.2 * rng.standard_normal((112, 128)), 0.1, 0.9)
    sepia = np.stack([y * 1.25, y * 0.95, y * 0.62], axis=-1).clip(0, 1)
    photo = Photo(np.round(sepia * 255).astype(np.uint8), None, None, None, "PNG")
    mask = np.zeros((112, 128), dtype=bool)
    mask[50:62, 48:60] = True
    options = RestoreOptions(method="latent", model=gan_path, box=BOX, blend=False, **FAST)
    _, result = _events(restore(photo, mask, options))
    assert result.patches[0].params["tone"] == "toned"
    filled = rgb_to_ycbcr(apply_result(photo, result).pixels[mask].astype(np.float32) / 255)[:, 1:]
    direction = rgb_to_ycbcr(sepia[~mask])[:, 1:].mean(axis=0)
    cosine = filled @ direction / (np.linalg.norm(filled, axis=1) * np.linalg.norm(direction) + 1e-9)
    assert np.median(cosine) > 0.95


def test_context_encoder_fills_one_candidate(ce_path):
    mask = _mask()
    mask[5:7] = False  # no scratch: a model could not fill it from this small photo
    photo = _damaged(_photo(channels=1, dtype=np.uint16), mask)
    _, result = _events(restore(photo, mask, RestoreOptions(method="context-encoder", model=ce_path)))
    assert [r.method for r in result.patches] == ["context-encoder"] * 2
    assert all(len(r.candidates) == 1 for r in result.patches)
    assert np.array_equal(apply_result(photo, result).pixels[~mask], photo.pixels[~mask])


def test_window_clipped_by_a_small_photo(gan_path):
    photo = _photo(size=(40, 100))
    mask = np.zeros((40, 100), dtype=bool)
    mask[15:25, 45:55] = True
    events, result = _events(restore(photo, mask, RestoreOptions(method="latent", model=gan_path, **FAST)))
    assert events[0].box.xywh() == (18, 0, 64, 40)
    assert result.patches[0].candidates[0].shape == (40, 64, 3)
    assert np.array_equal(apply_result(photo, result).pixels[~mask], photo.pixels[~mask])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (RestoreOptions(iterations=0), "iterations"),
        (RestoreOptions(starts=0), "starts"),
        (RestoreOptions(method="magic"), "unknown method"),
        (RestoreOptions(box=Bounds.from_xywh((100, 100, 50, 50))), "outside"),
        (RestoreOptions(lam=-1.0), "λ"),
    ],
)
def test_bad_options_are_refused_before_any_work(options, message):
    with pytest.raises(RestorerError, match=message):
        restore(_photo(), _mask(), options)


def test_bad_mask_and_wrong_model_kind_are_refused(ce_path):
    with pytest.raises(RestorerError, match="mask is 10x10"):
        restore(_photo(), np.zeros((10, 10), dtype=bool))
    with pytest.raises(RestorerError, match="context-encoder model"):
        restore(_photo(), _mask(), RestoreOptions(method="latent", model=ce_path))


def test_intervention_record_is_json_with_model_checksum(gan_path):
    options = RestoreOptions(model=gan_path, box=BOX, **FAST)
    photo = _photo()
    _, result = _events(restore(photo, _mask(), options))
    record = json.loads(json.dumps(intervention_record(photo, [result], {"output": "out.png"})))
    entry = record["restorations"][0]
    face = next(r for r in entry["regions"] if r["method"] == "latent")
    assert face["model"]["sha256"] == weights.read_payload(gan_path)["sha256"]
    assert face["parameters"]["iterations"] == 2 and face["parameters"]["seed"] >= 0
    assert entry["hole_pixels"] == int(_mask().sum())
    assert entry["options"]["box"] == [24, 24, 64, 64] and entry["options"]["lambda"] == options.lam
    assert record["files"] == {"output": "out.png"}
    assert record["date"][:2] == "20" and "T" in record["date"]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_fills_get_the_photos_grain_unless_switched_off(dtype):
    """A smooth diffusion fill on a grainy scan gets the grain of the ring around it; --no-grain
    keeps the plain fill; either way only the hole's pixels change."""
    rng = np.random.default_rng(4)
    top = np.iinfo(dtype).max
    base = np.linspace(0.3, 0.6, 128)[None, :, None] * np.ones((112, 128, 3))
    grainy = np.clip(base + rng.normal(0, 0.04, base.shape), 0, 1)
    pixels = np.round(grainy * top).astype(dtype)
    mask = np.zeros((112, 128), bool)
    mask[52:58, 40:90] = True  # a wide scratch: diffusion would leave it smooth
    photo = Photo(pixels, None, None, None, "PNG")
    results = {}
    for grain in (True, False):
        options = RestoreOptions(method="diffusion", grain=grain)
        result = run_to_end(restore(photo, mask, options))
        out = apply_result(photo, result).pixels
        assert np.array_equal(out[~mask], pixels[~mask])
        assert result.patches[0].params["grain"] is grain
        results[grain] = out.astype(np.float64) / top
    ring = np.abs(np.diff(grainy[40:48, 40:90], axis=1)).mean()  # grain's pixel-to-pixel steps
    plain = np.abs(np.diff(results[False][53:57, 42:88], axis=1)).mean()
    grained = np.abs(np.diff(results[True][53:57, 42:88], axis=1)).mean()
    assert plain < 0.3 * ring  # the fill alone is plastic-smooth
    assert 0.6 * ring < grained < 1.4 * ring  # matched within 40% in the high band


def test_grain_is_measured_around_the_hole_on_the_whole_photo():
    """The levels a region records are the photo's ring around its hole, read beyond its window and
    leaving out damage not filled yet: what photo_grain measures on the whole photo."""
    from restorer.core.grain import photo_grain

    rng = np.random.default_rng(5)
    pixels = np.round(np.clip(0.5 + rng.normal(0, 0.05, (150, 160, 3)), 0, 1) * 255).astype(np.uint8)
    mask = np.zeros((150, 160), bool)
    mask[60:64, 30:120] = True  # a scratch: diffusion's window is tight, the ring reaches beyond it
    mask[75:90, 50:52] = True  # a later scratch inside the ring: pending damage, not grain
    photo = Photo(pixels, None, None, None, "PNG")
    result = run_to_end(restore(photo, mask, RestoreOptions(method="diffusion")))
    first = result.patches[0]
    hole = np.zeros_like(mask)
    hole[first.box.slices] = first.hole
    expected = photo_grain(pixels, hole, mask & ~hole)
    assert first.box.height < 60 and first.params["grain_levels"] == expected.levels.round(6).tolist()
    assert first.params["grain_correlation"] == expected.correlation.round(4).tolist()


def test_starts_are_bounded_and_memory_is_estimated_before_work(monkeypatch):
    from restorer.core import pipeline
    from restorer.core.types import MAX_STARTS

    photo = Photo(np.zeros((40, 40, 3), np.uint8), None, None, None, "PNG")
    mask = np.zeros((40, 40), bool)
    mask[10:20, 10:20] = True
    with pytest.raises(RestorerError, match=f"between 1 and {MAX_STARTS}"):
        pipeline.restore(photo, mask, RestoreOptions(method="latent", starts=MAX_STARTS + 1))
    big = RestoreOptions(method="latent", starts=MAX_STARTS)
    assert pipeline.job_memory(photo, big) > MAX_STARTS * 2_000_000
    monkeypatch.setattr(pipeline, "available_memory", lambda: 100 * 2**20)  # 100 MiB free
    with pytest.raises(RestorerError, match=r"needs about 2\.\d GiB of memory and 0\.1 GiB is free"):
        pipeline.restore(photo, mask, big)
    pipeline.restore(photo, mask, RestoreOptions(method="diffusion"))  # small: fits
