"""The Interbotix WidowX 250s through interbotix_xs_modules (the Interbotix ROS 2 Python API).

The arm driver (xs_sdk, from interbotix_xsarm_control's xsarm_control.launch.py) must be
running; this adapter only converts actions (sarl_ros.backends.arm_safety) and calls the
public API: arm.set_ee_pose_matrix (IK only), arm.set_joint_positions, arm.get_ee_pose[_command],
arm.go_to_home_pose / go_to_sleep_pose, gripper.grasp / release, core.joint_states, and
interbotix_common_modules' robot_startup / robot_shutdown.

In ROS 2 the Interbotix node is spun only by robot_startup(): before it, core.joint_states is
a snapshot, the gripper's 20 ms limit timer never runs and get_ee_pose() is stale. The
adapter therefore starts the API itself and refuses to run on joint states that do not move.
"""
from __future__ import annotations

import atexit
import logging
import threading
import time

import numpy as np

from sarl_ros.backends.arm_safety import (JointLimits, StartPose, StepLimits, Workspace, check_joint_motion,
                                          gripper_decision, limit_step, matrix_to_euler, rotation_angle,
                                          target_pose)
from sarl_ros.core.interfaces import ACTION_DIM, ApplyResult

log = logging.getLogger(__name__)

INSTALL_HINT = ('robot:=widowx needs the Interbotix ROS 2 packages (interbotix_xs_modules, '
                'interbotix_xsarm_control): install them with Interbotix\'s xsarm_amd64_install.sh or build '
                'interbotix_ros_manipulators from source, then source that workspace before this one')


def connect_interbotix(robot_model: str = 'wx250s', group_name: str = 'arm', gripper_name: str = 'gripper',
                       moving_time: float = 0.25, accel_time: float = 0.1):
    """Return (InterbotixManipulatorXS, the module with robot_startup/robot_shutdown).

    ImportError naming what to install when the Interbotix packages are missing.
    """
    try:
        from interbotix_common_modules.common_robot import robot as lifecycle
        from interbotix_xs_modules.xs_robot.arm import InterbotixManipulatorXS
    except ImportError as exc:
        raise ImportError(f'{INSTALL_HINT} ({exc})') from exc
    bot = InterbotixManipulatorXS(robot_model=robot_model, group_name=group_name, gripper_name=gripper_name,
                                  moving_time=moving_time, accel_time=accel_time)
    return bot, lifecycle


class WidowXRobot:
    """The Robot interface over an Interbotix manipulator (or any object with the same small surface).

    `bot` and `lifecycle` stand for InterbotixManipulatorXS and interbotix_common_modules'
    common_robot.robot module; both are created here when bot is None. A caller passing its own
    bot without a lifecycle has started the API already.
    """

    def __init__(self, robot_model: str = 'wx250s', group_name: str = 'arm', gripper_name: str = 'gripper',
                 control_hz: float = 5.0, moving_time_s: float | None = None, accel_time_s: float | None = None,
                 workspace: Workspace | None = None, step_limits: StepLimits | None = None,
                 start_pose: StartPose | None = None, pose_source: str = 'command', gripper_delay_s: float = 0.0,
                 home_moving_time_s: float = 2.0, live_state_timeout_s: float = 2.0, bot=None, lifecycle=None):
        if control_hz <= 0:
            raise ValueError(f'control_hz must be positive, got {control_hz}')
        if pose_source not in ('command', 'measured'):
            raise ValueError(f"pose_source must be 'command' or 'measured', got {pose_source!r}")
        self.control_hz = float(control_hz)
        # Bridge's timing: at 5 Hz each 0.2 s step commands a 0.25 s move with 0.1 s ramps, so
        # consecutive moves overlap and the arm does not stop between steps.
        self.moving_time_s = float(moving_time_s or 1.25 / self.control_hz)
        self.accel_time_s = min(float(accel_time_s or 0.5 / self.control_hz), self.moving_time_s / 2)
        self.workspace = workspace or Workspace()
        self.limits = step_limits or StepLimits()
        self.start_pose = start_pose or StartPose()
        self.pose_source = pose_source
        # 0: the gripper command returns at once and the API's 20 ms timer stops the motor at its
        # limit (Bridge does not wait for the gripper either).
        self.gripper_delay_s = float(gripper_delay_s)
        # Home and sleep can be far from the current pose: move there slowly, not at the step speed.
        self.home_moving_time_s = float(home_moving_time_s)
        if bot is None:
            bot, lifecycle = connect_interbotix(robot_model, group_name, gripper_name, self.moving_time_s,
                                                self.accel_time_s)
        self.bot = bot
        self._lifecycle = lifecycle
        self._started = False
        if lifecycle is not None:
            lifecycle.robot_startup()  # spins the Interbotix node: joint states, gripper timer
            self._started = True
            # The executor node has no hook for its backends at exit: shut the API down then at the latest.
            atexit.register(self.close)
        require_live_joint_states(self.bot, live_state_timeout_s)
        info = self.bot.arm.group_info
        self.joint_names = tuple(info.joint_names)
        self.joint_limits = JointLimits(lower=np.asarray(info.joint_lower_limits, dtype=np.float64),
                                        upper=np.asarray(info.joint_upper_limits, dtype=np.float64),
                                        velocity=np.asarray(info.joint_velocity_limits, dtype=np.float64),
                                        names=self.joint_names)
        self.gripper_open: bool | None = None  # unknown until the first command
        self._lock = threading.Lock()  # apply() and halt() come from different threads
        self._halted = threading.Event()
        self.skipped = 0

    # --- Robot interface ------------------------------------------------------------------
    def apply(self, action: np.ndarray) -> ApplyResult:
        """Move by one VLA action; ok=False (and no motion) when IK or the joint guard refuses it."""
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (ACTION_DIM,) or not np.all(np.isfinite(action)):
            raise ValueError(f'expected a finite {ACTION_DIM}-D action, got {action!r}')
        started = time.monotonic()
        result = self._apply_locked(action)
        # The driver moves asynchronously: pace the loop at control_hz (an emergency stop ends the wait).
        remaining = 1.0 / self.control_hz - (time.monotonic() - started)
        if result.ok and remaining > 0:
            self._halted.wait(remaining)
        return result

    def _apply_locked(self, action: np.ndarray) -> ApplyResult:
        with self._lock:
            if self._halted.is_set():
                return ApplyResult(ok=False, message='halted by emergency stop; reset (home) to resume')
            delta, step_clipped = limit_step(action[:6], self.limits)
            current_pose = (self.bot.arm.get_ee_pose_command() if self.pose_source == 'command'
                            else self.bot.arm.get_ee_pose())
            target, bound_clipped = target_pose(current_pose, delta, self.workspace)
            clipped = step_clipped or bound_clipped
            problem = self._move_to(target, self.moving_time_s, self.accel_time_s, blocking=False)
            if problem:
                return self._skip(clipped, problem)
            self._command_gripper(action[6])
        return ApplyResult(clipped=clipped)

    def proprio(self) -> np.ndarray:
        """Return the measured arm joint positions [rad] followed by the gripper state (1 open, 0 closed)."""
        gripper = 0.5 if self.gripper_open is None else float(self.gripper_open)
        return np.asarray([*self.measured_joints(), gripper], dtype=np.float32)

    def joint_state(self) -> np.ndarray:
        """Return what Q_sem's observable state reads: here the same as proprio() (joints + gripper)."""
        return self.proprio()

    def ee_state(self) -> np.ndarray:
        """Return the measured end effector x y z [m], roll pitch yaw [rad] (base frame) and gripper (1 open).

        Bridge v2's state layout (vla:=openpi reads it; absolute actions are turned into deltas from it).
        """
        pose = np.asarray(self.bot.arm.get_ee_pose(), dtype=np.float64)
        gripper = 0.5 if self.gripper_open is None else float(self.gripper_open)
        return np.concatenate([pose[:3, 3], matrix_to_euler(pose[:3, :3]), [gripper]])

    def start_pose_action(self) -> np.ndarray | None:
        """Return the next bounded step towards the start pose (Bridge's), or None once within 3 mm and 0.02 rad.

        The arm's own controller for "return to the start pose" (core.executor.return_to_start): each
        step goes through apply() like a VLA action (step bounds, workspace, IK, joint guard, pacing,
        emergency stop); the gripper is kept as it is, so a held object stays held.
        """
        current = np.asarray(self.bot.arm.get_ee_pose_command() if self.pose_source == 'command'
                             else self.bot.arm.get_ee_pose(), dtype=np.float64)
        target = self.start_pose.matrix()
        translation = target[:3, 3] - current[:3, 3]
        rotation = target[:3, :3] @ current[:3, :3].T  # R_target = R_delta @ R_current, as target_pose
        if np.linalg.norm(translation) < 0.003 and rotation_angle(rotation) < 0.02:
            return None
        step_t = np.clip(translation, -self.limits.max_translation_m, self.limits.max_translation_m)
        step_r = np.clip(matrix_to_euler(rotation), -self.limits.max_rotation_rad, self.limits.max_rotation_rad)
        gripper = 0.0 if self.gripper_open is False else 1.0
        return np.concatenate([step_t, step_r, [gripper]])

    def measured_joints(self) -> np.ndarray:
        """Return the arm's joint positions from the driver's latest joint states."""
        core = self.bot.core
        with core.js_mutex:
            states = core.joint_states
            return np.asarray([states.position[core.js_index_map[name]] for name in self.joint_names])

    def home(self) -> None:
        """Go to the start pose (Bridge/OpenVLA evaluation) with the gripper open; clears a latched halt."""
        with self._lock:
            self._halted.clear()
            problem = self._move_to(self.start_pose.matrix(), self.home_moving_time_s, self._slow_accel(),
                                    blocking=True, check_speed=False)
            if problem:
                raise RuntimeError(f'cannot reach the start pose {self.start_pose}: {problem}')
            self._command_gripper(1.0, force=True)

    def sleep(self) -> None:
        """Move to the rest pose, e.g. before switching the driver off."""
        with self._lock:
            self.bot.arm.go_to_home_pose(moving_time=self.home_moving_time_s, accel_time=self._slow_accel(),
                                         blocking=True)
            self.bot.arm.go_to_sleep_pose(moving_time=self.home_moving_time_s, accel_time=self._slow_accel(),
                                          blocking=True)

    def halt(self) -> None:
        """Stop at once: hold the measured joint positions and refuse actions until home()."""
        self._halted.set()
        try:  # not under the lock: a blocked apply() must not delay the stop
            measured = self.measured_joints().astype(float).tolist()
            # The step timing, unchanged: a new timing would first cost register writes on the driver.
            self.bot.arm.set_joint_positions(measured, moving_time=self.moving_time_s,
                                             accel_time=self.accel_time_s, blocking=False)
        except Exception:  # noqa: BLE001 - the stop is latched even if holding the pose failed
            log.exception('could not command the hold position during the emergency stop')

    def close(self) -> None:
        """Stop the Interbotix API (robot_shutdown); it also shuts this process's rclpy context down."""
        if self._started:
            self._started = False
            atexit.unregister(self.close)
            try:
                self._lifecycle.robot_shutdown()
            except Exception as exc:  # noqa: BLE001 - e.g. rclpy already shut down by the node's own exit
                log.info('Interbotix shutdown: %s', exc)

    # --- helpers --------------------------------------------------------------------------
    def _move_to(self, target: np.ndarray, moving_time: float, accel_time: float, blocking: bool,
                 check_speed: bool = True) -> str:
        """Command a pose through IK and the joint guard; return '' or why nothing was commanded."""
        current_joints = np.asarray(self.bot.arm.get_joint_commands(), dtype=np.float64)
        joints, solved = self.bot.arm.set_ee_pose_matrix(target, custom_guess=list(current_joints), execute=False)
        if not solved:  # seeded from the current joints first; then the driver's own guesses
            joints, solved = self.bot.arm.set_ee_pose_matrix(target, execute=False)
        if not solved:
            return f'IK found no solution for x,y,z={np.round(target[:3, 3], 3).tolist()}'
        ok, reason = check_joint_motion(joints, current_joints, self.joint_limits,
                                        moving_time if check_speed else float('inf'), self.limits)
        if not ok:
            return f'joint guard: {reason}'
        # The API judges speed with the moving time set before the call: set it first (a no-op when
        # unchanged, two register writes when it changes).
        self.bot.arm.set_trajectory_time(moving_time=moving_time, accel_time=accel_time)
        accepted = self.bot.arm.set_joint_positions(list(np.asarray(joints, dtype=float)), moving_time=moving_time,
                                                    accel_time=accel_time, blocking=blocking)
        if accepted is False:  # the driver's own limit check refused it
            return 'the Interbotix driver refused the joint target (limits)'
        return ''

    def _slow_accel(self) -> float:
        return min(0.3, self.home_moving_time_s / 2)

    def _skip(self, clipped: bool, message: str) -> ApplyResult:
        self.skipped += 1
        log.warning('WidowX step skipped: %s', message)
        return ApplyResult(clipped=clipped, ok=False, message=message)

    def _command_gripper(self, value: float, force: bool = False) -> None:
        decision = gripper_decision(value, self.limits.gripper_threshold, None if force else self.gripper_open)
        # The API drops a command when the finger already reads at that limit: right with live
        # joint states (hence robot_startup), a lost release with a stale snapshot.
        if decision == 'open':
            self.bot.gripper.release(self.gripper_delay_s)
            self.gripper_open = True
        elif decision == 'close':
            self.bot.gripper.grasp(self.gripper_delay_s)
            self.gripper_open = False


def require_live_joint_states(bot, timeout_s: float) -> None:
    """Return once the driver's joint states change (a new message arrived); RuntimeError after timeout_s.

    The Interbotix core replaces core.joint_states with every message its subscription receives,
    which happens only while its node is spun (robot_startup()).
    """
    core = bot.core
    first = core.joint_states
    deadline = time.monotonic() + timeout_s
    while core.joint_states is first:
        if time.monotonic() > deadline:
            raise RuntimeError(f'the Interbotix joint states did not update within {timeout_s} s: is the arm '
                               'driver (xsarm_control.launch.py) running, and was robot_startup() called?')
        time.sleep(0.01)
