"""ROS 2 nodes: thin rclpy adapters over sarl_ros.core and the backends."""
from sarl_ros.rosutil.imports import exit_unless_ros

# Every node imports rclpy at module level: check once, here, with an error that says the fix.
exit_unless_ros('sarl_ros.nodes')
