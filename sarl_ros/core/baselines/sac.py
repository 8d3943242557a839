"""Soft actor-critic (Haarnoja et al. 2018, with automatic entropy tuning) for bounded continuous actions.

A compact learner driven from outside (the core's episode loop feeds transitions, the caller decides
when to update), because the well-kept libraries in reach (stable-baselines3, tianshou, torchrl)
own the environment loop through gymnasium, while here the loop is the core's and runs the same on
the robot. Pieces: a tanh-squashed Gaussian actor scaled to [-action_scale, action_scale], twin Q
critics with Polyak-averaged targets (clipped double Q), temperature alpha tuned to a target entropy
of -action_dim, and a replay buffer held as torch tensors so a checkpoint stays weights-only.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from sarl_ros.core.config import Config, setting

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


@dataclass(frozen=True)
class SacConfig(Config):
    """SAC hyperparameters; the defaults are SAC's published ones unless the method's config says otherwise."""

    hidden: tuple[int, ...] = setting((256, 256), 'hidden layer widths of actor and critics')
    lr: float = setting(3e-4, 'Adam learning rate', low=1e-9, high=1.0)
    gamma: float = setting(0.99, 'discount per stored step', low=0.0, high=1.0)
    tau: float = setting(0.005, 'Polyak factor of the target critics', low=1e-9, high=1.0)
    batch_size: int = setting(256, 'SAC batch', low=1, high=1_000_000)
    replay_capacity: int = setting(100_000, 'replay size in transitions', low=1, high=100_000_000)
    learning_starts: int = setting(256, 'transitions stored before the first update', low=0)
    init_alpha: float = setting(1.0, 'initial entropy temperature alpha', low=1e-12)
    target_entropy: float | None = setting(None, 'entropy target (unset: -action_dim)')
    init_log_std: float = setting(0.0, "bias of the actor's log-std head: initial exploration width (pre-tanh)")

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, 'hidden', tuple(int(h) for h in self.hidden))


def _mlp(inputs: int, hidden: tuple[int, ...], outputs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(inputs, width), nn.ReLU()]
        inputs = width
    layers.append(nn.Linear(inputs, outputs))
    return nn.Sequential(*layers)


class SquashedGaussianActor(nn.Module):
    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...], init_log_std: float):
        super().__init__()
        self.body = _mlp(obs_dim, hidden[:-1], hidden[-1])
        self.mean = nn.Linear(hidden[-1], action_dim)
        self.log_std = nn.Linear(hidden[-1], action_dim)
        nn.init.zeros_(self.log_std.weight)
        nn.init.constant_(self.log_std.bias, init_log_std)

    def forward(self, obs: torch.Tensor, deterministic: bool = False):
        """Return (action in [-1, 1], its log-probability)."""
        h = torch.relu(self.body(obs))
        mean = self.mean(h)
        log_std = self.log_std(h).clamp(LOG_STD_MIN, LOG_STD_MAX)
        std = log_std.exp()
        pre = mean if deterministic else mean + std * torch.randn_like(mean)
        action = torch.tanh(pre)
        log_prob = (-0.5 * ((pre - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        # Change of variables through tanh (the numerically stable form).
        log_prob = log_prob - (2 * (math.log(2) - pre - nn.functional.softplus(-2 * pre))).sum(-1)
        return action, log_prob


class ReplayBuffer:
    """A ring buffer of (obs, action, reward, next_obs, done) as float32 tensors."""

    def __init__(self, obs_dim: int, action_dim: int, capacity: int):
        self.capacity = int(capacity)
        self.obs = torch.zeros(self.capacity, obs_dim)
        self.action = torch.zeros(self.capacity, action_dim)
        self.reward = torch.zeros(self.capacity)
        self.next_obs = torch.zeros(self.capacity, obs_dim)
        self.done = torch.zeros(self.capacity)
        self.size = 0
        self.cursor = 0

    def add(self, obs, action, reward: float, next_obs, done: bool) -> None:
        i = self.cursor
        self.obs[i] = torch.as_tensor(obs, dtype=torch.float32)
        self.action[i] = torch.as_tensor(action, dtype=torch.float32)
        self.reward[i] = float(reward)
        self.next_obs[i] = torch.as_tensor(next_obs, dtype=torch.float32)
        self.done[i] = float(done)
        self.cursor = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch: int, generator: torch.Generator):
        index = torch.randint(0, self.size, (batch,), generator=generator)
        return self.obs[index], self.action[index], self.reward[index], self.next_obs[index], self.done[index]

    def state_dict(self) -> dict:
        n = self.size
        return {'obs': self.obs[:n].clone(), 'action': self.action[:n].clone(), 'reward': self.reward[:n].clone(),
                'next_obs': self.next_obs[:n].clone(), 'done': self.done[:n].clone(), 'cursor': self.cursor}

    def load_state_dict(self, d: dict) -> None:
        n = int(d['obs'].shape[0])
        if n > self.capacity:
            raise ValueError(f'replay of {n} transitions does not fit a capacity of {self.capacity}')
        for key in ('obs', 'action', 'reward', 'next_obs', 'done'):
            getattr(self, key)[:n] = d[key]
        self.size, self.cursor = n, int(d['cursor'])


class SAC:
    """SAC over observations of obs_dim values and actions in [-action_scale, action_scale]^action_dim."""

    def __init__(self, obs_dim: int, action_dim: int, config: SacConfig | None = None, action_scale=1.0,
                 seed: int = 0):
        if obs_dim <= 0 or action_dim <= 0:
            raise ValueError(f'obs_dim and action_dim must be positive, got {obs_dim}, {action_dim}')
        self.config = config or SacConfig()
        cfg = self.config
        self.obs_dim, self.action_dim = int(obs_dim), int(action_dim)
        scale = np.broadcast_to(np.asarray(action_scale, dtype=np.float32), (self.action_dim,))
        if np.any(scale <= 0):
            raise ValueError(f'action_scale must be positive, got {action_scale}')
        self.action_scale = torch.as_tensor(scale.copy())
        torch.manual_seed(seed)
        self.generator = torch.Generator().manual_seed(seed)
        self.actor = SquashedGaussianActor(obs_dim, action_dim, cfg.hidden, cfg.init_log_std)
        self.critics = nn.ModuleList([_mlp(obs_dim + action_dim, cfg.hidden, 1) for _ in range(2)])
        self.targets = nn.ModuleList([_mlp(obs_dim + action_dim, cfg.hidden, 1) for _ in range(2)])
        self.targets.load_state_dict(self.critics.state_dict())
        self.log_alpha = torch.tensor(math.log(cfg.init_alpha), requires_grad=True)
        self.target_entropy = -float(action_dim) if cfg.target_entropy is None else float(cfg.target_entropy)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr)
        self.critic_opt = torch.optim.Adam(self.critics.parameters(), lr=cfg.lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.lr)
        self.replay = ReplayBuffer(obs_dim, action_dim, cfg.replay_capacity)
        self.updates = 0

    def act(self, obs, deterministic: bool = False) -> np.ndarray:
        """Return an action (scaled) for one observation: sampled, or the mean's squash when deterministic."""
        obs = self._checked(obs)
        with torch.no_grad():
            action, _ = self.actor(torch.as_tensor(obs).unsqueeze(0), deterministic)
        return (action[0] * self.action_scale).numpy().astype(np.float64)

    def add(self, obs, action, reward: float, next_obs, done: bool) -> None:
        """Store a transition; action in the scaled range (it is stored normalised to [-1, 1])."""
        obs, next_obs = self._checked(obs), self._checked(next_obs)
        action = np.asarray(action, dtype=np.float32).reshape(-1)
        if action.shape != (self.action_dim,) or not np.all(np.isfinite(action)) or not math.isfinite(reward):
            raise ValueError(f'bad transition: action {action!r}, reward {reward!r}')
        normalised = np.clip(action / self.action_scale.numpy(), -1.0, 1.0)
        self.replay.add(obs, normalised, float(reward), next_obs, bool(done))

    def ready(self) -> bool:
        return self.replay.size >= max(self.config.learning_starts, 1)

    def update(self) -> dict:
        """One gradient step of critics, actor and alpha; empty dict while the replay is warming up."""
        if not self.ready():
            return {}
        cfg = self.config
        obs, action, reward, next_obs, done = self.replay.sample(cfg.batch_size, self.generator)
        alpha = self.log_alpha.exp().detach()
        with torch.no_grad():
            next_action, next_log_prob = self.actor(next_obs)
            target_q = torch.min(*[t(torch.cat([next_obs, next_action], -1)).squeeze(-1) for t in self.targets])
            backup = reward + cfg.gamma * (1.0 - done) * (target_q - alpha * next_log_prob)
        pair = torch.cat([obs, action], -1)
        critic_loss = sum(nn.functional.mse_loss(c(pair).squeeze(-1), backup) for c in self.critics)
        self.critic_opt.zero_grad()
        critic_loss.backward()
        self.critic_opt.step()

        new_action, log_prob = self.actor(obs)
        new_pair = torch.cat([obs, new_action], -1)
        q_new = torch.min(*[c(new_pair).squeeze(-1) for c in self.critics])
        actor_loss = (alpha * log_prob - q_new).mean()
        self.actor_opt.zero_grad()
        actor_loss.backward()
        self.actor_opt.step()

        alpha_loss = -(self.log_alpha * (log_prob.detach() + self.target_entropy)).mean()
        self.alpha_opt.zero_grad()
        alpha_loss.backward()
        self.alpha_opt.step()

        with torch.no_grad():
            for target, critic in zip(self.targets, self.critics):
                for tp, cp in zip(target.parameters(), critic.parameters()):
                    tp.mul_(1.0 - cfg.tau).add_(cp, alpha=cfg.tau)
        self.updates += 1
        return {'critic_loss': critic_loss.item(), 'actor_loss': actor_loss.item(),
                'alpha': alpha.item(), 'mean_q': q_new.mean().item()}

    def state_dict(self) -> dict:
        return {'config': asdict(self.config), 'actor': self.actor.state_dict(), 'critics': self.critics.state_dict(),
                'targets': self.targets.state_dict(), 'log_alpha': self.log_alpha.detach().clone(),
                'actor_opt': self.actor_opt.state_dict(), 'critic_opt': self.critic_opt.state_dict(),
                'alpha_opt': self.alpha_opt.state_dict(), 'replay': self.replay.state_dict(),
                'generator': self.generator.get_state(), 'updates': self.updates}

    def load_state_dict(self, d: dict) -> None:
        self.actor.load_state_dict(d['actor'])
        self.critics.load_state_dict(d['critics'])
        self.targets.load_state_dict(d['targets'])
        with torch.no_grad():
            self.log_alpha.copy_(d['log_alpha'])
        self.actor_opt.load_state_dict(d['actor_opt'])
        self.critic_opt.load_state_dict(d['critic_opt'])
        self.alpha_opt.load_state_dict(d['alpha_opt'])
        self.replay.load_state_dict(d['replay'])
        self.generator.set_state(d['generator'])
        self.updates = int(d['updates'])

    def _checked(self, obs) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float32).reshape(-1)
        if obs.shape != (self.obs_dim,) or not np.all(np.isfinite(obs)):
            raise ValueError(f'expected {self.obs_dim} finite observation values, got shape {obs.shape}')
        return obs
