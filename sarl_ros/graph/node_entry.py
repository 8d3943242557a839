"""Start a node process so that a stop during its start-up ends it quietly.

`ros2 run sarl_ros <node>` (scripts/ros2_run/), the venv's `sarl-<node>-node` commands and
sarl-graph all enter a node here. The stop signals are taken before the node's module (rclpy,
torch, a model) is imported: a node stopped while still importing, because another node failed
first or the user pressed Ctrl-C, exits with code 0 and one line instead of a KeyboardInterrupt
traceback and "exit code -2", which hid the node that really failed. Once the node's runner
(sarl_ros.nodes.runner) runs, it takes the signals over. Imports nothing heavy itself.
"""
from __future__ import annotations

import functools
import importlib
import os
import signal
import sys

from sarl_ros.graph.description import NODES

MODULES = {node.executable: node.module for node in NODES}
# Exit code of a node stopped before it started: not a failure of its own.
STOPPED_WHILE_STARTING = 0


class _Stopped(BaseException):
    pass


def _stop(signum, frame):
    raise _Stopped(signum)


def _quiet_exit(executable: str, stopped: _Stopped):
    name = signal.Signals(stopped.args[0]).name
    print(f'{executable}: stopped by {name} while starting', file=sys.stderr, flush=True)
    sys.stdout.flush()
    # The interpreter's teardown of half-imported extension modules is not worth waiting for.
    os._exit(STOPPED_WHILE_STARTING)


def run(executable: str, argv: list[str] | None = None) -> int:
    """Import the node's module with SIGINT/SIGTERM taken, then run its main()."""
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        module = importlib.import_module(MODULES[executable])
    except _Stopped as stopped:
        _quiet_exit(executable, stopped)
    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    try:
        return module.main()
    except _Stopped as stopped:  # between the import and the runner taking the signals over
        _quiet_exit(executable, stopped)


# Console-script entry points of the venv (setup.py): `sarl-q-policy-node` -> q_policy().
globals().update({executable: functools.partial(run, executable) for executable in MODULES})


def main() -> int:
    """`python -m sarl_ros.graph.node_entry <executable> [--ros-args ...]` (what sarl-graph starts)."""
    if len(sys.argv) < 2 or sys.argv[1] not in MODULES:
        print(f'usage: python -m sarl_ros.graph.node_entry {{{"|".join(MODULES)}}} [--ros-args ...]',
              file=sys.stderr)
        return 2
    return run(sys.argv[1], sys.argv[2:])


if __name__ == '__main__':
    raise SystemExit(main())
