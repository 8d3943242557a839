"""What one start of the graph runs, decided and checked before any process starts.

launch/widowx_sarl.launch.py (from an OpaqueFunction) and sarl-graph both call plan_graph(),
so a bad argument stops either of them before the first node runs, with one line that names
the argument, and both start the same nodes with the same parameters.
"""
from __future__ import annotations

import os
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

from sarl_ros.core.durability.resume import fresh_bag_path
# The nodes' configs: the launch arguments take their defaults, types and ranges from these fields.
from sarl_ros.graph import node_configs  # noqa: F401 - registers them
from sarl_ros.graph.description import (LAUNCH_ARGUMENTS, NODES, RECORDED_TOPICS, LaunchArgumentError,
                                        NodeDescription, node_overrides, resolve_arguments,
                                        unknown_arguments_message)

ROS2_LAUNCH = 'ros2 launch'
SARL_GRAPH = 'sarl-graph'

INTERBOTIX_PACKAGE = 'interbotix_xsarm_control'
# What `ros2 bag record -s mcap` needs besides the ros2 command.
BAG_PACKAGES = ('ros2bag', 'rosbag2_storage_mcap')


@dataclass(frozen=True)
class PlannedNode:
    description: NodeDescription
    overrides: dict[str, object]  # parameters set by launch arguments, over the parameter file

    @property
    def name(self) -> str:
        return self.description.name


@dataclass(frozen=True)
class GraphPlan:
    values: dict[str, object]  # every launch argument, typed
    nodes: tuple[PlannedNode, ...]
    bag_command: tuple[str, ...] = ()  # `ros2 bag record ...`, when recording goes through rosbag2
    interbotix: bool = False  # start the Interbotix driver (xsarm_control.launch.py)
    notices: tuple[str, ...] = field(default=())  # say these loudly before starting


def find_package_prefix(package: str, environ: Mapping[str, str] = os.environ) -> Path | None:
    """Return the install prefix of a ROS package from the ament index, or None."""
    for prefix in filter(None, environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)):
        if (Path(prefix) / 'share' / 'ament_index' / 'resource_index' / 'packages' / package).is_file():
            return Path(prefix)
    return None


# Declared by the launch file itself (sarl-graph takes --config instead).
LAUNCH_FILE_ARGUMENTS = ('config',)


def arguments_from_launch(configurations: Mapping[str, str], argv: Sequence[str]) -> dict[str, str]:
    """Return the graph's launch arguments as `ros2 launch` hands them to an OpaqueFunction, names checked.

    configurations: context.launch_configurations (declared arguments with their values);
    argv: context.argv, the `name:=value` arguments of the `ros2 launch` command line. ros2 launch
    turns every one of them into a launch configuration, declared or not, and never says that a
    name is unknown: a misspelled `episode:=2` ran 60 episodes. Here any name on the command line
    that the launch file does not declare stops the launch, with the closest valid name. (A launch
    file that includes this one passes its values with launch_arguments=; those are not on argv.)
    """
    typed = [text.split(':=', 1)[0] for text in argv if ':=' in text]
    known = [arg.name for arg in LAUNCH_ARGUMENTS] + list(LAUNCH_FILE_ARGUMENTS)
    message = unknown_arguments_message(set(typed) - set(known), known)
    if message:
        raise LaunchArgumentError(message)
    return {arg.name: str(configurations.get(arg.name, arg.default)) for arg in LAUNCH_ARGUMENTS}


def tcp_port_in_use(port: int, host: str = '127.0.0.1') -> bool:
    """Return whether a server could not bind host:port now (as the console's server binds: address reuse on)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
        except OSError:
            return True
    return False


def check_arguments(given: Mapping[str, str]) -> dict[str, object]:
    """Return typed, checked launch arguments; raise LaunchArgumentError naming the bad one."""
    values = resolve_arguments(dict(given))
    robot, task = values['robot'], str(values['task'])
    if robot == 'sim':
        if values['vla'] not in ('sim', 'openpi'):  # backends.stack.SIM_ARM_VLAS (openpi: a server drives the sim)
            raise LaunchArgumentError(f'vla:={values["vla"]} needs camera images of a real scene; '
                                      'with robot:=sim use vla:=sim')
        from sarl_ros.sim.registry import task_spec
        try:
            task_spec(task)
        except ValueError as exc:
            raise LaunchArgumentError(f'task:={task}: {exc}') from None
    else:
        if not task.strip():
            raise LaunchArgumentError('task:= is empty; give the task text, e.g. task:="put the sushi in the pot"')
        if values['detector'] == 'sim':
            raise LaunchArgumentError(f'detector:=sim reads the simulator; with robot:={robot} use detector:=vlm '
                                      'or detector:=none (a person gives the reward)')
    output_dir = Path(str(values['output_dir']))
    if not str(values['output_dir']).strip() or output_dir.is_file():
        raise LaunchArgumentError(f'output_dir:={values["output_dir"]} must name a directory')
    return values


def bag_unavailable_reason(environ: Mapping[str, str] = os.environ) -> str | None:
    """Say why `ros2 bag record -s mcap` cannot run here, or return None when it can."""
    if shutil.which('ros2', path=environ.get('PATH')) is None:
        return 'the ros2 command is not on PATH'
    missing = [p for p in BAG_PACKAGES if find_package_prefix(p, environ) is None]
    if missing:
        return f'{" and ".join(missing)} {"is" if len(missing) == 1 else "are"} not installed'
    return None


def plan_graph(given: Mapping[str, str], runner: str, environ: Mapping[str, str] = os.environ,
               port_in_use: Callable[[int], bool] | None = None) -> GraphPlan:
    """Check the launch arguments and decide what starts; raise LaunchArgumentError if it cannot.

    port_in_use (the launchers pass tcp_port_in_use): a console port already taken stops the launch
    here, before any node starts, instead of the console node failing after the others started.
    """
    values = check_arguments(given)
    port = int(values['console_port'])
    if values['console'] and port and port_in_use is not None and port_in_use(port):
        raise LaunchArgumentError(f'console_port:={port} is in use on 127.0.0.1 (another graph or program?); '
                                  'choose another port, console_port:=0 for a free one, or console:=false')
    notices: list[str] = []
    bag_command: tuple[str, ...] = ()
    builtin_recorder = False
    if values['record']:
        # A resumed run records a new bag beside the old ones (fresh:=true empties output_dir first).
        out = Path(str(values['output_dir']))
        bag_dir = out / 'bag' if values['fresh'] else fresh_bag_path(out)
        reason = bag_unavailable_reason(environ) if runner == ROS2_LAUNCH else None
        if runner == ROS2_LAUNCH and reason is None:
            bag_command = ('ros2', 'bag', 'record', '--storage', 'mcap', '--output', str(bag_dir),
                           *RECORDED_TOPICS)
        else:
            builtin_recorder = True
            if runner == ROS2_LAUNCH:
                notices.append(f'RECORDING WITHOUT ROSBAG2: `ros2 bag record` cannot run ({reason}); the built-in '
                               f'recorder node writes the MCAP bag to {bag_dir} instead '
                               '(apt-get install ros-$ROS_DISTRO-rosbag2 ros-$ROS_DISTRO-rosbag2-storage-mcap)')
    interbotix = runner == ROS2_LAUNCH and values['robot'] == 'widowx'
    if interbotix and find_package_prefix(INTERBOTIX_PACKAGE, environ) is None:
        raise LaunchArgumentError(
            f'robot:=widowx starts the Interbotix driver, but {INTERBOTIX_PACKAGE} is not installed: build the '
            'Interbotix workspace (docs/real_robot.md) and source it before this one')
    nodes = []
    for node in NODES:
        if node.enabled_by is not None and not values.get(node.enabled_by):
            continue
        if node.without_ros2_launch_only and not (runner == SARL_GRAPH or builtin_recorder):
            continue
        nodes.append(PlannedNode(node, node_overrides(node.name, values)))
    return GraphPlan(values=values, nodes=tuple(nodes), bag_command=bag_command, interbotix=interbotix,
                     notices=tuple(notices))
