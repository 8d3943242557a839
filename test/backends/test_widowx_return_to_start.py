"""'return to the start pose' on the WidowX adapter: Bridge's start pose by bounded steps through apply()."""
from __future__ import annotations

import numpy as np
from backend_helpers import FakeInterbotix

from sarl_ros.backends.arm_safety import rotation_angle
from sarl_ros.backends.widowx import WidowXRobot
from sarl_ros.core.executor import RETURN_TO_START_PROMPT, SKILL_DONE, execute_prompt


class NoVLA:
    def reset(self):
        raise AssertionError('the VLA was used')

    act = skill_done = reset


def test_the_arm_steps_back_to_bridges_start_pose_keeping_the_gripper():
    bot = FakeInterbotix()
    robot = WidowXRobot(bot=bot, lifecycle=bot, control_hz=1000.0, moving_time_s=0.2)
    robot.home()
    for _ in range(3):
        robot.apply(np.array([0.04, 0.05, -0.05, 0.0, 0.1, 0.2, 0.0]))  # away, gripper closed
    assert robot.gripper_open is False
    target = robot.start_pose.matrix()
    assert np.linalg.norm(bot.arm.get_ee_pose_command()[:3, 3] - target[:3, 3]) > 0.1
    run = execute_prompt(robot, None, NoVLA(), RETURN_TO_START_PROMPT, 15)
    assert run.outcome == SKILL_DONE and run.skipped_steps == 0 and 3 <= run.control_steps <= 8
    pose = bot.arm.get_ee_pose_command()
    assert np.linalg.norm(pose[:3, 3] - target[:3, 3]) < 0.003
    assert rotation_angle(pose[:3, :3] @ target[:3, :3].T) < 0.02
    assert robot.gripper_open is False and all(a[6] == 0.0 for a in run.actions)  # still holding
    assert robot.start_pose_action() is None
