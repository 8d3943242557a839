"""Small semantic MDPs with known optimal Q-values, for tests and quick benchmarks.

A task is a chain of K subgoals. In stage i the proposer offers phrasings of subgoal i (only some of
which the simulated VLA understands), phrasings of other subgoals, and a decoy that the VLM ranks
highest but which fails (doing nothing, or ending the episode). The whole-task prompt advances a
stage with a small probability. State features: a one-hot of the stage (K + 1 values) plus optional
noise values that carry no information.

Closed form, max backup, truncation bootstrapped (so the budget does not enter), reward 1 on the
final subgoal and `subgoal_reward` on the others:
    V*(K) = 0;  V*(i) = max(r_i + gamma V*(i+1), p (r_i + gamma V*(i+1)) + (1 - p) gamma V*(i))
    Q*(i, working) = r_i + gamma V*(i+1);  Q*(i, no-op) = gamma V*(i);  Q*(i, terminal decoy) = 0
    Q*(i, task) = p (r_i + gamma V*(i+1)) + (1 - p) gamma V*(i)
With subgoal_reward = 0 and p < 1: V*(i) = gamma ** (K - 1 - i).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from sarl_ros.core.mdp import SOURCE_VLM, Candidate, Observation, StepOutcome
from sarl_ros.core.proposals import normalize_prompt

CONTROL_STEPS = 8


@dataclass(frozen=True)
class Phrase:
    text: str
    vlm_score: float
    works: bool = False


@dataclass(frozen=True)
class ChainSpec:
    name: str
    task: str
    stages: tuple[tuple[Phrase, ...], ...]  # phrasings offered in each stage
    decoy: Phrase
    decoy_terminal: bool = False  # the decoy ends the episode in failure instead of doing nothing
    task_prompt_success: float = 0.1  # chance that the whole-task prompt completes the current subgoal
    max_decisions: int = 6
    noise_dims: int = 0
    subgoal_reward: float = 0.0
    # Offer a random subset of this many phrasings per stage (0: all), so prompt sets vary.
    phrasings_offered: int = 0

    @property
    def n_stages(self) -> int:
        return len(self.stages)

    @property
    def feature_dim(self) -> int:
        return self.n_stages + 1 + self.noise_dims


_SUSHI = 'put the sushi in the pot'
_SUSHI_STAGES = (
    (Phrase('pick up the sushi', 0.55, True), Phrase('grasp the sushi', 0.35, True),
     Phrase('move the gripper to the sushi', 0.6), Phrase('lift the pot', 0.2), Phrase('open the gripper', 0.3),
     Phrase('push the sushi', 0.25)),
    (Phrase('move the sushi over the pot', 0.5, True), Phrase('carry the sushi to the pot', 0.3, True),
     Phrase('go to the pot', 0.65), Phrase('raise the arm', 0.2), Phrase('rotate the gripper', 0.15),
     Phrase('push the pot', 0.1)),
    (Phrase('release the sushi', 0.6, True), Phrase('open the gripper above the pot', 0.4, True),
     Phrase('drop it', 0.7), Phrase('lower the sushi into the pot', 0.5), Phrase('close the gripper', 0.2),
     Phrase('move left', 0.1)),
)
_DECOY = Phrase('place the sushi in the pot carefully', 0.9)

TOY_TASKS: dict[str, ChainSpec] = {
    spec.name: spec for spec in (
        ChainSpec('toy_chain', _SUSHI, _SUSHI_STAGES, _DECOY, max_decisions=6),
        ChainSpec('toy_decoy', 'put the carrot on the plate', (
            (Phrase('grasp the carrot', 0.4, True), Phrase('pick the carrot up', 0.6), Phrase('touch the plate', 0.2),
             Phrase('open the gripper', 0.3)),
            (Phrase('put it down on the plate', 0.35, True), Phrase('drop the carrot', 0.5),
             Phrase('move to the plate', 0.45), Phrase('lower the arm', 0.2)),
        ), Phrase('put the carrot onto the plate', 0.95), decoy_terminal=True, task_prompt_success=0.05,
            max_decisions=4),
        ChainSpec('toy_noisy', _SUSHI, _SUSHI_STAGES, _DECOY, max_decisions=6, noise_dims=4, phrasings_offered=4),
    )
}


def toy_spec(name: str) -> ChainSpec:
    """Return the spec of a toy task; ValueError listing the names for an unknown one."""
    spec = TOY_TASKS.get(name)
    if spec is None:
        raise ValueError(f'unknown toy task {name!r}; available: {", ".join(TOY_TASKS)}')
    return spec


def stage_of(spec: ChainSpec, features: np.ndarray) -> int:
    """Return the stage encoded in the features (the argmax of the one-hot part)."""
    return int(np.argmax(np.asarray(features)[:spec.n_stages + 1]))


class ChainEnv:
    """SemanticEnv over a ChainSpec; the randomness (task prompt, noise) comes from reset(seed)."""

    def __init__(self, spec: ChainSpec, seed: int = 0):
        self.spec = spec
        self.task = spec.task
        self.max_decisions = spec.max_decisions
        self._rng = np.random.default_rng(seed)
        self._works = [{normalize_prompt(p.text) for p in phrases if p.works} for phrases in spec.stages]
        self._decoy = normalize_prompt(spec.decoy.text)
        self._task = normalize_prompt(spec.task)
        self.stage = 0
        self.decisions = 0

    def _observation(self) -> Observation:
        features = np.zeros(self.spec.feature_dim, dtype=np.float32)
        features[self.stage] = 1.0
        if self.spec.noise_dims:
            features[self.spec.n_stages + 1:] = self._rng.uniform(-1.0, 1.0, self.spec.noise_dims)
        return Observation(features=features, info={'stage': self.stage})

    def reset(self, seed: int | None = None) -> Observation:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.stage = 0
        self.decisions = 0
        return self._observation()

    def step(self, prompt: str) -> StepOutcome:
        if self.stage >= self.spec.n_stages:
            raise RuntimeError('the episode is over; call reset()')
        text = normalize_prompt(prompt)
        self.decisions += 1
        advance = text in self._works[self.stage] or (
            text == self._task and self._rng.random() < self.spec.task_prompt_success)
        failed = text == self._decoy and self.spec.decoy_terminal
        reward = 0.0
        if advance:
            self.stage += 1
            reward = 1.0 if self.stage == self.spec.n_stages else self.spec.subgoal_reward
        success = self.stage == self.spec.n_stages
        terminal = success or failed
        truncated = not terminal and self.decisions >= self.max_decisions
        return StepOutcome(observation=self._observation(), reward=reward, terminal=terminal, truncated=truncated,
                           success=success, control_steps=CONTROL_STEPS, info={'stage': self.stage})


class ChainProposer:
    """Offer the stage's phrasings and the decoy, in a random order, from the features alone."""

    def __init__(self, spec: ChainSpec, seed: int = 0):
        self.spec = spec
        self._rng = np.random.default_rng(seed)
        self.calls = 0

    def propose(self, observation: Observation, task: str, history: Sequence[str],
                max_candidates: int) -> list[Candidate]:
        self.calls += 1
        stage = min(stage_of(self.spec, observation.features), self.spec.n_stages - 1)
        phrases = list(self.spec.stages[stage])
        if self.spec.phrasings_offered:
            # Keep at least one working phrasing, so the stage stays solvable.
            working = [p for p in phrases if p.works]
            keep = [working[self._rng.integers(len(working))]]
            rest = [p for p in phrases if p is not keep[0]]
            picks = self._rng.choice(len(rest), size=min(len(rest), self.spec.phrasings_offered - 1), replace=False)
            phrases = keep + [rest[i] for i in picks]
        phrases.append(self.spec.decoy)
        order = self._rng.permutation(len(phrases))
        return [Candidate(phrases[i].text, SOURCE_VLM, phrases[i].vlm_score) for i in order][:max_candidates]


def stage_prompts(spec: ChainSpec, stage: int) -> list[str]:
    """Return every normalised prompt offered in a stage with a full proposer (phrasings, decoy, task)."""
    return [normalize_prompt(p.text) for p in spec.stages[stage]] + [normalize_prompt(spec.decoy.text),
                                                                     normalize_prompt(spec.task)]


def optimal_values(spec: ChainSpec, gamma: float) -> np.ndarray:
    """Return V*(i) for i = 0..K (V*(K) = 0) under the max backup, by the closed form above."""
    k, p = spec.n_stages, spec.task_prompt_success
    values = np.zeros(k + 1)
    for i in reversed(range(k)):
        reward = 1.0 if i == k - 1 else spec.subgoal_reward
        advance = reward + gamma * values[i + 1]
        # Solving V = p * advance + (1 - p) * gamma * V for the task prompt; it never beats a working phrasing.
        task_only = p * advance / (1.0 - (1.0 - p) * gamma) if p > 0 else 0.0
        values[i] = max(advance, task_only)
    return values


def optimal_q(spec: ChainSpec, gamma: float, stage: int) -> dict[str, float]:
    """Return Q*(stage, prompt) for every prompt a full proposer offers in that stage."""
    values = optimal_values(spec, gamma)
    k, p = spec.n_stages, spec.task_prompt_success
    reward = 1.0 if stage == k - 1 else spec.subgoal_reward
    advance = reward + gamma * values[stage + 1]
    stay = gamma * values[stage]
    q = {normalize_prompt(ph.text): (advance if ph.works else stay) for ph in spec.stages[stage]}
    q[normalize_prompt(spec.decoy.text)] = 0.0 if spec.decoy_terminal else stay
    q[normalize_prompt(spec.task)] = p * advance + (1.0 - p) * stay
    return q


def make_toy_env(name: str, seed: int = 0) -> ChainEnv:
    """Return the environment of a toy task."""
    return ChainEnv(toy_spec(name), seed)


def make_toy_proposer(name: str, seed: int = 0) -> ChainProposer:
    """Return the proposer of a toy task."""
    return ChainProposer(toy_spec(name), seed)
