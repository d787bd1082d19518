"""Poisson blending and the Laplace solver: exactness against a direct sparse solve, harmonic
reproduction, bit-exactness outside the hole, dtypes, edge cases and bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from hypothesis import given, settings
from hypothesis import strategies as st

from restorer.core import poisson
from restorer.core.errors import RestorerError
from restorer.core.poisson import poisson_blend, solve_laplace


def reference_laplace(values: np.ndarray, hole: np.ndarray, rhs: np.ndarray | None = None) -> np.ndarray:
    """Direct float64 solve of laplacian(x) = rhs on the hole (in-image neighbours only), known elsewhere."""
    height, width, channels = values.shape
    ys, xs = np.nonzero(hole)
    n = ys.size
    index = np.full((height, width), -1)
    index[ys, xs] = np.arange(n)
    rows, cols, vals = [np.arange(n)], [np.arange(n)], []
    diag = np.zeros(n)
    b = np.zeros((n, channels))
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)
        diag += inside
        cy, cx = np.clip(ny, 0, height - 1), np.clip(nx, 0, width - 1)
        j = np.where(inside, index[cy, cx], -1)
        rows.append(np.flatnonzero(j >= 0))
        cols.append(j[j >= 0])
        vals.append(-np.ones(rows[-1].size))
        known = inside & (j < 0)
        np.add.at(b, np.flatnonzero(known), values[cy[known], cx[known]].astype(np.float64))
    if rhs is not None:
        b -= rhs[ys, xs]
    entries = (np.concatenate([diag, *vals]), (np.concatenate(rows), np.concatenate(cols)))
    matrix = sp.csc_matrix(entries, shape=(n, n))
    out = values.astype(np.float64).copy()
    out[ys, xs] = spla.spsolve(matrix, b).reshape(n, channels)
    return out


def blob(shape: tuple[int, int], seed: int, sigma: float = 3.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ndi.gaussian_filter(rng.random(shape), sigma) > 0.52


def masks(size: int) -> dict[str, np.ndarray]:
    h, w = size, size + 7
    rect = np.zeros((h, w), bool)
    rect[3:-4, 5:-2] = True
    border = np.zeros((h, w), bool)  # touches three image edges: Neumann there
    border[:, : w // 2] = True
    border[2:6, w // 2 + 3 :] = True
    lines = np.zeros((h, w), bool)  # thin and sparse: the cell-list engine
    lines[2::9, 1:-1] = True
    lines[1:-1, 4::11] = True
    return {"rect": rect, "blob": blob((h, w), size), "border": border, "lines": lines}


@pytest.fixture(params=["direct", "multigrid"])
def engine(request, monkeypatch):
    """Run each case once as solved directly and once through the multigrid cycles."""
    if request.param == "multigrid":
        # Patched where solve_dirichlet reads it: the package's DIRECT_LIMIT is only a re-export.
        monkeypatch.setattr(poisson.dirichlet, "DIRECT_LIMIT", 12)
    return request.param


@pytest.mark.parametrize("name", ["rect", "blob", "border", "lines"])
def test_solve_laplace_matches_direct_solve(engine, name):
    hole = masks(48)[name]
    values = np.random.default_rng(1).random((*hole.shape, 3)).astype(np.float32)
    expected = reference_laplace(values, hole)
    got = solve_laplace(values, hole)
    assert got.dtype == np.float32
    assert np.abs(got - expected).max() < 1e-3 * np.ptp(values)
    np.testing.assert_array_equal(got[~hole], values[~hole])


def test_solve_laplace_with_rhs_matches_direct_solve(engine):
    hole = masks(40)["blob"]
    rng = np.random.default_rng(2)
    values = rng.random((*hole.shape, 2)).astype(np.float32)
    rhs = (rng.random((*hole.shape, 2)) * 0.01).astype(np.float32)
    expected = reference_laplace(values, hole, rhs)
    got = solve_laplace(values, hole, rhs)
    assert np.abs(got - expected).max() < 1e-3 * np.ptp(expected)


@pytest.mark.parametrize("name", ["rect", "blob", "border", "lines"])
def test_blend_matches_direct_solve(engine, name):
    hole = masks(48)[name]
    rng = np.random.default_rng(3)
    target = rng.random((*hole.shape, 3)).astype(np.float32)
    guide = ndi.gaussian_filter(rng.random((*hole.shape, 3)), (2, 2, 0)).astype(np.float32)
    # x = guide + h, h harmonic with h = target - guide on known pixels.
    expected = guide + reference_laplace(target - guide, hole)
    got = poisson_blend(target, guide, hole)
    assert np.abs(got[hole] - expected[hole]).max() < 1e-3
    np.testing.assert_array_equal(got[~hole], target[~hole])


def test_blend_reproduces_harmonic_function_from_matching_gradients():
    # x^2 - y^2 + linear terms is exactly harmonic for the 5-point Laplacian; the guide has the
    # same gradients (an offset copy), so the blend must rebuild the function inside the hole.
    ys, xs = np.mgrid[0:70, 0:90] / 90.0
    truth = 0.3 + 0.3 * (xs**2 - ys**2) + 0.2 * xs - 0.1 * ys
    image = np.repeat(truth[..., None], 3, axis=2)
    hole = np.zeros(truth.shape, bool)
    hole[8:60, 5:85] = True
    target16 = np.round(image * 65535).astype(np.uint16)
    out16 = poisson_blend(target16, (image + 0.25).astype(np.float32), hole)
    # The solver's tolerance is 1e-4 of the range (6.6 16-bit levels); add the boundary's rounding.
    assert np.abs(out16[hole].astype(float) - image[hole] * 65535).max() <= 1e-4 * 65535 + 1.0
    outf = poisson_blend(image.astype(np.float32), (image - 0.4).astype(np.float32), hole)
    assert np.abs(outf[hole] - image[hole]).max() < 1e-4


@pytest.mark.parametrize("dense", [True, False])
def test_blend_large_compact_hole_uses_multigrid_accurately(dense, monkeypatch):
    # Big enough for either engine's cycles; checked against the direct solve.
    monkeypatch.setattr(poisson.dirichlet, "use_dense", lambda cells, pixels: dense)
    hole = np.zeros((150, 170), bool)
    ys, xs = np.ogrid[:150, :170]
    hole |= ((ys - 70) / 55.0) ** 2 + ((xs - 90) / 70.0) ** 2 < 1
    rng = np.random.default_rng(4)
    target = (rng.random((150, 170, 3)) * 255).astype(np.uint8)
    guide = rng.random((150, 170, 3)).astype(np.float32)
    expected = guide + reference_laplace(target / 255.0 - guide, hole)
    got = poisson_blend(target, guide, hole)
    assert np.abs(got[hole] / 255.0 - np.clip(expected[hole], 0, 1)).max() <= 0.5 / 255 + 1e-3
    np.testing.assert_array_equal(got[~hole], target[~hole])


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    shape=st.tuples(st.integers(2, 20), st.integers(2, 20)),
    channels=st.sampled_from([0, 1, 3]),
    dtype=st.sampled_from([np.uint8, np.uint16, np.float32]),
    density=st.floats(0.05, 0.95),
)
def test_blend_changes_only_hole_pixels(seed, shape, channels, dtype, density):
    rng = np.random.default_rng(seed)
    full = shape if channels == 0 else (*shape, channels)
    if dtype == np.float32:
        target = rng.random(full).astype(np.float32)
    else:
        target = rng.integers(0, np.iinfo(dtype).max + 1, full, dtype=dtype)
    guide = rng.random(full).astype(np.float32)
    hole = rng.random(shape) < density  # random holes, often touching the image border
    before = target.copy()
    out = poisson_blend(target, guide, hole)
    assert out.dtype == target.dtype and out.shape == target.shape
    np.testing.assert_array_equal(out[~hole], target[~hole])
    np.testing.assert_array_equal(target, before)  # the input is never written
    assert np.isfinite(out.astype(np.float64)).all()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_empty_hole_returns_an_identical_copy(dtype):
    target = (np.arange(5 * 6 * 3) % 200).astype(dtype).reshape(5, 6, 3)
    out = poisson_blend(target, np.zeros((5, 6, 3), np.float32), np.zeros((5, 6), bool))
    assert out is not target
    np.testing.assert_array_equal(out, target)
    assert out.dtype == target.dtype
    values = target.astype(np.float32)
    np.testing.assert_array_equal(solve_laplace(values, np.zeros((5, 6), bool)), values)


def test_whole_image_hole():
    guide = np.full((4, 5, 3), 0.25, np.float32)
    out = poisson_blend(np.zeros((4, 5, 3), np.uint8), guide, np.ones((4, 5), bool))
    assert (out == 64).all()  # nothing to match: the guide itself
    with pytest.raises(RestorerError, match="whole image"):
        solve_laplace(guide, np.ones((4, 5), bool))


def test_grey_two_dimensional_input_keeps_its_shape():
    hole = masks(20)["rect"]
    target = np.random.default_rng(5).random(hole.shape).astype(np.float32)
    out = poisson_blend(target, target + 0.1, hole)
    assert out.shape == hole.shape
    np.testing.assert_allclose(out[hole], target[hole] + 0.0, atol=1e-3)  # same gradients, same edge


@pytest.mark.parametrize(
    ("target", "guide", "hole", "message"),
    [
        (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.float32), np.ones((4, 4), bool), "shape"),
        (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8), np.ones((4, 4), bool), "float"),
        (np.zeros((4, 4, 3), np.int32), np.zeros((4, 4, 3), np.float32), np.ones((4, 4), bool), "int32"),
        (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.float32), np.ones((4, 4), np.uint8), "bool"),
        (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.float32), np.ones((4, 3), bool), "mask"),
        (np.zeros((0, 4, 3), np.uint8), np.zeros((0, 4, 3), np.float32), np.ones((0, 4), bool), "height"),
    ],
)
def test_bad_input_is_refused_with_one_line(target, guide, hole, message):
    with pytest.raises(RestorerError, match=message) as info:
        poisson_blend(target, guide, hole)
    assert "\n" not in str(info.value)


def test_nan_guide_is_refused_and_target_untouched():
    target = np.full((10, 10, 3), 7, np.uint8)
    guide = np.zeros((10, 10, 3), np.float32)
    guide[5, 5, 1] = np.nan
    hole = np.zeros((10, 10), bool)
    hole[3:7, 3:7] = True
    with pytest.raises(RestorerError, match="NaN"):
        poisson_blend(target, guide, hole)
    assert (target == 7).all()


def test_dense_engine_waits_for_torch_unless_the_box_is_huge(monkeypatch):
    import sys

    use_dense = poisson.dirichlet.use_dense
    assert not use_dense(10, 1000)  # a sparse hole never goes dense
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert not use_dense(900, 1000)  # compact but small: not worth importing torch
    assert use_dense(900_000, 1_000_000)
    monkeypatch.setitem(sys.modules, "torch", object())
    assert use_dense(900, 1000)  # torch is there anyway


# --- every tiny hole, everywhere (issue 14, item 3) ----------------------------------------------
#
# Dust specks and scratch ends are holes of a few pixels. A hole all of whose pixels lie on the
# odd squares of the checkerboard counted from the array's corner has no "red" cell: the cell-list
# engine's direct solve then read every missing neighbour as a coupling to cell 0 and assembled a
# singular (or, at the image edge, a wrong) matrix. So: every 1-4 pixel shape within a 3x3
# neighbourhood, at every position of a 5x6 image (corners, edges, interior, both parities).

TINY_CELLS = [(y, x) for y in range(3) for x in range(3)]
TINY_SHAPES = [c for k in range(1, 5) for c in itertools.combinations(TINY_CELLS, k)]
TINY_IMAGE = (5, 6)


def tiny_hole(shape: tuple[tuple[int, int], ...], oy: int, ox: int, size=TINY_IMAGE) -> np.ndarray:
    hole = np.zeros(size, bool)
    for y, x in shape:
        hole[oy + y, ox + x] = True
    return hole


def tiny_holes(size=TINY_IMAGE, positions=None):
    """(shape, oy, ox, hole) for every tiny shape at every position that keeps it inside ``size``
    (or at the given (oy, ox) ``positions``)."""
    every = [(oy, ox) for oy in range(size[0] - 2) for ox in range(size[1] - 2)]
    for shape in TINY_SHAPES:
        for oy, ox in positions or every:
            yield shape, oy, ox, tiny_hole(shape, oy, ox, size)


@pytest.mark.parametrize("dense", [False, True], ids=["cells", "dense"])
def test_every_tiny_hole_at_every_position_matches_the_direct_solve(dense, monkeypatch):
    monkeypatch.setattr(poisson.dirichlet, "use_dense", lambda cells, pixels: dense)
    rng = np.random.default_rng(7)
    values = rng.random((*TINY_IMAGE, 2)).astype(np.float32)
    target = (rng.random((*TINY_IMAGE, 3)) * 255).astype(np.uint8)
    guide = rng.random((*TINY_IMAGE, 3)).astype(np.float32)
    # The dense engine (never affected) at the four corners and one interior offset of each parity.
    positions = [(0, 0), (0, 3), (2, 0), (2, 3), (1, 1), (1, 2)] if dense else None
    failures = []
    for shape, oy, ox, hole in tiny_holes(positions=positions):
        got = solve_laplace(values, hole)
        blended = poisson_blend(target, guide, hole)
        expected = guide + reference_laplace(target / 255.0 - guide, hole)
        exact = np.array_equal(blended[~hole], target[~hole]) and np.array_equal(got[~hole], values[~hole])
        blend_error = np.abs(blended[hole] / 255.0 - np.clip(expected[hole], 0, 1)).max()
        if not (exact and np.abs(got - reference_laplace(values, hole)).max() < 1e-4 and blend_error < 3e-3):
            failures.append((shape, oy, ox))
    assert failures == [], f"{len(failures)} cases failed, first {failures[:3]}"


def test_issue_14_shapes_are_solved():
    # The reported triggers: a lone pixel, a down-left diagonal pair, a pixel at the photo's edge.
    values = np.random.default_rng(8).random((64, 64, 3)).astype(np.float32)
    for pixels in ([(30, 31)], [(30, 30), (31, 29)], [(30, 31), (31, 30)], [(0, 1)], [(63, 62)], [(1, 0)]):
        hole = np.zeros((64, 64), bool)
        for p in pixels:
            hole[p] = True
        got = solve_laplace(values, hole)
        np.testing.assert_allclose(got, reference_laplace(values, hole), atol=1e-5)


@settings(max_examples=60, deadline=None)
@given(
    index=st.integers(0, len(TINY_SHAPES) - 1),
    oy=st.integers(0, TINY_IMAGE[0] - 3),
    ox=st.integers(0, TINY_IMAGE[1] - 3),
    dense=st.booleans(),
)
def test_tiny_holes_through_the_multigrid_cycles(index, oy, ox, dense):
    # A direct limit of 1 cell makes even a 2-pixel hole go through the V-cycle and coarse levels.
    hole = tiny_hole(TINY_SHAPES[index], oy, ox)
    values = np.random.default_rng(index).random((*TINY_IMAGE, 1)).astype(np.float32)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(poisson.dirichlet, "DIRECT_LIMIT", 1)
        patch.setattr(poisson.dirichlet, "use_dense", lambda cells, pixels: dense)
        got = solve_laplace(values, hole)
    np.testing.assert_allclose(got, reference_laplace(values, hole), atol=1e-4)


def laplacian_matrix(hole: np.ndarray) -> np.ndarray:
    """The dense (n, n) operator of the hole's pixels in row-major order: in-image neighbour count on
    the diagonal, -1 per neighbour in the hole."""
    flat = np.flatnonzero(hole)
    matrix = np.zeros((flat.size, flat.size))
    position = {p: i for i, p in enumerate(flat)}
    height, width = hole.shape
    for i, p in enumerate(flat):
        y, x = divmod(int(p), width)
        for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
            if 0 <= ny < height and 0 <= nx < width:
                matrix[i, i] += 1
                if hole[ny, nx]:
                    matrix[i, position[ny * width + nx]] -= 1
    return matrix


@pytest.mark.parametrize(
    "shape", [((0, 1),), ((0, 1), (1, 0)), ((0, 1), (1, 0), (1, 2), (2, 1)), ((0, 0), (1, 1))]
)
@pytest.mark.parametrize("at", [(0, 0), (1, 0), (2, 3)])
def test_cell_direct_solve_inverts_the_true_matrix(shape, at):
    # The root cause checked on the factorised operator itself, with and without red cells.
    from restorer.core.poisson.cell_levels import _hierarchy

    hole = tiny_hole(shape, *at)
    flat = np.flatnonzero(hole)
    ys, xs = np.divmod(flat, hole.shape[1])
    red = ((ys + xs) & 1) == 0
    order = np.concatenate([np.flatnonzero(red), np.flatnonzero(~red)])  # the engine's [red, black]
    levels = _hierarchy(flat, *hole.shape, direct_limit=2000)
    x = np.random.default_rng(9).random((2, flat.size))
    rhs = (laplacian_matrix(hole) @ x.T).T
    np.testing.assert_allclose(levels[0].direct(rhs[:, order].astype(np.float32)), x[:, order], atol=1e-5)
