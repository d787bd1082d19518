"""Helpers for the engine's long jobs, which are generators yielding progress and returning a result."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TypeVar

Event = TypeVar("Event")
Result = TypeVar("Result")


def run_to_end(
    job: Generator[Event, None, Result], on_event: Callable[[Event], None] | None = None
) -> Result:
    """Drive a job generator to completion, passing each event to ``on_event``; return its result."""
    while True:
        try:
            event = next(job)
        except StopIteration as stop:
            return stop.value
        if on_event is not None:
            on_event(event)


Other = TypeVar("Other")


def relay(
    job: Generator[Event, None, Result], convert: Callable[[Event], Other | None]
) -> Generator[Other, None, Result]:
    """Re-yield a job's events as ``convert`` turns them (None drops one); return the job's result."""
    while True:
        try:
            event = next(job)
        except StopIteration as stop:
            return stop.value
        converted = convert(event)
        if converted is not None:
            yield converted
