"""The simulator as the executor node's backends: robot, VLA, featuriser, scene, view and judge over one world."""
from __future__ import annotations

import numpy as np

from sarl_ros.core.interfaces import Stack
from sarl_ros.sim.features import SimFeaturizer
from sarl_ros.sim.registry import task_spec
from sarl_ros.sim.robot import SimRobot
from sarl_ros.sim.tasks import TaskSpec
from sarl_ros.sim.vla import SimVLA
from sarl_ros.sim.world import TabletopWorld


class SimWorldHandle:
    """What the ROS graph needs beyond the robot interfaces: scene reset (SceneReset), images (Camera), outcome."""

    def __init__(self, world: TabletopWorld, robot: SimRobot, vla: SimVLA, spec: TaskSpec):
        self.world, self.robot, self.vla, self.spec = world, robot, vla, spec

    def reset_scene(self, seed: int) -> None:
        """Sample a new scene, arm at home (same layout as env.reset(seed))."""
        with self.world.lock:
            self.world.reset_scene(seed)
            self.robot.home()
            self.vla.rng = np.random.default_rng(seed + 104729)
            self.vla.reset()

    def render(self) -> np.ndarray:
        return self.world.render()

    def read(self) -> np.ndarray:
        """Return the over-the-shoulder view (the Camera interface)."""
        return self.world.render()

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


def make_sim_stack(task: str, seed: int = 0, width: int = 256, height: int = 256) -> Stack:
    """Return robot/vla/camera/featuriser sharing one simulated world, plus the world handle."""
    spec = task_spec(task)
    world = TabletopWorld(spec.scene, seed=seed, width=width, height=height)
    robot = SimRobot(world)
    vla = SimVLA(world, seed=seed + 7919)
    handle = SimWorldHandle(world, robot, vla, spec)
    # The VLA reads object poses from the world; no camera frame is needed per control step.
    return Stack(robot=robot, vla=vla, camera=None, featurizer=SimFeaturizer(world, spec), scene=handle, view=handle,
                 judge=SimSuccessDetector(handle))
