"""Backend options: one dataclass per backend, from which the nodes' parameters, the YAML and --help derive."""
from dataclasses import dataclass, fields

import pytest
import yaml

from sarl_ros.backends.catalog import DETECTOR_BACKENDS, EXECUTOR_BACKENDS, PROPOSER_BACKENDS, Backend
from sarl_ros.backends.options import (RemoteVLAOptions, VLMDetectorOptions, option, options_for, parameter_name,
                                       parameter_specs)
from sarl_ros.core.config import config_class
from sarl_ros.graph.launcher import DEFAULT_CONFIG

# node -> (its module, the backends whose options it declares)
NODES = {'vla_executor': ('sarl_ros.nodes.executor_node', EXECUTOR_BACKENDS),
         'vlm_proposer': ('sarl_ros.nodes.proposer_node', PROPOSER_BACKENDS),
         'reward': ('sarl_ros.nodes.reward_node', DETECTOR_BACKENDS)}


@pytest.mark.parametrize('node', sorted(NODES))
def test_every_option_is_a_parameter_with_its_default(node):
    backends = NODES[node][1]
    specs = {spec.name: spec for spec in parameter_specs(backends)}
    for backend in (b for b in backends if b.options is not None):
        for f in fields(backend.options):
            spec = specs[parameter_name(backend, f)]
            assert spec.default == f.default
            assert f'{backend.argument}:={backend.name}' in spec.description


@pytest.mark.parametrize('node', sorted(NODES))
def test_the_parameter_file_and_help_carry_the_options(node):
    pytest.importorskip('rclpy', reason='the node modules need the ROS 2 wheels')
    import importlib

    from sarl_ros.nodes.runner import usage
    module, backends = NODES[node]
    declared = yaml.safe_load(DEFAULT_CONFIG.read_text())[node]['ros__parameters']
    importlib.import_module(module)
    text = usage(node, 'summary', config_class('node', node))
    for spec in parameter_specs(backends):
        assert declared[spec.name] == spec.default
        assert f'  {spec.name} (' in text


def test_node_values_become_the_backend_options():
    options = options_for('vla', 'remote', {'vla_server_url': 'http://gpu:1', 'vla_image_size': 0, 'seed': 3},
                          EXECUTOR_BACKENDS)
    assert options == RemoteVLAOptions(server_url='http://gpu:1', image_size=0)
    assert options.kwargs()['image_size'] is None  # 0 means: send frames as captured
    assert options_for('vla', 'sim', {}, EXECUTOR_BACKENDS) is None  # the simulated VLA has no options of its own
    detector = options_for('detector', 'vlm', {'detector_model': 'm', 'api_key_env': 'KEY'}, DETECTOR_BACKENDS)
    assert detector == VLMDetectorOptions(model='m', api_key_env='KEY')  # a field may name its own parameter


def test_a_shared_option_must_have_one_default():
    @dataclass(frozen=True)
    class A:
        key: str = option('x', 'a key')

    @dataclass(frozen=True)
    class B:
        key: str = option('y', 'a key')

    with pytest.raises(ValueError, match='different defaults'):
        parameter_specs((Backend('vla', 'a', A, 'vla_'), Backend('vla', 'b', B, 'vla_')))


def test_every_backend_options_class_is_a_registered_config_checked_when_built():
    from sarl_ros.core.config import registered
    backends = registered('backend')
    for backend in EXECUTOR_BACKENDS + PROPOSER_BACKENDS + DETECTOR_BACKENDS:
        if backend.options is not None:
            assert backends[f'{backend.argument}:{backend.name}'] is backend.options
    with pytest.raises(ValueError, match="backend='claude': choose one of openai, hf_vlm"):
        options_for('detector', 'vlm', {'detector_backend': 'claude'}, DETECTOR_BACKENDS)
    with pytest.raises(ValueError, match='retries must be an integer'):
        options_for('vla', 'remote', {'vla_retries': 'twice'}, EXECUTOR_BACKENDS)
