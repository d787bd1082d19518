"""Run every benchmark and print one markdown report (machine, command, each benchmark's table).

    python benchmarks/run_all.py [--quick] [--only latent,poisson,...] [--out report.md]

The benchmarks are listed in ``BENCHMARKS`` (a new ``bench_<name>.py`` must be added there; a
check refuses to run while one is missing). Each prints its own markdown table on stdout; this
script runs them one after another in fresh processes (so one's memory or threads do not affect
the next) and stamps the machine they ran on, load average included. Copy the report into
docs/benchmarks.md when recording results.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, machine

HERE = Path(__file__).resolve().parent

# name -> (script, extra arguments for --quick); every script runs alone too, see its --help
BENCHMARKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "startup": ("bench_startup.py", ("--quick",)),
    "fills": ("bench_fills.py", ("--quick",)),
    "poisson": ("bench_poisson.py", ("--quick",)),
    "latent": ("bench_latent.py", ("--quick",)),
    "detect": ("bench_detect.py", ("--quick",)),
    "gui": ("bench_gui.py", ()),
    "fill_quality": ("fill_quality.py", ("--quick",)),
}


def check_registered() -> None:
    listed = {script for script, _ in BENCHMARKS.values()}
    missing = sorted(p.name for p in HERE.glob("bench_*.py") if p.name not in listed)
    if missing:
        raise SystemExit(f"not in run_all.BENCHMARKS: {', '.join(missing)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="each benchmark's quick variant")
    parser.add_argument("--only", default="", help=f"comma-separated names from {', '.join(BENCHMARKS)}")
    parser.add_argument("--out", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    check_registered()
    names = list(BENCHMARKS)
    if args.only:
        wanted = args.only.split(",")
        unknown = [n for n in wanted if n not in BENCHMARKS]
        if unknown:
            parser.error(f"unknown benchmark {unknown[0]!r} (choose from {', '.join(BENCHMARKS)})")
        names = [n for n in names if n in wanted]
    lines = [
        f"Run {dt.datetime.now().isoformat(timespec='minutes')} on {machine()}",
        f"Command: `python benchmarks/run_all.py{' --quick' if args.quick else ''}"
        f"{' --only ' + args.only if args.only else ''}`",
        "",
    ]
    failed = 0
    for name in names:
        script, quick = BENCHMARKS[name]
        cmd = [sys.executable, str(HERE / script), *(quick if args.quick else ())]
        started = load_average()
        t0 = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        took = time.monotonic() - t0
        lines += [f"### {name}", ""]
        if proc.returncode != 0:
            failed += 1
            lines += [f"FAILED (exit {proc.returncode}):", "```", proc.stderr.strip()[-2000:], "```", ""]
        else:
            lines += [proc.stdout.strip(), "", f"({took:.0f} s; {started} at the start)", ""]
        print("\n".join(lines[-6:]), file=sys.stderr)
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
