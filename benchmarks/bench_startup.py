"""Start-up and classic restore: `restorer inpaint --method classic` on a 256 px photo, wall time end to end.

A 256x256 photo (a Kodak photo, resized) and its mask (four thin scratches and a 20 px blob, so
both classical fills run) are written to a temporary folder; the command is run as a fresh
process, as a user runs it, and timed from launch to exit (start-up included). Then the same
command runs once under ``python -X importtime``, which lists the modules it loaded and whether
torch was among them, and the parser alone (`restorer inpaint --help`) is checked for heavy
imports. Target: at most 1.5 s wall.

    python benchmarks/bench_startup.py [--quick] [--repeats N]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_parser, load_photo, repeats

TARGET_S = 1.5
SIZE = 256
HEAVY = ("torch", "scipy", "PIL", "tifffile", "PySide6", "cv2")  # packages worth knowing about at start
# Runs the CLI as `restorer` does, then reports which heavy packages it imported (to stderr).
WRAPPER = (
    "import sys\n"
    "from restorer.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    f"loaded = sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})\n"
    "print('HEAVY ' + ','.join(loaded), file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


def write_inputs(folder: Path) -> tuple[Path, Path]:
    """The photo and its mask as PNG files; returns their paths."""
    from PIL import Image

    from restorer.training.synthetic_damage import scratch_mask

    photo = load_photo("kodim05.png", (SIZE, SIZE))
    mask = scratch_mask((SIZE, SIZE), np.random.default_rng(0), count=4, width=(1, 4))
    ys, xs = np.ogrid[:SIZE, :SIZE]
    mask |= (ys - 170) ** 2 + (xs - 90) ** 2 <= 10**2  # the 20 px blob: wide, so the patch fill takes it
    image, mask_path = folder / "photo.png", folder / "mask.png"
    Image.fromarray(photo).save(image)
    Image.fromarray(mask.astype(np.uint8) * 255).save(mask_path)
    return image, mask_path


def launcher() -> list[str]:
    """The installed `restorer` script beside this Python, else `python -m restorer`."""
    script = Path(sys.executable).with_name("restorer")
    return [str(script)] if script.exists() else [sys.executable, "-m", "restorer"]


def run(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds, proc


@dataclass(frozen=True)
class Import:
    """One ``-X importtime`` entry; the output lists a module after the modules it imported."""

    name: str
    depth: int  # 0 = imported by the program itself
    cumulative: float  # seconds, its own imports included
    parent: str | None  # the module whose import imported it


def parse_importtime(stderr: str) -> list[Import]:
    raw = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            _, cumulative, name = line.split("|")
            if cumulative.strip().isdigit():
                depth = (len(name) - len(name.lstrip(" ")) - 1) // 2  # top level: one space
                raw.append((name.strip(), depth, int(cumulative) / 1e6))
    entries = []
    for i, (name, depth, cumulative) in enumerate(raw):
        parent = next((n for n, d, _ in raw[i + 1 :] if d == depth - 1), None) if depth else None
        entries.append(Import(name, depth, cumulative, parent))
    return entries


def package_seconds(entries: list[Import], package: str) -> float:
    """Import seconds of a package: its modules' cumulative times where another package imported them."""

    def top(name: str | None) -> str | None:
        return name.split(".")[0] if name else None

    return sum(e.cumulative for e in entries if top(e.name) == package and top(e.parent) != package)


def chain_to(entries: list[Import], module: str) -> list[str]:
    """The imports that first loaded ``module``, outermost first."""
    by_name = {e.name: e for e in reversed(entries)}  # a module's first import wins
    chain, entry = [], by_name.get(module)
    while entry is not None:
        chain.append(entry.name)
        entry = by_name.get(entry.parent) if entry.parent else None
    return chain[::-1]


def heavy_loaded(stderr: str) -> list[str]:
    """The packages of note the wrapper found loaded at exit."""
    line = next((line for line in stderr.splitlines() if line.startswith("HEAVY ")), "HEAVY ")
    return [p for p in line[6:].split(",") if p]


def main(argv: list[str] | None = None) -> int:
    args = bench_parser(__doc__, "3 timed runs", repeats=7).parse_args(argv)
    runs = repeats(args)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        image, mask = write_inputs(folder)

        def command(i: int) -> list[str]:
            out = folder / f"out{i}.png"
            return [str(image), "--mask", str(mask), "-o", str(out), "--method", "classic"]

        first, _ = run([*launcher(), "inpaint", *command(0)])  # cold: file caches, bytecode
        walls = [run([*launcher(), "inpaint", *command(i + 1)])[0] for i in range(runs)]
        baseline = statistics.median(run([sys.executable, "-c", "pass"])[0] for _ in range(3))
        _, traced = run([sys.executable, "-X", "importtime", "-c", WRAPPER, "inpaint", *command(runs + 1)])
        _, parser = run([sys.executable, "-X", "importtime", "-c", WRAPPER, "inpaint", "--help"])
        help_wall = statistics.median(run([*launcher(), "inpaint", "--help"])[0] for _ in range(3))
        regions = [line for line in traced.stderr.splitlines() if line.startswith("region ")]

    entries, heavy = parse_importtime(traced.stderr), heavy_loaded(traced.stderr)
    parser_heavy = heavy_loaded(parser.stderr)
    parser_total = sum(e.cumulative for e in parse_importtime(parser.stderr) if e.depth == 0)
    top = sorted((e for e in entries if e.depth == 0), key=lambda e: -e.cumulative)
    wall = statistics.median(walls)
    used = sorted({r.split()[2].rstrip(":") for r in regions})
    print(
        f"`restorer inpaint --method classic`, {SIZE}x{SIZE} RGB PNG, {len(regions)} regions "
        f"({', '.join(used)}), run as `{' '.join(Path(c).name for c in launcher())}`; "
        f"median of {runs} runs after one cold run.\n"
    )
    rows = [
        ("wall, launch to exit (median)", wall, f"target ≤ {TARGET_S} s {'✔' if wall <= TARGET_S else '✘'}"),
        ("fastest run", min(walls), ""),
        ("first (cold) run", first, ""),
        ("`python -c pass`", baseline, "the interpreter alone"),
        ("imports, under `-X importtime`", sum(e.cumulative for e in top), "lazy imports included"),
        (
            "of which torch",
            package_seconds(entries, "torch"),
            "imported" if "torch" in heavy else "not imported",
        ),
        *((f"of which {p}", package_seconds(entries, p), "") for p in ("numpy", *heavy) if p != "torch"),
        ("`restorer inpaint --help` (median of 3)", help_wall, f"parser build; imports {parser_total:.3f} s"),
    ]
    print("| measure | seconds | note |")
    print("| --- | ---: | --- |")
    for name, seconds, note in rows:
        print(f"| {name} | {seconds:.3f} | {note} |")
    print(
        f"\nPackages of note loaded by the classic restore: {', '.join(heavy) or 'none'}; "
        f"by building the parser: {', '.join(parser_heavy) or 'none'} (numpy is always loaded).\n"
    )
    print("Slowest top-level imports of the classic restore (cumulative s, nested imports included):\n")
    print("| module | s |")
    print("| --- | ---: |")
    for entry in top[:8]:
        print(f"| {entry.name} | {entry.cumulative:.3f} |")
    print()
    for package in heavy:
        print(f"- {package} came in through: {' → '.join(chain_to(entries, package))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
