"""`restorer eval` and restorer.training.evaluate on tiny images with tiny random models."""

from __future__ import annotations

import json
import sys
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from restorer.cli import build_parser, main
from restorer.core import methods
from restorer.core.errors import RestorerError
from restorer.core.jobs import run_to_end
from restorer.core.methods.base import FrameBatch
from restorer.core.networks import ContextEncoder, ContextEncoderArch, Discriminator, GanArch, Generator
from restorer.core.patches import compose
from restorer.core.types import RestoreOptions
from restorer.core.weights import load_model, save_weights
from restorer.training import evaluate as ev
from restorer.training.masks import MASK_TYPES

ENGINE_METHODS = ("diffusion", "tv", "patch", "latent", "context-encoder")


def _face(seed: int, size: int = 80) -> np.ndarray:
    """A smooth colour image (gradients plus a soft blob), so classical fills have something to get right."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    cy, cx = rng.uniform(0.3, 0.7, 2)
    blob = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 0.05)
    channels = [
        rng.uniform(0.2, 0.8) * x + rng.uniform(0.2, 0.8) * y * (1 - blob) + 0.3 * blob for _ in range(3)
    ]
    return np.round(np.clip(np.stack(channels, -1), 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    gan = GanArch(ngf=8, ndf=8)
    gan_path = save_weights(
        folder / "tiny-gan.pt",
        "dcgan",
        gan,
        {"generator": Generator(gan), "discriminator": Discriminator(gan)},
    )
    ce = ContextEncoderArch(nef=8, ndf=8)
    ce_path = save_weights(
        folder / "tiny-ce.pt", "context-encoder", ce, {"context_encoder": ContextEncoder(ce)}
    )
    return {"gan": str(gan_path), "ce": str(ce_path)}


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faces")
    for i in range(2):
        Image.fromarray(_face(i)).save(folder / f"{i}.png")
    return folder


@pytest.fixture(scope="module")
def image_zip(tmp_path_factory):
    path = tmp_path_factory.mktemp("zip") / "val.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(2):
            with zf.open(f"{i + 1}.webp", "w") as f:
                Image.fromarray(_face(10 + i)).save(f, format="WEBP", lossless=True)
    return path


def _run(data, out, models, *extra: str) -> int:
    return main(
        [
            "eval",
            "--data",
            str(data),
            "--model",
            models["gan"],
            "--ce-model",
            models["ce"],
            "--out",
            str(out),
            *extra,
        ]
    )


def test_eval_folder_all_methods_writes_table_json_and_grid(image_folder, models, tmp_path, capsys):
    out = tmp_path / "run"
    rc = _run(image_folder, out, models, "--masks", "center,random80", "--iterations", "1", "--starts", "1")
    assert rc == 0, capsys.readouterr().err
    table = (out / "results.md").read_text()
    assert "2 images, 64x64" in table and "whole 64x64 image" in table
    rows = [
        line for line in table.splitlines() if line.startswith("| center") or line.startswith("| random80")
    ]
    assert len(rows) == 2
    names = ev.EvalSettings().methods
    assert names == tuple(methods.methods()) and set(ENGINE_METHODS) <= set(names)  # default: all
    assert rows[0].count(" / ") == len(names) * 2 + 1  # each method x (paste, blend) + the paper's column
    assert "21.3 / 19.4" in rows[0] and "20.6 / 22.8" in rows[1]
    assert "images/s" in table and "iterations 1, starts 1" in table

    record = json.loads((out / "results.json").read_text())
    assert record["n_images"] == 2 and record["resolution"] == 64
    assert {(c["mask"], c["method"], c["blend"]) for c in record["results"]} == {
        (m, meth, b) for m in ("center", "random80") for meth in names for b in ev.BLENDS
    }
    for cell in record["results"]:
        assert len(cell["psnr_db"]) == len(cell["ssim"]) == 2
        assert 0 < cell["psnr_mean_db"] < ev.PSNR_CAP_DB and -1 <= cell["ssim_mean"] <= 1
    assert record["models"]["latent"]["name"] == "tiny-gan"
    assert record["models"]["context-encoder"]["name"] == "tiny-ce"
    assert set(record["models"]) == {"latent", "context-encoder"}  # classical methods need no model

    grid = np.asarray(Image.open(out / "grid.png"))
    tile = 64 * 2 + 2
    # 2 mask types x 2 examples rows; damaged + each method + truth columns
    assert grid.shape == (16 + 4 * tile + 2, (len(names) + 2) * tile + 2, 3)


def test_eval_zip_diffusion_scores_are_plausible(image_zip, models, tmp_path, capsys):
    out = tmp_path / "zip-run"
    assert _run(image_zip, out, models, "--methods", "diffusion", "--limit", "2", "--examples", "1") == 0
    record = json.loads((out / "results.json").read_text())
    cells = {(c["mask"], c["blend"]): c for c in record["results"]}
    assert {m for m, _ in cells} == set(MASK_TYPES)
    # smooth images: diffusion recovers them well where context surrounds the hole, worst on a half
    assert cells["center", "paste"]["psnr_mean_db"] > 20
    assert cells["half", "paste"]["psnr_mean_db"] < cells["center", "paste"]["psnr_mean_db"]
    # diffusion meets the hole's edge: pasted in the blend column too, as in the app
    assert cells["center", "blend"]["psnr_db"] == cells["center", "paste"]["psnr_db"]
    assert "diffusion paste" in (out / "results.md").read_text()
    assert np.asarray(Image.open(out / "grid.png")).shape[0] == 16 + 4 * (64 * 2 + 2) + 2


def test_known_pixels_are_kept_and_no_truth_leaks(image_folder):
    settings = ev.EvalSettings(masks=("pattern",), methods=("diffusion",), examples=2)
    result = run_to_end(ev.evaluate([image_folder], settings))
    ex = result.examples["pattern"]
    holes = ev.make_holes("pattern", 2, 64, settings.seed)
    assert np.array_equal(ex["diffusion"][~holes], ex["truth"][~holes])
    assert (ex["damaged"][holes] == round(ev.HOLE_FILL_VALUE * 255)).all()
    assert not np.array_equal(ex["diffusion"][holes], ex["truth"][holes])


def test_holes_depend_only_on_seed_type_and_index():
    a = ev.make_holes("pattern", 3, 64, seed=5)
    assert np.array_equal(a[:2], ev.make_holes("pattern", 2, 64, seed=5))
    assert not np.array_equal(a, ev.make_holes("pattern", 3, 64, seed=6))
    assert ev.make_holes("center", 2, 64, 0).mean() == 0.25


def test_perfect_fill_has_infinite_psnr_handled():
    truth = np.stack([_face(3, 64), _face(4, 64)])
    psnr, ssim = ev.score(truth, truth)
    assert np.isinf(psnr).all() and np.allclose(ssim, 1.0)
    off = truth.copy()
    off[1, 0, 0, 0] ^= 1  # one 8-bit level in one pixel
    p, _ = ev.score(truth, off)
    assert np.isinf(p[0]) and 80 < p[1] < ev.PSNR_CAP_DB
    assert ev.mean_psnr(np.array([np.inf, 30.0])) == pytest.approx((ev.PSNR_CAP_DB + 30.0) / 2)

    result = ev.EvalResult(
        ev.EvalSettings(masks=("center",), methods=("diffusion",)), ["x"], 64, 2, "cpu", {}
    )
    for blend in ev.BLENDS:
        result.psnr["center", "diffusion", blend] = psnr
        result.ssim["center", "diffusion", blend] = ssim
    record = ev.results_json(result)
    json.dumps(record, allow_nan=False)  # strict JSON: no Infinity
    assert record["results"][0]["psnr_db"] == [None, None] and record["results"][0]["perfect_fills"] == 2
    assert f"{ev.PSNR_CAP_DB:.2f} / 1.000" in ev.results_markdown(result)


def test_batched_context_encoder_matches_single_image_fill(models):
    from restorer.core.context_fill import fill_with_context_encoder

    model = load_model(models["ce"])
    truth = np.stack([_face(5, 64), _face(6, 64)])
    holes = ev.make_holes("pattern", 2, 64, 0)
    damaged = ev.damage(truth, holes)
    method = methods.get("context-encoder")
    batched = run_to_end(method.fill_frames(FrameBatch(damaged, holes, RestoreOptions(), model)))
    for img, hole, got in zip(damaged, holes, batched, strict=True):
        single = fill_with_context_encoder(
            model.nets["context_encoder"],
            torch.from_numpy(img).permute(2, 0, 1) * 2 - 1,
            torch.from_numpy(hole),
        )
        assert np.allclose(got, (single.permute(1, 2, 0).numpy() + 1) / 2, atol=1e-5)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--methods", "latent,contxt-encoder", "unknown method 'contxt-encoder'"),
        ("--masks", "centre", "unknown mask"),
    ],
)
def test_name_typo_is_usage_error(image_folder, tmp_path, capsys, option, value, message):
    assert main(["eval", "--data", str(image_folder), option, value, "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_wrong_model_kind_and_missing_data_are_clear_errors(image_folder, models, tmp_path, capsys):
    out = tmp_path / "o"
    rc = main(
        [
            "eval",
            "--data",
            str(image_folder),
            "--methods",
            "latent",
            "--model",
            models["ce"],
            "--out",
            str(out),
        ]
    )
    assert rc == 1 and "a dcgan model is needed" in capsys.readouterr().err
    rc = main(["eval", "--data", str(tmp_path / "nowhere"), "--methods", "diffusion", "--out", str(out)])
    assert rc == 1 and "not found" in capsys.readouterr().err
    assert not out.exists()
    out.write_text("not a folder")
    rc = main(["eval", "--data", str(image_folder), "--methods", "diffusion", "--out", str(out)])
    assert rc == 1 and "is not a folder" in capsys.readouterr().err
    assert out.read_text() == "not a folder"


def test_stopping_returns_none(image_folder):
    settings = ev.EvalSettings(masks=("center", "half"), methods=("diffusion",))
    calls = []
    job = ev.evaluate([image_folder], settings, should_stop=lambda: calls.append(1) or True)
    assert run_to_end(job) is None
    assert len(calls) == 1  # stopped after the first batch, before the second mask type


def test_command_names_match_the_engine():
    from restorer.commands import eval as eval_command

    assert tuple(MASK_TYPES) == eval_command.MASK_TYPES
    parser = build_parser()
    parsed = parser.parse_args(["eval", "--data", "x", "--out", "y"])
    assert parsed.methods == ev.EvalSettings().methods == tuple(methods.methods())
    assert parsed.masks == ev.EvalSettings().masks


def test_blend_column_is_what_the_app_puts_in(image_folder, models):
    settings = ev.EvalSettings(
        masks=("center",), methods=("context-encoder", "diffusion"), ce_model=models["ce"], examples=2
    )
    result = run_to_end(ev.evaluate([image_folder], settings))
    truth = result.examples["center"]["truth"]
    holes = ev.make_holes("center", 2, 64, settings.seed)
    frames = ev.damage(truth, holes)
    damaged = result.examples["center"]["damaged"]
    method = methods.get("context-encoder")
    fills = run_to_end(
        method.fill_frames(FrameBatch(frames, holes, settings.options(method.name), load_model(models["ce"])))
    )
    for i in range(2):
        expected = damaged[i].copy()
        expected[holes[i]] = compose(damaged[i], holes[i], fills[i], blend=True)  # as restorer.core.pipeline
        assert np.array_equal(result.examples["center"]["context-encoder"][i], expected)
    ce = [result.psnr["center", "context-encoder", b] for b in ev.BLENDS]
    assert not np.array_equal(*ce) and (ce[1] > ce[0]).all()  # blending helps an untrained model
    assert np.array_equal(*(result.psnr["center", "diffusion", b] for b in ev.BLENDS))  # pasted


def test_latent_method_checks_its_model(image_folder, tmp_path):
    torch.manual_seed(0)
    gan = GanArch(ngf=8, ndf=8)
    no_critic = save_weights(tmp_path / "no-critic.pt", "dcgan", gan, {"generator": Generator(gan)})
    settings = ev.EvalSettings(masks=("center",), methods=("latent",), model=str(no_critic))
    with pytest.raises(RestorerError, match="has no discriminator, which the latent method needs"):
        run_to_end(ev.evaluate([image_folder], settings))
    with pytest.raises(RestorerError, match="unknown method 'classic'"):
        ev.EvalSettings(methods=("classic",)).check()  # a router picks methods; it is not one


TOY_METHOD = '''
"""A toy fill method: every hole pixel a quarter grey."""

from restorer.core.methods.base import FillMethod, single


class QuarterGrey(FillMethod):
    name = "toy"
    label = "Toy (quarter grey)"
    summary = "paints every hole a quarter grey"
    order = 1000

    def fill(self, request):
        candidate = request.window.copy()
        candidate[request.unknown] = 0.25
        return single(request, candidate)


METHOD = QuarterGrey()
'''


def test_a_method_added_as_one_file_is_evaluated(image_folder, tmp_path, monkeypatch, capsys):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "toy.py").write_text(TOY_METHOD)  # the only file a new method needs
    monkeypatch.setattr(methods, "__path__", [*methods.__path__, str(plugins)])
    monkeypatch.setattr(methods, "_found", None)
    monkeypatch.setattr(methods, "_searched", ())
    monkeypatch.delitem(sys.modules, "restorer.core.methods.toy", raising=False)
    try:
        assert main(["eval", "--help"]) == 0
        assert "toy" in capsys.readouterr().out
        out = tmp_path / "run"
        rc = main(
            [
                "eval",
                "--data",
                str(image_folder),
                "--methods",
                "toy",
                "--masks",
                "center,half",
                "--out",
                str(out),
            ]
        )
        assert rc == 0, capsys.readouterr().err
        record = json.loads((out / "results.json").read_text())
        assert {(c["mask"], c["method"], c["blend"]) for c in record["results"]} == {
            (m, "toy", b) for m in ("center", "half") for b in ev.BLENDS
        }
        assert record["models"] == {} and record["resolution"] == ev.MODEL_FREE_RESOLUTION
        cells = {(c["mask"], c["blend"]): c for c in record["results"]}
        assert cells["center", "paste"]["psnr_db"] == cells["center", "blend"]["psnr_db"]  # it does not blend
        assert 0 < cells["half", "paste"]["psnr_mean_db"] < cells["center", "paste"]["psnr_mean_db"]
        assert "| toy paste | toy blend |" in (out / "results.md").read_text()
        grid = np.asarray(Image.open(out / "grid.png"))
        assert grid.shape[1] == 3 * (64 * 2 + 2) + 2  # damaged, toy, truth

        result = run_to_end(ev.evaluate([image_folder], ev.EvalSettings(masks=("center",), methods=("toy",))))
        holes = ev.make_holes("center", 2, 64, 0)
        assert (result.examples["center"]["toy"][holes] == 64).all()  # 0.25 * 255, rounded
        assert "toy" in ev.EvalSettings().methods  # every registered method by default
    finally:
        sys.modules.pop("restorer.core.methods.toy", None)
