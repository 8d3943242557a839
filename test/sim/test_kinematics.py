"""Kinematics of the simulated wx250s: published link lengths, reachable workspace, joint limits."""
import numpy as np
import pytest

from sarl_ros.sim.model import ARM_JOINTS, JOINT_LIMITS
from sarl_ros.sim.robot import IK_TOLERANCE, WORKSPACE_HIGH, WORKSPACE_LOW


def test_link_offsets_follow_the_wx250s_description(cube_world):
    world, _ = cube_world
    model = world.model
    assert np.allclose(model.body('upper_arm_link').pos, [0, 0, 0.03865])
    assert np.allclose(model.body('upper_forearm_link').pos, [0.04975, 0, 0.25])
    assert np.allclose(model.body('lower_forearm_link').pos, [0.175, 0, 0])
    for name in ARM_JOINTS:
        assert np.allclose(model.joint(name).range, JOINT_LIMITS[name], atol=1e-4)


@pytest.mark.parametrize('corner', range(8))
def test_workspace_corners_are_reachable_pointing_down(cube_world, corner):
    _, robot = cube_world
    pick = [(corner >> axis) & 1 for axis in range(3)]
    point = np.where(pick, WORKSPACE_HIGH, WORKSPACE_LOW)
    joints, residual = robot.solve_ik(point, np.zeros(3), iterations=300)
    assert residual < IK_TOLERANCE / 3
    low = np.array([JOINT_LIMITS[j][0] for j in ARM_JOINTS])
    high = np.array([JOINT_LIMITS[j][1] for j in ARM_JOINTS])
    assert np.all(joints >= low) and np.all(joints <= high)


def test_random_actions_keep_joints_within_limits_and_ee_in_workspace(cube_world):
    world, robot = cube_world
    rng = np.random.default_rng(0)
    low = np.array([JOINT_LIMITS[j][0] for j in ARM_JOINTS]) - 0.02
    high = np.array([JOINT_LIMITS[j][1] for j in ARM_JOINTS]) + 0.02
    for _ in range(40):
        action = np.concatenate([rng.uniform(-0.2, 0.2, 3), rng.uniform(-0.5, 0.5, 3), [rng.uniform()]])
        robot.apply(action)
        assert np.all(world.arm_joint_positions() >= low) and np.all(world.arm_joint_positions() <= high)
        assert np.all(robot.target_pos >= WORKSPACE_LOW - 1e-9) and np.all(robot.target_pos <= WORKSPACE_HIGH + 1e-9)
    assert np.all(robot.proprio()[:3] > WORKSPACE_LOW - 0.02) and np.all(robot.proprio()[:3] < WORKSPACE_HIGH + 0.02)


def test_an_unreachable_pose_has_a_large_ik_residual(cube_world):
    _, robot = cube_world
    _, residual = robot.solve_ik(np.array([0.7, 0.0, 0.3]), np.zeros(3))
    assert residual > IK_TOLERANCE
