"""Shared setup for the core tests: one torch thread, hashing encoder helpers."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def sarl():
    """Return a fresh SARL policy on the deterministic hashing encoder."""
    from sarl_ros.core.methods import make_policy
    return make_policy('sarl', seed=0, encoder='hashing')


def transition(state=(1.0, 0.0), prompt='pick up the sushi', reward=0.0, next_state=(0.0, 1.0),
               next_prompts=('release the sushi',), terminal=False, **kw):
    from sarl_ros.core.mdp import Transition
    return Transition(np.asarray(state, dtype=np.float32), prompt, reward, np.asarray(next_state, dtype=np.float32),
                      tuple(next_prompts), terminal, **kw)
