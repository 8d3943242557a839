"""OpenVLA's discretised actions: token ids -> normalised values -> robot units.

OpenVLA reserves the last `n_bins` ids of its base vocabulary for actions: each action
dimension is one token, the id counted down from the end of the vocabulary picks one of
`n_bins - 1` bin centres of a uniform grid over [-1, 1]. The normalised value is mapped
back to robot units with the 1st/99th percentiles of the training data (`q01`/`q99`),
except for the dimensions the statistics' `mask` excludes (the gripper, already in [0, 1]).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

N_BINS = 256
ACTION_DIM = 7


class ActionTokenDecoder:
    """Map generated token ids to normalised actions in [-1, 1] the way OpenVLA encodes them."""

    def __init__(self, vocab_size: int, n_bins: int = N_BINS):
        if n_bins < 2 or vocab_size < n_bins:
            raise ValueError(f'need 2 <= n_bins <= vocab_size, got n_bins={n_bins}, vocab_size={vocab_size}')
        self.vocab_size = int(vocab_size)
        self.n_bins = int(n_bins)
        edges = np.linspace(-1.0, 1.0, n_bins)
        self.bin_centers = (edges[:-1] + edges[1:]) / 2.0

    @property
    def token_range(self) -> tuple[int, int]:
        """Return [first, end) of the token ids that encode actions."""
        return self.vocab_size - self.n_bins, self.vocab_size

    def normalized(self, token_ids) -> np.ndarray:
        """Return the bin centre of each token id (ids outside the action range are clipped)."""
        ids = np.asarray(token_ids, dtype=np.int64)
        index = np.clip(self.vocab_size - ids - 1, 0, self.bin_centers.shape[0] - 1)
        return self.bin_centers[index]

    def token_ids(self, normalized) -> np.ndarray:
        """Return the token id that encodes each normalised value (the inverse, for tests and tools)."""
        edges = np.linspace(-1.0, 1.0, self.n_bins)
        index = np.clip(np.digitize(np.clip(normalized, -1.0, 1.0), edges), 1, self.n_bins - 1)
        return self.vocab_size - index


def select_action_stats(norm_stats: Mapping[str, Any] | None, unnorm_key: str | None) -> dict[str, np.ndarray]:
    """Return q01, q99 and mask of the action statistics stored under unnorm_key.

    With unnorm_key None, a checkpoint trained on one dataset uses that one; otherwise the
    key must be one the checkpoint carries (ValueError listing them).
    """
    if not norm_stats:
        raise ValueError('the checkpoint carries no norm_stats: cannot un-normalise its actions '
                         '(a fine-tuned OpenVLA keeps them in dataset_statistics.json)')
    if unnorm_key in (None, ''):
        if len(norm_stats) != 1:
            raise ValueError(f'the checkpoint has statistics for several datasets; choose an unnorm_key '
                             f'from {sorted(norm_stats)}')
        unnorm_key = next(iter(norm_stats))
    if unnorm_key not in norm_stats:
        raise ValueError(f'unnorm_key {unnorm_key!r} not in the checkpoint; available: {sorted(norm_stats)}')
    action = norm_stats[unnorm_key].get('action', norm_stats[unnorm_key])
    q01 = np.asarray(action['q01'], dtype=np.float64)
    q99 = np.asarray(action['q99'], dtype=np.float64)
    mask = np.asarray(action.get('mask', np.ones_like(q01, dtype=bool)), dtype=bool)
    if not (q01.shape == q99.shape == mask.shape) or q01.ndim != 1:
        raise ValueError(f'inconsistent action statistics under {unnorm_key!r}: '
                         f'q01 {q01.shape}, q99 {q99.shape}, mask {mask.shape}')
    return {'q01': q01, 'q99': q99, 'mask': mask}


def unnormalize(normalized, stats: Mapping[str, np.ndarray]) -> np.ndarray:
    """Return actions in robot units: [-1, 1] -> [q01, q99] where the mask is set, unchanged elsewhere."""
    normalized = np.asarray(normalized, dtype=np.float64)
    low, high, mask = stats['q01'], stats['q99'], stats['mask']
    if normalized.shape != low.shape:
        raise ValueError(f'action has {normalized.shape} dimensions, the statistics {low.shape}')
    return np.where(mask, 0.5 * (normalized + 1.0) * (high - low) + low, normalized)
