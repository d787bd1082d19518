"""The trained damage detector: training end to end, tiled inference, and `restorer detect`.

The quality tests on the shipped network (`models/detector.pt`) use drawn damage on photos the
detector never trained on (a synthetic print here); `benchmarks/detector_quality.py` measures it on
held-out Kodak and FairFace photos. Thresholds sit well below what the shipped model measures (noted
at each test) and well above what an untrained or a "flag every edge" detector scores.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from synthetic_photos import clean_photo, near, tiny_detector

from restorer.cli import main
from restorer.core.detect_learned import damage_probability, detect_damage_learned, installed_detector
from restorer.core.detector_net import DetectorArch
from restorer.core.errors import RestorerError
from restorer.core.weights import load_model
from restorer.training.detector import DetectorTrainConfig, train_detector
from restorer.training.detector_data import damaged_pair, load_clean_photos
from restorer.training.synthetic_damage import apply_damage, crack_mask

SHIPPED = Path(__file__).resolve().parents[1] / "models" / "detector.pt"


def _drain(gen) -> tuple[list[dict], Path]:
    """Run a training generator to its end: (the steps it yielded, the path it returned)."""
    steps = []
    try:
        while True:
            steps.append(next(gen))
    except StopIteration as done:
        return steps, done.value


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A detector trained for a few steps on a folder of generated prints, then exported."""
    root = tmp_path_factory.mktemp("det")
    data = root / "photos"
    data.mkdir()
    for i in range(3):
        Image.fromarray(clean_photo(i, 96)).save(data / f"print{i}.png")
    cfg = DetectorTrainConfig(
        data=[str(data)], out=str(root / "run"), size=32, steps=3, batch=2, base=4, depth=2
    )
    steps, path = _drain(train_detector(cfg))
    assert [s["step"] for s in steps] == [1, 2, 3]
    assert all(np.isfinite(s["loss"]) for s in steps)
    return path


def test_a_tiny_detector_trains_exports_and_detects(tiny_model):
    model = load_model(tiny_model)
    assert model.kind == "detector"
    assert model.arch == DetectorArch(base=4, depth=2, crop=32, stem_stride=2)  # the default now
    assert model.provenance["steps"] == 3
    photo = clean_photo(7, 70)  # not a multiple of the net's 4: inference pads
    prob = damage_probability(photo, model)
    assert prob.shape == (70, 70) and prob.dtype == np.float32
    assert prob.min() >= 0.0 and prob.max() <= 1.0
    mask = detect_damage_learned(photo, 0.5, model)
    assert mask.dtype == bool and mask.shape == (70, 70)
    assert np.array_equal(mask, prob > 0.5)


def test_training_resumes_from_its_checkpoint(tiny_model, tmp_path):
    run = Path(tiny_model).parent
    cfg = DetectorTrainConfig(
        data=[str(run.parent / "photos")],
        out=str(run),
        size=32,
        steps=5,
        batch=2,
        base=4,
        depth=2,
        resume=True,
    )
    steps = [s["step"] for s in _drain(train_detector(cfg))[0]]
    assert steps == [4, 5]  # went on from step 3, not from the start


def test_the_held_out_faces_are_refused_as_training_data(tmp_path):
    fake = tmp_path / "val.zip"
    fake.write_bytes(b"")
    with pytest.raises(RestorerError, match="held out"):
        load_clean_photos([fake])


@pytest.mark.parametrize("stem_stride", [1, 2])
def test_tiles_agree_with_one_pass(tmp_path, stem_stride):
    """Tiles start on the net's grid, so a strided net samples each tile as it would the whole photo
    (160 px with 64-px tiles: the last tile starts off the step, snapped to the grid)."""
    model = load_model(tiny_detector(tmp_path / "d.pt", stem_stride))
    photo = clean_photo(3, 166)
    whole = damage_probability(photo, model, tile=512, overlap=0)
    assert whole.std() > 0.1  # measured 0.16: the comparison below means something
    tiled = damage_probability(photo, model, tile=64, overlap=24)
    butted = damage_probability(photo, model, tile=64, overlap=0)
    diff, seams = np.abs(whole - tiled), np.abs(whole - butted)
    # Measured: overlapping tiles mean 0.0003, max 0.014; butted tiles mean 0.002, max 0.44 (seams).
    assert diff.mean() < 0.002 and diff.max() < 0.05
    assert seams.max() > 4 * diff.max()  # the overlap's blend is what removes the seams


def test_sixteen_bit_and_grey_photos_give_the_same_answer_as_eight_bit(tiny_model):
    model = load_model(tiny_model)
    photo8 = clean_photo(5, 64)
    photo16 = photo8.astype(np.uint16) * 257
    grey8 = photo8[..., 0]
    p8 = damage_probability(photo8, model)
    assert np.allclose(damage_probability(photo16, model), p8, atol=1e-4)
    assert np.allclose(damage_probability(grey8, model), damage_probability(np.dstack([grey8] * 3), model))


def test_bad_pixels_and_thresholds_are_refused(tiny_model):
    model = load_model(tiny_model)
    with pytest.raises(RestorerError, match="8- or 16-bit"):
        damage_probability(np.zeros((40, 40, 3), np.float32), model)
    with pytest.raises(RestorerError, match="between 0 and 1"):
        detect_damage_learned(clean_photo(1, 40), 1.5, model)


def test_training_pairs_mark_damage_and_leave_clean_crops_unmarked():
    clean = clean_photo(2, 128)
    marked = [damaged_pair(clean, np.random.default_rng(s)) for s in range(30)]
    fractions = [m.mean() for _, m in marked]
    assert any(f == 0 for f in fractions), "some crops must stay clean (pure negatives)"
    assert max(fractions) > 0.005
    for img, m in marked:
        assert img.shape == (128, 128, 3) and img.dtype == np.uint8 and m.shape == (128, 128)


# ----- the shipped detector -----

shipped = pytest.mark.skipif(
    not SHIPPED.is_file(), reason="models/detector.pt is not shipped in this checkout"
)


@shipped
def test_the_shipped_detector_is_installed_and_checked():
    assert installed_detector() is not None
    model = load_model(SHIPPED)
    assert model.kind == "detector"


@shipped
def test_the_shipped_fast_detector_is_the_strided_one():
    path = installed_detector(fast=True)
    assert path is not None and path.name == "detector-fast.pt"
    model = load_model(path)
    assert model.kind == "detector" and model.arch.stem_stride == 2


@shipped
@pytest.mark.parametrize("fast", [False, True])
def test_a_drawn_crack_network_is_found(fast):
    photo = clean_photo(11, 320)
    rng = np.random.default_rng(5)
    truth = crack_mask(photo.shape, rng, count=8)
    damaged = apply_damage(photo, truth, rng, "crack")
    found = detect_damage_learned(damaged, model=installed_detector(fast=fast))
    recall = (truth & near(found)).sum() / truth.sum()
    precision = (found & near(truth)).sum() / max(found.sum(), 1)
    # The classic detector finds ~0.5 of such a network; the shipped network measures far more.
    assert recall > 0.7, recall
    assert precision > 0.7, precision


def _text_and_lines(size: int = 320) -> np.ndarray:
    im = Image.fromarray(clean_photo(13, size))
    draw = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=18)
    for row, words in enumerate(("Grand Hotel 1923", "No. 17 avenue", "PHOTO STUDIO Ltd")):
        draw.text((12, 20 + 40 * row), words, fill=(20, 20, 20), font=font)
    for k in range(160, size, 22):  # a window-frame grid of thin bars
        draw.line((k, 150, k, size), fill=(235, 235, 235), width=2)
        draw.line((150, k, size, k), fill=(235, 235, 235), width=2)
    draw.line((0, 140, size, 146), fill=(10, 10, 10), width=1)  # a ruled line
    return np.asarray(im)


@shipped
@pytest.mark.parametrize("fast", [False, True])
def test_printed_text_and_thin_lines_are_not_flagged(fast):
    flagged = detect_damage_learned(_text_and_lines(), model=installed_detector(fast=fast)).mean()
    # Picture content, not damage: drawn text covers ~3% and the bars ~10% of the photo.
    assert flagged < 0.01, flagged


@shipped
def test_detect_command_uses_the_learned_detector_with_a_threshold(tmp_path, capsys):
    photo = clean_photo(17, 200)
    rng = np.random.default_rng(1)
    truth = crack_mask(photo.shape, rng, count=4)
    path = tmp_path / "p.png"
    Image.fromarray(apply_damage(photo, truth, rng, "crack")).save(path)
    low, high = tmp_path / "low.png", tmp_path / "high.png"
    assert main(["detect", str(path), "-o", str(low), "--threshold", "0.2"]) == 0
    assert main(["detect", str(path), "-o", str(high), "--threshold", "0.8"]) == 0
    assert "learned detector" in capsys.readouterr().out
    n_low = (np.asarray(Image.open(low)) > 0).sum()
    n_high = (np.asarray(Image.open(high)) > 0).sum()
    assert n_low > n_high > 0
    fast = tmp_path / "fast.png"
    assert main(["detect", str(path), "-o", str(fast), "--detector", "fast"]) == 0
    assert "fast detector" in capsys.readouterr().out
    damaged = np.asarray(Image.open(path).convert("RGB"))
    expected = detect_damage_learned(damaged, model=installed_detector(fast=True))
    assert np.array_equal(np.asarray(Image.open(fast)) > 0, expected) and expected.any()


@pytest.mark.parametrize(
    ("size", "tile", "step", "multiple"), [(1000, 512, 480, 32), (166, 64, 40, 4), (90, 512, 480, 32)]
)
def test_tiles_start_on_the_nets_grid_and_cover_the_photo(size, tile, step, multiple):
    from restorer.core.detect_learned import _spans

    spans = _spans(size, tile, step, multiple)
    assert spans[0][0] == 0 and spans[-1][1] == size
    assert all(start % multiple == 0 for start, _ in spans)
    assert all(end - start <= tile + multiple - 1 for start, end in spans)
    # Neighbours overlap by at least the blend's width (tile - step), so every pixel is covered.
    assert all(b[0] <= a[1] - (tile - step) for a, b in itertools.pairwise(spans))


def test_a_strided_detector_keeps_full_resolution_and_starts_from_a_full_one(tmp_path):
    """The strided stem halves the U-Net's pixels, yet the output is full size and a 1-px line
    changes the output on the line itself; training can start from a stride-1 detector's filters
    (all tensors of equal shape but the head) and not from a net of another depth."""
    import torch

    from restorer.core.detector_net import DetectorNet
    from restorer.training.detector import _start_weights

    net = DetectorNet(DetectorArch(base=4, depth=2, stem_stride=2)).eval()
    assert net.arch.multiple == 8
    x = torch.zeros(1, 3, 32, 32)
    lined = x.clone()
    lined[..., 17] = 1.0  # a one-pixel column at an odd x: the stride-2 stem still reads it
    with torch.no_grad():
        moved = (net(lined) - net(x))[0, 0].abs().mean(0)  # (32,) mean change per column
    assert net(x).shape == (1, 1, 32, 32)
    assert moved[17] > 1e-4  # a random net: only that the line reaches the output at its column

    full = load_model(tiny_detector(tmp_path / "full.pt"))
    cfg = DetectorTrainConfig(data=[], out=str(tmp_path), init=str(tmp_path / "full.pt"))
    started = _start_weights(cfg, net)
    assert "stem stride 1" in started
    loaded = full.nets["detector"].state_dict()
    own = net.state_dict()
    assert torch.equal(own["stem.0.weight"], loaded["stem.0.weight"])
    assert torch.equal(own["up.0.body.0.1.weight"], loaded["up.0.body.0.1.weight"])
    assert not torch.equal(own["head.bias"], loaded["head.bias"])  # the head stays fresh
    deeper = DetectorNet(DetectorArch(base=4, depth=3, stem_stride=2))
    assert _start_weights(cfg, deeper) == "random"  # the default start does not fit: a fresh net
    named = DetectorTrainConfig(data=[], out=str(tmp_path), init=cfg.init, init_required=True)
    with pytest.raises(RestorerError, match="not a detector with this architecture"):
        _start_weights(named, deeper)  # the user named it: refused, not half-loaded


def test_an_unknown_stem_stride_is_refused(tmp_path):
    import torch

    from restorer.core.weights import content_digest

    path = tiny_detector(tmp_path / "d.pt")
    payload = torch.load(path, weights_only=True)
    payload["arch"]["stem_stride"] = 3
    payload["sha256"] = content_digest(payload)  # a well-formed file with an unknown architecture
    torch.save(payload, path)
    with pytest.raises(RestorerError, match="stem stride"):
        load_model(path)
