"""Python side of sarl_ros for pip (development environment and console commands).

colcon builds this repository as an ament_cmake package (see CMakeLists.txt), which
installs the same Python package and the `ros2 run` executables; this file is for
`pip install -e .` in the virtual environment made by scripts/bootstrap.sh.
"""
from setuptools import find_packages, setup

# ROS node executables: name -> module with a main(); the node list is sarl_ros.graph.description.NODES, and
# test/package/test_entry_points.py checks this table and scripts/ros2_run/ against it.
NODES = {
    'camera': 'sarl_ros.nodes.camera_node',
    'vlm_proposer': 'sarl_ros.nodes.proposer_node',
    'q_policy': 'sarl_ros.nodes.policy_node',
    'vla_executor': 'sarl_ros.nodes.executor_node',
    'reward': 'sarl_ros.nodes.reward_node',
    'episode_manager': 'sarl_ros.nodes.episode_manager_node',
    'recorder': 'sarl_ros.nodes.recorder_node',
    'operator_console': 'sarl_ros.nodes.operator_console_node',
}

COMMANDS = {
    'sarl-demo': 'sarl_ros.apps.demo',
    'sarl-bench': 'sarl_ros.harness.cli',
    'sarl-graph': 'sarl_ros.graph.launcher',
    'sarl-replay': 'sarl_ros.recording.cli',
    'sarl-vla-server': 'sarl_ros.backends.vla_server',
    'sarl-robot-check': 'sarl_ros.apps.robot_check',
}

setup(
    name='sarl_ros',
    version='0.1.0',
    packages=find_packages(include=['sarl_ros', 'sarl_ros.*']),
    package_data={'sarl_ros': ['py.typed'], 'sarl_ros.console': ['static/*']},
    python_requires='>=3.10',
    entry_points={
        'console_scripts': [
            # Nodes enter through node_entry: a stop while a node still imports ends it quietly.
            *(f'sarl-{n.replace("_", "-")}-node=sarl_ros.graph.node_entry:{n}' for n in NODES),
            *(f'{name}={module}:main' for name, module in COMMANDS.items()),
        ],
    },
)
