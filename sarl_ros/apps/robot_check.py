"""sarl-robot-check: check a WidowX before the first episode, with the Interbotix arm driver running.

    ros2 launch interbotix_xsarm_control xsarm_control.launch.py robot_model:=wx250s use_rviz:=false
    sarl-robot-check            # in a second terminal, arm clear of obstacles, power switch in reach

It reports the driver's operating modes and joint-state rate, moves to the start pose, makes
small +x/-x and +z/-z steps and a gripper close/open through the same adapter the executor
uses (sarl_ros.backends.widowx), prints commanded against measured poses, measures the control
loop rate, and exits 1 when something is off.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from sarl_ros.backends.options import WidowXOptions

# What Interbotix's default modes.yaml sets, and what the adapter relies on.
EXPECTED_MODES = {'arm mode': 'position', 'arm profile': 'time', 'gripper mode': 'pwm'}


@dataclass
class CheckReport:
    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.lines.append(text)

    def fail(self, text: str) -> None:
        self.failures.append(text)
        self.lines.append(f'FAIL: {text}')

    @property
    def ok(self) -> bool:
        return not self.failures


def driver_modes(bot) -> dict[str, str]:
    """Return the arm group's and gripper's operating modes as the driver reported them at start."""
    info = bot.arm.group_info
    gripper_info = getattr(bot.gripper, 'gripper_info', None)
    return {'arm mode': str(getattr(info, 'mode', '?')), 'arm profile': str(getattr(info, 'profile_type', '?')),
            'gripper mode': str(getattr(gripper_info, 'mode', '?'))}


def joint_state_rate(bot, seconds: float) -> float:
    """Return how many new joint-state messages per second the API's node receives."""
    core = bot.core
    last, count = core.joint_states, 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        current = core.joint_states
        if current is not last:
            count, last = count + 1, current
        time.sleep(0.001)
    return count / seconds


def _pose_line(label: str, commanded: np.ndarray, measured: np.ndarray) -> tuple[str, float]:
    error_mm = 1000 * float(np.linalg.norm(commanded[:3, 3] - measured[:3, 3]))
    fmt = lambda v: '(' + ', '.join(f'{x:+.4f}' for x in v) + ')'  # noqa: E731
    return f'{label:<14} commanded {fmt(commanded[:3, 3])} measured {fmt(measured[:3, 3])} error {error_mm:5.1f} mm', \
        error_mm


def run_check(robot, step_m: float = 0.02, settle_s: float = 0.5, loop_steps: int = 10,
              max_error_mm: float = 10.0, min_rate_fraction: float = 0.9, state_rate_s: float = 1.0) -> CheckReport:
    """Run the checks on a WidowXRobot (started) and return what was seen."""
    from sarl_ros.core.interfaces import ACTION_DIM
    report = CheckReport()
    bot = robot.bot
    modes = driver_modes(bot)
    report.say('driver modes: ' + ', '.join(f'{k} {v}' for k, v in modes.items()))
    for key, expected in EXPECTED_MODES.items():
        if modes[key] != expected:
            report.fail(f'{key} is {modes[key]!r}, expected {expected!r} (Interbotix modes.yaml)')
    rate = joint_state_rate(bot, state_rate_s)
    report.say(f'joint states: {rate:.0f} messages/s')
    if rate <= 0:
        report.fail('joint states do not update: is the API started (robot_startup) and the driver running?')

    robot.home()
    time.sleep(settle_s)
    line, error = _pose_line('start pose', robot.start_pose.matrix(), bot.arm.get_ee_pose())
    report.say(line)
    if error > max_error_mm:
        report.fail(f'the start pose is {error:.1f} mm off')

    for label, axis, sign in (('+x', 0, 1), ('-x', 0, -1), ('+z', 2, 1), ('-z', 2, -1)):
        action = np.zeros(ACTION_DIM)
        action[axis], action[6] = sign * step_m, 1.0
        result = robot.apply(action)
        time.sleep(settle_s)
        if not result.ok:
            report.fail(f'step {label} was refused: {result.message}')
            continue
        line, error = _pose_line(f'step {label} {step_m * 100:.0f} cm', bot.arm.get_ee_pose_command(),
                                 bot.arm.get_ee_pose())
        report.say(line)
        if error > max_error_mm:
            report.fail(f'after step {label} the arm is {error:.1f} mm from the command')

    gripper = bot.gripper
    for label, value, limit in (('close', 0.0, gripper.left_finger_lower_limit),
                                ('open', 1.0, gripper.left_finger_upper_limit)):
        robot.apply(np.array([0, 0, 0, 0, 0, 0, value], dtype=np.float64))
        time.sleep(max(settle_s, 1.0) if settle_s else 0.0)  # PWM fingers take ~1 s end to end
        finger = float(gripper.get_finger_position())
        reached = finger <= limit + 0.002 if value < 0.5 else finger >= limit - 0.002
        report.say(f'gripper {label:<5} finger {finger:.4f} m (limit {limit:.4f})'
                   f'{"" if reached else " -- not reached (an object in the way?)"}')
        if not reached:
            report.fail(f'gripper {label} did not reach its limit')

    start = time.monotonic()
    for _ in range(loop_steps):
        robot.apply(np.array([0, 0, 0, 0, 0, 0, 1.0]))
    achieved = loop_steps / (time.monotonic() - start)
    report.say(f'control loop: {achieved:.2f} Hz achieved, {robot.control_hz:.2f} Hz configured '
               f'(moves of {robot.moving_time_s:.2f} s, ramps of {robot.accel_time_s:.2f} s)')
    if achieved < min_rate_fraction * robot.control_hz:
        report.fail(f'the loop runs at {achieved:.2f} Hz, below {min_rate_fraction:.0%} of {robot.control_hz} Hz')
    return report


def parse_args(argv=None) -> argparse.Namespace:
    """Return the parsed command line."""
    parser = argparse.ArgumentParser(prog='sarl-robot-check', description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    # The arm's defaults are the graph's (the widowx_ options of the executor).
    parser.add_argument('--robot-model', default=WidowXOptions.robot_model)
    parser.add_argument('--control-hz', type=float, default=WidowXOptions.control_hz)
    parser.add_argument('--step-m', type=float, default=0.02, help='Size of the +x/-x/+z/-z test steps')
    parser.add_argument('--settle-s', type=float, default=0.5, help='Wait after each move before measuring')
    parser.add_argument('--max-error-mm', type=float, default=10.0, help='Allowed commanded-vs-measured distance')
    parser.add_argument('--sleep-at-end', action='store_true', help='Move to the sleep pose when done')
    return parser.parse_args(argv)


def main(argv=None, robot=None) -> int:
    """Run the check and print the report; 0 when every check passed."""
    args = parse_args(argv)
    if robot is None:
        from sarl_ros.backends.widowx import WidowXRobot
        robot = WidowXRobot(robot_model=args.robot_model, control_hz=args.control_hz)
    try:
        report = run_check(robot, step_m=args.step_m, settle_s=args.settle_s, max_error_mm=args.max_error_mm)
        if args.sleep_at_end:
            robot.sleep()
    finally:
        robot.close()
    for line in report.lines:
        print(line)
    print('robot check: ' + ('OK' if report.ok else f'{len(report.failures)} problem(s)'))
    return 0 if report.ok else 1


if __name__ == '__main__':
    sys.exit(main())
