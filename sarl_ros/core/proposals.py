"""Candidate prompts: normalisation, the whole-task candidate, and a proposal cache.

The cache (`CachedProposer`) lets a slow VLM be skipped at most decision steps: candidate sets are
kept per state cluster (features quantised to a grid) and reused for a number of steps before the VLM
is asked again; each set is augmented with the prompts that previously made progress in that cluster.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from sarl_ros.core.mdp import (RETURN_TO_START_PROMPT, SOURCE_CONTROLLER, SOURCE_MEMORY, SOURCE_TASK, Candidate,
                               Observation, PromptProposer, StepOutcome)

# Candidates a driver asks the proposer for, and a (simulated) VLM proposes at most, unless told otherwise.
MAX_CANDIDATES = 8
_WHITESPACE = re.compile(r'\s+')
_TRAILING_PUNCTUATION = '.,;:!?\'"`'


def normalize_prompt(prompt: str) -> str:
    """Return the prompt lowercased, with whitespace collapsed and trailing punctuation stripped."""
    if not isinstance(prompt, str):
        raise ValueError(f'a prompt must be a string, got {type(prompt).__name__}')
    text = _WHITESPACE.sub(' ', prompt).strip().lower()
    text = text.rstrip(_TRAILING_PUNCTUATION + ' ')
    # Quotes a VLM wraps around a command are not part of it.
    return text.lstrip('\'"` ').strip()


def normalize_candidates(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Return normalised candidates: blank ones dropped, duplicates merged, order kept.

    A merged candidate keeps the position and source of its first occurrence and the highest
    vlm_score of all occurrences; if any occurrence was the whole-task prompt (source 'task') the
    merged one keeps source 'task', so the fixed baseline always finds it.
    """
    merged: dict[str, Candidate] = {}
    for candidate in candidates:
        prompt = normalize_prompt(candidate.prompt)
        if not prompt:
            continue
        score = float(candidate.vlm_score)
        if not np.isfinite(score):
            raise ValueError(f'candidate {candidate.prompt!r} has a non-finite vlm_score {score}')
        previous = merged.get(prompt)
        if previous is None:
            merged[prompt] = Candidate(prompt, candidate.source, score)
            continue
        source = SOURCE_TASK if SOURCE_TASK in (previous.source, candidate.source) else previous.source
        merged[prompt] = Candidate(prompt, source, max(previous.vlm_score, score))
    return list(merged.values())


def with_task_prompt(candidates: Sequence[Candidate], task_text: str, vlm_score: float = 0.0) -> list[Candidate]:
    """Return the candidates plus the whole task as one candidate, unless one has source 'task' already."""
    result = list(candidates)
    if not any(c.source == SOURCE_TASK for c in result):
        result.append(Candidate(task_text, SOURCE_TASK, vlm_score))
    return result


class WithReturnToStart:
    """Wrap a proposer so every candidate set also offers the return-to-start command (an opt-in).

    The command is an ordinary semantic action for the learner: chosen, executed (by the arm's own
    controller, core.executor.return_to_start) and learned from like any other. It takes one of the
    max_candidates places, so a caller that truncates to max_candidates keeps it.
    """

    def __init__(self, proposer: PromptProposer, vlm_score: float = 0.0):
        self.proposer = proposer
        self.vlm_score = float(vlm_score)

    def propose(self, observation: Observation, task: str, history: Sequence[str],
                max_candidates: int) -> list[Candidate]:
        if max_candidates <= 1:
            return list(self.proposer.propose(observation, task, history, max_candidates))
        inner = list(self.proposer.propose(observation, task, history, max_candidates - 1))
        others = [c for c in inner if normalize_prompt(c.prompt) != RETURN_TO_START_PROMPT]
        command = Candidate(RETURN_TO_START_PROMPT, SOURCE_CONTROLLER, self.vlm_score)
        return others[:max_candidates - 1] + [command]

    def __getattr__(self, name):  # the wrapped proposer's other methods (e.g. a simulated VLM's reseed)
        if name == 'proposer':
            raise AttributeError(name)
        return getattr(self.proposer, name)


@dataclass
class _ClusterEntry:
    candidates: list[Candidate]
    reuses: int = 0
    # prompt -> [times it made progress, times it was tried] in this cluster
    outcomes: dict[str, list[int]] = field(default_factory=dict)


class CachedProposer:
    """Wrap a proposer so its candidate sets are reused per state cluster.

    Parameters:
      resolution: features are quantised to round(features / resolution); states in one cell share
        a candidate set. Coarser cells save more calls but may offer stale candidates.
      max_reuses: a cached set is served this many times before the VLM is asked again (0: never
        cached), so new proposals still arrive.
      memory_size: up to this many prompts that made progress in the cluster (most successful first)
        are added to the set with source 'memory'.
      key_on_history: include the last executed prompt in the cluster key, for proposers whose
        answer depends on the history more than on the features.
      feature_dims: indices of the features that define the cluster (None: all); leave out features
        that vary without changing what should be proposed (noise, timers), or nothing is reused.

    run_episode calls observe_outcome() after each step so the cache learns which prompts made
    progress (reward > 0, or the state features changed).
    """

    def __init__(self, proposer: PromptProposer, *, resolution: float = 0.05, max_reuses: int = 4,
                 memory_size: int = 2, key_on_history: bool = False, feature_dims: Sequence[int] | None = None):
        if resolution <= 0:
            raise ValueError(f'resolution must be positive, got {resolution}')
        if max_reuses < 0 or memory_size < 0:
            raise ValueError('max_reuses and memory_size must be >= 0')
        self.proposer = proposer
        self.resolution = float(resolution)
        self.max_reuses = int(max_reuses)
        self.memory_size = int(memory_size)
        self.key_on_history = key_on_history
        self.feature_dims = None if feature_dims is None else np.asarray(list(feature_dims), dtype=np.int64)
        self.calls = 0  # propose() calls served
        self.vlm_calls = 0  # calls passed to the wrapped proposer
        self._clusters: dict[tuple, _ClusterEntry] = {}

    def cluster_key(self, features: np.ndarray, task: str, history: Sequence[str] = ()) -> tuple:
        """Return the cache key of a state: the task and the quantised features."""
        values = np.asarray(features, dtype=np.float64)
        if self.feature_dims is not None:
            values = values[self.feature_dims]
        cell = np.round(values / self.resolution).astype(np.int64)
        last = normalize_prompt(history[-1]) if (self.key_on_history and history) else ''
        return (task, last, cell.tobytes())

    @property
    def saved_fraction(self) -> float:
        """Return the fraction of propose() calls that did not reach the wrapped proposer."""
        return 1.0 - self.vlm_calls / self.calls if self.calls else 0.0

    def propose(self, observation: Observation, task: str, history: Sequence[str],
                max_candidates: int) -> list[Candidate]:
        """Return cached candidates for the state's cluster, asking the wrapped proposer when due."""
        self.calls += 1
        key = self.cluster_key(observation.features, task, history)
        entry = self._clusters.get(key)
        if entry is None or entry.reuses >= self.max_reuses:
            self.vlm_calls += 1
            fresh = normalize_candidates(self.proposer.propose(observation, task, history, max_candidates))
            outcomes = entry.outcomes if entry is not None else {}
            entry = self._clusters[key] = _ClusterEntry(fresh, 0, outcomes)
        else:
            entry.reuses += 1
        return self._augmented(entry)

    def _augmented(self, entry: _ClusterEntry) -> list[Candidate]:
        offered = list(entry.candidates)
        present = {c.prompt for c in offered}
        ranked = sorted(((wins / tries, wins, prompt) for prompt, (wins, tries) in entry.outcomes.items()
                         if wins > 0), reverse=True)
        best_score = max((c.vlm_score for c in offered), default=0.0)
        for _, _, prompt in ranked[:self.memory_size]:
            if prompt not in present:
                offered.append(Candidate(prompt, SOURCE_MEMORY, best_score))
                present.add(prompt)
        return offered

    def observe_outcome(self, observation: Observation, task: str, history: Sequence[str], prompt: str,
                        outcome: StepOutcome) -> None:
        """Record whether a prompt made progress from the observed state (history: before the prompt)."""
        entry = self._clusters.get(self.cluster_key(observation.features, task, history))
        if entry is None:
            return
        moved = self.cluster_key(observation.features, task) != self.cluster_key(outcome.observation.features, task)
        progress = outcome.reward > 0 or outcome.success or (moved and not (outcome.terminal and not outcome.success))
        stats = entry.outcomes.setdefault(normalize_prompt(prompt), [0, 0])
        stats[0] += int(progress)
        stats[1] += 1

    def reset_stats(self) -> None:
        """Zero the call counters (the cache itself is kept)."""
        self.calls = self.vlm_calls = 0
