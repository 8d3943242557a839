"""Launch arguments and parameter files: resolution, merging, and the errors users see."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sarl_ros.graph import description, launcher
from sarl_ros.graph.description import LaunchArgumentError, resolve_arguments

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_and_overrides_resolve_to_typed_values():
    values = resolve_arguments({'episodes': '7', 'record': 'true', 'robot': 'widowx'})
    assert values['episodes'] == 7 and values['record'] is True and values['robot'] == 'widowx'
    assert values['task'] == 'pot_lid_on_towel'


@pytest.mark.parametrize('given, message', [
    ({'robt': 'sim'}, 'unknown launch argument robt:= (did you mean robot:=?)'),
    ({'robot': 'ur5'}, 'robot:=ur5 is not known; choose one of: sim, widowx'),
    ({'episodes': 'many'}, 'episodes:=many must be int'),
    ({'record': 'maybe'}, 'record:=maybe must be true or false'),
    ({'human': 'yes please'}, 'human:=yes please must be true or false'),
    ({'reset_mode': 'person'}, 'reset_mode:=person is not known; choose one of: auto, operator'),
])
def test_bad_launch_arguments_are_named(given, message):
    with pytest.raises(LaunchArgumentError, match=re.escape(message)):
        resolve_arguments(given)


def test_human_verdicts_and_operator_resets_are_launch_arguments():
    values = resolve_arguments({'human': 'true', 'reset_mode': 'operator'})
    assert description.node_overrides('reward', values)['human'] is True
    assert description.node_overrides('episode_manager', values)['reset_mode'] == 'operator'


def test_graph_help_lists_every_launch_argument(capsys):
    with pytest.raises(SystemExit):
        launcher.parse_args(['--help'])
    printed = capsys.readouterr().out
    for arg in description.LAUNCH_ARGUMENTS:
        assert f'  {arg.name}:=' in printed, arg.name
    assert 'reset_mode:=<auto|operator>  (default auto)' in printed and 'human:=<true|false>' in printed


def test_launch_arguments_override_the_parameter_file():
    config = launcher.load_config(launcher.DEFAULT_CONFIG)
    params = launcher.graph_parameters(config, resolve_arguments(
        {'robot': 'widowx', 'vla': 'openvla', 'episodes': '3', 'seed': '4'}))
    assert params['vla_executor']['ros__parameters']['robot'] == 'widowx'
    assert params['vla_executor']['ros__parameters']['vla'] == 'openvla'
    assert params['episode_manager']['ros__parameters']['episodes'] == 3
    assert {params[n]['ros__parameters']['seed'] for n in ('q_policy', 'vla_executor', 'vlm_proposer')} == {4}
    # Untouched values keep the file's defaults.
    assert params['camera']['ros__parameters']['rate_hz'] == config['camera']['ros__parameters']['rate_hz']


def run_graph(*args, cwd):
    env = dict(os.environ)
    return subprocess.run([sys.executable, '-m', 'sarl_ros.graph.launcher', *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_missing_parameter_file_is_reported(tmp_path):
    out = run_graph('--config', str(tmp_path / 'nope.yaml'), cwd=tmp_path)
    assert out.returncode == 2
    assert 'nope.yaml does not exist' in out.stderr


@pytest.mark.parametrize('text, message', [
    ('camera: [unclosed', 'is not valid YAML'),
    ('camera:\n  rate_hz: 5\n', 'must map node names to {ros__parameters'),
])
def test_malformed_parameter_file_is_reported(tmp_path, text, message):
    bad = tmp_path / 'bad.yaml'
    bad.write_text(text)
    out = run_graph('--config', str(bad), cwd=tmp_path)
    assert out.returncode == 2
    assert message in out.stderr


def test_unknown_backend_stops_the_graph_launcher_before_starting_anything(tmp_path):
    out = run_graph('vlm:=gpt9', f'output_dir:={tmp_path}/run', cwd=tmp_path)
    assert out.returncode == 2
    assert 'vlm:=gpt9 is not known; choose one of: sim, openai, hf_vlm' in out.stderr
    assert not (tmp_path / 'run').exists()


def test_unknown_backend_parameter_stops_a_node_with_a_clear_error(tmp_path):
    params = tmp_path / 'p.yaml'
    params.write_text(yaml.safe_dump({'camera': {'ros__parameters': {'backend': 'kinect'}}}))
    out = subprocess.run([sys.executable, str(ROOT / 'scripts' / 'ros2_run' / 'camera'), '--ros-args',
                          '--params-file', str(params)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "camera.backend='kinect' is not known; choose one of: relay, opencv" in out.stderr


def test_node_without_ros_names_the_fix(tmp_path):
    # A Python without the ROS wheels: the interpreter that made the venv, with this source tree.
    base_python = Path(sys.base_prefix) / 'bin' / 'python3'
    env = {'PATH': '/usr/bin:/bin', 'PYTHONPATH': str(ROOT), 'HOME': str(tmp_path)}
    out = subprocess.run([str(base_python), str(ROOT / 'scripts' / 'ros2_run' / 'q_policy')], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert 'rclpy is not importable' in out.stderr and './sarl setup' in out.stderr


def test_every_node_has_a_section_and_every_argument_a_target_or_a_use():
    names = {n.name for n in description.NODES}
    for arg in description.LAUNCH_ARGUMENTS:
        assert set(arg.targets) <= names
        assert arg.targets or arg.name in description.LAUNCH_ONLY_ARGUMENTS, f'{arg.name} sets nothing'
