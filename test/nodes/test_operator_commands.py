"""What the operator's commands do to the graph.

A person's failure ends the episode and can be corrected until the next episode starts (the learner's
stored reward, episodes.csv and the events follow); pause holds the next episode, also when pressed
while a reset waits; the emergency stop aborts the episode between prompts (no goal goes to the
stopped arm, the record says aborted) and the next reset needs a confirmation given after the release.
"""
import csv
import time

import pytest
import torch
from params import overrides
from rclpy.node import Node
from std_srvs.srv import Trigger

from sarl_ros.core.events import PAUSED_BY_OPERATOR, WAITING_FOR_RELEASE
from sarl_ros.core.relabel import replay_buffers
from sarl_ros.msg import EpisodeEvent, Transition
from sarl_ros.nodes.episode_manager_node import EpisodeManager
from sarl_ros.nodes.policy_node import PolicyNode
from sarl_ros.nodes.reward_node import RewardNode
from sarl_ros.rosutil.qos import RECORD
from sarl_ros.srv import EmergencyStop, PauseEpisodes, ReportOutcome

pytest.importorskip('mujoco', reason='the graph runs on the simulator: run ./sarl test')
from sarl_ros.nodes.executor_node import ExecutorNode  # noqa: E402
from sarl_ros.nodes.proposer_node import ProposerNode  # noqa: E402

TASK = 'sushi_to_pot'


def start_graph(ros, tmp_path, detector, **manager):
    torch.set_num_threads(1)
    nodes = {'executor': ros.add(ExecutorNode(**overrides(robot='sim', vla='sim', sim_task=TASK,
                                                          sim_camera_rate_hz=0.0))),
             'proposer': ros.add(ProposerNode(**overrides(backend='sim'))),
             'policy': ros.add(PolicyNode(**overrides(encoder='hashing', output_dir=str(tmp_path)))),
             'reward': ros.add(RewardNode(**overrides(detector=detector, human=False)))}
    probe = ros.add(Node('operator_probe'))
    probe.nodes = nodes
    events, transitions = [], []
    probe.create_subscription(EpisodeEvent, '/sarl/episode_events', events.append, RECORD)
    probe.create_subscription(Transition, '/sarl/transitions', transitions.append, RECORD)
    params = dict(task=TASK, output_dir=str(tmp_path), service_timeout_s=10.0, retries=1)
    params.update(manager)
    ros.add(EpisodeManager(**overrides(**params)))
    return probe, events, transitions


def kinds(events, episode):
    return [e.type for e in events if e.episode == episode]


def call(ros, probe, srv_type, name, **request):
    return ros.call(probe.create_client(srv_type, name), srv_type.Request(**request))


def test_a_reported_failure_ends_the_episode_and_can_be_corrected_before_the_next_starts(ros, tmp_path):
    probe, events, transitions = start_graph(ros, tmp_path, 'none', episodes=2, max_decisions=40,
                                             reset_mode='operator')
    ros.wait_for(lambda: EpisodeEvent.RESET_REQUESTED in kinds(events, 1), what='episode 1 to wait for its reset')
    assert call(ros, probe, Trigger, '/sarl/confirm_reset').success
    ros.wait_for(lambda: EpisodeEvent.START in kinds(events, 1), what='episode 1 to start')
    report = probe.create_client(ReportOutcome, '/sarl/report_outcome')
    assert ros.call(report, ReportOutcome.Request(episode=1, outcome=ReportOutcome.Request.FAILURE)).accepted
    ros.wait_for(lambda: EpisodeEvent.FAILURE in kinds(events, 1), timeout=60, what='the failure event')
    ros.wait_for(lambda: any(t.terminal for t in transitions), what='the terminal transition')
    assert transitions[-1].terminal and transitions[-1].reward == 0.0 and not transitions[-1].truncated
    assert len(transitions) < 40  # ended by the operator, not by the budget
    failure = next(e for e in events if e.type == EpisodeEvent.FAILURE)
    assert failure.detail.startswith('failed for good (human; failed for good)'), failure.detail
    log = tmp_path / 'episodes.csv'
    ros.wait_for(lambda: log.exists(), what='the episode log')
    row = next(csv.DictReader(log.open()))
    assert row['success'] == '0' and int(row['decisions']) == len(transitions)
    assert row['outcome'] == 'failure' and row['decided_by'] == 'person'

    # The operator pressed the wrong key: corrected to success while episode 2 waits for its reset.
    ros.wait_for(lambda: EpisodeEvent.RESET_REQUESTED in kinds(events, 2), what='episode 2 to wait')
    correct = probe.create_client(ReportOutcome, '/sarl/correct_outcome')
    refused = ros.call(correct, ReportOutcome.Request(episode=2, outcome=ReportOutcome.Request.SUCCESS))
    assert not refused.accepted and 'cannot be corrected' in refused.message
    reply = ros.call(correct, ReportOutcome.Request(episode=1, outcome=ReportOutcome.Request.SUCCESS))
    assert reply.accepted, reply.message
    row = next(csv.DictReader(log.open()))
    assert (row['success'], row['outcome'], row['decided_by']) == ('1', 'success', 'person (corrected)')
    ros.wait_for(lambda: any(e.type == EpisodeEvent.SUCCESS and e.episode == 1 for e in events),
                 what='the corrected outcome on the record topic (the bag)')
    corrected = next(e for e in events if e.type == EpisodeEvent.SUCCESS)
    assert corrected.detail.startswith('corrected by the operator (was failure)')
    buffer = replay_buffers(probe.nodes['policy'].policy)[0]
    assert buffer.terminal[buffer.size - 1] and buffer.rewards[buffer.size - 1] == 1.0  # the learner follows
    assert probe.nodes['policy'].successes == [True]

    # Once the next episode starts, the verdict stands.
    assert call(ros, probe, Trigger, '/sarl/confirm_reset').success
    ros.wait_for(lambda: EpisodeEvent.START in kinds(events, 2), what='episode 2 to start')
    late = ros.call(correct, ReportOutcome.Request(episode=1, outcome=ReportOutcome.Request.FAILURE))
    assert not late.accepted
    assert call(ros, probe, Trigger, '/sarl/stop').success


def test_pause_and_the_emergency_stop_hold_episodes_until_the_operator_acts(ros, tmp_path):
    probe, events, _ = start_graph(ros, tmp_path, 'none', episodes=3, max_decisions=2, reset_mode='operator')
    executor, reward = probe.nodes['executor'], probe.nodes['reward']
    confirm = probe.create_client(Trigger, '/sarl/confirm_reset')
    pause = probe.create_client(PauseEpisodes, '/sarl/pause')

    # Pause pressed while the reset waits: after the confirmation the episode still waits, and `r` is refused.
    ros.wait_for(lambda: EpisodeEvent.RESET_REQUESTED in kinds(events, 1), what='episode 1 to wait for its reset')
    reply = ros.call(pause, PauseEpisodes.Request(paused=True))
    assert reply.success and reply.message == 'pausing after the current episode'
    assert ros.call(confirm, Trigger.Request()).success
    ros.wait_for(lambda: any(e.episode == 1 and e.detail == PAUSED_BY_OPERATOR for e in events),
                 what='episode 1 to wait for the resume')
    assert EpisodeEvent.START not in kinds(events, 1)
    again = ros.call(confirm, Trigger.Request())
    assert not again.success and again.message == 'no reset is waiting for a confirmation'
    assert ros.call(pause, PauseEpisodes.Request(paused=False)).success
    ros.wait_for(lambda: EpisodeEvent.START in kinds(events, 1), what='episode 1 to start once resumed')

    # Pause during an episode: it runs to its end, the next one waits.
    assert ros.call(pause, PauseEpisodes.Request(paused=True)).success
    ros.wait_for(lambda: EpisodeEvent.PAUSED in kinds(events, 2), timeout=60, what='the pause before episode 2')
    assert EpisodeEvent.TIMEOUT in kinds(events, 1)  # episode 1 ran to its end
    assert kinds(events, 2) == [EpisodeEvent.PAUSED]
    reply = ros.call(pause, PauseEpisodes.Request(paused=False))
    assert reply.success and reply.episode == 2
    ros.wait_for(lambda: EpisodeEvent.RESET_REQUESTED in kinds(events, 2), timeout=60, what='episode 2 to go on')

    # The e-stop engaged between two prompts (while the first verdict is asked for) aborts the episode.
    goals, engaged_after = [], []
    executor.server.register_goal_callback(lambda goal: goals.append(goal.decision_step) or executor._on_goal(goal))
    take_verdict = reward._take_verdict

    def engage_between_prompts(episode):
        if episode == 2 and not engaged_after:
            executor._on_estop(EmergencyStop.Request(engage=True, reason='operator\n[forged] line'),
                               EmergencyStop.Response())
            engaged_after.append(len(goals))
        return take_verdict(episode)

    reward._take_verdict = engage_between_prompts
    assert ros.call(confirm, Trigger.Request()).success
    ros.wait_for(lambda: EpisodeEvent.ABORTED in kinds(events, 2), timeout=60, what='episode 2 to be aborted')
    assert next(e for e in events if e.type == EpisodeEvent.ABORTED).detail == 'emergency stop'
    assert len(goals) == engaged_after[0] == 1, goals  # not one goal was sent to the stopped arm
    ros.wait_for(lambda: len(list(csv.DictReader((tmp_path / 'episodes.csv').open()))) == 2, what='the record')
    rows = list(csv.DictReader((tmp_path / 'episodes.csv').open()))
    assert (rows[1]['episode'], rows[1]['outcome'], rows[1]['success']) == ('2', 'aborted', '0')
    assert probe.nodes['policy'].successes == [False]  # the aborted episode is no failure of the learner's

    # The next reset waits for the release; a confirmation given before the release does not count.
    ros.wait_for(lambda: any(e.episode == 3 and e.detail == WAITING_FOR_RELEASE for e in events),
                 what='episode 3 to wait for the release')
    early = ros.call(confirm, Trigger.Request())
    assert not early.success and 'emergency stop is engaged' in early.message
    time.sleep(1.0)  # the manager asks for the reset again every 0.5 s: still refused, still no start
    assert EpisodeEvent.START not in kinds(events, 3)
    executor._on_estop(EmergencyStop.Request(engage=False), EmergencyStop.Response())
    time.sleep(1.0)  # released and reset: the refused confirmation was not remembered
    assert EpisodeEvent.START not in kinds(events, 3)
    ros.wait_for(lambda: ros.call(confirm, Trigger.Request()).success, what='a confirmation after the release')
    ros.wait_for(lambda: EpisodeEvent.START in kinds(events, 3), timeout=30, what='episode 3 to start')
    assert call(ros, probe, Trigger, '/sarl/stop').success
