"""Q_sem's state from what a real robot has: joint states, measured gripper, camera image, prompt history.

One class for the simulator and the robot, so a policy trained in simulation loads and runs on the
real path (same `dim`, same layout). Layout (float32):
  [0 : P)            proprioception as the robot reports it (WidowX: 6 joint angles [rad], gripper 0..1)
  [P : P + I)        image code (ColourLayoutEncoder by default; a pretrained encoder on a robot)
  [P + I : end)      history: a hashed bag of the prompts executed so far this episode (HISTORY_BUCKETS
                     counts), then the number executed / 10
Nothing here reads simulator state: a missing frame gives a zero image code.
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from sarl_ros.core.image_encoders import ColourLayoutEncoder
from sarl_ros.core.proposals import normalize_prompt

HISTORY_BUCKETS = 32
PROPRIO_DIM = 7  # WidowX 250 6-DOF: six joints and the gripper


def prompt_bucket(prompt: str, buckets: int = HISTORY_BUCKETS) -> int:
    """Return a prompt's history bucket: a stable hash, identical across processes and machines."""
    digest = hashlib.blake2b(normalize_prompt(prompt).encode(), digest_size=4).digest()
    return int.from_bytes(digest, 'little') % buckets


class ObservableFeaturizer:
    """StateFeaturizer over proprioception, the camera image and the executed prompts."""

    def __init__(self, proprio_dim: int = PROPRIO_DIM, image_encoder=None, history_buckets: int = HISTORY_BUCKETS):
        if proprio_dim <= 0 or history_buckets <= 0:
            raise ValueError('proprio_dim and history_buckets must be positive')
        self.proprio_dim = int(proprio_dim)
        self.image_encoder = image_encoder if image_encoder is not None else ColourLayoutEncoder()
        self.history_buckets = int(history_buckets)
        self.image_dim = int(self.image_encoder.dim)
        self.dim = self.proprio_dim + self.image_dim + self.history_buckets + 1

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
        return np.concatenate([joints, code, executed])
