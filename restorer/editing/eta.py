"""Elapsed and remaining time of a restoration, per region and overall (no Qt, no torch).

The window's progress and the command line's bar feed the engine's events in and show the
estimate. A region's remaining time follows its own iteration rate; the regions not started yet
are assumed to take as long as the finished ones did on average (or, before any has finished, as
long as this one is projected to take). Regions differ (a scratch takes a moment, a face minutes),
so the overall figure is an honest "about", refined as each region finishes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


def format_duration(seconds: float) -> str:
    """``42 s``, ``3:07`` or ``1:02:03``: short enough for a progress line."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}:{secs:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


@dataclass(frozen=True)
class Estimate:
    """Seconds spent and (None: not known yet) left, for the current region and the whole job."""

    region: int  # 0-based index of the current region (-1 before the first starts)
    count: int  # regions planned (0 before the first starts)
    region_elapsed: float
    region_remaining: float | None
    elapsed: float
    remaining: float | None

    def region_text(self) -> str:
        return _span(self.region_elapsed, self.region_remaining)

    def total_text(self) -> str:
        return _span(self.elapsed, self.remaining)

    def text(self) -> str:
        """One line, e.g. ``region 0:12, about 30 s left · total 1:05, about 1:40 left``."""
        if self.count <= 1:
            return f"{self.total_text()}"
        return f"region {self.region_text()} · total {self.total_text()}"


def _span(elapsed: float, remaining: float | None) -> str:
    left = "" if remaining is None else f", about {format_duration(remaining)} left"
    return f"{format_duration(elapsed)}{left}"


@dataclass
class Eta:
    """Feed it the job's start and each region's start, progress and finish; ask for :meth:`estimate`."""

    clock: Callable[[], float] = time.monotonic
    _started: float | None = None
    _region: int = -1
    _count: int = 0
    _region_started: float = 0.0
    _fraction: float = 0.0  # of the current region done, from its iterations
    _region_done: bool = False  # the current region has finished
    _durations: list[float] = field(default_factory=list)  # of the finished regions

    def start(self) -> None:
        self._started = self.clock()
        self._region, self._count, self._fraction, self._durations = -1, 0, 0.0, []
        self._region_done = False

    def region_started(self, index: int, count: int) -> None:
        if self._started is None:
            self.start()
        self._region, self._count = index, count
        self._region_started, self._fraction, self._region_done = self.clock(), 0.0, False

    def progress(self, iteration: int, total: int) -> None:
        if total > 0:
            self._fraction = min(max(iteration / total, 0.0), 1.0)

    def region_finished(self) -> None:
        if not self._region_done:
            self._durations.append(self.clock() - self._region_started)
        self._fraction, self._region_done = 1.0, True

    def estimate(self) -> Estimate:
        now = self.clock()
        elapsed = 0.0 if self._started is None else now - self._started
        if self._region < 0:
            return Estimate(-1, 0, 0.0, None, elapsed, None)
        region_elapsed = now - self._region_started
        region_left = self._region_remaining(region_elapsed)
        total_left = self._total_remaining(region_elapsed, region_left)
        return Estimate(self._region, self._count, region_elapsed, region_left, elapsed, total_left)

    def _region_remaining(self, region_elapsed: float) -> float | None:
        if self._fraction >= 1.0:
            return 0.0
        if self._fraction <= 0.0:
            return None  # no iteration done yet: any figure would be a guess
        return region_elapsed / self._fraction * (1.0 - self._fraction)

    def _total_remaining(self, region_elapsed: float, region_left: float | None) -> float | None:
        durations = self._durations
        if region_left is None:
            if not durations:
                return None
            # No rate for this region yet: assume it takes as long as the finished ones did.
            region_left = max(sum(durations) / len(durations) - region_elapsed, 0.0)
        later = max(self._count - self._region - 1, 0)
        if later == 0:
            return region_left
        projected = list(durations)
        if not self._region_done:  # this region is still running: count it at its projected length
            projected.append(region_elapsed + region_left)
        return region_left + later * sum(projected) / len(projected)
