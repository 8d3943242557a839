"""sarl-robot-check against the Interbotix double: what it reports, and what makes it fail."""
from __future__ import annotations

import re

import pytest
from backend_helpers import FakeInterbotix

from sarl_ros.apps import robot_check
from sarl_ros.backends.widowx import WidowXRobot


def started(bot=None, **kw):
    bot = bot or FakeInterbotix(start_joints=[0.0] * 6)  # Interbotix home: away from the start pose
    kw.setdefault('control_hz', 20.0)
    return WidowXRobot(bot=bot, lifecycle=bot, **kw), bot


def check(robot, **kw):
    kw.setdefault('settle_s', 0.0)
    kw.setdefault('state_rate_s', 0.05)
    kw.setdefault('min_rate_fraction', 0.25)  # a loaded shared test machine; the lab default is 0.9
    return robot_check.run_check(robot, **kw)


def test_a_healthy_arm_passes_and_every_step_is_reported():
    robot, bot = started()
    report = check(robot)
    text = '\n'.join(report.lines)
    assert report.ok, report.failures
    assert 'arm mode position, arm profile time, gripper mode pwm' in text
    for label in ('start pose', 'step +x 2 cm', 'step -x 2 cm', 'step +z 2 cm', 'step -z 2 cm'):
        assert re.search(re.escape(label) + r'.*commanded \(.*measured \(.*error +0\.0 mm', text), label
    assert 'gripper close finger 0.0150' in text and 'gripper open  finger 0.0370' in text
    assert bot.gripper.calls == ['grasp', 'release']
    rate = float(re.search(r'control loop: ([\d.]+) Hz achieved, 20.00 Hz configured', text).group(1))
    assert 5.0 <= rate <= 21.0  # paced: never faster than configured
    # The +x/-x and +z/-z steps cancel: the arm ends where the start pose put it.
    assert bot.arm.get_ee_pose_command()[:3, 3] == pytest.approx(robot.start_pose.position)


def test_a_sagging_arm_and_wrong_modes_fail_with_reasons():
    robot, bot = started()
    bot.arm.sag = 0.02  # every joint 0.02 rad off: ~5 mm in the toy kinematics
    bot.arm.group_info.mode = 'velocity'
    report = check(robot, max_error_mm=3.0)
    assert not report.ok
    assert any("arm mode is 'velocity', expected 'position'" in f for f in report.failures)
    assert any('start pose is' in f and 'mm off' in f for f in report.failures)


def test_joint_states_that_stop_updating_are_reported():
    robot, bot = started()
    bot.spun = False  # the API's executor died after start
    bot._snapshot = bot._message()
    report = check(robot)
    assert any('joint states do not update' in f for f in report.failures)


def test_the_command_prints_the_report_and_shuts_the_api_down(capsys):
    robot, bot = started()
    assert robot_check.main(['--settle-s', '0'], robot=robot) == 0
    out = capsys.readouterr().out
    assert 'step +z 2 cm' in out and out.strip().endswith('robot check: OK')
    assert bot.shut_down
