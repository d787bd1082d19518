"""Inpainting benchmark in the manner of Yeh et al. (CVPR 2017), Table 1.

Every test image is framed at the model resolution, damaged with each mask type, filled by each
method, and scored against the ground truth with PSNR and SSIM over the whole image (as in the
paper, so known pixels count too), twice: with the generated pixels pasted into the hole, and
with them Poisson-blended in. Filled images are rounded to 8 bits before scoring, as a user
saving the result would get them.

``evaluate`` is a generator (the engine's long-job convention): it yields ``EvalProgress`` and
returns an ``EvalResult``, or None when stopped; ``write_report`` turns the result into
``results.md``, ``results.json`` and ``grid.png``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from restorer.core.errors import RestorerError
from restorer.core.weights import DEFAULT_MODELS, LoadedModel, load_model, resolve_model
from restorer.training.masks import MASK_TYPES

METHODS = ("latent", "context-encoder", "classic")
BLENDS = ("paste", "blend")
# A perfect fill has infinite PSNR; averages cap each image at this value. One 8-bit level of
# error in a single pixel of a 64x64 RGB image already scores ~89 dB, so the cap hides nothing.
PSNR_CAP_DB = 100.0
# Hole pixels handed to a method are set to mid-grey so that no ground truth can leak into a fill.
HOLE_FILL_VALUE = 0.5
# Yeh et al. (2017), Table 1, CelebA: PSNR in dB of the Context Encoder and of their method.
PAPER_CELEBA_PSNR = {
    "center": (21.3, 19.4),
    "pattern": (19.2, 17.4),
    "random80": (20.6, 22.8),
    "half": (15.5, 13.7),
}


@dataclass(frozen=True)
class EvalSettings:
    masks: tuple[str, ...] = tuple(MASK_TYPES)
    methods: tuple[str, ...] = METHODS
    limit: int | None = 500  # images; None = every image in the data
    model: str = DEFAULT_MODELS["dcgan"]
    ce_model: str = DEFAULT_MODELS["context-encoder"]
    iterations: int = 1500  # latent
    starts: int = 16  # latent: random starts per image, optimised as one batch
    lam: float = 0.003  # latent: prior weight
    batch: int = 64  # images per forward pass (latent: images x starts per optimisation batch)
    seed: int = 0
    device: str = "auto"
    examples: int = 2  # grid rows per mask type

    def check(self) -> None:
        unknown = [m for m in self.masks if m not in MASK_TYPES]
        if unknown:
            raise RestorerError(f"unknown mask type {unknown[0]!r} (choose from {', '.join(MASK_TYPES)})")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise RestorerError(f"unknown method {unknown[0]!r} (choose from {', '.join(METHODS)})")
        if not self.masks or not self.methods:
            raise RestorerError("at least one mask type and one method are needed")
        for name in ("iterations", "starts", "batch"):
            if getattr(self, name) < 1:
                raise RestorerError(f"--{name} must be at least 1")
        if self.limit is not None and self.limit < 1:
            raise RestorerError("--limit must be at least 1")


@dataclass
class EvalProgress:
    method: str
    mask: str
    done: int  # images finished for this method and mask type
    total: int
    iteration: int = 0  # latent only: the current image's optimisation step
    iterations: int = 0


@dataclass
class EvalResult:
    settings: EvalSettings
    data: list[str]
    resolution: int
    n_images: int
    device: str
    models: dict[str, dict[str, str]]  # method -> {"name", "sha256"}
    # (mask, method, blend) -> per-image scores, in image order
    psnr: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)
    ssim: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # method -> time spent filling
    # mask -> {"damaged" | "truth" | method: uint8 (examples, R, R, 3)}, blended fills
    examples: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def images_per_second(self, method: str) -> float:
        filled = self.n_images * len(self.settings.masks)
        return filled / max(self.seconds.get(method, 0.0), 1e-9)


# --- data and masks ----------------------------------------------------------------------------


def load_images(paths: Sequence[str | Path], size: int, limit: int | None) -> np.ndarray:
    """Test images framed as for training: uint8 (N, size, size, 3)."""
    from restorer.training.data import face_crop, iter_images

    images = [face_crop(img, size) for img in iter_images(paths, limit)]
    if not images:
        raise RestorerError("no readable images in the evaluation data")
    return np.stack(images)


def make_holes(mask_type: str, n: int, size: int, seed: int) -> np.ndarray:
    """bool (n, size, size): image i's mask depends only on (seed, mask type, i), so runs with
    different methods, limits or batch sizes score the same holes."""
    fn = MASK_TYPES[mask_type]
    type_id = list(MASK_TYPES).index(mask_type)
    return np.stack([fn(size, np.random.default_rng([seed, type_id, i])) for i in range(n)])


def damage(truth: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """float32 (N, R, R, 3) in [0, 1] with every hole pixel replaced by mid-grey."""
    image = truth.astype(np.float32) / 255.0
    image[holes] = HOLE_FILL_VALUE
    return image


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


# --- methods: each fills a batch (N, R, R, 3) float32 and returns full generated images ----------


def _load(name: str, kind: str, device: torch.device) -> LoadedModel:
    model = load_model(resolve_model(name), device)
    if model.kind != kind:
        raise RestorerError(f"model {model.name!r} is a {model.kind} model; a {kind} model is needed here")
    if kind == "dcgan" and "discriminator" not in model.nets:
        raise RestorerError(f"model {model.name!r} has no discriminator, which the latent method needs")
    return model


def _fill_latent(
    model: LoadedModel,
    damaged: np.ndarray,
    holes: np.ndarray,
    settings: EvalSettings,
    first_index: int,
    should_stop: Callable[[], bool] | None,
) -> Generator[int, None, np.ndarray | None]:
    """Yeh et al.'s latent optimisation for a chunk of images at once (N images x K starts, one batch).

    Image i uses seed ``settings.seed + first_index + i``, as a one-image run would.
    Yields the iteration; returns the best start's image per image, or None if stopped.
    """
    from restorer.core.latent import LatentConfig, optimise_latent_batch

    config = LatentConfig(
        iterations=settings.iterations,
        starts=settings.starts,
        lam=settings.lam,
        seed=settings.seed + first_index,
        device=settings.device,
    )
    images = torch.from_numpy(damaged).permute(0, 3, 1, 2) * 2.0 - 1.0
    g, d = model.nets["generator"], model.nets["discriminator"]
    best = yield from optimise_latent_batch(g, d, images, torch.from_numpy(holes), config, should_stop)
    if best is None:
        return None
    return ((best.float().cpu().permute(0, 2, 3, 1).numpy() + 1.0) / 2.0).clip(0.0, 1.0).astype(damaged.dtype)


@torch.no_grad()
def _fill_context_encoder(model: LoadedModel, damaged: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """The whole batch in one forward pass.

    Does what ``restorer.core.context_fill.fill_with_context_encoder`` does for one image (hole
    zeroed, known-mask channel, eval mode, clamp); a test checks the two agree.
    """
    from restorer.core.networks import make_context_input

    net = model.nets["context_encoder"]
    device = next(net.parameters()).device
    image = torch.from_numpy(damaged).permute(0, 3, 1, 2).to(device) * 2.0 - 1.0
    known = torch.from_numpy(~holes)[:, None].to(device, torch.float32)
    prediction = net(make_context_input(image, known)).clamp(-1.0, 1.0)
    return ((prediction.permute(0, 2, 3, 1).cpu().numpy() + 1.0) / 2.0).astype(np.float32)


def _fill_classic(damaged: np.ndarray, holes: np.ndarray) -> np.ndarray:
    from restorer.core.fills import diffusion_fill

    return np.stack([diffusion_fill(img, hole) for img, hole in zip(damaged, holes, strict=True)]).astype(
        np.float32
    )


def _blend(damaged: np.ndarray, generated: np.ndarray, holes: np.ndarray) -> np.ndarray:
    from restorer.core.poisson import poisson_blend

    return np.stack([poisson_blend(d, g, h) for d, g, h in zip(damaged, generated, holes, strict=True)])


# --- scoring -------------------------------------------------------------------------------------


def score(truth: np.ndarray, filled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-image PSNR (dB, inf for a perfect fill) and SSIM of uint8 (N, R, R, 3) fills."""
    from restorer.core.metrics import psnr, ssim

    pairs = list(zip(truth, filled, strict=True))
    return np.array([psnr(t, f) for t, f in pairs]), np.array([ssim(t, f) for t, f in pairs])


def mean_psnr(values: np.ndarray) -> float:
    return float(np.mean(np.minimum(values, PSNR_CAP_DB)))


# --- the evaluation job ----------------------------------------------------------------------------


def _batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def _generate(
    method: str,
    models: dict[str, LoadedModel],
    damaged: np.ndarray,
    holes: np.ndarray,
    settings: EvalSettings,
    first_index: int,
    should_stop: Callable[[], bool] | None,
) -> Generator[int, None, np.ndarray | None]:
    """Full generated images float32 (N, R, R, 3) in [0, 1] for one batch; latent yields its iterations."""
    if method == "latent":
        return (yield from _fill_latent(models[method], damaged, holes, settings, first_index, should_stop))
    if method == "context-encoder":
        return _fill_context_encoder(models[method], damaged, holes)
    return _fill_classic(damaged, holes)


def _load_models(settings: EvalSettings, device: torch.device) -> dict[str, LoadedModel]:
    models: dict[str, LoadedModel] = {}
    if "latent" in settings.methods:
        models["latent"] = _load(settings.model, "dcgan", device)
    if "context-encoder" in settings.methods:
        models["context-encoder"] = _load(settings.ce_model, "context-encoder", device)
    if len({m.resolution for m in models.values()}) > 1:
        raise RestorerError("the latent and context-encoder models have different resolutions")
    return models


def evaluate(
    data: Sequence[str | Path],
    settings: EvalSettings = EvalSettings(),
    should_stop: Callable[[], bool] | None = None,
) -> Generator[EvalProgress, None, EvalResult | None]:
    """Fill and score every image x mask type x method; see the module docstring."""
    from restorer.core.latent import resolve_device

    settings.check()
    device = resolve_device(settings.device)
    models = _load_models(settings, device)
    size = next(iter(models.values())).resolution if models else 64
    truth = load_images(data, size, settings.limit)
    n = len(truth)
    n_ex = min(settings.examples, n)
    result = EvalResult(
        settings=settings,
        data=[str(p) for p in data],
        resolution=size,
        n_images=n,
        device=str(device),
        models={k: {"name": m.name, "sha256": m.sha256} for k, m in models.items()},
    )
    for mask_type in settings.masks:
        holes = make_holes(mask_type, n, size, settings.seed)
        damaged = damage(truth, holes)
        examples = {"damaged": to_uint8(damaged[:n_ex]), "truth": truth[:n_ex]}
        for method in settings.methods:
            # latent optimises `batch` images x `starts` starts as one batch; the others batch images only
            step = max(1, settings.batch // settings.starts) if method == "latent" else settings.batch
            scores: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {b: [] for b in BLENDS}
            for sl in _batches(n, step):
                t0 = time.perf_counter()
                job = _generate(method, models, damaged[sl], holes[sl], settings, sl.start, should_stop)
                while True:
                    try:
                        iteration = next(job)
                    except StopIteration as stop:
                        generated = stop.value
                        break
                    yield EvalProgress(method, mask_type, sl.start, n, iteration, settings.iterations)
                if generated is None:
                    return None
                h = holes[sl][..., None]
                filled = {"paste": np.where(h, generated, damaged[sl])}
                # As in the app, classic fills already meet the hole's edge and are never blended.
                filled["blend"] = (
                    filled["paste"]
                    if method == "classic"
                    else np.where(h, _blend(damaged[sl], generated, holes[sl]), damaged[sl])
                )
                result.seconds[method] = result.seconds.get(method, 0.0) + time.perf_counter() - t0
                for blend in BLENDS:
                    filled[blend] = to_uint8(filled[blend])
                    scores[blend].append(score(truth[sl], filled[blend]))
                if sl.start < n_ex:
                    keep = filled["blend"][: n_ex - sl.start]
                    examples[method] = np.concatenate([examples.get(method, keep[:0]), keep])
                yield EvalProgress(method, mask_type, sl.stop, n)
                if should_stop is not None and should_stop():
                    return None
            for blend in BLENDS:
                result.psnr[mask_type, method, blend] = np.concatenate([p for p, _ in scores[blend]])
                result.ssim[mask_type, method, blend] = np.concatenate([q for _, q in scores[blend]])
        result.examples[mask_type] = examples
    return result


# --- reports ---------------------------------------------------------------------------------------


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def results_json(result: EvalResult) -> dict:
    """JSON-able record: settings, models, per-cell means and per-image scores (perfect fills as null)."""
    cells = []
    for (mask, method, blend), p in result.psnr.items():
        s = result.ssim[mask, method, blend]
        cells.append(
            {
                "mask": mask,
                "method": method,
                "blend": blend,
                "psnr_mean_db": mean_psnr(p),
                "ssim_mean": float(np.mean(s)),
                "perfect_fills": int(np.isinf(p).sum()),
                "psnr_db": [None if np.isinf(v) else round(float(v), 4) for v in p],
                "ssim": [round(float(v), 5) for v in s],
            }
        )
    return {
        "benchmark": "inpainting, Yeh et al. 2017 Table 1 protocol",
        "psnr": f"over the whole {result.resolution}x{result.resolution} image, 8-bit fills, "
        f"per-image values capped at {PSNR_CAP_DB:g} dB before averaging",
        "data": result.data,
        "n_images": result.n_images,
        "resolution": result.resolution,
        "device": result.device,
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(result.settings).items()},
        "models": result.models,
        "seconds": result.seconds,
        "images_per_second": {m: result.images_per_second(m) for m in result.seconds},
        "paper_celeba_psnr_db": {
            mask: {"context-encoder": ce, "yeh": yeh} for mask, (ce, yeh) in PAPER_CELEBA_PSNR.items()
        },
        "results": cells,
    }


def results_markdown(result: EvalResult) -> str:
    s = result.settings
    r = result.resolution
    header = ["mask"] + [f"{m} {b}" for m in s.methods for b in BLENDS] + ["paper CelebA PSNR CE / Yeh"]
    lines = [
        f"# Inpainting benchmark ({result.n_images} images, {r}x{r})",
        "",
        f"PSNR (dB) / SSIM of the filled image against the ground truth, over the whole {r}x{r} image "
        "as in Yeh et al. (2017) Table 1 (known pixels included). *paste*: generated pixels copied "
        "into the hole; *blend*: Poisson-blended (classic fills are never blended, as in the app). "
        f"Fills rounded to 8 bits; per-image PSNR capped at {PSNR_CAP_DB:g} dB. "
        f"The paper's numbers are on CelebA, ours on {', '.join(result.data)}.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    for mask in s.masks:
        cells = [mask]
        for method in s.methods:
            for blend in BLENDS:
                p, q = result.psnr[mask, method, blend], result.ssim[mask, method, blend]
                cells.append(f"{mean_psnr(p):.2f} / {np.mean(q):.3f}")
        ce, yeh = PAPER_CELEBA_PSNR[mask]
        cells.append(f"{ce} / {yeh}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Settings:", ""]
    lines.append(f"- data: {', '.join(result.data)} (limit {s.limit}); masks seeded with {s.seed}")
    lines.append(f"- device: {result.device}")
    for method, info in result.models.items():
        lines.append(f"- {method} model: {info['name']} (sha256 {info['sha256'][:12]})")
    if "latent" in s.methods:
        lines.append(f"- latent: iterations {s.iterations}, starts {s.starts}, λ {s.lam}, seed {s.seed}")
    for method in s.methods:
        if method in result.seconds:
            rate = result.images_per_second(method)
            lines.append(
                f"- {method}: {result.seconds[method]:.1f} s filling, {rate:.3g} images/s, "
                f"{1.0 / rate:.3g} s per image (blending included)"
            )
    lines.append("")
    return "\n".join(lines)


def results_grid(result: EvalResult, scale: int = 2, gap: int = 2, header: int = 16) -> np.ndarray:
    """uint8 RGB image: rows = examples of each mask type; columns = damaged, each method (blended), truth."""
    from PIL import Image, ImageDraw

    columns = ["damaged", *result.settings.methods, "truth"]
    rows = [
        (mask, [result.examples[mask][c][i] for c in columns])
        for mask in result.settings.masks
        for i in range(len(result.examples[mask]["truth"]))
    ]
    tile = result.resolution * scale
    width = len(columns) * (tile + gap) + gap
    grid = np.full((header + len(rows) * (tile + gap) + gap, width, 3), 255, dtype=np.uint8)
    for r, (_, row) in enumerate(rows):
        for c, img in enumerate(row):
            y, x = header + gap + r * (tile + gap), gap + c * (tile + gap)
            grid[y : y + tile, x : x + tile] = img.repeat(scale, 0).repeat(scale, 1)
    canvas = Image.fromarray(grid)
    draw = ImageDraw.Draw(canvas)
    for c, name in enumerate(columns):
        draw.text((gap + c * (tile + gap) + 2, 2), name, fill=(0, 0, 0))
    for r, (mask, _) in enumerate(rows):
        xy = (gap + 2, header + gap + r * (tile + gap) + 2)
        draw.rectangle(draw.textbbox(xy, mask), fill=(0, 0, 0))  # readable on any image
        draw.text(xy, mask, fill=(255, 255, 255))
    return np.asarray(canvas)


def write_report(result: EvalResult, out_dir: str | Path) -> list[Path]:
    """Write results.md, results.json and grid.png into ``out_dir``; return their paths."""
    import io
    import json

    from PIL import Image

    out = Path(out_dir)
    png = io.BytesIO()
    Image.fromarray(results_grid(result)).save(png, format="PNG")
    contents = {
        out / "results.md": results_markdown(result).encode(),
        out / "results.json": (json.dumps(results_json(result), indent=1, allow_nan=False) + "\n").encode(),
        out / "grid.png": png.getvalue(),
    }
    try:
        out.mkdir(parents=True, exist_ok=True)
        for path, data in contents.items():
            _atomic_write(path, data)
    except OSError as exc:
        raise RestorerError(f"cannot write the results to {out}: {exc.strerror or exc}") from None
    return list(contents)
