"""A LIBERO-10 task as a SemanticEnv: each prompt runs as the skill of its nearest LIBERO-90 instruction."""
from __future__ import annotations

import numpy as np

from sarl_ros.core.mdp import Observation, StepOutcome
from sarl_ros.core.perception.text_encoding import DEFAULT_ENCODER
from sarl_ros.libero.client import LiberoWorker, niceness_from_env
from sarl_ros.libero.observable_state import state_features
from sarl_ros.libero.repertoire import Libero90Repertoire

CONTROL_STEPS = 400  # per prompt (20 s at 20 Hz): a full pick-and-place takes ~285
IMAGE_SIZE = 32  # the camera frame the state features are made from

_INFO: dict = {}


def suite_info(worker: LiberoWorker) -> dict:
    """Return the LIBERO-10 and LIBERO-90 instructions and goals (asked of the worker once per process)."""
    if not _INFO:
        _INFO.update(worker.call('info'))
    return _INFO


def decision_budget(goal_size: int) -> int:
    """Decisions per episode, fixed from the BDDL goal before any run: two per goal predicate, plus two."""
    return 2 * goal_size + 2


class LiberoEnv:
    """LIBERO-10 task `index` (implements sarl_ros.core.mdp.SemanticEnv)."""

    def __init__(self, index: int, seed: int = 0, encoder: str = DEFAULT_ENCODER, control_steps: int = CONTROL_STEPS,
                 image_size: int = IMAGE_SIZE, worker: LiberoWorker | None = None):
        if control_steps <= 0:
            raise ValueError(f'control_steps must be positive, got {control_steps}')
        self.worker = worker or LiberoWorker(niceness=niceness_from_env())
        info = suite_info(self.worker)
        if not 0 <= index < len(info['libero10']):
            raise ValueError(f'LIBERO-10 has tasks 0..{len(info["libero10"]) - 1}, not {index}')
        self.repertoire = Libero90Repertoire(info['libero90'], encoder=encoder)
        built = self.worker.call('build', suite='libero_10', task=index, image_size=image_size, seed=seed)
        self.index = index
        self.task = built['language']
        self.goal = built['goal']
        self.init_states = int(built['init_states'])
        self.max_decisions = decision_budget(len(self.goal))
        self.control_steps = control_steps
        self._seed_rng = np.random.default_rng(seed)
        self.decisions = 0
        self.history: list[str] = []

    def reset(self, seed: int | None = None) -> Observation:
        """Restore a packaged init state (chosen from seed) and return the observation."""
        if seed is None:
            seed = int(self._seed_rng.integers(2 ** 31))
        init = int(np.random.default_rng(seed).integers(self.init_states))
        raw = self.worker.call('reset', init=init, seed=seed)
        self.decisions, self.history = 0, []
        return self._observation(raw, extra={'init_state': init})

    def step(self, prompt: str) -> StepOutcome:
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f'a prompt must be a non-empty string, got {prompt!r}')
        skill = self.repertoire.nearest(prompt)
        reply = self.worker.call('execute', predicates=[list(p) for p in skill.goal], budget=self.control_steps)
        self.decisions += 1
        self.history.append(prompt)
        raw = reply['observation']
        success = bool(raw['success'])
        observation = self._observation(raw, extra={'skill': skill.instruction, 'similarity': skill.similarity,
                                                    'grounded': reply['grounded']})
        return StepOutcome(observation=observation, reward=1.0 if success else 0.0, terminal=success,
                           truncated=not success and self.decisions >= self.max_decisions, success=success,
                           control_steps=int(reply['control_steps']),
                           info={'skill': skill.instruction, 'similarity': skill.similarity,
                                 'grounded': reply['grounded']})

    def _observation(self, raw: dict, extra: dict) -> Observation:
        features = state_features(raw['proprio'], raw['image'], self.history, self.decisions / self.max_decisions)
        # 'perceived' is the ground truth the simulated VLM perceives (it adds its own errors); Q never reads info.
        return Observation(features=features, image=raw['image'],
                           info={'task': self.task, 'decisions': self.decisions,
                                 'perceived': {'goal_facts': list(raw['facts']), 'held': raw['held']}, **extra})

    def close(self) -> None:
        self.worker.close()
