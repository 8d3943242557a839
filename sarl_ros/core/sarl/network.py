"""Q_sem as the paper builds it: an ensemble of Q networks over (image, proprioception, prompt identity).

    state  = [CNN(image) or nothing, proprioception or the whole feature vector, decisions left]
    Q_e(s, l) = MLP_e([state, onehot(l)])          e = 1..E, a 3-layer MLP of width `hidden`

The one-hot prompt enters the first layer, which is linear, so its contribution is one row of that
layer's weights: a batch of B states with C candidates each costs B state products plus a row lookup,
not B * C full products. The E heads are computed together as batched matrix products (weights
stacked on a leading ensemble axis), which on a CPU costs about as much as one wide head. The CNN is
one shared encoder (default) or one per member (`shared_encoder=False`, the costlier ablation).
With prompt_input='text' the prompt's fixed text embedding replaces the one-hot row (an ablation).
"""
from __future__ import annotations

import math

import torch
from torch import nn


class ImageEncoder(nn.Module):
    """Three stride-2 convolutions and a linear layer: a side x side RGB frame -> `out` features."""

    def __init__(self, side: int, out: int):
        super().__init__()
        self.side = int(side)
        self.convs = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten())
        reduced = math.ceil(math.ceil(math.ceil(self.side / 2) / 2) / 2)
        self.project = nn.Sequential(nn.Linear(32 * reduced * reduced, out), nn.ReLU())

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.project(self.convs(pixels.view(-1, 3, self.side, self.side)))


def _stacked(ensemble: int, fan_in: int, fan_out: int) -> tuple[nn.Parameter, nn.Parameter]:
    bound = 1.0 / math.sqrt(fan_in)
    weight = nn.Parameter(torch.empty(ensemble, fan_in, fan_out).uniform_(-bound, bound))
    bias = nn.Parameter(torch.empty(ensemble, 1, fan_out).uniform_(-bound, bound))
    return weight, bias


class EnsembleQ(nn.Module):
    """E Q-heads scoring prompt identities (or embeddings) in states; see the module docstring."""

    def __init__(self, *, vector_dim: int, image_side: int, prompt_rows: int, ensemble: int, hidden: int,
                 image_features: int, shared_encoder: bool, q_init: float, prompt_dim: int = 0):
        super().__init__()
        self.ensemble, self.image_side = int(ensemble), int(image_side)
        self.shared_encoder = bool(shared_encoder)
        encoders = 1 if shared_encoder else self.ensemble
        self.encoders = nn.ModuleList(ImageEncoder(image_side, image_features) for _ in range(encoders)) \
            if image_side else nn.ModuleList()
        state_dim = vector_dim + (image_features if image_side else 0)
        self.w1, self.b1 = _stacked(self.ensemble, state_dim, hidden)
        # One-hot identity: a row per pool slot. Text: a linear map of a fixed embedding.
        self.prompt_dim = int(prompt_dim)
        rows = prompt_dim if prompt_dim else prompt_rows
        self.prompt_rows = nn.Parameter(torch.empty(self.ensemble, rows, hidden).uniform_(
            -1 / math.sqrt(max(rows, 1)), 1 / math.sqrt(max(rows, 1))))
        self.w2, self.b2 = _stacked(self.ensemble, hidden, hidden)
        self.w3, self.b3 = _stacked(self.ensemble, hidden, 1)
        with torch.no_grad():  # the last layer starts near zero, so Q starts at q_init (optimism)
            self.w3.uniform_(-1e-3, 1e-3)
            self.b3.fill_(float(q_init))

    def encode_states(self, vectors: torch.Tensor, pixels: torch.Tensor | None) -> torch.Tensor:
        """Return the first layer's state part, (E, B, hidden)."""
        if not self.image_side:
            return torch.einsum('bd,edh->ebh', vectors, self.w1) + self.b1
        codes = [encoder(pixels) for encoder in self.encoders]
        if self.shared_encoder:
            state = torch.cat([codes[0], vectors], dim=1)
            return torch.einsum('bd,edh->ebh', state, self.w1) + self.b1
        state = torch.stack([torch.cat([code, vectors], dim=1) for code in codes])  # (E, B, d)
        return torch.einsum('ebd,edh->ebh', state, self.w1) + self.b1

    def prompt_part(self, prompts: torch.Tensor) -> torch.Tensor:
        """prompts: (B, C) pool indices (one-hot) or (B, C, D) embeddings -> (E, B, C, hidden)."""
        if self.prompt_dim:
            return torch.einsum('bcd,edh->ebch', prompts, self.prompt_rows)
        return self.prompt_rows[:, prompts]

    def forward(self, vectors: torch.Tensor, pixels: torch.Tensor | None, prompts: torch.Tensor) -> torch.Tensor:
        """Return Q of every member for every (state, candidate): (E, B, C)."""
        hidden = torch.relu(self.encode_states(vectors, pixels).unsqueeze(2) + self.prompt_part(prompts))
        hidden = torch.relu(torch.einsum('ebch,ehk->ebck', hidden, self.w2) + self.b2.unsqueeze(1))
        return (torch.einsum('ebch,eho->ebco', hidden, self.w3) + self.b3.unsqueeze(1)).squeeze(-1)
