"""The WidowX adapter's conversion and safety logic, against a double of the Interbotix API that is stale until spun."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from backend_helpers import FakeInterbotix, toy_joints

from sarl_ros.backends.arm_safety import (GRIPPER_DOWN, JointLimits, StartPose, StepLimits, Workspace,
                                          check_joint_motion, euler_to_matrix, gripper_decision, limit_orientation,
                                          limit_step, matrix_to_euler, rotation_angle, swing_twist, target_pose)
from sarl_ros.backends.catalog import make_robot
from sarl_ros.backends.widowx import WidowXRobot
from sarl_ros.core.executor import COMPLETED, execute_prompt

DOWN = np.array(GRIPPER_DOWN)


def robot_with(bot=None, **kw):
    kw.setdefault('control_hz', 1000.0)  # no pacing delay in tests
    kw.setdefault('moving_time_s', 0.2)
    bot = bot or FakeInterbotix()
    kw.setdefault('lifecycle', bot)
    return WidowXRobot(bot=bot, **kw)


def action(dx=0.0, dy=0.0, dz=0.0, droll=0.0, dpitch=0.0, dyaw=0.0, gripper=1.0):
    return np.array([dx, dy, dz, droll, dpitch, dyaw, gripper])


def pose(rotation, position=(0.30, 0.0, 0.10)):
    matrix = np.eye(4)
    matrix[:3, :3] = rotation
    matrix[:3, 3] = position
    return matrix


# --- pure conversion and safety functions ------------------------------------------------------
@pytest.mark.parametrize('rpy', [(0.1, -0.4, 1.2), (-1.0, 0.9, -2.5), (0.0, 0.0, 0.0)])
def test_euler_round_trip(rpy):
    rotation = euler_to_matrix(rpy)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(matrix_to_euler(rotation), rpy, atol=1e-9)


def test_steps_are_clipped_per_axis_like_bridge_actions():
    delta, clipped = limit_step([0.3, 0.04, -0.2, 0.0, 0.5, -0.01], StepLimits())
    assert clipped
    np.testing.assert_allclose(delta, [0.05, 0.04, -0.05, 0.0, 0.25, -0.01])  # other axes untouched
    same, clipped = limit_step([0.01, 0, 0, 0, 0, 0.01], StepLimits())
    assert not clipped and same[0] == 0.01
    with pytest.raises(ValueError, match='finite'):
        limit_step([np.nan] * 6, StepLimits())


def test_target_pose_adds_the_delta_and_clamps_to_the_box_with_bridges_floor():
    current = pose(DOWN)
    target, clipped = target_pose(current, [0.02, -0.01, 0.0, 0.0, 0.0, 0.1], Workspace())
    assert not clipped
    np.testing.assert_allclose(target[:3, 3], [0.32, -0.01, 0.10])
    np.testing.assert_allclose(target[:3, :3], euler_to_matrix((0, 0, 0.1)) @ DOWN, atol=1e-12)
    target, clipped = target_pose(current, [0.0, 0.0, -0.5, 0, 0, 0], Workspace())
    assert clipped and target[2, 3] == pytest.approx(-0.01)  # Bridge's z floor


@pytest.mark.parametrize('yaw', [0.0, 1.3, -1.0])  # 1.3 + 0.25 stays inside the twist range
@pytest.mark.parametrize('pitch_offset', [0.0, 1e-7, -1e-4, 0.01, -0.3])
@pytest.mark.parametrize('delta_rpy', [(0, 0.05, 0), (0.05, 0, 0), (0, 0, 0.2), (0.1, -0.1, 0.1), (-0.25, 0.25, -0.25)])
def test_rotations_at_and_around_gripper_down_are_applied_exactly(yaw, pitch_offset, delta_rpy):
    # pi/2 pitch is where Euler angles are singular; the target must still be R_delta @ R_current.
    current = pose(euler_to_matrix((0.0, np.pi / 2 + pitch_offset, yaw)))
    target, clipped = target_pose(current, [0, 0, 0, *delta_rpy], Workspace())
    expected = euler_to_matrix(delta_rpy) @ current[:3, :3]
    assert not clipped
    assert rotation_angle(target[:3, :3].T @ expected) < 1e-9


def test_the_issues_examples_down_and_down_yawed_by_one_and_a_half_radians():
    for current in (DOWN, euler_to_matrix((0.0, 0.0, 1.5)) @ DOWN):
        target, clipped = target_pose(pose(current), [0, 0, 0, 0, 0.05, 0], Workspace())
        assert not clipped
        # 0.05 rad away from where it was, not the ~35 / ~17 degrees Euler clamping produced.
        assert rotation_angle(target[:3, :3].T @ current) == pytest.approx(0.05, abs=1e-9)


def test_swing_twist_separates_tilt_from_yaw_about_the_vertical():
    for yaw in (0.0, 0.7, -1.4):
        for tilt in (0.0, 0.3, 1.0):
            rotation = euler_to_matrix((0.0, 0.0, yaw)) @ euler_to_matrix((0.0, tilt, 0.0)) @ DOWN
            _, swing, twist = swing_twist(rotation, DOWN)
            assert swing == pytest.approx(abs(tilt), abs=1e-9)
            assert abs(twist) == pytest.approx(abs(yaw), abs=1e-9)


def test_orientation_limits_cut_twist_and_tilt_and_keep_the_rest():
    workspace = Workspace(max_tilt_rad=0.8, twist_range_rad=(-1.0, 1.0))
    twisted = euler_to_matrix((0.0, 0.0, 1.4)) @ euler_to_matrix((0.0, -0.3, 0.0)) @ DOWN
    bounded, clipped = limit_orientation(twisted, workspace)
    _, swing, twist = swing_twist(bounded, DOWN)
    assert clipped and abs(twist) == pytest.approx(1.0) and swing == pytest.approx(0.3)
    assert rotation_angle(bounded.T @ twisted) == pytest.approx(0.4, abs=1e-9)  # only the excess twist removed
    tilted = euler_to_matrix((0.0, 1.1, 0.0)) @ DOWN
    bounded, clipped = limit_orientation(tilted, workspace)
    _, swing, twist = swing_twist(bounded, DOWN)
    assert clipped and swing == pytest.approx(0.8) and twist == pytest.approx(0.0, abs=1e-9)
    # Continuity at the limit: just inside is untouched.
    inside = euler_to_matrix((0.0, 0.79, 0.0)) @ DOWN
    assert not limit_orientation(inside, workspace)[1]


def test_the_start_pose_lies_inside_the_workspace_pointing_nearly_down():
    start, workspace = StartPose().matrix(), Workspace()
    assert np.all(start[:3, 3] >= workspace.low) and np.all(start[:3, 3] <= workspace.high)
    _, tilt, twist = swing_twist(start[:3, :3], DOWN)
    assert np.degrees(tilt) == pytest.approx(15.5, abs=1.0) and twist == pytest.approx(0.0, abs=1e-9)
    assert target_pose(start, np.zeros(6), workspace) == (pytest.approx(start), False)


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
    with pytest.raises(ValueError, match='orientation range'):
        Workspace(twist_range_rad=(1.0, -1.0))


# --- the adapter over the API double -----------------------------------------------------------
def test_the_api_is_started_once_and_shut_down_on_close():
    bot = FakeInterbotix()
    robot = robot_with(bot)
    assert bot.spun
    robot.close()
    robot.close()
    assert bot.shut_down and not bot.spun


def test_joint_states_that_never_update_are_refused():
    bot = FakeInterbotix()  # nobody spins its node: what happens without robot_startup()
    with pytest.raises(RuntimeError, match='robot_startup'):
        WidowXRobot(bot=bot, lifecycle=None, live_state_timeout_s=0.2)


def test_actions_become_pose_targets_integrated_on_the_commanded_pose():
    bot = FakeInterbotix()
    bot.arm.sag = 0.01
    robot = robot_with(bot)
    for _ in range(3):
        assert robot.apply(action(dx=0.01, dz=-0.02)).ok
    # Integrated on the commanded pose, not the sagging measured one.
    np.testing.assert_allclose(bot.arm.get_ee_pose_command()[:3, 3], [0.33, 0.0, 0.19], atol=1e-9)
    assert len(bot.arm.published) == 3
    assert bot.arm.calls[0] == ('ik', True)  # IK seeded with the current joints


def test_measured_pose_source_follows_the_arm():
    bot = FakeInterbotix()
    robot = robot_with(bot, pose_source='measured')
    for _ in range(4):
        assert robot.apply(action(dx=0.01)).ok
    # Each step starts from where the arm now is: a stale pose would command 0.31 four times.
    assert bot.arm.get_ee_pose()[0, 3] == pytest.approx(0.34)


def test_moves_use_bridges_timing_and_do_not_block():
    bot = FakeInterbotix()
    robot = robot_with(bot, control_hz=5.0, moving_time_s=None)
    assert (robot.moving_time_s, robot.accel_time_s) == (pytest.approx(0.25), pytest.approx(0.1))
    robot._apply_locked(action(dx=0.01))  # without the pacing wait
    assert bot.arm.timings[-1] == (pytest.approx(0.25), pytest.approx(0.1), False)


def test_large_deltas_are_clipped_and_reported():
    bot = FakeInterbotix()
    result = robot_with(bot).apply(action(dx=0.2, dy=0.01))
    assert result.ok and result.clipped
    np.testing.assert_allclose(bot.arm.get_ee_pose_command()[:3, 3], [0.35, 0.01, 0.25], atol=1e-9)


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


def test_a_target_the_driver_refuses_is_reported_as_skipped():
    bot = FakeInterbotix()
    robot = robot_with(bot)
    bot.arm.group_info.joint_upper_limits[1] = 0.05  # the driver's limits, narrower than those read at start
    result = robot.apply(action(dx=0.02))
    assert not result.ok and 'refused' in result.message and len(bot.arm.refused) == 1


def test_gripper_follows_the_threshold_and_is_only_commanded_on_change():
    bot = FakeInterbotix()
    robot = robot_with(bot)
    for value in (1.0, 0.9, 0.2, 0.1, 0.7):
        robot.apply(action(gripper=value))
    # The first open finds the finger already open: the API drops it, correctly.
    assert bot.gripper.dropped == ['release'] and bot.gripper.calls == ['grasp', 'release']
    assert bot.finger == bot.FINGER_LIMITS[1] and robot.proprio()[-1] == 1.0
    assert bot.gripper.effort == 0.0  # the limit timer ran: no PWM left on the motor


def test_a_release_after_a_grasp_reaches_the_gripper():
    bot = FakeInterbotix()
    robot = robot_with(bot)
    assert robot.apply(action(gripper=0.0)).ok
    assert bot.finger == bot.FINGER_LIMITS[0]
    assert robot.apply(action(gripper=1.0)).ok
    assert bot.gripper.dropped == [] and bot.finger == bot.FINGER_LIMITS[1]


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
    assert robot.apply(action(dx=0.01)).ok


def test_halt_interrupts_the_pacing_wait():
    robot = robot_with(control_hz=0.2)  # a 5 s control period
    stopper = threading.Timer(0.1, robot.halt)
    stopper.start()
    done = threading.Event()
    threading.Thread(target=lambda: (robot.apply(action(dx=0.01)), done.set()), daemon=True).start()
    assert done.wait(timeout=3.0), 'apply() kept waiting after the emergency stop'
    stopper.join()


def test_home_goes_to_the_start_pose_slowly_with_the_gripper_open():
    bot = FakeInterbotix(start_joints=np.zeros(6))  # Interbotix's own home: gripper horizontal
    robot = robot_with(bot, home_moving_time_s=2.5)
    robot.apply(action(gripper=0.0))
    robot.home()
    np.testing.assert_allclose(bot.arm.joint_commands, toy_joints(StartPose().matrix()), atol=1e-9)
    assert bot.arm.timings[-1] == (2.5, pytest.approx(0.3), True)
    assert bot.finger == bot.FINGER_LIMITS[1] and robot.proprio()[-1] == 1.0
    robot.sleep()
    assert bot.arm.pose_moves == [('home', 2.5), ('sleep', 2.5)]


def test_an_unreachable_start_pose_is_a_clear_error():
    robot = robot_with(FakeInterbotix(reach_x_m=0.2), start_pose=StartPose(position=(0.3, 0.0, 0.2)))
    with pytest.raises(RuntimeError, match='start pose'):
        robot.home()


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
