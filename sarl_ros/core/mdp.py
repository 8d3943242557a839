"""Types of the semantic MDP: the action is a language command for the VLA."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

SOURCE_VLM = 'vlm'
SOURCE_TASK = 'task'
SOURCE_MEMORY = 'memory'
SOURCE_OPERATOR = 'operator'


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

    @property
    def done(self) -> bool:
        return self.terminal or self.truncated


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
