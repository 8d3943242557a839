"""Turning a VLA's end-effector delta into a safe pose target (pure numpy, no robot needed).

Conventions: poses are 4x4 homogeneous transforms of the gripper in the arm's base frame; the
gripper's approach axis is its own x axis (Interbotix's end-effector frame), so "pointing down"
is R @ x = -z. Euler angles are roll, pitch, yaw about the fixed x, y, z axes
(R = Rz(yaw) Ry(pitch) Rx(roll)), the convention of Interbotix's angle helpers and of Bridge's
`eulerAnglesToRotationMatrix`. A Bridge action's rotation delta is applied in the base frame
about the gripper: R_target = R(droll, dpitch, dyaw) @ R_current.

Why orientations are not bounded as Euler angles: Bridge works with the gripper pointing down,
pitch = pi/2, exactly where roll and yaw are no longer separable; clamping Euler angles there
turns a tiny pitch step into a large jump. Orientation limits are instead placed on a
swing-twist decomposition relative to a reference orientation (gripper down): the swing
(tilt of the approach axis away from the reference's) and the twist (rotation about the
approach axis). Both are well defined for every tilt below 180 degrees.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Gripper pointing straight down (approach axis x -> -z), no yaw: Bridge's DEFAULT_ROTATION.
GRIPPER_DOWN = ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (-1.0, 0.0, 0.0))
APPROACH_AXIS = np.array([1.0, 0.0, 0.0])  # in the gripper's own frame


@dataclass(frozen=True)
class Workspace:
    """Box the gripper may move in, and how far its orientation may leave the reference.

    The box is that of OpenVLA's Bridge evaluation on a WidowX 250s (x 0.10-0.45 m,
    y -0.20-0.25 m, z -0.01-0.30 m in the arm's base frame); measure your table and adjust.
    """

    low: tuple[float, float, float] = (0.10, -0.20, -0.01)
    high: tuple[float, float, float] = (0.45, 0.25, 0.30)
    reference_rotation: tuple = GRIPPER_DOWN
    max_tilt_rad: float = 1.2  # approach axis at most ~69 degrees away from straight down
    twist_range_rad: tuple[float, float] = (-1.57, 1.57)  # Bridge's yaw bounds about the vertical

    def __post_init__(self):
        if np.any(np.asarray(self.low) >= np.asarray(self.high)):
            raise ValueError(f'empty workspace box: low {self.low}, high {self.high}')
        if not 0.0 <= self.max_tilt_rad < np.pi or self.twist_range_rad[0] >= self.twist_range_rad[1]:
            raise ValueError(f'empty orientation range: max_tilt_rad {self.max_tilt_rad}, '
                             f'twist_range_rad {self.twist_range_rad}')
        reference = np.asarray(self.reference_rotation, dtype=np.float64)
        if reference.shape != (3, 3) or not np.allclose(reference @ reference.T, np.eye(3), atol=1e-6):
            raise ValueError('reference_rotation must be a 3x3 rotation matrix')


@dataclass(frozen=True)
class StepLimits:
    """The largest motion one control step may command, per axis as in Bridge's action space."""

    max_translation_m: float = 0.05  # each of dx, dy, dz (Bridge: [-0.05, 0.05])
    max_rotation_rad: float = 0.25  # each of droll, dpitch, dyaw (Bridge: [-0.25, 0.25])
    gripper_threshold: float = 0.5  # action[6] above: open, below: closed
    joint_margin_rad: float = 0.02  # keep this far inside the joint limits
    joint_speed_fraction: float = 0.8  # of each joint's velocity limit


@dataclass(frozen=True)
class StartPose:
    """Where episodes start: OpenVLA's Bridge evaluation start (gripper ~15 degrees from straight down)."""

    position: tuple[float, float, float] = (0.30, -0.09, 0.26)
    pitch_rad: float = 1.30  # pi/2 is straight down; OpenVLA's evaluation commands R = Ry(1.30)
    yaw_rad: float = 0.0

    def matrix(self) -> np.ndarray:
        """Return the pose as a 4x4 transform."""
        pose = np.eye(4)
        pose[:3, :3] = euler_to_matrix((0.0, self.pitch_rad, self.yaw_rad))
        pose[:3, 3] = self.position
        return pose


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


def axis_angle_matrix(axis, angle: float) -> np.ndarray:
    """Return the rotation by angle [rad] about a (not necessarily unit) axis (Rodrigues)."""
    axis = np.asarray(axis, dtype=np.float64)
    norm = np.linalg.norm(axis)
    if norm < 1e-12 or abs(angle) < 1e-15:
        return np.eye(3)
    x, y, z = axis / norm
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + np.sin(angle) * k + (1.0 - np.cos(angle)) * (k @ k)


def rotation_angle(rotation: np.ndarray) -> float:
    """Return the angle [rad] of a rotation matrix (its geodesic distance from the identity)."""
    r = np.asarray(rotation, dtype=np.float64)
    # atan2 of sine and cosine: accurate near 0 and pi, where arccos of the trace alone is not.
    sine = np.linalg.norm([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]]) / 2.0
    return float(np.arctan2(sine, (np.trace(r) - 1.0) / 2.0))


def swing_twist(rotation: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Return (swing axis, swing angle, twist angle) of rotation relative to reference.

    rotation = reference @ Swing(axis, swing) @ Twist(twist about the approach axis), all in
    the reference gripper's frame; the swing axis is perpendicular to the approach axis.
    """
    relative = np.asarray(reference, dtype=np.float64).T @ np.asarray(rotation, dtype=np.float64)
    approach = relative @ APPROACH_AXIS
    axis = np.cross(APPROACH_AXIS, approach)
    swing = float(np.arctan2(np.linalg.norm(axis), float(APPROACH_AXIS @ approach)))
    if np.linalg.norm(axis) < 1e-12:
        axis = np.array([0.0, 0.0, 1.0])  # no swing (or a half turn: out of any sane range anyway)
    twist_matrix = axis_angle_matrix(axis, swing).T @ relative
    twist = float(np.arctan2(twist_matrix[2, 1], twist_matrix[1, 1]))  # rotation about x
    return axis / np.linalg.norm(axis), swing, twist


def limit_orientation(rotation: np.ndarray, workspace: Workspace) -> tuple[np.ndarray, bool]:
    """Return the rotation with its tilt and twist from the reference clamped, and whether it was."""
    reference = np.asarray(workspace.reference_rotation, dtype=np.float64)
    axis, swing, twist = swing_twist(rotation, reference)
    bounded_swing = min(swing, workspace.max_tilt_rad)
    bounded_twist = float(np.clip(twist, *workspace.twist_range_rad))
    if bounded_swing == swing and bounded_twist == twist:
        return np.asarray(rotation, dtype=np.float64), False
    bounded = reference @ axis_angle_matrix(axis, bounded_swing) @ axis_angle_matrix(APPROACH_AXIS, bounded_twist)
    return bounded, True


def limit_step(delta6, limits: StepLimits) -> tuple[np.ndarray, bool]:
    """Return the delta clipped per axis to the step bounds (as Bridge clips its actions), and whether it was."""
    delta = np.asarray(delta6, dtype=np.float64)
    if delta.shape != (6,) or not np.all(np.isfinite(delta)):
        raise ValueError(f'expected 6 finite delta values, got {delta6!r}')
    bound = np.array([limits.max_translation_m] * 3 + [limits.max_rotation_rad] * 3)
    clipped = np.clip(delta, -bound, bound)
    return clipped, bool(np.any(clipped != delta))


def target_pose(current: np.ndarray, delta6, workspace: Workspace) -> tuple[np.ndarray, bool]:
    """Return the pose after applying delta6 to current, kept inside the workspace, and whether it was cut."""
    current = np.asarray(current, dtype=np.float64)
    delta = np.asarray(delta6, dtype=np.float64)
    position = current[:3, 3] + delta[:3]
    rotation = euler_to_matrix(delta[3:]) @ current[:3, :3]
    bounded_position = np.clip(position, workspace.low, workspace.high)
    bounded_rotation, rotation_clipped = limit_orientation(rotation, workspace)
    target = np.eye(4)
    target[:3, :3] = bounded_rotation
    target[:3, 3] = bounded_position
    return target, rotation_clipped or not np.array_equal(bounded_position, position)


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
