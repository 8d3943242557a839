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
