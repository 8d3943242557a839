"""Start the SARL node graph: `ros2 launch sarl_ros widowx_sarl.launch.py [arg:=value ...]`.

The nodes, their launch arguments and which parameter each argument sets come from
sarl_ros.graph.description, the same tables the sarl-graph launcher reads, so both
start the same graph. Parameters default to config/widowx_sarl.yaml. An existing
output_dir is resumed (fresh:=true moves it aside first); each run records a new bag.
"""
from pathlib import Path

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, IncludeLaunchDescription, OpaqueFunction, Shutdown
from launch.conditions import IfCondition, LaunchConfigurationEquals
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from sarl_ros.core.resume import set_aside
from sarl_ros.graph.description import LAUNCH_ARGUMENTS, NODES, RECORDED_TOPICS, parse_value


def _prepare_output_dir(context):
    """fresh:=true: move the previous run aside before any node opens its files."""
    out = Path(LaunchConfiguration('output_dir').perform(context))
    if parse_value(LaunchConfiguration('fresh').perform(context), bool, 'fresh'):
        aside = set_aside(out)
        if aside is not None:
            print(f'fresh run: the previous run in {out} was moved to {aside}')
    return []


def _bag_recorder(context):
    """`ros2 bag record` into the first free <output_dir>/bag, bag_2, ... (a resumed run keeps its old bags)."""
    out = Path(LaunchConfiguration('output_dir').perform(context))
    path, number = out / 'bag', 1
    while path.exists():
        number += 1
        path = out / f'bag_{number}'
    return [ExecuteProcess(cmd=['ros2', 'bag', 'record', '--storage', 'mcap', '--output', str(path),
                                *RECORDED_TOPICS], output='screen')]


def generate_launch_description():
    config = PathJoinSubstitution([FindPackageShare('sarl_ros'), 'config', 'widowx_sarl.yaml'])
    actions = [DeclareLaunchArgument('config', default_value=config,
                                     description='Parameter file for every node')]
    for arg in LAUNCH_ARGUMENTS:
        actions.append(DeclareLaunchArgument(
            arg.name, default_value=arg.default, description=arg.description,
            **({'choices': list(arg.choices)} if arg.choices else {})))

    # The Interbotix driver (xs_sdk) for the real arm; the executor talks to it through
    # interbotix_xs_modules.
    actions.append(IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution(
            [FindPackageShare('interbotix_xsarm_control'), 'launch', 'xsarm_control.launch.py'])),
        launch_arguments={'robot_model': 'wx250s', 'use_rviz': 'false',
                          'use_sim': LaunchConfiguration('widowx_use_sim')}.items(),
        condition=LaunchConfigurationEquals('robot', 'widowx')))
    actions.append(OpaqueFunction(function=_prepare_output_dir))

    for node in NODES:
        if node.without_ros2_launch_only:
            continue
        overrides = {}
        for arg in LAUNCH_ARGUMENTS:
            if node.name in arg.targets:
                overrides[arg.targets[node.name]] = ParameterValue(
                    LaunchConfiguration(arg.name), value_type=arg.value_type)
        actions.append(Node(
            package='sarl_ros', executable=node.executable,
            name=node.name if node.renamed_by_launcher else None, output='screen',
            emulate_tty=True, parameters=[LaunchConfiguration('config'), overrides],
            condition=IfCondition(LaunchConfiguration(node.enabled_by)) if node.enabled_by else None,
            on_exit=Shutdown(reason=f'{node.name} finished') if node.ends_graph else None))

    actions.append(OpaqueFunction(function=_bag_recorder, condition=IfCondition(LaunchConfiguration('record'))))
    return LaunchDescription(actions)
