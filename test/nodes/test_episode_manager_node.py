"""Episode manager contract: teleop-style reset with an operator, and executor refusals that skip a step."""
import csv

import pytest
import torch
from params import overrides
from rclpy.action import GoalResponse
from std_srvs.srv import Trigger

from sarl_ros.msg import EpisodeEvent
from sarl_ros.nodes.episode_manager_node import EpisodeManager
from sarl_ros.nodes.policy_node import PolicyNode
from sarl_ros.nodes.reward_node import RewardNode
from sarl_ros.rosutil.qos import RECORD

pytest.importorskip('mujoco', reason='the graph runs on the simulator: run ./sarl test')
from sarl_ros.nodes.executor_node import ExecutorNode  # noqa: E402
from sarl_ros.nodes.proposer_node import ProposerNode  # noqa: E402

TASK = 'sushi_to_pot'


def start_graph(ros, tmp_path, **manager):
    torch.set_num_threads(1)
    executor = ros.add(ExecutorNode(**overrides(robot='sim', vla='sim', sim_task=TASK, sim_camera_rate_hz=0.0)))
    ros.add(ProposerNode(**overrides(backend='sim')))
    ros.add(PolicyNode(**overrides(encoder='hashing', output_dir=str(tmp_path))))
    ros.add(RewardNode(**overrides(detector='sim', human=False)))
    events = ros.subscribe(EpisodeEvent, '/sarl/episode_events', RECORD)
    params = dict(task=TASK, output_dir=str(tmp_path), service_timeout_s=10.0, retries=1)
    params.update(manager)
    return executor, events, ros.add(EpisodeManager(**overrides(**params)))


def test_operator_reset_pauses_until_confirmed(ros, tmp_path):
    _, events, _ = start_graph(ros, tmp_path, episodes=1, reset_mode='operator', reset_reminder_s=0.3,
                               max_decisions=2)
    ros.wait_for(lambda: sum(e.type == EpisodeEvent.PAUSED for e in events) >= 2, what='two reminders')
    assert EpisodeEvent.START not in [e.type for e in events]  # nothing moves before the operator says so
    assert ros.call(ros.client(Trigger, '/sarl/confirm_reset'), Trigger.Request()).success
    ros.wait_for(lambda: any(e.type in (EpisodeEvent.SUCCESS, EpisodeEvent.TIMEOUT) for e in events),
                 timeout=60, what='the episode to end')
    kinds = [e.type for e in events if e.type != EpisodeEvent.PAUSED]
    assert kinds[:3] == [EpisodeEvent.RESET_REQUESTED, EpisodeEvent.RESET_DONE, EpisodeEvent.START]


def test_rejected_goals_skip_steps_without_storing_transitions(ros, tmp_path):
    executor, events, manager = start_graph(ros, tmp_path, episodes=1, max_decisions=3)
    # The executor refuses every prompt (as when another goal runs); resets and state reads still work.
    executor.server.register_goal_callback(lambda goal: GoalResponse.REJECT)
    ros.wait_for(lambda: any(e.type == EpisodeEvent.TIMEOUT for e in events), timeout=90, what='the episode end')
    log = tmp_path / 'episodes.csv'
    ros.wait_for(lambda: log.exists() and len(log.read_text().splitlines()) == 2, what='the episode log line')
    rows = list(csv.DictReader(log.open()))
    assert rows[0]['decisions'] == '0' and rows[0]['success'] == '0'
    assert manager.exit_code == 0
