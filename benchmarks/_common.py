"""What the benchmarks share: options, timing, Kodak photos, the machine, filling as the app does.

Imports neither torch nor the engine at module level: ``bench_startup.py`` uses it too, and a
benchmark loads what it measures itself.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from restorer.core.methods import FillMethod

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos" / "kodak"


# --- options -------------------------------------------------------------------------------------


def bench_parser(doc: str, quick: str, repeats: int, quick_repeats: int = 3) -> argparse.ArgumentParser:
    """The options every timing benchmark takes: --quick (described by ``quick``), --repeats, --threads."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help=f"runs per measurement (default {repeats}, quick {quick_repeats})",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.set_defaults(full_repeats=repeats, quick_repeats=quick_repeats)
    return parser


def repeats(args: argparse.Namespace) -> int:
    return args.repeats or (args.quick_repeats if args.quick else args.full_repeats)


def set_threads(count: int | None) -> None:
    """Give torch ``count`` CPU threads (when asked; torch is imported only then)."""
    if count:
        import torch

        torch.set_num_threads(count)


def threads_note() -> str:
    """How many threads torch uses, or that the benchmark never loaded torch."""
    torch = sys.modules.get("torch")
    return f"torch threads {torch.get_num_threads()}" if torch is not None else "torch not loaded"


# --- timing --------------------------------------------------------------------------------------


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds (process CPU time, all threads) of ``fn()`` over ``repeats`` runs."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


class StepClock:
    """Wall seconds of a loop from step ``first`` to step ``last`` (steps counted as completed).

    Call ``at(done)`` as each step completes (``at(0)`` before the first); ``sync`` runs at both
    ends so that work queued on a GPU is counted where it ran.
    """

    def __init__(self, first: int, last: int, sync: Callable[[], None] = lambda: None) -> None:
        self.first, self.last, self.sync = first, last, sync
        self.start = self.end = time.perf_counter()

    def at(self, done: int) -> None:
        if done in (self.first, self.last):
            self.sync()
            if done == self.first:
                self.start = time.perf_counter()
            if done == self.last:
                self.end = time.perf_counter()

    @property
    def seconds(self) -> float:
        return self.end - self.start


# --- inputs ----------------------------------------------------------------------------------------


def load_photo(name: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """A Kodak photo as uint8 RGB, resized (bicubic) to (width, height) when ``size`` is given."""
    from PIL import Image

    with Image.open(KODAK / name) as im:
        rgb = im.convert("RGB")
        return np.asarray(rgb.resize(size, Image.Resampling.BICUBIC) if size else rgb)


# --- the machine -------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    try:
        return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "load average unknown"


def machine(with_torch: bool = True) -> str:
    """CPU model, logical cores, load average, Python (and torch and the GPU, which import torch)."""
    text = (
        f"{cpu_model()}, {os.cpu_count()} logical cores, {load_average()}; Python {platform.python_version()}"
    )
    if with_torch:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
        text += f", torch {torch.__version__}, {gpu}"
    return text


# --- filling as the app does -------------------------------------------------------------------------


def model_free_methods() -> list[FillMethod]:
    """Every registered fill method that needs no model (the classical fills), in display order."""
    from restorer.core import methods

    return [m for m in methods.methods().values() if m.model_kind is None]


def warm_up(methods: list[FillMethod]) -> None:
    """Fill a one-pixel hole with each method, so that timings leave out the first call's imports."""
    pixels = np.zeros((16, 16, 3), np.uint8)
    hole = np.zeros((16, 16), bool)
    hole[8, 8] = True
    for method in methods:
        fill_as_app(method, pixels, hole)


def fill_as_app(method: FillMethod, pixels: np.ndarray, hole: np.ndarray, seed: int = 0) -> np.ndarray:
    """``pixels`` (uint8/uint16) with ``hole`` filled by ``method`` as the engine fills one window:
    the window as float, ``method.fill``, the best candidate composed into the hole
    (``restorer.core.patches.compose``: blended when the method blends)."""
    from restorer.core.imageio import to_float
    from restorer.core.jobs import run_to_end
    from restorer.core.methods import FillRequest
    from restorer.core.patches import compose

    filled = run_to_end(method.fill(FillRequest(0, to_float(pixels), hole, seed)))
    out = pixels.copy()
    out[hole] = compose(pixels, hole, filled.candidates[0], method.blends)
    return out
