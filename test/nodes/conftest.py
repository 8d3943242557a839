"""Nodes under test run in this process, spun by a background executor."""
import os
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # params.py beside the tests

rclpy = pytest.importorskip('rclpy', reason='needs the ROS 2 wheels: run ./sarl test')
from rclpy.executors import MultiThreadedExecutor  # noqa: E402


class Spinner:
    """Spin nodes on a background thread; wait for conditions with a deadline."""

    def __init__(self):
        self.executor = MultiThreadedExecutor(num_threads=6)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.nodes = []

    def add(self, node):
        self.nodes.append(node)
        self.executor.add_node(node)
        if not self.thread.is_alive():
            self.thread.start()
        return node

    @staticmethod
    def wait_for(condition, timeout=15.0, what='condition'):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return
            time.sleep(0.01)
        raise AssertionError(f'timed out waiting for {what}')

    def call(self, client, request, timeout=15.0):
        assert client.wait_for_service(timeout_sec=timeout), f'{client.srv_name} unavailable'
        future = client.call_async(request)
        self.wait_for(future.done, timeout, f'{client.srv_name} to answer')
        return future.result()


@pytest.fixture
def ros():
    rclpy.init()
    spinner = Spinner()
    yield spinner
    spinner.executor.shutdown()
    for node in spinner.nodes:
        close = getattr(node, 'close', None)
        if close is not None:
            close()
        node.destroy_node()
    rclpy.shutdown()
