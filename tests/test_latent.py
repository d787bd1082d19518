"""Tests for the Yeh et al. latent optimiser, on a tiny DCGAN (ngf = ndf = 8) at 64 px.

The generator is randomly initialised with PyTorch's default init and its BatchNorm statistics
calibrated on random latents, so its images have real structure (pixel std ~0.3); with the
DCGAN N(0, 0.02) init its output would be almost flat and every fill would look good. Targets
are y = G(z_true), so a perfect fill exists and the ground truth in the hole is known.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from restorer.core.errors import RestorerError
from restorer.core.jobs import run_to_end
from restorer.core.latent import (
    LUMA_WEIGHTS,
    LatentConfig,
    LatentProgress,
    LatentResult,
    _fold_sequential,
    importance_weights,
    initial_latents,
    optimise_latent,
    optimise_latent_batch,
    resolve_device,
)
from restorer.core.networks import Discriminator, GanArch, Generator

R = 64
NZ = 100
# A short, brisk run: lr 0.1 gets within a few dB of the 1500-iteration result in 60 steps.
QUICK = LatentConfig(iterations=60, starts=4, lr=0.1, device="cpu")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Two OpenMP threads on a loaded two-core machine spin-wait badly (10x slower); results
    are the same either way, so run single-threaded. Module scope: autouse fixtures of a scope
    are set up before the other fixtures of that scope, so the module fixtures run on it too."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _calibrated_pair(d_norm: str = "spectral") -> tuple[Generator, Discriminator]:
    torch.manual_seed(1234)
    arch = GanArch(resolution=R, nz=NZ, ngf=8, ndf=8, d_norm=d_norm)
    generator, discriminator = Generator(arch), Discriminator(arch)
    for m in generator.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None  # cumulative average over the calibration batch
            m.reset_running_stats()
    generator.train()
    with torch.no_grad():
        generator(torch.rand(256, NZ) * 2 - 1)
    return generator.eval(), discriminator.eval()


@pytest.fixture(scope="module")
def nets() -> tuple[Generator, Discriminator]:
    return _calibrated_pair()


def _problem_of(nets) -> tuple[torch.Tensor, torch.Tensor]:
    """y = G(z_true) with a 24 x 24 square hole (14% of the image) in the middle."""
    with torch.no_grad():
        target = nets[0](initial_latents(1, NZ, seed=999))[0]
    hole = torch.zeros(R, R, dtype=torch.bool)
    hole[20:44, 20:44] = True
    return target, hole


@pytest.fixture(scope="module")
def problem(nets) -> tuple[torch.Tensor, torch.Tensor]:
    return _problem_of(nets)


@pytest.fixture(scope="module")
def quick_run(nets, problem) -> tuple[list[LatentProgress], LatentResult]:
    events: list[LatentProgress] = []
    result = run_to_end(optimise_latent(*nets, *problem, QUICK), events.append)
    return events, result


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR for images in [-1, 1] (peak-to-peak 2)."""
    return float(10 * torch.log10(4 / ((a - b) ** 2).mean()))


def _mean_colour_fill(target: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    filled = target.clone()
    filled[:, hole] = target[:, ~hole].mean(dim=1, keepdim=True)
    return filled


# --- importance weights ---------------------------------------------------------------------------


def test_importance_weights_hand_computed_case():
    hole = torch.zeros(5, 5, dtype=torch.bool)
    hole[2, 2] = hole[2, 3] = True
    hole[0, 0] = True  # corner: the outside of the image counts as known
    w = importance_weights(hole, window=3)
    hole_pixels_in_window = torch.tensor(
        [
            [0, 1, 0, 0, 0],  # (0, 1) sees the corner hole
            [1, 2, 2, 2, 1],  # (1, 1) sees (0, 0) and (2, 2); (1, 2) and (1, 3) see both of the pair
            [0, 1, 0, 0, 1],
            [0, 1, 2, 2, 1],
            [0, 0, 0, 0, 0],
        ]
    )
    expected = hole_pixels_in_window / 9
    torch.testing.assert_close(w, expected)


def test_importance_weights_match_a_brute_force_count():
    rng = np.random.default_rng(5)
    hole = rng.random((3, 1, 20, 23)) < 0.2
    padded = np.pad(hole, ((0, 0), (0, 0), (3, 3), (3, 3)))  # zero padding = known outside
    counts = np.lib.stride_tricks.sliding_window_view(padded, (7, 7), axis=(2, 3)).sum(axis=(-1, -2))
    expected = np.where(hole, 0.0, counts / 49.0)
    got = importance_weights(torch.from_numpy(hole))
    assert got.shape == hole.shape and got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-6)


@pytest.mark.parametrize(
    ("hole", "window"),
    [
        (torch.zeros(8, 8), 7),  # not bool
        (torch.zeros(2, 8, 8, dtype=torch.bool), 7),  # 3-D
        (torch.zeros(8, 8, dtype=torch.bool), 6),  # even window
    ],
)
def test_importance_weights_reject_bad_input(hole, window):
    with pytest.raises(RestorerError):
        importance_weights(hole, window)


# --- latents and devices --------------------------------------------------------------------------


def test_initial_latents_do_not_depend_on_the_number_of_starts():
    few, many = initial_latents(3, NZ, seed=7), initial_latents(8, NZ, seed=7)
    assert torch.equal(few, many[:3])
    assert many.dtype == torch.float32 and many.abs().max() <= 1 and many.min() < -0.9 and many.max() > 0.9
    assert not torch.equal(initial_latents(3, NZ, seed=8), few)
    assert not torch.equal(many[0], many[1])


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(RestorerError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RestorerError, match="no CUDA GPU"):
            resolve_device("cuda")


# --- the optimisation -----------------------------------------------------------------------------


def test_fills_the_hole_far_better_than_the_mean_colour(quick_run, problem):
    _, result = quick_run
    target, hole = problem
    baseline = _psnr(_mean_colour_fill(target, hole)[:, hole], target[:, hole])  # ~16 dB here
    best = _psnr(result.images[0][:, hole], target[:, hole])  # ~31 dB here after 60 iterations
    # +10 dB = a tenth of the mean colour's squared error inside the hole. The known pixels only
    # reach the optimiser through a 3-pixel ring of weights, so this gap means the hole's
    # content was inferred through G, not smeared in from the border.
    assert best > baseline + 10, (best, baseline)


def test_the_loss_falls(quick_run):
    events, _ = quick_run
    first = float(events[0].losses.min())
    last = float(events[-1].losses.min())
    assert last < 0.25 * first, (first, last)
    assert float(events[-1].losses.mean()) < float(events[0].losses.mean())


def test_progress_events(quick_run):
    events, _ = quick_run
    assert [e.iteration for e in events] == list(range(1, QUICK.iterations + 1))
    last = events[-1]
    assert last.total == QUICK.iterations
    assert last.images.shape == (QUICK.starts, 3, R, R) and last.losses.shape == (QUICK.starts,)
    assert last.best == int(last.losses.argmin())
    torch.testing.assert_close(last.losses, last.context_losses + QUICK.lam * last.prior_losses)
    assert (last.prior_losses <= 0).all()  # log(1 - D) of a probability
    preview = last.preview()
    assert preview.shape == (R, R, 3) and preview.dtype == np.float32
    assert preview.min() >= 0 and preview.max() <= 1
    expected = ((last.images[last.best] + 1) / 2).clamp(0, 1).permute(1, 2, 0).numpy()
    np.testing.assert_allclose(preview, expected, atol=1e-6)
    assert len(last.previews()) == 1


def test_preview_all_offers_every_start(nets, problem):
    job = optimise_latent(*nets, *problem, _with(QUICK, iterations=2, preview_all=True))
    event = next(job)
    job.close()
    previews = event.previews()
    assert len(previews) == QUICK.starts
    for image, preview in zip(event.images, previews, strict=True):
        np.testing.assert_allclose(preview, ((image + 1) / 2).clamp(0, 1).permute(1, 2, 0).numpy(), atol=1e-6)


def test_results_are_ranked_by_final_loss(quick_run, nets):
    _, result = quick_run
    assert torch.all(result.losses[1:] >= result.losses[:-1])
    assert sorted(result.start_ids) == list(range(QUICK.starts))
    torch.testing.assert_close(result.losses, result.context_losses + QUICK.lam * result.prior_losses)
    with torch.no_grad():
        torch.testing.assert_close(result.images, nets[0](result.z), atol=1e-5, rtol=0)
    # each ranked z is the final z of the start it claims to be
    lone = run_to_end(
        optimise_latent(*nets, *_problem_of(nets), _with(QUICK, starts=result.start_ids[0] + 1))
    )
    ranked_first = lone.start_ids.index(result.start_ids[0])
    torch.testing.assert_close(lone.z[ranked_first], result.z[0], atol=1e-5, rtol=0)


def _with(config: LatentConfig, **changes) -> LatentConfig:
    return LatentConfig(**{**config.__dict__, **changes})


def test_z_stays_in_the_box(quick_run):
    _, result = quick_run
    assert result.z.abs().max() <= 1.0
    assert (result.z.abs() == 1.0).any()  # the clip was active, so this test can fail


def test_same_seed_same_result(nets, problem):
    config = _with(QUICK, iterations=15)
    a = run_to_end(optimise_latent(*nets, *problem, config))
    b = run_to_end(optimise_latent(*nets, *problem, config))
    c = run_to_end(optimise_latent(*nets, *problem, _with(config, seed=1)))
    assert torch.equal(a.z, b.z) and torch.equal(a.images, b.images) and a.start_ids == b.start_ids
    assert not torch.equal(a.z, c.z)


@pytest.mark.parametrize("fast", [False, True])
def test_a_start_does_not_depend_on_its_batch(nets, problem, fast):
    """Eval-mode networks, per-start latents and a summed loss: start i follows the same path
    alone or among others. Exact on this CPU for both paths; 1e-5 leaves room for kernels that
    block the batch differently (we saw 2e-7 in z between K = 16 and 64 in float32)."""
    config = _with(QUICK, iterations=20, fast=fast)
    by_start = {}
    for starts in (1, 3, 8):
        result = run_to_end(optimise_latent(*nets, *problem, _with(config, starts=starts)))
        by_start[starts] = {s: (result.z[i], result.images[i]) for i, s in enumerate(result.start_ids)}
    for starts in (1, 3):
        for s, (z, image) in by_start[starts].items():
            torch.testing.assert_close(z, by_start[8][s][0], atol=1e-5, rtol=0)
            torch.testing.assert_close(image, by_start[8][s][1], atol=1e-5, rtol=0)


def test_reference_path_is_plain_adam_on_the_paper_loss(nets, problem):
    """fast=False must equal the obvious loop: torch.optim.Adam on the summed per-start loss."""
    generator, discriminator = nets
    target, hole = problem
    config = _with(QUICK, iterations=12, starts=3, fast=False)
    result = run_to_end(optimise_latent(generator, discriminator, target, hole, config))

    z = initial_latents(3, NZ, config.seed).requires_grad_(True)
    optimiser = torch.optim.Adam([z], lr=config.lr, betas=(0.9, 0.999))
    weights = importance_weights(hole)
    for _ in range(config.iterations):
        optimiser.zero_grad()
        images = generator(z)
        context = (weights * (images - target).abs()).sum(dim=(1, 2, 3))
        prior = torch.log(1 - torch.sigmoid(discriminator(images)))
        (context + config.lam * prior).sum().backward()
        optimiser.step()
        with torch.no_grad():
            z.clamp_(-1, 1)
    naive = z.detach()[result.start_ids]
    torch.testing.assert_close(result.z, naive, atol=1e-4, rtol=0)


@pytest.mark.parametrize("d_norm", ["spectral", "batch"])
def test_folded_networks_compute_what_the_originals_compute(d_norm):
    generator, discriminator = _calibrated_pair(d_norm)
    z = initial_latents(5, NZ, seed=3)
    with torch.no_grad():
        images = generator(z)
        folded_images = _fold_sequential(generator.main)(z[:, :, None, None])
        logits = _fold_sequential(discriminator.main)(images).reshape(-1)
        torch.testing.assert_close(folded_images, images, atol=1e-5, rtol=0)
        torch.testing.assert_close(logits, discriminator(images), atol=1e-5, rtol=1e-4)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in _fold_sequential(generator.main).modules())


@pytest.mark.parametrize("d_norm", ["spectral", "batch"])
def test_fast_path_tracks_the_float32_path(d_norm):
    """bf16 changes the path a little (Adam turns even rounding-sized gradients into full steps
    for a few coordinates), not the descent: after 10 steps each start's float32 context loss is
    within 3% of the reference path's (we measured <= 1%)."""
    nets = _calibrated_pair(d_norm)
    target, hole = _problem_of(nets)
    config = _with(QUICK, iterations=10, lr=0.03)
    fast = run_to_end(optimise_latent(*nets, target, hole, config))
    slow = run_to_end(optimise_latent(*nets, target, hole, _with(config, fast=False)))
    by_start_fast = fast.context_losses[torch.tensor(fast.start_ids).argsort()]
    by_start_slow = slow.context_losses[torch.tensor(slow.start_ids).argsort()]
    torch.testing.assert_close(by_start_fast, by_start_slow, rtol=0.03, atol=0)
    start_loss = run_to_end(optimise_latent(*nets, target, hole, _with(config, iterations=1))).context_losses
    assert float(by_start_fast.max()) < 0.95 * float(start_loss.min())  # and it did descend


def _luma(images: torch.Tensor) -> torch.Tensor:
    return (images * torch.tensor(LUMA_WEIGHTS).reshape(3, 1, 1)).sum(-3, keepdim=True)


def test_luminance_mode_fits_a_grey_target(nets, problem):
    colour, hole = problem
    grey = _luma(colour)  # (1, R, R): a grey print of a colour scene
    config = _with(QUICK, iterations=60)
    result = run_to_end(optimise_latent(*nets, grey, hole, _with(config, luminance=True)))
    assert result.images.shape[1] == 3
    fitted = _psnr(_luma(result.images[0])[:, hole], grey[:, hole])  # ~23.3 dB here
    baseline = _psnr(_mean_colour_fill(grey, hole)[:, hole], grey[:, hole])  # ~17.6 dB
    # Luminance gives a third of the constraints colour does, and our tiny random G fits it less
    # sharply (+5.7 dB measured rather than +15 dB): 4 dB is still 2.5x less squared error.
    assert fitted > baseline + 4, (fitted, baseline)
    # Fitting all three channels of the grey image forces G to make a grey image, which it
    # cannot; luminance mode leaves it the colour freedom and fits the tones better (~22.1 dB for RGB).
    as_rgb = run_to_end(optimise_latent(*nets, grey.expand(3, -1, -1), hole, config))
    assert fitted > _psnr(_luma(as_rgb.images[0])[:, hole], grey[:, hole]) + 0.5
    with pytest.raises(RestorerError, match="luminance"):
        run_to_end(optimise_latent(*nets, grey, hole, QUICK))


def _modes(*modules: nn.Module) -> list:
    return [(m.training, [p.requires_grad for p in m.parameters()]) for m in modules]


def test_should_stop_stops_between_iterations_and_restores_the_networks(problem):
    generator, discriminator = _calibrated_pair()
    generator.train()  # a caller's modes must come back as they were
    before = _modes(generator, discriminator)
    asked = []

    def should_stop() -> bool:
        asked.append(True)
        return len(asked) > 5

    events: list[LatentProgress] = []
    result = run_to_end(
        optimise_latent(generator, discriminator, *problem, QUICK, should_stop), events.append
    )
    assert result is None and len(events) == 5
    assert _modes(generator, discriminator) == before

    job = optimise_latent(generator, discriminator, *problem, QUICK)
    next(job)
    assert not generator.training and not any(p.requires_grad for p in generator.parameters())
    job.close()
    assert _modes(generator, discriminator) == before


def test_bad_input_raises_one_clear_error_and_changes_nothing(nets, problem):
    target, hole = problem
    before = _modes(*nets)
    cases = [
        (target, hole[:32]),  # hole shape
        (target, torch.zeros(R, R, dtype=torch.bool)),  # nothing to fill
        (target, torch.ones(R, R, dtype=torch.bool)),  # nothing known
        (target[:, :32, :32], hole[:32, :32]),  # wrong resolution for the model
        (target * 3, hole),  # out of range
        (target[:2], hole),  # two channels
    ]
    for image, mask in cases:
        with pytest.raises(RestorerError):
            run_to_end(optimise_latent(*nets, image, mask, QUICK))
    with pytest.raises(RestorerError):
        run_to_end(optimise_latent(*nets, target, hole, _with(QUICK, iterations=0)))
    assert _modes(*nets) == before


def test_many_windows_at_once_match_one_at_a_time(nets, problem):
    """The evaluation's batched entry point runs the same maths as optimise_latent per window."""
    target, hole = problem
    other_hole = torch.zeros_like(hole)
    other_hole[:, :24] = True  # a left band
    config = _with(QUICK, iterations=12, starts=3)
    images = torch.stack([target, target.flip(-1)])
    holes = torch.stack([hole, other_hole])
    batched = run_to_end(optimise_latent_batch(*nets, images, holes, config))
    for i in range(2):
        alone = run_to_end(optimise_latent(*nets, images[i], holes[i], _with(config, seed=config.seed + i)))
        torch.testing.assert_close(batched[i], alone.images[0], atol=1e-5, rtol=0)


# --- encoder starts (Lahiri et al.) -----------------------------------------------------------------


class _GuessingEncoder(nn.Module):
    """Stands in for a trained E: always answers ``guess`` (what a good E would say for the problem)."""

    def __init__(self, guess: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("guess", guess)
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x)
        return self.guess.expand(len(x), -1)


def _near_truth(scale: float) -> torch.Tensor:
    z_true = initial_latents(1, NZ, seed=999)
    return (z_true + scale * torch.from_numpy(np.random.default_rng(7).normal(size=(1, NZ))).float()).clamp(
        -1, 1
    )


def test_encoder_starts_scatter_around_the_guess(nets, problem):
    target, hole = problem
    guess = _near_truth(0.3)
    encoder = _GuessingEncoder(guess)
    config = _with(QUICK, iterations=1, starts=5, spread=0.2)
    from restorer.core.latent import encoder_latents

    z = encoder_latents(encoder, target[None], hole[None], config.starts, config.seed, config.spread)
    torch.testing.assert_close(z[0], guess[0])  # start 0 is E's own guess
    offsets = (z[1:] - guess).abs()
    assert offsets.max() <= 0.2 + 1e-6 and offsets.mean() > 0.02  # the others scatter, within the spread
    assert z.abs().max() <= 1.0
    # E saw the masked window and the known mask, nothing of the hole
    seen = encoder.seen[0]
    assert seen.shape == (1, target.shape[0] + 1, R, R)
    assert torch.all(seen[0, :-1, hole] == 0) and torch.all(seen[0, -1, hole] == 0)
    # a start does not depend on how many there are
    fewer = encoder_latents(encoder, target[None], hole[None], 3, config.seed, config.spread)
    torch.testing.assert_close(fewer, z[:3])


def test_encoder_starts_reach_a_fit_in_fewer_iterations(nets, problem):
    """From a guess near the truth, a short search fits far better than from uniform starts, and the
    uniform search needs several times the iterations to catch up."""
    target, hole = problem
    encoder = _GuessingEncoder(_near_truth(0.3))

    def context_after(iterations: int, enc: nn.Module | None) -> float:
        config = _with(QUICK, iterations=iterations, starts=4)
        result = run_to_end(optimise_latent(*nets, target, hole, config, encoder=enc))
        return float(result.context_losses[0])

    short = context_after(10, encoder)
    assert short < 0.5 * context_after(10, None)
    assert short < context_after(30, None)  # 3x the iterations from uniform starts are still worse


def test_encoder_starts_batched_match_one_at_a_time(nets, problem):
    target, hole = problem
    encoder = _GuessingEncoder(_near_truth(0.3))
    config = _with(QUICK, iterations=5, starts=3)
    images, holes = torch.stack([target, target.flip(-1)]), torch.stack([hole, hole])
    batched = run_to_end(optimise_latent_batch(*nets, images, holes, config, encoder=encoder))
    for i in range(2):
        alone = run_to_end(
            optimise_latent(*nets, images[i], holes[i], _with(config, seed=config.seed + i), encoder=encoder)
        )
        torch.testing.assert_close(batched[i], alone.images[0], atol=1e-5, rtol=0)
