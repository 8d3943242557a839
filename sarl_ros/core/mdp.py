"""Types of the semantic MDP: the action is a language command for the VLA."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

SOURCE_VLM = 'vlm'
SOURCE_TASK = 'task'
SOURCE_MEMORY = 'memory'
SOURCE_OPERATOR = 'operator'
# A command the arm's own controller runs, not the VLA (core.executor.RETURN_TO_START_PROMPT).
SOURCE_CONTROLLER = 'controller'

# The command the arm's own controller runs, no VLA: back to the start pose (on the WidowX, Bridge's), the
# scene left as it is and the gripper kept as it is. The SARL paper gives its simulated agent such a
# controller to chain skills; here it is one more semantic action a proposer may offer
# (core.proposals.WithReturnToStart) and the executor runs (core.executor.return_to_start).
RETURN_TO_START_PROMPT = 'return to the start pose'


@dataclass(frozen=True)
class Candidate:
    """A prompt the policy may choose, with who proposed it."""

    prompt: str
    source: str = SOURCE_VLM
    # The proposer's own preference (higher is better); only the in-context baseline reads it.
    vlm_score: float = 0.0


@dataclass
class Observation:
    """What a policy sees at a decision step."""

    # Float32 state vector for Q_sem: low-dimensional simulator state, proprioception,
    # or an image embedding, depending on the featuriser.
    features: np.ndarray
    image: np.ndarray | None = None  # HxWx3 uint8 RGB, when rendered
    info: dict = field(default_factory=dict)


@dataclass
class StepOutcome:
    """What the environment returns after the VLA executed one prompt."""

    observation: Observation
    reward: float
    terminal: bool  # the task ended: success or unrecoverable failure
    truncated: bool  # the decision budget ran out
    success: bool
    control_steps: int  # VLA control steps spent on this prompt
    info: dict = field(default_factory=dict)
    failed_for_good: bool = False  # the task can no longer succeed (terminal without success)

    @property
    def done(self) -> bool:
        return self.terminal or self.truncated


SUCCESS_REWARD = 1.0


def judge_step(success: bool, failed_for_good: bool) -> tuple[float, bool]:
    """Return (reward, terminal) of a decision step from the task's verdict.

    The one rule of the benchmark and the robot: a sparse reward at success, and the episode
    ends at success or when the task can no longer succeed. Truncation at the decision budget
    is the episode loop's (sarl_ros.core.episode_loop.run_episode).
    """
    success = bool(success)
    return (SUCCESS_REWARD if success else 0.0), success or bool(failed_for_good)


class StepSkipped(RuntimeError):
    """Raised by SemanticEnv.step when the prompt did not run (to the end): nothing to learn from it.

    `observation` is the state after a partial execution (the arm may have moved part of the
    way), so the next decision starts from where the robot is; None when nothing moved.
    """

    def __init__(self, reason: str = '', observation: Observation | None = None):
        super().__init__(reason)
        self.observation = observation


class EpisodeAborted(RuntimeError):
    """Raised by SemanticEnv.reset/step when the episode must stop now (an operator asked)."""


class SemanticEnv(Protocol):
    """An environment whose actions are prompts executed by a VLA."""

    task: str
    max_decisions: int

    def reset(self, seed: int | None = None) -> Observation: ...

    def step(self, prompt: str) -> StepOutcome: ...


class PromptProposer(Protocol):
    """A VLM (or stand-in) proposing candidate commands for the current scene."""

    def propose(self, observation: Observation, task: str, history: Sequence[str],
                max_candidates: int) -> list[Candidate]: ...


@dataclass(frozen=True)
class Transition:
    """One decision step as the learner stores it (features, never raw images)."""

    state: np.ndarray  # float32 state features before the prompt ran
    prompt: str  # the chosen (normalised) command
    reward: float
    next_state: np.ndarray
    # Candidates proposed in the next state: the TD target maximises (or soft-maximises) over them.
    next_prompts: tuple[str, ...]
    terminal: bool  # no bootstrapping from next_state
    control_steps: int = 1  # for semi-MDP discounting gamma ** control_steps
    episode: int = 0
    step: int = 0
    truncated: bool = False  # budget ran out: bootstraps like a non-terminal step


@dataclass(frozen=True)
class Decision:
    """What a policy chose at one decision step, and why."""

    index: int  # into the candidate list the policy was given
    prompt: str
    q_values: tuple[float, ...]  # one per candidate (a baseline's scores where it has no Q)
    probabilities: tuple[float, ...]  # the distribution the choice was sampled from
    temperature: float
    greedy: bool
