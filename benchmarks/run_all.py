"""Run every benchmark and print one markdown report (machine, command, each benchmark's table).

    python benchmarks/run_all.py [--quick] [--only latent,poisson,...] [--out report.md]

Each ``benchmarks/bench_<name>.py`` prints its own markdown table on stdout; this script runs them one
after another in fresh processes (so one's memory or threads do not affect the next) and stamps the
machine they ran on. Copy the report into docs/benchmarks.md when recording results.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    py = platform.python_version()
    return f"{cpu}, {os.cpu_count()} logical cores, {gpu}; Python {py}, torch {torch.__version__}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    parser.add_argument("--only", default="", help="comma-separated names, e.g. latent,poisson")
    parser.add_argument("--out", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    names = [p.stem.removeprefix("bench_") for p in sorted(HERE.glob("bench_*.py"))]
    if args.only:
        wanted = set(args.only.split(","))
        names = [n for n in names if n in wanted]
    lines = [
        f"Run {dt.datetime.now().isoformat(timespec='minutes')} on {machine()}",
        f"Command: `python benchmarks/run_all.py{' --quick' if args.quick else ''}"
        f"{' --only ' + args.only if args.only else ''}`",
        "",
    ]
    failed = 0
    for name in names:
        cmd = [sys.executable, str(HERE / f"bench_{name}.py"), *(["--quick"] if args.quick else [])]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        took = time.monotonic() - t0
        lines += [f"### {name}", ""]
        if proc.returncode != 0:
            failed += 1
            lines += [f"FAILED (exit {proc.returncode}):", "```", proc.stderr.strip()[-2000:], "```", ""]
        else:
            lines += [proc.stdout.strip(), "", f"({took:.0f} s)", ""]
        print("\n".join(lines[-6:]), file=sys.stderr)
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
