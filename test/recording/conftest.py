"""Recording tests: synthetic SARL streams, in-process nodes, bags in tmp_path."""
import os
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # recording_helpers.py beside the tests


class Spinner:
    """Spin nodes on a background thread; wait for conditions with a deadline."""

    def __init__(self):
        from rclpy.executors import MultiThreadedExecutor
        self.executor = MultiThreadedExecutor(num_threads=4)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.nodes = []

    def add(self, node):
        self.nodes.append(node)
        self.executor.add_node(node)
        if not self.thread.is_alive():
            self.thread.start()
        return node

    @staticmethod
    def wait_for(condition, timeout=20.0, what='condition'):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return
            time.sleep(0.01)
        raise AssertionError(f'timed out waiting for {what}')


@pytest.fixture
def ros():
    """Return a Spinner inside an initialised rclpy context (skips without the ROS 2 wheels)."""
    rclpy = pytest.importorskip('rclpy', reason='needs the ROS 2 wheels: run ./sarl test')
    rclpy.init()
    spinner = Spinner()
    yield spinner
    spinner.executor.shutdown()
    for node in spinner.nodes:
        close = getattr(node, 'close', None)
        if close is not None:
            close()
        node.destroy_node()
    rclpy.try_shutdown()
