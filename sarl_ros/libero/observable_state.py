"""Q_sem's state on LIBERO: what a real robot could observe, no object poses.

Its own layout, not the WidowX's ObservableFeaturizer: the LIBERO results in docs/results/libero10 were
measured on it (the thumbnail is the shared ThumbnailEncoder).

Layout (float32, FEATURE_DIM): end-effector xyz [m] and the two gripper finger positions [m]
(proprioception), an 8x8 RGB thumbnail of the agent-view camera scaled to [0, 1], a 32-d hashed
bag of the prompts executed so far this episode, and the share of the decision budget used.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from sarl_ros.core.perception.image_encoders import ThumbnailEncoder
from sarl_ros.core.perception.text_encoding import HashingEncoder

PROPRIO_DIM = 5
THUMBNAIL = 8
HISTORY_DIM = 32
FEATURE_DIM = PROPRIO_DIM + THUMBNAIL * THUMBNAIL * 3 + HISTORY_DIM + 1
_HISTORY = HashingEncoder(dim=HISTORY_DIM)
_THUMBNAIL = ThumbnailEncoder(THUMBNAIL)


def thumbnail(image: np.ndarray | None) -> np.ndarray:
    """Return the THUMBNAIL x THUMBNAIL RGB thumbnail of an HxWx3 uint8 image, flattened, in [0, 1] (zeros: none)."""
    if image is None:
        return np.zeros(_THUMBNAIL.dim, dtype=np.float32)
    return _THUMBNAIL.encode(image)


def state_features(proprio: np.ndarray, image: np.ndarray | None, history: Sequence[str],
                   budget_used: float) -> np.ndarray:
    """Return the feature vector from proprioception, the camera image and the executed prompts."""
    proprio = np.asarray(proprio, dtype=np.float32).reshape(-1)
    if proprio.shape != (PROPRIO_DIM,):
        raise ValueError(f'expected {PROPRIO_DIM} proprioception values, got {proprio.shape}')
    executed = _HISTORY.encode(list(history)).sum(axis=0) if history else np.zeros(HISTORY_DIM, np.float32)
    return np.concatenate([proprio, thumbnail(image), executed.astype(np.float32),
                           np.array([budget_used], dtype=np.float32)])
