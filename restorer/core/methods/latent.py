"""Semantic inpainting by latent optimisation (Yeh et al., CVPR 2017) with a DCGAN face model.

The search itself is ``restorer.core.latent``; this module frames the window for it, streams its
iterates as previews and ranks every start as a candidate.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np

from restorer.core.methods.base import FillJob, FillMethod, FillOutput, FillRequest, FrameBatch
from restorer.core.types import RegionProgress, RestoreOptions


class LatentFill(FillMethod):
    name = "latent"
    label = "Face model: latent optimisation (Yeh et al.)"
    summary = "search the face GAN's latent space for the face that fits the context, then blend it"
    order = 50
    model_kind = "dcgan"
    blends = True

    def model_problem(self, model: Any) -> str | None:
        if "discriminator" not in model.nets:
            return f"model {model.name!r} has no discriminator, which the latent method needs"
        return None

    def _encoder(self, model: Any, options: RestoreOptions) -> Any:
        """The model's encoder when the options ask for (or allow) encoder starts, else None."""
        from restorer.core.errors import RestorerError

        encoder = model.nets.get("encoder")
        if options.inversion == "encoder" and encoder is None:
            raise RestorerError(f"model {model.name!r} has no latent encoder (use --inversion yeh)")
        return None if options.inversion == "yeh" else encoder

    def _config(self, options: RestoreOptions, seed: int, luminance: bool = False):
        from restorer.core.latent import LatentConfig

        return LatentConfig(
            iterations=options.iterations,
            starts=options.starts,
            lam=options.lam,
            seed=seed,
            device=options.device,
            luminance=luminance,
            preview_all=options.preview_all,
            refine_steps=options.refine,
        )

    def fill(self, request: FillRequest) -> FillJob:
        from restorer.core.latent import optimise_latent, resolve_device
        from restorer.core.methods._model_io import model_inputs, with_detail

        model, opts = request.model, request.options
        inputs = model_inputs(request, model.arch.nc, model.resolution)
        config = self._config(opts, request.seed, inputs.luminance)
        nets = model.nets
        job = optimise_latent(
            nets["generator"],
            nets["discriminator"],
            inputs.image,
            inputs.hole,
            config,
            request.should_stop,
            self._encoder(model, opts),
        )
        while True:
            try:
                p = next(job)
            except StopIteration as stop:
                result = stop.value
                break
            best = p.best
            yield RegionProgress(
                request.index,
                p.iteration,
                p.total,
                float(p.losses[best]),
                float(p.context_losses[best]),
                float(p.prior_losses[best]),
                # bound now: the event may be read after the next iteration replaced p
                lambda p=p: inputs.back(p.images[p.best]),
                (lambda p=p: [inputs.back(img) for img in p.images]) if opts.preview_all else None,
            )
        if result is None:
            return None
        params = {
            "iterations": opts.iterations,
            "starts": opts.starts,
            "lambda": opts.lam,
            "inversion": "encoder" if self._encoder(model, opts) is not None else "yeh",
            "refine_steps": opts.refine,
            "lr": config.lr,
            "seed": config.seed,
            "device": str(resolve_device(opts.device)),
            "start_ids": list(result.start_ids),
        }
        upsampled = [inputs.back(img) for img in result.images]
        candidates, detail, warnings = with_detail(request, inputs, upsampled)
        params.update(detail)
        return FillOutput(candidates, [float(v) for v in result.losses], params, warnings)

    def fill_frames(self, batch: FrameBatch) -> Generator[int, None, np.ndarray | None]:
        """N frames x K starts optimised as one batch; frame i gets seed ``first_seed + i``."""
        import torch

        from restorer.core.latent import optimise_latent_batch
        from restorer.core.methods._model_io import frames_to_tensor, tensor_to_frames

        g, d = batch.model.nets["generator"], batch.model.nets["discriminator"]
        job = optimise_latent_batch(
            g,
            d,
            frames_to_tensor(batch.frames),
            torch.from_numpy(batch.holes),
            self._config(batch.options, batch.first_seed),
            batch.should_stop,
            self._encoder(batch.model, batch.options),
        )
        best = yield from job
        return None if best is None else tensor_to_frames(best)


METHOD = LatentFill()
