"""Context Encoder (Pathak et al., CVPR 2016): one forward pass paints the hole. Fast; a baseline."""

from __future__ import annotations

from collections.abc import Generator

import numpy as np

from restorer.core.methods.base import FillJob, FillMethod, FillRequest, FrameBatch, single


class ContextEncoderFill(FillMethod):
    name = "context-encoder"
    label = "Face model: Context Encoder (fast)"
    summary = "an encoder-decoder trained on faces paints the hole in one pass, then it is blended"
    order = 60
    model_kind = "context-encoder"
    blends = True

    def fill(self, request: FillRequest) -> FillJob:
        from restorer.core.context_fill import fill_with_context_encoder
        from restorer.core.latent import resolve_device
        from restorer.core.methods._model_io import model_inputs, with_detail

        model = request.model
        inputs = model_inputs(request, model.arch.nc, model.resolution)
        image = inputs.image
        if image.shape[0] == 1 and model.arch.nc == 3:  # a grey print goes in as grey RGB
            image = image.expand(3, -1, -1)
        prediction = fill_with_context_encoder(model.nets["context_encoder"], image, inputs.hole)
        device = str(resolve_device(request.options.device))
        (candidate,), detail, warnings = with_detail(request, inputs, [inputs.back(prediction)])
        return single(request, candidate, {"device": device, **detail}, warnings)

    def fill_frames(self, batch: FrameBatch) -> Generator[int, None, np.ndarray | None]:
        """The whole batch in one forward pass, as ``fill_with_context_encoder`` does for one frame."""
        import torch

        from restorer.core.methods._model_io import frames_to_tensor, tensor_to_frames
        from restorer.core.networks import make_context_input

        net = batch.model.nets["context_encoder"]
        device = next(net.parameters()).device
        with torch.no_grad():
            image = frames_to_tensor(batch.frames).to(device)
            known = torch.from_numpy(~batch.holes)[:, None].to(device, torch.float32)
            prediction = net(make_context_input(image, known)).clamp(-1.0, 1.0)
        yield len(batch.frames)
        return tensor_to_frames(prediction)


METHOD = ContextEncoderFill()
