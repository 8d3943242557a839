"""Playing a bag back onto the ROS topics: the recorded bytes, in order, at a scaled speed."""
import pytest
from recording_helpers import synthetic_run, write_bag

rclpy = pytest.importorskip('rclpy', reason='needs the ROS 2 wheels: run ./sarl test')
from rclpy.node import Node  # noqa: E402
from rclpy.serialization import deserialize_message  # noqa: E402

from sarl_ros import names  # noqa: E402
from sarl_ros.msg import EpisodeEvent, Transition as TransitionMsg  # noqa: E402
from sarl_ros.recording.bag.play import play  # noqa: E402
from sarl_ros.rosutil.qos import RECORD  # noqa: E402


def collect(ros, topic, msg_type, raw=True):
    return ros.subscribe(msg_type, topic, RECORD, raw=raw)


def test_play_republishes_the_recorded_bytes_in_order(ros, tmp_path):
    run = synthetic_run(episodes=3, seed=2)
    write_bag(tmp_path / 'bag', run)
    transitions = collect(ros, names.TOPIC_TRANSITIONS, TransitionMsg)
    events = collect(ros, names.TOPIC_EVENTS, EpisodeEvent, raw=False)
    player = ros.own(Node('player'))  # publishes only: never spun
    problems = []
    count = play(tmp_path / 'bag', rate=20.0, node=player, topics={names.TOPIC_TRANSITIONS, names.TOPIC_EVENTS},
                 wait_for_subscribers_s=15.0, problems=problems)
    assert count == run.topic_count(names.TOPIC_TRANSITIONS) + run.topic_count(names.TOPIC_EVENTS)
    ros.wait_for(lambda: len(transitions) == len(run.transition_cdr), what='every transition')
    assert transitions == run.transition_cdr
    ros.wait_for(lambda: len(events) == run.topic_count(names.TOPIC_EVENTS), what='every event')
    assert [e.type for e in events if e.type in (3, 5)] == [3 if o == 'success' else 5 for o in run.outcomes]
    assert problems == []


def test_play_converts_a_newer_definition_for_this_version(ros, tmp_path):
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    from sarl_ros.recording.bag.writer import BagWriter
    from sarl_ros.recording.bag.message_types import find_msg_directory, own_typestore

    run = synthetic_run(episodes=2, seed=4)
    msg_dir = find_msg_directory()
    store = get_typestore(Stores.ROS2_KILTED)
    store.register(get_types_from_msg((msg_dir / 'SemanticAction.msg').read_text(), 'sarl_ros/msg/SemanticAction'))
    store.register(get_types_from_msg((msg_dir / 'Transition.msg').read_text() + 'float64 novelty\n',
                                      'sarl_ros/msg/Transition'))
    own = own_typestore()
    with BagWriter(tmp_path / 'bag') as writer:
        writer.add_topic(names.TOPIC_TRANSITIONS, 'sarl_ros/msg/Transition',
                         msgdef=store.generate_msgdef('sarl_ros/msg/Transition', ros_version=2)[0],
                         rihs01=store.hash_rihs01('sarl_ros/msg/Transition'))
        for topic, stamp, data in run.stream:
            if topic == names.TOPIC_TRANSITIONS:
                old = own.deserialize_cdr(data, 'sarl_ros/msg/Transition')
                newer = store.types['sarl_ros/msg/Transition'](**old.__dict__, novelty=2.5)
                writer.write(topic, stamp, bytes(store.serialize_cdr(newer, 'sarl_ros/msg/Transition')))
    received = collect(ros, names.TOPIC_TRANSITIONS, TransitionMsg)
    problems = []
    play(tmp_path / 'bag', rate=50.0, node=ros.own(Node('player2')), wait_for_subscribers_s=15.0, problems=problems)
    ros.wait_for(lambda: len(received) == len(run.transition_cdr), what='every transition')
    expected = [deserialize_message(d, TransitionMsg) for d in run.transition_cdr]
    assert [deserialize_message(d, TransitionMsg) for d in received] == expected
    assert any('newer' in p and 'novelty' in p for p in problems), problems


def test_rate_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match='rate must be positive'):
        play(tmp_path, rate=0.0)
