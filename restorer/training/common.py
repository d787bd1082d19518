"""Pieces shared by the GAN and Context Encoder trainers: devices, DDP, progress, grids, checkpoints."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from PIL import Image
from torch import nn

from restorer.core.files import atomic_write


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str) -> tuple[DistInfo, torch.device]:
    """Join a torchrun job when launched by torchrun (WORLD_SIZE > 1); pick this process's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    info = DistInfo(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))
    want_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    dev = torch.device(f"cuda:{info.local_rank}" if want_cuda else "cpu")
    if want_cuda:
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if want_cuda else "gloo")
    return info, dev


def wrap_ddp(module: nn.Module, info: DistInfo, device: torch.device) -> nn.Module:
    if info.world == 1:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module


class Progress:
    """A one-line progress bar on stderr with losses and throughput; also appends lines to a log file."""

    def __init__(self, total: int, start: int, log: Path | None, enabled: bool = True) -> None:
        self.total, self.start, self.log, self.enabled = total, start, log, enabled
        self.t0 = time.monotonic()
        self.last_print = 0.0

    def update(self, step: int, images: int, **losses: float) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last_print < 0.5 and step < self.total:
            return
        self.last_print = now
        rate = images / max(now - self.t0, 1e-9)
        frac = step / self.total
        bar = "#" * int(30 * frac) + "-" * (30 - int(30 * frac))
        vals = " ".join(f"{k}={v:.3f}" for k, v in losses.items())
        sys.stderr.write(f"\r[{bar}] {step}/{self.total} {vals} {rate:.0f} img/s ")
        sys.stderr.flush()

    def log_line(self, step: int, **values: float) -> None:
        if self.enabled and self.log is not None:
            with self.log.open("a") as f:
                elapsed = time.monotonic() - self.t0
                vals = " ".join(f"{k}={v:.4f}" for k, v in values.items())
                f.write(f"step={step} elapsed_s={elapsed:.0f} {vals}\n")

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def save_grid(images: torch.Tensor, path: Path, columns: int = 8) -> None:
    """Write (N, C, H, W) images in [-1, 1] as one PNG grid with 2 px gaps."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    n, c, h, w = x.shape
    rows = (n + columns - 1) // columns
    grid = np.full((rows * (h + 2) + 2, columns * (w + 2) + 2, 3), 255, np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        tile = x[i].permute(1, 2, 0).numpy()
        grid[2 + r * (h + 2) : 2 + r * (h + 2) + h, 2 + col * (w + 2) : 2 + col * (w + 2) + w] = (
            tile if c == 3 else tile.repeat(3, axis=2)
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(path)


def save_checkpoint(path: Path, state: dict) -> None:
    """Atomic torch.save of a dict of tensors / numbers / strings (loadable with weights_only=True)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """Exponential moving average of the parameters (buffers are recomputed at export, see recalibrate_bn)."""
    with torch.no_grad():
        for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
            pe.lerp_(pm, 1.0 - decay)


@torch.no_grad()
def recalibrate_bn(
    generator: nn.Module, nz: int, device: torch.device, batches: int = 40, batch: int = 128
) -> None:
    """Recompute BatchNorm running statistics as a plain average over fresh samples.

    The EMA generator's weights never produced the running statistics it carries, and the engine runs
    G in eval mode (so a start's result does not depend on its batch); averaged statistics make eval-mode
    samples match train-mode ones.
    """
    bns = [m for m in generator.modules() if isinstance(m, nn.BatchNorm2d)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    generator.train()
    g = torch.Generator(device="cpu").manual_seed(1234)
    for _ in range(batches):
        generator(torch.rand(batch, nz, generator=g).mul_(2).sub_(1).to(device))
    for m, mom in zip(bns, saved, strict=True):
        m.momentum = mom
    generator.eval()


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(
    cfg: object, info: DistInfo, device: torch.device, images: int, step: int, elapsed: float
) -> dict:
    """What a model card needs to know about a finished training run."""
    from restorer.training.data import DATA_CREDIT

    chip = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    config = asdict(cfg)  # type: ignore[arg-type]
    return {
        "data": DATA_CREDIT,
        "data_paths": [Path(p).name for p in config["data"]],
        "images": images,
        "command": config["command"],
        "steps": step,
        "batch": config["batch"] * info.world,
        "wall_time": wall_clock(elapsed),
        "wall_time_s": round(elapsed),
        "hardware": f"{info.world}x {chip} ({device.type}, {torch.get_num_threads()} threads)",
        "torch": str(torch.__version__),
        "train_config": json.dumps(config, sort_keys=True),
    }


def init_misfit(problem: str, required: bool) -> None:
    """Weights to start from that do not fit the run's architecture: refused when the user named
    them (``--init``); the default start (the shipped model) is skipped with a note, so a new
    architecture trains from random weights."""
    from restorer.core.errors import RestorerError

    if required:
        raise RestorerError(f"{problem}; pass --init none")
    print(f"restorer: note: {problem}: starting from random weights", file=sys.stderr)


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU computes bfloat16 natively (Linux: from /proc/cpuinfo's flags; elsewhere
    assumed, as nothing says otherwise)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return True
    flags = set(cpuinfo.split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def wall_clock(seconds: float) -> str:
    h, rem = divmod(int(seconds), 3600)
    return f"{h}h{rem // 60:02d}m" if h else f"{rem // 60}m{rem % 60:02d}s"


class TrainingRun:
    """The bookkeeping both trainers share: threads, devices, data, batches, noise, resume, checkpoints,
    progress and the wall-time limit. A trainer builds its networks, hands every stateful object to
    ``track`` (which resumes them), then loops ``while run.step < cfg.steps`` calling ``end_step``."""

    def __init__(self, cfg: Any) -> None:
        from restorer.training.data import BatchSampler, load_dataset

        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.cfg = cfg
        self.info, self.device = setup_distributed(cfg.device)
        self.out = Path(cfg.out)
        self.ckpt_path = self.out / "checkpoint.pt"
        torch.manual_seed(cfg.seed + self.info.rank)
        self.data = load_dataset(cfg.data, cfg.size, Path(cfg.cache) if cfg.cache else None, cfg.limit)
        self.sampler = BatchSampler(len(self.data), cfg.batch, cfg.seed, self.info.rank, self.info.world)
        self.noise = torch.Generator().manual_seed(cfg.seed * 1000 + self.info.rank + 1)
        self.amp = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=cfg.bf16)
        if cfg.bf16 and self.device.type == "cpu" and not cpu_has_bf16():
            print(
                "restorer: warning: this CPU has no bfloat16 instructions (avx512_bf16 / amx_bf16): "
                "--bf16 is emulated here and about 10x slower than float32 (measured: one G+D step "
                "11 s against 1 s); drop --bf16",
                file=sys.stderr,
            )
        self.step, self._elapsed_before = 0, 0.0
        self._tracked: dict[str, Any] = {}
        self.loaded: Any = None  # the finished model start_from loaded, if any

    def track(self, **stateful: Any) -> None:
        """Register objects with state_dict/load_state_dict for checkpoints; resume them when asked."""
        self._tracked = {**stateful, "sampler": self.sampler}
        if self.cfg.resume and self.ckpt_path.is_file():
            state = load_checkpoint(self.ckpt_path)
            for name, obj in self._tracked.items():
                obj.load_state_dict(state[name])
            self.noise.set_state(state["noise"])
            self.step, self._elapsed_before = int(state["step"]), float(state["elapsed_s"])
        self.out.mkdir(parents=True, exist_ok=True)
        main = self.info.is_main
        self.progress = Progress(self.cfg.steps, self.step, self.out / "log.txt" if main else None, main)
        if main:
            (self.out / "config.json").write_text(json.dumps(asdict(self.cfg), indent=2))
        self._t_start = time.monotonic()

    @property
    def resuming(self) -> bool:
        """Whether ``track`` continues from this run's own checkpoint."""
        return bool(self.cfg.resume) and self.ckpt_path.is_file()

    def start_from(self, init: str | None, kind: str, arch: Any, **nets: list[nn.Module]) -> dict:
        """Load a finished model's networks (``name=[modules]``, each module gets that net) unless the
        run resumes its own checkpoint: training improves the shipped model from run to run even
        when the machine's checkpoints are gone. Returns provenance fields naming the start; a model
        of another kind or architecture is never half-loaded: refused when the user named it
        (``cfg.init_required``), else training starts from random weights with a note."""
        from restorer.core.weights import load_model

        if self.resuming or not init:
            return {"started_from": "checkpoint" if self.resuming else "random"}
        model = load_model(init)
        if model.kind != kind or model.arch != arch:
            init_misfit(f"{init} is not a {kind} model with this architecture", self.cfg.init_required)
            return {"started_from": "random"}
        for name, modules in nets.items():
            for module in modules:
                module.load_state_dict(model.nets[name].state_dict())
        prior = int(model.provenance.get("total_steps", model.provenance.get("steps", 0)) or 0)
        self.loaded = model
        return {"started_from": f"{Path(init).name} ({prior} steps)", "prior_steps": prior}

    @property
    def elapsed(self) -> float:
        return self._elapsed_before + time.monotonic() - self._t_start

    def next_batch(self, tone_prob: float) -> torch.Tensor:
        from restorer.training.data import augment

        batch = self.data[self.sampler.next()]
        return augment(batch, self.noise, tone_prob).to(self.device, non_blocking=True)

    def checkpoint(self) -> None:
        if self.info.is_main:
            state = {name: obj.state_dict() for name, obj in self._tracked.items()}
            state.update(noise=self.noise.get_state(), step=self.step, elapsed_s=self.elapsed)
            save_checkpoint(self.ckpt_path, state)

    def end_step(self, losses: dict[str, float]) -> dict:
        """Count the step, report it, checkpoint when due; returns the event the trainer yields."""
        self.step += 1
        cfg = self.cfg
        self.progress.update(
            self.step, (self.step - self.progress.start) * cfg.batch * self.info.world, **losses
        )
        if self.step % 100 == 0:
            self.progress.log_line(self.step, **losses)
        if self.step % cfg.checkpoint_every == 0:
            self.checkpoint()
        return {"step": self.step, **losses}

    @property
    def sample_due(self) -> bool:
        return self.info.is_main and (self.step % self.cfg.sample_every == 0 or self.step == self.cfg.steps)

    @property
    def out_of_time(self) -> bool:
        limit = self.cfg.max_minutes
        return bool(limit) and (time.monotonic() - self._t_start) / 60 >= limit

    def finish(self) -> None:
        self.progress.close()
        self.checkpoint()
