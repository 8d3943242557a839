"""Hand-worked TD targets, and convergence of the learner on a two-step MDP."""
import math

import numpy as np
import pytest
import torch

from sarl_ros.core.replay import ReplayBuffer
from sarl_ros.core.baselines.td_learner import LearnerConfig, TDLearner, td_targets
from sarl_ros.core.perception.text_encoding import make_encoder

NEXT_Q = torch.tensor([[0.2, 0.8, 0.0], [0.5, 0.5, 0.0], [0.4, 0.1, 0.3]])
MASK = torch.tensor([[True, True, False], [True, True, False], [True, True, True]])
REWARDS = torch.tensor([0.0, 1.0, 0.5])
TERMINAL = torch.tensor([False, True, False])
STEPS = torch.tensor([1, 1, 2])


def test_max_target():
    y = td_targets(REWARDS, TERMINAL, STEPS, NEXT_Q, MASK, gamma=0.9, target='max')
    # 0 + 0.9 * 0.8; terminal: just the reward; 0.5 + 0.9 * 0.4
    np.testing.assert_allclose(y.numpy(), [0.72, 1.0, 0.86], rtol=1e-6)


def test_semi_mdp_discount_uses_control_steps():
    y = td_targets(REWARDS, TERMINAL, STEPS, NEXT_Q, MASK, gamma=0.9, target='max', discount='control')
    np.testing.assert_allclose(y.numpy(), [0.72, 1.0, 0.5 + 0.81 * 0.4], rtol=1e-6)


def test_soft_target_is_temperature_logsumexp_over_valid_candidates():
    y = td_targets(REWARDS, TERMINAL, STEPS, NEXT_Q, MASK, gamma=0.9, target='soft', temperature=0.5)
    v0 = 0.5 * math.log(math.exp(0.2 / 0.5) + math.exp(0.8 / 0.5))  # the padded 0.0 is ignored
    v2 = 0.5 * math.log(sum(math.exp(q / 0.5) for q in (0.4, 0.1, 0.3)))
    np.testing.assert_allclose(y.numpy(), [0.9 * v0, 1.0, 0.5 + 0.9 * v2], rtol=1e-6)


def test_mellowmax_of_equal_values_is_that_value():
    y = td_targets(torch.zeros(1), torch.tensor([False]), torch.ones(1), torch.tensor([[0.5, 0.5]]),
                   torch.ones(1, 2, dtype=torch.bool), gamma=1.0, target='mellowmax', temperature=0.2)
    assert y.item() == pytest.approx(0.5)


def test_row_without_candidates_does_not_bootstrap():
    y = td_targets(torch.tensor([0.3]), torch.tensor([True]), torch.ones(1), torch.zeros(1, 2),
                   torch.zeros(1, 2, dtype=torch.bool), gamma=0.9)
    assert y.item() == pytest.approx(0.3)


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match='target'):
        LearnerConfig(target='median')
    with pytest.raises(ValueError, match='discount'):
        LearnerConfig(discount='hourly')


def _two_step_learner(**config):
    learner = TDLearner(make_encoder('hashing'), LearnerConfig(batch_size=8, **config), seed=0)
    s0, s1 = np.array([1, 0], np.float32), np.array([0, 1], np.float32)
    # s0 --a--> s1 (reward 0, truncated: bootstraps), s1 --b--> success (reward 1, terminal)
    learner.add(s0, 'a', 0.0, s1, ['b', 'c'], terminal=False, control_steps=2)
    learner.add(s1, 'b', 1.0, s1, [], terminal=True, control_steps=2)
    learner.add(s1, 'c', 0.0, s1, ['b', 'c'], terminal=False, control_steps=2)
    for _ in range(1500):
        learner.update(temperature=0.2)
    q0 = learner.q_values(s0, ['a'])[0]
    qb, qc = learner.q_values(s1, ['b', 'c'])
    return q0, qb, qc


def test_learner_converges_to_hand_computed_values():
    q0, qb, qc = _two_step_learner(gamma=0.9)
    assert qb == pytest.approx(1.0, abs=0.05)
    assert qc == pytest.approx(0.9, abs=0.05)  # stays in s1, then b: 0.9 * 1
    assert q0 == pytest.approx(0.9, abs=0.05)


def test_learner_semi_mdp_discount():
    q0, qb, qc = _two_step_learner(gamma=0.9, discount='control')
    assert q0 == pytest.approx(0.81, abs=0.05)
    assert qc == pytest.approx(0.81, abs=0.05)


def test_replay_ring_buffer_overwrites_oldest_and_widens_candidate_sets():
    buffer = ReplayBuffer(capacity=3, state_dim=2, set_width=2)
    for i in range(5):
        buffer.add(np.full(2, i, np.float32), i, float(i), np.zeros(2, np.float32), list(range(i + 1)), False, 1)
    assert len(buffer) == 3 and buffer.added == 5
    assert sorted(buffer.rewards[:3].tolist()) == [2.0, 3.0, 4.0]
    assert buffer.next_ids.shape[1] == 5
    row = int(np.flatnonzero(buffer.rewards == 4.0)[0])
    assert buffer.next_ids[row].tolist() == [0, 1, 2, 3, 4]
    restored = ReplayBuffer.from_state_dict(buffer.state_dict())
    np.testing.assert_array_equal(restored.next_ids[:3], buffer.next_ids[:3])
    assert restored.cursor == buffer.cursor


def test_replay_memory_of_10k_transitions_is_small():
    buffer = ReplayBuffer(capacity=10_000, state_dim=64)
    for i in range(10_000):
        buffer.add(np.zeros(64, np.float32), 0, 0.0, np.zeros(64, np.float32), list(range(9)), False, 1)
    assert buffer.nbytes < 100 * 2 ** 20
