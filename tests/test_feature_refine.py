"""Feature refinement after the latent search: a tighter fit that stays near G's own features."""

from __future__ import annotations

import pytest
import torch

from restorer.core.feature_refine import RefineConfig, can_refine, refine_features, split_generator
from restorer.core.jobs import run_to_end
from restorer.core.latent import LatentConfig, _Objective, optimise_latent
from tests.test_latent import QUICK, _calibrated_pair, _problem_of


@pytest.fixture(scope="module")
def setting():
    torch.set_num_threads(1)
    nets = _calibrated_pair()
    target, hole = _problem_of(nets)
    searched = run_to_end(optimise_latent(*nets, target, hole, QUICK))
    return nets, target, hole, searched


def test_the_split_generator_is_the_generator(setting):
    (g, _), _, _, searched = setting
    head, tail = split_generator(g, 2)
    z = searched.z
    with torch.no_grad():
        torch.testing.assert_close(tail(head(z[:, :, None, None])), g(z))
        assert head(z[:, :, None, None]).shape[-1] == 16  # the 16x16 feature map at 64 px
    assert can_refine(g, 2) and not can_refine(torch.nn.Linear(2, 2), 2)


def test_refinement_lowers_the_context_loss_and_its_penalty_bounds_the_move(setting):
    (g, d), target, hole, searched = setting
    objective = _Objective(target, hole, 0.003, False, 3)
    config = RefineConfig(steps=40, penalty=30.0)
    critic = lambda x: d(x).reshape(-1)  # noqa: E731
    with torch.enable_grad():
        refined = refine_features(g.requires_grad_(False), critic, objective, searched.z, config)
    _, context_after, _ = objective(refined.images, critic(refined.images))
    assert (context_after < 0.9 * searched.context_losses).all()  # a tighter fit for every start
    # never worse than the start, so μ·deviation <= the objective it gave up: the features stay near G's own
    assert (refined.objective <= refined.start_objective + 1e-4).all()
    loss_after = refined.objective - config.penalty * refined.deviation
    assert (config.penalty * refined.deviation <= refined.start_objective - loss_after + 1e-4).all()
    assert (refined.deviation < 0.5).all() and (refined.deviation > 0).all()


def test_a_heavier_penalty_keeps_the_features_closer(setting):
    (g, d), target, hole, searched = setting
    objective = _Objective(target, hole, 0.003, False, 3)
    critic = lambda x: d(x).reshape(-1)  # noqa: E731
    with torch.enable_grad():
        light = refine_features(g, critic, objective, searched.z, RefineConfig(steps=30, penalty=3.0))
        heavy = refine_features(g, critic, objective, searched.z, RefineConfig(steps=30, penalty=300.0))
    assert heavy.deviation.mean() < light.deviation.mean()


def test_the_search_refines_when_asked(setting):
    nets, target, hole, searched = setting
    config = LatentConfig(**{**QUICK.__dict__, "refine_steps": 40})
    weights = {k: v.clone() for k, v in nets[0].state_dict().items()}
    refined = run_to_end(optimise_latent(*nets, target, hole, config))
    assert refined.context_losses[0] < 0.9 * searched.context_losses[0]
    for key, value in nets[0].state_dict().items():  # only the features moved, never G
        assert torch.equal(value, weights[key])
