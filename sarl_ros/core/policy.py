"""Prompt-selection policies: the shared interface, input checks and softmax sampling.

Every method (SARL and the baselines in sarl_ros.core.baselines.simple) implements the same interface so one
episode loop, one ROS node and one benchmark drive them all. A re-entrant lock guards each policy's
state: the ROS node calls update() from a learner thread while select()/record() run on the executor
thread. update(n) takes the lock once per gradient step, so a decision waits for at most one step.

Handling of bad input (never a silent wrong update):
  - empty candidate list, a blank prompt, NaN/inf or non-1-D features, a feature size other than
    the one the learner was built for, a NaN/inf reward: ValueError;
  - duplicate prompts in select(): allowed, scored identically (each keeps its own index);
  - next_prompts of a transition: normalised, blanks dropped, duplicates merged; a non-terminal
    transition with no next prompt cannot be bootstrapped and is refused with ValueError.
"""
from __future__ import annotations

import copy
import math
import threading
from typing import Sequence

import numpy as np

from sarl_ros.core.mdp import Candidate, Decision, Observation, Transition
from sarl_ros.core.proposals import normalize_prompt


def checked_features(features, name: str = 'state features') -> np.ndarray:
    """Return features as a finite 1-D float32 array, or raise ValueError."""
    arr = np.asarray(features, dtype=np.float32)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f'{name} must be a non-empty 1-D vector, got shape {arr.shape}')
    if not np.all(np.isfinite(arr)):
        raise ValueError(f'{name} contain NaN or inf')
    return arr


def checked_prompts(candidates: Sequence[Candidate]) -> list[str]:
    """Return the normalised prompt of each candidate, or raise ValueError (empty list, blank prompt)."""
    if not candidates:
        raise ValueError('no candidates to choose from')
    prompts = [normalize_prompt(c.prompt) for c in candidates]
    blank = [i for i, p in enumerate(prompts) if not p]
    if blank:
        raise ValueError(f'candidates {blank} have blank prompts; normalize_candidates() drops them')
    return prompts


def checked_transition(t: Transition) -> tuple[np.ndarray, str, float, np.ndarray, list[str]]:
    """Return (state, prompt, reward, next_state, next_prompts) validated and normalised, or raise ValueError."""
    state = checked_features(t.state, 'transition state features')
    next_state = checked_features(t.next_state, 'transition next-state features')
    if state.shape != next_state.shape:
        raise ValueError(f'state has {state.size} features but next state has {next_state.size}')
    reward = float(t.reward)
    if not math.isfinite(reward):
        raise ValueError(f'transition reward is {reward}')
    prompt = normalize_prompt(t.prompt)
    if not prompt:
        raise ValueError('transition prompt is blank')
    next_prompts = list(dict.fromkeys(p for p in (normalize_prompt(x) for x in t.next_prompts) if p))
    if not t.terminal and not next_prompts:
        raise ValueError('a non-terminal transition needs the next state\'s candidate prompts to bootstrap from '
                         '(mark it terminal, or pass next_prompts)')
    if int(t.control_steps) < 0:
        raise ValueError(f'control_steps must be >= 0, got {t.control_steps}')
    return state, prompt, reward, next_state, next_prompts


def without_pixels(features: np.ndarray) -> np.ndarray:
    """Return an observable state without its trailing pixel block (what sarl_text was built on); others as given."""
    from sarl_ros.core.perception.observable_features import OBSERVABLE_DIM, PIXEL_SIDE
    return features[:OBSERVABLE_DIM - 3 * PIXEL_SIDE ** 2] if features.shape[0] == OBSERVABLE_DIM else features


def softmax(values: np.ndarray, temperature: float) -> np.ndarray:
    """Return the softmax of values / temperature, computed stably."""
    if temperature <= 0:
        raise ValueError(f'temperature must be positive, got {temperature}')
    z = (np.asarray(values, dtype=np.float64) - np.max(values)) / temperature
    e = np.exp(z)
    return e / e.sum()


def one_hot(n: int, index: int) -> tuple[float, ...]:
    return tuple(1.0 if i == index else 0.0 for i in range(n))


class TemperatureSchedule:
    """Temperature after e learning episodes: final + (initial - final) * 0.5 ** (e / halflife)."""

    def __init__(self, initial: float, final: float | None = None, halflife: float = 20.0):
        if initial <= 0:
            raise ValueError(f'temperature must be positive, got {initial}')
        self.initial = float(initial)
        self.final = self.initial if final is None else min(float(final), self.initial)
        if self.final <= 0:
            raise ValueError(f'final temperature must be positive, got {self.final}')
        self.halflife = float(halflife)

    def __call__(self, episodes: int) -> float:
        if self.halflife <= 0:
            return self.final
        return self.final + (self.initial - self.final) * 0.5 ** (episodes / self.halflife)


class Policy:
    """Base class: counters, lock, RNG, episode bookkeeping; baselines override the hooks."""

    name = 'base'
    learns = True  # False: nothing carries over between episodes (a benchmark need not repeat its evaluation)
    state_mode = 'observable'  # the state an environment should give it ('oracle': privileged simulator state)

    def __init__(self, *, seed: int, temperature: float, gamma: float, encoder: str):
        # No defaults here: each method's config declares its own (BaselineConfig, SarlConfig).
        self.kwargs = {'seed': int(seed), 'temperature': float(temperature), 'gamma': float(gamma), 'encoder': encoder}
        self.seed, self.gamma = int(seed), float(gamma)
        self.temperature = float(temperature)
        self.rng = np.random.default_rng(self.seed)
        self._lock = threading.RLock()
        self.task = ''
        self.episodes = 0  # episodes ended
        self.learning_episodes = 0  # episodes ended in which transitions were recorded
        self.decisions = 0
        self.transitions = 0
        self.updates = 0
        self._recorded_this_episode = False

    # -- interface -----------------------------------------------------------------------------
    def begin_episode(self, task: str, max_decisions: int = 0) -> None:
        """Start an episode of a task (max_decisions: its decision budget, when the driver knows it)."""
        with self._lock:
            self.task = str(task)
            self._recorded_this_episode = False
            self._begin()

    def select(self, observation: Observation, candidates: Sequence[Candidate], task: str,
               greedy: bool = False) -> Decision:
        """Return the chosen candidate (index into `candidates`) with the scores behind the choice."""
        features = checked_features(observation.features)
        prompts = checked_prompts(candidates)
        with self._lock:
            index, scores, probabilities, temperature = self._choose(features, candidates, prompts, task, greedy)
            self.decisions += 1
        return Decision(index=int(index), prompt=candidates[index].prompt,
                        q_values=tuple(float(s) for s in scores),
                        probabilities=tuple(float(p) for p in probabilities),
                        temperature=float(temperature), greedy=bool(greedy))

    def record(self, transition: Transition) -> None:
        """Store one transition (ValueError on NaN reward or features, blank prompt)."""
        checked = checked_transition(transition)
        with self._lock:
            self._record(transition, *checked)
            self.transitions += 1
            self._recorded_this_episode = True

    def update(self, n_updates: int) -> dict:
        """Run up to n_updates learning steps; return statistics (zeros for methods that do not learn)."""
        if n_updates < 0:
            raise ValueError(f'n_updates must be >= 0, got {n_updates}')
        return {'updates': 0, 'td_loss': 0.0, 'mean_q': 0.0}

    def end_episode(self, success: bool) -> None:
        """Close the episode (success decides bandit credit; the temperature schedule advances)."""
        with self._lock:
            self._end(bool(success))
            self.episodes += 1
            if self._recorded_this_episode:
                self.learning_episodes += 1
            self._recorded_this_episode = False

    def state_dict(self) -> dict:
        """Return a snapshot (a deep copy, so learning may go on while it is written) of the whole state."""
        with self._lock:
            counters = {'episodes': self.episodes, 'learning_episodes': self.learning_episodes,
                        'decisions': self.decisions, 'transitions': self.transitions, 'updates': self.updates}
            state = {'name': self.name, 'kwargs': dict(self.kwargs), 'rng': self.rng.bit_generator.state,
                     'task': self.task, 'counters': counters, 'method_state': self._method_state()}
            return copy.deepcopy(state)

    def load_state_dict(self, d: dict) -> None:
        """Restore from state_dict() of a policy of the same method."""
        if d.get('name') != self.name:
            raise ValueError(f'state of method {d.get("name")!r} cannot be loaded into {self.name!r}')
        with self._lock:
            self.rng.bit_generator.state = d['rng']
            self.task = d['task']
            for key, value in d['counters'].items():
                setattr(self, key, int(value))
            self._load_method_state(d['method_state'])

    # -- hooks ---------------------------------------------------------------------------------
    def _begin(self) -> None:
        pass

    def _choose(self, features, candidates, prompts, task, greedy):
        raise NotImplementedError

    def _record(self, transition, state, prompt, reward, next_state, next_prompts) -> None:
        pass

    def _end(self, success: bool) -> None:
        pass

    def _method_state(self) -> dict:
        return {}

    def _load_method_state(self, d: dict) -> None:
        pass
