"""Assembling a real stack from the executor's parameters (robot double, loopback policy server)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from backend_helpers import FakeInterbotix, TinyTorchVLA

from sarl_ros.backends import catalog
from sarl_ros.backends.options import RemoteVLAOptions, WidowXOptions
from sarl_ros.backends.stack import build_stack
from sarl_ros.backends.vla_client import RemoteVLA
from sarl_ros.backends.vla_server import make_server
from sarl_ros.backends.widowx import WidowXRobot
from sarl_ros.core.perception.observable_features import ObservableFeaturizer
from sarl_ros.core.executor import SKILL_DONE, execute_prompt

BASE_PARAMS = {'vla_model': 'openvla/openvla-7b', 'vla_device': 'cuda:0', 'vla_unnorm_key': 'bridge_orig',
               'sim_task': 'sushi_to_pot', 'seed': 0}


def use_factory(monkeypatch, role, name, factory):
    """Make the catalog build role:=name with factory, for this test only."""
    monkeypatch.setattr(catalog, 'BACKENDS', tuple(replace(b, factory=factory) if (b.argument, b.name) == (role, name)
                                                   else b for b in catalog.BACKENDS))


def test_widowx_with_remote_vla_from_parameters(serve, monkeypatch, rgb_image):
    url = serve(make_server(TinyTorchVLA(steps_per_skill=2), port=0))
    bot = FakeInterbotix()
    use_factory(monkeypatch, 'robot', 'widowx',  # started once: the second stack reuses the bot
                lambda **kw: WidowXRobot(bot=bot, lifecycle=None if bot.spun else bot, **kw))
    params = {**BASE_PARAMS, 'vla_server_url': url, 'vla_timeout_s': 3.0, 'vla_image_size': 32,
              'widowx_control_hz': 500.0, 'widowx_moving_time_s': 0.5}

    class Camera:
        def read(self):
            return rgb_image

    stack = build_stack('widowx', 'remote', params, camera=Camera())
    assert isinstance(stack.vla, RemoteVLA) and stack.vla.timeout_s == 3.0 and stack.vla.image_size == 32
    assert stack.robot.control_hz == 500.0 and stack.robot.moving_time_s == 0.5
    # The default on a real arm: the observable state the simulated benchmark trains on.
    assert isinstance(stack.featurizer, ObservableFeaturizer) and stack.featurizer.proprio_dim == 7
    result = execute_prompt(stack.robot, stack.camera, stack.vla, 'put the sushi in the pot', max_steps=5)
    assert result.outcome == SKILL_DONE and result.control_steps == 2
    assert len(bot.arm.published) + result.skipped_steps == 2
    features = stack.featurizer.features(stack.camera.read(), stack.robot.proprio())
    assert features.shape == (stack.featurizer.dim,) and np.all(np.isfinite(features))
    thumbnail = build_stack('widowx', 'remote', {**params, 'image_encoder': 'thumbnail'}, camera=Camera())
    assert thumbnail.featurizer.dim == stack.featurizer.dim - stack.featurizer.image_dim + 3 * 8 * 8


def test_a_checkpoint_trained_in_simulation_loads_on_the_default_real_stack(monkeypatch, tmp_path, rgb_image):
    pytest.importorskip('mujoco', reason='needs the simulator: run ./sarl test')
    from sarl_ros.core.durability.checkpoint import load_checkpoint, save_checkpoint
    from sarl_ros.core.episode_loop import run_episode
    from sarl_ros.core.methods import make_policy
    from sarl_ros.sim.registry import make_env, make_proposer

    # SARL learns on a paper task in simulation (observable state, as sarl-bench runs it) and is saved.
    env = make_env('pot_lid_on_towel', seed=0)
    policy = make_policy('sarl', seed=0, encoder='hashing')
    result = run_episode(env, make_proposer(seed=0, task='pot_lid_on_towel'), policy, updates_per_decision=1, seed=0)
    save_checkpoint(policy, tmp_path / 'sim.pt')

    # The executor's stack on a WidowX with its default parameters (an Interbotix double, any VLA).
    bot = FakeInterbotix()
    use_factory(monkeypatch, 'robot', 'widowx', lambda **kw: WidowXRobot(bot=bot, lifecycle=bot, **kw))
    use_factory(monkeypatch, 'vla', 'remote', lambda **kw: TinyTorchVLA())
    stack = build_stack('widowx', 'remote', BASE_PARAMS)
    assert type(stack.featurizer) is type(env.featurizer) and stack.featurizer.dim == env.featurizer.dim
    layout = ('proprio_dim', 'image_dim', 'history_buckets')
    assert [getattr(stack.featurizer, k) for k in layout] == [getattr(env.featurizer, k) for k in layout]
    # What the executor node computes from a camera frame, the arm's joint state and the executed prompts.
    state = stack.featurizer.features(rgb_image, stack.robot.joint_state(), result.prompts[:1])
    loaded = load_checkpoint(tmp_path / 'sim.pt')
    q = loaded.q_values(state, ['pick up the lid', 'put the pot lid on the towel'])
    assert state.shape == result.transitions[0].state.shape and q.shape == (2,) and np.all(np.isfinite(q))


def test_parameters_the_node_does_not_declare_take_the_option_defaults(monkeypatch):
    captured = {}

    def robot(**kw):
        captured['robot'] = kw
        bot = FakeInterbotix()
        return WidowXRobot(bot=bot, lifecycle=bot, **kw)

    def vla(**kw):
        captured['vla'] = kw
    use_factory(monkeypatch, 'robot', 'widowx', robot)
    use_factory(monkeypatch, 'vla', 'remote', vla)
    build_stack('widowx', 'remote', {**BASE_PARAMS, 'vla_server_url': 'http://gpu:8777'})
    # The options dataclass decides every value, not the backend constructor's own defaults.
    assert captured['robot'] == WidowXOptions().kwargs()
    assert captured['vla'] == RemoteVLAOptions(server_url='http://gpu:8777').kwargs()
    assert captured['vla']['image_size'] == 224 and captured['robot']['moving_time_s'] is None


def test_widowx_with_openpi_from_parameters(monkeypatch, rgb_image):
    from openpi_helpers import ChunkPolicy

    from sarl_ros.backends.openpi_client import OpenPIVLA
    from sarl_ros.backends.openpi_server import make_openpi_server
    policy = ChunkPolicy(horizon=8)
    server = make_openpi_server(policy, port=0).start()
    bot = FakeInterbotix()
    use_factory(monkeypatch, 'robot', 'widowx', lambda **kw: WidowXRobot(bot=bot, lifecycle=bot, **kw))
    params = {**BASE_PARAMS, 'vla_port': server.server_address[1], 'vla_replan_steps': 4, 'vla_action_horizon': 8,
              'vla_state_source': 'ee_pose_padded', 'vla_resize': 64, 'widowx_control_hz': 500.0}

    class Camera:
        def read(self):
            return rgb_image
    try:
        stack = build_stack('widowx', 'openpi', params, camera=Camera())
        assert isinstance(stack.vla, OpenPIVLA) and stack.vla.robot is stack.robot  # bound for ee_pose state
        stack.robot.home()
        result = execute_prompt(stack.robot, stack.camera, stack.vla, 'move forward', max_steps=6)
        assert result.control_steps == 6 and len(policy.observations) == 2
        obs = policy.observations[0]
        assert obs['observation/image'].shape == (64, 64, 3) and obs['observation/state'].shape == (8,)
        np.testing.assert_allclose(obs['observation/state'][:3], [0.30, -0.09, 0.26], atol=1e-6)  # the start pose
    finally:
        server.shutdown()
