"""Prompt-selection policies: the shared interface, input checks, softmax sampling, and SARL.

Every method (SARL and the baselines in sarl_ros.core.baselines) implements the same interface so one
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
from sarl_ros.core.td_learner import LearnerConfig, TDLearner
from sarl_ros.core.text_encoding import make_encoder


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
    from sarl_ros.core.observable_features import OBSERVABLE_DIM, PIXEL_SIDE
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

    def __init__(self, *, seed: int = 0, temperature: float = 0.2, gamma: float = 0.9, encoder: str = 'auto'):
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


class SarlPolicy(Policy):
    """sarl_text, the first SARL learner (kept as an ablation of the paper's build, sarl_ros.core.sarl).

    Samples prompts from softmax(Q_sem / T) and learns Q_sem by TD backups from replay, with the
    prompt as a text embedding, fresh VLM samples (no instruction pool), one MLP and a max target.
    It reads the observable state without its pixel block (the state it was built and measured on).

    Defaults (chosen for >= 80% success within ~60 episodes of 3-8 decisions, ~8 candidates):
      temperature 0.2 decaying to temperature_final=0.01 with a half-life of 10 learning episodes.
        Q lies in [0, 1] (sparse success reward) and, because truncation bootstraps, a prompt that
        merely wastes a step is worth only (1 - gamma) V ~ 0.08 less than one that makes progress:
        at 0.2 both are tried almost equally (exploration), at 0.01 the better one is taken ~e^8 times
        as often. On the toy MDPs (3 tasks x 3 seeds, 60 episodes) this schedule raised online success
        in episodes 31-60 from 0.63 (final 0.05, half-life 20) to 1.00, at equal greedy success.
      target='max' (see sarl_ros.core.td_learner for why not the soft value), discount per decision
        step ('control' for a semi-MDP), and the learner defaults documented there.
    The number of updates per transition is the caller's (run_episode's updates_per_step, the node's
    updates_per_transition; 8 by default).
    """

    name = 'sarl_text'

    def __init__(self, *, seed: int = 0, encoder: str = 'auto', temperature: float = 0.2, gamma: float = 0.9,
                 temperature_final: float = 0.01, temperature_halflife: float = 10.0, target: str = 'max',
                 discount: str = 'step', hidden: Sequence[int] = (128, 128), activation: str = 'relu',
                 lr: float = 3e-3, batch_size: int = 64, tau: float = 0.05, replay_capacity: int = 50_000,
                 normalize_states: bool = True):
        super().__init__(seed=seed, temperature=temperature, gamma=gamma, encoder=encoder)
        learner_options = dict(target=target, discount=discount, hidden=[int(h) for h in hidden],
                               activation=activation, lr=float(lr), batch_size=int(batch_size), tau=float(tau),
                               replay_capacity=int(replay_capacity), normalize_states=bool(normalize_states))
        config = LearnerConfig(gamma=gamma, **learner_options)
        self.schedule = TemperatureSchedule(temperature, temperature_final, temperature_halflife)
        self.kwargs.update(temperature_final=float(temperature_final), temperature_halflife=float(temperature_halflife),
                           **learner_options)
        self.learner = TDLearner(make_encoder(encoder), config, seed=seed)

    @property
    def current_temperature(self) -> float:
        """Return the sampling temperature for the next decision."""
        return self.schedule(self.learning_episodes)

    def q_values(self, features, prompts: Sequence[str]) -> np.ndarray:
        """Return Q_sem for (normalised) prompts in one state."""
        with self._lock:
            return self.learner.q_values(without_pixels(checked_features(features)),
                                         [normalize_prompt(p) for p in prompts])

    def _choose(self, features, candidates, prompts, task, greedy):
        q = self.learner.q_values(without_pixels(features), prompts)
        temperature = self.current_temperature
        if greedy:
            index = int(np.argmax(q))
            return index, q, one_hot(len(q), index), temperature
        probabilities = softmax(q, temperature)
        index = int(self.rng.choice(len(q), p=probabilities))
        return index, q, probabilities, temperature

    def _record(self, transition, state, prompt, reward, next_state, next_prompts) -> None:
        self.learner.add(without_pixels(state), prompt, reward, without_pixels(next_state), next_prompts,
                         bool(transition.terminal),
                         int(transition.control_steps))

    def update(self, n_updates: int) -> dict:
        """Run n_updates TD updates (none before the first transition); return mean loss and Q."""
        super().update(n_updates)
        losses, qs = [], []
        temperature = self.temperature
        for _ in range(n_updates):
            with self._lock:
                if self.learner.replay is None or len(self.learner.replay) == 0:
                    break
                temperature = self.current_temperature
                loss, mean_q = self.learner.update(temperature)
                self.updates += 1
            losses.append(loss)
            qs.append(mean_q)
        return {'updates': len(losses), 'td_loss': float(np.mean(losses)) if losses else 0.0,
                'mean_q': float(np.mean(qs)) if qs else 0.0, 'temperature': float(temperature),
                'replay_size': len(self.learner.replay) if self.learner.replay is not None else 0}

    def _method_state(self) -> dict:
        return {'learner': self.learner.state_dict()}

    def _load_method_state(self, d: dict) -> None:
        self.learner.load_state_dict(d['learner'])
