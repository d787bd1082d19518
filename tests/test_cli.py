"""`restorer inpaint`, `restorer batch` and `restorer models` through restorer.cli.main."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from restorer.cli import main
from restorer.core import weights
from restorer.core.imageio import Photo, read_photo, write_mask, write_photo
from restorer.core.networks import Discriminator, GanArch, Generator

SIZE = (96, 80)  # w, h
BOX = "8,8,64,64"


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny networks run faster on one thread; two fight over the cores on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _save_gan(path):
    torch.manual_seed(0)
    arch = GanArch(ngf=8, ndf=8)
    return weights.save_weights(
        path, "dcgan", arch, {"generator": Generator(arch), "discriminator": Discriminator(arch)}
    )


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return str(_save_gan(tmp_path_factory.mktemp("models") / "tiny.pt"))


def _write_pair(folder, name="photo", mask_name=None, dtype=np.uint16, seed=0):
    """A 16-bit RGBA photo with white damage, and its mask; returns (photo path, mask path, mask)."""
    w, h = SIZE
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    pixels = (rng.random((h, w, 3)) * 0.5 * top).astype(dtype)
    alpha = np.full((h, w), top, dtype=dtype)
    mask = np.zeros((h, w), dtype=bool)
    mask[30:40, 30:42] = True  # a compact hole inside BOX
    mask[70:72, 5:60] = True  # a thin scratch
    pixels[mask] = top
    photo_path = folder / f"{name}.png"
    mask_path = folder / f"{mask_name or name + '-mask'}.png"
    write_photo(Photo(pixels, alpha, None, None, "PNG"), photo_path)
    write_mask(mask, mask_path)
    return photo_path, mask_path, mask


def _fast(model):
    return ["--model", model, "--iterations", "2", "--starts", "2", "--device", "cpu"]


def test_inpaint_writes_the_photo_candidates_and_record(tmp_path, model, capsys):
    photo, mask_path, mask = _write_pair(tmp_path)
    out = tmp_path / "out.png"
    cands = tmp_path / "cands"
    record = tmp_path / "record.json"
    args = ["inpaint", str(photo), "--mask", str(mask_path), "-o", str(out), "--box", BOX]
    code = main([*args, *_fast(model), "--candidates", str(cands), "--record", str(record)])
    assert code == 0, capsys.readouterr().err
    original, restored = read_photo(photo), read_photo(out)
    assert restored.pixels.dtype == np.uint16 and np.array_equal(restored.alpha, original.alpha)
    assert np.array_equal(restored.pixels[~mask], original.pixels[~mask])
    assert not np.array_equal(restored.pixels[mask], original.pixels[mask])
    names = sorted(p.name for p in cands.iterdir())  # two latent starts, one diffusion fill
    assert names == ["region-01-cand-01.png", "region-01-cand-02.png", "region-02-cand-01.png"]
    assert read_photo(cands / names[0]).size == (64, 64)
    data = json.loads(record.read_text())
    assert {r["method"] for r in data["restorations"][0]["regions"]} == {"latent", "diffusion"}
    assert data["files"]["output"] == str(out)
    err = capsys.readouterr().err
    assert "region 1/2" in err and "wrote" in err


def test_inpaint_refuses_to_overwrite_its_input(tmp_path, capsys):
    photo, mask_path, _ = _write_pair(tmp_path)
    before = photo.read_bytes()
    code = main(["inpaint", str(photo), "--mask", str(mask_path), "-o", str(photo), "--method", "classic"])
    err = capsys.readouterr().err
    assert code == 1 and "refusing to overwrite" in err and err.count("\n") == 1
    assert photo.read_bytes() == before
    code = main(
        [
            "inpaint",
            str(photo),
            "-m",
            str(mask_path),
            "-o",
            str(photo),
            "--method",
            "classic",
            "--overwrite",
            "-q",
        ]
    )
    assert code == 0 and photo.read_bytes() != before


@pytest.mark.parametrize(
    "extra",
    [
        ["--iterations", "0"],
        ["--starts", "-1"],
        ["--box", "1,2,3"],
        ["--box", "0,0,0,5"],
        ["--lambda", "nan"],
        ["--method", "magic"],
        ["--device", "tpu"],
    ],
)
def test_bad_usage_exits_2(tmp_path, extra, capsys):
    code = main(["inpaint", "a.png", "--mask", "m.png", "-o", str(tmp_path / "o.png"), *extra])
    assert code == 2
    assert "error" in capsys.readouterr().err


def test_missing_mask_option_is_bad_usage(capsys):
    assert main(["inpaint", "a.png", "-o", "o.png"]) == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--box", "50,50,60,60"], "outside"),
        (["--model", "no-such-model", "--method", "latent"], "no model named"),
    ],
)
def test_user_errors_exit_1_with_one_line(tmp_path, extra, message, capsys):
    photo, mask_path, _ = _write_pair(tmp_path)
    code = main(["inpaint", str(photo), "--mask", str(mask_path), "-o", str(tmp_path / "o.png"), *extra])
    err = capsys.readouterr().err
    assert code == 1 and message in err
    assert err.startswith("restorer: error: ") and err.count("\n") == 1
    assert not (tmp_path / "o.png").exists()


def test_missing_file_exits_1_with_one_line(tmp_path, capsys):
    _, mask_path, _ = _write_pair(tmp_path)
    code = main(
        ["inpaint", str(tmp_path / "nope.png"), "--mask", str(mask_path), "-o", str(tmp_path / "o.png")]
    )
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("restorer: error: ") and err.count("\n") == 1
    assert "nope.png" in err


def test_batch_goes_past_bad_files(tmp_path, capsys):
    images, masks, out = tmp_path / "images", tmp_path / "masks", tmp_path / "out"
    images.mkdir()
    masks.mkdir()
    _write_pair(images, "a", dtype=np.uint8)
    (images / "a-mask.png").rename(masks / "a-mask.png")
    _write_pair(images, "b", "b_mask", dtype=np.uint8, seed=1)
    (images / "b_mask.png").rename(masks / "b_mask.png")
    _write_pair(images, "c", dtype=np.uint8, seed=2)
    (images / "c-mask.png").unlink()  # no mask for c
    (images / "d.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")  # a damaged file
    write_mask(np.zeros((SIZE[1], SIZE[0]), dtype=bool), masks / "d.png")
    code = main(["batch", str(images), str(masks), str(out), "--method", "classic", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]
    assert "2 of 4 photo(s) restored; 2 failed" in err
    assert "c.png: no mask" in err and "d.png:" in err


def test_batch_pairs_masks_beside_the_photos(tmp_path, capsys):
    folder, out = tmp_path / "scans", tmp_path / "out"
    folder.mkdir()
    _write_pair(folder, "a", dtype=np.uint8)
    code = main(["batch", str(folder), str(folder), str(out), "--method", "classic", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["a.png"]  # a-mask.png is a mask, not a photo


def test_models_lists_a_user_model(tmp_path, monkeypatch, capsys):
    user = tmp_path / "user-models"
    monkeypatch.setenv("RESTORER_USER_MODELS", str(user))
    _save_gan(user / "my-faces.pt")
    (user / "broken.pt").write_bytes(b"not a model")
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("my-faces"))
    assert "dcgan" in line and "64px" in line and "user" in line and str(user / "my-faces.pt") in line
    assert "broken" in out and "unreadable" in out


def test_inversion_encoder_needs_a_model_with_an_encoder(tmp_path, model, capsys):
    photo, mask_path, _ = _write_pair(tmp_path)
    out = tmp_path / "out.png"
    args = [
        "inpaint",
        str(photo),
        "--mask",
        str(mask_path),
        "-o",
        str(out),
        "--box",
        BOX,
        "--method",
        "latent",
    ]
    assert main([*args, *_fast(model), "--inversion", "encoder"]) == 1
    assert "has no latent encoder (use --inversion yeh)" in capsys.readouterr().err
    assert not out.exists()
    assert main([*args, *_fast(model), "--inversion", "yeh"]) == 0


def test_progress_bar_shows_time_spent_and_left(monkeypatch):
    """On a terminal the bar carries the ETA; the clock is the bar's, so the numbers are exact."""
    import io

    from restorer.commands.inpaint import ProgressBar
    from restorer.core.types import Bounds, RegionFinished, RegionProgress, RegionStarted

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    now = [100.0]
    stream = Tty()
    bar = ProgressBar(stream, interval=0.0)
    bar.eta.clock = lambda: now[0]
    box = Bounds(0, 0, 64, 64)
    bar(RegionStarted(0, 2, box, "latent", "face"))
    now[0] += 10
    bar(RegionProgress(0, 50, 100, 1.0, 1.0, 0.0, lambda: None, None))
    assert stream.getvalue().rstrip().endswith("region 10 s, about 10 s left · total 10 s, about 30 s left")
    now[0] += 10
    bar(RegionProgress(0, 100, 100, 1.0, 1.0, 0.0, lambda: None, None))
    bar(RegionFinished(None))
    bar(RegionStarted(1, 2, box, "latent", "face"))
    now[0] += 5
    bar(RegionProgress(1, 25, 100, 1.0, 1.0, 0.0, lambda: None, None))
    assert stream.getvalue().rstrip().endswith("total 25 s, about 15 s left")


@pytest.mark.parametrize("target", ["photo", "mask", "output-folder"])
def test_record_is_never_written_over_an_input_and_nothing_is_left(tmp_path, target, capsys):
    photo, mask_path, _ = _write_pair(tmp_path)
    out = tmp_path / "out.png"
    record = {"photo": photo, "mask": mask_path, "output-folder": tmp_path}[target]
    before = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    code = main(
        [
            "inpaint",
            str(photo),
            "--mask",
            str(mask_path),
            "-o",
            str(out),
            "--method",
            "classic",
            "--record",
            str(record),
        ]
    )
    assert code == 1
    assert "record" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before  # no new or changed file


def test_existing_outputs_need_overwrite(tmp_path, capsys):
    photo, mask_path, _ = _write_pair(tmp_path)
    out, record = tmp_path / "out.png", tmp_path / "r.json"
    args = ["inpaint", str(photo), "--mask", str(mask_path), "-o", str(out), "--method", "classic"]
    assert main([*args, "--record", str(record)]) == 0
    written = out.read_bytes(), record.read_bytes()
    capsys.readouterr()
    assert main([*args, "--record", str(record)]) == 1
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert (out.read_bytes(), record.read_bytes()) == written
    assert main([*args, "--record", str(record), "--overwrite"]) == 0


def test_batch_refuses_photos_whose_outputs_collide(tmp_path, capsys):
    images, masks, out = tmp_path / "in", tmp_path / "masks", tmp_path / "out"
    images.mkdir()
    masks.mkdir()
    photo, mask_path, _ = _write_pair(images, name="scan")
    mask_path.rename(masks / "scan.png")
    from PIL import Image

    Image.open(photo).convert("RGB").save(images / "scan.webp", lossless=True)
    code = main(["batch", str(images), str(masks), str(out), "--method", "classic", "--quiet"])
    assert code == 1
    assert "scan.png and scan.webp would be written to the same output" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg"])
def test_lossy_output_needs_lossy_and_says_what_changes(tmp_path, capsys, suffix):
    photo, mask_path, _ = _write_pair(tmp_path, dtype=np.uint8)
    out = tmp_path / f"out{suffix}"
    args = ["inpaint", str(photo), "--mask", str(mask_path), "-o", str(out), "--method", "classic", "-q"]
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err == (
        f"restorer: error: refusing to write {out}: JPEG is lossy and changes pixels outside the mask too; "
        "write .png or .tif, or pass --lossy to accept that\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
    assert main([*args, "--lossy"]) == 0
    assert "pixels outside the mask changed too" in capsys.readouterr().err
    assert out.read_bytes()[:2] == b"\xff\xd8"


def test_batch_writes_jpeg_scans_as_png_unless_lossy(tmp_path, capsys):
    from PIL import Image

    images, masks = tmp_path / "in", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    photo, mask_path, _ = _write_pair(images, name="scan", dtype=np.uint8)
    Image.open(photo).convert("RGB").save(images / "scan.jpg", quality=95)
    photo.unlink()
    mask_path.rename(masks / "scan.png")
    args = ["batch", str(images), str(masks)]
    assert main([*args, str(tmp_path / "a"), "--method", "classic", "-q"]) == 0
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["scan.png"]  # lossless: only damage changed
    assert main([*args, str(tmp_path / "b"), "--method", "classic", "-q", "--lossy"]) == 0
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["scan.jpg"]
    assert "pixels outside the mask changed too" in capsys.readouterr().err
