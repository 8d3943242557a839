"""sarl_text: the first SARL learner, kept as an ablation of the paper's build (sarl_ros.core.sarl)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from sarl_ros.core.baselines.simple import BaselinePolicy
from sarl_ros.core.baselines.td_learner import LearnerConfig, TDLearner
from sarl_ros.core.config import register_config, setting
from sarl_ros.core.perception.text_encoding import DEFAULT_ENCODER, make_encoder
from sarl_ros.core.policy import TemperatureSchedule, checked_features, one_hot, softmax, without_pixels
from sarl_ros.core.proposals import normalize_prompt


@register_config('method', 'sarl_text')
@dataclass(frozen=True)
class SarlTextConfig(LearnerConfig):
    """sarl_text's settings: the TD learner's (LearnerConfig) and its temperature schedule (SarlPolicy says why)."""

    temperature_final: float = setting(0.01, 'temperature the schedule decays to', low=1e-4, high=100.0)
    temperature_halflife: float = setting(10.0, 'half-life of the temperature decay, in learning episodes',
                                          low=0.0, high=1e6)


class SarlPolicy(BaselinePolicy):
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
      target='max' (see sarl_ros.core.baselines.td_learner for why not the soft value), discount per decision
        step ('control' for a semi-MDP), and the learner defaults documented there.
    The number of updates per transition is the caller's (run_episode's and the node's
    updates_per_decision).
    """

    name = 'sarl_text'
    config_class = SarlTextConfig

    def __init__(self, config: SarlTextConfig | None = None, *, seed: int = 0, encoder: str = DEFAULT_ENCODER):
        super().__init__(config, seed=seed, encoder=encoder)
        c = self.config
        self.schedule = TemperatureSchedule(c.temperature, c.temperature_final, c.temperature_halflife)
        self.learner = TDLearner(make_encoder(encoder), c, seed=seed)

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
