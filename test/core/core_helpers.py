"""Builders shared by the core tests (imported by name: conftest modules are not importable)."""
import numpy as np


def transition(state=(1.0, 0.0), prompt='pick up the sushi', reward=0.0, next_state=(0.0, 1.0),
               next_prompts=('release the sushi',), terminal=False, **kw):
    """Return a core Transition with small defaults."""
    from sarl_ros.core.mdp import Transition
    return Transition(np.asarray(state, dtype=np.float32), prompt, reward, np.asarray(next_state, dtype=np.float32),
                      tuple(next_prompts), terminal, **kw)
