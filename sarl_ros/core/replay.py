"""Replay memory: a numpy ring buffer of state features and prompt ids (never images).

Prompts are interned in a `PromptVocabulary` (string <-> id). The next state's candidate set is
stored as a row of prompt ids padded with -1 in an int32 matrix whose width grows to the largest set
seen, so 10,000 transitions with 64-d features and 9 candidates take about 5.6 MB; rows are
allocated as the buffer fills.
"""
from __future__ import annotations

import numpy as np

PAD = -1


class PromptVocabulary:
    """Intern prompts as consecutive integer ids."""

    def __init__(self, prompts: list[str] | None = None):
        self.prompts: list[str] = []
        self._ids: dict[str, int] = {}
        for prompt in prompts or []:
            self.add(prompt)

    def __len__(self) -> int:
        return len(self.prompts)

    def __contains__(self, prompt: str) -> bool:
        return prompt in self._ids

    def add(self, prompt: str) -> int:
        """Return the id of a prompt, adding it when new."""
        found = self._ids.get(prompt)
        if found is not None:
            return found
        self._ids[prompt] = len(self.prompts)
        self.prompts.append(prompt)
        return len(self.prompts) - 1

    def get(self, prompt: str) -> int | None:
        """Return the id of a known prompt, or None."""
        return self._ids.get(prompt)


class ReplayBuffer:
    """Fixed-capacity ring buffer of transitions; the oldest are overwritten first."""

    def __init__(self, capacity: int, state_dim: int, set_width: int = 8):
        if capacity <= 0 or state_dim <= 0:
            raise ValueError(f'capacity and state_dim must be positive, got {capacity}, {state_dim}')
        self.capacity, self.state_dim = int(capacity), int(state_dim)
        # Rows are allocated as they fill (doubling), so a large capacity costs nothing up front.
        rows = min(self.capacity, 1024)
        self.states = np.zeros((rows, state_dim), dtype=np.float32)
        self.next_states = np.zeros((rows, state_dim), dtype=np.float32)
        self.prompt_ids = np.zeros(rows, dtype=np.int32)
        self.rewards = np.zeros(rows, dtype=np.float32)
        self.terminal = np.zeros(rows, dtype=bool)
        self.control_steps = np.ones(rows, dtype=np.int32)
        self.next_ids = np.full((rows, max(1, set_width)), PAD, dtype=np.int32)
        self.size = 0
        self.cursor = 0
        self.added = 0  # transitions ever added

    def __len__(self) -> int:
        return self.size

    @property
    def nbytes(self) -> int:
        """Return the bytes held by the arrays."""
        return sum(a.nbytes for a in (self.states, self.next_states, self.prompt_ids, self.rewards,
                                      self.terminal, self.control_steps, self.next_ids))

    def _ensure_rows(self, rows: int, width: int) -> None:
        """Grow the arrays to at least rows x width (rows capped at the capacity)."""
        have_rows, have_width = self.next_ids.shape
        if rows <= have_rows and width <= have_width:
            return
        new_rows = min(self.capacity, max(rows, 2 * have_rows)) if rows > have_rows else have_rows
        for name in ('states', 'next_states', 'prompt_ids', 'rewards', 'terminal', 'control_steps'):
            old = getattr(self, name)
            grown = np.zeros((new_rows,) + old.shape[1:], dtype=old.dtype)
            grown[:len(old)] = old
            setattr(self, name, grown)
        ids = np.full((new_rows, max(width, have_width)), PAD, dtype=np.int32)
        ids[:have_rows, :have_width] = self.next_ids
        self.next_ids = ids

    def add(self, state: np.ndarray, prompt_id: int, reward: float, next_state: np.ndarray,
            next_prompt_ids: list[int], terminal: bool, control_steps: int) -> None:
        """Store one transition (inputs validated by the caller)."""
        i = self.cursor
        self._ensure_rows(i + 1, len(next_prompt_ids))
        self.states[i] = state
        self.next_states[i] = next_state
        self.prompt_ids[i] = prompt_id
        self.rewards[i] = reward
        self.terminal[i] = terminal
        self.control_steps[i] = control_steps
        self.next_ids[i] = PAD
        self.next_ids[i, :len(next_prompt_ids)] = next_prompt_ids
        self.cursor = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)
        self.added += 1

    def sample_indices(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """Return batch_size indices drawn uniformly with replacement from the stored transitions."""
        if self.size == 0:
            raise ValueError('the replay buffer is empty')
        return rng.integers(0, self.size, size=batch_size)

    def state_dict(self) -> dict:
        """Return the stored part of the buffer as numpy arrays and counters."""
        n = self.size
        return {'capacity': self.capacity, 'state_dim': self.state_dim, 'size': n, 'cursor': self.cursor,
                'added': self.added, 'states': self.states[:n].copy(), 'next_states': self.next_states[:n].copy(),
                'prompt_ids': self.prompt_ids[:n].copy(), 'rewards': self.rewards[:n].copy(),
                'terminal': self.terminal[:n].copy(), 'control_steps': self.control_steps[:n].copy(),
                'next_ids': self.next_ids[:n].copy()}

    @classmethod
    def from_state_dict(cls, d: dict) -> 'ReplayBuffer':
        """Return a buffer restored from state_dict()."""
        next_ids = np.asarray(d['next_ids'], dtype=np.int32)
        buffer = cls(int(d['capacity']), int(d['state_dim']), set_width=next_ids.shape[1] if next_ids.ndim == 2 else 8)
        n = int(d['size'])
        buffer._ensure_rows(n, next_ids.shape[1] if next_ids.ndim == 2 else 1)
        for name in ('states', 'next_states', 'prompt_ids', 'rewards', 'terminal', 'control_steps'):
            getattr(buffer, name)[:n] = np.asarray(d[name])
        buffer.next_ids[:n] = next_ids
        buffer.size, buffer.cursor, buffer.added = n, int(d['cursor']), int(d['added'])
        return buffer
