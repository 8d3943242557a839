"""Test-session isolation: each run talks ROS 2 only to itself, on localhost."""
import os
import random

# Set before any rclpy import, so in-process nodes and spawned processes share it.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random().randint(1, 100)))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ.setdefault('ROS_LOG_DIR', os.path.join(os.environ.get('TMPDIR', '/tmp'), 'sarl_ros_test_logs'))
os.environ.setdefault('HOME', '/tmp')
os.environ.setdefault('MPLBACKEND', 'Agg')
