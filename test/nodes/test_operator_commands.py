"""What the operator's commands do to the graph: a person's failure ends the episode, pause waits."""
import csv

import pytest
import torch
from params import overrides
from rclpy.node import Node
from std_srvs.srv import Trigger

from sarl_ros.msg import EpisodeEvent, Transition
from sarl_ros.nodes.episode_manager_node import EpisodeManager
from sarl_ros.nodes.policy_node import PolicyNode
from sarl_ros.nodes.reward_node import RewardNode
from sarl_ros.rosutil.qos import RECORD
from sarl_ros.srv import PauseEpisodes, ReportOutcome

pytest.importorskip('mujoco', reason='the graph runs on the simulator: run ./sarl test')
from sarl_ros.nodes.executor_node import ExecutorNode  # noqa: E402
from sarl_ros.nodes.proposer_node import ProposerNode  # noqa: E402

TASK = 'sushi_to_pot'


def start_graph(ros, tmp_path, detector, **manager):
    torch.set_num_threads(1)
    ros.add(ExecutorNode(**overrides(robot='sim', vla='sim', sim_task=TASK, sim_camera_rate_hz=0.0)))
    ros.add(ProposerNode(**overrides(backend='sim')))
    ros.add(PolicyNode(**overrides(encoder='hashing', output_dir=str(tmp_path))))
    ros.add(RewardNode(**overrides(detector=detector, human=False)))
    probe = ros.add(Node('operator_probe'))
    events, transitions = [], []
    probe.create_subscription(EpisodeEvent, '/sarl/episode_events', events.append, RECORD)
    probe.create_subscription(Transition, '/sarl/transitions', transitions.append, RECORD)
    params = dict(task=TASK, output_dir=str(tmp_path), service_timeout_s=10.0, retries=1)
    params.update(manager)
    ros.add(EpisodeManager(**overrides(**params)))
    return probe, events, transitions


def kinds(events, episode):
    return [e.type for e in events if e.episode == episode]


def test_a_reported_failure_ends_the_episode_with_a_terminal_zero_reward(ros, tmp_path):
    probe, events, transitions = start_graph(ros, tmp_path, 'none', episodes=1, max_decisions=40)
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


def test_pause_lets_the_episode_finish_and_holds_the_next_until_resumed(ros, tmp_path):
    probe, events, _ = start_graph(ros, tmp_path, 'sim', episodes=2, max_decisions=2, reset_mode='operator')
    ros.wait_for(lambda: EpisodeEvent.RESET_REQUESTED in kinds(events, 1), what='episode 1 to wait for its reset')
    pause = probe.create_client(PauseEpisodes, '/sarl/pause')
    reply = ros.call(pause, PauseEpisodes.Request(paused=True))
    assert reply.success and reply.message == 'pausing after the current episode'
    assert ros.call(probe.create_client(Trigger, '/sarl/confirm_reset'), Trigger.Request()).success
    ros.wait_for(lambda: EpisodeEvent.START in kinds(events, 1), what='episode 1 to start')
    ros.wait_for(lambda: EpisodeEvent.PAUSED in kinds(events, 2), timeout=60, what='the pause before episode 2')
    assert {EpisodeEvent.SUCCESS, EpisodeEvent.TIMEOUT} & set(kinds(events, 1))  # episode 1 ran to its end
    assert kinds(events, 2) == [EpisodeEvent.PAUSED]
    assert next(e for e in events if e.episode == 2).detail == 'paused by the operator'
    reply = ros.call(pause, PauseEpisodes.Request(paused=False))
    assert reply.success and reply.episode == 2
    ros.wait_for(lambda: EpisodeEvent.RESET_REQUESTED in kinds(events, 2), timeout=60, what='episode 2 to go on')
