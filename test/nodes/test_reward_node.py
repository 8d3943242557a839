"""Reward node contract: detector answers, human verdicts, and the conflict rule."""
import threading

import pytest
from params import overrides

from sarl_ros.core.events import WAITING_FOR_VERDICT
from sarl_ros.msg import EpisodeEvent, RewardSignal
from sarl_ros.nodes.reward_node import RewardNode, resolve
from sarl_ros.rosutil.qos import RECORD
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


def test_a_step_check_waits_for_a_human_only_when_the_detector_says_the_episode_is_over(ros):
    node = ros.add(RewardNode(**overrides(detector='none', human=True, keyboard=False, human_timeout_s=30.0)))
    evaluate = ros.client(EvaluateEpisode, '/sarl/evaluate_episode')
    events = ros.subscribe(EpisodeEvent, '/sarl/episode_events', RECORD)
    reply = ros.call(evaluate, EvaluateEpisode.Request(episode=1, final=False), timeout=5.0)
    assert not reply.decided and not events  # nothing to ask: the episode goes on

    class SaysSuccess:
        def evaluate(self, image, task):
            return True, 0.9

    node.detector = SaysSuccess()  # with human:=true the detector's success is not the last word
    answer = {}
    asking = threading.Thread(target=lambda: answer.update(reply=ros.call(
        evaluate, EvaluateEpisode.Request(episode=2, final=False, task='t'), timeout=20)))
    asking.start()
    ros.wait_for(lambda: events, what='the console to be told a verdict is awaited')
    assert events[0].type == EpisodeEvent.PAUSED and events[0].detail == WAITING_FOR_VERDICT
    assert 'reply' not in answer  # it waits for the person
    report = ros.client(ReportOutcome, '/sarl/report_outcome')
    assert ros.call(report, ReportOutcome.Request(episode=2, outcome=FAILURE)).accepted
    asking.join(timeout=20)
    reward = answer['reply'].reward
    assert reward.value == 0.0 and reward.source == RewardSignal.SOURCE_HUMAN and reward.failed_for_good
    assert reward.detail.startswith('human overrides detector')


def test_unknown_outcome_is_refused(ros):
    ros.add(RewardNode(**overrides(detector='none')))
    report = ros.client(ReportOutcome, '/sarl/report_outcome')
    assert not ros.call(report, ReportOutcome.Request(episode=1, outcome=9)).accepted
