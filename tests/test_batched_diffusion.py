"""Diffusion regions filled by one solve over their union give what each region's own solve gives.

The reference is the per-region path itself: the same restore with the batch switched off
(``_Batches.candidate`` answering None sends every region to its method's own fill job).
"""

from __future__ import annotations

import numpy as np
import pytest

from restorer.core import fills, pipeline
from restorer.core.errors import RestorerError
from restorer.core.imageio import Photo
from restorer.core.jobs import run_to_end
from restorer.core.patches import apply_result
from restorer.core.pipeline import restore
from restorer.core.regions import DEFAULT_GAP, find_regions
from restorer.core.types import (
    Event,
    RegionFinished,
    RegionProgress,
    RegionStarted,
    RestoreOptions,
    RestoreResult,
)

SIZE = (150, 600)  # wide enough for a scratch that find_regions cuts into grid pieces (SPRAWL_TILE)


def _photo(channels: int, dtype: type, seed: int = 0) -> Photo:
    """Smooth shading with noise, so fills differ from pixel to pixel and rounding is exercised."""
    h, w = SIZE
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    tint = np.linspace(0.8, 1.0, channels)
    base = 0.5 + 0.3 * (np.sin(xx / 11.0) * np.cos(yy / 7.0))[..., None] * tint
    base = base + 0.04 * rng.standard_normal((h, w, channels))
    top = np.iinfo(dtype).max
    return Photo(np.round(np.clip(base, 0, 1) * top).astype(dtype), None, None, None, "PNG")


def _many_specks(seed: int = 1) -> np.ndarray:
    """Specks on a grid (separate regions), pairs closer than the gap (one region), specks on the
    photo's edges and corners, scratches big enough to get grain, a scratch cut into grid pieces
    (they touch: left to their own solves) and a wide stain far from the rest (the patch fill)."""
    h, w = SIZE
    rng = np.random.default_rng(seed)
    mask = np.zeros(SIZE, bool)
    for y in range(14, 100, 13):  # 13 px apart: holes of up to 3 px leave more than DEFAULT_GAP
        for x in range(14, 440, 13):
            dy, dx = rng.integers(1, 4, 2)
            mask[y : y + dy, x : x + dx] = True
    for x in (460, 480):  # a pair 3 px apart: one region of two holes
        mask[20:22, x : x + 2] = True
        mask[20:22, x + 5 : x + 7] = True
    mask[0, 0] = mask[0, w - 1] = mask[h - 1, 0] = mask[h - 1, w - 1] = True  # corners
    mask[0, 300:302] = mask[60:63, w - 1] = mask[h - 2 :, 200] = True  # edges
    mask[40:42, 500:540] = True  # 80 px: measured for grain
    mask[55:95, 580:582] = True
    # A long, sparse scratch: cut at column SPRAWL_TILE into pieces that touch.
    mask[120, 20:546] = mask[100:121, 545] = True
    mask[130:133, 100:103] = True  # a speck just past the gap from the long scratch
    mask[118:138, 565:590] = True  # a wide stain (auto: the patch fill), far from every speck
    return mask


def _run(photo: Photo, mask: np.ndarray, options: RestoreOptions) -> tuple[list[Event], RestoreResult]:
    events: list[Event] = []
    result = run_to_end(restore(photo, mask, options), events.append)
    assert result is not None
    return events, result


def _per_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline._Batches, "candidate", lambda self, *args: None)


def test_the_test_photo_has_what_the_batch_must_handle():
    rmap = find_regions(_many_specks())
    assert len(rmap.regions) > 200
    boxes = [r.bbox for r in rmap.regions]
    assert any(b.top == 0 or b.left == 0 for b in boxes)
    assert any(b.bottom == SIZE[0] or b.right == SIZE[1] for b in boxes)
    # The long scratch is cut into pieces that touch each other.
    pieces = {int(label) for label in np.unique(rmap.labels[120, :546]) if label}
    assert len(pieces) >= 2
    # A pair of holes closer than the gap is one region.
    assert rmap.labels[20, 460] == rmap.labels[20, 465] != 0
    assert rmap.labels[130, 100] not in pieces | {0}
    assert DEFAULT_GAP < 13


@pytest.mark.parametrize("method", ["diffusion", "auto"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3])
def test_batched_fills_match_the_per_region_fills(monkeypatch, method, dtype, channels):
    photo, mask = _photo(channels, dtype), _many_specks()
    options = RestoreOptions(method=method, seed=3)
    solves, own = [], []
    batched_values, own_fill = fills.diffusion_values, fills.diffusion_fill
    monkeypatch.setattr(fills, "diffusion_values", lambda *a: solves.append(1) or batched_values(*a))
    monkeypatch.setattr(fills, "diffusion_fill", lambda *a: own.append(1) or own_fill(*a))
    events, batched = _run(photo, mask, options)
    # One solve for all the specks; only the scratch's touching pieces got solves of their own.
    assert len(solves) == 1
    pieces = {int(label) for label in np.unique(find_regions(mask).labels[120, :546]) if label}
    assert len(own) == len(pieces)

    _per_region(monkeypatch)
    reference_events, reference = _run(photo, mask, options)

    assert [type(e) for e in events] == [type(e) for e in reference_events]
    assert len(batched.patches) == len(reference.patches) > 200
    top = np.iinfo(dtype).max
    # The solver's tolerance (1e-4 of the range), plus the rounding of a value that lies on a
    # half level (a one-pixel speck's fill is the mean of 4 neighbours: often exactly k + 1/2).
    levels = 1 if dtype == np.uint8 else int(np.ceil(1e-4 * top)) + 1
    for ours, theirs in zip(batched.patches, reference.patches, strict=True):
        assert (ours.index, ours.box, ours.method, ours.reason) == (
            theirs.index,
            theirs.box,
            theirs.method,
            theirs.reason,
        )
        assert np.array_equal(ours.hole, theirs.hole)
        assert ours.grain_seed == theirs.grain_seed
        # Grain is measured on the photo as filled so far, so earlier regions' fills (a level off
        # here and there) move it a little.
        levels_ours, levels_theirs = ours.params.pop("grain_levels"), theirs.params.pop("grain_levels")
        corr_ours = ours.params.pop("grain_correlation", None)
        corr_theirs = theirs.params.pop("grain_correlation", None)
        assert ours.params == theirs.params
        measured = {levels_ours is None, levels_theirs is None, corr_ours is None, corr_theirs is None}
        assert len(measured) == 1  # all measured, or none
        if levels_ours is not None:
            assert np.allclose(levels_ours, levels_theirs, rtol=0.01, atol=1e-4)
            assert np.allclose(corr_ours, corr_theirs, atol=0.01)
            ours.params["grain_correlation"] = corr_ours
        ours.params["grain_levels"] = levels_ours
        assert len(ours.candidates) == len(theirs.candidates) == 1
        known = ~mask[ours.box.slices]  # the window as it was, in both
        assert np.array_equal(ours.candidates[0][known], theirs.candidates[0][known])
        if ours.method != "diffusion":  # the stain's window and ring hold no speck: bit for bit
            assert np.array_equal(ours.values, theirs.values)
            continue
        gap = np.abs(ours.candidates[0][ours.hole] - theirs.candidates[0][theirs.hole])
        assert gap.max() <= 1e-4
        assert np.abs(ours.values.astype(int) - theirs.values.astype(int)).max() <= levels
    assert {p.method for p in batched.patches} == (
        {"diffusion", "patch"} if method == "auto" else {"diffusion"}
    )
    assert any(p.params["grain_levels"] is not None for p in batched.patches if p.method == "diffusion")


def test_every_region_keeps_its_events_preview_and_patch():
    photo, mask = _photo(3, np.uint8), _many_specks()
    events, result = _run(photo, mask, RestoreOptions(method="diffusion"))
    kinds = [type(e) for e in events]
    n = len(result.patches)
    assert kinds == [RegionStarted, RegionProgress, RegionFinished] * n
    triples = zip(events[::3], events[1::3], events[2::3], strict=True)
    for number, (started, progress, finished) in enumerate(triples):
        assert started.index == progress.index == finished.patch.index == number
        assert np.array_equal(progress.preview(), finished.patch.candidates[0])
    # Only the damage changed, and all of it.
    restored = apply_result(photo, result).pixels
    assert np.array_equal(restored[~mask], photo.pixels[~mask])
    covered = np.zeros(SIZE, bool)
    for patch in result.patches:
        covered[patch.box.slices] |= patch.hole
    assert np.array_equal(covered, mask)


def test_a_stop_between_batched_regions_is_honoured():
    photo, mask = _photo(1, np.uint16), _many_specks()
    finished: list[RegionFinished] = []
    job = restore(photo, mask, RestoreOptions(method="diffusion"), should_stop=lambda: len(finished) >= 3)
    result = run_to_end(job, lambda e: finished.append(e) if isinstance(e, RegionFinished) else None)
    assert result is None and len(finished) == 3


def test_groups_of_regions_solved_one_after_another(monkeypatch):
    """A small group budget splits the batch into many solves; the fills are the same."""
    photo, mask = _photo(3, np.uint16), _many_specks()
    options = RestoreOptions(method="diffusion")
    _, whole = _run(photo, mask, options)
    solves = []
    batched_values = fills.diffusion_values
    monkeypatch.setattr(fills, "diffusion_values", lambda *a: solves.append(1) or batched_values(*a))
    monkeypatch.setattr(pipeline, "BATCH_PIXELS", 60)
    _, grouped = _run(photo, mask, options)
    assert len(solves) > 10
    for ours, theirs in zip(grouped.patches, whole.patches, strict=True):
        gap = np.abs(ours.candidates[0][ours.hole] - theirs.candidates[0][theirs.hole])
        assert gap.max() <= 1e-4


def test_a_photo_that_is_all_damage_still_says_why_it_cannot_be_filled():
    photo = _photo(1, np.uint8)
    mask = np.ones(SIZE, bool)
    with pytest.raises(RestorerError, match="covers the whole image"):
        run_to_end(restore(photo, mask, RestoreOptions(method="diffusion")))
