"""Q_sem's state from what a real robot has: joint states, measured gripper, camera image, prompt history.

One class for the simulator and the robot, so a policy trained in simulation loads and runs on the
real path (same `dim`, same layout). Layout (float32):
  [0 : P)            proprioception as the robot reports it (WidowX: 6 joint angles [rad], gripper 0..1)
  [P : P + I)        image code (ColourLayoutEncoder by default; a pretrained encoder on a robot)
  [P + I : P + I + H + 1)
                     history: a hashed bag of the prompts executed so far this episode (HISTORY_BUCKETS
                     counts), then the number executed / 10
  [.. : end)         the frame itself, downsampled to PIXEL_SIDE x PIXEL_SIDE, channels first, values in
                     [0, 1] (3 * PIXEL_SIDE**2 values): the paper's Q_sem reads these pixels through its
                     own CNN and the proprioception, nothing else (sarl_ros.core.sarl).
Nothing here reads simulator state: a missing frame gives a zero image code and zero pixels.
Why 32 pixels and not the paper's 64: one TD update of a 10-member ensemble costs about 4x less on
this 2-core CPU (benchmarks/sarl_costs.py), and the tasks' cues (which colour where, what is held)
survive at 32.
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from sarl_ros.core.perception.image_encoders import ColourLayoutEncoder
from sarl_ros.core.proposals import normalize_prompt

HISTORY_BUCKETS = 32
PROPRIO_DIM = 7  # WidowX 250 6-DOF: six joints and the gripper
PIXEL_SIDE = 32  # side of the raw frame the state carries for a learned image encoder (0: none)
# Size of the default observable state: 7 + 120 (colour layout) + 33 (history) + 3 * 32 * 32 (pixels).
OBSERVABLE_DIM = PROPRIO_DIM + 120 + HISTORY_BUCKETS + 1 + 3 * PIXEL_SIDE ** 2


def pixel_block(image, side: int = PIXEL_SIDE) -> np.ndarray:
    """Return a frame as side x side RGB, channels first, flattened, float32 in [0, 1]."""
    import cv2
    frame = np.asarray(image)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f'expected an HxWx3 uint8 RGB frame, got {frame.dtype} {frame.shape}')
    small = cv2.resize(frame, (side, side), interpolation=cv2.INTER_AREA)
    return (small.transpose(2, 0, 1).reshape(-1).astype(np.float32) / 255.0)


def prompt_bucket(prompt: str, buckets: int = HISTORY_BUCKETS) -> int:
    """Return a prompt's history bucket: a stable hash, identical across processes and machines."""
    digest = hashlib.blake2b(normalize_prompt(prompt).encode(), digest_size=4).digest()
    return int.from_bytes(digest, 'little') % buckets


class ObservableFeaturizer:
    """StateFeaturizer over proprioception, the camera image and the executed prompts."""

    def __init__(self, proprio_dim: int = PROPRIO_DIM, image_encoder=None, history_buckets: int = HISTORY_BUCKETS,
                 pixel_side: int = PIXEL_SIDE):
        if proprio_dim <= 0 or history_buckets <= 0 or pixel_side < 0:
            raise ValueError('proprio_dim and history_buckets must be positive, pixel_side >= 0')
        self.proprio_dim = int(proprio_dim)
        self.image_encoder = image_encoder if image_encoder is not None else ColourLayoutEncoder()
        self.history_buckets = int(history_buckets)
        self.image_dim = int(self.image_encoder.dim)
        self.pixel_side = int(pixel_side)
        self.pixel_dim = 3 * self.pixel_side ** 2
        self.dim = self.proprio_dim + self.image_dim + self.history_buckets + 1 + self.pixel_dim

    @property
    def history_slice(self) -> slice:
        """Where the executed-prompt history (its counts, then the number executed / 10) lies in the state."""
        start = self.proprio_dim + self.image_dim
        return slice(start, start + self.history_buckets + 1)

    def features(self, image, proprio, history: Sequence[str] = ()) -> np.ndarray:
        """Return the state vector; ValueError on a proprioception of the wrong size or a bad frame."""
        joints = np.asarray(proprio, dtype=np.float32).reshape(-1)
        if joints.size != self.proprio_dim:
            raise ValueError(f'expected {self.proprio_dim} proprioception values, got {joints.size}')
        code = (np.zeros(self.image_dim, np.float32) if image is None
                else np.asarray(self.image_encoder.encode(image), np.float32).reshape(-1))
        executed = np.zeros(self.history_buckets + 1, np.float32)
        for prompt in history:
            executed[prompt_bucket(prompt, self.history_buckets)] += 1.0
        executed[-1] = len(history) / 10.0
        pixels = (np.zeros(self.pixel_dim, np.float32) if image is None or not self.pixel_dim
                  else pixel_block(image, self.pixel_side))
        return np.concatenate([joints, code, executed, pixels])
