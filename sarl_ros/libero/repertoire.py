"""The base policy's repertoire: exactly the LIBERO-90 instructions and their BDDL goals.

A prompt runs as the skill of its nearest LIBERO-90 instruction by text embedding (the project's
encoder, MiniLM by default), so which prompts work is decided by instructions others wrote.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sarl_ros.core.proposals import normalize_prompt
from sarl_ros.core.perception.text_encoding import DEFAULT_ENCODER, make_encoder


@dataclass(frozen=True)
class Skill:
    instruction: str
    goal: tuple[tuple[str, ...], ...]  # BDDL goal predicates of the LIBERO-90 task
    similarity: float = 1.0


class Libero90Repertoire:
    """Nearest-instruction lookup over the LIBERO-90 instructions (duplicates merged)."""

    def __init__(self, instructions: list[dict], encoder: str = DEFAULT_ENCODER):
        if not instructions:
            raise ValueError('the repertoire needs at least one instruction')
        merged: dict[str, tuple] = {}
        for entry in instructions:
            text = normalize_prompt(entry['language'])
            merged.setdefault(text, tuple(tuple(p) for p in entry['goal']))
        self.instructions = list(merged)
        self.goals = [merged[t] for t in self.instructions]
        self.encoder = make_encoder(encoder)
        self._matrix = self.encoder.encode(self.instructions)
        self._cache: dict[str, Skill] = {}

    def nearest(self, prompt: str) -> Skill:
        """Return the skill of the instruction nearest to prompt (cosine similarity)."""
        text = normalize_prompt(prompt)
        if not text:
            raise ValueError('a prompt must be a non-empty string')
        if text not in self._cache:
            scores = self._matrix @ self.encoder.encode([text])[0]
            index = int(np.argmax(scores))
            self._cache[text] = Skill(self.instructions[index], self.goals[index], float(scores[index]))
        return self._cache[text]
