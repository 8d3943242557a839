"""Starting a node: --help, one-line start-up errors, a multi-threaded executor, a quick clean exit.

Shutdown order matters: rclpy's own SIGINT handler shuts the context down while callbacks
still run on the executor's threads, which then fail on a dead publisher ("publisher's
context is invalid") or a destroyed node ("cannot use Destroyable"). So the runner takes
SIGINT/SIGTERM itself (as KeyboardInterrupt in the main thread, which also interrupts a
slow start-up such as loading a model), stops the executor and waits for running callbacks,
then lets the node close (checkpoints), destroys it, and only then shuts rclpy down.
"""
from __future__ import annotations

import signal
import sys
from typing import Callable, Sequence

from sarl_ros.rosutil.imports import RosUnavailable, require_ros
from sarl_ros.rosutil.spin import exit_now, spin_until_shutdown, stop_graph_part

# How long a stopping node waits for running callbacks before it closes anyway: the whole
# shutdown must fit in ros2 launch's SIGINT grace period (5 s) with room to spare.
CALLBACK_GRACE_S = 1.5


def usage(executable: str, summary: str, config_class: type) -> str:
    """Return the --help text: one line per parameter (a field of the node's config) with type, default and range."""
    from sarl_ros.core.config import settings
    lines = [f'usage: ros2 run sarl_ros {executable} [--ros-args -p name:=value ...]', '', summary, '',
             'parameters (defaults in config/widowx_sarl.yaml):']
    for spec in settings(config_class):
        choices = f' [{"|".join(spec.choices)}]' if spec.choices else ''
        lines.append(f'  {spec.name} ({spec.kind.__name__}, default {spec.default!r}){choices}: '
                     f'{spec.describe() if not spec.choices else spec.help}')
    return '\n'.join(lines)


# Stop signals taken by this process. A stop while a node is still being built may surface as another
# exception: an extension module interrupted in its import (mujoco) raises ImportError, not KeyboardInterrupt.
_received: list[int] = []


def _interrupt(signum, frame):
    _received.append(signum)
    raise KeyboardInterrupt


def _stopped_while_starting(executable: str, node) -> bool:
    """Say so (one line) and return True when a stop signal came before the node was built."""
    if node is not None or not _received:
        return False
    print(f'{executable}: stopped by {signal.Signals(_received[0]).name} while starting', file=sys.stderr)
    return True


def run_node(executable: str, summary: str, config_class: type, factory: Callable[[], object],
             argv: Sequence[str] | None = None, threads: int = 4) -> int:
    program = argv is None  # a node process of its own (ros2 run, ros2 launch), not a call from Python
    argv = list(sys.argv if argv is None else argv)
    own_args = argv[1:argv.index('--ros-args')] if '--ros-args' in argv else argv[1:]
    if '--help' in own_args or '-h' in own_args:
        print(usage(executable, summary, config_class))
        return 0
    try:
        require_ros()
    except RosUnavailable as exc:
        print(f'{executable}: {exc}', file=sys.stderr)
        return 2
    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    from sarl_ros.rosutil.params import ParameterError

    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    rclpy.init(args=argv, signal_handler_options=SignalHandlerOptions.NO)
    node = executor = None
    code = 0
    try:
        node = factory()
        executor = MultiThreadedExecutor(num_threads=threads)
        executor.add_node(node)
        spin_until_shutdown(executor, node.context)
        code = getattr(node, 'exit_code', 0)
    except (ParameterError, ValueError) as exc:
        if not _stopped_while_starting(executable, node):
            # Bad configuration: say what is wrong and stop, instead of a traceback.
            print(f'{executable}: {exc}', file=sys.stderr)
            code = 2
    except (KeyboardInterrupt, ExternalShutdownException):
        _stopped_while_starting(executable, node)
        code = getattr(node, 'exit_code', 0)
    except Exception:
        # Stopped while starting, the interrupted import failed otherwise: the stop is the news, exit quietly.
        if not _stopped_while_starting(executable, node):
            raise
    finally:
        stop_graph_part(executor, [node] if node is not None else [], CALLBACK_GRACE_S)
    if program:
        exit_now(code)
    return code
