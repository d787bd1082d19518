"""What the worker thread needs besides Qt: the out-of-memory retry plan, error lines, preview frames."""

from __future__ import annotations

import numpy as np

from restorer.core.types import Bounds, RestoreOptions
from restorer.editing.preview import Throttle, preview_frame, window_of
from restorer.editing.retry import Attempt, describe_error, is_out_of_memory, retry_plan


def test_retry_plan_and_error_text():
    assert retry_plan(RestoreOptions(starts=16, device="cpu")) == [Attempt(16, "cpu")]
    assert [a.starts for a in retry_plan(RestoreOptions(starts=1, device="cuda"))] == [1, 1]
    assert describe_error(MemoryError()).startswith("not enough memory")
    err = FileNotFoundError(2, "No such file or directory", "/x/y.png")
    assert describe_error(err) == "No such file or directory: /x/y.png"


def test_out_of_memory_is_found_however_it_is_wrapped():
    try:
        try:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        except RuntimeError as inner:
            raise ValueError("the fill failed") from inner
    except ValueError as outer:
        assert is_out_of_memory(outer)
    assert not is_out_of_memory(MemoryError("out of memory"))  # host RAM: not retried on a GPU
    assert describe_error(RuntimeError("CUDA out of memory")).startswith("the GPU ran out of memory")


def test_preview_frame_is_clipped_to_the_photo():
    mask = np.ones((10, 10), bool)
    box = Bounds.from_xywh((6, -2, 8, 6))
    hole = window_of(mask, box)
    assert hole.shape == (6, 8) and hole.sum() == 4 * 4  # rows and columns outside the photo: no hole
    frame = preview_frame(0, box, np.zeros((6, 8, 1), np.float32), hole, mask.shape, 1)
    assert frame.bounds.xywh() == (6, 0, 4, 4) and frame.rgba.shape == (4, 4, 4)
    assert (frame.rgba[..., 3] == 255).all()


def test_preview_pixels_use_the_one_float_to_integer_scaling():
    image = np.array([[[0.0, 0.25, 1.0], [0.5, 2.0, -1.0]]], np.float32)
    frame = preview_frame(0, Bounds(0, 0, 1, 2), image, np.ones((1, 2), bool), (1, 2), 1)
    np.testing.assert_array_equal(frame.rgba[..., :3], [[[0, 64, 255], [128, 255, 0]]])


def test_throttle_lets_through_at_most_rate_per_second():
    throttle = Throttle(10.0)
    assert throttle.ready(100.0) and not throttle.ready(100.05) and throttle.ready(100.11)
