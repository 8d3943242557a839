"""The TD update of the paper's SARL, top to bottom.

A replayed transition is (s, l, r, s', A', done): state, chosen prompt's pool index, sparse reward,
next state, the next decision's candidate indices, and whether the episode ended there. The target is
expected SARSA under the softmax policy over the stored next candidates, with the ensemble of target
networks reduced by a min (the paper's pessimism against over-estimated prompts):

    Qbar(s', l')  = min_e Q_target_e(s', l')
    pi(l' | s')   = softmax over A' of mean_e Q_target_e(s', l') / T
    y             = r + gamma * (1 - done) * sum_{l' in A'} pi(l' | s') Qbar(s', l')

Every member regresses to the same y on the same batch (Huber loss); the members differ by their
initialisation. With budget_feature on, a step at which the decision budget ran out is `done` too:
the state carries the decisions left (its last value), so the finite-horizon value is 0 where the
next state has none left. The replay keeps the driver's own terminal flag; `done` is derived.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from sarl_ros.core.replay import PAD, ReplayBuffer
from sarl_ros.core.sarl.config import SarlConfig
from sarl_ros.core.sarl.network import EnsembleQ
from sarl_ros.core.baselines.td_learner import RunningNormaliser


class StateLayout:
    """How a stored state splits into the vector part (normalised) and the image pixels.

    Stored state = [features..., decisions left / budget]. 'camera': vector = proprioception + budget,
    pixels = the features' last 3 * side**2 values; 'vector': vector = all features + budget.
    """

    def __init__(self, feature_dim: int, camera: bool, proprio_dim: int, pixel_side: int):
        self.feature_dim, self.camera = int(feature_dim), bool(camera)
        self.proprio_dim, self.pixel_side = int(proprio_dim), int(pixel_side) if camera else 0
        self.pixel_dim = 3 * self.pixel_side ** 2
        self.vector_index = (np.r_[np.arange(proprio_dim), feature_dim] if camera
                             else np.arange(feature_dim + 1))
        self.vector_dim = len(self.vector_index)

    def split(self, stored: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        pixels = stored[:, self.feature_dim - self.pixel_dim:self.feature_dim] if self.camera else None
        return stored[:, self.vector_index], pixels


class SarlLearner:
    """Own the ensemble, its target copy, the optimiser, the replay and the input normaliser."""

    def __init__(self, config: SarlConfig, layout: StateLayout, seed: int, prompt_embeddings=None):
        self.config, self.layout = config, layout
        self.rng = np.random.default_rng(seed)
        # Text ablation: a fixed embedding per pool slot (filled as prompts join) replaces the one-hot row.
        self.embeddings = prompt_embeddings
        prompt_dim = 0 if prompt_embeddings is None else prompt_embeddings.shape[1]
        build = dict(vector_dim=layout.vector_dim, image_side=layout.pixel_side, prompt_rows=config.pool_capacity,
                     ensemble=config.ensemble, hidden=config.hidden, image_features=config.image_features,
                     shared_encoder=config.shared_encoder, q_init=config.q_init, prompt_dim=prompt_dim)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = EnsembleQ(**build)
        self.target = EnsembleQ(**build)
        self.target.load_state_dict(self.net.state_dict())
        self.target.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.lr)
        self.replay = ReplayBuffer(config.replay_capacity, layout.feature_dim + 1)
        self.normaliser = RunningNormaliser(layout.vector_dim)
        self.updates = 0

    # -- inputs ----------------------------------------------------------------------------------
    def _inputs(self, stored: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        vectors, pixels = self.layout.split(stored)
        vectors = torch.as_tensor(self.normaliser.apply(vectors))
        return vectors, None if pixels is None else torch.as_tensor(np.ascontiguousarray(pixels))

    def _prompts(self, ids: np.ndarray) -> torch.Tensor:
        ids = torch.as_tensor(np.where(ids == PAD, 0, ids), dtype=torch.long)
        return ids if self.embeddings is None else torch.as_tensor(self.embeddings)[ids]

    # -- acting ----------------------------------------------------------------------------------
    def q_members(self, stored_state: np.ndarray, prompt_ids: list[int]) -> np.ndarray:
        """Return every member's Q for the prompts in one state: (E, C)."""
        vectors, pixels = self._inputs(stored_state[None, :])
        with torch.no_grad():
            q = self.net(vectors, pixels, self._prompts(np.asarray([prompt_ids])))
        return q[:, 0].numpy().astype(np.float64)

    # -- learning --------------------------------------------------------------------------------
    def add(self, state: np.ndarray, prompt_id: int, reward: float, next_state: np.ndarray, next_ids: list[int],
            terminal: bool, control_steps: int = 1) -> None:
        self.replay.add(state, prompt_id, reward, next_state, next_ids, terminal, control_steps)
        for stored in (state, next_state):
            self.normaliser.add(self.layout.split(stored[None, :])[0][0].astype(np.float64))

    def done(self, idx: np.ndarray) -> np.ndarray:
        """Return which replayed steps end their episode for the TD target: terminal, or no decision left."""
        terminal = self.replay.terminal[idx]
        if not self.config.budget_feature:
            return terminal
        return terminal | (self.replay.next_states[idx, -1] <= 1e-6)

    def update(self, temperature: float, gamma: float) -> tuple[float, float]:
        """One TD step on a replayed batch; return (loss, mean Q of the chosen prompts)."""
        cfg, replay = self.config, self.replay
        idx = replay.sample_indices(cfg.batch_size, self.rng)
        next_ids = replay.next_ids[idx]
        has_next = torch.as_tensor(next_ids != PAD)
        rewards = torch.as_tensor(replay.rewards[idx])
        done = torch.as_tensor(self.done(idx))
        with torch.no_grad():
            next_q = self.target(*self._inputs(replay.next_states[idx]), self._prompts(next_ids))  # (E, B, C)
            pessimistic = next_q.min(0).values if cfg.target_reduction == 'min' else next_q.mean(0)
            logits = (next_q.mean(0) / temperature).masked_fill(~has_next, float('-inf'))
            policy = torch.softmax(logits, dim=1).nan_to_num(0.0)  # a row without candidates: all zero
            next_value = (policy * pessimistic.masked_fill(~has_next, 0.0)).sum(1)
            targets = rewards + gamma * (~done).float() * next_value
        chosen = self._prompts(replay.prompt_ids[idx][:, None].astype(np.int64))
        q = self.net(*self._inputs(replay.states[idx]), chosen)[:, :, 0]  # (E, B)
        loss = nn.functional.huber_loss(q, targets.expand_as(q), reduction='mean') * q.shape[0]
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), 10.0)
        self.optimizer.step()
        with torch.no_grad():
            online, target = list(self.net.parameters()), list(self.target.parameters())
            torch._foreach_mul_(target, 1.0 - cfg.tau)
            torch._foreach_add_(target, online, alpha=cfg.tau)
        self.updates += 1
        return float(loss.detach()) / q.shape[0], float(q.detach().mean())

    # -- persistence -------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {'net': self.net.state_dict(), 'target': self.target.state_dict(),
                'optimizer': self.optimizer.state_dict(), 'normaliser': self.normaliser.state_dict(),
                'rng': self.rng.bit_generator.state, 'updates': self.updates,
                'replay': {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v)
                           for k, v in self.replay.state_dict().items()}}

    def load_state_dict(self, d: dict) -> None:
        self.net.load_state_dict(d['net'])
        self.target.load_state_dict(d['target'])
        self.optimizer.load_state_dict(d['optimizer'])
        self.normaliser.load_state_dict(d['normaliser'])
        self.rng.bit_generator.state = d['rng']
        self.updates = int(d['updates'])
        self.replay = ReplayBuffer.from_state_dict(
            {k: (v.numpy() if isinstance(v, torch.Tensor) else v) for k, v in d['replay'].items()})
