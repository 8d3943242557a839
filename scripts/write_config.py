#!/usr/bin/env python3
"""Regenerate config/widowx_sarl.yaml from the nodes' registered configs (sarl_ros.node_configs).

Each node's config class is the source of its parameters' defaults; a test checks the file equals them.

    ./sarl run python scripts/write_config.py
"""
import argparse
import json
from pathlib import Path

from sarl_ros.core.config import config_class
from sarl_ros import node_configs  # noqa: F401 - registers the node configs
from sarl_ros.graph.description import NODES

HEADER = """# Parameters of every sarl_ros node, with their defaults (ros2 launch and sarl-graph both
# read this file; launch arguments such as task:=... robot:=... override single values).
# `ros2 run sarl_ros <node> --help` describes each parameter. Regenerate with scripts/write_config.py.
"""


def yaml_value(value) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    lines = [HEADER.rstrip('\n')]
    for node in NODES:
        lines += [f'{node.name}:', '  ros__parameters:']
        for spec in config_class('node', node.name).settings():
            lines.append(f'    {spec.name}: {yaml_value(spec.default)}  # {spec.help}')
    path = Path(__file__).resolve().parents[1] / 'config' / 'widowx_sarl.yaml'
    path.write_text('\n'.join(lines) + '\n')
    print(f'wrote {path}')


if __name__ == '__main__':
    main()
