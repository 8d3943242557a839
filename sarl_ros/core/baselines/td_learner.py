"""Temporal-difference learning of Q_sem(s, l) over replayed semantic transitions.

Target for a transition (s, l, r, s', L', terminal, k control steps):
    y = r + [not terminal] * discount * V(s'),  discount = gamma (per decision) or gamma ** k (semi-MDP)
    V(s') = max_{l' in L'} Q_target(s', l')                       target='max' (default)
          = T * log sum_{l' in L'} exp(Q_target(s', l') / T)        target='soft'
          = T * log mean_{l' in L'} exp(Q_target(s', l') / T)       target='mellowmax'
A truncated transition (budget ran out) bootstraps like any non-terminal one, so the fixed point is the
infinite-horizon Q and does not depend on the budget.

Why 'max' is the default: the soft value adds up to T * log |L'| per step, and an action that keeps the
episode going (a prompt that does nothing) collects that bonus forever, worth T log|L'| / (1 - gamma)
= 4.4 at T=0.2, 9 candidates, gamma=0.9 -- more than the task reward 1, so the soft-optimal policy
would stall. 'mellowmax' (log-mean-exp) has no such bonus and lies between the mean and the max.

Defaults aim at few-shot learning (about 60 episodes of 3-8 decisions): a 2x128 ReLU network (SiLU
learned the same on the toy MDPs but costs more per update), Adam at 3e-3, Huber loss, gradient norm
clipped at 10, Polyak averaging with tau=0.05 (the target follows the online network within ~20
updates, i.e. ~3 transitions at 8 updates each), batch 64 sampled with replacement, and running
mean/std normalisation of state features (simulator states in metres would otherwise barely move the
first layer).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from sarl_ros.core.baselines.config import BaselineConfig
from sarl_ros.core.baselines.qnetwork import QNetwork
from sarl_ros.core.config import setting
from sarl_ros.core.replay import PAD, PromptVocabulary, ReplayBuffer

TARGETS = ('max', 'soft', 'mellowmax')
DISCOUNTS = ('step', 'control')


@dataclass(frozen=True)
class LearnerConfig(BaselineConfig):
    """The TD learner's settings (gamma from BaselineConfig; the module docstring says why these defaults)."""

    target: str = setting('max', 'value of the next state: max, soft or mellowmax (why max: module docstring)',
                          choices=TARGETS)
    discount: str = setting('step', 'discount per decision step, or per control step (a semi-MDP)', choices=DISCOUNTS)
    hidden: tuple[int, ...] = setting((128, 128), 'hidden layer widths of the Q network')
    activation: str = setting('relu', 'activation of the Q network')
    lr: float = setting(3e-3, 'Adam learning rate', low=1e-9, high=1.0)
    batch_size: int = setting(64, 'TD batch, sampled with replacement', low=1, high=1_000_000)
    tau: float = setting(0.05, 'Polyak factor of the target network', low=1e-9, high=1.0)
    huber_delta: float = setting(1.0, 'Huber loss threshold', low=0.0)
    grad_clip: float = setting(10.0, 'gradient norm clip', low=0.0)
    replay_capacity: int = setting(50_000, 'replay size in transitions', low=1, high=100_000_000)
    normalize_states: bool = setting(True, 'running mean/std normalisation of the state features')

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, 'hidden', tuple(int(h) for h in self.hidden))


def next_state_values(next_q: torch.Tensor, mask: torch.Tensor, target: str,
                      temperature: float | None) -> torch.Tensor:
    """Return V(s') per row from Q over the next candidates (B, K); rows without candidates get 0."""
    has_any = mask.any(dim=1)
    if target == 'max':
        values = next_q.masked_fill(~mask, float('-inf')).max(dim=1).values
    else:
        if temperature is None or temperature <= 0:
            raise ValueError(f'a soft target needs a positive temperature, got {temperature}')
        scaled = (next_q / temperature).masked_fill(~mask, float('-inf'))
        values = temperature * torch.logsumexp(scaled, dim=1)
        if target == 'mellowmax':
            values = values - temperature * torch.log(mask.sum(dim=1).clamp(min=1).to(next_q.dtype))
    return torch.where(has_any, values, torch.zeros_like(values))


def td_targets(rewards: torch.Tensor, terminal: torch.Tensor, control_steps: torch.Tensor, next_q: torch.Tensor,
               mask: torch.Tensor, *, gamma: float, target: str = LearnerConfig.target,
               temperature: float | None = None, discount: str = LearnerConfig.discount) -> torch.Tensor:
    """Return r + [not terminal] * discount * V(s') for a batch (see the module docstring)."""
    values = next_state_values(next_q, mask, target, temperature)
    if discount == 'control':
        factor = torch.pow(torch.full_like(rewards, gamma), control_steps.to(rewards.dtype))
    else:
        factor = torch.full_like(rewards, gamma)
    return rewards + (~terminal).to(rewards.dtype) * factor * values


class RunningNormaliser:
    """Running mean and variance of state features (Welford), for input scaling."""

    def __init__(self, dim: int):
        self.count = 0
        self.mean = np.zeros(dim, dtype=np.float64)
        self.m2 = np.zeros(dim, dtype=np.float64)

    def add(self, x: np.ndarray) -> None:
        self.count += 1
        delta = x - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (x - self.mean)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Return (x - mean) / std, with std floored at 0.01 and the result clipped to [-5, 5]."""
        if self.count < 2:
            return np.asarray(x, dtype=np.float32)
        std = np.sqrt(self.m2 / self.count + 1e-4)
        return np.clip((x - self.mean) / std, -5.0, 5.0).astype(np.float32)

    def state_dict(self) -> dict:
        return {'count': self.count, 'mean': torch.from_numpy(self.mean.copy()), 'm2': torch.from_numpy(self.m2.copy())}

    def load_state_dict(self, d: dict) -> None:
        self.count = int(d['count'])
        self.mean = d['mean'].numpy().astype(np.float64).copy()
        self.m2 = d['m2'].numpy().astype(np.float64).copy()


class TDLearner:
    """Own Q_sem, its target network, the optimiser and the replay memory (not thread-safe by itself)."""

    def __init__(self, encoder, config: LearnerConfig | None = None, seed: int = 0):
        self.encoder = encoder
        self.config = config or LearnerConfig()
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.vocab = PromptVocabulary()
        self._embeddings = np.zeros((0, encoder.dim), dtype=np.float32)
        self.state_dim: int | None = None
        self.net: QNetwork | None = None
        self.target_net: QNetwork | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.replay: ReplayBuffer | None = None
        self.normaliser: RunningNormaliser | None = None
        self.updates = 0

    # -- setup -------------------------------------------------------------------------------
    def ensure_state_dim(self, dim: int) -> None:
        """Build the networks for state features of this size on first use; refuse another size later."""
        if self.state_dim is not None:
            if dim != self.state_dim:
                raise ValueError(f'state features have {dim} values; this learner was built for {self.state_dim}')
            return
        if dim <= 0:
            raise ValueError('state features are empty')
        cfg = self.config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.net = QNetwork(dim, self.encoder.dim, cfg.hidden, cfg.activation)
        self.target_net = QNetwork(dim, self.encoder.dim, cfg.hidden, cfg.activation)
        self.target_net.load_state_dict(self.net.state_dict())
        self.target_net.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, foreach=True)
        self.replay = ReplayBuffer(cfg.replay_capacity, dim)
        self.normaliser = RunningNormaliser(dim)
        self.state_dim = dim

    def _prompt_ids(self, prompts: list[str]) -> list[int]:
        new = [p for p in dict.fromkeys(prompts) if p not in self.vocab]
        if new:
            vectors = self.encoder.encode(new)
            for p in new:
                self.vocab.add(p)
            self._embeddings = np.concatenate([self._embeddings, vectors.astype(np.float32)])
        return [self.vocab.get(p) for p in prompts]

    def _states(self, features: np.ndarray) -> torch.Tensor:
        x = self.normaliser.apply(features) if self.config.normalize_states else features
        return torch.as_tensor(np.asarray(x, dtype=np.float32))

    # -- acting --------------------------------------------------------------------------------
    def q_values(self, features: np.ndarray, prompts: list[str]) -> np.ndarray:
        """Return Q_sem(s, l) for each prompt (normalised text) in one state."""
        self.ensure_state_dim(features.shape[0])
        # Duplicates are scored once, so equal prompts get exactly equal values.
        unique = list(dict.fromkeys(prompts))
        position = {p: i for i, p in enumerate(unique)}
        embeddings = torch.from_numpy(self.encoder.encode(unique))
        with torch.no_grad():
            q = self.net.score_sets(self._states(features[None, :]), embeddings, torch.arange(len(unique))[None, :])
        return q[0].numpy().astype(np.float64)[[position[p] for p in prompts]]

    # -- learning ------------------------------------------------------------------------------
    def add(self, state: np.ndarray, prompt: str, reward: float, next_state: np.ndarray, next_prompts: list[str],
            terminal: bool, control_steps: int) -> None:
        """Store one validated, normalised transition."""
        self.ensure_state_dim(state.shape[0])
        ids = self._prompt_ids([prompt] + list(next_prompts))
        self.replay.add(state, ids[0], reward, next_state, ids[1:], terminal, control_steps)
        self.normaliser.add(state.astype(np.float64))
        self.normaliser.add(next_state.astype(np.float64))

    def update(self, temperature: float) -> tuple[float, float]:
        """Run one TD update on a replayed batch; return (Huber loss, mean Q of the batch)."""
        cfg = self.config
        replay = self.replay
        idx = replay.sample_indices(cfg.batch_size, self.rng)
        next_ids = replay.next_ids[idx]
        mask_np = next_ids != PAD
        chosen = replay.prompt_ids[idx]
        unique, inverse = np.unique(np.concatenate([chosen, next_ids[mask_np]]), return_inverse=True)
        embeddings = torch.from_numpy(self._embeddings[unique])
        chosen_index = torch.from_numpy(inverse[:len(idx)]).unsqueeze(1)
        next_index = np.zeros(next_ids.shape, dtype=np.int64)
        next_index[mask_np] = inverse[len(idx):]
        states = self._states(replay.states[idx])
        next_states = self._states(replay.next_states[idx])
        mask = torch.from_numpy(mask_np)
        with torch.no_grad():
            next_q = self.target_net.score_sets(next_states, embeddings, torch.from_numpy(next_index))
            targets = td_targets(torch.from_numpy(replay.rewards[idx]), torch.from_numpy(replay.terminal[idx]),
                                 torch.from_numpy(replay.control_steps[idx]), next_q, mask, gamma=cfg.gamma,
                                 target=cfg.target, temperature=temperature, discount=cfg.discount)
        q = self.net.score_sets(states, embeddings, chosen_index).squeeze(1)
        loss = nn.functional.huber_loss(q, targets, delta=cfg.huber_delta)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), cfg.grad_clip)
        self.optimizer.step()
        with torch.no_grad():
            online, target = list(self.net.parameters()), list(self.target_net.parameters())
            torch._foreach_mul_(target, 1.0 - cfg.tau)
            torch._foreach_add_(target, online, alpha=cfg.tau)
        self.updates += 1
        return float(loss.detach()), float(q.detach().mean())

    # -- persistence ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Return everything needed to continue learning identically (tensors and plain values only)."""
        d = {'config': {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self.config).items()},
             'seed': self.seed, 'encoder': self.encoder.name, 'encoder_dim': self.encoder.dim,
             'rng': self.rng.bit_generator.state, 'prompts': list(self.vocab.prompts),
             'embeddings': torch.from_numpy(self._embeddings.copy()), 'state_dim': self.state_dim,
             'updates': self.updates}
        if self.state_dim is not None:
            d.update(net=self.net.state_dict(), target_net=self.target_net.state_dict(),
                     optimizer=self.optimizer.state_dict(), normaliser=self.normaliser.state_dict(),
                     replay={k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v)
                             for k, v in self.replay.state_dict().items()})
        return d

    def load_state_dict(self, d: dict) -> None:
        """Restore from state_dict(); the encoder must be the one the state was saved with."""
        if d['encoder'] != self.encoder.name or int(d['encoder_dim']) != self.encoder.dim:
            raise ValueError(f'the checkpoint was trained with the {d["encoder"]!r} encoder ({d["encoder_dim"]}-d); '
                             f'this learner uses {self.encoder.name!r} ({self.encoder.dim}-d)')
        self.rng.bit_generator.state = d['rng']
        self.vocab = PromptVocabulary(list(d['prompts']))
        self._embeddings = d['embeddings'].numpy().astype(np.float32).copy()
        self.updates = int(d['updates'])
        if d['state_dim'] is None:
            return
        self.state_dim = None
        self.ensure_state_dim(int(d['state_dim']))
        self.net.load_state_dict(d['net'])
        self.target_net.load_state_dict(d['target_net'])
        self.optimizer.load_state_dict(d['optimizer'])
        self.normaliser.load_state_dict(d['normaliser'])
        self.replay = ReplayBuffer.from_state_dict(
            {k: (v.numpy() if isinstance(v, torch.Tensor) else v) for k, v in d['replay'].items()})
