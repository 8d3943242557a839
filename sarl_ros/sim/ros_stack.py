"""The simulator as the executor node's backends: robot, VLA, featuriser, scene, view and judge over one world.

The stack simulates one task's scene (Stack.task); the episode manager names the task it resolved
with every scene reset, and the executor builds the stack of another task when that name changes.
Q_sem's state and the scene reset are the in-process env's own (sarl_ros.sim.state, env.reset_task_scene),
so the graph and the benchmark compute identical features from identical scenes.
"""
from __future__ import annotations

import numpy as np

from sarl_ros.core.interfaces import Stack
from sarl_ros.sim.env import reset_task_scene
from sarl_ros.sim.registry import task_spec
from sarl_ros.sim.robot import SimRobot
from sarl_ros.sim.state import StateCamera, default_state_mode, make_state_featurizer
from sarl_ros.sim.task_scenes import TaskSpec
from sarl_ros.sim.view import SeenObject, scene_view
from sarl_ros.sim.vla import SimVLA
from sarl_ros.sim.world import TabletopWorld

# What `state_featurizer` may say on the simulator: auto is the task's own default (sarl_ros.sim.state).
SIM_STATE_CHOICES = ('auto', 'observable', 'oracle')


class SimWorldHandle:
    """What the ROS graph needs beyond the robot interfaces: scene reset (SceneReset), images (Camera), outcome."""

    def __init__(self, world: TabletopWorld, robot: SimRobot, vla: SimVLA, spec: TaskSpec):
        self.world, self.robot, self.vla, self.spec = world, robot, vla, spec

    def reset_scene(self, seed: int) -> None:
        """Sample a new scene, arm at home (the same layout, roles and VLA noise as env.reset(seed))."""
        reset_task_scene(self.world, self.robot, self.vla, self.spec, seed)

    def render(self) -> np.ndarray:
        return self.world.render()

    def read(self) -> np.ndarray:
        """Return the over-the-shoulder view (the Camera interface)."""
        return self.world.render()

    def scene_view(self) -> tuple[SeenObject, ...]:
        """Return what the camera frame shows (the SceneAnnotator interface: the simulated VLM's input)."""
        with self.world.lock:
            return scene_view(self.world)

    def task_success(self) -> bool:
        with self.world.lock:
            return bool(self.spec.success(self.world))

    def task_failed(self) -> bool:
        with self.world.lock:
            return bool(self.spec.failed_for_good(self.world))


class SimSuccessDetector:
    """The SuccessDetector interface answered from simulator state (certain, so confidence 1)."""

    def __init__(self, handle: SimWorldHandle):
        self.handle = handle

    def evaluate(self, image, task: str) -> tuple[bool | None, float]:
        return self.handle.task_success(), 1.0

    def failed_for_good(self, image, task: str) -> bool:
        return self.handle.task_failed()


def sim_state_mode(state_featurizer: str, spec: TaskSpec) -> str:
    """Return the state mode `state_featurizer` asks for on a simulated task (auto: the task's default)."""
    if state_featurizer not in SIM_STATE_CHOICES:
        raise ValueError(f'state_featurizer:={state_featurizer} is not a simulator state; with robot:=sim choose one '
                         f'of {", ".join(SIM_STATE_CHOICES)} (oracle: privileged simulator state, an ablation)')
    return default_state_mode(spec) if state_featurizer == 'auto' else state_featurizer


def make_sim_stack(task: str, seed: int = 0, width: int = 256, height: int = 256,
                   state_featurizer: str = 'auto') -> Stack:
    """Return robot/vla/camera/featuriser sharing one simulated world of a task, plus the world handle."""
    spec = task_spec(task)
    mode = sim_state_mode(state_featurizer, spec)
    world = TabletopWorld(spec.scene, seed=seed, width=width, height=height)
    robot = SimRobot(world)
    vla = SimVLA(world, seed=seed + 7919)
    handle = SimWorldHandle(world, robot, vla, spec)
    # The VLA reads object poses from the world; no camera frame is needed per control step.
    return Stack(robot=robot, vla=vla, camera=None, featurizer=make_state_featurizer(mode, world, spec), scene=handle,
                 view=handle, judge=SimSuccessDetector(handle),
                 state_camera=StateCamera(world) if mode == 'observable' else None, annotator=handle, task=spec.name)
