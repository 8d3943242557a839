"""One check of the launch arguments before anything starts, and what a node's exit means."""
import signal

import pytest

from sarl_ros.graph.description import LAUNCH_ARGUMENTS, LaunchArgumentError
from sarl_ros.graph.launch_plan import (ROS2_LAUNCH, SARL_GRAPH, arguments_from_launch, bag_unavailable_reason,
                                        find_package_prefix, plan_graph, tcp_port_in_use)
from sarl_ros.graph.supervision import judge_exit
from sarl_ros.names import RECORDED_TOPICS


def ament_prefix(root, *packages, ros2_command=False):
    """Return an environment whose AMENT_PREFIX_PATH holds these packages (and maybe `ros2`)."""
    index = root / 'share' / 'ament_index' / 'resource_index' / 'packages'
    index.mkdir(parents=True, exist_ok=True)
    for package in packages:
        (index / package).write_text('')
    bin_dir = root / 'bin'
    bin_dir.mkdir(exist_ok=True)
    if ros2_command:
        (bin_dir / 'ros2').write_text('#!/bin/sh\n')
        (bin_dir / 'ros2').chmod(0o755)
    return {'AMENT_PREFIX_PATH': str(root), 'PATH': str(bin_dir)}


@pytest.mark.parametrize('given, message', [
    ({'episodes': 'abc'}, 'episodes:=abc must be int'),
    ({'episodes': '0'}, 'episodes:=0 must be at least 1'),
    ({'seed': '-1'}, 'seed:=-1 must be at least 0'),
    ({'task': 'nonexistent_task'}, "task:=nonexistent_task: unknown simulator task 'nonexistent_task'; available: "),
    ({'vla': 'openvla'}, 'vla:=openvla needs camera images of a real scene; with robot:=sim use vla:=sim'),
    ({'vla': 'remote'}, 'vla:=remote needs camera images of a real scene; with robot:=sim use vla:=sim'),
    ({'robot': 'widowx', 'vla': 'remote', 'task': ' '}, 'task:= is empty'),
    ({'robot': 'widowx', 'vla': 'remote', 'task': 'put the sushi in the pot'}, 'detector:=sim reads the simulator'),
    ({'method': 'dqn'},
     'method:=dqn is not known; choose one of: sarl, sarl_nodemo, sarl_blind, sarl_oracle, '),
    ({'record': 'yes'}, 'record:=yes must be true or false'),
    ({'console_port': '-1'}, 'console_port:=-1 must be between 0 and 65535'),
    ({'console_port': '65536'}, 'console_port:=65536 must be between 0 and 65535'),
    ({'episdoes': '3'}, 'unknown launch argument episdoes:= (did you mean episodes:=?)'),
])
@pytest.mark.parametrize('runner', [ROS2_LAUNCH, SARL_GRAPH])
def test_every_bad_argument_is_refused_before_anything_starts(given, message, runner, tmp_path):
    with pytest.raises(LaunchArgumentError) as refused:
        plan_graph(given, runner, ament_prefix(tmp_path / 'ros'))
    assert message in str(refused.value) and '\n' not in str(refused.value)


def test_output_dir_must_be_a_directory(tmp_path):
    (tmp_path / 'file').write_text('')
    with pytest.raises(LaunchArgumentError, match='must name a directory'):
        plan_graph({'output_dir': str(tmp_path / 'file')}, SARL_GRAPH, {})


def test_an_openpi_server_may_drive_the_simulated_arm(tmp_path):
    plan = plan_graph({'vla': 'openpi', 'output_dir': str(tmp_path)}, SARL_GRAPH, {})
    assert (plan.values['robot'], plan.values['vla']) == ('sim', 'openpi')


def test_a_task_given_by_its_text_is_accepted(tmp_path):
    plan = plan_graph({'task': 'put the sushi in the pot', 'output_dir': str(tmp_path)}, SARL_GRAPH, {})
    assert plan.values['task'] == 'put the sushi in the pot'


def test_both_runners_start_the_same_nodes_with_the_same_overrides(tmp_path):
    given = {'episodes': '3', 'seed': '4', 'output_dir': str(tmp_path / 'run')}
    launch_plan = plan_graph(given, ROS2_LAUNCH, {})
    graph_plan = plan_graph(given, SARL_GRAPH, {})
    assert [(n.name, n.overrides) for n in launch_plan.nodes] == [(n.name, n.overrides) for n in graph_plan.nodes]
    manager = next(n for n in launch_plan.nodes if n.name == 'episode_manager')
    assert manager.overrides == {'task': 'pot_lid_on_towel', 'episodes': 3, 'seed': 4,
                                 'output_dir': str(tmp_path / 'run'), 'reset_mode': 'auto'}
    assert [n.name for n in launch_plan.nodes if n.description.ends_graph] == ['episode_manager']
    assert 'recorder' not in {n.name for n in launch_plan.nodes}
    assert not launch_plan.bag_command and not launch_plan.interbotix and not launch_plan.notices


def test_console_port_reaches_the_console_node_and_a_disabled_console_starts_nothing(tmp_path):
    given = {'console_port': '0', 'output_dir': str(tmp_path / 'run')}
    console = next(n for n in plan_graph(given, SARL_GRAPH, {}).nodes if n.name == 'operator_console')
    assert console.overrides == {'port': 0, 'output_dir': str(tmp_path / 'run')}  # output_dir: the history
    without = plan_graph({**given, 'console': 'false'}, SARL_GRAPH, {})
    assert 'operator_console' not in {n.name for n in without.nodes}


def test_ros2_launch_records_with_ros2_bag_when_rosbag2_is_installed(tmp_path):
    env = ament_prefix(tmp_path / 'ros', 'ros2bag', 'rosbag2_storage_mcap', ros2_command=True)
    plan = plan_graph({'record': 'true', 'output_dir': str(tmp_path / 'run')}, ROS2_LAUNCH, env)
    assert plan.bag_command == ('ros2', 'bag', 'record', '--storage', 'mcap', '--output',
                                str(tmp_path / 'run' / 'bag'), *RECORDED_TOPICS)
    assert 'recorder' not in {n.name for n in plan.nodes} and not plan.notices


@pytest.mark.parametrize('packages, ros2_command, reason', [
    (('ros2bag', 'rosbag2_storage_mcap'), False, 'the ros2 command is not on PATH'),
    (('ros2bag',), True, 'rosbag2_storage_mcap is not installed'),
    ((), True, 'ros2bag and rosbag2_storage_mcap are not installed'),
])
def test_without_rosbag2_the_builtin_recorder_records_and_says_so(packages, ros2_command, reason, tmp_path):
    env = ament_prefix(tmp_path / 'ros', *packages, ros2_command=ros2_command)
    assert bag_unavailable_reason(env) == reason
    plan = plan_graph({'record': 'true', 'output_dir': str(tmp_path / 'run')}, ROS2_LAUNCH, env)
    assert not plan.bag_command
    assert 'recorder' in {n.name for n in plan.nodes}
    assert len(plan.notices) == 1 and reason in plan.notices[0] and 'RECORDING WITHOUT ROSBAG2' in plan.notices[0]


def test_a_resumed_run_records_a_new_bag_and_fresh_starts_with_bag(tmp_path):
    (tmp_path / 'run' / 'bag').mkdir(parents=True)
    given = {'record': 'true', 'output_dir': str(tmp_path / 'run')}
    env = ament_prefix(tmp_path / 'ros', 'ros2bag', 'rosbag2_storage_mcap', ros2_command=True)
    command = plan_graph(given, ROS2_LAUNCH, env).bag_command
    assert command[command.index('--output') + 1] == str(tmp_path / 'run' / 'bag_2')
    command = plan_graph({**given, 'fresh': 'true'}, ROS2_LAUNCH, env).bag_command  # the old run is moved aside
    assert command[command.index('--output') + 1] == str(tmp_path / 'run' / 'bag')
    assert 'recorder' in {n.name for n in plan_graph(given, SARL_GRAPH, env).nodes}  # the node numbers its own


def test_the_real_arm_needs_the_interbotix_packages_only_under_ros2_launch(tmp_path):
    given = {'robot': 'widowx', 'vla': 'remote', 'detector': 'none', 'task': 'put the sushi in the pot',
             'output_dir': str(tmp_path / 'run')}
    with pytest.raises(LaunchArgumentError, match='interbotix_xsarm_control is not installed'):
        plan_graph(given, ROS2_LAUNCH, ament_prefix(tmp_path / 'ros'))
    assert plan_graph(given, ROS2_LAUNCH, ament_prefix(tmp_path / 'ros', 'interbotix_xsarm_control')).interbotix
    assert not plan_graph(given, SARL_GRAPH, {}).interbotix


def test_package_prefix_is_found_in_the_ament_index(tmp_path):
    env = ament_prefix(tmp_path / 'b', 'sarl_ros')
    env['AMENT_PREFIX_PATH'] = f'{tmp_path / "a"}:{env["AMENT_PREFIX_PATH"]}'
    assert find_package_prefix('sarl_ros', env) == tmp_path / 'b'
    assert find_package_prefix('rclcpp', env) is None


@pytest.mark.parametrize('name, code, ends_graph, failed, message', [
    ('episode_manager', 0, True, False, 'episode_manager finished; stopping the graph'),
    ('episode_manager', 1, True, True, 'node episode_manager exited with code 1 (it failed; its error is above)'),
    ('vla_executor', 2, False, True, 'node vla_executor exited with code 2 (bad configuration'),
    ('q_policy', -signal.SIGKILL, False, True, 'node q_policy was killed by SIGKILL; stopping the graph'),
    ('camera', 0, False, True, 'node camera exited with code 0 while the graph was running'),
    ('reward', 7, False, True, 'node reward exited with code 7; stopping the graph'),
])
def test_every_exit_stops_the_graph_and_only_a_finished_manager_is_success(name, code, ends_graph, failed, message):
    verdict = judge_exit(name, code, ends_graph)
    assert verdict.failed is failed and message in verdict.message


def test_ros2_launch_arguments_are_checked_by_the_names_typed_on_its_command_line():
    """What `ros2 launch sarl_ros widowx_sarl.launch.py episode:=2 config:=x.yaml` gives the OpaqueFunction."""
    defaults = {a.name: a.default for a in LAUNCH_ARGUMENTS}
    configurations = {**defaults, 'config': 'x.yaml', 'episode': '2'}  # ros2 launch sets undeclared names too
    with pytest.raises(LaunchArgumentError, match=r'^unknown launch argument episode:= \(did you mean episodes:=\?\)$'):
        arguments_from_launch(configurations, ['episode:=2', 'config:=x.yaml'])
    given = arguments_from_launch({**defaults, 'episodes': '2', 'config': 'x.yaml'}, ['episodes:=2', 'config:=x.yaml'])
    assert given == {**defaults, 'episodes': '2'}  # config is the launch file's own


def test_a_console_port_in_use_is_refused_only_when_the_console_runs(tmp_path):
    import socket
    busy = []
    with pytest.raises(LaunchArgumentError, match=r'^console_port:=8080 is in use'):
        plan_graph({'output_dir': str(tmp_path)}, SARL_GRAPH, {}, port_in_use=lambda port: busy.append(port) or True)
    assert busy == [8080]
    plan_graph({'output_dir': str(tmp_path), 'console': 'false'}, SARL_GRAPH, {}, port_in_use=lambda port: True)
    plan_graph({'output_dir': str(tmp_path), 'console_port': '0'}, SARL_GRAPH, {}, port_in_use=lambda port: True)
    with socket.socket() as taken:  # the real probe
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert tcp_port_in_use(port)
    assert not tcp_port_in_use(port)  # closed, free again (address reuse, as the console binds)
