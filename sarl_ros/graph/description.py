"""One description of the SARL node graph: which nodes, started how, with which launch arguments.

launch/widowx_sarl.launch.py (ros2 launch) and sarl_ros.graph.launcher (sarl-graph, for
machines without ros2 launch) both build the graph from these tables, so they cannot drift.
The graph only composes: the names the nodes share (topics, services, node names) are
sarl_ros.names, the backends sarl_ros.backends.catalog, and no node imports this module.
Pure data and string handling: importable without ROS.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sarl_ros import names, node_configs  # noqa: F401 - node_configs registers what the arguments read
from sarl_ros.backends import catalog
from sarl_ros.core.config import Setting, config_class, registered
from sarl_ros.core.online_run import run_default
from sarl_ros.core.method_names import METHODS  # noqa: F401 - the graph's methods, as users import them from here


@dataclass(frozen=True)
class LaunchArgument:
    """A `name:=value` of the graph.

    One that sets node parameters (targets) takes its default, type, choices and range from the first
    target's config field (sarl_ros.node_configs), so none of them is written twice; one the launch
    file reads itself (no targets) declares its default and type here.
    """

    name: str
    description: str
    # node name -> parameter of that node that takes this argument's value
    targets: dict[str, str] = field(default_factory=dict)
    own_default: str = ''  # only without targets
    own_type: type = str  # only without targets

    @property
    def setting(self) -> Setting | None:
        """Return the config field of the first target (None for an argument the launch file reads)."""
        if not self.targets:
            return None
        node, parameter = next(iter(self.targets.items()))
        return target_setting(node, parameter)

    @property
    def default(self) -> str:
        spec = self.setting
        return self.own_default if spec is None else argument_text(spec.default)

    @property
    def value_type(self) -> type:
        spec = self.setting
        return self.own_type if spec is None else spec.kind

    @property
    def choices(self) -> tuple[str, ...]:
        spec = self.setting
        return () if spec is None else tuple(spec.choices)

    @property
    def minimum(self):
        spec = self.setting
        return None if spec is None else spec.low

    @property
    def maximum(self):
        spec = self.setting
        return None if spec is None else spec.high


def target_setting(node: str, parameter: str) -> Setting:
    """Return the config field behind a node parameter (sarl_ros.node_configs)."""
    if node not in registered('node'):
        raise LookupError(f'no config of node {node} is registered in sarl_ros.node_configs')
    spec = next((s for s in config_class('node', node).settings() if s.name == parameter), None)
    if spec is None:
        raise ValueError(f'node {node} has no parameter {parameter}')
    return spec


def argument_text(value) -> str:
    """Return a default as a launch argument spells it (true/false for booleans)."""
    return ('true' if value else 'false') if isinstance(value, bool) else str(value)


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
    LaunchArgument('task', 'Task name (a simulator task, or the task text on a real robot)',
                   targets={'episode_manager': 'task'}),
    LaunchArgument('robot', 'Robot backend', targets={'vla_executor': 'robot'}),
    LaunchArgument('vla', 'VLA backend', targets={'vla_executor': 'vla'}),
    LaunchArgument('vlm', 'VLM proposer backend', targets={'vlm_proposer': 'backend'}),
    LaunchArgument('detector', 'Success detector backend', targets={'reward': 'detector'}),
    LaunchArgument('camera', 'Camera backend (relay re-publishes an image topic, e.g. the simulator or a RealSense '
                   'driver)', targets={'camera': 'backend'}),
    LaunchArgument('method', 'Prompt-selection method (sarl or a baseline)', targets={'q_policy': 'method'}),
    LaunchArgument('temperature', 'Initial softmax temperature of the prompt choice (sarl variants)',
                   targets={'q_policy': 'temperature'}),
    LaunchArgument('episodes', 'Online episodes before the graph stops', targets={'episode_manager': 'episodes'}),
    LaunchArgument('seed', 'Random seed', targets={'q_policy': 'seed', 'vla_executor': 'seed', 'vlm_proposer': 'seed',
                                                   'episode_manager': 'seed'}),
    LaunchArgument('output_dir', 'Where checkpoints, logs, plots and bags go',
                   targets={'q_policy': 'output_dir', 'episode_manager': 'output_dir', 'recorder': 'output_dir',
                            'operator_console': 'output_dir'}),
    LaunchArgument('record', 'Record a rosbag2 of every SARL topic to <output_dir>/bag',
                   own_default='false', own_type=bool),
    LaunchArgument('fresh', 'Start afresh: move an existing output_dir aside to <output_dir>.old-N '
                   '(default: resume it at the next episode)', own_default=argument_text(run_default('fresh')),
                   own_type=bool),
    LaunchArgument('widowx_use_sim',
                   "robot:=widowx only: run Interbotix's simulated motors (xs_sdk_sim), a dry run without the arm",
                   own_default='false', own_type=bool),
    LaunchArgument('console',
                   'Operator console: web page on 127.0.0.1:<console_port>, single keys in the terminal of the graph',
                   own_default='true', own_type=bool),
    LaunchArgument('console_port', "TCP port of the operator console's page (0: a free one, logged)",
                   targets={'operator_console': 'port'}),
    LaunchArgument('human', "A person gives every episode's verdict (console s/f or the terminal); "
                   'no episode ends without it', targets={'reward': 'human'}),
    LaunchArgument('reset_mode', 'auto: the simulator resets the scene; operator: wait for a person to '
                   'reset it and confirm (console r)', targets={'episode_manager': 'reset_mode'}),
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
        kind = '|'.join(arg.choices) if arg.choices else {bool: 'true|false', int: 'int', float: 'number'}.get(
            arg.value_type, 'text')
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
