"""Spinning an executor until its context ends (shared by node processes and sarl-graph --single-process)."""
from __future__ import annotations

SPIN_PERIOD_S = 0.1  # the main thread returns to Python this often, so signals are seen


def spin_until_shutdown(executor, context) -> None:
    """Spin until the context is shut down; a node ends its own work that way (the episode manager)."""
    while context.ok():
        try:
            executor.spin_once(timeout_sec=SPIN_PERIOD_S)
        except Exception:  # noqa: BLE001 - rclpy fails this way when the context ends mid-call
            if context.ok():
                raise
            return


def stop_graph_part(executor, nodes, grace_s: float, destroy: bool = True) -> None:
    """Stop callbacks, close the nodes (they save state), destroy them, shut rclpy down.

    Order matters: every queued callback must run (or fail) before its node is destroyed, or it fails
    later on a destroyed entity ("cannot use Destroyable"); a callback blocked in a backend must not
    hold the exit up, hence the bounded wait. A second stop signal meanwhile must not cut a
    checkpoint write in half, so stop signals are ignored from here on.
    """
    import signal
    import threading

    import rclpy

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if executor is not None:
        stopper = threading.Thread(target=executor.shutdown, kwargs={'timeout_sec': grace_s},
                                   name='executor-shutdown', daemon=True)
        stopper.start()
        stopper.join(grace_s + 0.5)
    for node in reversed(nodes):
        close = getattr(node, 'close', None)
        if close is not None:
            close()
    if destroy:
        for node in reversed(nodes):
            node.destroy_node()
    rclpy.try_shutdown()


def exit_now(code: int) -> None:
    """End the process at once, once every node has closed and saved what it owns.

    The interpreter's own teardown (torch and friends, garbage collection) took 3 s on a loaded
    machine, past ros2 launch's SIGINT grace; and a callback still blocked in a backend would keep
    the process alive.
    """
    import logging
    import os
    import sys

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
