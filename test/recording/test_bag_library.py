"""Intact bags are read by rosbag2_py where it is importable (a ROS workstation), by rosbags otherwise."""
import sys

import rosbag2_py_standin
from recording_helpers import learner_transitions, synthetic_run, write_bag

from sarl_ros import names
from sarl_ros.recording.bag import source
from sarl_ros.recording.compare import record_and_compare


def test_without_rosbag2_py_rosbags_reads(monkeypatch):
    monkeypatch.setitem(sys.modules, 'rosbag2_py', None)  # import fails, as in the PyPI environment
    assert source.bag_library() == 'rosbags'


def test_with_rosbag2_py_the_same_transitions_are_read(tmp_path, monkeypatch):
    run = synthetic_run(episodes=3, seed=5)
    write_bag(tmp_path / 'bag', run)
    by_rosbags = source.read_raw(tmp_path / 'bag', {names.TOPIC_TRANSITIONS})
    monkeypatch.setitem(sys.modules, 'rosbag2_py', rosbag2_py_standin)
    assert source.bag_library() == 'rosbag2_py'
    by_rosbag2 = source.read_raw(tmp_path / 'bag', {names.TOPIC_TRANSITIONS})
    assert [(c.topic, t, d) for c, t, d in by_rosbag2.messages] == [(c.topic, t, d) for c, t, d in by_rosbags.messages]
    assert by_rosbag2.topic_counts == by_rosbags.topic_counts and not by_rosbag2.recovered
    assert {c.msgdef_format for c in by_rosbag2.connections.values()} == {'ros2msg'}
    rec = record_and_compare(tmp_path / 'bag', learner_transitions(run))  # decoded with the bag's definitions
    assert rec.problems == [] and [e.outcome for e in rec.episodes] == run.outcomes
