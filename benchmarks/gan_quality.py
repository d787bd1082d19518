"""How close a face GAN's samples are to real faces: Fréchet distances on two feature spaces.

No Inception network can be downloaded here, so the distances use features that need nothing
outside the project and do not come from the GAN itself:

* ``FD-CE``: the shipped Context Encoder's encoder (trained on real faces only, never on samples):
  each channel of its (N, 256, 4, 4) output, its mean and its spread over the 16 positions -> 512
  numbers that say what the face holds and how it varies across it;
* ``FD-px``: the image itself shrunk to 8 x 8 (192 numbers): layout, colour and tone.

Each is the Fréchet distance between Gaussians fitted to N real FairFace val faces (never trained
on) and N samples G(z), z uniform in [-1, 1] with fixed seeds; lower is better. The same distance
between the val faces and N other real faces (FairFace train-7, the last training shard) is printed
as the floor: what two sets of real faces of the same size differ by (the estimate is biased
upwards at small N, so only distances at the same N compare).

    python benchmarks/gan_quality.py --models models/face64.pt runs/gan/face64.pt --count 2000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, machine, set_threads

FAIRFACE = Path(__file__).resolve().parents[2] / "shared" / "data" / "fairface"
VAL, OTHER_REAL = FAIRFACE / "val.zip", FAIRFACE / "train-7.zip"


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the rows of ``a`` and of ``b``."""
    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * np.real(root)))


def features(images: torch.Tensor, encoder: torch.nn.Module) -> dict[str, np.ndarray]:
    """images (N, 3, 64, 64) in [-1, 1] -> {"ce": (N, 512), "px": (N, 192)}."""
    from restorer.core.networks import make_context_input

    out: dict[str, list[np.ndarray]] = {"ce": [], "px": []}
    with torch.no_grad():
        for batch in images.split(250):
            known = torch.ones(len(batch), 1, *batch.shape[2:])
            code = encoder(make_context_input(batch, known))  # (n, 256, 4, 4)
            per_channel = code.mean((2, 3))  # (n, 256): what is there
            spread = code.flatten(2).std(2)  # (n, 256): how it varies across the face
            out["ce"].append(torch.cat([per_channel, spread], 1).numpy())
            out["px"].append(F.adaptive_avg_pool2d(batch, 8).flatten(1).numpy())
    return {k: np.concatenate(v).astype(np.float64) for k, v in out.items()}


def real_faces(count: int, source: Path = VAL) -> torch.Tensor:
    from restorer.training.data import load_dataset

    faces = load_dataset([source], 64, None, count)
    return faces.float().div(127.5).sub(1.0)


def samples(model_path: Path, count: int, seed: int) -> torch.Tensor:
    from restorer.core.latent import initial_latents
    from restorer.core.weights import load_model

    generator = load_model(model_path).nets["generator"].eval()
    z = initial_latents(count, generator.arch.nz if hasattr(generator, "arch") else 100, seed)
    with torch.no_grad():
        return torch.cat([generator(part).float().clamp(-1, 1) for part in z.split(250)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", type=Path, default=[Path("models/face64.pt")])
    parser.add_argument("--count", type=int, default=2000, help="val faces and samples (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    from restorer.core.weights import default_model, load_model

    started = time.perf_counter()
    print(f"# {machine()}; {load_average()}")
    encoder = load_model(default_model("context-encoder")).nets["context_encoder"].eval().encoder
    real = features(real_faces(args.count), encoder)
    print(f"# {args.count} FairFace val faces, {args.count} samples per model, seed {args.seed}")
    print("| model | FD-CE | FD-px |")
    print("| --- | ---: | ---: |")
    other = features(real_faces(args.count, OTHER_REAL), encoder)
    floor = {k: frechet(v, other[k]) for k, v in real.items()}
    print(f"| real faces ({OTHER_REAL.name}), the floor | {floor['ce']:.3f} | {floor['px']:.4f} |")
    for path in args.models:
        fake = features(samples(path, args.count, args.seed), encoder)
        ce, px = frechet(real["ce"], fake["ce"]), frechet(real["px"], fake["px"])
        print(f"| {path} | {ce:.3f} | {px:.4f} |")
    print(f"# {time.perf_counter() - started:.0f} s; {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
