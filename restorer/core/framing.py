"""How the face models frame a face, so that only face damage inside a face box goes to them.

The models were trained on aligned FairFace frames (see the model cards): the whole frame is the
model's input, the face centred, forehead to chin filling most of its height. Averaging 800
validation frames puts the face (cheek to cheek, hairline to chin) inside an ellipse centred at
(0.50, 0.53) of the frame with semi-axes 0.31 (across) and 0.40 (down); outside it lie hair,
ears, neck, clothes and background, which a face model has nothing to say about.
"""

from __future__ import annotations

import numpy as np

from restorer.core.types import Bounds

FACE_CENTRE = (0.50, 0.53)  # x, y as fractions of the frame
FACE_RADII = (0.31, 0.40)
FACE_SHARE = 0.5
"""A hole inside a face box goes to the face model when at least this share of it is on the face."""


def face_oval(frame: Bounds) -> np.ndarray:
    """bool (h, w): the pixels of ``frame`` (a face box framed as in training) on the face itself."""
    ys = (np.arange(frame.height) + 0.5) / frame.height
    xs = (np.arange(frame.width) + 0.5) / frame.width
    dx = (xs[None, :] - FACE_CENTRE[0]) / FACE_RADII[0]
    dy = (ys[:, None] - FACE_CENTRE[1]) / FACE_RADII[1]
    return dx * dx + dy * dy <= 1.0


def face_share(hole: np.ndarray, frame: Bounds) -> float:
    """The share of ``hole`` (bool (h, w) over ``frame``) that lies on the face oval."""
    pixels = int(hole.sum())
    return float((hole & face_oval(frame)).sum()) / pixels if pixels else 0.0
