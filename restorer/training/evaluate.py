"""Inpainting benchmark in the manner of Yeh et al. (CVPR 2017), Table 1.

Every test image is framed at the model resolution, damaged with each mask type, filled by each
fill method of the registry (``restorer.core.methods``), and scored against the ground truth with
PSNR and SSIM over the whole image (as in the paper, so known pixels count too), twice: with the
fill pasted into the hole, and put in as the app puts it (``restorer.core.patches.compose``:
Poisson-blended for methods that blend, pasted for the others). Fills are composed into the
8-bit damaged image, so scores are of what a user saving the result would get.

``evaluate`` is a generator (the engine's long-job convention): it yields ``EvalProgress`` and
returns an ``EvalResult``, or None when stopped; ``write_report`` turns the result into
``results.md``, ``results.json`` and ``grid.png``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from restorer.core import methods as registry
from restorer.core.errors import RestorerError
from restorer.core.files import atomic_write
from restorer.core.jobs import relay
from restorer.core.methods.base import FillMethod, FrameBatch
from restorer.core.patches import compose
from restorer.core.pixels import from_float
from restorer.core.types import RestoreOptions
from restorer.core.weights import DEFAULT_MODELS
from restorer.training.masks import MASK_TYPES

BLENDS = ("paste", "blend")
# A perfect fill has infinite PSNR; averages cap each image at this value. One 8-bit level of
# error in a single pixel of a 64x64 RGB image already scores ~89 dB, so the cap hides nothing.
PSNR_CAP_DB = 100.0
# Hole pixels handed to a method are set to mid-grey so that no ground truth can leak into a fill.
HOLE_FILL_VALUE = 0.5
# Frame size when no method needs a model (the shipped face models' resolution).
MODEL_FREE_RESOLUTION = 64
# The EvalSettings field naming the model for each model kind; other kinds get their default model.
MODEL_SETTING = {"dcgan": "model", "context-encoder": "ce_model"}
# Yeh et al. (2017), Table 1, CelebA: PSNR in dB of the Context Encoder and of their method.
PAPER_CELEBA_PSNR = {
    "center": (21.3, 19.4),
    "pattern": (19.2, 17.4),
    "random80": (20.6, 22.8),
    "half": (15.5, 13.7),
}


def method_names() -> tuple[str, ...]:
    """Every registered fill method, in display order: what ``restorer eval`` runs by default."""
    return tuple(registry.methods())


def searches_latents(method: FillMethod) -> bool:
    """A GAN (dcgan) model fills by latent search: ``starts`` latents per frame for ``iterations`` steps.

    Such a method optimises frames x starts as one batch and reports optimisation steps as progress.
    """
    return method.model_kind == "dcgan"


@dataclass(frozen=True)
class EvalSettings:
    masks: tuple[str, ...] = tuple(MASK_TYPES)
    methods: tuple[str, ...] = field(default_factory=method_names)
    limit: int | None = 500  # images; None = every image in the data
    model: str = DEFAULT_MODELS["dcgan"]
    ce_model: str = DEFAULT_MODELS["context-encoder"]
    iterations: int = 1500  # latent
    starts: int = 16  # latent: random starts per image, optimised as one batch
    lam: float = 0.003  # latent: prior weight
    inversion: str = "auto"  # latent: how the search starts, see restorer.core.types.INVERSIONS
    refine: int = 0  # latent: feature-refinement steps after the search
    batch: int = 64  # images per fill pass (latent: images x starts per optimisation batch)
    seed: int = 0
    device: str = "auto"
    examples: int = 2  # grid rows per mask type

    def check(self) -> None:
        unknown = [m for m in self.masks if m not in MASK_TYPES]
        if unknown:
            raise RestorerError(f"unknown mask type {unknown[0]!r} (choose from {', '.join(MASK_TYPES)})")
        known = method_names()
        unknown = [m for m in self.methods if m not in known]
        if unknown:
            raise RestorerError(f"unknown method {unknown[0]!r} (choose from {', '.join(known)})")
        if not self.masks or not self.methods:
            raise RestorerError("at least one mask type and one method are needed")
        for name in ("iterations", "starts", "batch"):
            if getattr(self, name) < 1:
                raise RestorerError(f"--{name} must be at least 1")
        if self.limit is not None and self.limit < 1:
            raise RestorerError("--limit must be at least 1")

    def options(self, method: str) -> RestoreOptions:
        """The restore options a user would give to fill with ``method`` (paste vs blend is ours)."""
        return RestoreOptions(
            method=method,
            iterations=self.iterations,
            starts=self.starts,
            lam=self.lam,
            inversion=self.inversion,
            refine=self.refine,
            seed=self.seed,
            device=self.device,
        )


@dataclass
class EvalProgress:
    method: str
    mask: str
    done: int  # images finished for this method and mask type
    total: int
    iteration: int = 0  # latent search only: the current batch's optimisation step
    iterations: int = 0


@dataclass
class EvalResult:
    settings: EvalSettings
    data: list[str]
    resolution: int
    n_images: int
    device: str
    models: dict[str, dict[str, str]]  # method -> {"name", "sha256"}, for methods with a model
    # (mask, method, blend) -> per-image scores, in image order
    psnr: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)
    ssim: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # method -> time spent filling
    # mask -> {"damaged" | "truth" | method: uint8 (examples, R, R, 3)}, fills as the app puts them in
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


def put_in(damaged: np.ndarray, holes: np.ndarray, fills: np.ndarray, blend: bool) -> np.ndarray:
    """uint8 (N, R, R, 3): each fill (float, [0, 1]) composed into its damaged image as the app does it."""
    out = damaged.copy()
    for image, hole, fill in zip(out, holes, fills, strict=True):
        image[hole] = compose(image, hole, fill, blend)
    return out


# --- models --------------------------------------------------------------------------------------


def load_models(settings: EvalSettings, device: Any) -> dict[str, Any]:
    """method name -> weights.LoadedModel for every method that needs one, each checked by its method."""
    from restorer.core.weights import load_model, resolve_model

    by_kind: dict[str, Any] = {}
    models: dict[str, Any] = {}
    for name in settings.methods:
        method = registry.get(name)
        kind = method.model_kind
        if kind is None:
            continue
        if kind not in by_kind:
            setting = MODEL_SETTING.get(kind)
            wanted = getattr(settings, setting) if setting else DEFAULT_MODELS.get(kind)
            if wanted is None:
                raise RestorerError(f"no {kind} model to evaluate the {name} method with")
            model = load_model(resolve_model(wanted), device)
            if model.kind != kind:
                raise RestorerError(
                    f"model {model.name!r} is a {model.kind} model; a {kind} model is needed here"
                )
            by_kind[kind] = model
        problem = method.model_problem(by_kind[kind])
        if problem:
            raise RestorerError(problem)
        models[name] = by_kind[kind]
    sizes = {name: m.resolution for name, m in models.items()}
    if len(set(sizes.values())) > 1:
        shown = ", ".join(f"{name} {size} px" for name, size in sizes.items())
        raise RestorerError(f"the models must have one resolution to be compared ({shown})")
    return models


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


def _iterations(
    method: str, mask: str, done: int, total: int, iterations: int
) -> Callable[[int], EvalProgress]:
    return lambda ticks: EvalProgress(method, mask, done, total, ticks, iterations)


def _silent(ticks: int) -> None:
    return None


def evaluate(
    data: Sequence[str | Path],
    settings: EvalSettings | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Generator[EvalProgress, None, EvalResult | None]:
    """Fill and score every image x mask type x method; see the module docstring."""
    from restorer.core.latent import resolve_device

    settings = settings or EvalSettings()
    settings.check()
    device = resolve_device(settings.device)
    models = load_models(settings, device)
    size = next(iter(models.values())).resolution if models else MODEL_FREE_RESOLUTION
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
        frames = damage(truth, holes)
        damaged = from_float(frames, np.uint8)
        examples = {"damaged": damaged[:n_ex], "truth": truth[:n_ex]}
        for name in settings.methods:
            method = registry.get(name)
            latent = searches_latents(method)
            # a latent search optimises `batch` rows = images x starts; the others take `batch` images
            step = max(1, settings.batch // settings.starts) if latent else settings.batch
            scores: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {b: [] for b in BLENDS}
            for sl in _batches(n, step):
                t0 = time.perf_counter()
                batch = FrameBatch(
                    frames[sl],
                    holes[sl],
                    settings.options(name),
                    models.get(name),
                    settings.seed + sl.start,
                    should_stop,
                )
                # only a latent search reports its iterations; the one-pass fills are silent
                track = _iterations(name, mask_type, sl.start, n, settings.iterations) if latent else _silent
                fills = yield from relay(method.fill_frames(batch), track)
                if fills is None:
                    return None
                filled = {"paste": put_in(damaged[sl], holes[sl], fills, blend=False)}
                # As in the app: blended when the method blends; fills that meet the edge stay pasted.
                filled["blend"] = (
                    put_in(damaged[sl], holes[sl], fills, blend=True) if method.blends else filled["paste"]
                )
                result.seconds[name] = result.seconds.get(name, 0.0) + time.perf_counter() - t0
                for blend in BLENDS:
                    scores[blend].append(score(truth[sl], filled[blend]))
                if sl.start < n_ex:
                    keep = filled["blend"][: n_ex - sl.start]
                    examples[name] = np.concatenate([examples.get(name, keep[:0]), keep])
                yield EvalProgress(name, mask_type, sl.stop, n)
                if should_stop is not None and should_stop():
                    return None
            for blend in BLENDS:
                result.psnr[mask_type, name, blend] = np.concatenate([p for p, _ in scores[blend]])
                result.ssim[mask_type, name, blend] = np.concatenate([q for _, q in scores[blend]])
        result.examples[mask_type] = examples
    return result


# --- reports ---------------------------------------------------------------------------------------


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
    pasted = [m for m in s.methods if not registry.get(m).blends]
    never = f" ({', '.join(pasted)}: pasted in both, as in the app)" if pasted else ""
    header = ["mask"] + [f"{m} {b}" for m in s.methods for b in BLENDS] + ["paper CelebA PSNR CE / Yeh"]
    lines = [
        f"# Inpainting benchmark ({result.n_images} images, {r}x{r})",
        "",
        f"PSNR (dB) / SSIM of the filled image against the ground truth, over the whole {r}x{r} image "
        "as in Yeh et al. (2017) Table 1 (known pixels included). *paste*: the fill copied into the "
        f"hole; *blend*: put in as the app does, Poisson-blended where the method blends{never}. "
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
    for method in s.methods:
        if searches_latents(registry.get(method)):
            lines.append(
                f"- {method}: inversion {s.inversion}, refine {s.refine}, iterations {s.iterations}, "
                f"starts {s.starts}, λ {s.lam}, seed {s.seed}"
            )
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
    """uint8 RGB image: rows = examples of each mask type; columns = damaged, each method, truth."""
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
    """Write results.md, results.json and grid.png into ``out_dir`` (each atomically); return their paths."""
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
    except OSError as exc:
        raise RestorerError(f"cannot write the results to {out}: {exc.strerror or exc}") from None
    for path, data in contents.items():
        atomic_write(path, lambda tmp, data=data: tmp.write_bytes(data))
    return list(contents)
