"""Undamaged test 'photos' for the detectors' tests: smooth colour fields, soft shapes, light grain."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def clean_photo(seed: int, size: int = 256) -> np.ndarray:
    """(size, size, 3) uint8: an undamaged print with nothing a detector should flag."""
    rng = np.random.default_rng(seed)
    field = ndi.gaussian_filter(rng.normal(size=(size, size, 3)), (24, 24, 0))
    image = 0.5 + 0.25 * field / field.std()
    yy, xx = np.mgrid[:size, :size]
    for _ in range(5):
        cy, cx = rng.uniform(0, size, 2)
        disc = ndi.gaussian_filter((np.hypot(yy - cy, xx - cx) < rng.uniform(12, 50)).astype(float), 1.2)
        image = image * (1 - disc[..., None]) + rng.uniform(0.1, 0.9, 3) * disc[..., None]
    image += rng.normal(0, 0.01, image.shape)
    return np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)


def near(mask: np.ndarray, radius: int = 2) -> np.ndarray:
    """Pixels within ``radius`` of the mask: the tolerance band the detector benchmarks use too."""
    return ndi.maximum_filter(mask.view(np.uint8), size=2 * radius + 1).view(bool)


def tiny_detector(path, stem_stride: int = 1):
    """Save a tiny random damage detector at ``path`` (depth 2, width 4) whose output spans [0, 1]
    (a random net's barely varies), and return the path: for tests that need any detector."""
    import torch

    from restorer.core.detector_net import DetectorArch, DetectorNet
    from restorer.core.weights import save_weights

    torch.manual_seed(0)
    net = DetectorNet(DetectorArch(base=4, depth=2, stem_stride=stem_stride)).eval()
    with torch.no_grad():
        net.head.weight.mul_(100)
        net.head.bias.zero_()
    return save_weights(path, "detector", net.arch, {"detector": net}, {"steps": 0})
