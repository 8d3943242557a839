"""A person's verdict decides an episode through the graph even when it takes longer than a service call.

The reward node waits up to reward.human_timeout_s for the person; the episode manager must
wait for that final verdict (episode_manager.verdict_timeout_s), not give up after
service_timeout_s and end the run.
"""
import threading
import time

import pytest

rclpy = pytest.importorskip('rclpy', reason='needs the ROS 2 wheels: run ./sarl test')
pytest.importorskip('mujoco', reason='the graph runs on the simulator: run ./sarl test')
import torch  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from sarl_ros import names  # noqa: E402
from sarl_ros.msg import EpisodeEvent, RewardSignal  # noqa: E402
from sarl_ros.nodes.episode_manager_node import EpisodeManager  # noqa: E402
from sarl_ros.nodes.executor_node import ExecutorNode  # noqa: E402
from sarl_ros.nodes.policy_node import PolicyNode  # noqa: E402
from sarl_ros.nodes.proposer_node import ProposerNode  # noqa: E402
from sarl_ros.nodes.reward_node import RewardNode  # noqa: E402
from sarl_ros.rosutil.qos import RECORD  # noqa: E402
from sarl_ros.srv import ReportOutcome, StartEpisode  # noqa: E402

SERVICE_TIMEOUT_S = 8.0  # long enough for a first decision on a loaded machine


def overrides(**values):
    return {'parameter_overrides': [Parameter(k, value=v) for k, v in values.items()]}


def test_a_slow_human_verdict_ends_the_episode(ros, tmp_path):
    torch.set_num_threads(1)
    ros.add(ExecutorNode(**overrides(robot='sim', vla='sim', sim_task='sushi_to_pot', sim_camera_rate_hz=0.0)))
    ros.add(ProposerNode(**overrides(backend='sim')))
    ros.add(PolicyNode(**overrides(encoder='hashing', output_dir=str(tmp_path))))
    reward = ros.add(RewardNode(**overrides(detector='none', human=True, keyboard=False, human_timeout_s=60.0)))
    asked = threading.Event()
    wait_for_human = reward._wait_for_human

    def asking(*args):
        asked.set()
        return wait_for_human(*args)
    reward._wait_for_human = asking
    probe = ros.add(Node('person'))
    events, rewards = [], []
    probe.create_subscription(EpisodeEvent, names.TOPIC_EVENTS, events.append, RECORD)
    probe.create_subscription(RewardSignal, names.TOPIC_REWARDS, rewards.append, RECORD)
    manager = ros.add(EpisodeManager(**overrides(task='sushi_to_pot', episodes=2, autostart=False, max_decisions=1,
                                                 output_dir=str(tmp_path), service_timeout_s=SERVICE_TIMEOUT_S,
                                                 verdict_timeout_s=60.0, retries=1)))
    assert ros.call(probe.create_client(StartEpisode, names.SRV_START_EPISODE), StartEpisode.Request()).success

    ros.wait_for(asked.is_set, timeout=60, what='the reward node to ask the person')
    time.sleep(SERVICE_TIMEOUT_S + 0.5)  # the person answers later than any service call may take
    report = probe.create_client(ReportOutcome, names.SRV_REPORT_OUTCOME)
    assert ros.call(report, ReportOutcome.Request(episode=1, outcome=ReportOutcome.Request.SUCCESS)).accepted

    ros.wait_for(lambda: any(e.type == EpisodeEvent.SUCCESS for e in events), timeout=30, what='the success event')
    assert manager.exit_code == 0 and manager.successes == [True]
    ros.wait_for(lambda: rewards, what='the published verdict')
    assert rewards[-1].source == RewardSignal.SOURCE_HUMAN and rewards[-1].value == 1.0
