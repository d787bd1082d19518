"""Synthetic print damage: masks cover what they claim, are deterministic, and paint only inside."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from restorer.training.synthetic_damage import (
    COVERAGE_TOLERANCE,
    DAMAGE_KINDS,
    MASK_GENERATORS,
    age_photo,
    apply_damage,
    crack_mask,
    damage_photo,
    dust_mask,
    scratch_mask,
    stain_mask,
)


def _photo(dtype: type = np.uint8, channels: int = 3, size: int = 96) -> np.ndarray:
    """A smooth mid-grey gradient with some colour, as a clean print."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = np.stack([0.3 + 0.4 * yy, 0.35 + 0.3 * xx, 0.4 + 0.2 * yy * xx], axis=-1)[..., :channels]
    return np.rint(base * np.iinfo(dtype).max).astype(dtype)


@pytest.mark.parametrize("kind", DAMAGE_KINDS)
@pytest.mark.parametrize(("shape", "coverage"), [((160, 160), 0.01), ((120, 200), 0.05)])
def test_masks_have_the_coverage_they_claim(kind: str, shape: tuple[int, int], coverage: float) -> None:
    for seed in range(3):
        mask = MASK_GENERATORS[kind](shape, np.random.default_rng(seed), coverage=coverage)
        assert mask.shape == shape and mask.dtype == bool
        assert mask.mean() == pytest.approx(coverage, rel=COVERAGE_TOLERANCE)


@pytest.mark.parametrize("kind", DAMAGE_KINDS)
def test_masks_are_deterministic_per_seed(kind: str) -> None:
    make = MASK_GENERATORS[kind]
    first = make((128, 96), np.random.default_rng(7), coverage=0.02)
    again = make((128, 96), np.random.default_rng(7), coverage=0.02)
    other = make((128, 96), np.random.default_rng(8), coverage=0.02)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_count_zero_draws_nothing_and_both_targets_are_refused() -> None:
    rng = np.random.default_rng(0)
    for make in MASK_GENERATORS.values():
        assert not make((64, 64), rng, count=0).any()
        with pytest.raises(ValueError):
            make((64, 64), rng, coverage=0.1, count=3)
        with pytest.raises(ValueError):
            make((64, 64), rng, coverage=1.5)


def test_scratches_stay_within_their_width() -> None:
    # Twice the distance to the nearest undamaged pixel is the local width of the stroke.
    for width in ((1, 1), (2, 4)):
        for seed in range(3):
            mask = scratch_mask((200, 200), np.random.default_rng(seed), count=1, width=width)
            widest = 2 * ndi.distance_transform_edt(mask).max()
            assert mask.any() and widest <= width[1] + 1.5


def test_scratches_are_long_and_thin_dust_is_small() -> None:
    rng = np.random.default_rng(5)
    scratch = scratch_mask((300, 300), rng, count=1, width=(1, 2))
    labels, _ = ndi.label(scratch, structure=np.ones((3, 3)))
    extent = max(b.stop - b.start for sl in ndi.find_objects(labels) for b in sl)
    assert extent >= 30 and scratch.sum() < 4 * extent  # long, about 1-2 px wide
    dust = dust_mask((300, 300), rng, count=40, size=(1, 8))
    sizes = np.bincount(ndi.label(dust, structure=np.ones((3, 3)))[0].ravel())[1:]
    assert len(sizes) >= 20 and np.median(sizes) <= 20


def test_cracks_branch_and_stains_are_few_large_blobs() -> None:
    rng = np.random.default_rng(11)
    crack = crack_mask((300, 300), rng, count=1, width=(1, 2))
    assert crack.mean() < 0.05 and crack.any()
    stains = stain_mask((300, 300), rng, count=2)
    sizes = np.bincount(ndi.label(stains)[0].ravel())[1:]
    assert 1 <= len(sizes) <= 2 and sizes.max() > 300


@pytest.mark.parametrize("kind", DAMAGE_KINDS)
@pytest.mark.parametrize(("dtype", "channels"), [(np.uint8, 3), (np.uint16, 3), (np.uint16, 1)])
def test_apply_damage_changes_only_masked_pixels(kind: str, dtype: type, channels: int) -> None:
    photo = _photo(dtype, channels)
    rng = np.random.default_rng(2)
    mask = MASK_GENERATORS[kind](photo.shape, rng, coverage=0.05)
    damaged = apply_damage(photo, mask, rng, kind)
    assert damaged.dtype == photo.dtype and damaged.shape == photo.shape
    assert np.array_equal(damaged[~mask], photo[~mask])
    changed = np.abs(damaged.astype(np.int64) - photo).max(axis=-1) > 0
    assert changed[mask].mean() > 0.9  # nearly every damaged pixel actually looks different


def test_apply_damage_takes_2d_grey_and_is_deterministic() -> None:
    photo = _photo(np.uint8, 1)[..., 0]
    mask = scratch_mask(photo.shape, np.random.default_rng(1), count=2)
    first = apply_damage(photo, mask, np.random.default_rng(4), "scratch")
    again = apply_damage(photo, mask, np.random.default_rng(4), "scratch")
    assert first.shape == photo.shape and np.array_equal(first, again)


def test_scratches_are_mostly_bright() -> None:
    photo = np.full((80, 80, 3), 100, np.uint8)
    brighter = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        mask = scratch_mask(photo.shape, rng, count=1, width=(2, 3))
        damaged = apply_damage(photo, mask, rng, "scratch").mean(axis=-1)
        brighter.append((damaged[mask] > 100).mean() > 0.5)
    assert 0.55 <= np.mean(brighter) <= 0.95  # 75 % bright by design


def test_bad_arguments_are_refused() -> None:
    photo = _photo()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        apply_damage(photo, np.zeros((5, 5), bool), rng, "scratch")
    with pytest.raises(ValueError):
        apply_damage(photo, np.zeros(photo.shape[:2], bool), rng, "smudge")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        apply_damage(photo.astype(np.float32), np.zeros(photo.shape[:2], bool), rng, "dust")


@pytest.mark.parametrize(("dtype", "channels"), [(np.uint8, 3), (np.uint16, 3), (np.uint8, 1)])
def test_age_photo_fades_keeps_type_and_is_deterministic(dtype: type, channels: int) -> None:
    photo = np.zeros((64, 64, channels), dtype)
    photo[:, 32:] = np.iinfo(dtype).max
    aged = age_photo(photo, np.random.default_rng(3))
    assert aged.dtype == dtype and aged.shape == photo.shape
    assert np.array_equal(aged, age_photo(photo, np.random.default_rng(3)))
    full = np.iinfo(dtype).max
    assert aged[:, :16].mean() > 0.03 * full  # blacks lifted
    assert aged[:, 48:].mean() < 0.98 * full  # whites dulled
    assert aged[:, 48:].std() > 0  # grain


def test_age_photo_tints_colour_towards_sepia() -> None:
    grey = np.full((48, 48, 3), 128, np.uint8)
    red, green, blue = age_photo(grey, np.random.default_rng(0)).reshape(-1, 3).mean(axis=0)
    assert red > green > blue


def test_damage_photo_returns_each_kinds_mask() -> None:
    photo = _photo(size=128)
    damaged, masks = damage_photo(photo, np.random.default_rng(6), coverage=0.03)
    assert set(masks) == {"scratch", "crack", "dust"}
    union = np.logical_or.reduce(list(masks.values()))
    assert np.array_equal(damaged[~union], photo[~union])
    assert union.mean() == pytest.approx(0.03, rel=0.3)  # kinds may overlap a little
