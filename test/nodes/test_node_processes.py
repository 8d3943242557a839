"""Every node as its own process, as ros2 run starts it: Ctrl-C and bad parameters.

SIGINT stops each node within 3 s (inside ros2 launch's 5 s grace), with no traceback, and
the Q-policy writes its checkpoint; a parameter of the wrong type stops a node with one line
that names it, and a non-zero exit code.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from sarl_ros.graph import description
from sarl_ros.srv import StoreTransition

ROOT = Path(__file__).resolve().parents[2]
STOP_WITHIN_S = 3.0

# What each node logs once it is up, and the parameters that keep it self-contained.
READY = {
    'camera': 'ready:', 'vlm_proposer': 'ready:', 'vla_executor': 'ready:', 'reward': 'ready:',
    'q_policy': 'ready:', 'recorder': 'recording ', 'episode_manager': 'waiting for /sarl/start_episode',
    'operator_console': 'operator console: http',
}


def node_parameters(name, out_dir):
    params = {'q_policy': {'encoder': 'hashing', 'updates_per_decision': 400},
              'episode_manager': {'autostart': False},
              'operator_console': {'port': 0, 'keyboard': False}}.get(name, {})  # a free port: tests run side by side
    if name in ('q_policy', 'episode_manager', 'recorder'):
        params['output_dir'] = str(out_dir)
    return params


def start_node(name, tmp_path, *ros_args):
    node = next(n for n in description.NODES if n.name == name)
    params_file = tmp_path / f'{name}.yaml'
    params_file.write_text(yaml.safe_dump({name: {'ros__parameters': node_parameters(name, tmp_path / 'out')}}))
    out, err = tmp_path / f'{name}.out', tmp_path / f'{name}.err'
    with out.open('w') as stdout, err.open('w') as stderr:
        proc = subprocess.Popen([sys.executable, str(ROOT / 'scripts' / 'ros2_run' / node.executable), '--ros-args',
                                 '--params-file', str(params_file), *ros_args], stdout=stdout, stderr=stderr,
                                env=dict(os.environ, PYTHONUNBUFFERED='1'))
    return proc, out, err


def wait_for_text(proc, paths, text, timeout=180.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(text in p.read_text() for p in paths):
            return
        if proc.poll() is not None:
            raise AssertionError(f'exited with {proc.returncode} before {text!r}: {paths[1].read_text()[-2000:]}')
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f'no {text!r} within {timeout} s')


def interrupt_and_time(proc):
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return time.monotonic() - started


@pytest.mark.parametrize('name', [n.name for n in description.NODES if n.name != 'q_policy'])
def test_sigint_stops_the_node_quickly_without_a_traceback(name, tmp_path):
    proc, out, err = start_node(name, tmp_path)
    try:
        wait_for_text(proc, (out, err), READY[name])
        time.sleep(0.5)  # let timers and subscriptions run, as in a real graph
        seconds = interrupt_and_time(proc)
    finally:
        if proc.poll() is None:
            proc.kill()  # never leave a node behind (a console would hold its port)
    assert 'Traceback' not in err.read_text() + out.read_text(), err.read_text()
    assert 'never retrieved' not in err.read_text()
    assert proc.returncode == 0, err.read_text()[-2000:]
    assert seconds < STOP_WITHIN_S, f'{name} took {seconds:.1f} s to stop'


def test_sigint_stops_a_learning_q_policy_quickly_and_writes_its_checkpoint(ros, tmp_path):
    import rclpy
    import torch
    from test_policy_node import transition

    from sarl_ros.msg import EpisodeEvent, LearnerStats
    proc, out, err = start_node('q_policy', tmp_path)
    wait_for_text(proc, (out, err), READY['q_policy'])
    probe = ros.add(rclpy.create_node('shutdown_probe'))
    store = probe.create_client(StoreTransition, '/sarl/store_transition')
    events = probe.create_publisher(EpisodeEvent, '/sarl/episode_events', 10)
    stats = []
    probe.create_subscription(LearnerStats, '/sarl/learner_stats', stats.append, 10)

    def stored(prompt, reward, step):
        request = StoreTransition.Request(transition=transition(prompt, reward, reward > 0, step))
        return ros.call(store, request, timeout=60).accepted

    # Episode 1 ends: its checkpoint is written and the learner is past its first updates.
    assert stored('grasp the hammer', 0.0, 0) and stored('move down and grasp', 1.0, 1)

    def episode_one_ended():
        events.publish(EpisodeEvent(type=EpisodeEvent.SUCCESS, episode=1))
        return any(s.episodes == 1 for s in stats)
    ros.wait_for(episode_one_ended, timeout=120, what='the end of episode 1 to reach the learner')
    # Episode 2 is under way: 400 TD updates queued for its transition when Ctrl-C comes.
    assert stored('lift', 0.0, 0)
    seconds = interrupt_and_time(proc)
    assert 'Traceback' not in err.read_text() + out.read_text(), err.read_text()
    assert proc.returncode == 0 and seconds < STOP_WITHIN_S, (seconds, err.read_text()[-2000:])
    checkpoint = torch.load(tmp_path / 'out' / 'checkpoints' / 'sarl.pt', weights_only=False)
    assert checkpoint['state']['counters']['transitions'] == 3  # the shutdown saved episode 2's transition


@pytest.mark.parametrize('name, argument, message', [
    ('episode_manager', 'episodes:=abc',
     "episode_manager: parameter episode_manager.episodes='abc' has the wrong type; expected int (default 60)"),
    ('q_policy', 'temperature:=hot',
     "q_policy: parameter q_policy.temperature='hot' has the wrong type; expected float (default 0.2)"),
    ('vla_executor', 'robot:=ur5', "parameter vla_executor.robot='ur5' is not known; choose one of: sim, widowx"),
])
def test_a_bad_parameter_stops_the_node_with_one_line(name, argument, message, tmp_path):
    proc, out, err = start_node(name, tmp_path, '-p', argument)
    assert proc.wait(timeout=180) == 2
    lines = [line for line in err.read_text().splitlines() if line.strip()]
    assert lines == [message] or (len(lines) == 1 and message in lines[0]), err.read_text()


def test_a_parameter_the_node_does_not_have_is_named_not_silently_ignored(tmp_path):
    proc, out, err = start_node('camera', tmp_path, '-p', 'episodes:=3')
    wait_for_text(proc, (out, err), READY['camera'])
    interrupt_and_time(proc)
    assert 'ignoring unknown parameter(s) episodes; camera has: backend, rate_hz' in err.read_text() + out.read_text()


def _catches(pid: int, signum: int) -> bool:
    """Return whether the process has a handler for the signal now (/proc/<pid>/status, SigCgt)."""
    try:
        status = Path(f'/proc/{pid}/status').read_text()
    except OSError:
        return False
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith('SigCgt:'))
    return bool(int(mask, 16) >> (signum - 1) & 1)


def test_a_node_stopped_while_it_still_imports_exits_quietly(tmp_path):
    """As when another node fails first and the launch stops every node: no traceback, no 'exit code -2'."""
    proc, out, err = start_node('q_policy', tmp_path)
    try:
        # The entry takes SIGTERM (Python alone never does) before it imports the node: torch, seconds away.
        end = time.monotonic() + 60
        while not _catches(proc.pid, signal.SIGTERM) and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.005)
        seconds = interrupt_and_time(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = err.read_text() + out.read_text()
    assert proc.returncode == 0 and 'Traceback' not in output, output[-2000:]
    assert err.read_text().strip() == 'q_policy: stopped by SIGINT while starting'
    assert 'ready:' not in output and seconds < STOP_WITHIN_S
