"""End-effector delta control of the simulated WidowX, like the Bridge V2 WidowX controller.

An action is 7-D: dx dy dz [m], droll dpitch dyaw [rad] and a gripper target (1 open, 0 closed).
Each control step (5 Hz) moves the commanded end-effector pose by the delta, clips it to the
workspace, solves inverse kinematics (damped least squares on the site Jacobian, joint limits
enforced) and lets the joint position actuators track it for 0.2 s of physics at 2 ms.
"""
from __future__ import annotations

import mujoco
import numpy as np

from sarl_ros.core.interfaces import ACTION_DIM, ApplyResult
from sarl_ros.sim.model import ARM_JOINTS, FINGER_RANGE, HOME_QPOS, JOINT_LIMITS, OBJECTS
from sarl_ros.sim.world import TabletopWorld

CONTROL_HZ = 5.0
MAX_TRANSLATION = 0.05  # [m] per control step and axis
MAX_ROTATION = 0.25  # [rad] per control step and axis
# Workspace of the end effector (fingertip centre), robot base frame [m]; like Bridge's bounds.
WORKSPACE_LOW = np.array([0.12, -0.21, 0.012])
WORKSPACE_HIGH = np.array([0.38, 0.21, 0.21])
RPY_LOW = np.array([-0.6, -0.6, -1.6])  # [rad] around "gripper pointing down"
RPY_HIGH = np.array([0.6, 0.6, 1.6])
IK_TOLERANCE = 0.01  # [m] residual above which the step is refused
_JOINT_LOW = np.array([JOINT_LIMITS[j][0] for j in ARM_JOINTS]) + 0.01
_JOINT_HIGH = np.array([JOINT_LIMITS[j][1] for j in ARM_JOINTS]) - 0.01
# Rotation taking the gripper frame (x along the fingers) to "fingers pointing down".
R_DOWN = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])


def rpy_to_matrix(rpy: np.ndarray) -> np.ndarray:
    """Return R = Rz(yaw) Ry(pitch) Rx(roll)."""
    roll, pitch, yaw = rpy
    cr, sr, cp, sp, cy, sy = np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    return np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                     [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                     [-sp, cp * sr, cp * cr]])


def matrix_to_rpy(matrix: np.ndarray) -> np.ndarray:
    """Return roll, pitch, yaw of R = Rz(yaw) Ry(pitch) Rx(roll)."""
    pitch = -np.arcsin(np.clip(matrix[2, 0], -1.0, 1.0))
    return np.array([np.arctan2(matrix[2, 1], matrix[2, 2]), pitch, np.arctan2(matrix[1, 0], matrix[0, 0])])


def _changed(clipped: np.ndarray, original: np.ndarray) -> bool:
    return bool(np.max(np.abs(clipped - original)) > 1e-9)


class SimRobot:
    """The simulated arm behind the Robot interface (sarl_ros.core.interfaces.Robot)."""

    control_hz = CONTROL_HZ

    def __init__(self, world: TabletopWorld):
        self.world = world
        self._ik_data = mujoco.MjData(world.model)
        self.target_pos = np.zeros(3)
        self.target_rpy = np.zeros(3)
        self.gripper_command = 1.0
        self.start_pos, self.start_rpy = self._home_pose()
        self.sync_target()

    # --- Robot interface -----------------------------------------------------------------
    def apply(self, action: np.ndarray) -> ApplyResult:
        """Execute one 7-D delta action for one control period."""
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != (ACTION_DIM,):
            raise ValueError(f'an action has {ACTION_DIM} values, got shape {action.shape}')
        if not np.all(np.isfinite(action)):
            raise ValueError(f'non-finite action rejected: {action.tolist()}')
        with self.world.lock:
            notes = []
            delta = np.clip(action[:3], -MAX_TRANSLATION, MAX_TRANSLATION)
            turn = np.clip(action[3:6], -MAX_ROTATION, MAX_ROTATION)
            if _changed(delta, action[:3]) or _changed(turn, action[3:6]):
                notes.append('rate limit')
            wanted_pos = self.target_pos + delta
            pos = np.clip(wanted_pos, WORKSPACE_LOW, WORKSPACE_HIGH)
            wanted_rpy = self.target_rpy + turn
            rpy = np.clip(wanted_rpy, RPY_LOW, RPY_HIGH)
            if _changed(pos, wanted_pos) or _changed(rpy, wanted_rpy):
                notes.append('workspace bound')
            grip = float(np.clip(action[6], 0.0, 1.0))
            if grip != action[6]:
                notes.append('gripper range')
            result = ApplyResult(clipped=bool(notes), message=', '.join(notes))
            if not _changed(pos, self.target_pos) and not _changed(rpy, self.target_rpy):
                joints, residual = self.world.data.ctrl[:len(ARM_JOINTS)].copy(), 0.0  # holding still
            else:
                joints, residual = self.solve_ik(pos, rpy)
            if residual > IK_TOLERANCE:
                result.ok = False
                result.message = ', '.join(notes + [f'IK residual {residual * 1000:.0f} mm: arm step skipped'])
            else:
                self.target_pos, self.target_rpy = pos, rpy
                self.world.data.ctrl[:len(ARM_JOINTS)] = joints
            self._command_gripper(grip)
            self.world.advance(1.0 / CONTROL_HZ)
            self.world.control_steps += 1
            return result

    def proprio(self) -> np.ndarray:
        """Return x y z [m], roll pitch yaw [rad] of the end effector and the gripper opening 0..1."""
        with self.world.lock:
            rpy = matrix_to_rpy(self.world.ee_matrix() @ R_DOWN.T)
            return np.concatenate([self.world.ee_position(), rpy, [self.world.gripper_opening()]])

    def joint_state(self) -> np.ndarray:
        """Return what the real WidowX driver reports: the six joint angles [rad] and the gripper opening 0..1."""
        with self.world.lock:
            return np.concatenate([self.world.arm_joint_positions(), [self.world.gripper_opening()]])

    def ee_state(self) -> np.ndarray:
        """Return x y z [m], roll pitch yaw [rad] about gripper-down and the gripper opening 0..1 (= proprio)."""
        return self.proprio()

    def start_pose_action(self) -> np.ndarray | None:
        """Return the next step of the arm's own controller towards the start pose, or None once there.

        The start pose is the end effector's at the ready pose (home()); each step moves the commanded
        pose by at most the action bounds (5 cm, 0.25 rad per axis) and keeps the gripper as commanded,
        so a held object stays held and nothing else in the scene is reset.
        """
        with self.world.lock:
            delta = np.concatenate([self.start_pos - self.target_pos, self.start_rpy - self.target_rpy])
            if np.max(np.abs(delta[:3])) < 1e-3 and np.max(np.abs(delta[3:])) < 1e-2:
                return None
            step = np.concatenate([np.clip(delta[:3], -MAX_TRANSLATION, MAX_TRANSLATION),
                                   np.clip(delta[3:], -MAX_ROTATION, MAX_ROTATION)])
            return np.concatenate([step, [self.gripper_command]])

    def home(self) -> None:
        """Move the arm to its ready pose with the gripper open (instantly, as a scene reset does)."""
        with self.world.lock:
            self.world.release()
            data = self.world.data
            data.qpos[self.world.arm_qpos] = HOME_QPOS
            data.qvel[self.world.arm_dofs] = 0.0
            data.ctrl[:len(ARM_JOINTS)] = HOME_QPOS
            data.qpos[self.world.finger_qpos] = FINGER_RANGE[1]
            data.ctrl[len(ARM_JOINTS):] = FINGER_RANGE[1]
            mujoco.mj_forward(self.world.model, data)
            self.sync_target()

    def halt(self) -> None:
        """Hold the current joint positions."""
        with self.world.lock:
            self.world.data.ctrl[:len(ARM_JOINTS)] = self.world.arm_joint_positions()
            self.sync_target()

    # --- helpers -------------------------------------------------------------------------
    def _home_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the end effector's position and rpy at the ready pose (forward kinematics, scene untouched)."""
        data = self._ik_data
        data.qpos[:] = self.world.data.qpos
        data.qpos[self.world.arm_qpos] = HOME_QPOS
        mujoco.mj_kinematics(self.world.model, data)
        site = self.world.ee_site
        rotation = data.site_xmat[site].reshape(3, 3) @ R_DOWN.T
        return data.site_xpos[site].copy(), matrix_to_rpy(rotation)

    def sync_target(self) -> None:
        """Make the commanded pose the measured one (after a reset or a halt)."""
        self.target_pos = self.world.ee_position()
        self.target_rpy = matrix_to_rpy(self.world.ee_matrix() @ R_DOWN.T)
        self.gripper_command = 1.0 if self.world.holding is None else 0.0

    def solve_ik(self, pos: np.ndarray, rpy: np.ndarray, iterations: int = 40) -> tuple[np.ndarray, float]:
        """Return joint targets reaching the pose (within joint limits) and the position residual [m]."""
        model, data = self.world.model, self._ik_data
        data.qpos[:] = self.world.data.qpos
        q = self.world.data.ctrl[:len(ARM_JOINTS)].copy()
        target_rot = rpy_to_matrix(rpy) @ R_DOWN
        target_quat, current_quat, inverse, error_quat = np.zeros(4), np.zeros(4), np.zeros(4), np.zeros(4)
        mujoco.mju_mat2Quat(target_quat, target_rot.reshape(-1))
        jacp, jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
        rot_error = np.zeros(3)
        site, dofs = self.world.ee_site, self.world.arm_dofs
        residual = np.inf
        for _ in range(iterations):
            data.qpos[self.world.arm_qpos] = q
            mujoco.mj_kinematics(model, data)
            mujoco.mj_comPos(model, data)
            pos_error = pos - data.site_xpos[site]
            mujoco.mju_mat2Quat(current_quat, data.site_xmat[site])
            mujoco.mju_negQuat(inverse, current_quat)
            mujoco.mju_mulQuat(error_quat, target_quat, inverse)
            mujoco.mju_quat2Vel(rot_error, error_quat, 1.0)
            residual = float(np.linalg.norm(pos_error))
            if residual < 2e-4 and np.linalg.norm(rot_error) < 2e-3:
                break
            mujoco.mj_jacSite(model, data, jacp, jacr, site)
            # Orientation is weighted lower: near the workspace edge position matters more.
            jac = np.vstack([jacp[:, dofs], 0.3 * jacr[:, dofs]])
            error = np.concatenate([pos_error, 0.3 * rot_error])
            step = jac.T @ np.linalg.solve(jac @ jac.T + 1e-4 * np.eye(6), error)
            q = np.clip(q + np.clip(step, -0.4, 0.4), _JOINT_LOW, _JOINT_HIGH)
        return q, residual

    def _command_gripper(self, grip: float) -> None:
        world = self.world
        self.gripper_command = grip
        lo, hi = FINGER_RANGE
        if grip < 0.5:
            # Only open fingers can close around an object: a closed gripper pushes it away.
            if world.holding is None and world.gripper_opening() > 0.5:
                name = world.object_between_fingers()
                if name is not None:
                    world.attach(name)
            finger = lo if world.holding is None else max(lo, OBJECTS[world.holding].half_width)
        else:
            if world.holding is not None:
                world.release()
            finger = lo + grip * (hi - lo)
        world.data.ctrl[len(ARM_JOINTS):] = finger
