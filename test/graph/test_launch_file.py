"""launch/widowx_sarl.launch.py, run against stand-ins of the launch API.

launch, launch_ros and ament_index_python's package look-up are not on PyPI, so each class
the launch file uses is replaced by one that records how it was built. What is tested is
the launch file's own logic: the arguments it declares, the checks before any node starts,
the nodes and parameters it starts, and the exit handlers that end the launch.
"""
import importlib.util
import sys
import types
from pathlib import Path

import pytest

from sarl_ros.graph import description
from sarl_ros.graph.description import LaunchArgumentError
from sarl_ros.graph.launcher import ConfigError

ROOT = Path(__file__).resolve().parents[2]


class Recorded:
    built = []  # every stand-in object, in order

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        Recorded.built.append(self)


class LaunchConfiguration(Recorded):
    def perform(self, context):
        return context.launch_configurations[self.args[0]]


def stand_in_modules(share_dir):
    classes = {
        'launch': ['LaunchDescription'],
        'launch.actions': ['DeclareLaunchArgument', 'ExecuteProcess', 'IncludeLaunchDescription', 'LogInfo',
                           'OpaqueFunction', 'RegisterEventHandler', 'Shutdown'],
        'launch.event_handlers': ['OnProcessExit', 'OnShutdown'],
        'launch.launch_description_sources': ['PythonLaunchDescriptionSource'],
        'launch_ros.actions': ['Node'],
    }
    modules = {}
    for module_name, names in classes.items():
        module = types.ModuleType(module_name)
        for name in names:
            setattr(module, name, type(name, (Recorded,), {}))
        modules[module_name] = module
    modules['launch.substitutions'] = types.ModuleType('launch.substitutions')
    modules['launch.substitutions'].LaunchConfiguration = LaunchConfiguration
    modules['launch_ros'] = types.ModuleType('launch_ros')
    packages = types.ModuleType('ament_index_python.packages')
    packages.get_package_share_directory = lambda package: str(share_dir)
    modules['ament_index_python'] = types.ModuleType('ament_index_python')
    modules['ament_index_python.packages'] = packages
    return modules


@pytest.fixture
def launch_file(monkeypatch):
    for name, module in stand_in_modules(ROOT).items():  # ROOT/config/widowx_sarl.yaml as the share dir
        monkeypatch.setitem(sys.modules, name, module)
    Recorded.built = []
    spec = importlib.util.spec_from_file_location('widowx_sarl_launch', ROOT / 'launch' / 'widowx_sarl.launch.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def context(tmp_path, **given):
    """The launch context as `ros2 launch widowx_sarl.launch.py name:=value ...` hands it to the OpaqueFunction.

    ros2 launch puts every typed `name:=value` on context.argv and, declared or not, into the launch
    configurations, beside the declared arguments' defaults.
    """
    # console_port:=0 unless a test types another: 8080 may be taken by a graph that runs beside the tests.
    typed = {'output_dir': str(tmp_path / 'run'), 'console_port': '0', **given}
    values = {arg.name: arg.default for arg in description.LAUNCH_ARGUMENTS}
    values['config'] = str(ROOT / 'config' / 'widowx_sarl.yaml')
    values.update(typed)
    return types.SimpleNamespace(launch_configurations=values, argv=[f'{k}:={v}' for k, v in typed.items()])


def of_type(actions, name):
    return [a for a in actions if type(a).__name__ == name]


def test_declares_every_argument_and_defers_the_graph_to_a_checked_function(launch_file):
    declared = launch_file.generate_launch_description().args[0]
    arguments = of_type(declared, 'DeclareLaunchArgument')
    assert [a.args[0] for a in arguments] == ['config'] + [a.name for a in description.LAUNCH_ARGUMENTS]
    robot = next(a for a in arguments if a.args[0] == 'robot')
    assert robot.kwargs['choices'] == ['sim', 'widowx']
    assert of_type(declared, 'OpaqueFunction')[-1].kwargs['function'] is launch_file.start_graph
    assert not of_type(declared, 'Node')  # nothing starts before the check


def test_starts_every_node_with_its_parameters_and_an_exit_handler(launch_file, tmp_path):
    actions = launch_file.start_graph(context(tmp_path, episodes='3', seed='5'))
    nodes = of_type(actions, 'Node')
    expected = [n for n in description.NODES if not n.without_ros2_launch_only]
    # The executor is not renamed: name= would also rename the Interbotix API's node in its process.
    assert [(n.kwargs['executable'], n.kwargs['name']) for n in nodes] == [
        (n.executable, n.name if n.renamed_by_launcher else None) for n in expected]
    manager = next(n for n in nodes if n.kwargs['name'] == 'episode_manager')
    config, overrides = manager.kwargs['parameters']
    assert config == str(ROOT / 'config' / 'widowx_sarl.yaml')
    assert overrides == {'task': 'pot_lid_on_towel', 'episodes': 3, 'seed': 5, 'output_dir': str(tmp_path / 'run'),
                         'reset_mode': 'auto'}
    handled = [h.args[0].kwargs['target_action'] for h in of_type(actions, 'RegisterEventHandler')
               if type(h.args[0]).__name__ == 'OnProcessExit']
    assert handled == nodes  # one exit handler on every node
    assert not of_type(actions, 'IncludeLaunchDescription') and not of_type(actions, 'ExecuteProcess')


def exit_handlers(actions):
    handlers = {}
    for h in of_type(actions, 'RegisterEventHandler'):
        handler = h.args[0]
        if type(handler).__name__ == 'OnProcessExit':
            target = handler.kwargs['target_action'].kwargs  # the executor keeps its executable's name
            handlers[target['name'] or target['executable']] = handler.kwargs['on_exit']
        else:
            handlers['shutdown'] = handler.kwargs['on_shutdown']
    return handlers


def test_any_node_exit_ends_the_launch_and_only_a_finished_manager_is_success(launch_file, tmp_path):
    handlers = exit_handlers(launch_file.start_graph(context(tmp_path)))
    with pytest.raises(launch_file.GraphStopped, match=r'^node vla_executor exited with code 2 \(bad configuration'):
        handlers['vla_executor'](types.SimpleNamespace(returncode=2), None)
    with pytest.raises(launch_file.GraphStopped, match='node episode_manager exited with code 1'):
        handlers['episode_manager'](types.SimpleNamespace(returncode=1), None)
    finished = handlers['episode_manager'](types.SimpleNamespace(returncode=0), None)
    assert [type(a).__name__ for a in finished] == ['Shutdown']
    assert finished[0].kwargs['reason'] == 'episode_manager finished; stopping the graph'
    # Once the launch shuts down, the nodes it stops exit as expected.
    handlers['shutdown'](object(), None)
    assert handlers['q_policy'](types.SimpleNamespace(returncode=-2), None) is None


@pytest.mark.parametrize('given, message', [
    ({'episodes': 'abc'}, 'episodes:=abc must be int'),
    ({'task': 'nonexistent_task'}, 'unknown simulator task'),
    ({'config': '/nonexistent/params.yaml'}, 'does not exist'),
    # ros2 launch itself accepts any name: a misspelled one ran the default 60 episodes.
    ({'episode': '2'}, r'^unknown launch argument episode:= \(did you mean episodes:=\?\)$'),
    ({'consol_port': '9000'}, r'did you mean console_port:=\?'),
    ({'xyzzy': '1'}, r'^unknown launch argument xyzzy:=; known: task, robot, '),
    ({'console_port': '99999'}, r'^console_port:=99999 must be between 0 and 65535$'),
    ({'console_port': '-1'}, r'^console_port:=-1 must be between 0 and 65535$'),
])
def test_a_bad_argument_raises_before_any_node_is_built(launch_file, tmp_path, given, message):
    with pytest.raises(ValueError, match=message) as refused:
        launch_file.start_graph(context(tmp_path, **given))
    assert isinstance(refused.value, (LaunchArgumentError, ConfigError))
    assert not [r for r in Recorded.built if type(r).__name__ in ('Node', 'ExecuteProcess')]


def test_recording_without_rosbag2_falls_back_to_the_builtin_recorder_loudly(launch_file, tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path))  # no ros2 command
    actions = launch_file.start_graph(context(tmp_path, record='true'))
    assert 'recorder' in [n.kwargs['name'] for n in of_type(actions, 'Node')]
    assert 'RECORDING WITHOUT ROSBAG2' in of_type(actions, 'LogInfo')[0].kwargs['msg']
    assert 'recorder' in exit_handlers(actions)


def test_a_busy_console_port_stops_the_launch_naming_the_argument_typed(launch_file, tmp_path):
    import socket
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LaunchArgumentError, match=rf'^console_port:={port} is in use on 127.0.0.1 .*'
                                                      r'console_port:=0 for a free one, or console:=false$'):
            launch_file.start_graph(context(tmp_path, console_port=str(port)))
        assert not [r for r in Recorded.built if type(r).__name__ in ('Node', 'ExecuteProcess')]
        # Without the console the port does not matter.
        assert of_type(launch_file.start_graph(context(tmp_path, console_port=str(port), console='false')), 'Node')
