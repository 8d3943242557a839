"""Backend options: one dataclass per backend, from which the executor's parameters, YAML and --help derive."""
from dataclasses import dataclass, fields

import pytest
import yaml

from sarl_ros.backends.options import (EXECUTOR_BACKENDS, BackendOptions, RemoteVLAOptions, option, options_for,
                                       parameter_specs)
from sarl_ros.graph.launcher import DEFAULT_CONFIG


def test_every_option_is_a_parameter_with_its_default():
    specs = {spec.name: spec for spec in parameter_specs()}
    for backend in EXECUTOR_BACKENDS:
        for f in fields(backend.options):
            spec = specs[backend.prefix + f.name]
            assert spec.default == f.default
            assert f'{backend.argument}:={backend.name}' in spec.description


def test_the_parameter_file_and_help_carry_the_options():
    pytest.importorskip('rclpy', reason='the executor node module needs the ROS 2 wheels')
    from sarl_ros.nodes.executor_node import PARAMS
    from sarl_ros.nodes.runner import usage
    executor = yaml.safe_load(DEFAULT_CONFIG.read_text())['vla_executor']['ros__parameters']
    text = usage('vla_executor', 'summary', PARAMS)
    for spec in parameter_specs():
        assert executor[spec.name] == spec.default
        assert f'  {spec.name} (' in text


def test_node_values_become_the_backend_options():
    options = options_for('vla', 'remote', {'vla_server_url': 'http://gpu:1', 'vla_image_size': 0, 'seed': 3})
    assert options == RemoteVLAOptions(server_url='http://gpu:1', image_size=0)
    assert options.kwargs()['image_size'] is None  # 0 means: send frames as captured
    assert options_for('vla', 'sim', {}) is None  # the simulated VLA has no options of its own


def test_a_shared_option_must_have_one_default():
    @dataclass(frozen=True)
    class A:
        key: str = option('x', 'a key')

    @dataclass(frozen=True)
    class B:
        key: str = option('y', 'a key')

    with pytest.raises(ValueError, match='different defaults'):
        parameter_specs((BackendOptions('vla', 'a', 'vla_', A), BackendOptions('vla', 'b', 'vla_', B)))
