"""One episode of the semantic MDP: propose, choose, execute, store, learn.

The one SARL loop: the benchmark and the demo run it over the simulator in one process, the
episode manager node runs it over ROS client objects (sarl_ros.nodes.clients). Whether a
step is terminal or truncated, and the transition the learner stores, are decided here.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from sarl_ros.core.mdp import (Candidate, Decision, EpisodeAborted, PromptProposer, SemanticEnv, StepOutcome,
                               StepSkipped, Transition)
from sarl_ros.core.proposals import MAX_CANDIDATES, normalize_candidates, with_task_prompt

# Learning steps a driver runs after each stored transition when the method sets none of its own (SARL's
# SarlConfig.updates_per_decision does): run_episode, sarl-bench, sarl-demo, retraining and the Q-policy node.
UPDATES_PER_DECISION = 8


@dataclass
class EpisodeResult:
    success: bool
    decisions: int
    prompts: list[str] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    control_steps: int = 0
    episode_return: float = 0.0  # the undiscounted sum of rewards (the contract's `return`)
    proposer_calls: int = 0
    update_stats: list[dict] = field(default_factory=list)
    failed_for_good: bool = False  # ended because the task could no longer succeed
    truncated: bool = False  # the decision budget ran out
    skipped: int = 0  # decisions whose prompt could not run (StepSkipped): budget spent, nothing stored
    aborted: str = ''  # why the episode was stopped early (EpisodeAborted), empty otherwise

    @property
    def end(self) -> str:
        """How the episode ended: 'success', 'failed' (for good), 'aborted' or 'timeout' (budget)."""
        if self.success:
            return 'success'
        if self.failed_for_good:
            return 'failed'
        return 'aborted' if self.aborted else 'timeout'


# Reset seeds of one run seed occupy [seed * SEED_STRIDE, (seed + 1) * SEED_STRIDE): online episodes
# from the start, demonstrations from DEMONSTRATION_SEEDS on. These are the benchmark's pre-registered
# seeds (docs/results/sarl_paper): changing them changes every published run.
SEED_STRIDE = 100_000
DEMONSTRATION_SEEDS = 90_000


def episode_seed(base_seed: int, episode: int) -> int:
    """Return the reset (scene) seed of an episode of a run: the one scheme of the demo, the graph and the bench.

    Online episodes are numbered 1, 2, ... (as printed and recorded): episode e resets with
    base_seed * 100_000 + e - 1. Demonstration i (0-based) is episode -1 - i and resets with
    base_seed * 100_000 + 90_000 + i. Episode 0 does not exist.
    """
    episode = int(episode)
    if episode > 0:
        return int(base_seed) * SEED_STRIDE + episode - 1
    if episode < 0:
        return int(base_seed) * SEED_STRIDE + DEMONSTRATION_SEEDS + (-1 - episode)
    raise ValueError('episode 0 does not exist: online episodes count from 1, demonstrations from -1 down')


def episode_stream_seed(base_seed: int, episode: int, stream: str) -> int:
    """Return the seed of one random stream (e.g. 'proposer') of one episode of a run.

    A component seeded afresh from (run seed, episode, stream) at every episode draws the same
    numbers whether the run went through uninterrupted or was killed and resumed: nothing of its
    state has to be checkpointed. Different streams get independent seeds (not seed + k).
    """
    tag = zlib.crc32(stream.encode())
    episode = int(episode)
    # Online episodes (>= 0) keep the entropy they always had; a demonstration (-1 - i) has a
    # negative number, which SeedSequence refuses: its magnitude with a fourth word marking it.
    entropy = [int(base_seed), episode, tag] if episode >= 0 else [int(base_seed), -episode, tag, 1]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def _candidates(proposer, observation, task, history, max_candidates) -> list[Candidate]:
    proposed = proposer.propose(observation, task, list(history), max_candidates)
    candidates = normalize_candidates(with_task_prompt(proposed, task))
    if not candidates:
        raise ValueError('the proposer returned no usable candidate')
    return candidates


def run_episode(env: SemanticEnv, proposer: PromptProposer, policy, *, max_candidates: int = MAX_CANDIDATES,
                greedy: bool = False, learn: bool = True, updates_per_decision: int = UPDATES_PER_DECISION,
                on_decision: Callable[[int, Decision, list[Candidate], StepOutcome], None] | None = None,
                seed: int | None = None, episode: int = 0) -> EpisodeResult:
    """Run one episode and return what happened.

    The candidate set is the proposer's answer plus the whole task (with_task_prompt), normalised;
    it can therefore hold max_candidates + 1 prompts. With learn=True each step's transition is
    recorded and followed by `updates_per_decision` policy updates. The next state's candidates are
    proposed after every non-terminal step, also the last one (a truncated transition bootstraps from
    them; without learning that last call is skipped). A proposer with an observe_outcome() method
    (CachedProposer) is told each step's outcome. on_decision(step, decision, candidates, outcome) is
    called after every step (candidates: the list the decision indexes into).

    An env may raise StepSkipped from step() (the prompt could not run: the decision counts
    against the budget, nothing is stored) and EpisodeAborted from reset() or step() (the
    episode ends at once, result.aborted says why).
    """
    task = env.task
    result = EpisodeResult(success=False, decisions=0)
    try:
        observation = env.reset(seed)
    except EpisodeAborted as exc:
        result.aborted = str(exc) or 'aborted'
        return result
    policy.begin_episode(task, max_decisions=env.max_decisions)
    history: list[str] = []
    candidates = _candidates(proposer, observation, task, history, max_candidates)
    result.proposer_calls += 1
    observe = getattr(proposer, 'observe_outcome', None)
    for step in range(env.max_decisions):
        decision = policy.select(observation, candidates, task, greedy=greedy)
        try:
            outcome = env.step(decision.prompt)
        except StepSkipped as skipped:
            result.skipped += 1
            if skipped.observation is not None:
                observation = skipped.observation
                candidates = _candidates(proposer, observation, task, history, max_candidates)
                result.proposer_calls += 1
            continue
        except EpisodeAborted as exc:
            result.aborted = str(exc) or 'aborted'
            break
        if observe is not None:
            observe(observation, task, history, decision.prompt, outcome)
        history.append(decision.prompt)
        truncated = (outcome.truncated or step == env.max_decisions - 1) and not outcome.terminal
        next_candidates: list[Candidate] = []
        # Only learning needs the candidates after the last (truncated) step.
        if not outcome.terminal and (learn or not truncated):
            next_candidates = _candidates(proposer, outcome.observation, task, history, max_candidates)
            result.proposer_calls += 1
        transition = Transition(state=observation.features, prompt=decision.prompt, reward=float(outcome.reward),
                                next_state=outcome.observation.features,
                                next_prompts=tuple(c.prompt for c in next_candidates), terminal=outcome.terminal,
                                control_steps=int(outcome.control_steps), episode=episode, step=step,
                                truncated=truncated)
        result.decisions += 1
        result.prompts.append(decision.prompt)
        result.transitions.append(transition)
        result.control_steps += int(outcome.control_steps)
        result.episode_return += float(outcome.reward)
        result.success = result.success or bool(outcome.success)
        result.failed_for_good = bool(outcome.terminal and not outcome.success)
        result.truncated = truncated
        if learn:
            policy.record(transition)
            if updates_per_decision:
                result.update_stats.append(policy.update(updates_per_decision))
        if on_decision is not None:
            on_decision(step, decision, candidates, outcome)
        if outcome.terminal or truncated:
            break
        observation, candidates = outcome.observation, next_candidates
    policy.end_episode(result.success)
    return result
