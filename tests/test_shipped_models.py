"""The shipped weights load, pass their checksum, and make face-like 64x64 images."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from restorer.core.errors import RestorerError
from restorer.core.latent import initial_latents
from restorer.core.networks import make_context_input
from restorer.core.weights import REPO_MODELS_DIR, default_model, load_model

VAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fairface" / "val.zip"


@pytest.fixture(scope="module")
def real_faces() -> torch.Tensor:
    if not VAL.is_file():
        pytest.skip("FairFace val.zip is not beside the checkout")
    from restorer.training.data import face_crop, iter_images

    faces = np.stack([face_crop(img, 64) for img in iter_images([VAL], limit=256)])
    return torch.from_numpy(faces).permute(0, 3, 1, 2).float() / 127.5 - 1


@pytest.mark.parametrize("kind", ["dcgan", "context-encoder"])
def test_shipped_models_load_with_their_checksum_and_a_card(kind):
    path = default_model(kind)
    assert path.parent == REPO_MODELS_DIR
    model = load_model(path)
    assert model.kind == kind and model.resolution == 64
    assert path.stat().st_size < 50 * 2**20
    assert (path.with_suffix(".md")).is_file(), "every shipped model has a model card beside it"
    assert "FairFace" in model.provenance["data"] and model.provenance["steps"] > 1000


def test_a_corrupted_copy_is_refused(tmp_path):
    copy = tmp_path / "face64.pt"
    shutil.copy(default_model("dcgan"), copy)
    payload = torch.load(copy, weights_only=True)
    key = next(iter(payload["nets"]["generator"]))
    payload["nets"]["generator"][key].view(-1)[0] += 1  # one weight changed, checksum kept
    torch.save(payload, copy)
    with pytest.raises(RestorerError, match="checksum"):
        load_model(copy)


def test_generator_samples_have_the_statistics_of_real_faces(real_faces):
    """Per-channel mean and spread of 256 samples match 256 real val faces, and the average sample
    has the layout of the average face (bright centred face, darker surround).

    Tolerances: 0.08 on means and stds in [-1, 1] units is about a sixth of the between-image
    spread (~0.45); a randomly initialised generator gives stds below 0.05 and a mean-image
    correlation near 0, so it fails each check by a wide margin.
    """
    g = load_model(default_model("dcgan")).nets["generator"]
    with torch.no_grad():
        fake = g(initial_latents(256, 100, seed=0))
    assert fake.shape == (256, 3, 64, 64)
    torch.testing.assert_close(fake.mean((0, 2, 3)), real_faces.mean((0, 2, 3)), atol=0.08, rtol=0)
    torch.testing.assert_close(fake.std((0, 2, 3)), real_faces.std((0, 2, 3)), atol=0.08, rtol=0)
    layout = torch.corrcoef(torch.stack([fake.mean(0).flatten(), real_faces.mean(0).flatten()]))[0, 1]
    assert layout > 0.9


def test_context_encoder_fills_a_centre_hole_better_than_grey(real_faces):
    model = load_model(default_model("context-encoder")).nets["context_encoder"]
    faces = real_faces[:64]
    known = torch.ones(len(faces), 1, 64, 64)
    known[..., 16:48, 16:48] = 0
    with torch.no_grad():
        pred = model(make_context_input(faces, known))
    hole = known == 0
    err_model = ((pred - faces) ** 2)[hole.expand_as(faces)].mean()
    err_grey = (faces**2)[hole.expand_as(faces)].mean()  # grey (0) is what the hole holds
    assert err_model < 0.5 * err_grey


def test_shipped_encoder_starts_fit_held_out_faces_faster_than_random_starts(real_faces):
    """On 16 val faces with a centre hole, 10 Adam steps from E's guess reach a lower context loss
    than 40 steps from Yeh's uniform starts: the encoder earns its place in the file."""
    from restorer.core.jobs import run_to_end
    from restorer.core.latent import LatentConfig, optimise_latent

    model = load_model(default_model("dcgan"))
    assert "encoder" in model.nets  # and below, that it earns its place
    g, d, e = (model.nets[k] for k in ("generator", "discriminator", "encoder"))
    hole = torch.zeros(64, 64, dtype=torch.bool)
    hole[16:48, 16:48] = True
    losses = {"encoder": [], "yeh": []}
    for i, face in enumerate(real_faces[:16]):
        for name, encoder, steps in (("encoder", e, 10), ("yeh", None, 40)):
            config = LatentConfig(iterations=steps, starts=1, seed=i, device="cpu")
            result = run_to_end(optimise_latent(g, d, face, hole, config, encoder=encoder))
            losses[name].append(float(result.context_losses[0]))
    assert np.mean(losses["encoder"]) < 0.9 * np.mean(losses["yeh"])
