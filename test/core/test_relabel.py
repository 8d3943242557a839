"""A corrected verdict: the reward of the learner's last stored transition follows the operator."""
import pytest
from core_helpers import transition

from sarl_ros.core.durability.checkpoint import load_checkpoint, save_checkpoint
from sarl_ros.core.methods import make_policy
from sarl_ros.core.relabel import relabel_last_transition, replay_buffers


def test_the_last_terminal_transition_takes_the_corrected_reward(tmp_path):
    policy = make_policy('sarl', seed=0, encoder='hashing')
    policy.begin_episode('t')
    policy.record(transition(reward=0.0))
    policy.record(transition(reward=0.0, terminal=True))
    buffers = replay_buffers(policy)
    assert len(buffers) == 1
    buffer = buffers[0]
    assert list(buffer.rewards[:2]) == [0.0, 0.0]
    assert relabel_last_transition(policy, 1.0) == 1
    assert list(buffer.rewards[:2]) == [0.0, 1.0]  # only the verdict's transition changed
    save_checkpoint(policy, tmp_path / 'sarl.pt')  # what the policy node writes after a correction
    restored = replay_buffers(load_checkpoint(tmp_path / 'sarl.pt'))[0]
    assert list(restored.rewards[:2]) == [0.0, 1.0]


def test_a_non_terminal_last_transition_is_not_relabelled():
    # sarl_text bootstraps a truncated step, so it is no verdict it can relabel.
    policy = make_policy('sarl_text', seed=0, encoder='hashing')
    policy.begin_episode('t')
    policy.record(transition(reward=0.0, truncated=True))
    with pytest.raises(ValueError, match='not terminal'):
        relabel_last_transition(policy, 1.0)
    # The paper build plans for the budget: a timeout ends the episode, and a person may call it a success;
    # a step in the middle of an episode is no verdict.
    paper = make_policy('sarl', seed=0, encoder='hashing')
    paper.begin_episode('t', max_decisions=2)
    paper.record(transition(reward=0.0))
    with pytest.raises(ValueError, match='not terminal'):
        relabel_last_transition(paper, 1.0)
    paper.record(transition(reward=0.0, truncated=True, step=1))
    assert relabel_last_transition(paper, 1.0) == 1
    replay = paper.learner.replay
    assert list(replay.rewards[:2]) == [0.0, 1.0] and bool(replay.terminal[1])


def test_a_learner_with_its_own_relabel_method_is_asked_instead():
    class Learner:
        def __init__(self):
            self.asked = []

        def relabel_last_transition(self, reward):
            self.asked.append(reward)
            return True

    learner = Learner()
    assert relabel_last_transition(learner, 0.0) == 1 and learner.asked == [0.0]
    assert relabel_last_transition(make_policy('fixed', seed=0), 1.0) == 0  # stores nothing: nothing to change
