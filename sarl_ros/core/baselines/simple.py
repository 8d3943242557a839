"""Baselines in the same code path as SARL.

fixed (the task prompt), random, icl (an in-context VLM with a memory of past episodes), and
UCB1 (kept as an extra; it must try every prompt once before exploiting, a weak bandit).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sarl_ros.core.baselines.config import BaselineConfig
from sarl_ros.core.config import register_config, setting
from sarl_ros.core.mdp import SOURCE_TASK
from sarl_ros.core.perception.text_encoding import DEFAULT_ENCODER
from sarl_ros.core.policy import Policy, one_hot, softmax
from sarl_ros.core.proposals import normalize_prompt


def task_prompt_index(candidates, prompts, task: str, who: str) -> int:
    """Return the index of the whole-task prompt among the candidates (ValueError naming `who` if absent)."""
    index = next((i for i, c in enumerate(candidates) if c.source == SOURCE_TASK), None)
    if index is None:
        wanted = normalize_prompt(task)
        index = next((i for i, p in enumerate(prompts) if p == wanted), None)
    if index is None:
        raise ValueError(f'{who} needs the whole-task prompt among the candidates '
                         '(add it with sarl_ros.core.proposals.with_task_prompt)')
    return index


class BaselinePolicy(Policy):
    """A baseline built from its registered config (config_class); seed and encoder are the run's, not options."""

    config_class: type[BaselineConfig] = BaselineConfig

    def __init__(self, config: BaselineConfig | None = None, *, seed: int = 0, encoder: str = DEFAULT_ENCODER):
        config = self.config_class() if config is None else config
        if not isinstance(config, self.config_class):
            raise TypeError(f'{self.name} is built from a {self.config_class.__name__}, got {type(config).__name__}')
        self.config = config
        super().__init__(seed=seed, temperature=config.temperature, gamma=config.gamma, encoder=encoder)
        # make_policy(method, **kwargs) rebuilds the policy from these (checkpoints).
        self.kwargs = {'seed': int(seed), 'encoder': encoder, **config.as_dict()}


@register_config('method', 'fixed')
@dataclass(frozen=True)
class FixedConfig(BaselineConfig):
    """The fixed baseline has only the shared settings."""


@register_config('method', 'random')
@dataclass(frozen=True)
class RandomConfig(BaselineConfig):
    """The random baseline has only the shared settings."""


@register_config('method', 'icl')
@dataclass(frozen=True)
class IclConfig(BaselineConfig):
    replay_bonus: float = setting(2.0, 'score added when a candidate continues a successful episode (exact prefix)')
    follow_bonus: float = setting(1.0, 'score added when a candidate followed the previous prompt in a success')
    success_bonus: float = setting(0.5, 'score added times the share of successes that used the candidate')
    failure_penalty: float = setting(0.5, 'score taken times the share of failures a candidate appeared only in')
    retry_penalty: float = setting(1.0, 'score taken per earlier run of the candidate in this episode')
    memory_size: int = setting(200, 'past learning episodes the context holds', low=1, high=1_000_000)


@register_config('method', 'ucb')
@dataclass(frozen=True)
class UcbConfig(BaselineConfig):
    exploration: float = setting(1.0, 'weight of the UCB1 exploration bonus', low=0.0, high=100.0)


class FixedPolicy(BaselinePolicy):
    """Prompt the VLA with the whole task: the candidate with source 'task'.

    Without one (a caller that skipped with_task_prompt), a candidate whose text equals the task is
    taken; otherwise select() raises ValueError rather than silently running another prompt.
    """

    name = 'fixed'
    config_class = FixedConfig
    learns = False

    def _choose(self, features, candidates, prompts, task, greedy):
        index = task_prompt_index(candidates, prompts, task, 'the fixed baseline')
        return index, np.zeros(len(prompts)), one_hot(len(prompts), index), self.temperature


class RandomPolicy(BaselinePolicy):
    """Choose uniformly at random among the candidates (also in greedy mode: it has no preference)."""

    name = 'random'
    config_class = RandomConfig
    learns = False

    def _choose(self, features, candidates, prompts, task, greedy):
        n = len(prompts)
        return int(self.rng.integers(n)), np.zeros(n), (1.0 / n,) * n, self.temperature


class IclPolicy(BaselinePolicy):
    """An in-context-learning VLM: its context holds past episodes' prompts and outcomes.

    Its fairest form here: it ranks the candidates by the VLM's own score (the proposer's
    vlm_score, as the real proposer gives it) plus what its context says:
      + replay    the candidate continues a successful past episode whose prompts so far equal this
                  episode's (an exact prefix match; the strongest evidence),
      + follow    the candidate followed the previous prompt (or opened the episode) in a successful one,
      + success   the share of successful episodes that used the candidate (not yet used this episode),
      - failure   the candidate appeared only in failed episodes (share of them),
      - retry     the candidate already ran this episode (a VLM does not repeat itself blindly).
    Online it samples from softmax(score / temperature) (a VLM decoding at temperature > 0);
    greedy evaluation takes the best score. Only learning episodes (with recorded transitions) enter
    the memory, as for SARL. It sees no state beyond what the proposer's ranking already reflects.
    """

    name = 'icl'
    config_class = IclConfig

    def __init__(self, config: IclConfig | None = None, **run):
        super().__init__(config, **run)
        c = self.config
        self.weights = dict(replay_bonus=c.replay_bonus, follow_bonus=c.follow_bonus, success_bonus=c.success_bonus,
                            failure_penalty=c.failure_penalty, retry_penalty=c.retry_penalty)
        self.memory_size = c.memory_size
        self.memory: list[tuple[str, tuple[str, ...], bool]] = []  # (task, prompts, success)
        self.executed: list[str] = []

    def _begin(self) -> None:
        self.executed = []

    def scores(self, candidates, prompts: list[str], task: str) -> np.ndarray:
        """Return each candidate's score given the memory and this episode's prompts so far."""
        w = self.weights
        past = [(p, ok) for t, p, ok in self.memory if t == task]
        wins = [p for p, ok in past if ok]
        losses = [p for p, ok in past if not ok]
        step, last = len(self.executed), (self.executed[-1] if self.executed else None)
        prefix = tuple(self.executed)
        out = []
        for candidate, prompt in zip(candidates, prompts):
            score = float(candidate.vlm_score)
            if any(len(p) > step and p[:step] == prefix and p[step] == prompt for p in wins):
                score += w['replay_bonus']
            if any(_follows(p, last, prompt) for p in wins):
                score += w['follow_bonus']
            if prompt not in self.executed and wins:
                score += w['success_bonus'] * sum(prompt in p for p in wins) / len(wins)
            if losses and not any(prompt in p for p in wins):
                score -= w['failure_penalty'] * sum(prompt in p for p in losses) / len(losses)
            score -= w['retry_penalty'] * self.executed.count(prompt)
            out.append(score)
        return np.array(out)

    def _choose(self, features, candidates, prompts, task, greedy):
        scores = self.scores(candidates, prompts, task)
        if greedy:
            index = int(np.argmax(scores))
            probabilities = one_hot(len(scores), index)
        else:
            probabilities = softmax(scores, self.temperature)
            index = int(self.rng.choice(len(scores), p=probabilities))
        self.executed.append(prompts[index])
        return index, scores, probabilities, self.temperature

    def _end(self, success: bool) -> None:
        if self._recorded_this_episode:
            self.memory.append((self.task, tuple(self.executed), bool(success)))
            self.memory = self.memory[-self.memory_size:]
        self.executed = []

    def _method_state(self) -> dict:
        return {'memory': [[t, list(p), ok] for t, p, ok in self.memory], 'executed': list(self.executed)}

    def _load_method_state(self, d: dict) -> None:
        self.memory = [(t, tuple(p), bool(ok)) for t, p, ok in d['memory']]
        self.executed = list(d['executed'])


def _follows(prompts: tuple[str, ...], last: str | None, prompt: str) -> bool:
    if last is None:
        return bool(prompts) and prompts[0] == prompt
    return any(a == last and b == prompt for a, b in zip(prompts, prompts[1:]))


class UcbPolicy(BaselinePolicy):
    """UCB1 over prompts, per task, without state.

    The payoff of a pull is the discounted return from that decision to the end of the episode
    (credited in end_episode). Untried prompts are tried first (uniformly among them); then the index
    mean + exploration * sqrt(2 ln N / n) is maximised, N the pulls within the task. Greedy mode takes
    the best mean. Payoffs are assumed to lie in [0, 1] (sparse success rewards).
    """

    name = 'ucb'
    config_class = UcbConfig

    def __init__(self, config: UcbConfig | None = None, **run):
        super().__init__(config, **run)
        self.exploration = self.config.exploration
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
