"""Nodes under test run in this process, spun by the `ros` fixture of test/conftest.py."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # params.py beside the tests

pytest.importorskip('rclpy', reason='needs the ROS 2 wheels: run ./sarl test')
