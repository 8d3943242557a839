"""The interfaces every backend implements, simulated or real (the ground floor of the package).

Core code (the executor, the episode loop) is written against these; the real backends
(sarl_ros.backends), the simulator (sarl_ros.sim) and the ROS client objects
(sarl_ros.nodes.clients) implement them. This module imports nothing above core.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from sarl_ros.core.mdp import PromptProposer, SemanticEnv  # noqa: F401 - part of this module's interface set
from sarl_ros.core.scene_view import SeenObject

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

    def proprio(self) -> np.ndarray: ...  # what the VLA is given

    def joint_state(self) -> np.ndarray: ...  # what the arm's driver reports: joint angles [rad], gripper 0..1

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


class FailureDetector(Protocol):
    """Optional beside SuccessDetector: tells that the task can no longer succeed (a lost object)."""

    def failed_for_good(self, image: np.ndarray | None, task: str) -> bool: ...


class StateFeaturizer(Protocol):
    """Q_sem's state from a frame, the robot's joint state and the prompts executed so far this episode."""

    dim: int

    def features(self, image: np.ndarray | None, proprio: np.ndarray, history: Sequence[str] = ()) -> np.ndarray: ...


class SceneAnnotator(Protocol):
    """A simulated camera's own account of what its frame shows (the simulated VLM's input)."""

    def scene_view(self) -> tuple[SeenObject, ...]: ...


class SceneReset(Protocol):
    """A world that restores its scene by itself (the simulator); a real scene is reset by a person."""

    def reset_scene(self, seed: int) -> None: ...


@dataclass
class Stack:
    """The executor's backends: one robot, its VLA, the camera the VLA sees, the state featurizer.

    A backend that owns its whole world (the simulator) also offers what a real setup gets
    from people and other nodes: a scene that resets itself, a view of the scene where no
    camera topic exists, and a judge of the task from the world's true state.
    """

    robot: Robot
    vla: VLA
    camera: Camera | None  # read every control step; None when the VLA does not look at pixels
    featurizer: StateFeaturizer
    scene: SceneReset | None = None  # None: a person resets the scene
    view: Camera | None = None  # frames for people, recordings and the detector when no camera topic exists
    judge: SuccessDetector | None = None  # may also be a FailureDetector
    # The frame the state featurizer reads when it is not the VLA's camera (the simulator: a small plain render).
    state_camera: Camera | None = None
    annotator: SceneAnnotator | None = None  # what the simulated frame shows, for a simulated VLM
    # The task whose scene a self-contained world simulates; None: the stack serves any task (a real scene).
    task: str | None = None
