"""When a background job fails: the out-of-memory retry plan and the one line the user reads
(no Qt, no torch)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from restorer.core.errors import RestorerError
from restorer.core.types import RestoreOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    starts: int
    device: str
    notice: str = ""  # what to tell the user about why this attempt differs from the request


def retry_plan(options: RestoreOptions, halvings: int = 2) -> list[Attempt]:
    """Attempts after CUDA runs out of memory: fewer starts (same GPU) a couple of times, then the CPU."""
    plan = [Attempt(options.starts, options.device)]
    if options.device == "cpu":
        return plan
    starts = options.starts
    for _ in range(halvings):
        if starts <= 1:
            break
        starts = max(1, starts // 2)
        plan.append(Attempt(starts, options.device, f"GPU out of memory: retrying with {starts} starts"))
    cpu_notice = f"GPU out of memory: retrying on the CPU with {starts} starts (slower)"
    plan.append(Attempt(starts, "cpu", cpu_notice))
    return plan


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA out-of-memory, however the engine surfaced it (torch's class, a RuntimeError, a wrapped error)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower():
            return not isinstance(exc, MemoryError)  # host RAM exhaustion is not retried on a GPU
        exc = exc.__cause__ or exc.__context__
    return False


def describe_error(exc: BaseException) -> str:
    """One line for the user; unexpected errors are also logged with their traceback."""
    if isinstance(exc, RestorerError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "not enough memory for this operation; close other programs or use a smaller photo"
    if is_out_of_memory(exc):
        return "the GPU ran out of memory, even with fewer starts; try the CPU device"
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    log.error("unexpected error", exc_info=exc)
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"unexpected error ({type(exc).__name__}{': ' + text if text else ''})"
