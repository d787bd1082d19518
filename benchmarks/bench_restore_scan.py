"""A whole scan restored from the command line: a 24 MP photo with about 1 MP of mixed damage.

The scan is the 24 Kodak photos enlarged to 1000 x 1000 and tiled 6 x 4 (6000 x 4000), aged, with
synthetic scratches, cracks and dust (bench_detect.make_scan) plus a few wide stains and holes, so
that `--method auto` routes regions to diffusion and to the patch fill. Each run is a separate
`restorer inpaint` process; with ``--concurrent N`` N of them run at once (the issue-14 case of
several restores sharing the machine). Reports wall time and peak RSS per process.

    python benchmarks/bench_restore_scan.py [--quick] [--concurrent N] [--method auto]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, machine
from bench_detect import make_scan

from restorer.training.synthetic_damage import stain_mask


def mixed_damage_scan(quick: bool, stains: int = 60) -> tuple[np.ndarray, np.ndarray]:
    scan, mask = make_scan()
    rng = np.random.default_rng(7)
    mask |= stain_mask(mask.shape, rng, count=stains, size=(0.01, 0.03))  # holes 60-180 px across
    if quick:  # a quarter of the scan, for a fast look
        scan, mask = scan[:2000, :3000], mask[:2000, :3000]
    return scan, mask


def run_one(photo: Path, mask: Path, out: Path, method: str) -> subprocess.Popen:
    # /usr/bin/time -f reports the child's peak RSS; fall back to no memory figure without it.
    cmd = [sys.executable, "-m", "restorer", "inpaint", str(photo), "--mask", str(mask), "-o", str(out)]
    cmd += ["--method", method, "-q", "--overwrite"]
    if Path("/usr/bin/time").exists():
        cmd = ["/usr/bin/time", "-f", "peak_kb=%M", *cmd]
    return subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="6 MP instead of 24 MP")
    parser.add_argument("--concurrent", type=int, default=1, help="restores run at once (default 1)")
    parser.add_argument("--method", default="auto")
    parser.add_argument("--stains", type=int, default=60, help="wide holes (default 60)")
    args = parser.parse_args(argv)
    scan, mask = mixed_damage_scan(args.quick, args.stains)
    print(f"# {machine()}; load before: {load_average()}")
    print(f"scan {scan.shape[1]}x{scan.shape[0]}, {mask.sum() / 1e6:.2f} MP damaged, method {args.method}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        Image.fromarray(scan).save(folder / "scan.png", compress_level=1)
        Image.fromarray(mask.astype(np.uint8) * 255).save(folder / "mask.png")
        start = time.perf_counter()
        procs = [
            run_one(folder / "scan.png", folder / "mask.png", folder / f"out{i}.png", args.method)
            for i in range(args.concurrent)
        ]
        for i, proc in enumerate(procs):
            _, err = proc.communicate()
            wall = time.perf_counter() - start
            peak = [line for line in err.splitlines() if line.startswith("peak_kb=")]
            mb = f"{int(peak[-1][8:]) / 1024:.0f} MB" if peak else "n/a"
            other = [line for line in err.splitlines() if not line.startswith("peak_kb=")]
            print(f"restore {i + 1}: exit {proc.returncode}, done after {wall:.1f} s, peak RSS {mb}")
            for line in other[-5:]:
                print(f"  {line}")
    print(f"cores: {os.cpu_count()}; load after: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
