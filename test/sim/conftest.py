"""Shared fixtures of the simulator tests."""
import os
import sys

import pytest

os.environ.setdefault('MUJOCO_GL', 'osmesa')
# With --import-mode=importlib the tests import shared helpers from this directory.
sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture
def cube_world():
    """Return (world, robot) of a scene with a cube, a pot and a plate."""
    from sarl_ros.sim.robot import SimRobot
    from sarl_ros.sim.world import Placement, SceneSpec, TabletopWorld
    scene = SceneSpec({'pot': Placement(x=(0.22, 0.3), y=(0.08, 0.15)),
                       'plate': Placement(x=(0.22, 0.3), y=(-0.15, -0.08)),
                       'cube': Placement(x=(0.24, 0.3), y=(-0.03, 0.03))})
    world = TabletopWorld(scene, seed=3)
    return world, SimRobot(world)
