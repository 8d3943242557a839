"""The whole SARL graph as separate processes over the real RMW, on the simulated WidowX.

sarl-graph starts every node from the shared graph description; a probe node in this process
listens to the experiment's topics. A few episodes must leave candidate sets, executed
prompts, rewards, learner updates, a checkpoint and episode events in order, and every
process must exit cleanly.
"""
import csv
import os
import subprocess
import sys
import time

import pytest

rclpy = pytest.importorskip('rclpy', reason='needs the ROS 2 wheels: run ./sarl test')
pytest.importorskip('mujoco', reason='needs the simulator: run ./sarl test')
from rclpy.executors import SingleThreadedExecutor  # noqa: E402

from sarl_ros import names  # noqa: E402
from sarl_ros.msg import CandidateSet, EpisodeEvent, ExecutedAction, LearnerStats, RewardSignal  # noqa: E402
from sarl_ros.rosutil.qos import RECORD  # noqa: E402
from sarl_ros.sim.registry import SUITE_TASKS  # noqa: E402

EPISODES = 3
END = {EpisodeEvent.SUCCESS, EpisodeEvent.FAILURE, EpisodeEvent.TIMEOUT, EpisodeEvent.ABORTED}


class Probe:
    def __init__(self):
        self.node = rclpy.create_node('graph_probe')
        self.seen = {name: [] for name in ('candidates', 'actions', 'rewards', 'events', 'stats')}
        for name, kind, topic in (('candidates', CandidateSet, names.TOPIC_CANDIDATES),
                                  ('actions', ExecutedAction, names.TOPIC_EXECUTED_ACTIONS),
                                  ('rewards', RewardSignal, names.TOPIC_REWARDS),
                                  ('events', EpisodeEvent, names.TOPIC_EVENTS),
                                  ('stats', LearnerStats, names.TOPIC_LEARNER_STATS)):
            self.node.create_subscription(kind, topic, self.seen[name].append, RECORD)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)


def test_graph_runs_episodes_end_to_end(tmp_path, graph_config):
    # The shipped encoder (the sentence transformer when installed); the console on a free port.
    config = graph_config({'q_policy': {'encoder': 'auto'}})
    rclpy.init()
    probe = Probe()
    out = tmp_path / 'run'
    log = (tmp_path / 'graph.log').open('w')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'sarl_ros.graph.launcher', '--config', str(config), f'episodes:={EPISODES}',
         f'task:={SUITE_TASKS[0]}',
         f'output_dir:={out}', 'seed:=2'],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED='1'))
    try:
        deadline = time.monotonic() + 240
        while proc.poll() is None and time.monotonic() < deadline:
            probe.executor.spin_once(timeout_sec=0.05)
        for _ in range(20):  # drain what is still in flight
            probe.executor.spin_once(timeout_sec=0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
        probe.node.destroy_node()
        rclpy.shutdown()
    output = (tmp_path / 'graph.log').read_text()
    assert proc.returncode == 0, output[-4000:]
    assert 'ignored SIGINT' not in output and 'Traceback' not in output, output[-4000:]
    assert 'never retrieved' not in output and 'context is invalid' not in output, output[-4000:]

    rows = list(csv.DictReader((out / 'episodes.csv').open()))
    assert [int(r['episode']) for r in rows] == list(range(1, EPISODES + 1))
    assert (out / 'checkpoints' / 'sarl.pt').is_file()
    assert (out / 'graph_params.yaml').is_file()

    seen = probe.seen
    decisions = sum(int(r['decisions']) for r in rows)
    assert len(seen['candidates']) >= decisions >= EPISODES
    assert all(len(c.candidates) >= 2 and len(c.q_values) == len(c.candidates) for c in seen['candidates'])
    executed = {(a.episode, a.decision_step) for a in seen['actions']}
    chosen = {(c.episode, c.decision_step) for c in seen['candidates']}
    assert executed and executed <= chosen
    # The reward node publishes the verdict that ends each episode (success, or the final step's).
    assert sorted(r.episode for r in seen['rewards']) == list(range(1, EPISODES + 1))
    assert {r.source for r in seen['rewards']} == {RewardSignal.SOURCE_DETECTOR}
    for reward in seen['rewards']:
        assert reward.value == float(rows[reward.episode - 1]['success'])
    assert seen['stats'] and seen['stats'][-1].episodes == EPISODES and seen['stats'][-1].updates > 0

    per_episode = {}
    for event in seen['events']:
        per_episode.setdefault(event.episode, []).append(event.type)
    assert sorted(per_episode) == list(range(1, EPISODES + 1))
    for episode, kinds in per_episode.items():
        assert kinds[:3] == [EpisodeEvent.RESET_REQUESTED, EpisodeEvent.RESET_DONE, EpisodeEvent.START], kinds
        assert len(kinds) == 4 and kinds[3] in END, kinds
        success = int(rows[episode - 1]['success'])
        assert (kinds[3] == EpisodeEvent.SUCCESS) == bool(success)


def test_single_process_graph_runs_the_same_episodes(tmp_path, graph_config):
    out = tmp_path / 'single'
    result = subprocess.run(
        [sys.executable, '-m', 'sarl_ros.graph.launcher', '--single-process', '--config', str(graph_config()),
         'episodes:=2', f'task:={SUITE_TASKS[1]}', f'output_dir:={out}'],
        capture_output=True, text=True, timeout=240, env=dict(os.environ, PYTHONUNBUFFERED='1'))
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert 'Traceback' not in result.stderr and 'never retrieved' not in result.stderr, result.stderr[-4000:]
    rows = list(csv.DictReader((out / 'episodes.csv').open()))
    assert [(int(r['episode']), r['task']) for r in rows] == [(1, SUITE_TASKS[1]), (2, SUITE_TASKS[1])]
    assert all(int(r['decisions']) >= 1 for r in rows)
    assert (out / 'checkpoints' / 'sarl.pt').is_file()
