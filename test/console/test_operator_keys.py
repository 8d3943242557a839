"""The terminal alternative: single keys typed into the console node's terminal (a pty here)."""
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip('rclpy', reason='needs the ROS 2 wheels: run ./sarl test')
pytest.importorskip('mujoco', reason='the executor runs the simulator: run ./sarl test')
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from sarl_ros.msg import EpisodeEvent, RewardSignal  # noqa: E402
from sarl_ros.nodes.executor_node import ExecutorNode  # noqa: E402
from sarl_ros.nodes.reward_node import RewardNode  # noqa: E402
from sarl_ros.rosutil.qos import RECORD  # noqa: E402
from sarl_ros.srv import EvaluateEpisode, ReportOutcome  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def overrides(**values):
    return {'parameter_overrides': [Parameter(k, value=v) for k, v in values.items()]}


class Terminal:
    """The console node as a process whose stdin and stdout are a pseudo-terminal."""

    def __init__(self):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / 'scripts' / 'ros2_run' / 'operator_console'), '--ros-args',
             '-p', 'web:=false', '-p', 'service_timeout_s:=10.0'],
            stdin=slave, stdout=slave, stderr=slave, env=dict(os.environ, PYTHONUNBUFFERED='1'))
        os.close(slave)
        self.output = ''

    def read_until(self, text: str, timeout: float = 30.0) -> str:
        end = time.monotonic() + timeout
        while text not in self.output:
            left = end - time.monotonic()
            assert left > 0 and self.proc.poll() is None, f'no {text!r} in: {self.output[-2000:]}'
            if select.select([self.master], [], [], min(left, 0.5))[0]:
                try:
                    self.output += os.read(self.master, 4096).decode(errors='replace')
                except OSError:  # the process closed the terminal
                    pass
        return self.output

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.close(self.master)


def test_single_keys_report_failure_and_engage_and_release_the_emergency_stop(ros):
    reward = ros.add(RewardNode(**overrides(detector='none', human=False)))
    executor = ros.add(ExecutorNode(**overrides(robot='sim', vla='sim', sim_camera_rate_hz=0.0)))
    probe = ros.add(Node('keys_probe'))
    probe.create_publisher(EpisodeEvent, '/sarl/episode_events', RECORD).publish(
        EpisodeEvent(type=EpisodeEvent.START, episode=2, task='sushi_to_pot'))
    terminal = Terminal()
    try:
        terminal.read_until('keys: [s]uccess')
        terminal.read_until('episode 2: start')
        terminal.type('f')
        terminal.read_until('episode 2: failure reported')
        evaluate = reward.create_client(EvaluateEpisode, '/sarl/evaluate_episode')
        verdict = ros.call(evaluate, EvaluateEpisode.Request(episode=2, final=False))
        assert verdict.decided and verdict.reward.value == 0.0
        assert verdict.reward.source == RewardSignal.SOURCE_HUMAN

        # `c` corrects the verdict of the episode that just ended (here served by a stand-in manager).
        corrections = []

        def correct(request, response):
            corrections.append((request.episode, request.outcome))
            response.accepted = True
            return response

        probe.create_service(ReportOutcome, '/sarl/correct_outcome', correct)
        probe.create_publisher(EpisodeEvent, '/sarl/episode_events', RECORD).publish(EpisodeEvent(
            type=EpisodeEvent.FAILURE, episode=2, task='sushi_to_pot', detail='failed for good, decided by person'))
        terminal.read_until('episode 2: failure (failed for good')
        terminal.type('c')
        terminal.read_until('episode 2: corrected to success')
        assert corrections == [(2, ReportOutcome.Request.SUCCESS)]

        terminal.type('e')
        terminal.read_until('emergency stop engaged')
        assert executor._estopped.is_set()
        terminal.type('u')
        terminal.read_until('release the emergency stop? [y/N]')
        terminal.type('n')
        terminal.read_until('emergency stop stays engaged')
        assert executor._estopped.is_set()
        terminal.type('uy')
        terminal.read_until('emergency stop released')
        assert not executor._estopped.is_set()
    finally:
        terminal.close()
    assert terminal.proc.returncode == 0, terminal.output[-2000:]
