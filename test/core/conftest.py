"""Shared setup for the core tests: one torch thread, hashing encoder helpers."""
import sys
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)
sys.path.insert(0, str(Path(__file__).parent))  # core_helpers.py beside the tests


@pytest.fixture
def sarl():
    """Return a fresh SARL policy on the deterministic hashing encoder."""
    from sarl_ros.core.methods import make_policy
    return make_policy('sarl', seed=0, encoder='hashing')
