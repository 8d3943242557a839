"""The executor shares its process with the Interbotix API's node: the launchers must not rename it (launch_ros#342)."""
from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from sarl_ros.graph.description import NODES
from sarl_ros.graph.launcher import node_command


def _names_passed_to_node_init(module: str) -> set[str]:
    """Return the string literals passed first to super().__init__ in a node module."""
    tree = ast.parse(Path(importlib.util.find_spec(module).origin).read_text())
    names = set()
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == '__init__' \
                and call.args and isinstance(call.args[0], ast.Constant):
            names.add(call.args[0].value)
    return names


def test_the_executor_is_not_renamed_and_names_itself():
    executor = next(n for n in NODES if n.name == 'vla_executor')
    assert not executor.renamed_by_launcher
    command = node_command(executor, Path('params.yaml'))
    assert not any(part.startswith('__node:=') for part in command)
    assert executor.name in _names_passed_to_node_init(executor.module)


def test_the_other_nodes_keep_their_launch_names():
    for node in NODES:
        if node.renamed_by_launcher:
            assert f'__node:={node.name}' in node_command(node, Path('params.yaml'))


def test_every_node_names_itself_as_the_node_list_and_the_names_say():
    # The name a node gives itself is the one sarl-graph and ros2 launch use, and its section in the parameter file.
    from sarl_ros import names
    listed = {n.name for n in NODES}
    assert listed == {value for key, value in vars(names).items() if key.startswith('NODE_')}
    for node in NODES:
        assert _names_passed_to_node_init(node.module) == {node.name}, node.module
