"""Waiting for the nodes a loop calls, before its first call: readiness instead of retries.

The caller (the episode manager) names, per node, the services and actions it will call; this
waits until every one of them answers `is_ready`, with one line per node it has to wait for
and one overall deadline, so a slow start (a model still loading) is waited for and a node
that never comes is named. ROS-free: the node supplies `is_ready` (rclpy's service_is_ready /
server_is_ready) and the log.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence


@dataclass(frozen=True)
class Dependency:
    node: str  # the node that serves the endpoints, as the user knows it
    endpoints: tuple[str, ...]  # absolute service and action names


class NotReady(RuntimeError):
    """Some dependency was not ready by the deadline (or the wait was stopped)."""

    def __init__(self, message: str, missing: Mapping[str, tuple[str, ...]]):
        super().__init__(message)
        self.missing = dict(missing)


def wait_until_ready(dependencies: Sequence[Dependency], is_ready: Callable[[str], bool], deadline_s: float,
                     log: Callable[[str], None], should_stop: Callable[[], bool] = lambda: False,
                     poll_s: float = 0.05, clock: Callable[[], float] = time.monotonic,
                     sleep: Callable[[float], None] = time.sleep, deadline_hint: str = '') -> dict[str, float]:
    """Block until every endpoint of every dependency is ready; return seconds waited per node.

    Logs `waiting for <node> (<endpoints not ready>)` once per node that is not ready at the first
    look, and `<node> ready after N s` when it comes; a node ready at once is not mentioned.
    Raises NotReady naming every node (and endpoint) still missing after deadline_s, or when
    should_stop() turns true. deadline_hint tells the user how to give more time.
    """
    started = clock()
    end = started + float(deadline_s)
    waiting: dict[str, tuple[str, ...]] = {}
    ready_after: dict[str, float] = {}
    first = True
    while True:
        now = clock()
        for dep in dependencies:
            if dep.node in ready_after:
                continue
            missing = tuple(e for e in dep.endpoints if not is_ready(e))
            if not missing:
                ready_after[dep.node] = now - started
                if dep.node in waiting:
                    log(f'{dep.node} ready after {now - started:.1f} s')
                    del waiting[dep.node]
            elif first:
                waiting[dep.node] = missing
                log(f'waiting for {dep.node} ({", ".join(missing)})')
            else:
                waiting[dep.node] = missing
        first = False
        if not waiting:
            return ready_after
        if should_stop():
            raise NotReady('stopped while waiting for ' + ', '.join(waiting), waiting)
        if now >= end:
            names = '; '.join(f'{node} ({", ".join(missing)} not available)' for node, missing in waiting.items())
            hint = f'; {deadline_hint}' if deadline_hint else ''
            raise NotReady(f'not ready after {float(deadline_s):.0f} s: {names}{hint}', waiting)
        sleep(min(poll_s, max(0.0, end - now)))
