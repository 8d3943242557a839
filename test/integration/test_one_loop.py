"""One SARL loop: the node graph and the in-process benchmark store the same transitions.

The same seeds run through core's run_episode twice: in this process over the simulator env
(what sarl-bench and the demo do), and through the multi-process graph (episode manager,
executor, proposer, Q-policy and reward node as separate processes over the real RMW). A
seeded random choice among the candidates makes both runs choose alike, so any difference in
reset, proposals, execution, reward, termination or truncation shows as a different transition.

Here a legacy task (privileged state, the legacy simulated VLM) whose three episodes end in all
three ways. A paper task on observable state, with the SARL learner and a kill and resume between
episodes, is compared the same way in test_deterministic_graph.py.
"""
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

rclpy = pytest.importorskip('rclpy', reason='needs the ROS 2 wheels: run ./sarl test')
pytest.importorskip('mujoco', reason='needs the simulator: run ./sarl test')
from rclpy.executors import SingleThreadedExecutor  # noqa: E402

from sarl_ros.core.episode_loop import episode_seed, episode_stream_seed, run_episode  # noqa: E402
from sarl_ros.core.methods import make_policy  # noqa: E402
from sarl_ros import names  # noqa: E402
from sarl_ros.graph.launcher import DEFAULT_CONFIG  # noqa: E402
from sarl_ros.msg import EpisodeEvent, Transition as TransitionMsg  # noqa: E402
from sarl_ros.rosutil.qos import RECORD  # noqa: E402
from sarl_ros.sim.registry import make_env, make_proposer  # noqa: E402

EPISODES = 3
# (task, run seed, how its three episodes end in one process: the seed was searched for this mix)
LEGACY = ('legacy_hammer_plate_mushroom', 11, ['failed', 'timeout', 'success'])  # privileged state, legacy VLM


def in_process_run(task, seed):
    env = make_env(task, seed=seed)
    policy = make_policy('random', seed=seed, encoder='hashing')
    # As the episode manager runs it: learning (the stored transitions) is the Q-policy node's. Each episode's
    # simulated VLM is seeded from (seed, episode), as the demo's and the proposer node's are.
    return env, [run_episode(env, make_proposer(seed=episode_stream_seed(seed, episode, 'proposer'), task=task),
                             policy, max_candidates=8, learn=True, updates_per_decision=0,
                             seed=episode_seed(seed, episode), episode=episode) for episode in range(1, EPISODES + 1)]


def graph_run(tmp_path, task, seed):
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config['q_policy']['ros__parameters']['encoder'] = 'hashing'
    config['operator_console']['ros__parameters']['port'] = 0  # 8080 may be taken by another graph
    config_file = tmp_path / 'params.yaml'
    config_file.write_text(yaml.safe_dump(config))
    rclpy.init()
    node = rclpy.create_node('one_loop_probe')
    transitions, events = [], []
    node.create_subscription(TransitionMsg, names.TOPIC_TRANSITIONS, transitions.append, RECORD)
    node.create_subscription(EpisodeEvent, names.TOPIC_EVENTS, events.append, RECORD)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    log = (tmp_path / 'graph.log').open('w')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'sarl_ros.graph.launcher', '--config', str(config_file), f'episodes:={EPISODES}',
         f'task:={task}', f'seed:={seed}', 'method:=random', 'console:=false', f'output_dir:={tmp_path / "run"}'],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED='1'))
    try:
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        # Drain what is still in flight: the last episode's end event leaves just before the graph exits,
        # and on a loaded machine it may be taken in later than the 1 s a fixed drain gave it.
        ended = (EpisodeEvent.SUCCESS, EpisodeEvent.FAILURE, EpisodeEvent.TIMEOUT, EpisodeEvent.ABORTED)
        drain_until = time.monotonic() + 15
        while time.monotonic() < drain_until and sum(e.type in ended for e in events) < EPISODES:
            executor.spin_once(timeout_sec=0.05)
        for _ in range(5):
            executor.spin_once(timeout_sec=0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
        node.destroy_node()
        rclpy.shutdown()
    output = (tmp_path / 'graph.log').read_text()
    assert proc.returncode == 0, output[-4000:]
    return transitions, events, output


@pytest.mark.parametrize('task,seed,expected_ends', [LEGACY], ids=['legacy_privileged'])
def test_graph_and_in_process_loop_store_identical_transitions(tmp_path, task, seed, expected_ends):
    env, expected = in_process_run(task, seed)
    transitions, events, log = graph_run(tmp_path, task, seed)

    got = {(t.episode, t.decision_step): t for t in transitions}
    want = {(t.episode, t.step): t for result in expected for t in result.transitions}
    assert sorted(got) == sorted(want)
    for key, mine in want.items():
        theirs = got[key]
        assert np.array_equal(np.asarray(theirs.state_features, np.float32), mine.state), key
        assert theirs.action.prompt == mine.prompt, key
        assert theirs.reward == mine.reward, key
        assert (theirs.terminal, theirs.truncated) == (mine.terminal, mine.truncated), key
        assert np.array_equal(np.asarray(theirs.next_state_features, np.float32), mine.next_state), key
        assert tuple(a.prompt for a in theirs.next_candidates) == mine.next_prompts, key
        assert theirs.control_steps == mine.control_steps, key

    # The task was resolved once: the models got its text, never its simulator name as a prompt.
    prompts = {t.action.prompt for t in transitions} | {a.prompt for t in transitions for a in t.next_candidates}
    assert task not in prompts and env.task in prompts
    end_kinds = (EpisodeEvent.SUCCESS, EpisodeEvent.FAILURE, EpisodeEvent.TIMEOUT, EpisodeEvent.ABORTED)
    ends = {e.episode: e.type for e in events if e.type in end_kinds}
    kinds = {'success': EpisodeEvent.SUCCESS, 'failed': EpisodeEvent.FAILURE, 'timeout': EpisodeEvent.TIMEOUT}
    assert ends == {episode: kinds[result.end] for episode, result in enumerate(expected, 1)}
    # The seeds were chosen so that the ways an episode can end are compared.
    assert [result.end for result in expected] == expected_ends
    # What the case is about: the graph ran the legacy task on its privileged state, and said so.
    assert env.state_mode != 'observable'
    assert f'simulating task {task}: state=SimFeaturizer (PRIVILEGED simulator state' in log
