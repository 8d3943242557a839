"""A point robot reaching a goal with one prompt: a base policy that is nearly right, for dsrl and residual.

The base VLA plans a straight move (one chunk of CHUNK control steps) to goal + BIAS + NOISE_SCALE * w,
with w its latent noise (from the caller, else drawn from N(0, I)): un-steered it succeeds ~20-30 %
(within RADIUS of the goal); w = -BIAS / NOISE_SCALE, or a residual of -BIAS / CHUNK per step, solves it.
"""
from __future__ import annotations

import numpy as np

from sarl_ros.core.interfaces import ApplyResult
from sarl_ros.core.executor import execute_prompt
from sarl_ros.core.mdp import Observation, StepOutcome

GOAL = np.array([0.3, 0.2])
BIAS = np.array([0.07, 0.0])
NOISE_SCALE = 0.03
RADIUS = 0.05
CHUNK = 4
TASK = 'reach the goal'


class PointRobot:
    def __init__(self):
        self.pos = np.zeros(2)

    def apply(self, action) -> ApplyResult:
        self.pos = self.pos + np.clip(np.asarray(action)[:2], -0.5, 0.5)
        return ApplyResult()

    def proprio(self) -> np.ndarray:
        return np.array([self.pos[0], self.pos[1], 0.0, 0.0, 0.0, 0.0, 1.0])


class NoisyReacher:
    """A flow-policy stand-in: its latent noise decides where it aims."""

    accepts_noise = True

    def __init__(self, seed: int, chunk: int = CHUNK):
        self.rng = np.random.default_rng(seed)
        self.chunk = chunk

    def reset(self):
        self._plan, self._done = None, False

    def act(self, image, instruction, proprio, noise=None):
        if self._plan is None:
            w = self.rng.standard_normal(2) if noise is None else np.asarray(noise)[:2]
            aim = GOAL + BIAS + NOISE_SCALE * w
            self._plan = [(aim - np.asarray(proprio)[:2]) / self.chunk] * self.chunk
        action = np.zeros(7)
        action[:2] = self._plan.pop(0)
        action[6] = 1.0
        self._done = not self._plan
        return action

    def skill_done(self):
        return self._done


class PointReachEnv:
    """A SemanticEnv of one decision: the task prompt runs one chunk; success within RADIUS of the goal."""

    task = TASK
    max_decisions = 1

    def __init__(self, seed: int = 0, chunk: int = CHUNK):
        self.robot = PointRobot()
        self.vla = NoisyReacher(seed, chunk)
        self.chunk = chunk
        self.steering = None

    def attach_steering(self, steering):
        self.steering = steering

    def reset(self, seed=None):
        rng = np.random.default_rng(seed)
        self.robot.pos = rng.uniform(-0.1, 0.1, 2)
        self.vla.rng = np.random.default_rng(None if seed is None else seed + 1)
        return self._observe()

    def step(self, prompt):
        run = execute_prompt(self.robot, None, self.vla, prompt, self.chunk, steering=self.steering)
        success = bool(np.linalg.norm(self.robot.pos - GOAL) < RADIUS)
        return StepOutcome(self._observe(), float(success), terminal=True, truncated=False, success=success,
                           control_steps=run.control_steps)

    def _observe(self):
        return Observation(features=np.concatenate([GOAL - self.robot.pos, self.robot.pos]).astype(np.float32))


class TaskOnlyProposer:
    def propose(self, observation, task, history, max_candidates):
        return []
