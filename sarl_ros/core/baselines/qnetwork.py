"""Q_sem(s, l): a small MLP over [state features, prompt embedding].

The first layer is linear in the concatenation, so it is split into a state part and a prompt
part: a TD batch of B states with K next candidates each costs B + U first-layer products (U unique
prompts) instead of B * K, which keeps one update on a 256 batch well under the 20 ms budget.
"""
from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {'silu': nn.SiLU, 'relu': nn.ReLU}


class QNetwork(nn.Module):
    """Score (state, prompt embedding) pairs; the output layer starts near zero so Q starts near 0."""

    # hidden, activation: from the learner's config (LearnerConfig declares their defaults).
    def __init__(self, state_dim: int, prompt_dim: int, hidden: tuple[int, ...], activation: str):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f'unknown activation {activation!r}; choose one of {", ".join(ACTIVATIONS)}')
        if state_dim <= 0 or prompt_dim <= 0 or not hidden:
            raise ValueError(f'bad network shape: state_dim={state_dim} prompt_dim={prompt_dim} hidden={hidden}')
        self.state_dim, self.prompt_dim, self.hidden = int(state_dim), int(prompt_dim), tuple(int(h) for h in hidden)
        self.state_in = nn.Linear(self.state_dim, self.hidden[0])
        self.prompt_in = nn.Linear(self.prompt_dim, self.hidden[0], bias=False)
        layers: list[nn.Module] = []
        for width_in, width_out in zip(self.hidden, self.hidden[1:]):
            layers += [ACTIVATIONS[activation](), nn.Linear(width_in, width_out)]
        layers += [ACTIVATIONS[activation]()]
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Linear(self.hidden[-1], 1)
        nn.init.uniform_(self.head.weight, -1e-3, 1e-3)
        nn.init.zeros_(self.head.bias)

    def score_sets(self, states: torch.Tensor, prompt_embeddings: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Return Q of shape (B, K): states (B, ds), prompt_embeddings (U, dp), index (B, K) into U."""
        state_part = self.state_in(states)  # (B, H)
        prompt_part = self.prompt_in(prompt_embeddings)  # (U, H)
        hidden = state_part.unsqueeze(1) + prompt_part[index]  # (B, K, H)
        return self.head(self.trunk(hidden)).squeeze(-1)

    def forward(self, states: torch.Tensor, prompt_embeddings: torch.Tensor) -> torch.Tensor:
        """Return Q of shape (B,) for row-aligned states (B, ds) and prompt embeddings (B, dp)."""
        hidden = self.state_in(states) + self.prompt_in(prompt_embeddings)
        return self.head(self.trunk(hidden)).squeeze(-1)
