"""Start the SARL node graph: `ros2 launch sarl_ros widowx_sarl.launch.py [arg:=value ...]`.

The nodes, their launch arguments and which parameter each argument sets come from
sarl_ros.graph.description, the same tables the sarl-graph launcher reads, so both
start the same graph. Parameters default to config/widowx_sarl.yaml.

Before any process starts, an OpaqueFunction checks every argument with
sarl_ros.graph.launch_plan.plan_graph (the check sarl-graph makes too), and every name typed on
the command line (ros2 launch itself accepts undeclared ones; arguments_from_launch); a bad one
ends the launch with exit code 1 and one line that names it. While the graph runs, any node that
exits ends the launch (sarl_ros.graph.supervision): with code 0 when the episode manager has
finished its episodes, otherwise with code 1 and one line naming the node and why. Every
decision is made in Python on resolved values, so the file needs no launch conditions and
runs the same on humble, jazzy and kilted. An existing output_dir is resumed (fresh:=true
moves it aside first); each run records a new bag.
"""
import functools
import os
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, ExecuteProcess, IncludeLaunchDescription, LogInfo,
                            OpaqueFunction, RegisterEventHandler, Shutdown)
from launch.event_handlers import OnProcessExit, OnShutdown
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from sarl_ros.core.durability.resume import set_aside
from sarl_ros.graph.description import LAUNCH_ARGUMENTS
from sarl_ros.graph.launch_plan import (INTERBOTIX_PACKAGE, ROS2_LAUNCH, arguments_from_launch, plan_graph,
                                        tcp_port_in_use)
from sarl_ros.graph.launcher import load_config
from sarl_ros.graph.supervision import judge_exit


class GraphStopped(RuntimeError):
    """Raised from an exit handler: launch logs its message as one line and exits with code 1."""


def generate_launch_description():
    config = os.path.join(get_package_share_directory('sarl_ros'), 'config', 'widowx_sarl.yaml')
    actions = [DeclareLaunchArgument('config', default_value=config,
                                     description='Parameter file for every node')]
    for arg in LAUNCH_ARGUMENTS:
        actions.append(DeclareLaunchArgument(
            arg.name, default_value=arg.default, description=arg.description,
            **({'choices': list(arg.choices)} if arg.choices else {})))
    actions.append(OpaqueFunction(function=start_graph))
    return LaunchDescription(actions)


def start_graph(context):
    """Check every argument, then return the actions that start the graph."""
    # Unknown names on the command line, types, ranges, a busy console port: LaunchArgumentError, nothing started.
    config = LaunchConfiguration('config').perform(context)
    load_config(Path(config))  # ConfigError likewise
    given = arguments_from_launch(context.launch_configurations, context.argv)
    plan = plan_graph(given, ROS2_LAUNCH, port_in_use=tcp_port_in_use)
    stopping = []  # set once the launch shuts down: exits after that are expected
    if plan.values['fresh']:
        # Before any node opens its files in output_dir.
        aside = set_aside(Path(str(plan.values['output_dir'])))
        if aside is not None:
            print(f'fresh run: the previous run was moved to {aside}')

    actions = [LogInfo(msg=f'WARNING: {notice}') for notice in plan.notices]
    actions.append(RegisterEventHandler(OnShutdown(on_shutdown=lambda event, ctx: stopping.append(event))))
    if plan.interbotix:
        # The Interbotix driver (xs_sdk) for the real arm; the executor talks to it through
        # interbotix_xs_modules.
        actions.append(IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(
                get_package_share_directory(INTERBOTIX_PACKAGE), 'launch', 'xsarm_control.launch.py')),
            launch_arguments={'robot_model': 'wx250s', 'use_rviz': 'false',
                              'use_sim': 'true' if plan.values['widowx_use_sim'] else 'false'}.items()))

    for node in plan.nodes:
        # The executor keeps its own name: name= would also rename the Interbotix API's node
        # created in that process (ros2/launch_ros#342).
        process = Node(package='sarl_ros', executable=node.description.executable,
                       name=node.name if node.description.renamed_by_launcher else None,
                       output='screen', emulate_tty=True, parameters=[config, dict(node.overrides)])
        actions += [process, _stop_on_exit(process, node.name, node.description.ends_graph, stopping)]
    if plan.bag_command:
        recorder = ExecuteProcess(cmd=list(plan.bag_command), name='ros2_bag_record', output='screen')
        actions += [recorder, _stop_on_exit(recorder, 'ros2_bag_record', False, stopping)]
    return actions


def _stop_on_exit(process, name, ends_graph, stopping):
    return RegisterEventHandler(OnProcessExit(
        target_action=process, on_exit=functools.partial(_on_exit, name, ends_graph, stopping)))


def _on_exit(name, ends_graph, stopping, event, context):
    if stopping:
        return None
    verdict = judge_exit(name, event.returncode, ends_graph)
    if verdict.failed:
        raise GraphStopped(verdict.message)
    return [Shutdown(reason=verdict.message)]
