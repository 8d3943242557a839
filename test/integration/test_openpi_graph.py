"""The graph with vla:=openpi: episodes on the simulated arm driven by a local openpi-protocol server.

sarl-graph (every node its own process) runs with `vla:=openpi` against sarl_ros's openpi server in
this process, serving a tiny deterministic chunk policy; the executor's camera is the simulator's.
Every control step the graph publishes must be a row of a chunk the server answered (the gripper
mapped from the policy's LIBERO-style -1 open / +1 closed), chunks must be re-asked every
`replan_steps` actions, and the episodes must finish with the graph exiting 0.
"""
import csv
import os
import subprocess
import sys
import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy', reason='needs the ROS 2 wheels: run ./sarl test')
pytest.importorskip('mujoco', reason='needs the simulator: run ./sarl test')
from rclpy.executors import SingleThreadedExecutor  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'backends'))
from openpi_helpers import ChunkPolicy  # noqa: E402

from sarl_ros.backends.openpi_server import make_openpi_server  # noqa: E402
from sarl_ros import names  # noqa: E402
from sarl_ros.msg import ExecutedAction  # noqa: E402
from sarl_ros.rosutil.qos import RECORD  # noqa: E402

EPISODES = 2
REPLAN = 3


def test_a_graph_with_vla_openpi_runs_episodes_against_a_local_server(tmp_path, graph_config):
    policy = ChunkPolicy(horizon=5, step=(0.01, -0.005, -0.004), gripper_open=-1.0, gripper_closed=1.0)
    server = make_openpi_server(policy, port=0, metadata={'policy': 'tiny chunk policy'}).start()
    config = graph_config({'vla_executor': {'vla_port': server.server_address[1], 'vla_replan_steps': REPLAN,
                                            'vla_action_horizon': 5, 'vla_gripper_open': -1.0,
                                            'vla_gripper_closed': 1.0, 'vla_resize': 96,
                                            'max_control_steps': 4},
                           'episode_manager': {'max_decisions': 2}})
    rclpy.init()
    node = rclpy.create_node('openpi_graph_probe')
    executed = []
    node.create_subscription(ExecutedAction, names.TOPIC_EXECUTED_ACTIONS, executed.append, RECORD)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    out = tmp_path / 'run'
    log = (tmp_path / 'graph.log').open('w')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'sarl_ros.graph.launcher', '--config', str(config), f'episodes:={EPISODES}',
         'vla:=openpi', 'task:=sushi_to_pot', f'output_dir:={out}', 'seed:=3', 'console:=false'],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED='1'))
    try:
        deadline = time.monotonic() + 240
        while proc.poll() is None and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        for _ in range(20):
            executor.spin_once(timeout_sec=0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
        node.destroy_node()
        rclpy.shutdown()
        server.shutdown()
    output = (tmp_path / 'graph.log').read_text()
    assert proc.returncode == 0, output[-4000:]
    assert 'Traceback' not in output, output[-4000:]
    rows = list(csv.DictReader((out / 'episodes.csv').open()))
    assert [int(r['episode']) for r in rows] == list(range(1, EPISODES + 1))

    # The server saw the simulator's frames, resized with padding, and the end-effector state.
    assert policy.observations and all(o['observation/image'].shape == (96, 96, 3) for o in policy.observations)
    assert all(o['observation/state'].shape == (7,) for o in policy.observations)
    # Every executed control step is the next row of the current chunk, re-asked every REPLAN steps.
    decisions = sum(int(r['decisions']) for r in rows)
    assert decisions >= EPISODES and len(executed) >= decisions
    by_prompt_run = {}
    for message in executed:
        by_prompt_run.setdefault((message.episode, message.decision_step), []).append(message)
    asked = sum(-(-len(steps) // REPLAN) for steps in by_prompt_run.values())
    assert len(policy.answers) == asked
    for steps in by_prompt_run.values():
        for message in steps:
            row = (message.control_step - 1) % REPLAN
            expected = np.array([0.01, -0.005, -0.004, 0.0, 0.0, 0.01 * row,
                                 0.0 if 'grasp' in message.prompt else 1.0], dtype=np.float32)
            np.testing.assert_allclose(np.asarray(message.action), expected, atol=1e-6)
