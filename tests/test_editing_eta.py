"""The time estimate shown by the window's progress (and the command line's bar)."""

from __future__ import annotations

import pytest

from restorer.editing.eta import Eta, format_duration


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_durations_read_like_a_clock():
    assert [format_duration(s) for s in (0, 4.4, 59.6, 61, 3599, 3723)] == [
        "0 s",
        "4 s",
        "1:00",
        "1:01",
        "59:59",
        "1:02:03",
    ]
    assert format_duration(-3) == "0 s"


def test_nothing_is_guessed_before_the_first_iteration(clock):
    eta = Eta(clock)
    eta.start()
    clock.now += 2
    assert eta.estimate().remaining is None and eta.estimate().elapsed == 2
    eta.region_started(0, 2)
    clock.now += 1
    estimate = eta.estimate()
    assert estimate.region_remaining is None and estimate.remaining is None
    assert estimate.text() == "region 1 s · total 3 s"


def test_one_region_follows_its_iteration_rate(clock):
    eta = Eta(clock)
    eta.start()
    eta.region_started(0, 1)
    clock.now += 10
    eta.progress(25, 100)  # a quarter done in 10 s: 30 s to go
    estimate = eta.estimate()
    assert estimate.region_elapsed == 10 and estimate.region_remaining == pytest.approx(30)
    assert estimate.remaining == pytest.approx(30)
    assert estimate.text() == "10 s, about 30 s left"  # one region: no separate region figure


def test_later_regions_are_assumed_to_take_the_average_so_far(clock):
    eta = Eta(clock)
    eta.start()
    eta.region_started(0, 3)
    clock.now += 20
    eta.progress(50, 100)  # region 1 projected to take 40 s: two more like it after
    assert eta.estimate().remaining == pytest.approx(20 + 2 * 40)
    clock.now += 20
    eta.region_finished()  # it took 40 s
    assert eta.estimate().remaining == pytest.approx(2 * 40)
    eta.region_started(1, 3)
    clock.now += 5  # no iteration yet: this one is assumed to take 40 s too
    assert eta.estimate().region_remaining is None
    assert eta.estimate().remaining == pytest.approx(35 + 40)
    eta.progress(50, 100)  # but it runs faster: 10 s projected, averaged with 40 s
    estimate = eta.estimate()
    assert estimate.region_remaining == pytest.approx(5)
    assert estimate.remaining == pytest.approx(5 + (40 + 10) / 2)
    assert estimate.elapsed == 45 and estimate.region == 1 and estimate.count == 3
    assert estimate.text() == "region 5 s, about 5 s left · total 45 s, about 30 s left"


def test_the_last_region_finishing_leaves_nothing(clock):
    eta = Eta(clock)
    eta.region_started(0, 1)  # start() is implied by the first region
    clock.now += 3
    eta.progress(10, 10)
    assert eta.estimate().remaining == 0
    eta.region_finished()
    assert eta.estimate().remaining == 0 and eta.estimate().total_text() == "3 s, about 0 s left"


def test_a_region_at_its_last_iteration_is_still_running(clock):
    eta = Eta(clock)
    eta.region_started(0, 2)
    clock.now += 4
    eta.progress(10, 10)  # all iterations done, blending still to come: not finished yet
    assert eta.estimate().remaining == pytest.approx(4)
    eta.region_finished()
    eta.region_finished()  # a repeated finish counts once
    assert eta.estimate().remaining == pytest.approx(4)
