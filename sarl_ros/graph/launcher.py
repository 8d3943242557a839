"""sarl-graph: start the SARL node graph where `ros2 launch` is not installed.

Reads the same description as launch/widowx_sarl.launch.py and the same parameter file,
applies `name:=value` launch arguments, writes the resulting parameters to
<output_dir>/graph_params.yaml (the record of what ran), and starts every node as its own
process (or all in one process with --single-process). The graph ends when the episode
manager exits; the other nodes are then interrupted, terminated and, if need be, killed.

    sarl-graph episodes:=5 task:=sushi_to_pot output_dir:=runs/demo
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from sarl_ros.graph.description import (LaunchArgumentError, NodeDescription, enabled_nodes, node_overrides,
                                        resolve_arguments)

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / 'config' / 'widowx_sarl.yaml'


class ConfigError(ValueError):
    pass


def load_config(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f'parameter file {path} does not exist')
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f'parameter file {path} is not valid YAML: {exc}') from exc
    if not isinstance(data, dict) or not all(
            isinstance(v, dict) and isinstance(v.get('ros__parameters'), dict) for v in data.values()):
        raise ConfigError(f'parameter file {path} must map node names to {{ros__parameters: {{...}}}}')
    return data


def graph_parameters(config: dict, values: dict) -> dict:
    """Return the parameters every node gets: the config with launch arguments applied."""
    merged = {name: {'ros__parameters': dict(section['ros__parameters'])} for name, section in config.items()}
    for node in enabled_nodes(values):
        section = merged.setdefault(node.name, {'ros__parameters': {}})['ros__parameters']
        section.update(node_overrides(node.name, values))
    return merged


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='sarl-graph', description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('arguments', nargs='*', metavar='name:=value', help='launch arguments')
    parser.add_argument('--config', type=Path, default=DEFAULT_CONFIG, help='parameter file')
    parser.add_argument('--single-process', action='store_true', help='all nodes in one process')
    parser.add_argument('--shutdown-timeout', type=float, default=10.0)
    args = parser.parse_args(argv)
    given = {}
    for item in args.arguments:
        if ':=' not in item:
            parser.error(f'{item!r} is not of the form name:=value')
        name, value = item.split(':=', 1)
        given[name] = value
    return args, given


def main(argv=None) -> int:
    args, given = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        values = resolve_arguments(given)
        params = graph_parameters(load_config(args.config), values)
    except (LaunchArgumentError, ConfigError) as exc:
        print(f'sarl-graph: {exc}', file=sys.stderr)
        return 2
    out = Path(str(values['output_dir']))
    out.mkdir(parents=True, exist_ok=True)
    params_file = out / 'graph_params.yaml'
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    nodes = enabled_nodes(values)
    if args.single_process:
        return run_single_process(nodes, params_file)
    return run_processes(nodes, params_file, args.shutdown_timeout)


def node_command(node: NodeDescription, params_file: Path) -> list[str]:
    rename = ['-r', f'__node:={node.name}'] if node.renamed_by_launcher else []
    return [sys.executable, '-m', node.module, '--ros-args', *rename, '--params-file', str(params_file)]


def _pump(name: str, stream, sink):
    for line in stream:
        sink.write(f'[{name}] {line}')
        sink.flush()


def run_processes(nodes, params_file: Path, shutdown_timeout: float) -> int:
    procs: dict[str, subprocess.Popen] = {}
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    for node in nodes:
        proc = subprocess.Popen(node_command(node, params_file), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
        threading.Thread(target=_pump, args=(node.name, proc.stdout, sys.stdout), daemon=True).start()
        procs[node.name] = proc
    final = next(n.name for n in nodes if n.ends_graph)
    interrupted = False
    try:
        while True:
            if procs[final].poll() is not None:
                break
            crashed = [n for n, p in procs.items() if p.poll() is not None and n != final]
            if crashed:
                name = crashed[0]
                print(f'sarl-graph: node {name} exited with code {procs[name].returncode}; stopping the graph',
                      file=sys.stderr)
                stop_all(procs, shutdown_timeout)
                return 1
            time.sleep(0.2)
    except KeyboardInterrupt:
        interrupted = True
    stop_all(procs, shutdown_timeout)
    code = procs[final].returncode
    return 130 if interrupted else (code or 0)


def stop_all(procs: dict[str, subprocess.Popen], timeout: float):
    """SIGINT (clean shutdown: checkpoints are written), then SIGTERM, then SIGKILL."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        alive = [p for p in procs.values() if p.poll() is None]
        if not alive:
            return
        for p in alive:
            p.send_signal(sig)
        end = time.monotonic() + timeout
        while time.monotonic() < end and any(p.poll() is None for p in alive):
            time.sleep(0.05)
        if sig != signal.SIGKILL and any(p.poll() is None for p in alive):
            names = [n for n, p in procs.items() if p.poll() is None]
            print(f'sarl-graph: {", ".join(names)} ignored {signal.Signals(sig).name}', file=sys.stderr)


def run_single_process(nodes, params_file: Path) -> int:
    """Every node in one process and one executor: the fastest way to run the graph."""
    import importlib

    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

    from sarl_ros.nodes.runner import spin_until_shutdown
    from sarl_ros.rosutil.imports import require_ros
    require_ros()
    rclpy.init(args=['--ros-args', '--params-file', str(params_file)])
    executor = MultiThreadedExecutor(num_threads=8)
    built = []
    try:
        for node in nodes:
            module = importlib.import_module(node.module)
            built.append((node, module.NODE_CLASS()))
            executor.add_node(built[-1][1])
        spin_until_shutdown(executor)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        for _, instance in reversed(built):
            close = getattr(instance, 'close', None)
            if close is not None:
                close()
        rclpy.try_shutdown()
    final = [inst for desc, inst in built if desc.ends_graph]
    return getattr(final[0], 'exit_code', 0) if final else 1


if __name__ == '__main__':
    raise SystemExit(main())
