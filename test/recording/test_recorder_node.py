"""The recorder node: a realistic SARL stream in, a bag out that gives back exactly what was published."""
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from recording_helpers import learner_transitions, synthetic_run

rclpy = pytest.importorskip('rclpy', reason='needs the ROS 2 wheels: run ./sarl test')
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.serialization import deserialize_message  # noqa: E402

from sarl_ros import names  # noqa: E402
from sarl_ros.msg import EpisodeEvent, Transition as TransitionMsg  # noqa: E402
from sarl_ros.nodes.recorder_node import RecorderNode  # noqa: E402
from sarl_ros.rosutil.imports import message_class  # noqa: E402
from sarl_ros.recording.compare import record_and_compare  # noqa: E402
from sarl_ros.recording.bag.message_types import TOPIC_TYPES, definition_and_hash  # noqa: E402
from sarl_ros.recording.reader import read_recording  # noqa: E402
from sarl_ros.rosutil.convert import transition_from_msg  # noqa: E402
from sarl_ros.rosutil.qos import RECORD, SENSOR  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def overrides(**values):
    return {'parameter_overrides': [Parameter(k, value=v) for k, v in values.items()]}


def publish_stream(ros, run, name='sarl_stream'):
    """Publish the run's CDR on its topics (images paced: sensor QoS keeps only a few)."""
    peer = Node(name)  # publishers only: nothing to spin
    publishers = {t: peer.create_publisher(message_class(TOPIC_TYPES[t]), t,
                                           SENSOR if t == names.TOPIC_CAMERA else RECORD)
                  for t in {t for t, _, _ in run.stream}}
    ros.add(peer)
    ros.wait_for(lambda: all(p.get_subscription_count() for p in publishers.values()), what='the recorder to subscribe')
    for topic, _, data in run.stream:
        publishers[topic].publish(data)
        if topic == names.TOPIC_CAMERA:
            time.sleep(0.003)
    return peer


def test_recorded_stream_reads_back_bit_exact(ros, tmp_path):
    run = synthetic_run(episodes=5, seed=11)
    recorder = ros.add(RecorderNode(**overrides(output_dir=str(tmp_path), image_decimation=2, flush_period_s=0.2)))
    publish_stream(ros, run)
    sarl_topics = [t for t in names.RECORDED_TOPICS if t != names.TOPIC_CAMERA]
    ros.wait_for(lambda: all(recorder.writer.counts[t] == run.topic_count(t) for t in sarl_topics),
                 what='every SARL message in the bag')
    ros.wait_for(lambda: recorder.received[names.TOPIC_CAMERA] > 0, what='an image')
    time.sleep(0.3)  # images still in flight
    recorder.close()

    bag = tmp_path / 'bag'
    assert recorder.bag_path == bag and (bag / 'metadata.yaml').exists() and (bag / 'bag.mcap').exists()
    # The transitions the learner stored (decoded by rclpy, converted by the policy node's function) ...
    seen_by_learner = [transition_from_msg(deserialize_message(d, TransitionMsg)) for d in run.transition_cdr]
    # ... equal the bag's to the bit; transition_from_msg does not carry `truncated`, checked next.
    rec = record_and_compare(bag, seen_by_learner, ignore=('truncated',))
    record_and_compare(bag, learner_transitions(run))
    assert rec.problems == []
    assert [e.outcome for e in rec.episodes] == run.outcomes
    assert [e.prompts for e in rec.episodes] == run.chosen
    assert recorder.writer.counts[names.TOPIC_CAMERA] == math.ceil(recorder.received[names.TOPIC_CAMERA] / 2)


def test_bag_metadata_is_what_ros2_bag_expects(ros, tmp_path):
    from rosbags.rosbag2 import Reader

    recorder = ros.add(RecorderNode(**overrides(output_dir=str(tmp_path))))
    pub = ros.publisher(EpisodeEvent, names.TOPIC_EVENTS, RECORD)
    ros.wait_for(lambda: pub.get_subscription_count(), what='discovery')
    for episode in range(3):
        pub.publish(EpisodeEvent(type=EpisodeEvent.START, episode=episode + 1, task='t'))
    ros.wait_for(lambda: recorder.writer.counts[names.TOPIC_EVENTS] == 3, what='3 events')
    recorder.close()
    with Reader(tmp_path / 'bag') as reader:
        assert reader.message_count == 3
        assert {c.topic for c in reader.connections} == set(names.RECORDED_TOPICS)
        for c in reader.connections:
            assert c.digest == definition_and_hash(c.msgtype)[1]
            assert c.msgdef.data == definition_and_hash(c.msgtype)[0]
    assert 'storage_identifier: mcap' in (tmp_path / 'bag' / 'metadata.yaml').read_text()


def test_an_existing_bag_is_never_overwritten(ros, tmp_path):
    (tmp_path / 'bag').mkdir()
    recorder = ros.add(RecorderNode(**overrides(output_dir=str(tmp_path), storage='sqlite3')))
    assert recorder.bag_path == tmp_path / 'bag_2'
    recorder.close()
    assert (tmp_path / 'bag_2' / 'bag_2.db3').exists()
    rec = read_recording(tmp_path / 'bag_2')
    assert set(rec.topics) == set(names.RECORDED_TOPICS) and rec.episodes == []
    assert rec.problems == [f'{tmp_path / "bag_2"}: the SARL topics hold no messages (did the graph run while '
                            'recording?)']


@pytest.mark.parametrize('params, message', [
    ({'image_decimation': 0}, 'image_decimation must be at least 1'),
    ({'topics': ['/sarl/candidates', '/tf']}, 'cannot record /tf; choose from /sarl/candidates'),
    ({'flush_period_s': 0.0}, 'flush_period_s must be positive'),
])
def test_bad_parameters_are_named(ros, tmp_path, params, message):
    with pytest.raises(ValueError, match=message):
        RecorderNode(**overrides(output_dir=str(tmp_path), **params))
    assert not (tmp_path / 'bag').exists()


def start_recorder(tmp_path):
    env = dict(os.environ)
    return subprocess.Popen([sys.executable, '-m', 'sarl_ros.nodes.recorder_node', '--ros-args',
                             '-p', f'output_dir:={tmp_path}', '-p', 'flush_period_s:=0.2'],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_nothing_is_lost_when_the_recorder_is_stopped(ros, tmp_path, sig):
    process = start_recorder(tmp_path)
    try:
        pub = ros.publisher(EpisodeEvent, names.TOPIC_EVENTS, RECORD)
        ros.wait_for(lambda: pub.get_subscription_count(), timeout=60, what='the recorder process to subscribe')
        for episode in range(1, 6):
            pub.publish(EpisodeEvent(type=EpisodeEvent.START, episode=episode, task='t'))
        time.sleep(1.5)  # several flush periods
        process.send_signal(sig)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    rec = read_recording(tmp_path / 'bag')
    assert [e.episode for e in rec.episodes] == [1, 2, 3, 4, 5], output
    if sig == signal.SIGKILL:
        assert rec.recovered and 'did not close the bag' in rec.problems[0]
    else:
        assert (tmp_path / 'bag' / 'metadata.yaml').exists(), output
        assert not rec.recovered and 'bag closed' in output


def test_ctrl_c_during_start_up_still_closes_the_bag(ros, tmp_path, monkeypatch):
    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(RecorderNode, '_subscribe', interrupted)
    with pytest.raises(KeyboardInterrupt):
        RecorderNode(**overrides(output_dir=str(tmp_path)))
    assert (tmp_path / 'bag' / 'metadata.yaml').exists()
