"""Q-policy node contract: decisions published, transitions learned, checkpoints written and reloaded."""
import math

import pytest
import torch
from params import overrides

from sarl_ros.msg import CandidateSet, EpisodeEvent, LearnerStats, SemanticAction, Transition
from sarl_ros.nodes.policy_node import PolicyNode
from sarl_ros.srv import SelectPrompt, StoreTransition

PROMPTS = ['move down and grasp', 'grasp the hammer', 'lift', 'open the gripper']


def actions(prompts):
    return [SemanticAction(prompt=p, source=SemanticAction.SOURCE_VLM) for p in prompts]


def select_request(step=0, features=(0.1, 0.2, 0.3), prompts=PROMPTS, greedy=False):
    return SelectPrompt.Request(episode=1, decision_step=step, task='pick up the hammer', state_features=list(features),
                                candidates=actions(prompts), vlm_scores=[0.0] * len(prompts), greedy=greedy)


def transition(prompt, reward, terminal, step=0):
    return Transition(episode=1, decision_step=step, task='pick up the hammer', state_features=[0.1, 0.2, 0.3],
                      action=SemanticAction(prompt=prompt), reward=reward, control_steps=5,
                      next_state_features=[0.1, 0.2, 0.4], next_candidates=[] if terminal else actions(PROMPTS),
                      terminal=terminal)


@pytest.fixture
def policy(ros, tmp_path):
    torch.set_num_threads(1)
    node = ros.add(PolicyNode(**overrides(method='sarl', encoder='hashing', output_dir=str(tmp_path),
                                          updates_per_decision=4)))
    return node, ros.client(SelectPrompt, '/sarl/select_prompt'), ros.client(StoreTransition, '/sarl/store_transition')


def test_decision_is_published_with_a_distribution_over_the_candidates(ros, policy):
    _, select, _ = policy
    published = ros.subscribe(CandidateSet, '/sarl/candidates')
    reply = ros.call(select, select_request())
    assert reply.success
    decision = reply.decision
    assert [c.prompt for c in decision.candidates] == PROMPTS
    assert 0 <= decision.chosen_index < len(PROMPTS)
    assert math.isclose(sum(decision.probabilities), 1.0, rel_tol=1e-5)
    assert len(decision.q_values) == len(PROMPTS) and decision.method == 'sarl'
    ros.wait_for(lambda: published, what='the published candidate set')
    assert published[0].chosen_index == decision.chosen_index


def test_a_repeated_request_gets_the_same_decision_without_sampling_again(ros, policy):
    """A client retries when its reply was lost: the retry must not draw a second prompt.

    Called on the node's own service callback, not over DDS: any other select_prompt server in the
    domain (a node another test left behind) would answer too, and the client takes whichever reply
    arrives first.
    """
    node, _, _ = policy
    (service,) = [s for s in node.services if s.srv_name == '/sarl/select_prompt']
    published = ros.subscribe(CandidateSet, '/sarl/candidates')
    first = service.callback(select_request(step=0), SelectPrompt.Response()).decision
    again = service.callback(select_request(step=0), SelectPrompt.Response()).decision
    assert (again.chosen_index, list(again.probabilities)) == (first.chosen_index, list(first.probabilities))
    service.callback(select_request(step=1, features=(0.4, 0.5, 0.6)), SelectPrompt.Response())
    # Two decisions were sampled and published (steps 0 and 1), not three.
    ros.wait_for(lambda: len(published) >= 2, what='two candidate sets')
    assert sorted(c.decision_step for c in published if c.task == 'pick up the hammer') == [0, 1]
    assert service.callback.repeats == 1


@pytest.mark.parametrize('request_kwargs, message', [
    ({'prompts': []}, 'candidate'),
    ({'features': (float('nan'), 0.0, 0.0)}, 'NaN'),
])
def test_bad_requests_are_refused_with_a_reason(ros, policy, request_kwargs, message):
    _, select, _ = policy
    reply = ros.call(select, select_request(**request_kwargs))
    assert not reply.success and message in reply.message


def test_transitions_are_learned_and_a_checkpoint_written_after_the_episode(ros, policy, tmp_path):
    node, select, store = policy
    stats = ros.subscribe(LearnerStats, '/sarl/learner_stats')
    events = ros.publisher(EpisodeEvent, '/sarl/episode_events')
    ros.call(select, select_request())
    assert ros.call(store, StoreTransition.Request(transition=transition('grasp the hammer', 0.0, False))).accepted
    reply = ros.call(store, StoreTransition.Request(transition=transition('move down and grasp', 1.0, True, 1)))
    assert reply.accepted and reply.replay_size == 2
    bad = transition('lift', float('nan'), False)
    assert not ros.call(store, StoreTransition.Request(transition=bad)).accepted
    ros.wait_for(lambda: node.updates > 0, what='TD updates on the learner thread')

    def publish_success():
        events.publish(EpisodeEvent(type=EpisodeEvent.SUCCESS, episode=1))
        return bool(stats)
    ros.wait_for(publish_success, what='learner stats after the episode')
    assert (tmp_path / 'checkpoints' / 'sarl.pt').is_file()
    assert stats[-1].episodes >= 1 and stats[-1].transitions == 2 and stats[-1].updates > 0


def test_warm_start_reproduces_the_greedy_choices(ros, policy, tmp_path):
    node, select, store = policy
    for step in range(3):
        ros.call(store, StoreTransition.Request(transition=transition('move down and grasp', 1.0, True, step)))
        ros.call(store, StoreTransition.Request(transition=transition('grasp the hammer', 0.0, True, step)))
    ros.wait_for(lambda: node.updates >= 24, what='TD updates')
    node.close()
    before = ros.call(select, select_request(greedy=True)).decision
    assert before.candidates[before.chosen_index].prompt == 'move down and grasp'
    warm = PolicyNode(**overrides(method='sarl', encoder='hashing', output_dir=str(tmp_path / 'warm'),
                                  warm_start=str(tmp_path / 'checkpoints' / 'sarl.pt')))
    try:
        from sarl_ros.core.mdp import Candidate, Observation
        import numpy as np
        decision = warm.policy.select(Observation(features=np.array([0.1, 0.2, 0.3], np.float32)),
                                      [Candidate(p) for p in PROMPTS], 'pick up the hammer', greedy=True)
        assert decision.prompt == 'move down and grasp'
        np.testing.assert_allclose(decision.q_values, before.q_values, rtol=1e-5, atol=1e-6)
    finally:
        warm.close()
        warm.destroy_node()


def test_the_instruction_pool_is_published_latched_and_says_when_it_is_frozen(ros, tmp_path):
    from sarl_ros.msg import InstructionPool
    from sarl_ros.rosutil.qos import LATCHED
    node = ros.add(PolicyNode(**overrides(method='sarl', encoder='hashing', output_dir=str(tmp_path),
                                          pool_capacity=4, updates_per_decision=0)))
    select = ros.client(SelectPrompt, '/sarl/select_prompt')
    assert ros.call(select, select_request()).success
    # A subscriber that comes later still gets the pool: the candidates filled it (4 of 4), so it is frozen.
    pools = ros.subscribe(InstructionPool, '/sarl/instruction_pool', qos=LATCHED)
    ros.wait_for(lambda: pools and pools[-1].frozen, what='the frozen pool')
    assert list(pools[-1].prompts) == PROMPTS and pools[-1].capacity == 4 and node.policy.pool.frozen
