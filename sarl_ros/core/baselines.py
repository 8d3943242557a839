"""Baselines in the same code path as SARL: fixed task prompt, in-context VLM choice, random, UCB1."""
from __future__ import annotations

import math

import numpy as np

from sarl_ros.core.mdp import SOURCE_TASK
from sarl_ros.core.policies import Policy, one_hot
from sarl_ros.core.proposals import normalize_prompt


class FixedPolicy(Policy):
    """Prompt the VLA with the whole task: the candidate with source 'task'.

    Without one (a caller that skipped with_task_prompt), a candidate whose text equals the task is
    taken; otherwise select() raises ValueError rather than silently running another prompt.
    """

    name = 'fixed'

    def _choose(self, features, candidates, prompts, task, greedy):
        index = next((i for i, c in enumerate(candidates) if c.source == SOURCE_TASK), None)
        if index is None:
            wanted = normalize_prompt(task)
            index = next((i for i, p in enumerate(prompts) if p == wanted), None)
        if index is None:
            raise ValueError('the fixed baseline needs the whole-task prompt among the candidates '
                             '(add it with sarl_ros.core.proposals.with_task_prompt)')
        return index, np.zeros(len(prompts)), one_hot(len(prompts), index), self.temperature


class RandomPolicy(Policy):
    """Choose uniformly at random among the candidates (also in greedy mode: it has no preference)."""

    name = 'random'

    def _choose(self, features, candidates, prompts, task, greedy):
        n = len(prompts)
        return int(self.rng.integers(n)), np.zeros(n), (1.0 / n,) * n, self.temperature


class IclPolicy(Policy):
    """Choose the VLM's favourite candidate, avoiding prompts that already failed this episode.

    Score = vlm_score - retry_penalty * (times the prompt ran this episode without progress), where
    progress means a positive reward or a change of the state features. No learning across episodes.
    """

    name = 'icl'

    def __init__(self, *, retry_penalty: float = 1.0, progress_tolerance: float = 1e-6, **kw):
        super().__init__(**kw)
        self.retry_penalty = float(retry_penalty)
        self.progress_tolerance = float(progress_tolerance)
        self.kwargs.update(retry_penalty=self.retry_penalty, progress_tolerance=self.progress_tolerance)
        self.failed: dict[str, int] = {}

    def _begin(self) -> None:
        self.failed = {}

    def _choose(self, features, candidates, prompts, task, greedy):
        scores = np.array([c.vlm_score - self.retry_penalty * self.failed.get(p, 0)
                           for c, p in zip(candidates, prompts)])
        index = int(np.argmax(scores))
        return index, scores, one_hot(len(scores), index), self.temperature

    def _record(self, transition, state, prompt, reward, next_state, next_prompts) -> None:
        moved = not np.allclose(state, next_state, atol=self.progress_tolerance)
        if reward <= 0 and not moved:
            self.failed[prompt] = self.failed.get(prompt, 0) + 1

    def _method_state(self) -> dict:
        return {'failed': dict(self.failed)}

    def _load_method_state(self, d: dict) -> None:
        self.failed = dict(d['failed'])


class UcbPolicy(Policy):
    """UCB1 over prompts, per task, without state.

    The payoff of a pull is the discounted return from that decision to the end of the episode
    (credited in end_episode). Untried prompts are tried first (uniformly among them); then the index
    mean + exploration * sqrt(2 ln N / n) is maximised, N the pulls within the task. Greedy mode takes
    the best mean. Payoffs are assumed to lie in [0, 1] (sparse success rewards).
    """

    name = 'ucb'

    def __init__(self, *, exploration: float = 1.0, **kw):
        super().__init__(**kw)
        self.exploration = float(exploration)
        self.kwargs.update(exploration=self.exploration)
        self.stats: dict[tuple[str, str], list[float]] = {}  # (task, prompt) -> [pulls, payoff sum]
        self._episode: list[tuple[str, float]] = []

    def _begin(self) -> None:
        self._episode = []

    def _choose(self, features, candidates, prompts, task, greedy):
        pulls = np.array([self.stats.get((task, p), (0, 0.0))[0] for p in prompts], dtype=np.float64)
        sums = np.array([self.stats.get((task, p), (0, 0.0))[1] for p in prompts], dtype=np.float64)
        means = np.divide(sums, pulls, out=np.zeros_like(sums), where=pulls > 0)
        if greedy:
            index = int(np.argmax(means))
        elif np.any(pulls == 0):
            index = int(self.rng.choice(np.flatnonzero(pulls == 0)))
        else:
            total = sum(v[0] for (t, _), v in self.stats.items() if t == task)
            bonus = self.exploration * np.sqrt(2.0 * math.log(max(total, 1.0)) / pulls)
            index = int(np.argmax(means + bonus))
        return index, means, one_hot(len(prompts), index), self.temperature

    def _record(self, transition, state, prompt, reward, next_state, next_prompts) -> None:
        self._episode.append((prompt, reward))

    def _end(self, success: bool) -> None:
        payoff = 0.0
        for prompt, reward in reversed(self._episode):
            payoff = reward + self.gamma * payoff
            entry = self.stats.setdefault((self.task, prompt), [0, 0.0])
            entry[0] += 1
            entry[1] += payoff
        self._episode = []

    def _method_state(self) -> dict:
        return {'stats': [[t, p, n, s] for (t, p), (n, s) in self.stats.items()],
                'episode': [list(x) for x in self._episode]}

    def _load_method_state(self, d: dict) -> None:
        self.stats = {(t, p): [int(n), float(s)] for t, p, n, s in d['stats']}
        self._episode = [(p, float(r)) for p, r in d['episode']]
