"""The interfaces every backend implements, simulated or real.

The ROS nodes and the offline benchmark drive these, so a simulated robot and the
real WidowX share one executor (sarl_ros.core.executor).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

# Bridge V2 WidowX action: dx dy dz [m], droll dpitch dyaw [rad], gripper (1 open, 0 closed).
ACTION_DIM = 7


@dataclass
class ApplyResult:
    clipped: bool = False  # the action was cut to workspace or rate bounds
    ok: bool = True  # False: the robot could not follow (e.g. IK failure); step skipped
    message: str = ''


class Robot(Protocol):
    control_hz: float

    def apply(self, action: np.ndarray) -> ApplyResult: ...

    def proprio(self) -> np.ndarray: ...

    def home(self) -> None: ...

    def halt(self) -> None: ...


class Camera(Protocol):
    def read(self) -> np.ndarray: ...  # HxWx3 uint8 RGB


class VLA(Protocol):
    def reset(self) -> None: ...  # a new prompt starts

    def act(self, image: np.ndarray | None, instruction: str, proprio: np.ndarray) -> np.ndarray: ...
    # A diffusion/flow VLA also takes act(..., noise=latent) and sets accepts_noise = True (what DSRL
    # steers; sarl_ros.sim.vla.SimVLA); autoregressive VLAs (OpenVLA) have neither.

    def skill_done(self) -> bool: ...  # the last act() finished the commanded skill


class SuccessDetector(Protocol):
    def evaluate(self, image: np.ndarray | None, task: str) -> tuple[bool | None, float]: ...
    # (success or None when undecided, confidence 0..1)


class StateFeaturizer(Protocol):
    dim: int

    def features(self, image: np.ndarray | None, proprio: np.ndarray) -> np.ndarray: ...
