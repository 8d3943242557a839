"""Language-guided demonstrations in the graph: the operator's prompt replaces the policy's choice for one decision."""
import logging

import numpy as np
import pytest

pytest.importorskip('rclpy', reason='needs the ROS 2 wheels: run ./sarl test')
from sarl_ros.core.mdp import SOURCE_OPERATOR, Candidate, Observation, Transition  # noqa: E402
from sarl_ros.msg import CandidateSet  # noqa: E402
from sarl_ros.nodes.clients import PolicyClient  # noqa: E402
from sarl_ros.srv import SelectPrompt, StoreTransition  # noqa: E402


class _Services:
    """The Q-policy's two services as the episode manager's caller sees them (the policy always picks index 1)."""

    def __init__(self):
        self.requests = []
        self.node = type('Node', (), {'get_logger': staticmethod(lambda: logging.getLogger('test'))})()

    def client(self, srv_type, name):
        return srv_type

    def retrying(self, what, call):
        return call()

    def call(self, client, request):
        self.requests.append(request)
        if client is SelectPrompt:
            decision = CandidateSet(chosen_index=1, q_values=[0.1, 0.9, 0.2], probabilities=[0.1, 0.8, 0.1],
                                    temperature=0.2)
            return SelectPrompt.Response(success=True, decision=decision)
        return StoreTransition.Response(accepted=True)


CANDIDATES = [Candidate('do the task', 'task'), Candidate('grasp the lid'), Candidate('lift')]
OBS = Observation(features=np.zeros(3, np.float32))


def test_the_operator_prompt_is_executed_for_that_decision_only_and_stored_as_the_operator_s():
    services = _Services()
    policy = PolicyClient(services)
    policy.episode = 4
    policy.begin_episode('do the task')
    assert 'episode 4 step 0' in policy.demonstrate(3, 0, 'lift')  # not the running episode
    assert policy.demonstrate(4, 0, '  ') == 'the demonstration prompt is blank'
    assert policy.demonstrate(4, 0, 'Lift.') == ''
    first = policy.select(OBS, CANDIDATES, 'do the task')
    assert (first.index, first.prompt, first.probabilities) == (2, 'lift', (0.0, 0.0, 1.0))
    # The policy was still asked (its step counter moves on); the next decision is the policy's own again.
    assert services.requests[-1].decision_step == 0
    assert policy.select(OBS, CANDIDATES, 'do the task').prompt == 'grasp the lid'
    # A typed command that was not offered runs too; its transition carries the operator as its source.
    assert policy.demonstrate(4, 2, 'move down and grasp') == ''
    typed = policy.select(OBS, CANDIDATES, 'do the task')
    assert (typed.index, typed.prompt) == (-1, 'move down and grasp')
    policy.record(Transition(OBS.features, 'move down and grasp', 0.0, OBS.features, ('lift',), False, step=2))
    assert services.requests[-1].transition.action.source == SOURCE_OPERATOR
