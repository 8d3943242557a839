"""The WidowX adapter's conversion and safety logic, against a double of the Interbotix API surface."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from backend_helpers import FakeInterbotix

from sarl_ros.backends.arm_safety import (JointLimits, StepLimits, Workspace, check_joint_motion, euler_to_matrix,
                                          gripper_decision, limit_step, matrix_to_euler, target_pose)
from sarl_ros.backends.registry import make_robot
from sarl_ros.backends.widowx import WidowXRobot
from sarl_ros.core.executor import COMPLETED, execute_prompt


def robot_with(bot=None, **kw):
    kw.setdefault('control_hz', 1000.0)  # no pacing delay in tests
    kw.setdefault('moving_time_s', 0.2)
    return WidowXRobot(bot=bot or FakeInterbotix(), **kw)


def action(dx=0.0, dy=0.0, dz=0.0, droll=0.0, dpitch=0.0, dyaw=0.0, gripper=1.0):
    return np.array([dx, dy, dz, droll, dpitch, dyaw, gripper])


# --- pure conversion and safety functions ------------------------------------------------------
@pytest.mark.parametrize('rpy', [(0.1, -0.4, 1.2), (-1.0, 0.9, -2.5), (0.0, 0.0, 0.0)])
def test_euler_round_trip(rpy):
    rotation = euler_to_matrix(rpy)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(matrix_to_euler(rotation), rpy, atol=1e-9)


def test_limit_step_keeps_direction_and_reports_clipping():
    delta, clipped = limit_step([0.3, 0.4, 0.0, 0.0, 0.0, 0.01], StepLimits(max_translation_m=0.05))
    assert clipped
    np.testing.assert_allclose(delta[:3], [0.03, 0.04, 0.0])
    same, clipped = limit_step([0.01, 0, 0, 0, 0, 0.01], StepLimits())
    assert not clipped and same[0] == 0.01
    with pytest.raises(ValueError, match='finite'):
        limit_step([np.nan] * 6, StepLimits())


def test_target_pose_adds_the_delta_and_clamps_to_the_workspace():
    current = np.eye(4)
    current[:3, 3] = (0.30, 0.0, 0.10)
    target, clipped = target_pose(current, [0.02, -0.01, 0.0, 0.0, 0.0, 0.1], Workspace())
    assert not clipped
    np.testing.assert_allclose(target[:3, 3], [0.32, -0.01, 0.10])
    np.testing.assert_allclose(matrix_to_euler(target[:3, :3]), [0, 0, 0.1], atol=1e-12)
    target, clipped = target_pose(current, [0.0, 0.0, -0.5, 0, 0, 0], Workspace(low=(0.1, -0.3, 0.05)))
    assert clipped and target[2, 3] == pytest.approx(0.05)


def test_joint_guard_checks_limits_and_speed():
    limits = JointLimits(lower=np.array([-1.0, -1.0]), upper=np.array([1.0, 1.0]), velocity=np.array([2.0, 2.0]),
                         names=('waist', 'elbow'))
    assert check_joint_motion([0.5, 0.0], [0.4, 0.0], limits, 0.2, StepLimits()) == (True, '')
    ok, reason = check_joint_motion([0.995, 0.0], [0.99, 0.0], limits, 0.2, StepLimits(joint_margin_rad=0.02))
    assert not ok and 'waist' in reason
    ok, reason = check_joint_motion([0.0, 0.5], [0.0, 0.0], limits, 0.2, StepLimits(joint_speed_fraction=0.8))
    assert not ok and 'elbow would move at 2.50 rad/s' in reason


def test_gripper_threshold_with_memory():
    assert gripper_decision(0.9, 0.5, None) == 'open'
    assert gripper_decision(0.1, 0.5, True) == 'close'
    assert gripper_decision(0.2, 0.5, False) is None


def test_workspace_must_not_be_empty():
    with pytest.raises(ValueError, match='empty workspace'):
        Workspace(low=(0.5, 0, 0), high=(0.1, 1, 1))


# --- the adapter over the API double -----------------------------------------------------------
def test_actions_become_pose_targets_integrated_on_the_commanded_pose():
    bot = FakeInterbotix()
    robot = robot_with(bot)
    for _ in range(3):
        assert robot.apply(action(dx=0.01, dz=-0.02)).ok
    # Integrated on the commanded pose, not the sagging measured one.
    np.testing.assert_allclose(bot.arm.pose[:3, 3], [0.33, 0.0, 0.19], atol=1e-9)
    assert len(bot.arm.published) == 3
    assert bot.arm.calls[0] == ('ik', True)  # IK seeded with the current joints


def test_large_deltas_are_clipped_and_reported():
    bot = FakeInterbotix()
    result = robot_with(bot).apply(action(dx=0.2))
    assert result.ok and result.clipped
    assert bot.arm.pose[0, 3] == pytest.approx(0.35)  # 0.30 + max_translation 0.05


def test_ik_failure_skips_the_step_without_moving():
    bot = FakeInterbotix(reach_x_m=0.31)
    robot = robot_with(bot)
    result = robot.apply(action(dx=0.03))
    assert not result.ok and 'IK found no solution' in result.message
    assert bot.arm.published == [] and robot.skipped == 1
    assert bot.arm.calls == [('ik', True), ('ik', False)]  # retried with the driver's own guesses


def test_joint_speed_guard_skips_fast_motions():
    bot = FakeInterbotix()
    robot = robot_with(bot, moving_time_s=0.01)  # 4 rad per m of x in 10 ms: far too fast
    result = robot.apply(action(dx=0.04))
    assert not result.ok and 'joint guard' in result.message and bot.arm.published == []


def test_gripper_follows_the_threshold_and_is_only_commanded_on_change():
    bot = FakeInterbotix()
    robot = robot_with(bot)
    for value in (1.0, 0.9, 0.2, 0.1, 0.7):
        robot.apply(action(gripper=value))
    assert bot.gripper.calls == ['release', 'grasp', 'release']
    assert robot.proprio()[-1] == 1.0


def test_proprio_reports_measured_joints_and_gripper():
    bot = FakeInterbotix()
    bot.arm.sag = 0.01
    robot = robot_with(bot)
    robot.apply(action(dx=0.01, gripper=0.0))
    state = robot.proprio()
    assert state.shape == (7,) and state.dtype == np.float32
    np.testing.assert_allclose(state[:6], bot.arm.joints + 0.01, atol=1e-6)
    assert state[6] == 0.0


def test_emergency_stop_holds_position_and_latches_until_home():
    bot = FakeInterbotix()
    bot.arm.sag = 0.005
    robot = robot_with(bot)
    robot.apply(action(dx=0.02))
    measured = robot.proprio()[:6]
    robot.halt()
    np.testing.assert_allclose(bot.arm.published[-1], measured, atol=1e-6)  # holds the measured pose
    published = len(bot.arm.published)
    result = robot.apply(action(dx=0.02))
    assert not result.ok and 'emergency stop' in result.message and len(bot.arm.published) == published
    robot.home()
    assert 'home' in bot.arm.calls and robot.apply(action(dx=0.01)).ok


def test_halt_interrupts_the_pacing_wait():
    robot = robot_with(control_hz=0.2)  # a 5 s control period
    stopper = threading.Timer(0.1, robot.halt)
    stopper.start()
    done = threading.Event()
    threading.Thread(target=lambda: (robot.apply(action(dx=0.01)), done.set()), daemon=True).start()
    assert done.wait(timeout=3.0), 'apply() kept waiting after the emergency stop'
    stopper.join()


def test_home_and_sleep_move_slowly_not_at_step_speed():
    bot = FakeInterbotix()
    robot = robot_with(bot, moving_time_s=0.15, home_moving_time_s=2.5)
    robot.home()
    robot.sleep()
    assert bot.arm.pose_moves == [('home', 2.5), ('home', 2.5), ('sleep', 2.5)]
    assert bot.gripper.calls == ['release']  # home opens the gripper


def test_invalid_actions_and_parameters_are_refused():
    robot = robot_with()
    with pytest.raises(ValueError, match='finite 7-D'):
        robot.apply(np.array([0.0, np.inf, 0, 0, 0, 0, 1]))
    with pytest.raises(ValueError, match='pose_source'):
        robot_with(pose_source='tf')


def test_executor_drives_the_adapter_and_counts_skips():
    bot = FakeInterbotix(reach_x_m=0.335)

    class ForwardVLA:
        def reset(self):
            pass

        def act(self, image, instruction, proprio):
            return action(dx=0.02)

        def skill_done(self):
            return False

    result = execute_prompt(robot_with(bot), None, ForwardVLA(), 'move forward', max_steps=4)
    # 0.30 -> 0.32 fits; 0.34 exceeds the reach: skipped, and so are the next ones.
    assert result.outcome == COMPLETED and result.control_steps == 4 and result.skipped_steps == 3
    assert all('IK' in m for m in result.messages)


def test_missing_interbotix_is_a_clear_import_error():
    try:
        import interbotix_xs_modules  # noqa: F401
        pytest.skip('interbotix_xs_modules is installed here')
    except ImportError:
        pass
    with pytest.raises(ImportError, match='interbotix_xs_modules.*interbotix_xsarm_control'):
        make_robot('widowx')
    with pytest.raises(ValueError, match="\\['widowx'\\]"):
        make_robot('franka')
