"""Reward node contract: detector answers, human verdicts, and the conflict rule."""
import threading

import pytest
from params import overrides

from sarl_ros.msg import RewardSignal
from sarl_ros.nodes.reward_node import RewardNode, resolve
from sarl_ros.srv import EvaluateEpisode, ReportOutcome

SUCCESS, FAILURE, SKIP = ReportOutcome.Request.SUCCESS, ReportOutcome.Request.FAILURE, ReportOutcome.Request.SKIP


@pytest.mark.parametrize('detector, human, expected', [
    ((True, 0.8), None, (True, RewardSignal.SOURCE_DETECTOR, 0.8)),
    ((False, 0.9), None, (False, RewardSignal.SOURCE_DETECTOR, 0.9)),
    ((False, 0.9), SUCCESS, (True, RewardSignal.SOURCE_HUMAN, 1.0)),
    ((True, 0.9), FAILURE, (False, RewardSignal.SOURCE_HUMAN, 1.0)),
    ((True, 0.9), SKIP, (None, RewardSignal.SOURCE_HUMAN, 1.0)),
    (None, None, (None, RewardSignal.SOURCE_DETECTOR, 0.0)),
    ((None, 0.0), None, (None, RewardSignal.SOURCE_DETECTOR, 0.0)),
])
def test_conflict_rule(detector, human, expected):
    success, source, confidence, detail = resolve(detector, human)
    assert (success, source, confidence) == expected
    if human in (SUCCESS, FAILURE) and detector and detector[0] is not None and detector[0] != success:
        assert detail.startswith('human overrides detector')


def test_human_verdict_by_service_decides_the_final_reward(ros):
    ros.add(RewardNode(**overrides(detector='none', human=True, keyboard=False, human_timeout_s=10.0)))
    evaluate = ros.client(EvaluateEpisode, '/sarl/evaluate_episode')
    report = ros.client(ReportOutcome, '/sarl/report_outcome')
    published = ros.subscribe(RewardSignal, '/sarl/rewards')

    answer = {}

    def ask():
        answer['reply'] = ros.call(evaluate, EvaluateEpisode.Request(episode=3, final=True, task='t'), timeout=20)

    asking = threading.Thread(target=ask)
    asking.start()
    ack = ros.call(report, ReportOutcome.Request(episode=3, outcome=SUCCESS))
    asking.join(timeout=20)
    assert ack.accepted
    reply = answer['reply']
    assert reply.decided and reply.reward.value == 1.0
    assert reply.reward.source == RewardSignal.SOURCE_HUMAN and reply.reward.episode == 3
    ros.wait_for(lambda: published, what='the published reward')
    assert published[0].value == 1.0


def test_undecided_when_no_human_answers_in_time(ros):
    ros.add(RewardNode(**overrides(detector='none', human=True, keyboard=False)))
    evaluate = ros.client(EvaluateEpisode, '/sarl/evaluate_episode')
    reply = ros.call(evaluate, EvaluateEpisode.Request(episode=1, final=True, timeout_s=0.3))
    assert not reply.decided and reply.message == 'undecided'


def test_a_step_check_never_waits_for_a_human(ros):
    ros.add(RewardNode(**overrides(detector='none', human=True, keyboard=False, human_timeout_s=30.0)))
    evaluate = ros.client(EvaluateEpisode, '/sarl/evaluate_episode')
    reply = ros.call(evaluate, EvaluateEpisode.Request(episode=1, final=False), timeout=5.0)
    assert not reply.decided


def test_unknown_outcome_is_refused(ros):
    ros.add(RewardNode(**overrides(detector='none')))
    report = ros.client(ReportOutcome, '/sarl/report_outcome')
    assert not ros.call(report, ReportOutcome.Request(episode=1, outcome=9)).accepted
