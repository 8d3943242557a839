"""Turning a VLA's end-effector delta into a safe pose target (pure numpy, no robot needed).

Conventions: poses are 4x4 homogeneous transforms of the gripper in the arm's base frame;
Euler angles are roll, pitch, yaw about the fixed x, y, z axes (R = Rz(yaw) Ry(pitch) Rx(roll)),
the convention of Interbotix's angle helpers. A Bridge action's rotation delta is applied
in the base frame: R_target = R(droll, dpitch, dyaw) @ R_current.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Workspace:
    """Box the gripper may move in, and the orientations it may take (defaults: a table in front of a WidowX 250s)."""

    low: tuple[float, float, float] = (0.12, -0.30, 0.03)  # x y z [m] in the arm's base frame
    high: tuple[float, float, float] = (0.45, 0.30, 0.35)
    rpy_low: tuple[float, float, float] = (-1.2, -0.6, -1.8)  # roll pitch yaw [rad]
    rpy_high: tuple[float, float, float] = (1.2, 1.65, 1.8)

    def __post_init__(self):
        if np.any(np.asarray(self.low) >= np.asarray(self.high)) or \
                np.any(np.asarray(self.rpy_low) >= np.asarray(self.rpy_high)):
            raise ValueError(f'empty workspace: {self}')


@dataclass(frozen=True)
class StepLimits:
    """The largest motion one control step may command."""

    max_translation_m: float = 0.05  # Bridge deltas are mostly below 2 cm per step
    max_rotation_rad: float = 0.25
    gripper_threshold: float = 0.5  # action[6] above: open, below: closed
    joint_margin_rad: float = 0.02  # keep this far inside the joint limits
    joint_speed_fraction: float = 0.8  # of each joint's velocity limit


@dataclass
class JointLimits:
    lower: np.ndarray
    upper: np.ndarray
    velocity: np.ndarray
    names: tuple[str, ...] = field(default_factory=tuple)


def euler_to_matrix(rpy) -> np.ndarray:
    """Return the rotation matrix Rz(yaw) @ Ry(pitch) @ Rx(roll)."""
    roll, pitch, yaw = (float(a) for a in rpy)
    cr, sr, cp, sp, cy, sy = np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    return np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                     [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                     [-sp, cp * sr, cp * cr]])


def matrix_to_euler(rotation: np.ndarray) -> np.ndarray:
    """Return (roll, pitch, yaw) of a rotation matrix (inverse of euler_to_matrix away from pitch = +-pi/2)."""
    r = np.asarray(rotation, dtype=np.float64)
    pitch = np.arcsin(np.clip(-r[2, 0], -1.0, 1.0))
    if abs(np.cos(pitch)) < 1e-6:  # gimbal lock: put the whole rotation about z into roll
        return np.array([np.arctan2(-r[1, 2], r[1, 1]), pitch, 0.0])
    return np.array([np.arctan2(r[2, 1], r[2, 2]), pitch, np.arctan2(r[1, 0], r[0, 0])])


def limit_step(delta6, limits: StepLimits) -> tuple[np.ndarray, bool]:
    """Return the delta scaled down to the per-step translation/rotation bounds, and whether it was."""
    delta = np.asarray(delta6, dtype=np.float64).copy()
    if delta.shape != (6,) or not np.all(np.isfinite(delta)):
        raise ValueError(f'expected 6 finite delta values, got {delta6!r}')
    clipped = False
    for part, bound in ((slice(0, 3), limits.max_translation_m), (slice(3, 6), limits.max_rotation_rad)):
        norm = float(np.linalg.norm(delta[part]))
        if norm > bound:
            delta[part] *= bound / norm  # keep the direction, shorten the step
            clipped = True
    return delta, clipped


def target_pose(current: np.ndarray, delta6, workspace: Workspace) -> tuple[np.ndarray, bool]:
    """Return the pose after applying delta6 to current, clamped into the workspace, and whether it was."""
    current = np.asarray(current, dtype=np.float64)
    delta = np.asarray(delta6, dtype=np.float64)
    position = current[:3, 3] + delta[:3]
    rpy = matrix_to_euler(euler_to_matrix(delta[3:]) @ current[:3, :3])
    bounded_position = np.clip(position, workspace.low, workspace.high)
    bounded_rpy = np.clip(rpy, workspace.rpy_low, workspace.rpy_high)
    target = np.eye(4)
    target[:3, :3] = euler_to_matrix(bounded_rpy)
    target[:3, 3] = bounded_position
    clipped = not (np.allclose(bounded_position, position) and np.allclose(bounded_rpy, rpy))
    return target, clipped


def check_joint_motion(target, current, limits: JointLimits, moving_time_s: float,
                       step: StepLimits) -> tuple[bool, str]:
    """Return (ok, reason): the joint target lies inside the limits (with margin) and is reached slowly enough."""
    target, current = np.asarray(target, dtype=np.float64), np.asarray(current, dtype=np.float64)
    names = limits.names or tuple(f'joint{i}' for i in range(len(target)))
    low, high = limits.lower + step.joint_margin_rad, limits.upper - step.joint_margin_rad
    for i in np.flatnonzero((target < low) | (target > high)):
        return False, f'{names[i]} target {target[i]:.3f} rad outside [{low[i]:.3f}, {high[i]:.3f}]'
    speed = np.abs(target - current) / max(moving_time_s, 1e-3)
    allowed = limits.velocity * step.joint_speed_fraction
    for i in np.flatnonzero(speed > allowed):
        return False, f'{names[i]} would move at {speed[i]:.2f} rad/s, limit {allowed[i]:.2f}'
    return True, ''


def gripper_decision(value: float, threshold: float, is_open: bool | None) -> str | None:
    """Return 'open', 'close', or None when the gripper is already where the action wants it."""
    want_open = float(value) > threshold
    if is_open is not None and want_open == is_open:
        return None
    return 'open' if want_open else 'close'
