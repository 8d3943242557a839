"""The instruction pool: the prompts SARL can choose from, and the identity Q_sem knows them by.

While the pool is not full, every new proposal joins it (demonstration prompts and a seed file may
come first); once it holds `capacity` prompts it is frozen and the proposer must choose candidates
from it (PooledProposer). A prompt's index in the pool is its one-hot identity for Q_sem, so the
order never changes and nothing is ever removed.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Sequence

from sarl_ros.core.mdp import Candidate, Observation
from sarl_ros.core.proposals import normalize_candidates, normalize_prompt


class PoolFull(ValueError):
    """A prompt that is not in a full (frozen) pool was asked to be used."""


class InstructionPool:
    def __init__(self, capacity: int, prompts: Iterable[str] = ()):
        if int(capacity) < 1:
            raise ValueError(f'the instruction pool needs a capacity of at least 1, got {capacity}')
        self.capacity = int(capacity)
        self.prompts: list[str] = []
        self._index: dict[str, int] = {}
        self.dropped = 0  # proposals refused because the pool was full
        self.add_all(prompts)

    def __len__(self) -> int:
        return len(self.prompts)

    def __contains__(self, prompt: str) -> bool:
        return normalize_prompt(prompt) in self._index

    @property
    def frozen(self) -> bool:
        return len(self.prompts) >= self.capacity

    def index(self, prompt: str) -> int | None:
        """Return a prompt's identity (its position), or None when it is not in the pool."""
        return self._index.get(normalize_prompt(prompt))

    def add(self, prompt: str) -> int | None:
        """Add a prompt while there is room; return its index (None: the pool is full and it is new)."""
        text = normalize_prompt(prompt)
        if not text:
            raise ValueError('a blank prompt cannot join the instruction pool')
        found = self._index.get(text)
        if found is not None:
            return found
        if self.frozen:
            self.dropped += 1
            return None
        self._index[text] = len(self.prompts)
        self.prompts.append(text)
        return len(self.prompts) - 1

    def add_all(self, prompts: Iterable[str]) -> list[int | None]:
        return [self.add(p) for p in prompts]

    def require(self, prompt: str, who: str = 'a demonstration') -> int:
        """Return the index of a prompt, adding it if there is room; PoolFull with the fix otherwise."""
        index = self.add(prompt)
        if index is None:
            raise PoolFull(f'{who} uses {normalize_prompt(prompt)!r}, which is not in the full instruction pool '
                           f'({self.capacity} prompts): choose one of the pool\'s prompts, or seed the pool with it '
                           'before it fills (--pool-file, or demonstrations first)')
        return index

    # --- persistence ------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {'capacity': self.capacity, 'prompts': list(self.prompts), 'dropped': self.dropped}

    @classmethod
    def from_state_dict(cls, d: dict) -> 'InstructionPool':
        pool = cls(int(d['capacity']), d['prompts'])
        pool.dropped = int(d.get('dropped', 0))
        return pool

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.state_dict(), indent=1))


def load_pool_file(path: str | Path, capacity: int) -> list[str]:
    """Return the prompts of a pool seed file: a JSON list of strings, or a state_dict; ValueError names the fix."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f'pool file {path} does not exist') from None
    except json.JSONDecodeError as exc:
        raise ValueError(f'pool file {path} is not JSON ({exc.msg}, line {exc.lineno}); '
                         'write a JSON list of prompts, e.g. ["grasp the lid", "put it on the towel"]') from None
    prompts = data.get('prompts') if isinstance(data, dict) else data
    if not isinstance(prompts, list) or not all(isinstance(p, str) and p.strip() for p in prompts):
        raise ValueError(f'pool file {path} must hold a JSON list of non-blank prompt strings '
                         '(or an object with a "prompts" list)')
    unique = list(dict.fromkeys(normalize_prompt(p) for p in prompts))
    if len(unique) > capacity:
        raise ValueError(f'pool file {path} holds {len(unique)} prompts, more than the pool capacity {capacity}; '
                         'raise pool_capacity or shorten the file')
    return unique


def seed_pool(policy, path: str | Path) -> int:
    """Put a pool file's prompts first in a policy's instruction pool; return how many joined (ValueError: the fix)."""
    pool = getattr(policy, 'pool', None)
    if pool is None:
        raise ValueError(f'method {policy.name!r} has no instruction pool to seed')
    prompts = load_pool_file(path, pool.capacity - len(pool))
    return sum(index is not None for index in pool.add_all(prompts))


class PooledProposer:
    """Serve candidates through an instruction pool (a PromptProposer wrapper).

    Not full: the wrapped proposer proposes freely; new prompts join the pool while there is room
    and those that found no room are dropped (never offered). Full: the proposer is asked to choose
    from the pool (`choose_from_pool`, which a simulated or real VLM implements); a proposer without
    it proposes freely and only its prompts that are in the pool are kept. Either way every offered
    candidate is in the pool, so Q_sem knows each by its identity.
    """

    def __init__(self, proposer, pool: InstructionPool, log=None, admit: bool = True):
        self.proposer = proposer
        self.pool = pool
        self.admit = admit  # False: offer only prompts already in the pool, add none (evaluation)
        self.log = log or (lambda message: None)
        self.outside = 0  # proposals outside the frozen pool, dropped

    def propose(self, observation: Observation, task: str, history: Sequence[str],
                max_candidates: int) -> list[Candidate]:
        if self.admit:
            self.pool.add(task)  # the whole task is always a candidate (with_task_prompt), so it has an identity
        choose = getattr(self.proposer, 'choose_from_pool', None)
        if self.pool.frozen and choose is not None:
            proposed = choose(observation, task, history, list(self.pool.prompts), max_candidates)
        else:
            proposed = self.proposer.propose(observation, task, history, max_candidates)
        kept = []
        for candidate in normalize_candidates(proposed):
            if (self.pool.add(candidate.prompt) if self.admit else self.pool.index(candidate.prompt)) is not None:
                kept.append(candidate)
            else:
                self.outside += 1
                self.log(f'dropped a proposal outside the full instruction pool: {candidate.prompt!r}')
        return kept

    def observe_outcome(self, *args) -> None:
        observe = getattr(self.proposer, 'observe_outcome', None)
        if observe is not None:
            observe(*args)
