"""Correcting the reward of the last stored transition, when a person changes an episode's verdict.

A learner may offer `relabel_last_transition(reward) -> bool` itself (the interface a learner
should implement). Until it does, `relabel_last_transition` here finds the learner's replay
buffer(s) (a `sarl_ros.core.replay.ReplayBuffer` held by the policy or one level below it) and
rewrites the reward of the most recently added row, which must be terminal: a verdict ends an
episode with a terminal transition, success 1.0, failure 0.0. The caller makes sure nothing was
stored since that episode ended (the next episode has not started).
"""
from __future__ import annotations

import contextlib

from sarl_ros.core.replay import ReplayBuffer


def replay_buffers(policy, depth: int = 2) -> list[ReplayBuffer]:
    """Return the ReplayBuffer objects reachable through the policy's attributes (up to `depth` levels)."""
    found, seen, layer = [], set(), [policy]
    for _ in range(depth + 1):
        below = []
        for obj in layer:
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if isinstance(obj, ReplayBuffer):
                found.append(obj)
            elif hasattr(obj, '__dict__'):
                below.extend(v for v in vars(obj).values() if hasattr(v, '__dict__'))
        layer = below
    return found


def relabel_last_transition(policy, reward: float) -> int:
    """Set the reward of the last stored (terminal) transition; return how many buffers changed.

    ValueError when a buffer's last row is not terminal (it is not an episode's verdict).
    """
    own = getattr(policy, 'relabel_last_transition', None)
    if callable(own):
        return int(bool(own(float(reward))))
    lock = getattr(policy, '_lock', None) or contextlib.nullcontext()
    changed = 0
    with lock:
        for buffer in replay_buffers(policy):
            if not buffer.size:
                continue
            last = (buffer.cursor - 1) % buffer.capacity
            if not buffer.terminal[last]:
                raise ValueError('the last stored transition is not terminal: nothing to relabel')
            buffer.rewards[last] = float(reward)
            changed += 1
    return changed
