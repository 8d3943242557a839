"""SARL as the paper builds it: sample a prompt of the instruction pool from softmax(Q_sem / T).

The policy owns the instruction pool (a prompt's pool index is its identity for Q_sem), the learner
(sarl_ros.core.sarl.learner) and the temperature schedule. It knows the episode's decision budget H
(begin_episode) for the budget feature and the discount gamma = 1 - 1/H; a driver that does not tell
it gets sarl_ros.core.tasks.DEFAULT_BUDGET.

Candidates outside a full pool cannot be scored (Q has no identity for them): they get probability
zero and are never chosen; a decision whose candidates are all outside the pool is refused.
"""
from __future__ import annotations

import numpy as np

from sarl_ros.core.mdp import Transition
from sarl_ros.core.perception.observable_features import OBSERVABLE_DIM, PIXEL_SIDE, PROPRIO_DIM
from sarl_ros.core.method_names import DEFAULT_METHOD
from sarl_ros.core.perception.text_encoding import DEFAULT_ENCODER
from sarl_ros.core.policy import Policy, TemperatureSchedule, one_hot, softmax
from sarl_ros.core.proposals import normalize_prompt
from sarl_ros.core.sarl.config import SARL_VARIANTS, SarlConfig
from sarl_ros.core.sarl.learner import SarlLearner, StateLayout
from sarl_ros.core.sarl.pool import InstructionPool, PoolFull
from sarl_ros.core.tasks import DEFAULT_BUDGET


class PaperSarlPolicy(Policy):
    """The `sarl` method and its ablations (one SarlConfig each, sarl_ros.core.sarl.config.SARL_VARIANTS)."""

    name = 'sarl'

    def __init__(self, config: SarlConfig | None = None, *, seed: int = 0, method: str = DEFAULT_METHOD,
                 encoder: str = DEFAULT_ENCODER):
        self.config = config if config is not None else SARL_VARIANTS[method]
        super().__init__(seed=seed, temperature=self.config.temperature, gamma=self.config.gamma or 0.9,
                         encoder=encoder)
        self.name = method
        self.state_mode = 'oracle' if self.config.state_input == 'vector' and method == 'sarl_oracle' else 'observable'
        # make_policy(method, **kwargs) rebuilds this policy (checkpoints).
        self.kwargs = {'seed': int(seed), 'encoder': encoder, **self.config.as_dict()}
        self.schedule = TemperatureSchedule(self.config.temperature, self.config.temperature_final,
                                            self.config.temperature_halflife)
        self.pool = InstructionPool(self.config.pool_capacity)
        self.updates_per_decision = self.config.updates_per_decision
        self.horizon = DEFAULT_BUDGET
        self.learner: SarlLearner | None = None  # built at the first state (its size fixes the layout)
        self._text = None if self.config.prompt_input == 'one_hot' else _TextRows(encoder, self.config.pool_capacity)
        self._step = 0
        self._counts: dict[tuple[int, int], int] = {}
        self._last_ended_episode = False  # the last stored step ended its episode (a verdict may relabel it)

    # -- the episode's budget --------------------------------------------------------------------
    def begin_episode(self, task: str, max_decisions: int = 0) -> None:
        with self._lock:
            if max_decisions > 0:
                self.horizon = int(max_decisions)
            self._step = 0
        super().begin_episode(task)

    @property
    def discount(self) -> float:
        return self.config.gamma or 1.0 - 1.0 / max(self.horizon, 2)

    @property
    def current_temperature(self) -> float:
        return self.schedule(self.learning_episodes)

    def _stored(self, features: np.ndarray, step: int) -> np.ndarray:
        """Return the state as the learner stores it: features (zeroed when blind) + decisions left / budget."""
        left = max(self.horizon - step, 0) / self.horizon if self.config.budget_feature else 0.0
        base = np.zeros_like(features) if self.config.blind else features
        return np.concatenate([base, np.float32([left])]).astype(np.float32)

    def _ensure_learner(self, feature_dim: int) -> SarlLearner:
        if self.learner is not None:
            if feature_dim != self.learner.layout.feature_dim:
                raise ValueError(f'state features have {feature_dim} values; this policy was built for '
                                 f'{self.learner.layout.feature_dim} (a state of another featurizer or camera size)')
            return self.learner
        camera = {'camera': True, 'vector': False}.get(self.config.state_input, feature_dim == OBSERVABLE_DIM)
        if camera and feature_dim < PROPRIO_DIM + 3 * PIXEL_SIDE ** 2:
            raise ValueError(f'state_input=camera needs the observable layout ({PROPRIO_DIM} proprioception values '
                             f'first, a {PIXEL_SIDE}x{PIXEL_SIDE} frame last), got {feature_dim} values; '
                             'use state_input=vector for other states')
        layout = StateLayout(feature_dim, camera, PROPRIO_DIM, PIXEL_SIDE)
        self.learner = SarlLearner(self.config, layout, self.seed,
                                   None if self._text is None else self._text.rows)
        return self.learner

    def _pool_ids(self, prompts) -> list[int | None]:
        ids = self.pool.add_all(prompts)
        if self._text is not None:
            self._text.fill(self.pool)
        return ids

    # -- acting ------------------------------------------------------------------------------------
    def q_members(self, features, prompts) -> np.ndarray:
        """Return every ensemble member's Q for prompts (in the pool) in a state at the current step: (E, C)."""
        with self._lock:
            ids = self._pool_ids([normalize_prompt(p) for p in prompts])
            if any(i is None for i in ids):
                raise PoolFull('some prompts are outside the full instruction pool')
            learner = self._ensure_learner(len(features))
            return learner.q_members(self._stored(np.asarray(features, np.float32), self._step), ids)

    def q_values(self, features, prompts) -> np.ndarray:
        """Return Q_sem (the ensemble's mean, what the policy samples from) for prompts in a state."""
        return self.q_members(features, prompts).mean(0)

    def note_outside_decision(self) -> None:
        """Count a decision taken for this policy by someone else (a demonstration): the budget moves on."""
        with self._lock:
            self._step += 1

    def _choose(self, features, candidates, prompts, task, greedy):
        ids = self._pool_ids(prompts)
        known = [i for i, pool_id in enumerate(ids) if pool_id is not None]
        if not known:
            raise ValueError('no candidate is in the full instruction pool: the proposer must choose from the pool '
                             '(wrap it in sarl_ros.core.sarl.pool.PooledProposer)')
        learner = self._ensure_learner(features.shape[0])
        q_known = learner.q_members(self._stored(features, self._step), [ids[i] for i in known]).mean(0)
        q = np.full(len(prompts), -np.inf)
        q[known] = q_known
        if self.config.count_bonus and not greedy:
            n = np.array([self._counts.get((self._step, ids[i]), 0) for i in known])
            q[known] += self.config.count_bonus / np.sqrt(1.0 + n)
        temperature = self.current_temperature
        self._step += 1
        if greedy:
            index = int(np.argmax(q))
            return index, np.where(np.isfinite(q), q, 0.0), one_hot(len(q), index), temperature
        probabilities = np.zeros(len(q))
        probabilities[known] = softmax(q[known], temperature)
        index = int(self.rng.choice(len(q), p=probabilities))
        return index, np.where(np.isfinite(q), q, 0.0), probabilities, temperature

    # -- learning ----------------------------------------------------------------------------------
    def _record(self, transition, state, prompt, reward, next_state, next_prompts) -> None:
        prompt_id = self.pool.require(prompt, 'a stored transition')
        next_ids = [i for i in self._pool_ids(next_prompts) if i is not None]
        step = int(transition.step)
        if not transition.terminal and not next_ids and not (self.config.budget_feature and transition.truncated):
            raise ValueError('a non-terminal transition needs next candidates in the instruction pool')
        learner = self._ensure_learner(state.shape[0])
        learner.add(self._stored(state, step), prompt_id, reward, self._stored(next_state, step + 1), next_ids,
                    bool(transition.terminal), int(transition.control_steps))
        self._last_ended_episode = bool(transition.terminal or transition.truncated)
        self._counts[(step, prompt_id)] = self._counts.get((step, prompt_id), 0) + 1

    def relabel_last_transition(self, reward: float) -> bool:
        """Give the episode that just ended another verdict: its last stored step gets `reward`, as a terminal one.

        ValueError when the last stored step did not end an episode (a verdict ends one: by success,
        failure, or the budget running out).
        """
        with self._lock:
            if self.learner is None or not len(self.learner.replay) or not self._last_ended_episode:
                raise ValueError('the last stored transition is not terminal: nothing to relabel')
            replay = self.learner.replay
            last = (replay.cursor - 1) % replay.capacity
            replay.rewards[last] = float(reward)
            replay.terminal[last] = True
            return True

    def stored_transitions(self) -> list[Transition]:
        """Return what the replay holds, oldest first, in the driver's terms (states without the budget value)."""
        with self._lock:
            if self.learner is None:
                return []
            replay, prompts = self.learner.replay, self.pool.prompts
            order = [(replay.cursor + i) % replay.capacity for i in range(replay.size)] \
                if replay.size == replay.capacity else range(replay.size)
            return [Transition(state=replay.states[i][:-1], prompt=prompts[replay.prompt_ids[i]],
                               reward=float(replay.rewards[i]), next_state=replay.next_states[i][:-1],
                               next_prompts=tuple(prompts[j] for j in replay.next_ids[i] if j >= 0),
                               terminal=bool(replay.terminal[i]), control_steps=int(replay.control_steps[i]))
                    for i in order]

    def update(self, n_updates: int) -> dict:
        super().update(n_updates)
        losses, qs = [], []
        temperature = self.current_temperature
        for _ in range(n_updates):
            with self._lock:
                if self.learner is None or len(self.learner.replay) == 0:
                    break
                temperature = self.current_temperature
                loss, mean_q = self.learner.update(temperature, self.discount)
                self.updates += 1
            losses.append(loss)
            qs.append(mean_q)
        return {'updates': len(losses), 'td_loss': float(np.mean(losses)) if losses else 0.0,
                'mean_q': float(np.mean(qs)) if qs else 0.0, 'temperature': float(temperature),
                'replay_size': len(self.learner.replay) if self.learner is not None else 0}

    # -- persistence -------------------------------------------------------------------------------
    def _method_state(self) -> dict:
        return {'pool': self.pool.state_dict(), 'horizon': self.horizon, 'step': self._step,
                'counts': [[s, p, n] for (s, p), n in self._counts.items()],
                'feature_dim': None if self.learner is None else self.learner.layout.feature_dim,
                'learner': None if self.learner is None else self.learner.state_dict()}

    def _load_method_state(self, d: dict) -> None:
        if int(d['pool']['capacity']) != self.pool.capacity:
            raise ValueError(f'the checkpoint has an instruction pool of {d["pool"]["capacity"]} prompts; this policy '
                             f'has {self.pool.capacity}: load it with pool_capacity={d["pool"]["capacity"]}')
        self.pool = InstructionPool.from_state_dict(d['pool'])
        if self._text is not None:
            self._text.fill(self.pool)
        self.horizon, self._step = int(d['horizon']), int(d['step'])
        self._counts = {(int(s), int(p)): int(n) for s, p, n in d['counts']}
        self.learner = None
        if d['feature_dim'] is not None:
            self._ensure_learner(int(d['feature_dim'])).load_state_dict(d['learner'])

    def load_state_dict(self, d: dict) -> None:
        if d.get('name') != self.name:
            raise ValueError(f'state of method {d.get("name")!r} cannot be loaded into {self.name!r}')
        mine = self.config.as_dict()
        saved = {k: v for k, v in d.get('kwargs', {}).items() if k in mine}
        changed = sorted(k for k in mine if k in saved and saved[k] != mine[k])
        if changed:
            raise ValueError(f'the checkpoint was trained with other SARL settings ({", ".join(changed)}); '
                             'start it with the same settings or use a fresh output directory')
        super().load_state_dict(d)


class _TextRows:
    """The text-embedding ablation: a fixed embedding per pool slot, filled as prompts join."""

    def __init__(self, encoder: str, capacity: int):
        from sarl_ros.core.perception.text_encoding import make_encoder
        self.encoder = make_encoder(encoder)
        self.rows = np.zeros((capacity, self.encoder.dim), dtype=np.float32)
        self.filled = 0

    def fill(self, pool: InstructionPool) -> None:
        if self.filled < len(pool):
            self.rows[self.filled:len(pool)] = self.encoder.encode(pool.prompts[self.filled:])
            self.filled = len(pool)
