"""Training runs end to end on CPU on tiny generated images, checkpoints, resumes, and exports weights
the engine loads."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from restorer.cli import main
from restorer.core.weights import load_model
from restorer.training.context_encoder import reconstruction_weights
from restorer.training.data import BatchSampler, augment, face_crop, iter_images, load_dataset


@pytest.fixture()
def tiny_images(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(12):
        img = (rng.random((40, 48, 3)) * 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"{i}.png")
    (folder / "broken.png").write_bytes(b"not an image")  # skipped, not fatal
    return folder


def test_iter_images_reads_folders_and_zips_in_name_order(tiny_images: Path, tmp_path: Path) -> None:
    archive = tmp_path / "faces.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in (10, 2, 1):
            zf.write(tiny_images / f"{i}.png", f"{i}.png")
    from_zip = list(iter_images([archive]))
    expected = [np.asarray(Image.open(tiny_images / f"{i}.png")) for i in (1, 2, 10)]
    assert all(np.array_equal(a, b) for a, b in zip(from_zip, expected, strict=True))
    assert len(list(iter_images([tiny_images]))) == 12


def test_face_crop_takes_the_central_square() -> None:
    img = np.zeros((40, 48, 3), np.uint8)
    img[:, 4:44] = 200  # the central 40x40 square
    out = face_crop(img, 20)
    assert out.shape == (20, 20, 3)
    assert out.min() == 200


def test_dataset_cache_round_trips(tiny_images: Path, tmp_path: Path) -> None:
    a = load_dataset([tiny_images], 16, tmp_path / "cache")
    b = load_dataset([tiny_images], 16, tmp_path / "cache")
    assert a.shape == (12, 3, 16, 16) and a.dtype == torch.uint8
    assert torch.equal(a, b)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1


def test_augment_range_and_toned_prints_are_grey_or_sepia() -> None:
    batch = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8)
    out = augment(batch, torch.Generator().manual_seed(0), tone_prob=1.0)
    assert out.min() >= -1 and out.max() <= 1
    # every image was toned: its channels are ordered like grey (equal) or sepia (R >= G >= B)
    r, g, b = out[:, 0], out[:, 1], out[:, 2]
    assert bool(((r >= g - 1e-6) & (g >= b - 1e-6)).all())


def test_batch_sampler_ranks_draw_disjoint_shares() -> None:
    a = BatchSampler(20, 5, seed=1, rank=0, world=2)
    b = BatchSampler(20, 5, seed=1, rank=1, world=2)
    first = torch.cat([a.next(), a.next()])
    second = torch.cat([b.next(), b.next()])
    assert set(first.tolist()).isdisjoint(second.tolist())
    assert len(set(first.tolist()) | set(second.tolist())) == 20


def test_reconstruction_weights_put_the_heavy_band_outside_the_hole() -> None:
    hole = torch.zeros(1, 1, 16, 16)
    hole[..., 6:10, 6:10] = 1
    w = reconstruction_weights(hole, 10.0, band=2)
    assert torch.all(w[..., 6:10, 6:10] == 1)
    assert w[0, 0, 4, 8] == 10 and w[0, 0, 5, 5] == 10
    assert w[0, 0, 3, 8] == 0 and w[0, 0, 0, 0] == 0


ARGS = [
    "--size",
    "64",
    "--batch",
    "4",
    "--cache",
    "",
    "--device",
    "cpu",
    "--sample-every",
    "2",
    "--checkpoint-every",
    "2",
]


@pytest.mark.parametrize(
    ("kind", "width", "name"),
    [
        ("gan", ["--ngf", "8", "--ndf", "8"], "face64"),
        ("context-encoder", ["--nef", "8", "--ndf", "8", "--limit", "12"], "face64-context-encoder"),
    ],
)
def test_training_runs_checkpoints_resumes_and_exports(kind, width, name, tiny_images: Path, tmp_path: Path):
    out = tmp_path / "run"
    assert (
        main(["train", kind, "--data", str(tiny_images), "--out", str(out), "--steps", "2", *ARGS, *width])
        == 0
    )
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["step"] == 2
    assert (out / "samples" / "step-000002.png").is_file()
    assert (
        main(
            [
                "train",
                kind,
                "--data",
                str(tiny_images),
                "--out",
                str(out),
                "--steps",
                "3",
                "--resume",
                *ARGS,
                *width,
            ]
        )
        == 0
    )
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 3
    model = load_model(out / f"{name}.pt")
    assert model.provenance["steps"] == 3
    assert "FairFace" in model.provenance["data"]
    net = next(iter(model.nets.values()))
    assert not net.training


def test_training_rejects_missing_data(tmp_path: Path, capsys) -> None:
    code = main(
        ["train", "gan", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o"), "--cache", ""]
    )
    assert code == 1
    assert "training data not found" in capsys.readouterr().err


def test_encoder_training_exports_the_gan_with_its_encoder(tiny_images: Path, tmp_path: Path) -> None:
    """`train encoder` learns E against a frozen G and ships G and D unchanged beside it."""
    gan_run, enc_run = tmp_path / "gan", tmp_path / "enc"
    gan_args = ["--ngf", "8", "--ndf", "8"]
    assert (
        main(
            [
                "train",
                "gan",
                "--data",
                str(tiny_images),
                "--out",
                str(gan_run),
                "--steps",
                "2",
                *ARGS,
                *gan_args,
            ]
        )
        == 0
    )
    gan_path = gan_run / "face64.pt"
    code = main(
        [
            "train",
            "encoder",
            "--data",
            str(tiny_images),
            "--out",
            str(enc_run),
            "--gan",
            str(gan_path),
            "--steps",
            "2",
            *ARGS,
        ]
    )
    assert code == 0
    assert torch.load(enc_run / "checkpoint.pt", weights_only=True)["step"] == 2
    gan, shipped = load_model(gan_path), load_model(enc_run / "face64.pt")
    assert "encoder" not in gan.nets and set(shipped.nets) == {"generator", "discriminator", "encoder"}
    for name in ("generator", "discriminator"):
        for a, b in zip(
            gan.nets[name].state_dict().values(), shipped.nets[name].state_dict().values(), strict=True
        ):
            assert torch.equal(a, b)  # G and D copied unchanged
    assert shipped.provenance["encoder"]["steps"] == 2
    assert shipped.provenance["steps"] == gan.provenance["steps"]  # the GAN's own provenance kept
    z = shipped.nets["encoder"](torch.zeros(2, 4, 64, 64))
    assert z.shape == (2, gan.arch.nz) and z.abs().max() <= 1


def _train_args(kind: str, data: Path, out: Path, steps: int, *extra: str) -> list[str]:
    return ["train", kind, "--data", str(data), "--out", str(out), "--steps", str(steps), *ARGS, *extra]


def test_gan_training_starts_from_finished_weights_and_carries_the_encoder(tiny_images: Path, tmp_path: Path):
    """Without a checkpoint, `train gan --init` starts G, its EMA and D from finished weights (the
    shipped model by default), counts their steps, and keeps the latent encoder beside the new G;
    a named model of another architecture is refused, the default one is skipped with a note."""
    from restorer.core.networks import LatentEncoder

    small = ["--ngf", "8", "--ndf", "8"]
    assert main(_train_args("gan", tiny_images, tmp_path / "first", 2, *small, "--init", "none")) == 0
    first_path = tmp_path / "first" / "face64.pt"
    first = load_model(first_path)
    assert first.provenance["started_from"] == "random" and first.provenance["total_steps"] == 2
    # Give the first model an encoder, as the shipped one has, to see it carried over.
    payload = torch.load(first_path, weights_only=True)
    encoder = LatentEncoder(first.arch)
    payload["nets"]["encoder"] = {k: v.clone() for k, v in encoder.state_dict().items()}
    from restorer.core.weights import content_digest

    payload["sha256"] = content_digest(payload)
    torch.save(payload, first_path)

    second = tmp_path / "second"
    # lr 0: one step changes nothing but the BatchNorm statistics, so the start itself is visible.
    assert (
        main([*_train_args("gan", tiny_images, second, 1, *small, "--init", str(first_path)), "--lr", "0"])
        == 0
    )
    model = load_model(second / "face64.pt")
    assert model.provenance["started_from"] == "face64.pt (2 steps)"
    assert model.provenance["total_steps"] == 3
    d_then, d_now = first.nets["discriminator"].state_dict(), model.nets["discriminator"].state_dict()
    assert all(torch.equal(d_then[k].float(), d_now[k].float()) for k in d_then if k.endswith("weight_orig"))
    g_then, g_now = first.nets["generator"].state_dict(), model.nets["generator"].state_dict()
    conv = next(k for k in g_then if k.endswith("weight") and g_then[k].dim() == 4)
    assert torch.equal(g_then[conv].float(), g_now[conv].float())
    assert "encoder" in model.nets and "not yet fitted" in model.provenance["encoder"]["note"]
    e_now = model.nets["encoder"].state_dict()
    # (files store float16: equal up to that rounding)
    assert all(
        torch.allclose(v.float(), e_now[k].float(), rtol=1e-3, atol=1e-4)
        for k, v in encoder.state_dict().items()
    )

    wider = ["--ngf", "16", "--ndf", "8"]
    assert (
        main(_train_args("gan", tiny_images, tmp_path / "third", 1, *wider, "--init", str(first_path))) == 1
    )


def test_bf16_on_a_cpu_without_bfloat16_instructions_is_warned_about():
    from restorer.training.common import cpu_has_bf16

    assert cpu_has_bf16("flags : fpu sse avx2 avx512f avx512_bf16 amx_tile")
    assert cpu_has_bf16("flags : fpu amx_bf16")
    assert not cpu_has_bf16("flags : fpu sse sse2 avx avx2 fma")
    assert not cpu_has_bf16("flags : fpu avx512f avx512bw")  # AVX-512 without its bf16 extension
