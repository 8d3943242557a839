"""vla:=openpi's action and observation conventions, on the WidowX adapter (against its Interbotix double).

What a pi0.5 Bridge checkpoint returns and how it reaches the arm (docs/real_robot.md, section 1b):
deltas (or absolute poses, turned into deltas from the measured pose), the gripper mapped from the
policy's open/closed values onto the adapter's 1 open / 0 closed, Bridge's bounds applied by the
adapter; an emergency stop cuts a chunk short within one control step and the rest is dropped.
"""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from backend_helpers import FakeInterbotix
from openpi_helpers import ChunkPolicy

from sarl_ros.backends.arm_safety import Workspace, euler_to_matrix, target_pose
from sarl_ros.backends.openpi_client import (OpenPIVLA, absolute_to_delta, gripper_to_widowx, resize_with_pad,
                                             to_uint8)
from sarl_ros.backends.openpi_server import make_openpi_server
from sarl_ros.backends.widowx import WidowXRobot
from sarl_ros.core.executor import CANCELLED, COMPLETED, execute_prompt

image_tools = pytest.importorskip('openpi_client.image_tools', reason='openpi-client: run ./sarl test')


@pytest.fixture
def served():
    servers = []

    def start(policy):
        server = make_openpi_server(policy, port=0).start()
        servers.append(server)
        return server
    yield start
    for server in servers:
        server.shutdown()


def widowx(**kw):
    bot = FakeInterbotix()
    kw.setdefault('control_hz', 1000.0)
    return WidowXRobot(bot=bot, lifecycle=bot, moving_time_s=0.2, **kw)


@pytest.mark.parametrize('shape', [(480, 640), (224, 224), (100, 300), (301, 97), (64, 80)])
def test_resize_with_pad_matches_openpi_clients(shape):
    frame = np.random.default_rng(sum(shape)).integers(0, 256, size=(*shape, 3), dtype=np.uint8)
    ours = resize_with_pad(frame, 224, 224)
    theirs = image_tools.resize_with_pad(frame, 224, 224)
    assert ours.shape == theirs.shape == (224, 224, 3)
    assert np.array_equal(ours, theirs)
    assert np.array_equal(to_uint8(frame.astype(np.float32) / 255), image_tools.convert_to_uint8(
        frame.astype(np.float32) / 255))


def test_gripper_values_map_onto_the_adapters_open_and_closed():
    # Bridge v2 (and OpenVLA's bridge_orig): 1 open, 0 closed; continuous values kept, then clipped.
    assert [gripper_to_widowx(v, 1.0, 0.0) for v in (1.0, 0.0, 0.7, 1.3, -0.2)] == [1.0, 0.0, 0.7, 1.0, 0.0]
    # LIBERO-style: -1 open, +1 closed (the sign flipped).
    assert [gripper_to_widowx(v, -1.0, 1.0) for v in (-1.0, 1.0, 0.0)] == [1.0, 0.0, 0.5]
    with pytest.raises(ValueError, match='differ'):
        OpenPIVLA(gripper_open=1.0, gripper_closed=1.0, connect=False)


@pytest.mark.parametrize('seed', range(5))
def test_an_absolute_pose_becomes_the_delta_the_adapter_applies_to_reach_it(seed):
    rng = np.random.default_rng(seed)
    current_rpy, target_rpy = rng.uniform(-0.6, 0.6, 3) + [0, 1.3, 0], rng.uniform(-0.6, 0.6, 3) + [0, 1.3, 0]
    current = np.concatenate([rng.uniform(0.2, 0.3, 3), current_rpy])
    target = np.concatenate([rng.uniform(0.2, 0.3, 3), target_rpy])
    delta = absolute_to_delta(target, current)
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = euler_to_matrix(current[3:]), current[:3]
    reached, _ = target_pose(pose, delta, Workspace(low=(-1, -1, -1), high=(1, 1, 1), max_tilt_rad=3.1,
                                                    twist_range_rad=(-3.2, 3.2)))
    np.testing.assert_allclose(reached[:3, 3], target[:3], atol=1e-9)
    np.testing.assert_allclose(reached[:3, :3], euler_to_matrix(target[3:]), atol=1e-9)


def test_a_libero_convention_chunk_drives_the_widowx_adapter(served):
    policy = ChunkPolicy(horizon=6, step=(0.02, 0.0, -0.01), gripper_open=-1.0, gripper_closed=1.0)
    server = served(policy)
    robot = widowx()
    robot.home()
    vla = OpenPIVLA(port=server.server_address[1], gripper_open=-1.0, gripper_closed=1.0, replan_steps=3,
                    action_horizon=6)
    vla.bind_robot(robot)  # build_stack does this
    start = robot.ee_state()
    run = execute_prompt(robot, lambda_camera(), vla, 'grasp the cup', 4)
    assert run.outcome == COMPLETED and run.control_steps == 4 and vla.inferences == 2
    # The state sent is the measured end-effector pose and gripper (Bridge's layout).
    np.testing.assert_allclose(policy.observations[0]['observation/state'], start, atol=1e-6)
    assert robot.gripper_open is False  # +1 (LIBERO: closed) -> 0 -> grasp
    assert all(a[6] == 0.0 for a in run.actions)
    moved = robot.ee_state()[:3] - start[:3]
    np.testing.assert_allclose(moved, [0.08, 0.0, -0.04], atol=1e-6)  # 4 steps of (0.02, 0, -0.01)


def test_absolute_actions_are_reached_through_the_adapters_bounds(served):
    class GoTo:
        def infer(self, obs):
            target = np.array([0.33, -0.05, 0.20, 0.0, 1.3, 0.2, 1.0])
            return {'actions': np.tile(target, (4, 1))}
    server = served(GoTo())
    robot = widowx()
    robot.home()
    vla = OpenPIVLA(port=server.server_address[1], action_frame='absolute', replan_steps=4, action_horizon=4)
    vla.bind_robot(robot)
    run = execute_prompt(robot, lambda_camera(), vla, 'go there', 4)
    assert run.control_steps == 4
    state = robot.ee_state()
    np.testing.assert_allclose(state[:3], [0.33, -0.05, 0.20], atol=1e-6)
    np.testing.assert_allclose(euler_to_matrix(state[3:6]), euler_to_matrix([0.0, 1.3, 0.2]), atol=1e-6)
    # The first step was a delta within Bridge's bounds: 6 cm of z is cut to 5 cm.
    assert abs(run.actions[0][2] - (0.20 - 0.26)) < 1e-6 and run.clipped_steps >= 1


def test_an_emergency_stop_cuts_a_chunk_short_within_one_control_step(served):
    policy = ChunkPolicy(horizon=10, step=(0.005, 0.0, 0.0))
    server = served(policy)
    robot = widowx(control_hz=5.0)  # paced as on the arm: 0.2 s per step
    robot.home()
    vla = OpenPIVLA(port=server.server_address[1], replan_steps=10, action_horizon=10)
    vla.bind_robot(robot)
    stopped = threading.Event()
    stop_time = []

    def estop():
        time.sleep(0.5)  # in the middle of the chunk's third step
        stopped.set()
        robot.halt()  # what the executor node's emergency stop does at once
        stop_time.append(time.monotonic())
    thread = threading.Thread(target=estop)
    thread.start()
    run = execute_prompt(robot, lambda_camera(), vla, 'move forward', 10, should_stop=stopped.is_set)
    ended = time.monotonic()
    thread.join()
    assert run.outcome == CANCELLED
    assert run.control_steps <= 4  # 10 actions asked; the stop came during step 3
    assert ended - stop_time[0] < 0.2 + 0.05  # within one control step
    assert vla.inferences == 1
    assert 'halted' in robot.apply(np.zeros(7)).message  # latched until home()
    # The rest of the chunk is dropped: the next prompt asks the server again at its first step.
    robot.home()
    execute_prompt(robot, lambda_camera(), vla, 'move forward', 1)
    assert vla.inferences == 2


def lambda_camera():
    class Frame:
        def read(self):
            return np.full((480, 640, 3), 100, dtype=np.uint8)
    return Frame()


def test_state_sources_and_sizes():
    class Arm:
        def ee_state(self):
            return np.array([0.3, -0.09, 0.26, 0.0, 1.3, 0.0, 1.0])
    vla = OpenPIVLA(connect=False)
    vla.bind_robot(Arm())
    np.testing.assert_allclose(vla.state(None), [0.3, -0.09, 0.26, 0.0, 1.3, 0.0, 1.0], atol=1e-7)
    padded = OpenPIVLA(state_source='ee_pose_padded', connect=False)
    padded.bind_robot(Arm())
    np.testing.assert_allclose(padded.state(None), [0.3, -0.09, 0.26, 0.0, 1.3, 0.0, 0.0, 1.0], atol=1e-7)
    proprio = OpenPIVLA(state_source='proprio', state_dim=9, connect=False)
    assert proprio.state(np.arange(7.0)).tolist() == [0, 1, 2, 3, 4, 5, 6, 0, 0]
    assert OpenPIVLA(state_source='proprio', state_dim=3, connect=False).state(np.arange(7.0)).tolist() == [0, 1, 2]
    obs = OpenPIVLA(state_key='', wrist_image_key='', state_source='proprio', resize=0, connect=False).observation(
        np.zeros((10, 12, 3), dtype=np.uint8), 'x', None)
    assert set(obs) == {'observation/image', 'prompt'} and obs['observation/image'].shape == (10, 12, 3)
    with pytest.raises(Exception, match='ee_state'):
        OpenPIVLA(connect=False).state(None)
    with pytest.raises(ValueError, match='replan_steps'):
        OpenPIVLA(replan_steps=11, action_horizon=10, connect=False)
