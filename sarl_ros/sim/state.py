"""Q_sem's state on the simulator, one definition for the in-process env and the ROS graph's stack.

Modes:
  'observable'  what the real robot has: ObservableFeaturizer (the class the WidowX executor builds) over
                the joint state, a small plain render of the camera and the prompts executed this episode;
  'oracle'      privileged simulator state (sarl_ros.sim.privileged_features: positions, held flags, subgoal flags):
                the legacy tasks' default (their simulated VLM reads it) and the labelled oracle ablation.
A task's default is observable for the paper and held-out paper-style tasks, oracle for the legacy set.
"""
from __future__ import annotations

import numpy as np

from sarl_ros.core.perception.observable_features import ObservableFeaturizer
from sarl_ros.sim.privileged_features import SimFeaturizer
from sarl_ros.sim.task_scenes import TaskSpec
from sarl_ros.sim.world import TabletopWorld

STATE_MODES = ('observable', 'oracle')
# Task groups whose headline state is the observable one (the legacy set keeps privileged state).
OBSERVABLE_GROUPS = ('paper', 'held_out_paper')
FEATURE_IMAGE_SIDE = 64  # [px] the render the observable state is computed from: one per decision


def default_state_mode(spec: TaskSpec) -> str:
    """Return the state a task runs on unless told otherwise: observable for paper tasks, oracle for legacy ones."""
    return 'observable' if spec.group in OBSERVABLE_GROUPS else 'oracle'


def check_state_mode(mode: str) -> str:
    if mode not in STATE_MODES:
        raise ValueError(f'unknown state mode {mode!r}; choose one of {", ".join(STATE_MODES)}')
    return mode


class StateCamera:
    """The Camera the observable featurizer reads: a small render without overlays, whatever size people watch."""

    def __init__(self, world: TabletopWorld, side: int = FEATURE_IMAGE_SIDE):
        self.world, self.side = world, int(side)

    def read(self) -> np.ndarray:
        return self.world.render(self.side, self.side, plain=True)


def make_state_featurizer(mode: str, world: TabletopWorld, spec: TaskSpec):
    """Return the StateFeaturizer of a state mode (the observable one reads no simulator state)."""
    if check_state_mode(mode) == 'observable':
        return ObservableFeaturizer()
    return SimFeaturizer(world, spec)
