"""sarl-graph: start the SARL node graph where `ros2 launch` is not installed.

Reads the same description as launch/widowx_sarl.launch.py and the same parameter file,
checks the `name:=value` launch arguments the same way before anything starts, writes the
resulting parameters to <output_dir>/graph_params.yaml (the record of what ran), and starts
every node as its own process (or all in one process with --single-process). The graph ends
when the episode manager finishes; any other node exit stops it at once with exit code 1 and
one line naming the node (sarl_ros.graph.supervision). Stopping interrupts the nodes, then
terminates and, if need be, kills them.

Re-running with the same output_dir resumes the run (next episode, same learner, WAL
replayed); fresh:=true moves the old directory aside to <output_dir>.old-N first.

    sarl-graph episodes:=5 task:=pot_lid_on_towel output_dir:=runs/demo
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

from sarl_ros.core.durability.resume import RECORD_NAME, next_episode, set_aside
from sarl_ros.graph.description import (LaunchArgumentError, NodeDescription, describe_arguments, enabled_nodes,
                                        node_overrides)
from sarl_ros.graph.launch_plan import SARL_GRAPH, find_package_prefix, plan_graph, tcp_port_in_use
from sarl_ros.graph.supervision import judge_exit

# sarl-graph --single-process: how long running callbacks get to finish before the nodes close (no launch
# grace period bounds this process, unlike a node process: sarl_ros.nodes.runner.CALLBACK_GRACE_S).
SINGLE_PROCESS_GRACE_S = 5.0
SOURCE_CONFIG = Path(__file__).resolve().parents[2] / 'config' / 'widowx_sarl.yaml'


def default_config() -> Path:
    """Return the source tree's parameter file, or the installed one (colcon install space)."""
    if SOURCE_CONFIG.is_file():
        return SOURCE_CONFIG
    prefix = find_package_prefix('sarl_ros')
    return prefix / 'share' / 'sarl_ros' / 'config' / 'widowx_sarl.yaml' if prefix else SOURCE_CONFIG


DEFAULT_CONFIG = default_config()


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
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=describe_arguments())
    parser.add_argument('arguments', nargs='*', metavar='name:=value', help='launch arguments')
    parser.add_argument('--config', type=Path, default=DEFAULT_CONFIG, help='parameter file')
    parser.add_argument('--single-process', action='store_true', help='all nodes in one process')
    parser.add_argument('--installed', action='store_true',
                        help="run the nodes' installed executables (lib/sarl_ros/<node> of the ament prefix, "
                             'as ros2 launch does) instead of python -m <module>')
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
        config = load_config(args.config)
        plan = plan_graph(given, SARL_GRAPH, port_in_use=tcp_port_in_use)
        params = graph_parameters(config, plan.values)
        executables = installed_executables(plan.nodes) if args.installed else None
    except (LaunchArgumentError, ConfigError) as exc:
        print(f'sarl-graph: {exc}', file=sys.stderr)
        return 2
    out = Path(str(plan.values['output_dir']))
    announce_resume(out, bool(plan.values['fresh']), int(plan.values['episodes']))
    out.mkdir(parents=True, exist_ok=True)
    params_file = out / 'graph_params.yaml'
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    nodes = [n.description for n in plan.nodes]
    if args.single_process:
        return run_single_process(nodes, params_file, end_process=argv is None)
    return run_processes(nodes, params_file, args.shutdown_timeout, executables)


def announce_resume(out: Path, fresh: bool, episodes: int) -> None:
    """Set an old run aside (fresh), or say where the resumed run continues."""
    if fresh:
        aside = set_aside(out)
        if aside is not None:
            print(f'sarl-graph: fresh run; the previous run in {out} was moved to {aside}', flush=True)
        return
    first = next_episode(out / RECORD_NAME)
    if first > 1:
        left = max(0, episodes - first + 1)
        print(f'sarl-graph: resuming {out} at episode {first}/{episodes} ({left} to run; '
              f'fresh:=true starts afresh)', flush=True)


def installed_executables(nodes) -> dict[str, Path]:
    prefix = find_package_prefix('sarl_ros')
    if prefix is None:
        raise ConfigError('--installed: sarl_ros is not in AMENT_PREFIX_PATH; source install/setup.bash first')
    found = {n.name: prefix / 'lib' / 'sarl_ros' / n.description.executable for n in nodes}
    missing = [str(path) for path in found.values() if not os.access(path, os.X_OK)]
    if missing:
        raise ConfigError(f'--installed: not installed or not executable: {", ".join(missing)}')
    return found


def node_command(node: NodeDescription, params_file: Path, executable: Path | None = None) -> list[str]:
    # node_entry imports the node's module with the stop signals taken: a node stopped while starting exits quietly.
    start = [str(executable)] if executable else [sys.executable, '-m', 'sarl_ros.graph.node_entry', node.executable]
    # The executor keeps its own name: a remap would also rename the Interbotix API's node
    # created in that process (ros2/launch_ros#342).
    rename = ['-r', f'__node:={node.name}'] if node.renamed_by_launcher else []
    return [*start, '--ros-args', *rename, '--params-file', str(params_file)]


def _pump(name: str, stream, sink):
    for line in stream:
        sink.write(f'[{name}] {line}')
        sink.flush()


def _die_with_parent():
    """Ask Linux to SIGTERM the node if sarl-graph itself dies: no orphaned nodes."""
    try:
        import ctypes
        ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _terminate(signum, frame):
    raise KeyboardInterrupt


def _take_stop_signals():
    """SIGINT and SIGTERM as KeyboardInterrupt, also when SIGINT came in ignored.

    A shell starts a background job (`sarl-graph ... &`, a CI script) with SIGINT ignored, and
    Python then installs no handler: sarl-graph ignored `kill -INT`, and every node it spawned
    inherited the ignored SIGINT until its runner took the signal, so a node still importing
    lost the SIGINT that stops the graph (measured: 'q_policy ignored SIGINT' in a backgrounded
    test run). A handler installed here is reset to the default in each node process by exec.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)


def run_processes(nodes, params_file: Path, shutdown_timeout: float,
                  executables: dict[str, Path] | None = None) -> int:
    procs: dict[str, subprocess.Popen] = {}
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    _take_stop_signals()
    try:
        # Every process first, then the output threads: preexec_fn is not safe once threads run.
        for node in nodes:
            procs[node.name] = subprocess.Popen(
                node_command(node, params_file, (executables or {}).get(node.name)), stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True, preexec_fn=_die_with_parent)
        pumps = [threading.Thread(target=_pump, args=(name, proc.stdout, sys.stdout), daemon=True)
                 for name, proc in procs.items()]
        for pump in pumps:
            pump.start()
        ends_graph = {n.name: n.ends_graph for n in nodes}
        while True:
            exited = [name for name, proc in procs.items() if proc.poll() is not None]
            if exited:
                break
            time.sleep(0.1)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
        stop_all(procs, shutdown_timeout)
        return 130
    except BaseException:
        stop_all(procs, shutdown_timeout)
        raise
    # The first node to exit decides.
    name = exited[0]
    verdict = judge_exit(name, procs[name].returncode, ends_graph[name])
    print(f'sarl-graph: {verdict.message}', file=sys.stderr, flush=True)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop_all(procs, shutdown_timeout)
    for pump in pumps:
        pump.join(timeout=1.0)
    return 1 if verdict.failed else 0


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


def run_single_process(nodes, params_file: Path, end_process: bool = False) -> int:
    """Every node in one process and one executor: the fastest way to run the graph.

    Ctrl-C is taken as KeyboardInterrupt (not by rclpy's handler), so that running callbacks
    finish before the nodes close and rclpy shuts down, as in sarl_ros.nodes.runner.
    """
    import importlib

    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    from sarl_ros.rosutil.spin import exit_now, spin_until_shutdown, stop_graph_part
    from sarl_ros.rosutil.imports import require_ros
    from sarl_ros.rosutil.params import ParameterError
    require_ros()
    _take_stop_signals()
    rclpy.init(args=['--ros-args', '--params-file', str(params_file)], signal_handler_options=SignalHandlerOptions.NO)
    executor = MultiThreadedExecutor(num_threads=8)
    built = []
    code = None
    try:
        for node in nodes:
            module = importlib.import_module(node.module)
            built.append((node, module.NODE_CLASS()))
            executor.add_node(built[-1][1])
        spin_until_shutdown(executor, rclpy.get_default_context())
    except (ParameterError, ValueError) as exc:
        print(f'sarl-graph: {exc}', file=sys.stderr)
        code = 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        # A node (the episode manager) shut the context down while the executor built a wait set:
        # rclpy raises RCLError instead of ExternalShutdownException; anything else is a real error.
        if rclpy.ok():
            raise
    finally:
        # No launch grace period bounds this process: wait longer for running callbacks than a node
        # process does. With end_process the nodes are not destroyed: the process ends right after.
        stop_graph_part(executor, [instance for _, instance in built], SINGLE_PROCESS_GRACE_S,
                        destroy=not end_process)
    if code is None:
        final = [inst for desc, inst in built if desc.ends_graph]
        code = getattr(final[0], 'exit_code', 0) if final else 1
    if end_process:
        exit_now(code)  # as a node process does (nodes/runner.py)
    return code


if __name__ == '__main__':
    raise SystemExit(main())
