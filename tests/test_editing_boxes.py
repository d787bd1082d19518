"""The context box tool drags out squares."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from restorer.core.types import Bounds
from restorer.editing.boxes import square_box


def test_the_longer_side_of_the_drag_sets_the_square():
    assert square_box((10.2, 10.7), (50.0, 30.0), (100, 120)) == Bounds(10, 10, 50, 50)
    assert square_box((50.5, 50.5), (20.0, 40.0), (100, 120)) == Bounds(21, 21, 51, 51)  # up and left


def test_the_photo_edge_shortens_the_square_instead_of_stretching_it():
    assert square_box((100.0, 80.0), (119.0, 99.0), (90, 120)) == Bounds(80, 100, 90, 110)


coordinate = st.floats(-20, 140, allow_nan=False)


@given(coordinate, coordinate, coordinate, coordinate)
def test_always_a_square_inside_the_photo(x0, y0, x1, y1):
    box = square_box((x0, y0), (x1, y1), (90, 120))
    assert box.width == box.height >= 1
    assert Bounds.of_shape((90, 120)).contains(box)
