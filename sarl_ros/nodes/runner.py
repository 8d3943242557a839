"""Starting a node: --help, clear start-up errors, a multi-threaded executor, clean exit."""
from __future__ import annotations

import sys
from typing import Callable, Sequence

from sarl_ros.rosutil.imports import RosUnavailable, require_ros


def usage(executable: str, summary: str, params: Sequence) -> str:
    lines = [f'usage: ros2 run sarl_ros {executable} [--ros-args -p name:=value ...]', '', summary, '',
             'parameters (defaults in config/widowx_sarl.yaml):']
    for p in params:
        choices = f' [{"|".join(p.choices)}]' if p.choices else ''
        lines.append(f'  {p.name} ({type(p.default).__name__}, default {p.default!r}){choices}: {p.description}')
    return '\n'.join(lines)


def spin_until_shutdown(executor) -> None:
    """Spin until the context ends; a node ending it (the episode manager) is a normal end.

    A context shut down from another thread while the executor builds its next wait set raises
    RCLError instead of ExternalShutdownException (a race that more subscriptions make likelier).
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
    try:
        executor.spin()
    except ExternalShutdownException:
        pass
    except _rclpy.RCLError:
        if rclpy.ok():
            raise


def run_node(executable: str, summary: str, params: Sequence, factory: Callable[[], object],
             argv: Sequence[str] | None = None, threads: int = 4) -> int:
    argv = list(sys.argv if argv is None else argv)
    own_args = argv[1:argv.index('--ros-args')] if '--ros-args' in argv else argv[1:]
    if '--help' in own_args or '-h' in own_args:
        print(usage(executable, summary, params))
        return 0
    try:
        require_ros()
    except RosUnavailable as exc:
        print(f'{executable}: {exc}', file=sys.stderr)
        return 2
    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

    from sarl_ros.rosutil.params import ParameterError

    rclpy.init(args=argv)
    node = None
    try:
        node = factory()
        executor = MultiThreadedExecutor(num_threads=threads)
        executor.add_node(node)
        spin_until_shutdown(executor)
        return getattr(node, 'exit_code', 0)
    except (ParameterError, ValueError) as exc:
        # Bad configuration: say what is wrong and stop, instead of a traceback.
        print(f'{executable}: {exc}', file=sys.stderr)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        # Ctrl-C, or the node ended its own work (the episode manager after N episodes).
        return getattr(node, 'exit_code', 0)
    finally:
        if node is not None:
            close = getattr(node, 'close', None)
            if close is not None:
                close()
            try:
                node.destroy_node()
            except Exception:  # noqa: BLE001 - the context may already be shut down
                pass
        rclpy.try_shutdown()
