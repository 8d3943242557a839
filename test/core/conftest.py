"""Shared setup for the core tests: one torch thread, hashing encoder helpers."""
import sys
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)
sys.path.insert(0, str(Path(__file__).parent))  # core_helpers.py beside the tests


@pytest.fixture
def sarl():
    """Return a fresh sarl_text policy (the first learner, text-embedded prompts) on the hashing encoder.

    The paper build (`sarl`) has its own tests in test_sarl_paper.py; these fixtures test the shared
    Policy machinery (sampling, schedule, checkpoints, write-ahead log) on the learner whose Q can be
    replaced by a fixed table.
    """
    from sarl_ros.core.methods import make_policy
    return make_policy('sarl_text', seed=0, encoder='hashing')
