"""One description of the SARL node graph: which nodes, started how, with which launch arguments.

launch/widowx_sarl.launch.py (ros2 launch) and sarl_ros.graph.launcher (sarl-graph, for
machines without ros2 launch) both build the graph from these tables, so they cannot drift.
The graph only composes: the names the nodes share (topics, services, node names) are
sarl_ros.names, the backends sarl_ros.backends.catalog, and no node imports this module.
Pure data and string handling: importable without ROS.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sarl_ros import names
from sarl_ros.backends import catalog
from sarl_ros.core.method_names import METHODS
from sarl_ros.names import RESET_MODES


@dataclass(frozen=True)
class LaunchArgument:
    name: str
    default: str
    description: str
    value_type: type = str
    choices: tuple[str, ...] = ()
    minimum: int | None = None  # smallest allowed value of an int argument
    maximum: int | None = None  # largest allowed value of an int argument
    # node name -> parameter of that node that takes this argument's value
    targets: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeDescription:
    name: str  # ROS node name, and the key of its section in config/widowx_sarl.yaml
    executable: str  # `ros2 run sarl_ros <executable>`
    module: str  # python -m <module>
    # Start the node only when this boolean launch argument is true (None: always).
    enabled_by: str | None = None
    # The graph ends when this node exits (the episode manager stops after N episodes).
    ends_graph: bool = False
    # Started by sarl-graph only: ros2 launch records with `ros2 bag record` instead.
    without_ros2_launch_only: bool = False
    # False: the launcher must not remap the node name (`name=` / `__node:=`), because the remap
    # also renames every other node in that process (ros2/launch_ros#342), here the Interbotix
    # API's node in the executor; such a node names itself `name` in its own code.
    renamed_by_launcher: bool = True


# The launch arguments' choices of backends, read from the one table of them.
ROBOT_BACKENDS = catalog.names(catalog.ROBOT)
VLA_BACKENDS = catalog.names(catalog.VLA)
VLM_BACKENDS = catalog.names(catalog.VLM)
DETECTOR_BACKENDS = catalog.names(catalog.DETECTOR)
CAMERA_BACKENDS = catalog.names(catalog.CAMERA)

LAUNCH_ARGUMENTS: tuple[LaunchArgument, ...] = (
    # The episode manager resolves the task once; the executor's simulator gets it with every scene reset.
    LaunchArgument('task', 'pot_lid_on_towel', 'Task name (a simulator task, or the task text on a real robot)',
                   targets={'episode_manager': 'task'}),
    LaunchArgument('robot', 'sim', 'Robot backend', choices=ROBOT_BACKENDS,
                   targets={'vla_executor': 'robot'}),
    LaunchArgument('vla', 'sim', 'VLA backend', choices=VLA_BACKENDS,
                   targets={'vla_executor': 'vla'}),
    LaunchArgument('vlm', 'sim', 'VLM proposer backend', choices=VLM_BACKENDS,
                   targets={'vlm_proposer': 'backend'}),
    LaunchArgument('detector', 'sim', 'Success detector backend', choices=DETECTOR_BACKENDS,
                   targets={'reward': 'detector'}),
    LaunchArgument('camera', 'relay',
                   'Camera backend (relay re-publishes an image topic, e.g. the simulator or a RealSense driver)',
                   choices=CAMERA_BACKENDS, targets={'camera': 'backend'}),
    LaunchArgument('method', 'sarl', 'Prompt-selection method (sarl or a baseline)', choices=METHODS,
                   targets={'q_policy': 'method'}),
    LaunchArgument('episodes', '60', 'Online episodes before the graph stops', int, minimum=1,
                   targets={'episode_manager': 'episodes'}),
    LaunchArgument('seed', '0', 'Random seed', int, minimum=0,
                   targets={'q_policy': 'seed', 'vla_executor': 'seed', 'vlm_proposer': 'seed',
                            'episode_manager': 'seed'}),
    LaunchArgument('output_dir', 'runs/latest', 'Where checkpoints, logs, plots and bags go',
                   targets={'q_policy': 'output_dir', 'episode_manager': 'output_dir', 'recorder': 'output_dir',
                            'operator_console': 'output_dir'}),
    LaunchArgument('record', 'false', 'Record a rosbag2 of every SARL topic to <output_dir>/bag', bool),
    LaunchArgument('fresh', 'false', 'Start afresh: move an existing output_dir aside to <output_dir>.old-N '
                   '(default: resume it at the next episode)', bool),
    LaunchArgument('widowx_use_sim', 'false',
                   "robot:=widowx only: run Interbotix's simulated motors (xs_sdk_sim), a dry run without the arm",
                   bool),
    LaunchArgument('console', 'true',
                   'Operator console: web page on 127.0.0.1:<console_port>, single keys in the terminal of the graph',
                   bool),
    LaunchArgument('console_port', '8080', "TCP port of the operator console's page (0: a free one, logged)", int,
                   minimum=0, maximum=65535, targets={'operator_console': 'port'}),
    LaunchArgument('human', 'false', "A person gives every episode's verdict (console s/f or the terminal); "
                   'no episode ends without it', bool, targets={'reward': 'human'}),
    LaunchArgument('reset_mode', 'auto', 'auto: the simulator resets the scene; operator: wait for a person to '
                   'reset it and confirm (console r)', choices=RESET_MODES, targets={'episode_manager': 'reset_mode'}),
)

# Arguments read by the launch file itself rather than passed to a node.
LAUNCH_ONLY_ARGUMENTS = ('record', 'widowx_use_sim', 'fresh', 'console')

# The node list: setup.py's entry points and scripts/ros2_run/ are checked against it
# (test/package/test_entry_points.py).
NODES: tuple[NodeDescription, ...] = (
    NodeDescription(names.NODE_EXECUTOR, 'vla_executor', 'sarl_ros.nodes.executor_node', renamed_by_launcher=False),
    NodeDescription(names.NODE_CAMERA, 'camera', 'sarl_ros.nodes.camera_node'),
    NodeDescription(names.NODE_PROPOSER, 'vlm_proposer', 'sarl_ros.nodes.proposer_node'),
    NodeDescription(names.NODE_POLICY, 'q_policy', 'sarl_ros.nodes.policy_node'),
    NodeDescription(names.NODE_REWARD, 'reward', 'sarl_ros.nodes.reward_node'),
    NodeDescription(names.NODE_EPISODE_MANAGER, 'episode_manager', 'sarl_ros.nodes.episode_manager_node',
                    ends_graph=True),
    NodeDescription(names.NODE_RECORDER, 'recorder', 'sarl_ros.nodes.recorder_node', enabled_by='record',
                    without_ros2_launch_only=True),
    NodeDescription(names.NODE_OPERATOR_CONSOLE, 'operator_console', 'sarl_ros.nodes.operator_console_node',
                    enabled_by='console'),
)


class LaunchArgumentError(ValueError):
    pass


def unknown_arguments_message(unknown, known) -> str | None:
    """Return one line naming the unknown `name:=` arguments, each with the closest known name; None if none."""
    import difflib
    parts = []
    for name in sorted(unknown):
        close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
        parts.append(f'{name}:= (did you mean {close[0]}:=?)' if close else f'{name}:=')
    if not parts:
        return None
    listing = '' if all('did you mean' in part for part in parts) else f'; known: {", ".join(known)}'
    return f'unknown launch argument {", ".join(parts)}{listing}'


def resolve_arguments(given: dict[str, str]) -> dict[str, object]:
    """Typed values for every launch argument: defaults, then the given `name:=value`s."""
    known = {a.name: a for a in LAUNCH_ARGUMENTS}
    message = unknown_arguments_message(set(given) - set(known), list(known))
    if message:
        raise LaunchArgumentError(message)
    values = {}
    for arg in LAUNCH_ARGUMENTS:
        text = given.get(arg.name, arg.default)
        if arg.choices and text not in arg.choices:
            raise LaunchArgumentError(f'{arg.name}:={text} is not known; choose one of: {", ".join(arg.choices)}')
        values[arg.name] = parse_value(text, arg.value_type, arg.name)
        low, high = arg.minimum, arg.maximum
        if (low is not None and values[arg.name] < low) or (high is not None and values[arg.name] > high):
            bounds = f'at least {low}' if high is None else f'between {low} and {high}'
            raise LaunchArgumentError(f'{arg.name}:={text} must be {bounds}')
    return values


def parse_value(text: str, value_type: type, name: str = 'value'):
    if value_type is bool:
        lowered = text.strip().lower()
        if lowered not in ('true', 'false', '1', '0'):
            raise LaunchArgumentError(f'{name}:={text} must be true or false')
        return lowered in ('true', '1')
    try:
        return value_type(text)
    except ValueError as exc:
        raise LaunchArgumentError(f'{name}:={text} must be {value_type.__name__}') from exc


def describe_arguments() -> str:
    """Return every launch argument with its default, type or choices and description (for --help)."""
    lines = ['launch arguments (name:=value; they override the parameter file):']
    for arg in LAUNCH_ARGUMENTS:
        kind = '|'.join(arg.choices) if arg.choices else {bool: 'true|false', int: 'int'}.get(arg.value_type, 'text')
        if arg.minimum is not None:
            kind += f' >= {arg.minimum}'
        lines.append(f'  {arg.name}:=<{kind}>  (default {arg.default})')
        lines.append(f'      {arg.description}')
    return '\n'.join(lines)


def node_overrides(node: str, values: dict[str, object]) -> dict[str, object]:
    """Return the parameters of one node that launch arguments set."""
    return {arg.targets[node]: values[arg.name] for arg in LAUNCH_ARGUMENTS if node in arg.targets}


def enabled_nodes(values: dict[str, object]) -> list[NodeDescription]:
    return [n for n in NODES if n.enabled_by is None or values.get(n.enabled_by)]
