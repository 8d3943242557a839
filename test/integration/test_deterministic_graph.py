"""The same seed gives the same graph run, also when the graph is killed and resumed.

The multi-process graph (sarl-graph: every node its own process, over the real RMW) runs the default
task (`pot_lid_on_towel`, a paper task on observable state) with the SARL learner. It is paused
after its first episode (a loaded machine may let a second one start first), every process is killed
with SIGKILL, and the graph is started again on the same output directory: it resumes there. The
record it leaves must be, bit for bit, what the one-process loop of the demo computes for the same
seed without any interruption: the episodes, every stored transition, and the Q-values behind every
decision. So every random stream of the graph (scene, simulated VLA, simulated VLM, the learner's
sampling and mini-batches) depends on (seed, episode) and the stored transitions only, never on
timing, on how far the learner's thread had got, or on a restart; two launches with the same seed
are then the same run (scripts/colcon_check.sh also compares two launches from the install space
directly).
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

rclpy = pytest.importorskip('rclpy', reason='needs the ROS 2 wheels: run ./sarl test')
pytest.importorskip('mujoco', reason='needs the simulator: run ./sarl test')
from rclpy.executors import SingleThreadedExecutor  # noqa: E402

from sarl_ros.core.episode_loop import episode_seed, episode_stream_seed, run_episode  # noqa: E402
from sarl_ros.core.methods import make_policy  # noqa: E402
from sarl_ros.core.perception.observable_features import ObservableFeaturizer  # noqa: E402
from sarl_ros.core.durability.resume import finished_episodes  # noqa: E402
from sarl_ros.core.durability.run_compare import run_record  # noqa: E402
from sarl_ros.core.durability.wal import transition_record  # noqa: E402
from sarl_ros import names  # noqa: E402
from sarl_ros.graph import description  # noqa: E402
from sarl_ros.msg import CandidateSet, EpisodeEvent  # noqa: E402
from sarl_ros.rosutil.qos import RECORD  # noqa: E402
from sarl_ros.sim.registry import make_env, make_proposer  # noqa: E402
from sarl_ros.srv import PauseEpisodes, StartEpisode  # noqa: E402

TASK = next(a.default for a in description.LAUNCH_ARGUMENTS if a.name == 'task')  # the default task
SEED = 0
EPISODES = 3
RUN_TIMEOUT_S = 180


def reference_run(config: dict):
    """The demo's loop in this process, never interrupted: per episode, its result and its decisions."""
    learner = config['q_policy']['ros__parameters']
    import torch
    # The Q-policy node's thread count: a matrix product split over other threads may round differently.
    torch.set_num_threads(learner['torch_threads'])
    policy = make_policy('sarl', seed=SEED, encoder=learner['encoder'], temperature=learner['temperature'],
                         temperature_final=learner['temperature_final'],
                         temperature_halflife=learner['temperature_halflife'], gamma=learner['gamma'])
    env = make_env(TASK, seed=SEED)
    results, q_values = [], {}
    for episode in range(1, EPISODES + 1):
        proposer = make_proposer(seed=episode_stream_seed(SEED, episode, 'proposer'), task=TASK)

        def keep(step, decision, candidates, outcome, episode=episode):
            q_values[(episode, step)] = np.asarray(decision.q_values, np.float32)
        # As the Q-policy node learns: after each stored transition its queued updates, before the next choice.
        results.append(run_episode(env, proposer, policy, max_candidates=8, learn=True,
                                   updates_per_decision=learner['updates_per_decision'], on_decision=keep,
                                   seed=episode_seed(SEED, episode), episode=episode))
    return results, q_values


def kill_graph(proc):
    """SIGKILL every node process of the launcher, then the launcher (as a power cut or `kill -9` would)."""
    for pid in _children(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.kill()
    proc.wait(timeout=30)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / 'stat').read_text().rsplit(')', 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                pass
    return found


class Probe:
    """A node beside the graph: the decisions it publishes, its episode events, the operator's pause."""

    def __init__(self):
        self.node = rclpy.create_node('determinism_probe')
        self.decisions, self.events = [], []
        self.node.create_subscription(CandidateSet, names.TOPIC_CANDIDATES, self.decisions.append, RECORD)
        self.node.create_subscription(EpisodeEvent, names.TOPIC_EVENTS, self.events.append, RECORD)
        self.pause = self.node.create_client(PauseEpisodes, names.SRV_PAUSE)
        self.start = self.node.create_client(StartEpisode, names.SRV_START_EPISODE)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)

    def decision_publishers(self) -> set[bytes]:
        return {bytes(info.endpoint_gid) for info in self.node.get_publishers_info_by_topic(names.TOPIC_CANDIDATES)}

    def start_episode(self, proc, log):
        """Ask for the next episode; again if no answer comes (a request sent before the new server matched is lost)."""
        for _ in range(20):
            started = self.start.call_async(StartEpisode.Request())
            deadline = time.monotonic() + 3
            while not started.done() and time.monotonic() < deadline:
                assert proc.poll() is None, f'the graph ended while waiting for a start:\n{log.read_text()[-3000:]}'
                self.executor.spin_once(timeout_sec=0.05)
            if started.done():
                return
        raise AssertionError(f'the episode manager never answered a start:\n{log.read_text()[-3000:]}')

    def spin_until(self, proc, condition, what, log):
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while not condition():
            assert time.monotonic() < deadline, f'timed out waiting for {what}:\n{log.read_text()[-3000:]}'
            assert proc.poll() is None, f'the graph ended before {what}:\n{log.read_text()[-3000:]}'
            self.executor.spin_once(timeout_sec=0.05)


def start_graph(config_file: Path, out: Path, log: Path):
    return subprocess.Popen(
        [sys.executable, '-m', 'sarl_ros.graph.launcher', '--config', str(config_file), f'episodes:={EPISODES}',
         f'seed:={SEED}', 'console:=false', f'output_dir:={out}'],
        stdout=log.open('w'), stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED='1'))


def test_a_graph_killed_and_resumed_is_the_uninterrupted_run_of_its_seed(tmp_path, graph_config):
    config_file = graph_config()
    config = yaml.safe_load(config_file.read_text())
    expected, expected_q = reference_run(config)
    out = tmp_path / 'run'
    rclpy.init()
    probe = Probe()
    try:
        first_log = tmp_path / 'graph_1.log'
        proc = start_graph(config_file, out, first_log)
        try:
            # Episode 1 under way: ask for a pause, so the graph stops between two episodes (after the first,
            # or on a loaded machine a later one) ...
            probe.spin_until(proc, probe.pause.service_is_ready, 'the pause service', first_log)
            probe.spin_until(proc, lambda: probe.decisions, 'the first decision', first_log)
            future = probe.pause.call_async(PauseEpisodes.Request(paused=True))
            probe.spin_until(proc, future.done, 'the pause to be acknowledged', first_log)
            probe.spin_until(proc, lambda: any(e.type == EpisodeEvent.PAUSED for e in probe.events),
                             'the pause between episodes', first_log)
            paused_before = next(e.episode for e in probe.events if e.type == EpisodeEvent.PAUSED)
        finally:
            # ... and kill every process of it there (also when the test failed: no node may outlive it).
            kill_graph(proc)
        assert 2 <= paused_before <= EPISODES, 'the pause came too late to leave episodes for the resumed run'
        done = list(range(1, paused_before))
        assert [row['episode'] for row in finished_episodes(out / 'episodes.csv')] == done

        # The resumed graph waits for a start before each episode, given only once the probe has discovered
        # its new Q-policy: on an idle machine the two episodes can be over (and the publisher, with the
        # history a late subscriber would get, gone) before discovery completes.
        resumed = dict(config, episode_manager={'ros__parameters': {
            **config['episode_manager']['ros__parameters'], 'autostart': False}})
        resumed_file = tmp_path / 'resumed.yaml'
        resumed_file.write_text(yaml.safe_dump(resumed))
        killed = probe.decision_publishers()
        second_log = tmp_path / 'graph_2.log'
        proc = start_graph(resumed_file, out, second_log)
        ends = (EpisodeEvent.SUCCESS, EpisodeEvent.FAILURE, EpisodeEvent.TIMEOUT, EpisodeEvent.ABORTED)
        try:
            probe.spin_until(proc, lambda: probe.decision_publishers() - killed and probe.start.service_is_ready(),
                             "the resumed graph's Q-policy", second_log)
            for episode in range(paused_before, EPISODES + 1):
                probe.start_episode(proc, second_log)
                probe.spin_until(proc, lambda: any(e.episode == episode and e.type in ends for e in probe.events),
                                 f'the end of episode {episode}', second_log)
            deadline = time.monotonic() + RUN_TIMEOUT_S
            while proc.poll() is None and time.monotonic() < deadline:
                probe.executor.spin_once(timeout_sec=0.05)
        finally:
            if proc.poll() is None:
                kill_graph(proc)
        for _ in range(20):  # the last decisions still in flight
            probe.executor.spin_once(timeout_sec=0.02)
        output = second_log.read_text()
        assert proc.wait() == 0, output[-4000:]
        assert f'resuming {out} at episode {paused_before}/{EPISODES}' in output
    finally:
        probe.node.destroy_node()
        rclpy.try_shutdown()

    rows, transitions = run_record(out)
    assert [(int(r['episode']), r['success'] == '1', int(r['decisions']), r['prompts']) for r in rows] == [
        (episode, result.success, result.decisions, ' | '.join(result.prompts))
        for episode, result in enumerate(expected, 1)]
    assert transitions == [transition_record(t) for result in expected for t in result.transitions]
    got_q = {(d.episode, d.decision_step): np.asarray(d.q_values, np.float32) for d in probe.decisions}
    assert sorted(got_q) == sorted(expected_q)
    for key, q in expected_q.items():
        assert np.array_equal(got_q[key], q), key
    # What the comparison is worth: the seed's three episodes hold both outcomes, and the learner learned.
    assert {result.success for result in expected} == {True, False}
    assert any(np.ptp(q) > 0 for q in expected_q.values())
    # The default task ran on observable state (joints, gripper, a small render, the prompts executed so far),
    # the executor built the scene the episode manager named, and said which state it used.
    states = [t.state for result in expected for t in result.transitions]
    assert all(s.shape == (ObservableFeaturizer().dim,) for s in states)
    history = ObservableFeaturizer().history_slice
    assert not states[0][history].any() and states[1][history].any()  # the executed prompts count
    for log in (first_log, second_log):
        assert f'simulating task {TASK}: state=ObservableFeaturizer\n' in log.read_text()
        assert 'PRIVILEGED' not in log.read_text()
