"""Low-dimensional state features of a simulated scene, and their fixed layout.

Layout (float32, FEATURE_DIM values): end-effector xyz [m] and roll pitch yaw [rad] (relative
to "pointing down"), gripper opening 0..1, holding anything 0/1, then for each of MAX_OBJECTS
task objects (in order of mention in the task text, zero-padded) its position relative to the
end effector [m] and a held flag, then MAX_SUBGOALS subgoal flags (zero-padded). Everything
comes from the current state, so the ROS featuriser and the environment agree. The simulated
VLM reads the held flags and relative positions through `decode`, as a VLM would read them off
an image.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sarl_ros.sim.robot import R_DOWN, matrix_to_rpy
from sarl_ros.sim.task_scenes import TaskSpec
from sarl_ros.sim.world import TabletopWorld

MAX_OBJECTS = 4
MAX_SUBGOALS = 4
PER_OBJECT = 4
_HOLDING = 7
_HEAD = 8
FEATURE_DIM = _HEAD + MAX_OBJECTS * PER_OBJECT + MAX_SUBGOALS


def state_features(world: TabletopWorld, task: TaskSpec) -> np.ndarray:
    """Return the feature vector of the world's current state for a task."""
    ee = world.ee_position()
    out = np.zeros(FEATURE_DIM, dtype=np.float32)
    out[0:3] = ee
    out[3:6] = matrix_to_rpy(world.ee_matrix() @ R_DOWN.T)
    out[6] = world.gripper_opening()
    out[_HOLDING] = float(world.holding is not None)
    for slot, role in enumerate(task.feature_objects[:MAX_OBJECTS]):
        name = world.roles.get(role, role)
        start = _HEAD + slot * PER_OBJECT
        out[start:start + 3] = world.object_position(name) - ee
        out[start + 3] = float(world.holding == name)
    for slot, (_, check) in enumerate(task.subgoals[:MAX_SUBGOALS]):
        out[_HEAD + MAX_OBJECTS * PER_OBJECT + slot] = float(check(world))
    return out


@dataclass(frozen=True)
class DecodedFeatures:
    holding_any: bool
    held_slot: int | None  # index into the task's mentioned objects
    subgoals: tuple[bool, ...]
    relative: tuple[np.ndarray, ...]


def decode(features: np.ndarray) -> DecodedFeatures:
    """Split a feature vector into the flags a proposer may use."""
    features = np.asarray(features, dtype=np.float32).reshape(-1)
    if features.shape != (FEATURE_DIM,):
        raise ValueError(f'expected {FEATURE_DIM} features, got {features.shape}')
    held_slot = None
    relative = []
    for slot in range(MAX_OBJECTS):
        start = _HEAD + slot * PER_OBJECT
        relative.append(features[start:start + 3].copy())
        if features[start + 3] > 0.5:
            held_slot = slot
    flags = tuple(bool(v > 0.5) for v in features[_HEAD + MAX_OBJECTS * PER_OBJECT:])
    return DecodedFeatures(bool(features[_HOLDING] > 0.5), held_slot, flags, tuple(relative))


class SimFeaturizer:
    """Privileged state (the labelled oracle ablation): reads the shared world, ignores image, proprio, history."""

    dim = FEATURE_DIM

    def __init__(self, world: TabletopWorld, task: TaskSpec):
        self.world, self.task = world, task

    def features(self, image, proprio, history=()) -> np.ndarray:
        with self.world.lock:
            return state_features(self.world, self.task)
