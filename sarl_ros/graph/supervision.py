"""Fail fast: what one node's exit means for the whole graph.

The graph is over when the episode manager finishes its episodes. Any other exit (a node
that crashed, was killed, or refused its configuration, or the episode manager failing)
stops the graph with a non-zero exit code and one line that names the node and why.
ros2 launch (OnProcessExit handlers in launch/widowx_sarl.launch.py) and sarl-graph both
judge exits with judge_exit().
"""
from __future__ import annotations

import signal
from dataclasses import dataclass

# Exit codes of sarl_ros.nodes.runner.run_node.
CODE_MEANINGS = {
    1: 'it failed; its error is above',
    2: 'bad configuration or missing ROS environment; its error is above',
}


@dataclass(frozen=True)
class NodeExit:
    failed: bool  # the graph stops with a non-zero exit code
    message: str  # the one line to print


def explain_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f'was killed by {signal.Signals(-returncode).name}'
        except ValueError:
            return f'was killed by signal {-returncode}'
    if returncode == 0:
        return 'exited with code 0 while the graph was running'
    meaning = CODE_MEANINGS.get(returncode)
    return f'exited with code {returncode}' + (f' ({meaning})' if meaning else '')


def judge_exit(node_name: str, returncode: int, ends_graph: bool) -> NodeExit:
    """Judge the first exit of a node while the graph runs; every judgement stops the graph."""
    if ends_graph and returncode == 0:
        return NodeExit(False, f'{node_name} finished; stopping the graph')
    return NodeExit(True, f'node {node_name} {explain_exit(returncode)}; stopping the graph')
