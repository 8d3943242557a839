"""End-effector delta control: moves as commanded, clips and reports, rejects bad actions."""
import numpy as np
import pytest
from sim_test_helpers import hold

from sarl_ros.sim.robot import MAX_TRANSLATION, WORKSPACE_HIGH


@pytest.mark.parametrize('delta', [(0.03, 0.0, 0.0), (0.0, -0.04, 0.0), (0.0, 0.0, -0.03), (-0.02, 0.02, 0.02)])
def test_a_commanded_delta_moves_the_end_effector_as_commanded(cube_world, delta):
    _, robot = cube_world
    start = robot.proprio()[:3]
    result = robot.apply(np.array([*delta, 0, 0, 0, 1.0]))
    hold(robot, 1)
    assert result.ok and not result.clipped
    assert np.allclose(robot.proprio()[:3] - start, delta, atol=0.004)


def test_a_yaw_delta_turns_the_gripper(cube_world):
    _, robot = cube_world
    start = robot.proprio()[3:6]
    robot.apply(np.array([0, 0, 0, 0, 0, 0.2, 1.0]))
    hold(robot, 1)
    assert robot.proprio()[5] - start[2] == pytest.approx(0.2, abs=0.03)


def test_gripper_command_opens_and_closes_the_fingers(cube_world):
    _, robot = cube_world
    hold(robot, 2, grip=0.0)
    assert robot.proprio()[6] < 0.1
    hold(robot, 2, grip=1.0)
    assert robot.proprio()[6] > 0.9


def test_a_too_large_delta_is_rate_limited_and_reported(cube_world):
    _, robot = cube_world
    start = robot.proprio()[:3]
    result = robot.apply(np.array([0.5, 0, 0, 0, 0, 0, 1.0]))
    hold(robot, 1)
    assert result.clipped and 'rate limit' in result.message
    assert robot.proprio()[0] - start[0] == pytest.approx(MAX_TRANSLATION, abs=0.005)


def test_leaving_the_workspace_is_clipped_and_reported(cube_world):
    _, robot = cube_world
    results = [robot.apply(np.array([0, 0, 0.05, 0, 0, 0, 1.0])) for _ in range(6)]
    assert any(r.clipped and 'workspace' in r.message for r in results)
    assert robot.target_pos[2] == pytest.approx(WORKSPACE_HIGH[2])
    assert robot.proprio()[2] < WORKSPACE_HIGH[2] + 0.005


def test_gripper_values_outside_zero_one_are_clipped_and_reported(cube_world):
    _, robot = cube_world
    assert robot.apply(np.array([0, 0, 0, 0, 0, 0, 1.5])).clipped


@pytest.mark.parametrize('bad', [np.nan, np.inf])
def test_non_finite_actions_are_rejected_before_moving(cube_world, bad):
    world, robot = cube_world
    before = world.data.qpos.copy()
    with pytest.raises(ValueError, match='non-finite'):
        robot.apply(np.array([0.01, bad, 0, 0, 0, 0, 1.0]))
    assert np.array_equal(world.data.qpos, before)


def test_an_action_of_the_wrong_size_is_rejected(cube_world):
    _, robot = cube_world
    with pytest.raises(ValueError, match='7 values'):
        robot.apply(np.zeros(6))


def test_home_returns_to_the_ready_pose(cube_world):
    _, robot = cube_world
    home = robot.proprio()
    robot.apply(np.array([0.03, 0.03, -0.03, 0, 0, 0, 0.0]))
    robot.home()
    assert np.allclose(robot.proprio(), home, atol=1e-3)
