"""Resampling a photo window to a face model's square: which model pixels are hole, and what the
known ones hold (restorer.core.methods._model_io)."""

from __future__ import annotations

import numpy as np
import torch

from restorer.core.imageio import Photo
from restorer.core.jobs import run_to_end
from restorer.core.methods._model_io import Resampler
from restorer.core.pipeline import restore
from restorer.core.types import Bounds, RestoreOptions


def test_a_model_pixel_with_any_damage_is_hole_while_enough_stays_known():
    """4 x 4 photo pixels per model pixel; a compact hole keeps the strict rule (any damage: hole)."""
    resampler = Resampler(8, 8, 2)
    hole = np.zeros((8, 8), bool)
    hole[0, 0] = True  # one pixel of sixteen
    assert resampler.hole(hole).tolist() == [[True, False], [False, False]]


def test_when_too_little_stays_known_a_model_pixel_is_hole_when_most_of_it_is_damaged():
    """Every model pixel has some damage (the strict rule would leave nothing known): 8 of 16
    damaged stays known, 9 of 16 is hole."""
    resampler = Resampler(8, 8, 2)
    hole = np.zeros((8, 8), bool)
    hole[:2, :4] = True  # top-left: 8 of 16 damaged
    hole[4:6, :4] = True  # bottom-left: 8 + 1
    hole[6, 0] = True
    hole[:4, 4:] = True  # top-right: all
    hole[4, 4] = True  # bottom-right: 1
    assert resampler.hole(hole).tolist() == [[False, True], [True, False]]


def test_scattered_damage_leaves_known_model_pixels_holding_only_known_values():
    """A random 80% of a window 2.5x the model: most model pixels keep some known photo pixels; those
    that do are the mean of the known ones only (the damage painted white never leaks in)."""
    rng = np.random.default_rng(0)
    window = rng.random((160, 160, 3)).astype(np.float32) * 0.5  # at most 0.5: damage is 1.0
    hole = rng.random((160, 160)) < 0.8
    window[hole] = 1.0
    resampler = Resampler(160, 160, 64)
    model_hole = resampler.hole(hole)
    assert 0 < int(model_hole.sum()) < 64 * 64  # not all hole: the old "any damage" rule made it all
    image = (resampler.image(window, hole) + 1) / 2  # (3, 64, 64) in [0, 1]
    assert float(image[:, ~model_hole].max()) <= 0.5 + 1e-5
    # Without the hole the damage is averaged in, as before (the blend never sees these values).
    assert float(((resampler.image(window) + 1) / 2)[:, ~model_hole].max()) > 0.5


def test_every_pixel_damaged_but_a_few_still_leaves_them_known():
    """When most-damaged would mark every model pixel, only wholly damaged ones are hole."""
    hole = np.ones((8, 8), bool)
    hole[0, 0] = False  # one clean pixel in the top-left model pixel, 15 of 16 damaged
    assert Resampler(8, 8, 2).hole(hole).tolist() == [[False, True], [True, True]]


def test_a_random_80_percent_mask_in_a_large_face_box_is_filled_by_the_face_models():
    """Issue 9, item 3: a box the user framed, 160 px (2.5x the model), four pixels in five missing:
    the latent method and the Context Encoder fill it instead of refusing it."""
    from restorer.core import weights

    torch.set_num_threads(1)
    rng = np.random.default_rng(1)
    pixels = (rng.random((200, 200, 3)) * 255).astype(np.uint8)
    box = Bounds(20, 20, 180, 180)
    mask = np.zeros((200, 200), bool)
    mask[box.slices] = rng.random((160, 160)) < 0.8
    photo = Photo(pixels, None, None, None, "PNG")
    for method in ("latent", "context-encoder"):
        model = weights.default_model("dcgan" if method == "latent" else "context-encoder")
        options = RestoreOptions(method=method, model=str(model), box=box, iterations=2, starts=1, refine=0)
        result = run_to_end(restore(photo, mask, options))
        filled = np.zeros_like(mask)
        for patch in result.patches:
            filled[patch.box.slices] |= patch.hole
        assert np.array_equal(filled, mask), method
        assert {p.method for p in result.patches} == {method}
