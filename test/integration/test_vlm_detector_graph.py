"""A VLM success detector decides episodes through the node graph (detector:=vlm, human:=false).

The detector's VLM is a local chat-completions endpoint that judges the colour of the image it
is sent (colour_judge.py). The simulated arm runs without rendering, so the only frames in the
graph are the ones this test publishes on the camera topic: if the reward node did not pass
the camera image on, no episode could succeed.
"""
import csv

import numpy as np
import pytest
from colour_judge import ColourJudge, mostly_green

rclpy = pytest.importorskip('rclpy', reason='needs the ROS 2 wheels: run ./sarl test')
pytest.importorskip('mujoco', reason='the graph runs on the simulator: run ./sarl test')
import torch  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from sarl_ros import names  # noqa: E402
from sarl_ros.msg import EpisodeEvent, RewardSignal  # noqa: E402
from sarl_ros.nodes.episode_manager_node import EpisodeManager  # noqa: E402
from sarl_ros.nodes.executor_node import ExecutorNode  # noqa: E402
from sarl_ros.nodes.policy_node import PolicyNode  # noqa: E402
from sarl_ros.nodes.proposer_node import ProposerNode  # noqa: E402
from sarl_ros.nodes.reward_node import RewardNode  # noqa: E402
from sarl_ros.rosutil.images import to_image_msg  # noqa: E402
from sarl_ros.rosutil.qos import RECORD, SENSOR  # noqa: E402
from sarl_ros.srv import EvaluateEpisode, StartEpisode  # noqa: E402

GREEN, RED = (30, 200, 40), (210, 40, 30)


def overrides(**values):
    return {'parameter_overrides': [Parameter(k, value=v) for k, v in values.items()]}


def frame(colour):
    image = np.zeros((48, 64, 3), np.uint8)
    image[:] = colour
    return image


@pytest.fixture
def judge():
    server = ColourJudge()
    yield server
    server.close()


def vlm_reward_node(judge):
    return RewardNode(**overrides(detector='vlm', human=False, detector_backend='openai',
                                  detector_base_url=judge.base_url, detector_timeout_s=10.0))


@pytest.mark.parametrize('colour, succeeds', [(GREEN, True), (RED, False)])
def test_vlm_detector_decides_episodes_through_the_graph(ros, tmp_path, judge, colour, succeeds):
    torch.set_num_threads(1)
    ros.add(ExecutorNode(**overrides(robot='sim', vla='sim', sim_task='sushi_to_pot', sim_camera_rate_hz=0.0)))
    ros.add(ProposerNode(**overrides(backend='sim')))
    ros.add(PolicyNode(**overrides(encoder='hashing', output_dir=str(tmp_path))))
    ros.add(vlm_reward_node(judge))
    camera = ros.add(Node('test_camera'))
    image_pub = camera.create_publisher(Image, names.TOPIC_CAMERA, SENSOR)
    camera.create_timer(0.02, lambda: image_pub.publish(to_image_msg(frame(colour))))
    events, rewards = [], []
    camera.create_subscription(EpisodeEvent, names.TOPIC_EVENTS, events.append, RECORD)
    camera.create_subscription(RewardSignal, names.TOPIC_REWARDS, rewards.append, RECORD)
    # One episode started by hand of two: the manager then waits for the next start instead of shutting the
    # context down under the test's executor.
    ros.add(EpisodeManager(**overrides(task='sushi_to_pot', episodes=2, autostart=False, max_decisions=2,
                                       output_dir=str(tmp_path), service_timeout_s=20.0, retries=1)))
    assert ros.call(camera.create_client(StartEpisode, names.SRV_START_EPISODE), StartEpisode.Request()).success

    end = {EpisodeEvent.SUCCESS, EpisodeEvent.TIMEOUT, EpisodeEvent.FAILURE, EpisodeEvent.ABORTED}
    ros.wait_for(lambda: any(e.type in end for e in events), timeout=120, what='the episode to end')
    last = [e.type for e in events if e.type in end]
    assert last == [EpisodeEvent.SUCCESS if succeeds else EpisodeEvent.TIMEOUT]
    ros.wait_for(lambda: rewards, what='the reward that ended the episode')
    assert rewards[-1].source == RewardSignal.SOURCE_DETECTOR and rewards[-1].value == float(succeeds)
    # The VLM judged the camera's frames, and nothing without an image.
    assert judge.seen and judge.requests_without_image == 0
    assert all(mostly_green(np.array([mean])) == succeeds for mean in judge.seen)
    log = tmp_path / 'episodes.csv'
    ros.wait_for(lambda: log.exists() and len(log.read_text().splitlines()) == 2, what='the episode log line')
    row = next(csv.DictReader(log.open()))
    assert row['success'] == str(int(succeeds))
    assert int(row['decisions']) == (1 if succeeds else 2)


def test_the_image_in_the_request_is_judged_before_the_camera_topic(ros, judge):
    node = ros.add(vlm_reward_node(judge))
    camera = ros.add(Node('test_camera'))
    image_pub = camera.create_publisher(Image, names.TOPIC_CAMERA, SENSOR)
    camera.create_timer(0.02, lambda: image_pub.publish(to_image_msg(frame(RED))))
    evaluate = node.create_client(EvaluateEpisode, names.SRV_EVALUATE)
    ros.wait_for(lambda: node._latest_frame is not None, what='a camera frame at the reward node')

    from_camera = ros.call(evaluate, EvaluateEpisode.Request(episode=1, task='t', final=True))
    from_request = ros.call(evaluate, EvaluateEpisode.Request(episode=1, task='t', final=True,
                                                              image=to_image_msg(frame(GREEN))))
    assert from_camera.decided and from_camera.reward.value == 0.0
    assert from_request.decided and from_request.reward.value == 1.0
    assert [mostly_green(np.array([mean])) for mean in judge.seen] == [False, True]
