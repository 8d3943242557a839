"""Check that a bag holds exactly the transitions a learner saw, to the bit."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Sequence

import numpy as np

from sarl_ros.core.mdp import Transition
from sarl_ros.recording.reader import Recording, read_recording


def transition_differences(expected: Transition, actual: Transition, ignore: Sequence[str] = ()) -> list[str]:
    """Return the fields in which two transitions differ (arrays by dtype, shape and bytes)."""
    out = []
    for f in fields(Transition):
        if f.name in ignore:
            continue
        a, b = getattr(expected, f.name), getattr(actual, f.name)
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            a, b = np.asarray(a), np.asarray(b)
            same = a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
        elif isinstance(a, float) and isinstance(b, float):
            same = np.float64(a).tobytes() == np.float64(b).tobytes()
        else:
            same = a == b and type(a) is type(b)
        if not same:
            out.append(f'{f.name}: expected {a!r}, bag has {b!r}')
    return out


def record_and_compare(bag_dir: str | Path, learner_transitions: Sequence[Transition],
                       ignore: Sequence[str] = ()) -> Recording:
    """Read a bag and assert its transitions equal the learner's, bit for bit, in order.

    Returns the Recording for further checks; AssertionError lists every difference.
    `ignore` names Transition fields left out of the comparison.
    """
    recording = read_recording(bag_dir)
    rebuilt = recording.core_transitions
    problems = []
    if len(rebuilt) != len(learner_transitions):
        problems.append(f'{len(learner_transitions)} transitions expected, the bag has {len(rebuilt)}')
    for number, (expected, actual) in enumerate(zip(learner_transitions, rebuilt)):
        for text in transition_differences(expected, actual, ignore):
            problems.append(f'transition {number} (episode {expected.episode}, step {expected.step}): {text}')
    if problems:
        shown = '\n  '.join(problems[:20])
        raise AssertionError(f'bag {bag_dir} differs from the learner ({len(problems)} differences; '
                             f'bag problems: {recording.problems or "none"}):\n  {shown}')
    return recording
